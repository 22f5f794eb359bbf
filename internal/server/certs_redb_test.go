package server

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestRedBCertsNotRegular (red team B): a certificate or key path that
// becomes something other than a regular file (a FIFO, or a symbolic link
// to a device such as /dev/zero, a mistake in a Secret volume or a
// provisioning script) must be refused at once. Before the fix the reload
// read it with os.ReadFile, which blocks forever on a FIFO (holding the
// lock, so Watch and every later Reload hang and a good certificate
// written after is never served) and reads /dev/zero until the process
// runs out of memory. A file larger than any PEM pair is refused too.
func TestRedBCertsNotRegular(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	cp, kp := certsPair(t, 1)
	os.WriteFile(certFile, cp, 0o600)
	os.WriteFile(keyFile, kp, 0o600)
	c, err := LoadCerts(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	reload := func(what string) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- c.Reload() }()
		select {
		case err := <-done:
			return err
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: Reload hangs", what)
			return nil
		}
	}
	// A FIFO in place of the certificate.
	os.Remove(certFile)
	if err := syscall.Mkfifo(certFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reload("FIFO"); err == nil {
		t.Errorf("a FIFO certificate was accepted")
	}
	// A file far larger than a PEM pair.
	os.Remove(certFile)
	big := append(append([]byte{}, cp...), make([]byte, 2<<20)...)
	os.WriteFile(certFile, big, 0o600)
	if err := reload("large"); err == nil {
		t.Errorf("a %d-byte certificate file was accepted", len(big))
	}
	if certsServed(t, c) != 1 {
		t.Errorf("the certificate served changed")
	}
	// A good pair afterwards is loaded.
	cp, kp = certsPair(t, 2)
	os.Remove(certFile)
	os.WriteFile(certFile, cp, 0o600)
	os.WriteFile(keyFile, kp, 0o600)
	if err := reload("good"); err != nil || certsServed(t, c) != 2 {
		t.Errorf("good pair after: %v, serial %d", err, certsServed(t, c))
	}
}
