package k8s

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
	"k8s.io/apiserver/pkg/storage/value"
	"k8s.io/apiserver/pkg/storage/value/encrypt/envelope/kmsv2"
	kmsservice "k8s.io/kms/pkg/service"
)

// TestEncryptionConfiguration loads the EncryptionConfiguration of
// docs/kubernetes.md with kube-apiserver's own loader, which dials the
// plugin, primes its seed through Status and Encrypt, and returns the
// transformer kube-apiserver uses for Secrets and the kms-providers health
// check.
func TestEncryptionConfiguration(t *testing.T) {
	s := startTrent(t)
	s.createKey(t, "alias/k8s-secrets")
	p := startPlugin(t, s, "alias/k8s-secrets")

	cfg := filepath.Join(t.TempDir(), "encryption-config.yaml")
	if err := os.WriteFile(cfg, []byte(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - kms:
          apiVersion: v2
          name: trent
          endpoint: unix://`+p.socket+`
          timeout: 3s
      - identity: {}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ec, err := encryptionconfig.LoadEncryptionConfig(ctx, cfg, false, "apiserver-test")
	if err != nil {
		t.Fatalf("LoadEncryptionConfig: %v", err)
	}
	if len(ec.HealthChecks) != 1 {
		t.Fatalf("%d health checks, want 1 (kms-providers)", len(ec.HealthChecks))
	}
	req, _ := http.NewRequest("GET", "/readyz", nil)
	if err := ec.HealthChecks[0].Check(req); err != nil {
		t.Fatalf("health check %s: %v", ec.HealthChecks[0].Name(), err)
	}
	tr := ec.Transformers[schema.GroupResource{Resource: "secrets"}]
	if tr == nil {
		t.Fatal("no transformer for secrets")
	}
	dc := value.DefaultContext("/registry/secrets/default/db")
	stored, err := tr.TransformToStorage(ctx, []byte("hunter2"), dc)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if want := "k8s:enc:kms:v2:trent:"; len(stored) < len(want) || string(stored[:len(want)]) != want {
		t.Fatalf("stored value does not start with %q", want)
	}
	got, _, err := tr.TransformFromStorage(ctx, stored, dc)
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("read: %q, %v", got, err)
	}
	// A value moved to another key does not decrypt: the object's key is
	// authenticated data.
	if _, _, err := tr.TransformFromStorage(ctx, stored, value.DefaultContext("/registry/secrets/default/other")); err == nil {
		t.Fatal("a value read back under another etcd key")
	}
}

// TestClusterBinding: a seed wrapped for one cluster does not unwrap for a
// plugin of another cluster name, even with the same key and credentials.
func TestClusterBinding(t *testing.T) {
	ctx := context.Background()
	s := startTrent(t)
	s.createKey(t, "alias/k8s-secrets")
	p := startPlugin(t, s, "alias/k8s-secrets")
	a := newAPIServer(t, p.socket)
	if _, err := a.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	o := a.write(t, a.transformer(), "db")
	eo := encryptedObject(t, o)

	other := startPluginCluster(t, s, "alias/k8s-secrets", "other-cluster")
	b := newAPIServer(t, other.socket)
	// The key policy allows the plugin only this cluster's context: the
	// other cluster's plugin is unhealthy, and cannot unwrap the seed.
	st, err := b.refresh(ctx)
	if err == nil || st == nil || st.Healthz == "ok" {
		t.Fatalf("status of a plugin for another cluster: %+v, %v; want unhealthy", st, err)
	}
	if _, err := b.svc.Decrypt(ctx, "x", &kmsservice.DecryptRequest{Ciphertext: eo.EncryptedDEKSource, KeyID: eo.KeyID, Annotations: eo.Annotations}); err == nil {
		t.Fatal("another cluster's plugin unwrapped the seed")
	}
	if _, err := a.read(a.transformer(), o); err != nil {
		t.Fatalf("read by its own cluster: %v", err)
	}
}

// BenchmarkDEKGeneration measures what kube-apiserver pays for a new DEK
// seed: kmsv2.GenerateTransformer, one Encrypt round trip through the
// plugin's socket to Trent and back (SigV4, authorization, the audit
// record). It reports seeds per second.
func BenchmarkDEKGeneration(b *testing.B) {
	ctx := context.Background()
	s := startTrent(b)
	s.createKey(b, "alias/k8s-secrets")
	p := startPlugin(b, s, "alias/k8s-secrets")
	a := newAPIServer(b, p.socket)
	if _, err := a.refresh(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := kmsv2.GenerateTransformer(ctx, "bench", a.svc, true); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "DEKs/s")
}
