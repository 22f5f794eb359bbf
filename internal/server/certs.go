package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Certs serves the TLS certificate of a pair of PEM files (a certificate
// chain and its private key) and replaces it without a restart when they
// change, as certificates that rotate (cert-manager, ACME) need.
//
// A TLS handshake takes the certificate current at that moment
// (GetCertificate), so a replacement applies to new connections only: a
// connection keeps the certificate it was opened with until it closes.
// A replacement that cannot be loaded (a half-written pair, a key that does
// not match the certificate) changes nothing: the server goes on with the
// certificate it has, and the error is returned (Reload) or logged (Watch).
type Certs struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate]

	mu   sync.Mutex // serializes loads, guards seen
	seen filesStamp // of the files as last loaded or tried
}

// filesStamp identifies the contents of the certificate and key files
// without reading them: a file replaced (renamed over, a symbolic link
// switched, as Kubernetes does with a Secret volume) or rewritten in place
// changes its identity, size or modification time.
type filesStamp [2]os.FileInfo

func stampFiles(certFile, keyFile string) (filesStamp, error) {
	var s filesStamp
	for i, p := range []string{certFile, keyFile} {
		fi, err := os.Stat(p) // follows symbolic links: the file served
		if err != nil {
			return s, err
		}
		s[i] = fi
	}
	return s, nil
}

func (s filesStamp) same(o filesStamp) bool {
	for i := range s {
		if s[i] == nil || o[i] == nil || !os.SameFile(s[i], o[i]) ||
			s[i].Size() != o[i].Size() || !s[i].ModTime().Equal(o[i].ModTime()) {
			return false
		}
	}
	return true
}

// LoadCerts loads the certificate of certFile and keyFile. It returns an
// error if either cannot be read, or the key does not match the
// certificate.
func LoadCerts(certFile, keyFile string, log *slog.Logger) (*Certs, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Certs{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCertificate returns the current certificate; it is the
// tls.Config.GetCertificate of the server.
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// TLSConfig returns a server TLS configuration that serves c's current
// certificate at every handshake.
func (c *Certs) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.GetCertificate, MinVersion: tls.VersionTLS12}
}

// Current returns the certificate new connections get.
func (c *Certs) Current() *tls.Certificate { return c.cur.Load() }

// Reload reads the files again and, if they hold a valid pair, serves it to
// new connections. On error the current certificate stays.
func (c *Certs) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reload()
}

func (c *Certs) reload() error {
	// Stamped before reading: a change made while reading is seen by the
	// next Watch tick, never lost.
	stamp, err := stampFiles(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	c.seen = stamp
	certPEM, err := readPEM(c.certFile)
	if err != nil {
		return err
	}
	keyPEM, err := readPEM(c.keyFile)
	if err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	clear(keyPEM)
	if err != nil {
		return fmt.Errorf("tls: %s and %s: %w", c.certFile, c.keyFile, err)
	}
	if pair.Leaf == nil {
		return errors.New("tls: " + c.certFile + " holds no certificate")
	}
	old := c.cur.Swap(&pair)
	leaf := pair.Leaf
	attrs := []any{"cert", c.certFile, "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(),
		"notAfter", leaf.NotAfter.UTC().Format(time.RFC3339)}
	switch {
	case old == nil:
		c.log.Info("TLS certificate loaded", attrs...)
	default:
		c.log.Info("TLS certificate reloaded; new connections get it", attrs...)
	}
	if time.Now().After(leaf.NotAfter) {
		c.log.Warn("TLS certificate has expired", attrs...)
	}
	return nil
}

// maxPEMFile bounds a certificate or key file: a chain of a few
// certificates is a few KiB.
const maxPEMFile = 1 << 20

// readPEM reads a certificate or key file, which must be a regular file of
// at most maxPEMFile bytes. It is opened non-blocking and checked after
// opening, so that a FIFO (or a link to a device such as /dev/zero) put in
// its place is refused instead of blocking the reload, lock held, or
// reading without end.
func readPEM(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("tls: %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if len(data) > maxPEMFile {
		clear(data)
		return nil, fmt.Errorf("tls: %s is larger than %d bytes", path, maxPEMFile)
	}
	return data, nil
}

// Watch checks the files every interval until stop is closed and reloads
// them when they have changed since they were last loaded or tried. A
// failed reload is logged and tried again once the files change again (a
// pair written one file at a time fails in between).
func (c *Certs) Watch(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		stamp, err := stampFiles(c.certFile, c.keyFile)
		if err != nil {
			// Between a delete and a create, or a volume remounting:
			// keep serving, look again at the next tick.
			continue
		}
		c.mu.Lock()
		if !stamp.same(c.seen) {
			if err := c.reload(); err != nil {
				c.log.Error("TLS certificate files changed but cannot be loaded; serving the previous certificate", "err", err)
			}
		}
		c.mu.Unlock()
	}
}
