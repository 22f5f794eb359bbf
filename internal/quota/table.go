package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/store"
)

// ErrThrottled is AWS KMS's answer to a request over a rate quota
// (ThrottlingException, HTTP 400; the SDKs retry it by its code).
var ErrThrottled = awserr.New(awserr.Throttling, "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")

// Config is a node's quota configuration.
type Config struct {
	// Resources are the default resource quotas; zero fields take AWS's.
	Resources Resources
	// Rates are the default rate quotas of every account (nil: none).
	Rates Rates
	// Nodes is the number of nodes sharing the accounts' traffic (cluster
	// mode): each node enforces 1/Nodes of every rate. 0 means 1.
	Nodes int
	// Now returns a monotonic time in nanoseconds (nil: the process's
	// monotonic clock). Tests set it.
	Now func() int64
}

// Table holds a node's quotas: the defaults, and each account's settings
// (store records of Kind, which `trent admin quotas` writes), and enforces
// the rate quotas with one token bucket per account and class.
//
// # Cost
//
// Allow is lock-free. With no rate quota anywhere (the default) it is one
// atomic load. Otherwise it is one sync.Map lookup of the account and one
// compare-and-swap on the class's bucket (a GCRA "theoretical arrival
// time"): no allocation after an account's first request.
//
// # Coherence
//
// Load reads every account's settings at start; the node's change-feed
// follower calls Reload for each changed record, and ReloadAll when its
// caches are purged, so a change made through any node (or `trent admin`
// on the store) takes effect on every node within the feed's delay,
// without restart. A reloaded account's buckets start full.
type Table struct {
	defRes   Resources
	defRates Rates
	share    float64
	now      func() int64
	st       store.Store
	log      *slog.Logger

	limiting atomic.Bool // some rate is limited: by default or for some account
	def      *account    // the defaults, for an account with no settings
	accounts sync.Map    // account ID -> *account (settings, or buckets under default rates)
	mu       sync.Mutex  // serializes reloads
	limited  map[string]bool
}

// account is one account's effective quotas and its rate buckets.
type account struct {
	res     Resources
	rates   Rates    // the effective rates, as configured (before the node's share)
	buckets []bucket // by class index; a zero interval is unlimited
	limited bool
}

// bucket is a GCRA token bucket: tat is the theoretical arrival time of
// the next request; a request is allowed if it would not push tat more
// than burst*interval past now.
type bucket struct {
	tat      atomic.Int64
	interval int64 // nanoseconds per request
	window   int64 // burst * interval
}

// take reports whether one request at now fits, and counts it if so.
func (b *bucket) take(now int64) bool {
	for {
		old := b.tat.Load()
		tat := max(old, now)
		next := tat + b.interval
		if next-now > b.window {
			return false
		}
		if b.tat.CompareAndSwap(old, next) {
			return true
		}
	}
}

// New returns the Table of a node with cfg over st (nil: defaults only).
func New(cfg Config, st store.Store, log *slog.Logger) *Table {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Table{defRes: AWSResources.over(cfg.Resources), defRates: cfg.Rates, share: 1, now: cfg.Now, st: st, log: log,
		limited: map[string]bool{}}
	if cfg.Nodes > 1 {
		t.share = 1 / float64(cfg.Nodes)
	}
	if t.now == nil {
		start := time.Now()
		t.now = func() int64 { return int64(time.Since(start)) }
	}
	t.def = t.build(nil)
	t.limiting.Store(t.def.limited)
	return t
}

// build returns the effective account state of settings q (nil: none).
func (t *Table) build(q *Quotas) *account {
	a := &account{res: t.defRes, buckets: make([]bucket, len(classIndex))}
	rates := t.defRates
	if q != nil {
		a.res = a.res.over(q.Resources)
		if len(q.Rates) > 0 {
			merged := Rates{}
			for k, v := range t.defRates {
				merged[k] = v
			}
			for k, v := range q.Rates {
				merged[k] = v
			}
			rates = merged
		}
	}
	a.rates = rates
	for name, r := range rates {
		i, ok := classIndex[name]
		if !ok || r <= 0 {
			continue
		}
		r *= t.share
		interval := int64(math.Ceil(float64(time.Second) / r))
		burst := max(1, math.Floor(r))
		a.buckets[i].interval = interval
		a.buckets[i].window = int64(burst) * interval
		a.limited = true
	}
	return a
}

