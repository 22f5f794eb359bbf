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
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// connHost is the server's host:port.
func (s *Server) connHost() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.Endpoint, "https://"), "http://")
}

// connDialer dials from local address ip: every 127.0.0.x is a loopback
// address of its own, so each looks like another client to the server.
func connDialer(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

// connKMS is a KMS client, signed with c, whose connections come from ip
// and are not kept alive between calls (each call dials anew, as a new
// client does).
func (s *Server) connKMS(c Creds, ip string) *kms.Client {
	hc := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)} }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.DisableKeepAlives = true
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}).
		WithTimeout(5 * time.Second)
	return kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AKID, c.Secret, c.Token),
		HTTPClient:   hc,
		Retryer:      aws.NopRetryer{},
	})
}

// connListKeys makes one signed call from ip.
func (s *Server) connListKeys(ip string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.connKMS(Admin, ip).ListKeys(ctx, &kms.ListKeysInput{})
	return err
}

// connWriteConfig writes a configuration file and returns its path.
func connWriteConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trent.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// connFlood opens n idle connections to s spread over the source
// addresses ips, dialing from a few goroutines, and returns those that were
// established. Dials that fail are counted, not fatal: under the attack the
// server may refuse them.
func connFlood(t *testing.T, s *Server, n int, ips []string) (conns []net.Conn, failed int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := connDialer(ips[i%len(ips)]).Dial("tcp", s.connHost())
				mu.Lock()
				if err != nil {
					failed++
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns, failed
}

// connClosedWithin reports whether the server closes c (EOF, a reset, or
// the 503 it sends a refused connection) within d.
func connClosedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

// TestConnectionExhaustion opens 1,500 idle connections, from several
// client addresses, against a server limited to 1,024 file descriptors.
// Before issue 15, accept4 failed with EMFILE and `trent serve` exited. Now
// the server keeps its connections within a limit derived from the file
// descriptor limit, refuses or replaces idle ones, and signed clients are
// answered during the flood and after it.
func TestConnectionExhaustion(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		// wait leaves the idle connections open for the server to time
		// out (read timeout 10 s) instead of closing them.
		wait bool
	}{
		// The default limits (derived from RLIMIT_NOFILE): the
		// per-client cap and the connection limit hold the flood.
		{"ok/default limits", nil, true},
		// No connection limit: accept4 itself runs out of descriptors;
		// the server retries (and closes idle connections to make room)
		// instead of exiting.
		{"ok/no connection limit, accept fails with EMFILE", []string{"--max-connections", "-1", "--max-connections-per-client", "-1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, Opts{NoFile: 1024, Args: tc.args})
			if err := s.connListKeys("127.0.0.2"); err != nil {
				t.Fatalf("before the flood: %v", err)
			}
			ips := []string{"127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15", "127.0.0.16"}
			start := time.Now()
			conns, failed := connFlood(t, s, 1500, ips)
			t.Logf("flood: %d connections established, %d dials failed, in %v", len(conns), failed, time.Since(start).Round(time.Millisecond))
			if !s.Alive() {
				t.Fatalf("trent serve exited during the flood; output:\n%s", s.Output())
			}
			// A signed client (another address) is answered while the
			// idle connections are still open.
			during := time.Now()
			WaitFor(t, 10*time.Second, func() error { return s.connListKeys("127.0.0.2") })
			t.Logf("signed call answered %v into the flood", time.Since(during).Round(time.Millisecond))
			if !s.Alive() {
				t.Fatalf("trent serve exited; output:\n%s", s.Output())
			}
			if tc.wait {
				// The server closes what it held of the flood within
				// its read timeout (10 s, checked every second).
				var open int
				var wg sync.WaitGroup
				var mu sync.Mutex
				for _, c := range conns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if !connClosedWithin(c, time.Until(start.Add(13*time.Second))) {
							mu.Lock()
							open++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				if open > 0 {
					t.Fatalf("%d idle connections still open 13 s after they were opened", open)
				}
			}
			for _, c := range conns {
				c.Close()
			}
			closed := time.Now()
			WaitFor(t, 10*time.Second, func() error { return s.connListKeys("127.0.0.10") })
			t.Logf("signed call from a flooding address answered %v after the flood was closed", time.Since(closed).Round(time.Millisecond))
			// The server is healthy, not merely alive.
			for i := 0; i < 20; i++ {
				if err := s.connListKeys("127.0.0.3"); err != nil {
					t.Fatalf("call %d after the flood: %v", i, err)
				}
			}
			if !s.Alive() {
				t.Fatalf("trent serve exited; output:\n%s", s.Output())
			}
		})
	}
}

// TestConnectionPerClientCap opens more connections from one address than
// the per-client cap: the ones over it are closed at once (after a 503),
// the ones under it stay, and other addresses are served.
func TestConnectionPerClientCap(t *testing.T) {
	t.Parallel()
	cfg := connWriteConfig(t, "limits:\n  max_connections_per_client: 10\n")
	s := Start(t, Opts{Args: []string{"--config", cfg}})
	conns, failed := connFlood(t, s, 15, []string{"127.0.0.5"})
	if failed > 0 {
		t.Fatalf("%d dials failed", failed)
	}
	var refused int
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if connClosedWithin(c, 2*time.Second) {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if refused != 5 {
		t.Fatalf("%d of 15 connections from one address closed at once, want the 5 over the cap of 10", refused)
	}
	if err := s.connListKeys("127.0.0.5"); err == nil {
		t.Fatal("a new connection from the capped address was served")
	}
	if err := s.connListKeys("127.0.0.6"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	for _, c := range conns {
		c.Close()
	}
	WaitFor(t, 5*time.Second, func() error { return s.connListKeys("127.0.0.5") })
}

// TestConnectionSlowloris trickles request headers one byte at a time, and
// opens connections that never send a byte: the server closes each within
// its read timeout (2 s here) instead of holding its socket, and signed
// clients are served meanwhile.
func TestConnectionSlowloris(t *testing.T) {
	t.Parallel()
	cfg := connWriteConfig(t, "limits:\n  read_timeout: 2s\n  max_connections: 100\n  max_connections_per_client: 40\n")
	s := Start(t, Opts{Args: []string{"--config", cfg}})
	head := "POST / HTTP/1.1\r\nHost: " + s.connHost() + "\r\nX-Amz-Target: TrentService.ListKeys\r\n" +
		"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n"
	const n = 30
	type result struct {
		lived time.Duration
		sent  int
	}
	results := make(chan result, 2*n)
	for i := 0; i < n; i++ {
		// Slow headers, after a completed request on the same connection
		// for half of them (a kept-alive connection's next request is
		// timed too).
		go func(keepAlive bool) {
			c, err := connDialer("127.0.0.7").Dial("tcp", s.connHost())
			if err != nil {
				results <- result{}
				return
			}
			defer c.Close()
			if keepAlive {
				fmt.Fprintf(c, "%s\r\n{}", head)
				r := bufio.NewReader(c)
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					results <- result{}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			start := time.Now()
			sent := 0
			for time.Since(start) < 15*time.Second {
				if _, err := c.Write([]byte{head[sent%len(head)]}); err != nil {
					break
				}
				sent++
				time.Sleep(200 * time.Millisecond)
			}
			results <- result{time.Since(start), sent}
		}(i%2 == 0)
		// Silent connections: never a byte.
		go func() {
			c, err := connDialer("127.0.0.8").Dial("tcp", s.connHost())
			if err != nil {
				results <- result{}
				return
			}
			defer c.Close()
			start := time.Now()
			connClosedWithin(c, 15*time.Second)
			results <- result{time.Since(start), 0}
		}()
	}
	// Signed clients are served during the attack.
	for i := 0; i < 10; i++ {
		if err := s.connListKeys("127.0.0.9"); err != nil {
			t.Fatalf("signed call during the attack: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var longest time.Duration
	for i := 0; i < 2*n; i++ {
		r := <-results
		if r.lived == 0 {
			t.Fatal("an attack connection could not be set up")
		}
		longest = max(longest, r.lived)
	}
	t.Logf("longest-lived slow connection: %v", longest.Round(time.Millisecond))
	// Read timeout 2 s, checked every second: closed within about 3 s,
	// never after the 15 s the attack would go on.
	if longest > 5*time.Second {
		t.Fatalf("a slow connection lived %v with a read timeout of 2s", longest)
	}
	if !s.Alive() {
		t.Fatalf("trent serve exited; output:\n%s", s.Output())
	}
}

// connSelfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func connSelfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return certFile, keyFile
}

// TestConnectionLimitsTLS checks the limits over HTTPS: a connection that
// never completes its TLS handshake, or stalls in the middle of it, is
// closed within the read timeout; connections over the per-client cap are
// closed at once; signed clients are served.
func TestConnectionLimitsTLS(t *testing.T) {
	t.Parallel()
	cert, key := connSelfSigned(t)
	cfg := connWriteConfig(t, "limits:\n  read_timeout: 2s\n  max_connections_per_client: 10\n")
	s := Start(t, Opts{Args: []string{"--config", cfg, "--tls-cert", cert, "--tls-key", key}})
	if !strings.HasPrefix(s.Endpoint, "https://") {
		t.Fatalf("endpoint %s", s.Endpoint)
	}
	conns, failed := connFlood(t, s, 12, []string{"127.0.0.20"})
	if failed > 0 {
		t.Fatalf("%d dials failed", failed)
	}
	// Half of a ClientHello on two of them: a stalled handshake.
	for _, c := range conns[:2] {
		c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var early, late int
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			closed := connClosedWithin(c, 10*time.Second)
			mu.Lock()
			defer mu.Unlock()
			switch d := time.Since(t0); {
			case !closed:
				t.Errorf("a connection without a handshake was still open after 10 s")
			case d < time.Second:
				early++
			case d > 5*time.Second:
				late++
			}
		}()
	}
	// While they wait: another address is served over TLS.
	if err := s.connListKeys("127.0.0.21"); err != nil {
		t.Fatalf("signed call over TLS: %v", err)
	}
	wg.Wait()
	t.Logf("12 connections without a handshake: %d closed at once (over the cap of 10), all closed after %v", early, time.Since(start).Round(time.Millisecond))
	if early != 2 {
		t.Errorf("%d connections closed at once, want the 2 over the per-client cap", early)
	}
	if late > 0 {
		t.Errorf("%d connections lived longer than 5 s with a read timeout of 2 s", late)
	}
	if err := s.connListKeys("127.0.0.20"); err != nil {
		t.Fatalf("signed call over TLS after the handshake timeouts: %v", err)
	}
}

// connRaiseNoFile makes sure the test process itself can hold the flood's
// sockets.
func init() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}
