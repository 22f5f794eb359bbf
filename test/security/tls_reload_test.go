package security

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// reloadPair is a self-signed certificate for 127.0.0.1 and its key, PEM.
type reloadPair struct {
	serial   int64
	cert     *x509.Certificate
	certPEM  []byte
	keyPEM   []byte
	trustOne *x509.CertPool // trusts this certificate only
}

func reloadNewPair(t *testing.T, serial int64) reloadPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprintf("trent reload test %d", serial)},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return reloadPair{serial: serial, cert: cert, trustOne: pool,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})}
}

// reloadWriteFile replaces path atomically (write beside, rename over), as
// cert-manager and ACME clients do.
func reloadWriteFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func reloadInstall(t *testing.T, certFile, keyFile string, p reloadPair) {
	t.Helper()
	reloadWriteFile(t, keyFile, p.keyPEM)
	reloadWriteFile(t, certFile, p.certPEM)
}

// reloadServedSerial opens a new TLS connection and returns the serial
// number of the certificate the server presents.
func reloadServedSerial(endpoint string) (int64, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", strings.TrimPrefix(endpoint, "https://"),
		&tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

func reloadWaitServed(t *testing.T, s *Server, want int64) {
	t.Helper()
	WaitFor(t, 10*time.Second, func() error {
		got, err := reloadServedSerial(s.Endpoint)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("new connections get certificate %d, want %d", got, want)
		}
		return nil
	})
}

// reloadKMS is an AWS SDK KMS client over HTTPS that trusts only pool and
// opens a new connection per call.
func reloadKMS(s *Server, pool *x509.CertPool) *kms.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		tr.DisableKeepAlives = true
	})
	return kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(Admin.AKID, Admin.Secret, ""),
		HTTPClient:  hc, Retryer: aws.NopRetryer{}})
}

// reloadKeepAlive is one HTTPS connection kept open across a reload,
// speaking HTTP/1.1 by hand so that nothing reconnects behind the test's
// back.
type reloadKeepAlive struct {
	conn *tls.Conn
	r    *bufio.Reader
}

func reloadOpen(t *testing.T, s *Server, pool *x509.CertPool) *reloadKeepAlive {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.Endpoint, "https://"), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &reloadKeepAlive{conn: conn, r: bufio.NewReader(conn)}
}

