package pipeline

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/logs"
)

// Deadline is the context an operation runs in: its request's context
// with the operation's deadline (api.Operation.Deadline).
//
// context.WithDeadline costs three allocations and a runtime timer per
// request; most operations never wait on their context's Done channel (an
// Encrypt served from the key cache does not). A Deadline reports its
// deadline from Deadline and Err at no cost, and builds the
// context.WithDeadline only when Done is first called: what blocks (a
// database query, an external key store) then gets a channel closed at the
// deadline or when the request's context is cancelled. It lives in the
// Call, so it costs no allocation of its own.
type Deadline struct {
	parent   context.Context
	at       time.Time
	built    atomic.Pointer[built]
	released atomic.Bool
	// reqID points to the request's ID (Call.ReqID), the context's value
	// of logs.RequestIDKey: every line logged with the context names it.
	// A pointer, not a copy: a Call (and the codec's call embedding it)
	// is allocated per request, and 16 more bytes would move it to the
	// next size class.
	reqID *string
}

type built struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (d *Deadline) init(parent context.Context, at time.Time, reqID *string) {
	d.parent, d.at, d.reqID = parent, at, reqID
	if pd, ok := parent.Deadline(); ok && pd.Before(at) {
		d.at = pd
	}
}

// release frees the timer of a Done channel built for the operation. The
// request is over: from then on the Deadline carries no values, so that
// nothing reaches the request's context (a fasthttp RequestCtx, reused for
// the connection's next request) after its handler has returned.
func (d *Deadline) release() {
	if b := d.built.Load(); b != nil {
		d.released.Store(true)
		b.cancel()
	}
}

// passed reports whether the deadline has passed.
func (d *Deadline) passed() bool { return !d.at.IsZero() && !time.Now().Before(d.at) }

// Deadline implements context.Context.
func (d *Deadline) Deadline() (time.Time, bool) { return d.at, true }

// Done implements context.Context. Two first calls at once may both build
// a context.WithDeadline: one is kept, the other cancelled at once.
func (d *Deadline) Done() <-chan struct{} {
	if b := d.built.Load(); b != nil {
		return b.ctx.Done()
	}
	ctx, cancel := context.WithDeadline(d.parent, d.at)
	b := &built{ctx: ctx, cancel: cancel}
	if !d.built.CompareAndSwap(nil, b) {
		cancel()
		b = d.built.Load()
	}
	return b.ctx.Done()
}

// Err implements context.Context.
func (d *Deadline) Err() error {
	if b := d.built.Load(); b != nil {
		return b.ctx.Err()
	}
	if err := d.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(d.at) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value implements context.Context. Once Done has been built, the values
// are the built context's: a context derived from the Deadline then finds
// the built context as its parent to cancel (the standard library looks it
// up through Value), so it is cancelled with it directly, not by a goroutine
// that would read the request's context after the request (see release).
//
// The request's ID is the value of logs.RequestIDKey, before and after
// release: it is the Call's own string.
func (d *Deadline) Value(key any) any {
	if key == logs.RequestIDKey {
		if d.reqID == nil {
			return nil
		}
		return *d.reqID
	}
	if b := d.built.Load(); b != nil {
		if d.released.Load() {
			return nil
		}
		return b.ctx.Value(key)
	}
	return d.parent.Value(key)
}