// Load reads every account's settings from the store.
func (t *Table) Load(ctx context.Context) error {
	if t.st == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return store.EachIn(ctx, t.st, Kind, "", func(r store.Record) error {
		return t.set(r.ID, r.Data)
	})
}

// set installs the settings data of account id; t.mu is held.
func (t *Table) set(id string, data []byte) error {
	q, err := Parse(data)
	if err != nil {
		return fmt.Errorf("quotas of account %s: %w", id, err)
	}
	a := t.build(q)
	t.accounts.Store(id, a)
	if a.limited {
		t.limited[id] = true
	} else {
		delete(t.limited, id)
	}
	t.limiting.Store(t.def.limited || len(t.limited) > 0)
	return nil
}

// Reload rereads the settings of account id (the change feed reported its
// record changed). A read that fails keeps the current settings, logged.
func (t *Table) Reload(id string) {
	if t.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	rec, err := t.st.Get(ctx, Kind, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		t.accounts.Delete(id)
		delete(t.limited, id)
		t.limiting.Store(t.def.limited || len(t.limited) > 0)
	case err != nil:
		t.log.Warn("reload account quotas", "account", id, "err", err)
	default:
		if err := t.set(id, rec.Data); err != nil {
			t.log.Warn("reload account quotas", "account", id, "err", err)
		}
	}
}

// ReloadAll rereads every account's settings (the caches were purged).
func (t *Table) ReloadAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Load(ctx); err != nil {
		t.log.Warn("reload quotas", "err", err)
	}
}

// lookup returns the state of account id: its settings, or under default
// rates a state of its own (created on its first request), or the defaults.
func (t *Table) lookup(id string) *account {
	if v, ok := t.accounts.Load(id); ok {
		return v.(*account)
	}
	if !t.def.limited {
		return t.def
	}
	v, _ := t.accounts.LoadOrStore(id, t.build(nil))
	return v.(*account)
}

// Active reports whether any rate quota is in force on this node (by
// default or for some account); when not, Allow always allows.
func (t *Table) Active() bool { return t.limiting.Load() }

// Allow reports whether account may make one more request of class (an
// index from Class or SpecClass; -1 is never limited) now, and counts it.
func (t *Table) Allow(acct string, class int) bool {
	if class < 0 || !t.limiting.Load() {
		return true
	}
	b := &t.lookup(acct).buckets[class]
	if b.interval == 0 {
		return true
	}
	return b.take(t.now())
}

// AllowOperation applies the rate quota of operation op (a control-plane
// operation's own, or GenerateRandom's share of the symmetric quota) to
// account, as Allow. Operations whose quota depends on their key (the
// cryptographic operations) are not limited here: the core applies theirs
// once it has resolved the key (SpecClass).
func (t *Table) AllowOperation(acct, op string) bool {
	if !t.limiting.Load() {
		return true
	}
	class, ok := classIndex[op]
	if op == "GenerateRandom" {
		class, ok = idxSymmetric, true
	}
	if !ok || strings.HasPrefix(op, "GenerateDataKeyPair") {
		return true
	}
	return t.Allow(acct, class)
}

// Resources returns the effective resource quotas of account.
func (t *Table) Resources(acct string) Resources {
	if v, ok := t.accounts.Load(acct); ok {
		return v.(*account).res
	}
	return t.defRes
}

// Rates returns the effective rate quotas of account (requests per second
// across the cluster; a rate of 0 or less, or an absent class, is not
// limited).
func (t *Table) Rates(acct string) Rates {
	if v, ok := t.accounts.Load(acct); ok {
		return v.(*account).rates
	}
	return t.defRates
}

// Defaults returns the node's default resource quotas and rates.
func (t *Table) Defaults() (Resources, Rates) { return t.defRes, t.defRates }
