package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/logs"
)

type ctxKey struct{}

func TestDeadline(t *testing.T) {
	t.Parallel()
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	t.Run("ok/reports its deadline and its parent's values", func(t *testing.T) {
		var d Deadline
		at := time.Now().Add(time.Hour)
		d.init(parent, at, nil)
		defer d.release()
		if got, ok := d.Deadline(); !ok || !got.Equal(at) {
			t.Errorf("Deadline() = %v, %v; want %v", got, ok, at)
		}
		if d.Err() != nil || d.Value(ctxKey{}) != "v" {
			t.Errorf("Err() = %v, Value = %v", d.Err(), d.Value(ctxKey{}))
		}
		if d.built.Load() != nil {
			t.Error("a context was built before Done was called")
		}
	})
	t.Run("ok/an earlier parent deadline wins", func(t *testing.T) {
		p, cancel := context.WithDeadline(parent, time.Now().Add(time.Minute))
		defer cancel()
		var d Deadline
		d.init(p, time.Now().Add(time.Hour), nil)
		pd, _ := p.Deadline()
		if got, _ := d.Deadline(); !got.Equal(pd) {
			t.Errorf("Deadline() = %v, want the parent's %v", got, pd)
		}
	})
	t.Run("fail/past its deadline", func(t *testing.T) {
		var d Deadline
		d.init(parent, time.Now().Add(20*time.Millisecond), nil)
		defer d.release()
		select {
		case <-d.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed at the deadline")
		}
		if !errors.Is(d.Err(), context.DeadlineExceeded) {
			t.Errorf("Err() = %v", d.Err())
		}
		var e Deadline
		e.init(parent, time.Now().Add(-time.Second), nil)
		if !errors.Is(e.Err(), context.DeadlineExceeded) {
			t.Errorf("Err() without Done = %v", e.Err())
		}
	})
	t.Run("fail/parent cancelled", func(t *testing.T) {
		p, cancel := context.WithCancel(parent)
		var d Deadline
		d.init(p, time.Now().Add(time.Hour), nil)
		defer d.release()
		done := d.Done()
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed when the parent was cancelled")
		}
		if !errors.Is(d.Err(), context.Canceled) {
			t.Errorf("Err() = %v", d.Err())
		}
		var e Deadline
		e.init(p, time.Now().Add(time.Hour), nil)
		if !errors.Is(e.Err(), context.Canceled) {
			t.Errorf("Err() without Done = %v", e.Err())
		}
	})
	t.Run("ok/release ends a built context", func(t *testing.T) {
		var d Deadline
		d.init(parent, time.Now().Add(time.Hour), nil)
		done := d.Done()
		d.release()
		select {
		case <-done:
		default:
			t.Error("release left the built context running")
		}
	})
}

// An operation that never waits on Done pays no allocation for its
// deadline.
func TestDeadlineAllocs(t *testing.T) {
	var d Deadline
	parent := context.Background()
	n := testing.AllocsPerRun(100, func() {
		d = Deadline{}
		d.init(parent, time.Now().Add(time.Minute), nil)
		var ctx context.Context = &d
		_, _ = ctx.Deadline()
		_ = ctx.Err()
		_ = ctx.Value(ctxKey{})
		d.release()
	})
	if n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

func TestAccessKeyFromHeader(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host": "AKIDEXAMPLE",
		"AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/iam/aws4_request":                                "",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE":                                                         "",
		"": "",
	} {
		if got := AccessKeyFromHeader(h); got != want {
			t.Errorf("AccessKeyFromHeader(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestSourceIP(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"192.0.2.1:4599": "192.0.2.1", "[2001:db8::1]:4599": "2001:db8::1", "pipe": "pipe",
	} {
		if got := SourceIP(addr); got != want {
			t.Errorf("SourceIP(%q) = %q, want %q", addr, got, want)
		}
	}
}

// requestCtx is a request's context that must not be read once its request
// is over (a fasthttp RequestCtx is reused for the next request on the
// connection): it counts the values asked of it after over is set.
type requestCtx struct {
	context.Context
	over, late atomic.Int32
}

func (c *requestCtx) Value(key any) any {
	if c.over.Load() != 0 {
		c.late.Add(1)
	}
	return c.Context.Value(key)
}

// TestDeadlineNotReadAfterRelease: a context derived from the Deadline
// while the operation ran (a database query's, say) is cancelled when the
// Deadline is released, without anything reading the request's context
// afterwards. Before, the standard library's cancellation goroutine asked
// the request's context for its cause after the handler had returned: a
// data race with fasthttp's reuse of the request (go test -race).
func TestDeadlineNotReadAfterRelease(t *testing.T) {
	parent := &requestCtx{Context: context.Background()}
	var d Deadline
	d.init(parent, time.Now().Add(time.Hour), nil)
	child, cancel := context.WithCancel(&d)
	defer cancel()
	parent.over.Store(1)
	d.release()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the derived context was not cancelled with the Deadline")
	}
	time.Sleep(20 * time.Millisecond) // any goroutine left would read by now
	if n := parent.late.Load(); n != 0 {
		t.Fatalf("the request's context was read %d times after the request", n)
	}
	if d.Value("anything") != nil {
		t.Fatal("a released Deadline still carries values")
	}
}

// TestDeadlineCarriesRequestID: every line logged with the operation's
// context, or a context derived from it, names the request; before Done,
// after it, and after release (a line logged late still names it).
func TestDeadlineCarriesRequestID(t *testing.T) {
	var d Deadline
	id := "req-7"
	d.init(context.Background(), time.Now().Add(time.Hour), &id)
	if got := logs.RequestID(&d); got != "req-7" {
		t.Fatalf("before Done: %q", got)
	}
	child, cancel := context.WithTimeout(&d, time.Minute)
	defer cancel()
	_ = d.Done() // builds the context.WithDeadline
	if got := logs.RequestID(child); got != "req-7" {
		t.Fatalf("derived, after Done: %q", got)
	}
	d.release()
	if got := logs.RequestID(&d); got != "req-7" {
		t.Fatalf("after release: %q", got)
	}
}
