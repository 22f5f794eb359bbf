package security

import (
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rtnetHold is a slow attacker's connection loop: dial from ip, send
// first (a request line, or a pipeline of requests), then hold the
// connection without reading until the server closes it, and dial again,
// until stop is closed. It counts connections the server admitted.
func rtnetHold(s *Server, ip string, first []byte, rcvbuf int, stop <-chan struct{}, opened *atomic.Int64) {
	d := connDialer(ip)
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		c, err := d.Dial("tcp", s.connHost())
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		closed := make(chan struct{})
		go func() {
			select {
			case <-stop:
			case <-closed:
			}
			c.Close()
		}()
		go c.Write(first) // may block once the server stops reading
		if rcvbuf > 0 {
			// A slow reader never reads its answers (they stay queued in
			// the kernel's buffers, so a close by the server cannot be
			// seen without reading them): it holds the connection until
			// the test ends.
			<-stop
		} else {
			io.Copy(io.Discard, c) // the 503, or nothing: ends when closed
		}
		close(closed)
		opened.Add(1)
		time.Sleep(20 * time.Millisecond)
	}
}

// rtnetLegit makes n signed calls from ip, each on a new connection, and
// returns the errors.
func rtnetLegit(s *Server, ip string, n int, every time.Duration) (errs []string) {
	for i := 0; i < n; i++ {
		if err := s.connListKeys(ip); err != nil {
			errs = append(errs, err.Error())
		}
		time.Sleep(every)
	}
	return errs
}

// TestSlowlorisAtLimit fills the server's connection limit from four
// addresses (each within the per-client cap of a quarter of the limit)
// with connections that send one line of a request and then nothing. They
// are "reading a request", which the tracker never replaces, and the read
// timeout (10 s) frees them only for the attacker to dial again: every
// legitimate connection meanwhile got a 503 (before the fix: 267 of 268
// over 30 s with a limit of 100). A legitimate client holding no
// connection must get one in: a connection stuck in a request is replaced
// for a client that holds fewer connections.
func TestSlowlorisAtLimit(t *testing.T) {
	t.Parallel()
	cfg := connWriteConfig(t, "limits:\n  max_connections: 40\n")
	s := Start(t, Opts{Args: []string{"--config", cfg}})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var opened atomic.Int64
	line := []byte("POST / HTTP/1.1\r\n")
	for _, ip := range []string{"127.0.0.70", "127.0.0.71", "127.0.0.72", "127.0.0.73"} {
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); rtnetHold(s, ip, line, 0, stop, &opened) }()
		}
	}
	time.Sleep(1500 * time.Millisecond)
	errs := rtnetLegit(s, "127.0.0.74", 20, 150*time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("attacker: %d connections ended during the test", opened.Load())
	if len(errs) > 0 {
		t.Fatalf("%d of 20 signed calls from a client holding no connection failed while 4 addresses held the limit with half-sent requests; first: %s",
			len(errs), errs[0])
	}
	if !s.Alive() {
		t.Fatalf("trent serve exited; output:\n%s", s.Output())
	}
}

// TestSlowResponseReader fills the connection limit with connections
// that pipeline many small unsigned requests and never read the answers
// (a tiny receive buffer): once the kernel's buffers are full the server
// blocks writing an answer, a state the tracker counts as busy and the
// read timeout does not cover, for up to the write timeout (60 s) per
// answer. A legitimate client holding no connection must still get one.
func TestSlowResponseReader(t *testing.T) {
	t.Parallel()
	cfg := connWriteConfig(t, "limits:\n  max_connections: 8\n")
	s := Start(t, Opts{Args: []string{"--config", cfg}})
	one := "POST / HTTP/1.1\r\nHost: " + s.connHost() + "\r\nX-Amz-Target: TrentService.ListKeys\r\n" +
		"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}"
	pipeline := []byte(strings.Repeat(one, 16000))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var opened atomic.Int64
	for _, ip := range []string{"127.0.0.75", "127.0.0.76", "127.0.0.77", "127.0.0.78"} {
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); rtnetHold(s, ip, pipeline, 1024, stop, &opened) }()
		}
	}
	time.Sleep(4 * time.Second)
	errs := rtnetLegit(s, "127.0.0.79", 10, 100*time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("attacker: %d connections ended during the test", opened.Load())
	if len(errs) > 0 {
		t.Fatalf("%d of 10 signed calls from a client holding no connection failed while 4 addresses held the limit with unread answers; first: %s",
			len(errs), errs[0])
	}
	if !s.Alive() {
		t.Fatalf("trent serve exited; output:\n%s", s.Output())
	}
}
