package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
)

const (
	escrowAdminID     = "AKIAADMINTESTADMIN01"
	escrowAdminSecret = "admin-test-secret-0123456789"
)

func startWithKey(t *testing.T, dir, keyFile string) *node.Node {
	t.Helper()
	n, err := node.Start(&config.File{Listen: "127.0.0.1:0", DataDir: dir, RootKey: config.RootKeyFile{File: keyFile}},
		node.Options{Env: config.Env{AccessKeyID: escrowAdminID, SecretAccessKey: escrowAdminSecret}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func escrowKMS(endpoint string) *kms.Client {
	return kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: awshttp.NewBuildableClient(),
		Credentials: credentials.NewStaticCredentialsProvider(escrowAdminID, escrowAdminSecret, ""), Retryer: aws.NopRetryer{}})
}

// rootKey runs "trent root-key ARGS" with an empty environment and returns
// its output.
func rootKey(args ...string) (string, error) { return rootKeyEnv(config.Env{}, args...) }

// rootKeyEnv runs "trent root-key ARGS" with env and returns its output.
func rootKeyEnv(env config.Env, args ...string) (string, error) {
	var out bytes.Buffer
	err := runRootKey(args, env, &out)
	return out.String(), err
}

// writeIdentities writes a new age identity file holding the given
// identities and returns its path.
func writeIdentities(t *testing.T, dir, name string, ids ...interface{ String() string }) string {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(id.String() + "\n")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEscrowRecoverServes is the whole path: a server seals a key under
// its root key; the root key is split into 3 shares for custodians with an
// X25519 and two post-quantum hybrid age recipients; the key file is lost;
// two shares rebuild it and a server started with the rebuilt file
// decrypts what the first one encrypted.
func TestEscrowRecoverServes(t *testing.T) {
	dir := t.TempDir()
	data, keyFile := filepath.Join(dir, "data"), filepath.Join(dir, "keys", "root.key")
	n := startWithKey(t, data, keyFile)
	c := escrowKMS(n.Endpoint)
	ctx := context.Background()
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte("before the loss")})
	if err != nil {
		t.Fatal(err)
	}
	stop(t, n)
	original, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	x, _ := age.GenerateX25519Identity()
	pq1, _ := age.GenerateHybridIdentity()
	pq2, _ := age.GenerateHybridIdentity()
	recipients := filepath.Join(dir, "recipients.txt")
	os.WriteFile(recipients, []byte("# custodians, one per share\n"+x.Recipient().String()+"\n"+pq1.Recipient().String()+"\n"+pq2.Recipient().String()+"\n"), 0o600)
	shares := filepath.Join(dir, "shares")
	out, err := rootKey("escrow", "--shares", "3", "--threshold", "2", "--recipients-file", recipients, "--out", shares, "--root-key-file", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`root key (file-[0-9a-f]{12})`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "any 2 of which") || !strings.Contains(out, pq2.Recipient().String()) {
		t.Fatalf("escrow output:\n%s", out)
	}
	ents, _ := os.ReadDir(shares)
	if len(ents) != 3 || ents[0].Name() != "share-1-of-3.age" || ents[2].Name() != "share-3-of-3.age" {
		t.Fatalf("share files: %v", ents)
	}
	keyHex := strings.TrimSpace(strings.SplitN(string(original), ":", 2)[1])
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(shares, e.Name()))
		fi, _ := e.Info()
		if bytes.Contains(b, []byte(keyHex)) || bytes.Contains(b, []byte("trent-root-key-share:")) || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: in the clear or mode %v", e.Name(), fi.Mode().Perm())
		}
	}

	// The key file is lost; custodians 2 and 3 (both post-quantum) meet.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	idFile := writeIdentities(t, dir, "custodians.key", pq1, pq2)
	rebuilt := filepath.Join(dir, "new", "root.key")
	out, err = rootKey("recover", "--identity", idFile, "--out", rebuilt,
		"--share", filepath.Join(shares, "share-3-of-3.age"), filepath.Join(shares, "share-2-of-3.age"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "root key "+id[1]+" rebuilt from 2 shares") {
		t.Fatalf("recover output:\n%s", out)
	}
	got, err := os.ReadFile(rebuilt)
	if err != nil || !bytes.Equal(got, original) {
		t.Fatalf("the rebuilt key file differs from the original (%v)", err)
	}
	n = startWithKey(t, data, rebuilt)
	defer stop(t, n)
	dec, err := escrowKMS(n.Endpoint).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		t.Fatalf("Decrypt with the rebuilt root key: %v", err)
	}
	if string(dec.Plaintext) != "before the loss" {
		t.Fatalf("Decrypt with the rebuilt root key: %q", dec.Plaintext)
	}
}

