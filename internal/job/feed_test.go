package job_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
	"github.com/trentkms/trent/internal/wire"
)

// flakyStore is a real store whose connection can be cut, as a node cut off
// from a shared database sees it: every call fails with ErrUnavailable
// while down. truncate makes the next Changes report ErrFeedTruncated.
type flakyStore struct {
	store.Store
	down     atomic.Bool
	truncate atomic.Bool
	leases   atomic.Int32 // TryLease calls
}

func (f *flakyStore) err(op string) error {
	if f.down.Load() {
		return fmt.Errorf("flaky %s: %w", op, store.ErrUnavailable)
	}
	return nil
}

func (f *flakyStore) Get(ctx context.Context, kind, id string) (store.Record, error) {
	if err := f.err("get"); err != nil {
		return store.Record{}, err
	}
	return f.Store.Get(ctx, kind, id)
}

func (f *flakyStore) List(ctx context.Context, kind, prefix, after string, limit int) ([]store.Record, error) {
	if err := f.err("list"); err != nil {
		return nil, err
	}
	return f.Store.List(ctx, kind, prefix, after, limit)
}

func (f *flakyStore) Apply(ctx context.Context, ops ...store.Op) error {
	if err := f.err("apply"); err != nil {
		return err
	}
	return f.Store.Apply(ctx, ops...)
}

func (f *flakyStore) Changes(ctx context.Context, since int64, limit int) ([]store.Change, error) {
	if err := f.err("changes"); err != nil {
		return nil, err
	}
	if f.truncate.Swap(false) {
		return nil, store.ErrFeedTruncated
	}
	return f.Store.Changes(ctx, since, limit)
}

func (f *flakyStore) LastSeq(ctx context.Context) (int64, error) {
	if err := f.err("lastseq"); err != nil {
		return 0, err
	}
	return f.Store.LastSeq(ctx)
}

func (f *flakyStore) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	f.leases.Add(1)
	if err := f.err("lease"); err != nil {
		return false, err
	}
	return f.Store.TryLease(ctx, name, holder, ttl)
}

const cohPoll = 20 * time.Millisecond

// cluster is two Services ("nodes") on one SQLite database; node B reaches
// it through a flakyStore.
type cluster struct {
	a, b  *kmstest.Node
	flaky *flakyStore
	ctx   context.Context
}

func newCluster(t *testing.T, grace time.Duration) *cluster {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{flaky: &flakyStore{Store: st}}
	c.ctx = kms.WithCaller(context.Background(), &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", Type: "Root"})
	start := func(s store.Store, node string) *kmstest.Node {
		svc := kmstest.New(t, kmstest.Config{KMS: kms.Config{Store: s, Root: root, CacheMaxAge: time.Hour, CacheGrace: grace},
			Job: job.Config{NodeID: node, PollInterval: cohPoll}})
		svc.Jobs.Start()
		return svc
	}
	c.a = start(st, "a")
	c.b = start(c.flaky, "b")
	return c
}

func (c *cluster) createKey(t *testing.T) string {
	t.Helper()
	out, err := c.a.CreateKey(c.ctx, &wire.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyID
}

func (c *cluster) encrypt(svc *kmstest.Node, id string) error {
	_, err := svc.Encrypt(c.ctx, &wire.EncryptInput{KeyID: &id, Plaintext: []byte("x")})
	return err
}

func code(err error) string {
	if e := awserr.As(err); e != nil {
		return e.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// eventually polls cond until it holds or limit passes, and returns how
// long it took.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func TestCacheCoherence(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"ok/disable-through-one-node-refused-by-the-other", func(t *testing.T) {
			c := newCluster(t, 0)
			id := c.createKey(t)
			if err := c.encrypt(c.b, id); err != nil {
				t.Fatal(err)
			}
			if _, err := c.a.DisableKey(c.ctx, &wire.KeyIDInput{KeyID: &id}); err != nil {
				t.Fatal(err)
			}
			took := eventually(t, 5*time.Second, "B refuses the disabled key", func() bool {
				return code(c.encrypt(c.b, id)) == awserr.Disabled
			})
			t.Logf("propagated in %v", took)
		}},
		{"fail/outage-without-grace-refuses-cached-key", func(t *testing.T) {
			c := newCluster(t, 0)
			id := c.createKey(t)
			if err := c.encrypt(c.b, id); err != nil {
				t.Fatal(err)
			}
			c.flaky.down.Store(true)
			// staleAfter = 2 polls; the watchdog purges on its next tick.
			// The limit leaves room for a loaded 2-core machine under -race.
			eventually(t, 50*cohPoll, "B fails closed", func() bool {
				return code(c.encrypt(c.b, id)) == awserr.DependencyTimeout
			})
			if _, stale := c.b.Jobs.FeedStatus(); !stale {
				t.Fatal("FeedStatus does not report the outage")
			}
			c.flaky.down.Store(false)
			eventually(t, 5*time.Second, "B recovers without restart", func() bool { return c.encrypt(c.b, id) == nil })
			eventually(t, 5*time.Second, "feed confirmed again", func() bool { _, stale := c.b.Jobs.FeedStatus(); return !stale })
		}},
		{"ok/outage-within-grace-serves-cached-key", func(t *testing.T) {
			grace := 400 * time.Millisecond
			c := newCluster(t, grace)
			id := c.createKey(t)
			if err := c.encrypt(c.b, id); err != nil {
				t.Fatal(err)
			}
			c.flaky.down.Store(true)
			cut := time.Now()
			time.Sleep(grace / 2)
			if err := c.encrypt(c.b, id); err != nil {
				t.Fatalf("within grace: %v", err)
			}
			eventually(t, grace+50*cohPoll, "B fails after grace", func() bool {
				return code(c.encrypt(c.b, id)) == awserr.DependencyTimeout
			})
			if served := time.Since(cut); served < grace {
				t.Fatalf("stopped serving after %v, before the %v grace", served, grace)
			}
		}},
		{"ok/truncated-feed-purges-registered-caches", func(t *testing.T) {
			c := newCluster(t, 0)
			var purged atomic.Int32
			c.b.OnPurge(func() { purged.Add(1) })
			c.flaky.truncate.Store(true)
			eventually(t, 5*time.Second, "purge after truncation", func() bool { return purged.Load() > 0 })
			if _, stale := c.b.Jobs.FeedStatus(); stale {
				t.Fatal("feed reported stale after a successful truncation recovery")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t)
		})
	}
}
