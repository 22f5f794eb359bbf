package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/postgres/pgtest"
	"github.com/trentkms/trent/internal/store/storetest"
)

const urlEnv = pgtest.URLEnv

// baseURL returns the test database URL, or skips (fails, in the full run)
// the test.
func baseURL(t testing.TB) string { t.Helper(); return pgtest.BaseURL(t) }

// freshSchema creates an empty schema, dropped when the test ends, and
// returns a URL whose search_path selects it.
func freshSchema(t testing.TB) string { t.Helper(); return pgtest.FreshSchema(t, "") }

func withParam(t testing.TB, raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", urlEnv, err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, u string, opt Options) *Store {
	t.Helper()
	s, err := OpenOptions(context.Background(), u, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	baseURL(t)
	storetest.Run(t, func(t *testing.T) (store.Store, storetest.Reopen) {
		u := freshSchema(t)
		return open(t, u, Options{}), func(t *testing.T) store.Store { return open(t, u, Options{}) }
	})
}

func TestOpen(t *testing.T) {
	baseURL(t)
	t.Run("ok/concurrent-migration", func(t *testing.T) {
		u := freshSchema(t)
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(context.Background(), u)
				if err == nil {
					s.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Open %d: %v", i, err)
			}
		}
	})
	t.Run("fail/newer-schema", func(t *testing.T) {
		u := freshSchema(t)
		s := open(t, u, Options{})
		if _, err := s.pool.Exec(context.Background(), `UPDATE schema_version SET version = version + 1`); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if s, err := Open(context.Background(), u); !errors.Is(err, errNewerSchema) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("Open = %v; want errNewerSchema", err)
		}
	})
	t.Run("fail/unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		start := time.Now()
		s, err := Open(context.Background(), "postgres://postgres:hunter2secret@"+addr+"/trent?sslmode=disable")
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Open = %v; want ErrUnavailable", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Open took %v to fail", d)
		}
		if s := err.Error(); contains(s, "hunter2secret") {
			t.Fatalf("error reveals the password: %s", s)
		}
	})
	t.Run("fail/bad-url", func(t *testing.T) {
		_, err := Open(context.Background(), "postgres://u:hunter2secret@[::1/x")
		if err == nil || contains(err.Error(), "hunter2secret") {
			t.Fatalf("Open(bad URL) = %v; want an error without the password", err)
		}
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func waitSignal(t *testing.T, ch <-chan struct{}, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-ch:
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("no notification within %v", within)
		return 0
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestNotify(t *testing.T) {
	u := freshSchema(t)
	a := open(t, u, Options{})
	defer a.Close()
	b := open(t, withParam(t, u, "application_name", "trent-b"), Options{})
	defer b.Close()
	other := open(t, freshSchema(t), Options{})
	defer other.Close()
	ctx := context.Background()
	time.Sleep(300 * time.Millisecond) // let the listeners connect
	drain(b.Notify())
	drain(other.Notify())
	t.Run("ok/other-node", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if err := a.Apply(ctx, store.Op{Kind: "k", ID: strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
			d := waitSignal(t, b.Notify(), 5*time.Second)
			t.Logf("notification after %v", d)
		}
	})
	t.Run("ok/other-schema-silent", func(t *testing.T) {
		select {
		case <-other.Notify():
			t.Fatal("a store on another schema was notified")
		case <-time.After(200 * time.Millisecond):
		}
	})
	t.Run("ok/failed-apply-silent", func(t *testing.T) {
		drain(b.Notify())
		err := a.Apply(ctx, store.Op{Kind: "k", ID: "0", Create: true})
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("Apply = %v; want ErrExists", err)
		}
		select {
		case <-b.Notify():
			t.Fatal("notified of a failed Apply")
		case <-time.After(200 * time.Millisecond):
		}
	})
	t.Run("ok/after-terminate", func(t *testing.T) {
		// Kill every connection of store b, the listener's included; b
		// must recover on its own.
		admin := open(t, u, Options{})
		defer admin.Close()
		if _, err := b.Get(ctx, "k", "0"); err != nil {
			t.Fatal(err)
		}
		var n int
		err := admin.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&n)
		if err != nil || n == 0 {
			t.Fatalf("terminated %d listeners, %v", n, err)
		}
		if _, err := admin.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE pid <> pg_backend_pid() AND datname = current_database() AND application_name = 'trent-b'`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		drain(b.Notify())
		if err := a.Apply(ctx, store.Op{Kind: "k", ID: "after"}); err != nil {
			t.Fatal(err)
		}
		waitSignal(t, b.Notify(), 5*time.Second)
		if _, err := b.Get(ctx, "k", "after"); err != nil {
			t.Fatalf("Get after terminate: %v", err)
		}
	})
}

// proxy is a TCP forwarder that can take the database "down" (refusing and
// cutting connections) and bring it back on the same address.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	l      net.Listener
	conns  map[net.Conn]bool
	stall  atomic.Bool // accept connections but never answer
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	p.up()
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up() {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.l, p.addr = l, l.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *proxy) serve(c net.Conn) {
	if p.stall.Load() {
		p.mu.Lock()
		p.conns[c] = true
		p.mu.Unlock()
		io.Copy(io.Discard, c)
		return
	}
	d, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[d] = true, true
	p.mu.Unlock()
	go func() { io.Copy(d, c); d.Close() }()
	io.Copy(c, d)
	c.Close()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// TestOutage takes the database away behind a proxy: calls must fail fast
// with ErrUnavailable, then succeed again once it is back, on the same Store.
func TestOutage(t *testing.T) {
	u := freshSchema(t)
	pu, _ := url.Parse(u)
	p := newProxy(t, pu.Host)
	pu.Host = p.addr
	s := open(t, pu.String(), Options{Timeout: 2 * time.Second, ConnectTimeout: time.Second})
	defer s.Close()
	direct := open(t, u, Options{})
	defer direct.Close()
	ctx := context.Background()
	if err := s.Apply(ctx, store.Op{Kind: "k", ID: "before", Data: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	p.down()
	calls := []struct {
		name string
		call func() error
	}{
		{"fail/get", func() error { _, err := s.Get(ctx, "k", "before"); return err }},
		{"fail/list", func() error { _, err := s.List(ctx, "k", "", "", 0); return err }},
		{"fail/apply", func() error { return s.Apply(ctx, store.Op{Kind: "k", ID: "during"}) }},
		{"fail/changes", func() error { _, err := s.Changes(ctx, 0, 0); return err }},
		{"fail/last-seq", func() error { _, err := s.LastSeq(ctx); return err }},
		{"fail/try-lease", func() error { _, err := s.TryLease(ctx, "l", "h", time.Minute); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			err := c.call()
			d := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("err = %v; want ErrUnavailable", err)
			}
			if d > 3*time.Second {
				t.Fatalf("took %v to fail; want under the 2 s timeout plus slack", d)
			}
			t.Logf("failed in %v: %v", d.Round(time.Millisecond), err)
		})
	}
	t.Run("fail/caller-deadline", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := s.Get(c, "k", "before")
		if err == nil || time.Since(start) > 2*time.Second {
			t.Fatalf("Get = %v after %v; want an error within the caller's deadline", err, time.Since(start))
		}
	})
	t.Run("fail/stalled-times-out", func(t *testing.T) {
		// A server that accepts but never answers: the default timeout
		// (2 s here) must end the call.
		p.stall.Store(true)
		p.up()
		defer func() { p.down(); p.stall.Store(false) }()
		start := time.Now()
		_, err := s.Get(ctx, "k", "before")
		d := time.Since(start)
		if !errors.Is(err, store.ErrUnavailable) || d > 4*time.Second {
			t.Fatalf("Get = %v after %v; want ErrUnavailable within about 2 s", err, d)
		}
		t.Logf("failed in %v: %v", d.Round(time.Millisecond), err)
	})
	drain(s.Notify())
	p.up()
	t.Run("ok/recovers", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		var err error
		for time.Now().Before(deadline) {
			if _, err = s.Get(ctx, "k", "before"); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("Get still failing after the database came back: %v", err)
		}
		if err := s.Apply(ctx, store.Op{Kind: "k", ID: "after", Data: []byte("2")}); err != nil {
			t.Fatalf("Apply after recovery: %v", err)
		}
	})
	t.Run("ok/listener-recovers", func(t *testing.T) {
		// The reconnect itself signals; then a change signals again.
		waitSignal(t, s.Notify(), 10*time.Second)
		drain(s.Notify())
		if err := direct.Apply(ctx, store.Op{Kind: "k", ID: "from-direct"}); err != nil {
			t.Fatal(err)
		}
		waitSignal(t, s.Notify(), 5*time.Second)
	})
}

func TestPrune(t *testing.T) {
	s := open(t, freshSchema(t), Options{FeedKeep: 10})
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		if err := s.Apply(ctx, store.Op{Kind: "k", ID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	last, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(ctx); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	tests := []struct {
		name    string
		since   int64
		wantErr error
		want    int
	}{
		{"fail/before-mark", last - 11, store.ErrFeedTruncated, 0},
		{"fail/zero", 0, store.ErrFeedTruncated, 0},
		{"ok/at-mark", last - 10, nil, 10},
		{"ok/tail", last - 3, nil, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := s.Changes(ctx, tc.since, 0)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Changes(%d) = %d, %v; want %v", tc.since, len(cs), err, tc.wantErr)
				}
				return
			}
			if err != nil || len(cs) != tc.want {
				t.Fatalf("Changes(%d) = %d, %v; want %d", tc.since, len(cs), err, tc.want)
			}
		})
	}
	if got, err := s.LastSeq(ctx); err != nil || got != last {
		t.Fatalf("LastSeq after prune = %d, %v; want %d", got, err, last)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		return open(b, freshSchema(b), Options{MaxConns: 64})
	})
}
