package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/config"
)

// addrConn is one end of a pipe that claims a TCP peer address.
type addrConn struct {
	net.Conn
	peer *net.TCPAddr
}

func (c addrConn) RemoteAddr() net.Addr { return c.peer }

// pipeFrom returns a server-side connection from ip and its client end.
func pipeFrom(ip string) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	return addrConn{Conn: a, peer: &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}}, b
}

// closedSoon reports whether the server closed the client end c.
func closedSoon(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := io.Copy(io.Discard, c)
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}

func newTestTracker(l Limits) *tracker {
	return newTracker(l, false, slog.New(slog.DiscardHandler))
}

func TestTrackerLimits(t *testing.T) {
	t.Parallel()
	t.Run("fail/over the per-client cap", func(t *testing.T) {
		t.Parallel()
		tr := newTestTracker(Limits{MaxConnsPerClient: 2})
		for i := 0; i < 2; i++ {
			s, _ := pipeFrom("192.0.2.1")
			if tr.admit(s) == nil {
				t.Fatalf("connection %d under the cap refused", i)
			}
		}
		s, c := pipeFrom("192.0.2.1")
		go func() {
			// The 503 is written to the pipe, which needs a reader.
			b, _ := io.ReadAll(c)
			if len(b) == 0 {
				t.Error("no 503 before the close")
			}
		}()
		if tr.admit(s) != nil {
			t.Fatal("connection over the cap admitted")
		}
		if s2, _ := pipeFrom("192.0.2.2"); tr.admit(s2) == nil {
			t.Fatal("another client refused")
		}
		if st := tr.stats(); st.Open != 3 || st.Rejected != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("ok/at the limit the connection idle longest makes room", func(t *testing.T) {
		t.Parallel()
		tr := newTestTracker(Limits{MaxConns: 3})
		var conns []*coarseConn
		var clients []net.Conn
		for i := 0; i < 3; i++ {
			tr.clock.Add(1000)
			s, c := pipeFrom("192.0.2.1")
			cc := tr.admit(s)
			conns, clients = append(conns, cc), append(clients, c)
		}
		conns[0].setState(connHandling) // busy: never evicted
		tr.clock.Add(1000)
		conns[1].setState(connIdle) // idle since now
		// conns[2] is new since before conns[1] went idle: it goes first.
		s, _ := pipeFrom("192.0.2.9")
		if tr.admit(s) == nil {
			t.Fatal("refused at the limit with idle connections open")
		}
		if !closedSoon(clients[2]) {
			t.Fatal("the connection idle longest is still open")
		}
		s, _ = pipeFrom("192.0.2.9")
		if tr.admit(s) == nil {
			t.Fatal("refused with an idle connection open")
		}
		if !closedSoon(clients[1]) {
			t.Fatal("the idle connection is still open")
		}
		if conns[0].closed.Load() {
			t.Fatal("the busy connection was closed")
		}
		if st := tr.stats(); st.Open != 3 || st.Evicted != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("fail/at the limit with every connection busy", func(t *testing.T) {
		t.Parallel()
		tr := newTestTracker(Limits{MaxConns: 3})
		// Reading or writing for less than SlowAfter, each client
		// holding one connection; or being acted on.
		for i, st := range []int64{connReading, connWriting, connHandling} {
			s, _ := pipeFrom(fmt.Sprintf("192.0.2.%d", i+1))
			tr.admit(s).setState(st)
		}
		tr.clock.Add(SlowAfter.Milliseconds() - 1)
		s, c := pipeFrom("192.0.2.9")
		go io.ReadAll(c)
		if tr.admit(s) != nil {
			t.Fatal("admitted with every connection busy")
		}
	})
	t.Run("ok/a client holding the limit in requests or answers makes room for one holding none", func(t *testing.T) {
		t.Parallel()
		tr := newTestTracker(Limits{MaxConns: 4})
		var conns []*coarseConn
		var clients []net.Conn
		for _, st := range []int64{connHandling, connReading, connWriting, connReading} {
			tr.clock.Add(1)
			s, c := pipeFrom("192.0.2.1")
			cc := tr.admit(s)
			cc.setState(st)
			conns, clients = append(conns, cc), append(clients, c)
		}
		// A newcomer of the same client may not replace them (they are
		// not slow), nor one whose client holds three (4 < 3+2).
		s, c := pipeFrom("192.0.2.1")
		go io.ReadAll(c)
		if tr.admit(s) != nil {
			t.Fatal("the client holding the limit replaced its own busy connection")
		}
		// A client holding none: the oldest reading or writing goes
		// (the one being acted on never does).
		s, _ = pipeFrom("192.0.2.2")
		if cc := tr.admit(s); cc == nil {
			t.Fatal("a client holding no connection was refused")
		} else {
			cc.setState(connHandling)
		}
		if !closedSoon(clients[1]) || conns[0].closed.Load() {
			t.Fatal("not the oldest connection reading its request was replaced")
		}
		s, _ = pipeFrom("192.0.2.3")
		if cc := tr.admit(s); cc == nil || !closedSoon(clients[2]) {
			t.Fatal("the connection writing its answer was not replaced for a client holding none")
		} else {
			cc.setState(connHandling)
		}
		// 192.0.2.1 now holds two: 192.0.2.2, holding one, may not
		// replace its connection reading a request (2 < 1+2).
		s, c = pipeFrom("192.0.2.2")
		go io.ReadAll(c)
		if tr.admit(s) != nil {
			t.Fatal("a client holding one replaced a busy connection of a client holding two")
		}
	})
	t.Run("ok/slow connections are replaced like idle ones", func(t *testing.T) {
		t.Parallel()
		tr := newTestTracker(Limits{MaxConns: 2, ReadTimeout: 10 * time.Second})
		var clients []net.Conn
		for i, st := range []int64{connReading, connWriting} {
			s, c := pipeFrom(fmt.Sprintf("192.0.2.%d", i+1))
			tr.admit(s).setState(st)
			clients = append(clients, c)
		}
		tr.clock.Add(SlowAfter.Milliseconds())
		for i := range 2 {
			s, _ := pipeFrom(fmt.Sprintf("192.0.2.%d", 10+i))
			if tr.admit(s) == nil {
				t.Fatalf("newcomer %d refused with a slow connection open", i)
			}
		}
		if !closedSoon(clients[0]) || !closedSoon(clients[1]) {
			t.Fatal("slow connections are still open")
		}
		// A newcomer's own client holding more than the slow one's
		// does not replace it.
		tr2 := newTestTracker(Limits{MaxConns: 3})
		s, _ := pipeFrom("192.0.2.1")
		tr2.admit(s).setState(connReading)
		for range 2 {
			s, _ := pipeFrom("192.0.2.2")
			tr2.admit(s).setState(connHandling)
		}
		tr2.clock.Add(SlowAfter.Milliseconds())
		s, c := pipeFrom("192.0.2.2")
		go io.ReadAll(c)
		if tr2.admit(s) != nil {
			t.Fatal("a client holding two replaced the slow connection of a client holding one")
		}
	})
	t.Run("ok/a client holding many cannot replace a newcomer of a client holding few", func(t *testing.T) {
		t.Parallel()
		tr := newTestTracker(Limits{MaxConns: 4})
		for range 3 {
			s, _ := pipeFrom("192.0.2.1")
			tr.admit(s).setState(connReading)
		}
		s, _ := pipeFrom("192.0.2.2")
		legit := tr.admit(s) // new: has sent nothing yet
		tr.clock.Add(SlowAfter.Milliseconds())
		s, _ = pipeFrom("192.0.2.1")
		if tr.admit(s) == nil {
			t.Fatal("the slow connections of the newcomer's own client were not replaced")
		}
		if legit.closed.Load() {
			t.Fatal("a client holding three replaced the new connection of a client holding one")
		}
	})
	t.Run("ok/closing unregisters once", func(t *testing.T) {
		t.Parallel()
		tr := newTestTracker(Limits{MaxConns: 1, MaxConnsPerClient: 1})
		s, _ := pipeFrom("192.0.2.1")
		cc := tr.admit(s)
		cc.setState(connHandling)
		cc.Close()
		cc.Close()
		if st := tr.stats(); st.Open != 0 || len(tr.clients) != 0 {
			t.Fatalf("after Close: %+v, clients %v", st, tr.clients)
		}
		s, _ = pipeFrom("192.0.2.1")
		if tr.admit(s) == nil {
			t.Fatal("a closed connection still counts")
		}
	})
}

func TestTrackerTimeouts(t *testing.T) {
	t.Parallel()
	tr := newTestTracker(Limits{ReadTimeout: 10 * time.Second})
	states := []int64{connNew, connReading, connHandling, connIdle, connWriting}
	var clients []net.Conn
	var conns []*coarseConn
	for _, st := range states {
		s, c := pipeFrom("192.0.2.1")
		cc := tr.admit(s)
		cc.setState(st)
		conns, clients = append(conns, cc), append(clients, c)
	}
	now := tr.clock.Load()
	tr.closeSlow(now + 9000)
	if tr.stats().TimedOut != 0 {
		t.Fatal("closed before the read timeout")
	}
	tr.closeSlow(now + 11000)
	for i, st := range states {
		closed := conns[i].closed.Load()
		if want := st == connNew || st == connReading; closed != want {
			t.Errorf("state %d: closed %v, want %v", st, closed, want)
		}
	}
	if !closedSoon(clients[0]) || !closedSoon(clients[1]) {
		t.Fatal("timed-out connections are open")
	}
	if st := tr.stats(); st.TimedOut != 2 || st.Open != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// errListener fails Accept with errs, then hands out conns.
type errListener struct {
	mu     sync.Mutex
	errs   []error
	conns  []net.Conn
	closed chan struct{}
}

func (l *errListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	if len(l.conns) > 0 {
		c := l.conns[0]
		l.conns = l.conns[1:]
		l.mu.Unlock()
		return c, nil
	}
	l.mu.Unlock()
	<-l.closed
	return nil, net.ErrClosed
}

func (l *errListener) Close() error   { close(l.closed); return nil }
func (l *errListener) Addr() net.Addr { return &net.TCPAddr{} }

func TestAcceptErrors(t *testing.T) {
	t.Parallel()
	tr := newTestTracker(Limits{})
	// One idle connection, which an EMFILE should close to make room.
	idle, idleClient := pipeFrom("192.0.2.7")
	tr.admit(idle)
	s, _ := pipeFrom("192.0.2.1")
	op := func(errno syscall.Errno) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
	}
	inner := &errListener{errs: []error{op(syscall.EMFILE), op(syscall.ECONNABORTED), op(syscall.ENOBUFS), op(syscall.ENFILE)},
		conns: []net.Conn{s}, closed: make(chan struct{})}
	ln := &limitListener{Listener: inner, t: tr}
	start := time.Now()
	c, err := ln.Accept()
	if err != nil || c == nil {
		t.Fatalf("Accept after transient errors: %v", err)
	}
	// Backoff 5 + 10 ms for the two errors that closed nothing; the
	// EMFILE closed the idle connection and was retried at once, the
	// ENFILE found none to close.
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Accept took %v", d)
	}
	if !closedSoon(idleClient) {
		t.Fatal("EMFILE did not close the idle connection")
	}
	if st := tr.stats(); st.AcceptErrors != 4 || st.Evicted != 1 {
		t.Fatalf("stats %+v", st)
	}
	done := make(chan error)
	go func() { _, err := ln.Accept(); done <- err }()
	ln.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

func TestDefaultMaxConns(t *testing.T) {
	t.Parallel()
	for nofile, want := range map[uint64]int{0: 0, 64: 16, 144: 16, 1024: 896, 4096: 3584, 65536: 16384, 1 << 20: 16384} {
		if got := DefaultMaxConns(nofile); got != want {
			t.Errorf("DefaultMaxConns(%d) = %d, want %d", nofile, got, want)
		}
	}
	l := ConnLimits(config.LimitsFile{}, 1024)
	if l.MaxConns != 896 || l.MaxConnsPerClient != 224 {
		t.Errorf("defaults for 1024 files: %+v", l)
	}
	l = ConnLimits(config.LimitsFile{MaxConnections: -1, MaxConnectionsPerClient: -1}, 1024)
	if l.MaxConns != 0 || l.MaxConnsPerClient != 0 {
		t.Errorf("disabled limits: %+v", l)
	}
	l = ConnLimits(config.LimitsFile{MaxConnections: 100}, 1024)
	if l.MaxConns != 100 || l.MaxConnsPerClient != 25 {
		t.Errorf("explicit limit: %+v", l)
	}
}

// The per-request work the limits add to the fast path: the body-limit
// hook (one header lookup, one map lookup), the two connection-state
// hooks and the handling and writing marks (atomic stores), and the
// failure limiter's check while no source is limited (an atomic load).
func BenchmarkPerRequestLimits(b *testing.B) {
	var h fasthttp.RequestHeader
	h.SetMethod("POST")
	h.Set("Host", "127.0.0.1:4599")
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amz-Date", "20260102T030405Z")
	h.Set("X-Amz-Target", "TrentService.Encrypt")
	h.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20260102/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000")
	h.SetContentLength(1400)
	b.Run("bodyLimit/1400 bytes", func(b *testing.B) {
		for b.Loop() {
			if bodyLimit(&h).MaxRequestBodySize == 0 {
				b.Fatal("no limit")
			}
		}
	})
	var small fasthttp.RequestHeader
	h.CopyTo(&small)
	small.SetContentLength(300)
	b.Run("bodyLimit/300 bytes", func(b *testing.B) {
		for b.Loop() {
			bodyLimit(&small)
		}
	})
	tr := newTestTracker(Limits{})
	s, _ := pipeFrom("192.0.2.1")
	cc := tr.admit(s)
	srv := &Server{}
	b.Run("connState", func(b *testing.B) {
		for b.Loop() {
			srv.connState(cc, fasthttp.StateActive)
			if c := trackedConn(cc); c != nil {
				c.setState(connHandling)
				c.setState(connWriting)
			}
			srv.connState(cc, fasthttp.StateIdle)
		}
	})
	l := authfail.New(authfail.Config{})
	b.Run("failedAuth.Limited", func(b *testing.B) {
		for b.Loop() {
			if l.Limited("192.0.2.1") {
				b.Fatal("limited")
			}
		}
	})
	// In flood mode every request takes the limiter's lock (a request
	// with a key in use is then verified all the same).
	flood := authfail.New(authfail.Config{LookupRate: 1, LookupBurst: 1})
	defer flood.Close()
	for i := range 3 {
		flood.Fail(context.Background(), &authfail.Failure{Source: fmt.Sprintf("198.51.100.%d", i), AccessKeyID: "AKIAMADEUP",
			Err: awserr.New(awserr.UnrecognizedClient, "invalid"), UnknownKey: true}, errThrottled)
	}
	b.Run("failedAuth.Limited/flood mode", func(b *testing.B) {
		for b.Loop() {
			if !flood.Limited("192.0.2.1") {
				b.Fatal("not in flood mode")
			}
		}
	})
}

// A coarseConn may keep a deadline up to a second earlier than asked, but
// must apply every earlier, cleared or distant one.
func TestCoarseDeadlines(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		cur, next time.Time
		skip      bool
	}{
		{time.Time{}, time.Time{}, true},
		{time.Time{}, t0, false},
		{t0, time.Time{}, false},
		{t0, t0, true},
		{t0, t0.Add(999 * time.Millisecond), true},
		{t0, t0.Add(time.Second), false},
		{t0, t0.Add(-time.Nanosecond), false},
	} {
		if got := skip(c.cur, c.next); got != c.skip {
			t.Errorf("skip(%v, %v) = %v, want %v", c.cur, c.next, got, c.skip)
		}
	}

	// On a real connection: a deadline moved earlier takes effect.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &coarseConn{Conn: a}
	if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(time.Minute + 500*time.Millisecond)) // kept at the earlier one
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("read after an earlier deadline: %v, want a timeout", err)
	}
}
