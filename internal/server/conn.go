package server

import (
	"cmp"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/trentkms/trent/internal/authfail"
	"github.com/trentkms/trent/internal/config"
)

// Limits bound what clients, authenticated or not, can hold: sockets and
// the time a socket may sit without delivering a request. The zero value
// has no connection limits and default timeouts.
type Limits struct {
	// MaxConns bounds the open client connections (0: no limit). At the
	// limit, a new connection replaces another that is not being acted
	// on, oldest first: one that has sent nothing yet or is kept alive
	// between requests, of a client holding at least as many
	// connections as the newcomer's; or one still reading its request
	// or writing its response, of a client holding at least two more
	// connections than the newcomer's, or slow (at it for SlowAfter) and
	// of a client holding at least as many. So a few addresses holding
	// the limit with half-sent requests or unread answers cannot keep
	// out a client that holds none. If there is no such connection, the
	// new one is refused.
	MaxConns int
	// MaxConnsPerClient bounds the open connections of one client address
	// (an IPv4 address or an IPv6 /64; 0: no limit). Connections over it
	// are refused.
	MaxConnsPerClient int
	// ReadTimeout bounds how long a new connection may take to deliver
	// its first request (TLS handshake, headers and body) and how long any
	// later request may take from its first byte to its last (default
	// DefaultReadTimeout). A connection over it is closed.
	ReadTimeout time.Duration
	// IdleTimeout bounds a kept-alive connection's wait for its next
	// request, and the writing of a response (default DefaultIdleTimeout).
	IdleTimeout time.Duration
}

// Defaults of Limits.
const (
	DefaultReadTimeout = 10 * time.Second
	DefaultIdleTimeout = 60 * time.Second
)

// States of a tracked connection (coarseConn.stamp).
const (
	connNew      int64 = iota // accepted, no request byte yet
	connReading               // reading a request
	connHandling              // request read, being acted on
	connIdle                  // kept alive between requests
	connWriting               // answered, the response being written
)

// stateBits is the width of the state in coarseConn.stamp.
const stateBits = 3

// SlowAfter is how long a connection may read one request or write one
// response before it counts as slow: at the connection limit, a slow
// connection may be replaced like an idle one (Limits.MaxConns). It is
// at most half of Limits.ReadTimeout.
const SlowAfter = time.Second

// tracker counts, limits and times out the connections of the listeners
// that use it (a Server's, and those of Servers that share its
// connections).
// Its bookkeeping is per connection (accept, close) and per state change
// (two atomic stores per request); nothing takes a lock per request.
type tracker struct {
	limits Limits
	tls    bool
	log    *slog.Logger
	// clock is the time in Unix milliseconds as of the last reaper tick:
	// state changes stamp it instead of reading the clock.
	clock atomic.Int64

	mu      sync.Mutex
	conns   map[*coarseConn]struct{}
	clients map[netip.Addr]int
	// victims are the connections that were not being acted on, oldest
	// last, when last scanned (at scannedAt, tracker clock): eviction
	// takes from them instead of scanning every connection for each one.
	// taken counts the victims taken since.
	victims   []*coarseConn
	scannedAt int64
	taken     int
	// slowMs is SlowAfter (at most half the read timeout) in ms.
	slowMs int64
	// users counts the listeners using the tracker; it closes when the
	// last one does.
	users  int
	closed bool
	done   chan struct{}

	open                                                atomic.Int64
	accepted, acceptErrors, rejected, evicted, timedOut atomic.Uint64

	logMu      sync.Mutex
	lastLog    map[string]time.Time
	suppressed map[string]int
}

func newTracker(l Limits, isTLS bool, log *slog.Logger) *tracker {
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	t := &tracker{limits: l, tls: isTLS, log: log, conns: map[*coarseConn]struct{}{},
		clients: map[netip.Addr]int{}, done: make(chan struct{}),
		lastLog: map[string]time.Time{}, suppressed: map[string]int{},
		slowMs: min(SlowAfter, l.ReadTimeout/2).Milliseconds(), scannedAt: -1}
	t.clock.Store(time.Now().UnixMilli())
	return t
}

// limitListener accepts connections through a tracker. Accept errors
// (EMFILE, ENFILE, ENOBUFS, ECONNABORTED, ...) never end Serve: they are
// counted, logged at a bounded rate and retried after a backoff.
type limitListener struct {
	net.Listener
	t    *tracker
	once sync.Once
}

// Backoff after a failed accept.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

