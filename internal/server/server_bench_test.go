package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/sigv4"
)

const (
	benchAKID   = "AKIABENCHBENCHBENCH1"
	benchSecret = "benchSecretbenchSecretbenchSecret00000000"
)

// startBenchNode starts a node in a temporary directory.
func startBenchNode(b *testing.B, auditOn bool) *node.Node {
	b.Helper()
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: b.TempDir()}
	cfg.Audit.Disabled = !auditOn
	n, err := node.Start(cfg, node.Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

// call sends one signed request straight into the handler (no network).
func benchCall(b *testing.B, h http.Handler, signer *sigv4.Signer, op string, body []byte) []byte {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService."+op)
	signer.Sign(r, body, time.Now())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("%s: %d %s", op, w.Code, w.Body.String())
	}
	return w.Body.Bytes()
}

// BenchmarkEncryptPipeline measures the whole server pipeline for an
// Encrypt of 1 KiB (SigV4, authorization, domain, AES-GCM, JSON, and with
// audit the durable group-committed record), without the network. It
// reports the server's cost and allocations per request.
func BenchmarkEncryptPipeline(b *testing.B) {
	for _, auditOn := range []bool{false, true} {
		name := "audit=off"
		if auditOn {
			name = "audit=on"
		}
		b.Run(name, func(b *testing.B) {
			n := startBenchNode(b, auditOn)
			signer := &sigv4.Signer{AccessKeyID: benchAKID, Secret: []byte(benchSecret), Region: "us-east-1", Service: "kms"}
			var key struct{ KeyMetadata struct{ KeyId string } }
			json.Unmarshal(benchCall(b, n.Server, signer, "CreateKey", []byte(`{}`)), &key)
			body, _ := json.Marshal(map[string]any{
				"KeyId":             key.KeyMetadata.KeyId,
				"Plaintext":         base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("p"), 1024)),
				"EncryptionContext": map[string]string{"app": "bench"},
			})
			b.ReportAllocs()
			b.SetParallelism(32) // enough concurrent requests for group commit
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				s := &sigv4.Signer{AccessKeyID: benchAKID, Secret: []byte(benchSecret), Region: "us-east-1", Service: "kms"}
				for pb.Next() {
					benchCall(b, n.Server, s, "Encrypt", body)
				}
			})
		})
	}
}
