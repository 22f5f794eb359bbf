package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	kmsapi "k8s.io/kms/apis/v2"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/sigv4"
)

// kmsCall makes a signed KMS JSON call to n as the bootstrap administrator.
func kmsCall(t *testing.T, n *Node, op string, in any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(in)
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService."+op)
	sigv4.Sign(r, body, benchAKID, []byte(benchSecret), "", "us-east-1", "kms", time.Now())
	w := httptest.NewRecorder()
	n.Server.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("%s: %d %s", op, w.Code, w.Body.String())
	}
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return out
}

// TestK8sKMSInProcess: trent serve's in-process Kubernetes KMS plugin
// serves on its socket as the configured access key's principal, follows
// the key through Status, Encrypt and Decrypt, and leaves no socket behind.
// test/k8s drives it with kube-apiserver's own code.
func TestK8sKMSInProcess(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "kms.sock")
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), K8sKMS: config.K8sKMSFile{
		Socket: sock, KeyID: "alias/k8s", ClusterName: "prod", AccessKeyID: benchAKID}}
	n, err := Start(cfg, Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			n.Shutdown(context.Background())
		}
	}()
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, %v", fi, err)
	}
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := kmsapi.NewKeyManagementServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, err := c.Status(ctx, &kmsapi.StatusRequest{})
	if err != nil || st.Healthz == "ok" || !strings.HasPrefix(st.Healthz, "NotFoundException") {
		t.Fatalf("status before the alias exists: %+v, %v", st, err)
	}
	key := kmsCall(t, n, "CreateKey", map[string]any{})["KeyMetadata"].(map[string]any)
	keyARN := key["Arn"].(string)
	kmsCall(t, n, "CreateAlias", map[string]any{"AliasName": "alias/k8s", "TargetKeyId": keyARN})
	st, err = c.Status(ctx, &kmsapi.StatusRequest{})
	if err != nil || st.Healthz != "ok" || st.KeyId != keyARN+":"+key["CurrentKeyMaterialId"].(string) {
		t.Fatalf("status: %+v, %v (key %v)", st, err, key)
	}
	enc, err := c.Encrypt(ctx, &kmsapi.EncryptRequest{Uid: "u1", Plaintext: []byte("seed of 32 bytes, or any length")})
	if err != nil || enc.KeyId != st.KeyId {
		t.Fatalf("encrypt: %+v, %v", enc, err)
	}
	dec, err := c.Decrypt(ctx, &kmsapi.DecryptRequest{Uid: "u2", Ciphertext: enc.Ciphertext, KeyId: enc.KeyId, Annotations: enc.Annotations})
	if err != nil || string(dec.Plaintext) != "seed of 32 bytes, or any length" {
		t.Fatalf("decrypt: %v", err)
	}
	stopped = true
	n.Shutdown(context.Background())
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after shutdown: %v", err)
	}
}

// TestK8sKMSConfig: the in-process plugin needs its key, cluster and
// principal; a socket alone is refused at start.
func TestK8sKMSConfig(t *testing.T) {
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), K8sKMS: config.K8sKMSFile{
		Socket: filepath.Join(t.TempDir(), "kms.sock"), KeyID: "alias/k8s"}}
	if n, err := Start(cfg, Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}}); err == nil {
		n.Shutdown(context.Background())
		t.Fatal("started with an incomplete k8s_kms section")
	}
}