// newKeyFile writes a root key file as Trent makes them and returns its
// path and contents.
func newKeyFile(t *testing.T, path string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	n := startWithKey(t, dir, path)
	stop(t, n)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func TestEscrowCommands(t *testing.T) {
	dir := t.TempDir()
	keyFile, original := newKeyFile(t, filepath.Join(dir, "k", "root.key"))
	keyHex := strings.TrimSpace(strings.SplitN(string(original), ":", 2)[1])
	x, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	xFile := writeIdentities(t, dir, "x.key", x)
	otherFile := writeIdentities(t, dir, "other.key", other)

	// Two escrows of the same key: 3 of 5 in the clear, 2 of 3 to age.
	plain := filepath.Join(dir, "plain")
	if _, err := rootKey("escrow", "--shares", "5", "--threshold", "3", "--out", plain, "--root-key-file", keyFile); err != nil {
		t.Fatal(err)
	}
	sealed := filepath.Join(dir, "sealed")
	r := x.Recipient().String()
	if _, err := rootKey("escrow", "--shares", "3", "--threshold", "2", "--out", sealed, "--root-key-file", keyFile,
		"--recipient", r, "--recipient", r, "--recipient", r); err != nil {
		t.Fatal(err)
	}
	p := func(i int) string { return filepath.Join(plain, "share-"+string(rune('0'+i))+"-of-5.txt") }
	s := func(i int) string { return filepath.Join(sealed, "share-"+string(rune('0'+i))+"-of-3.age") }
	damaged := filepath.Join(dir, "damaged.txt")
	b, _ := os.ReadFile(p(2))
	lines := strings.Split(string(b), "\n")
	last := []byte(lines[len(lines)-2])
	// A transcription error in the share bytes: another base64url letter
	// (flipping bits could make a character base64 does not have).
	if i := len(last) / 2; last[i] == 'A' {
		last[i] = 'B'
	} else {
		last[i] = 'A'
	}
	lines[len(lines)-2] = string(last)
	os.WriteFile(damaged, []byte(strings.Join(lines, "\n")), 0o600)
	pkcs11Config := filepath.Join(dir, "hsm.yaml")
	os.WriteFile(pkcs11Config, []byte("version: 1\nroot_key:\n  provider: pkcs11\n  pkcs11_module: /usr/lib/softhsm/libsofthsm2.so\n"), 0o600)
	noKeyConfig := filepath.Join(dir, "nokey.yaml")
	os.WriteFile(noKeyConfig, []byte("version: 1\nroot_key:\n  file: "+filepath.Join(dir, "none", "root.key")+"\n"), 0o600)
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o700)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)

	out := func(name string) string { return filepath.Join(dir, "out", name, "root.key") }
	tests := []struct {
		name string
		args []string
		want string // substring of the error; "" for success
	}{
		{"ok/3-of-5-plain", []string{"recover", "--out", out("a"), "--share", p(5), "--share", p(1), "--share", p(3)}, ""},
		{"ok/all-5-plain", []string{"recover", "--out", out("b"), p(1), p(2), p(3), p(4), p(5)}, ""},
		{"ok/2-of-3-age", []string{"recover", "--out", out("c"), "--identity", otherFile, "--identity", xFile, s(1), s(3)}, ""},
		{"fail/too-few", []string{"recover", "--out", out("d"), p(1), p(2)}, "too few shares: 2 given; any 3 of the 5 shares"},
		{"fail/two-escrows", []string{"recover", "--out", out("d"), "--identity", xFile, p(1), p(2), s(1)}, "shares do not belong together: share 1 is of escrow set"},
		{"fail/duplicate", []string{"recover", "--out", out("d"), p(1), p(2), p(2)}, "share given twice: share 2"},
		{"fail/checksum", []string{"recover", "--out", out("d"), p(1), damaged, p(3)}, "damaged.txt: escrow: share checksum mismatch"},
		{"fail/no-identity", []string{"recover", "--out", out("d"), s(1), s(2)}, "no identity file was given"},
		{"fail/wrong-identity", []string{"recover", "--out", out("d"), "--identity", otherFile, s(1), s(2)}, "no identity given decrypts the share"},
		{"fail/identity-is-recipient", []string{"recover", "--out", out("d"), "--identity", damaged, s(1), s(2)}, "age identities"},
		{"fail/key-file-as-share", []string{"recover", "--out", out("d"), p(1), p(2), keyFile}, "not a Trent root key share"},
		{"fail/out-exists", []string{"recover", "--out", keyFile, p(1), p(2), p(3)}, "exists; recover never replaces a key file"},
		{"fail/no-out", []string{"recover", p(1)}, "--out is required"},
		{"fail/no-shares", []string{"recover", "--out", out("d")}, "no share given"},
		{"fail/missing-flags", []string{"escrow", "--shares", "3", "--out", filepath.Join(dir, "e1")}, "are required"},
		{"fail/threshold-1", []string{"escrow", "--shares", "3", "--threshold", "1", "--out", filepath.Join(dir, "e2"), "--root-key-file", keyFile}, "threshold 1"},
		{"fail/256-shares", []string{"escrow", "--shares", "256", "--threshold", "2", "--out", filepath.Join(dir, "e2"), "--root-key-file", keyFile}, "256 shares"},
		{"fail/recipient-count", []string{"escrow", "--shares", "3", "--threshold", "2", "--out", filepath.Join(dir, "e3"), "--root-key-file", keyFile, "--recipient", r, "--recipient", r}, "2 age recipients for 3 shares"},
		{"fail/both-recipient-kinds", []string{"escrow", "--shares", "1", "--threshold", "1", "--out", filepath.Join(dir, "e4"), "--recipient", r, "--recipients-file", xFile}, "not both"},
		{"fail/identity-as-recipient", []string{"escrow", "--shares", "2", "--threshold", "2", "--out", filepath.Join(dir, "e5"), "--root-key-file", keyFile, "--recipients-file", xFile}, "unknown recipient type"},
		{"fail/out-not-empty", []string{"escrow", "--shares", "2", "--threshold", "2", "--out", full, "--root-key-file", keyFile}, "is not empty"},
		{"fail/pkcs11", []string{"escrow", "--shares", "2", "--threshold", "2", "--out", filepath.Join(dir, "e6"), "--config", pkcs11Config}, "PKCS#11 token (root_key.provider: pkcs11) and never leaves it"},
		{"fail/no-key-file", []string{"escrow", "--shares", "2", "--threshold", "2", "--out", filepath.Join(dir, "e7"), "--config", noKeyConfig}, "there is no root key file at"},
		{"fail/not-a-key-file", []string{"escrow", "--shares", "2", "--threshold", "2", "--out", filepath.Join(dir, "e8"), "--root-key-file", p(1)}, "share-1-of-5.txt line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := rootKey(tc.args...)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v, want %q", err, tc.want)
				}
				if strings.Contains(err.Error(), keyHex) || strings.Contains(err.Error(), x.String()) {
					t.Fatalf("the error shows a secret: %v", err)
				}
				if tc.args[0] == "recover" {
					if _, err := os.Stat(out("d")); err == nil {
						t.Fatal("a refused recover wrote a key file")
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(tc.args[2])
			if err != nil || !bytes.Equal(got, original) {
				t.Fatalf("rebuilt key file differs (%v); output:\n%s", err, o)
			}
		})
	}
	for _, d := range []string{"e2", "e3", "e5", "e6", "e7", "e8"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			if ents, _ := os.ReadDir(filepath.Join(dir, d)); len(ents) > 0 {
				t.Errorf("a refused escrow left files in %s", d)
			}
		}
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("escrow wrote into a directory that was not empty: %v", ents)
	}
}