// healthz asks GET /healthz on the kept connection and returns the status.
func (k *reloadKeepAlive) healthz() (int, error) {
	k.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := k.conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = bufio.NewReader(resp.Body).WriteTo(discard{})
	return resp.StatusCode, err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestTLSCertificateReload replaces the certificate and key files under a
// running `trent serve --tls-cert --tls-key` and checks that new HTTPS
// connections get the new certificate (an AWS SDK client that trusts only
// the new one is served; one that trusts only the old one is refused),
// while a connection opened before keeps its certificate and goes on being
// served. First by watching the files, then, with watching off, on SIGHUP;
// a broken replacement (a key that does not match) changes nothing.
func TestTLSCertificateReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	a, b, c := reloadNewPair(t, 1001), reloadNewPair(t, 1002), reloadNewPair(t, 1003)
	ctx := context.Background()

	t.Run("ok/file-change", func(t *testing.T) {
		reloadInstall(t, certFile, keyFile, a)
		cfg := connWriteConfig(t, "tls:\n  reload_interval: 100ms\n")
		s := Start(t, Opts{Args: []string{"--config", cfg, "--tls-cert", certFile, "--tls-key", keyFile}})
		if !strings.HasPrefix(s.Endpoint, "https://") {
			t.Fatalf("endpoint %s", s.Endpoint)
		}
		if _, err := reloadKMS(s, a.trustOne).ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Fatalf("ListKeys trusting the first certificate: %v", err)
		}
		old := reloadOpen(t, s, a.trustOne)
		if st, err := old.healthz(); err != nil || st != http.StatusOK {
			t.Fatalf("healthz before the reload: %d %v", st, err)
		}

		reloadInstall(t, certFile, keyFile, b)
		reloadWaitServed(t, s, b.serial)
		if _, err := reloadKMS(s, b.trustOne).ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Fatalf("ListKeys trusting only the new certificate: %v", err)
		}
		_, err := reloadKMS(s, a.trustOne).ListKeys(ctx, &kms.ListKeysInput{})
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Fatalf("ListKeys trusting only the replaced certificate: %v, want an unknown-authority error", err)
		}
		// The connection opened before the reload keeps its certificate
		// and is still served.
		if st, err := old.healthz(); err != nil || st != http.StatusOK {
			t.Fatalf("healthz on the connection opened before the reload: %d %v", st, err)
		}
		if got := old.conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); got != a.serial {
			t.Fatalf("old connection's certificate %d, want %d", got, a.serial)
		}

		// A broken pair (c's certificate with b's key) is not served:
		// new connections keep getting b, and a fixed pair is taken up.
		const refused = "cannot be loaded; serving the previous certificate"
		before := strings.Count(s.Output(), refused)
		reloadWriteFile(t, certFile, c.certPEM)
		WaitFor(t, 10*time.Second, func() error {
			if strings.Count(s.Output(), refused) == before {
				return errors.New("no log line about the broken pair yet")
			}
			return nil
		})
		if got, err := reloadServedSerial(s.Endpoint); err != nil || got != b.serial {
			t.Fatalf("after a broken replacement new connections get %d (%v), want %d", got, err, b.serial)
		}
		reloadWriteFile(t, keyFile, c.keyPEM)
		reloadWaitServed(t, s, c.serial)
		if !s.Alive() {
			t.Fatalf("trent serve exited; output:\n%s", s.Output())
		}
		if strings.Contains(s.Output(), string(c.keyPEM[40:80])) {
			t.Fatal("the log shows private key material")
		}
	})

	t.Run("ok/sighup", func(t *testing.T) {
		reloadInstall(t, certFile, keyFile, a)
		cfg := connWriteConfig(t, "tls:\n  reload_interval: -1s\n")
		s := Start(t, Opts{Args: []string{"--config", cfg, "--tls-cert", certFile, "--tls-key", keyFile}})
		old := reloadOpen(t, s, a.trustOne)
		if st, err := old.healthz(); err != nil || st != http.StatusOK {
			t.Fatalf("healthz before the reload: %d %v", st, err)
		}
		reloadInstall(t, certFile, keyFile, b)
		// Watching is off: nothing changes until the signal.
		time.Sleep(500 * time.Millisecond)
		if got, err := reloadServedSerial(s.Endpoint); err != nil || got != a.serial {
			t.Fatalf("before SIGHUP new connections get %d (%v), want %d", got, err, a.serial)
		}
		// A broken pair on SIGHUP changes nothing and ends nothing.
		reloadWriteFile(t, certFile, c.certPEM)
		if err := s.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		WaitFor(t, 10*time.Second, func() error {
			if !strings.Contains(s.Output(), "SIGHUP: TLS certificate not reloaded") {
				return errors.New("no log line about the refused reload yet")
			}
			return nil
		})
		if got, err := reloadServedSerial(s.Endpoint); err != nil || got != a.serial {
			t.Fatalf("after SIGHUP on a broken pair new connections get %d (%v), want %d", got, err, a.serial)
		}
		reloadWriteFile(t, certFile, b.certPEM)
		if err := s.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		reloadWaitServed(t, s, b.serial)
		if _, err := reloadKMS(s, b.trustOne).ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			t.Fatalf("ListKeys trusting only the new certificate: %v", err)
		}
		if st, err := old.healthz(); err != nil || st != http.StatusOK {
			t.Fatalf("healthz on the connection opened before the reload: %d %v", st, err)
		}
		if !s.Alive() {
			t.Fatalf("trent serve exited on SIGHUP; output:\n%s", s.Output())
		}
	})
}