func (l *limitListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			l.t.acceptErrors.Add(1)
			if (errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)) && l.t.evictOne() {
				// Out of descriptors: an idle connection's is worth more
				// to the connection waiting in the backlog, which can
				// now be accepted at once.
				l.t.logf("accept", "out of file descriptors: closed the connection idle longest", "err", err)
				continue
			}
			delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
			l.t.logf("accept", "accepting a connection failed; retrying", "err", err, "retryIn", delay.String())
			timer := time.NewTimer(delay)
			select {
			case <-timer.C:
			case <-l.t.done:
				timer.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		delay = 0
		if cc := l.t.admit(c); cc != nil {
			return cc, nil
		}
	}
}

func (l *limitListener) Close() error {
	l.once.Do(l.t.release)
	return l.Listener.Close()
}

// remoteKey is the client a connection counts against.
func remoteKey(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return authfail.SourceKey(a.AddrPort().Addr())
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return authfail.SourceKey(ap.Addr())
}

// admit registers c, evicting an idle connection if the server is at its
// limit, or refuses it (closing it at once) and returns nil.
func (t *tracker) admit(c net.Conn) *coarseConn {
	key := remoteKey(c)
	cc := &coarseConn{Conn: c, t: t, key: key}
	cc.setState(connNew)
	var victim *coarseConn
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.Close()
		return nil
	}
	if n := t.limits.MaxConnsPerClient; n > 0 && t.clients[key] >= n {
		t.mu.Unlock()
		t.reject(c, "the client's connection limit", "client", key.String(), "limit", n)
		return nil
	}
	if n := t.limits.MaxConns; n > 0 && len(t.conns) >= n {
		if victim = t.victimLocked(t.clients[key]); victim == nil {
			t.mu.Unlock()
			t.reject(c, "the connection limit; every connection is busy", "limit", n)
			return nil
		}
		if !t.dropLocked(victim) {
			victim = nil // its own goroutine is closing it
		}
	}
	t.conns[cc] = struct{}{}
	t.clients[key]++
	t.open.Add(1)
	t.mu.Unlock()
	t.accepted.Add(1)
	if victim != nil {
		t.evicted.Add(1)
		victim.Conn.Close()
		t.logf("evict", "at the connection limit: closed an idle or slow connection", "limit", t.limits.MaxConns)
	}
	return cc
}

// evictOne closes the connection idle longest (or a slow one), if any,
// and reports whether it did.
func (t *tracker) evictOne() bool {
	t.mu.Lock()
	v := t.victimLocked(-1)
	if v != nil && !t.dropLocked(v) {
		v = nil
	}
	t.mu.Unlock()
	if v == nil {
		return false
	}
	t.evicted.Add(1)
	v.Conn.Close()
	return true
}

// replaceable reports whether a new connection whose client holds have
// connections (-1: unknown) may replace c (see Limits.MaxConns), and
// whether c is a candidate at all (open, and not being acted on). now is
// the tracker clock. It runs under mu.
func (t *tracker) replaceable(c *coarseConn, have int, now int64) (ok, candidate bool) {
	if _, open := t.conns[c]; !open || c.closed.Load() {
		return false, false
	}
	s, since := c.load()
	if s == connHandling {
		return false, false
	}
	theirs := t.clients[c.key]
	if s == connNew || s == connIdle {
		return have < 0 || theirs >= have, true
	}
	// Reading a request or writing a response.
	if have >= 0 && theirs >= have+2 {
		return true, true
	}
	return now-since >= t.slowMs && (have < 0 || theirs >= have), true
}

// victimBatch is how many eviction candidates one scan keeps.
const victimBatch = 64

// victimLocked returns the oldest connection a new connection whose
// client holds have connections (-1: unknown) may replace, or nil. It
// runs under mu. Candidates come from a batch of the oldest connections
// not being acted on, rescanned when the batch is used up, when a victim
// was taken from it, or at the next tick of the tracker clock.
func (t *tracker) victimLocked(have int) *coarseConn {
	now := t.clock.Load()
	for pass := 0; pass < 2; pass++ {
		for i := len(t.victims) - 1; i >= 0; i-- {
			v := t.victims[i]
			ok, candidate := t.replaceable(v, have, now)
			if !candidate || ok {
				t.victims = slices.Delete(t.victims, i, i+1)
			}
			if ok {
				t.taken++
				return v
			}
		}
		if pass == 1 || (t.scannedAt == now && t.taken == 0) {
			// Nothing in the batch will do, and nothing changed since
			// it was made that a scan would see.
			break
		}
		cand := t.victims[:0]
		for c := range t.conns {
			if _, candidate := t.replaceable(c, -1, now); candidate {
				cand = append(cand, c)
			}
		}
		slices.SortFunc(cand, func(a, b *coarseConn) int {
			return cmp.Compare(a.stamp.Load()>>stateBits, b.stamp.Load()>>stateBits)
		})
		clear(cand[min(len(cand), victimBatch):])
		cand = cand[:min(len(cand), victimBatch)]
		slices.Reverse(cand) // oldest last
		t.victims, t.scannedAt, t.taken = cand, now, 0
	}
	return nil
}

