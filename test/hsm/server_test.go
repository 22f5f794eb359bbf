package hsm_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/hsm/hsmtest"
	trentnode "github.com/trentkms/trent/internal/node"
)

const (
	adminAKID   = "AKIAHSMTESTADMIN0001"
	adminSecret = "hsm-test-admin-secret-0123456789"
)

// nodeConfig is a server configuration with the root key in token, under
// key label label.
func nodeConfig(t *testing.T, dataDir, token, label string) *config.File {
	t.Helper()
	cfg := hsmConfig(t, token)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(cfg.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &config.File{Listen: "127.0.0.1:0", DataDir: dataDir, RootKey: config.RootKeyFile{
		Provider: "pkcs11", Module: cfg.Module, Token: token, PINFile: pinFile, KeyLabel: label}}
}

func startNode(t *testing.T, cfg *config.File) (*trentnode.Node, error) {
	t.Helper()
	return startNodeEnv(t, cfg, config.Env{})
}

// startNodeEnv starts a node with environment env and the administrator
// credential.
func startNodeEnv(t *testing.T, cfg *config.File, env config.Env) (*trentnode.Node, error) {
	t.Helper()
	env.AccessKeyID, env.SecretAccessKey = adminAKID, adminSecret
	n, err := trentnode.Start(cfg, trentnode.Options{Env: env})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n, nil
}

func client(endpoint string) *awskms.Client {
	return awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(adminAKID, adminSecret, ""),
		HTTPClient:  awshttp.NewBuildableClient(), Retryer: aws.NopRetryer{}})
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRootKeyInHSM: a server whose root key is in the HSM restarts and
// decrypts everything; its data directory copied elsewhere, with another
// token, decrypts nothing.
func TestRootKeyInHSM(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n1 := must(startNode(t, nodeConfig(t, dir, hsmtest.TokenA, "root-restart")))(t)
	c := client(n1.Endpoint)
	key := must(c.CreateKey(ctx, &awskms.CreateKeyInput{}))(t).KeyMetadata.KeyId
	enc := must(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: key, Plaintext: []byte("sealed by the HSM")}))(t)
	if err := n1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a root key file exists in the data directory: %v", err)
	}

	n2 := must(startNode(t, nodeConfig(t, dir, hsmtest.TokenA, "root-restart")))(t)
	dec := must(client(n2.Endpoint).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}))(t)
	if string(dec.Plaintext) != "sealed by the HSM" {
		t.Fatalf("after restart: %q", dec.Plaintext)
	}
	if err := n2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	stolen := t.TempDir()
	copyDir(t, dir, stolen)
	n3, err := startNode(t, nodeConfig(t, stolen, hsmtest.TokenB, "root-restart"))
	if err == nil {
		// If it starts at all, it must not decrypt.
		if _, err := client(n3.Endpoint).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err == nil {
			t.Fatal("a copied data directory decrypted without the HSM that sealed it")
		}
	} else {
		t.Logf("copied data directory with another token refuses to start: %v", err)
	}
}

// TestRootKeyRotationUnderLoad rotates the root key while four clients
// encrypt, decrypt and create keys, and requires zero failed requests, the
// old root key destroyed in the token, and everything decrypting after a
// restart.
func TestRootKeyRotationUnderLoad(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	const label = "root-rotate"
	n := must(startNode(t, nodeConfig(t, dir, hsmtest.TokenA, label)))(t)
	c := client(n.Endpoint)
	var keys []*string
	var blobs [][]byte
	for i := 0; i < 3; i++ {
		k := must(c.CreateKey(ctx, &awskms.CreateKeyInput{}))(t).KeyMetadata.KeyId
		keys = append(keys, k)
		blobs = append(blobs, must(c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k, Plaintext: []byte("before")}))(t).CiphertextBlob)
	}

	var ops, failures atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			fail := func(err error) {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[(g+i)%len(keys)]
				if i%10 == 5 {
					if _, err := c.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
						fail(err)
					}
				}
				enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k, Plaintext: []byte("during")})
				if err != nil {
					fail(err)
					continue
				}
				for _, b := range [][]byte{enc.CiphertextBlob, blobs[(g+i)%len(blobs)]} {
					if _, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b}); err != nil {
						fail(err)
					}
				}
				ops.Add(3)
			}
		}(g)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	res, err := trentnode.RotateRootKey(ctx, nodeConfig(t, dir, hsmtest.TokenA, label), trentnode.RotateOptions{Settle: time.Second})
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rotation %s -> %s: %d records in %d passes, %v; %d requests under load, %d failed",
		res.Old, res.New, res.Resealed, res.Passes, took.Round(time.Millisecond), ops.Load(), failures.Load())
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d requests failed during rotation; first: %v", f, firstErr.Load())
	}
	if !res.Retired || res.Resealed < len(keys)+2 || res.Old == res.New {
		t.Fatalf("rotation result = %+v", res)
	}
	tok := hsmtest.Open(t, hsmtest.TokenA)
	if _, err := tok.FindKey(label); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("old root key still in the token: %v", err)
	}

	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	n2 := must(startNode(t, nodeConfig(t, dir, hsmtest.TokenA, label)))(t)
	for _, b := range blobs {
		must(client(n2.Endpoint).Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b}))(t)
	}
}
