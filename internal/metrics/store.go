package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trentkms/trent/internal/store"
)

// storeErrors are the store errors named in trent_store_errors_total.
var storeErrors = []kindOf{
	{store.ErrNotFound, "not_found"}, {store.ErrExists, "exists"}, {store.ErrConflict, "conflict"},
	{store.ErrUnavailable, "unavailable"}, {store.ErrFeedTruncated, "feed_truncated"},
	{context.Canceled, "canceled"}, {context.DeadlineExceeded, "canceled"},
}

// Store returns st measured: the latency and errors of each call. It
// keeps st's optional capabilities (store.Notifier, store.Snapshotter).
// With a nil *Metrics it returns st itself.
func (m *Metrics) Store(st store.Store) store.Store {
	if m == nil {
		return st
	}
	t := &timedStore{Store: st}
	for i, name := range storeCalls {
		t.calls[i] = storeCall{duration: m.storeDuration.WithLabelValues(name), m: m, name: name}
	}
	if _, ok := st.(store.Snapshotter); ok {
		return &timedSnapshotStore{t}
	}
	return t
}

// The measured calls, indexes into timedStore.calls.
const (
	callGet = iota
	callList
	callApply
	callChanges
	callLastSeq
	callTryLease
	callReleaseLease
	callSnapshot
	numCalls
)

var storeCalls = [numCalls]string{"get", "list", "apply", "changes", "last_seq", "try_lease", "release_lease", "snapshot"}

type storeCall struct {
	duration prometheus.Observer
	m        *Metrics
	name     string
}

// done records a call that began at start and returned err.
func (c *storeCall) done(start time.Time, err error) {
	c.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.storeErrors.WithLabelValues(c.name, errorKind(err, storeErrors)).Inc()
	}
}

type timedStore struct {
	store.Store
	calls [numCalls]storeCall
}

func (t *timedStore) Get(ctx context.Context, kind, id string) (store.Record, error) {
	start := time.Now()
	r, err := t.Store.Get(ctx, kind, id)
	t.calls[callGet].done(start, err)
	return r, err
}

func (t *timedStore) List(ctx context.Context, kind, prefix, after string, limit int) ([]store.Record, error) {
	start := time.Now()
	r, err := t.Store.List(ctx, kind, prefix, after, limit)
	t.calls[callList].done(start, err)
	return r, err
}

func (t *timedStore) Apply(ctx context.Context, ops ...store.Op) error {
	start := time.Now()
	err := t.Store.Apply(ctx, ops...)
	t.calls[callApply].done(start, err)
	return err
}

func (t *timedStore) Changes(ctx context.Context, since int64, limit int) ([]store.Change, error) {
	start := time.Now()
	r, err := t.Store.Changes(ctx, since, limit)
	t.calls[callChanges].done(start, err)
	return r, err
}

func (t *timedStore) LastSeq(ctx context.Context) (int64, error) {
	start := time.Now()
	r, err := t.Store.LastSeq(ctx)
	t.calls[callLastSeq].done(start, err)
	return r, err
}

func (t *timedStore) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	start := time.Now()
	r, err := t.Store.TryLease(ctx, name, holder, ttl)
	t.calls[callTryLease].done(start, err)
	return r, err
}

func (t *timedStore) ReleaseLease(ctx context.Context, name, holder string) error {
	start := time.Now()
	err := t.Store.ReleaseLease(ctx, name, holder)
	t.calls[callReleaseLease].done(start, err)
	return err
}

// Notify implements store.Notifier: the inner store's channel, or nil (a
// channel that never fires: polling only) when it cannot push.
func (t *timedStore) Notify() <-chan struct{} {
	if n, ok := t.Store.(store.Notifier); ok {
		return n.Notify()
	}
	return nil
}

// Unwrap returns the measured store.
func (t *timedStore) Unwrap() store.Store { return t.Store }

type timedSnapshotStore struct{ *timedStore }

func (t *timedSnapshotStore) Snapshot(ctx context.Context, fn func(store.Record) error) (store.SnapshotInfo, error) {
	start := time.Now()
	r, err := t.Store.(store.Snapshotter).Snapshot(ctx, fn)
	// fn's own error is not the store's.
	t.calls[callSnapshot].done(start, err)
	return r, err
}
