package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// certsPair returns a self-signed certificate with serial and its key, PEM.
func certsPair(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "certs test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func certsServed(t *testing.T, c *Certs) int64 {
	t.Helper()
	cert, err := c.GetCertificate(nil)
	if err != nil || cert == nil || cert.Leaf == nil {
		t.Fatalf("GetCertificate: %v, %v", cert, err)
	}
	return cert.Leaf.SerialNumber.Int64()
}

func TestCerts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	write := func(p string, b []byte) {
		t.Helper()
		if err := os.WriteFile(p+".tmp", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			t.Fatal(err)
		}
	}
	c1, k1 := certsPair(t, 1)
	c2, k2 := certsPair(t, 2)

	if _, err := LoadCerts(certFile, keyFile, nil); err == nil {
		t.Fatal("fail/missing: LoadCerts accepted missing files")
	}
	write(certFile, c1)
	write(keyFile, k2)
	if _, err := LoadCerts(certFile, keyFile, nil); err == nil {
		t.Fatal("fail/mismatch: LoadCerts accepted a key that does not match")
	}
	write(keyFile, k1)
	c, err := LoadCerts(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := certsServed(t, c); got != 1 {
		t.Fatalf("ok/load: serial %d", got)
	}

	// A half-replaced pair is refused and the current one stays.
	write(certFile, c2)
	if err := c.Reload(); err == nil {
		t.Fatal("fail/half-replaced: Reload accepted a certificate with the old key")
	}
	if got := certsServed(t, c); got != 1 {
		t.Fatalf("fail/half-replaced: serial %d served, want 1", got)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(); err == nil {
		t.Fatal("fail/removed: Reload accepted a missing key file")
	}
	if got := certsServed(t, c); got != 1 {
		t.Fatalf("fail/removed: serial %d served, want 1", got)
	}

	// Watch takes up the pair once it is complete, and stops.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { c.Watch(10*time.Millisecond, stop); close(done) }()
	write(keyFile, k2)
	deadline := time.Now().Add(10 * time.Second)
	for certsServed(t, c) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("ok/watch: the completed pair was not taken up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not stop")
	}
	if cfg := c.TLSConfig(); cfg.GetCertificate == nil || len(cfg.Certificates) != 0 || cfg.MinVersion == 0 {
		t.Fatal("TLSConfig does not serve through GetCertificate")
	}
}