// TestEscrowKeySources: escrow takes the key serve would use.
func TestEscrowKeySources(t *testing.T) {
	dir := t.TempDir()
	t.Run("ok/TRENT_ROOT_KEY", func(t *testing.T) {
		hexKey := strings.Repeat("5a", 32)
		env := config.FromEnv(func(name string) (string, bool) {
			if name == "TRENT_ROOT_KEY" {
				return hexKey, true
			}
			return "", false
		})
		o, err := rootKeyEnv(env, "escrow", "--shares", "2", "--threshold", "2", "--out", filepath.Join(dir, "env"))
		if err != nil || !strings.Contains(o, "(from TRENT_ROOT_KEY)") {
			t.Fatalf("%v\n%s", err, o)
		}
		dst := filepath.Join(dir, "env.key")
		if _, err := rootKey("recover", "--out", dst, filepath.Join(dir, "env", "share-1-of-2.txt"), filepath.Join(dir, "env", "share-2-of-2.txt")); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(dst); !strings.HasSuffix(strings.TrimSpace(string(b)), ":"+hexKey) {
			t.Fatal("the rebuilt key file does not hold TRENT_ROOT_KEY")
		}
	})
	t.Run("ok/legacy-in-data-dir", func(t *testing.T) {
		data := filepath.Join(dir, "data")
		_, original := newKeyFile(t, config.LegacyRootKeyFile(data))
		o, err := rootKey("escrow", "--shares", "2", "--threshold", "2", "--out", filepath.Join(dir, "legacy"), "--data-dir", data)
		if err != nil || !strings.Contains(o, "from "+config.LegacyRootKeyFile(data)) {
			t.Fatalf("%v\n%s", err, o)
		}
		dst := filepath.Join(dir, "legacy.key")
		if _, err := rootKey("recover", "--out", dst, filepath.Join(dir, "legacy", "share-1-of-2.txt"), filepath.Join(dir, "legacy", "share-2-of-2.txt")); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(dst); !bytes.Equal(b, original) {
			t.Fatal("the rebuilt key file differs")
		}
	})
}
