package keyring

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Loader loads the current value for id. It returns the value and the store
// version it reflects. Errors are returned to the caller of Get unchanged,
// except that errors for which Ring.Unavailable reports true may be masked by
// a stale entry within the grace period.
type Loader[V any] func(ctx context.Context, id string) (V, int64, error)

// Ring is a concurrent read-through cache. The zero value is not usable; use
// New.
type Ring[V any] struct {
	load        Loader[V]
	maxAge      time.Duration
	grace       time.Duration
	now         func() time.Time
	unavailable func(error) bool

	mu      sync.RWMutex
	entries map[string]*entry[V]
	// epoch counts invalidations and purges (see PutAt).
	epoch atomic.Uint64

	flight sync.Map // id -> *call[V]

	// Counters for metrics (Stats): one atomic add per Get.
	hits, misses, loads, loadErrors atomic.Uint64
}

// Stats are a Ring's counters since New.
type Stats struct {
	// Entries is the number of entries cached now.
	Entries int
	// Hits counts Gets answered from the cache without loading; Misses
	// those that found no fresh entry.
	Hits, Misses uint64
	// Loads counts loads run (concurrent Gets of one ID share one), and
	// LoadErrors those that failed.
	Loads, LoadErrors uint64
}

// Stats returns the Ring's counters.
func (r *Ring[V]) Stats() Stats {
	return Stats{Entries: r.Len(), Hits: r.hits.Load(), Misses: r.misses.Load(),
		Loads: r.loads.Load(), LoadErrors: r.loadErrors.Load()}
}

type entry[V any] struct {
	v       V
	version int64
	loaded  time.Time
}

type call[V any] struct {
	done chan struct{}
	v    V
	ver  int64
	err  error
	// stale is set when the ID is invalidated while the load runs, so that
	// a load racing with a change does not cache what it read before it.
	stale atomic.Bool
}

// Options configure a Ring.
type Options struct {
	// MaxAge is how long an entry is served without reloading (default 30s).
	MaxAge time.Duration
	// Grace is how long past MaxAge a stale entry may still be served when
	// reloading fails with an unavailability error (default 0: fail closed).
	Grace time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Unavailable reports whether a load error means "backend down" rather
	// than a definite answer such as not-found.
	Unavailable func(error) bool
}

// New returns a Ring that loads missing entries with load.
func New[V any](load Loader[V], o Options) *Ring[V] {
	if o.MaxAge <= 0 {
		o.MaxAge = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Unavailable == nil {
		o.Unavailable = func(error) bool { return false }
	}
	return &Ring[V]{load: load, maxAge: o.MaxAge, grace: o.Grace, now: o.Now,
		unavailable: o.Unavailable, entries: make(map[string]*entry[V])}
}

// Get returns the value for id, loading it if it is missing or expired.
func (r *Ring[V]) Get(ctx context.Context, id string) (V, error) {
	r.mu.RLock()
	e := r.entries[id]
	r.mu.RUnlock()
	now := r.now()
	if e != nil && now.Sub(e.loaded) < r.maxAge {
		r.hits.Add(1)
		return e.v, nil
	}
	r.misses.Add(1)
	v, err := r.reload(ctx, id)
	if err != nil && e != nil && r.unavailable(err) && now.Sub(e.loaded) < r.maxAge+r.grace {
		return e.v, nil
	}
	return v, err
}

// reload loads id once even when many goroutines ask at the same time.
func (r *Ring[V]) reload(ctx context.Context, id string) (V, error) {
	c := &call[V]{done: make(chan struct{})}
	if prev, loaded := r.flight.LoadOrStore(id, c); loaded {
		p := prev.(*call[V])
		select {
		case <-p.done:
			return p.v, p.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	r.loads.Add(1)
	c.v, c.ver, c.err = r.load(ctx, id)
	if c.err != nil {
		r.loadErrors.Add(1)
	}
	if c.err == nil {
		r.mu.Lock()
		if !c.stale.Load() {
			r.entries[id] = &entry[V]{v: c.v, version: c.ver, loaded: r.now()}
		}
		r.mu.Unlock()
	}
	r.flight.Delete(id)
	close(c.done)
	return c.v, c.err
}

// Put stores v for id as loaded at version, unless a newer version is
// already cached. Writers call it after a successful store write so the node
// that made a change sees it at once.
func (r *Ring[V]) Put(id string, v V, version int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[id]; e != nil && e.version > version {
		return
	}
	r.entries[id] = &entry[V]{v: v, version: version, loaded: r.now()}
}

// Epoch returns the ring's count of invalidations and purges, for PutAt.
func (r *Ring[V]) Epoch() uint64 { return r.epoch.Load() }

// PutAt is Put for a writer that read Epoch before its store write: if
// any entry was invalidated or the ring purged since, the change feed may
// already have reported a newer write of id by another node, so v is not
// cached and id is dropped, for the next Get to load.
func (r *Ring[V]) PutAt(id string, v V, version int64, epoch uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.epoch.Load() != epoch {
		delete(r.entries, id)
		return
	}
	if e := r.entries[id]; e != nil && e.version > version {
		return
	}
	r.entries[id] = &entry[V]{v: v, version: version, loaded: r.now()}
}

// Invalidate drops id so the next Get reloads it. A load of id already
// under way is not cached.
func (r *Ring[V]) Invalidate(id string) {
	r.mu.Lock()
	r.epoch.Add(1)
	delete(r.entries, id)
	if c, ok := r.flight.Load(id); ok {
		c.(*call[V]).stale.Store(true)
	}
	r.mu.Unlock()
}

// Purge drops every entry (after the change feed was truncated). Loads
// under way are not cached.
func (r *Ring[V]) Purge() {
	r.mu.Lock()
	r.epoch.Add(1)
	clear(r.entries)
	r.flight.Range(func(_, c any) bool {
		c.(*call[V]).stale.Store(true)
		return true
	})
	r.mu.Unlock()
}

// Len returns the number of cached entries.
func (r *Ring[V]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.entries)
}

// Has reports whether id has an entry, fresh or not, without loading it.
func (r *Ring[V]) Has(id string) bool {
	r.mu.RLock()
	_, ok := r.entries[id]
	r.mu.RUnlock()
	return ok
}