// dropLocked unregisters c and reports whether it did (c was not closed
// yet); the caller then closes c.Conn. It runs under mu.
func (t *tracker) dropLocked(c *coarseConn) bool {
	if !c.closed.CompareAndSwap(false, true) {
		return false
	}
	t.forgetLocked(c)
	return true
}

func (t *tracker) forgetLocked(c *coarseConn) {
	if _, ok := t.conns[c]; !ok {
		return
	}
	delete(t.conns, c)
	if t.clients[c.key]--; t.clients[c.key] <= 0 {
		delete(t.clients, c.key)
	}
	t.open.Add(-1)
}

// rejectResponse is what a plain-HTTP connection over a limit is told
// before it is closed: 503 is retried, with backoff, by every AWS SDK.
var rejectResponse = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/x-amz-json-1.1\r\n" +
	"X-Amzn-Errortype: ServiceUnavailableException\r\nConnection: close\r\nContent-Length: 95\r\n\r\n" +
	`{"__type":"ServiceUnavailableException","message":"The server has too many open connections."}`)

// reject closes a connection over a limit at once. Over plain HTTP it
// first gets a 503; a TLS connection is just closed (writing would need a
// handshake, which could stall the accept loop).
func (t *tracker) reject(c net.Conn, why string, args ...any) {
	t.rejected.Add(1)
	if !t.tls {
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		c.Write(rejectResponse)
	}
	c.Close()
	t.logf("reject", "refused a connection over "+why, args...)
}

// logf logs an event of kind at most once per 10 s, counting the ones it
// leaves out.
func (t *tracker) logf(kind, msg string, args ...any) {
	now := time.Now()
	t.logMu.Lock()
	if now.Sub(t.lastLog[kind]) < 10*time.Second {
		t.suppressed[kind]++
		t.logMu.Unlock()
		return
	}
	n := t.suppressed[kind]
	t.lastLog[kind], t.suppressed[kind] = now, 0
	t.logMu.Unlock()
	if n > 0 {
		args = append(args, "alsoSinceLastLog", n)
	}
	t.log.Warn(msg, args...)
}

// reap closes connections that have taken longer than ReadTimeout to
// deliver a request, and keeps clock. It stops when the listener closes.
func (t *tracker) reap() {
	const tick = 250 * time.Millisecond
	tk := time.NewTicker(tick)
	defer tk.Stop()
	var lastScan time.Time
	for {
		select {
		case <-t.done:
			return
		case now := <-tk.C:
			t.clock.Store(now.UnixMilli())
			if now.Sub(lastScan) < time.Second {
				continue
			}
			lastScan = now
			t.closeSlow(now.UnixMilli())
		}
	}
}

// closeSlow closes the connections that are new or reading a request and
// have been so for longer than ReadTimeout as of now (Unix milliseconds).
func (t *tracker) closeSlow(now int64) {
	limit := t.limits.ReadTimeout.Milliseconds()
	var slow []*coarseConn
	t.mu.Lock()
	for c := range t.conns {
		if s, since := c.load(); (s == connNew || s == connReading) && now-since > limit && t.dropLocked(c) {
			slow = append(slow, c)
		}
	}
	t.mu.Unlock()
	for _, c := range slow {
		t.timedOut.Add(1)
		c.Conn.Close()
	}
	if len(slow) > 0 {
		t.logf("timeout", "closed connections that did not deliver a request in time", "count", len(slow), "readTimeout", t.limits.ReadTimeout.String())
	}
}

// use counts one more listener using t; it is false if t is closed.
func (t *tracker) use() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.users++
	return true
}

// release counts a listener that no longer uses t; the last one closes
// it.
func (t *tracker) release() {
	t.mu.Lock()
	t.users--
	last := t.users <= 0 && !t.closed
	if last {
		t.closed = true
	}
	t.mu.Unlock()
	if last {
		close(t.done)
	}
}

// connState follows fasthttp's view of each connection: a request's first
// byte (StateActive) starts its read clock, the end of its response
// (StateIdle) starts the keep-alive wait.
func (s *Server) connState(c net.Conn, st fasthttp.ConnState) {
	cc := trackedConn(c)
	if cc == nil {
		return
	}
	switch st {
	case fasthttp.StateActive:
		cc.setState(connReading)
	case fasthttp.StateIdle:
		cc.setState(connIdle)
	}
}

// trackedConn returns the coarseConn under c (a coarseConn, or a TLS
// connection over one), or nil.
func trackedConn(c net.Conn) *coarseConn {
	switch c := c.(type) {
	case *coarseConn:
		return c
	case *tls.Conn:
		cc, _ := c.NetConn().(*coarseConn)
		return cc
	}
	return nil
}

func (c *coarseConn) setState(s int64) {
	if c.t == nil {
		return
	}
	c.stamp.Store(c.t.clock.Load()<<stateBits | s)
}

// load returns c's state and when it began (tracker clock).
func (c *coarseConn) load() (state, since int64) {
	v := c.stamp.Load()
	return v & (1<<stateBits - 1), v >> stateBits
}

// Close unregisters c and closes it. After an error answered before the
// request body was read (lingerOnClose), it first half-closes and drains
// what the client is still sending, for a bounded time and size, so that
// the client reads the answer instead of a connection reset.
func (c *coarseConn) Close() error {
	if c.t != nil && c.closed.CompareAndSwap(false, true) {
		if c.lingerOnClose.Load() {
			c.linger()
		}
		c.t.mu.Lock()
		c.t.forgetLocked(c)
		c.t.mu.Unlock()
	}
	return c.Conn.Close()
}

// Bounds of a lingering close.
const (
	lingerTime  = time.Second
	lingerBytes = 4 << 20
)

func (c *coarseConn) linger() {
	type closeWriter interface{ CloseWrite() error }
	cw, ok := c.Conn.(closeWriter)
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
	var buf [4096]byte
	for n := 0; n < lingerBytes; {
		k, err := c.Conn.Read(buf[:])
		n += k
		if err != nil {
			return
		}
	}
}

// ConnStats are a Server's connection counters.
type ConnStats struct {
	// Open is the number of client connections open now.
	Open int64
	// Accepted counts connections admitted.
	Accepted uint64
	// AcceptErrors counts failed accepts (retried).
	AcceptErrors uint64
	// Rejected counts connections refused over a limit.
	Rejected uint64
	// Evicted counts idle connections closed to admit new ones.
	Evicted uint64
	// TimedOut counts connections closed for not delivering a request
	// within the read timeout.
	TimedOut uint64
}

func (t *tracker) stats() ConnStats {
	return ConnStats{Open: t.open.Load(), Accepted: t.accepted.Load(), AcceptErrors: t.acceptErrors.Load(),
		Rejected: t.rejected.Load(), Evicted: t.evicted.Load(), TimedOut: t.timedOut.Load()}
}

// Bounds of the default connection limit.
const (
	// MinFileReserve is the least number of file descriptors kept out of
	// the default connection limit, for the store, the audit trail, an
	// HSM module and the process itself.
	MinFileReserve = 128
	// MaxDefaultConns caps the default connection limit: each connection
	// also costs memory (about 30 KiB of buffers and a goroutine).
	MaxDefaultConns = 16384
)

// DefaultMaxConns is the connection limit for a process that may open
// nofile files: nofile less a reserve of an eighth of it (at least
// MinFileReserve), at most MaxDefaultConns and at least 16; 0 (no limit)
// when nofile is unknown (0).
func DefaultMaxConns(nofile uint64) int {
	if nofile == 0 {
		return 0
	}
	reserve := max(nofile/8, MinFileReserve)
	if nofile < reserve+16 {
		return 16
	}
	return int(min(nofile-reserve, MaxDefaultConns))
}

// ConnLimits turns the configured limits into the server's, deriving the
// connection limits from the file descriptor limit nofile where they are
// not set; a negative setting means no limit.
func ConnLimits(l config.LimitsFile, nofile uint64) Limits {
	out := Limits{MaxConns: l.MaxConnections, MaxConnsPerClient: l.MaxConnectionsPerClient,
		ReadTimeout: l.ReadTimeout, IdleTimeout: l.IdleTimeout}
	if out.MaxConns == 0 {
		out.MaxConns = DefaultMaxConns(nofile)
	}
	if out.MaxConnsPerClient == 0 && out.MaxConns > 0 {
		out.MaxConnsPerClient = max(out.MaxConns/4, 1)
	}
	out.MaxConns = max(out.MaxConns, 0)
	out.MaxConnsPerClient = max(out.MaxConnsPerClient, 0)
	return out
}
