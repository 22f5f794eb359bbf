package kms

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/keyring"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// Config configures a Service.
type Config struct {
	Store  store.Store
	Root   rootkey.Provider
	Region string
	// Now is the clock; tests control it. Default time.Now.
	Now func() time.Time
	// Rand is the randomness source for key material and ciphertexts.
	// Default crypto/rand.
	Rand   io.Reader
	Logger *slog.Logger
	// NodeID names this node for leases and the audit trail.
	NodeID string
	// CacheMaxAge and CacheGrace configure the keyring (see package keyring).
	CacheMaxAge time.Duration
	CacheGrace  time.Duration
	// PollInterval is how often the change feed is read when the store
	// cannot push notifications (default 250ms).
	PollInterval time.Duration
	// SchedulerInterval is how often due jobs are looked for (default 1s).
	SchedulerInterval time.Duration
	// EnableSM2 serves SM2 keys outside China Regions.
	EnableSM2 bool
	// Events receives service events (scheduled rotation, deletion, expiry)
	// for the audit trail. May be nil.
	Events func(ctx context.Context, ev ServiceEvent) error
	// EventsReady, if set, reports whether Events can record an event now
	// (nil) or not (the audit trail's volume is full, or the trail
	// failed). While it cannot, the scheduler runs no job: due jobs wait
	// and run once their events can be recorded, so that no scheduled
	// deletion, rotation or expiry happens unrecorded.
	EventsReady func() error
	// GrantsPerKey lowers AWS's quota of 50,000 grants per key, for tests
	// of the quota that cannot afford that many grants. 0 (what every
	// deployment uses) means AWS's quota.
	GrantsPerKey int
}

// ServiceEvent is an action Trent took on its own, for the audit trail.
type ServiceEvent struct {
	Name    string // RotateKey, DeleteKey, DeleteExpiredKeyMaterial
	Account string
	KeyARN  string
	KeyID   string
	Time    time.Time
}

// Service implements the AWS KMS API.
type Service struct {
	store     store.Store
	root      rootkey.Provider
	region    string
	partition string
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	nodeID    string
	enableSM2 bool
	events    func(ctx context.Context, ev ServiceEvent) error
	// eventsReady is Config.EventsReady (nil: always ready).
	eventsReady func() error

	keys    *keyring.Ring[*loadedKey]
	aliases *keyring.Ring[string]
	// keyAliases caches the alias names of keys (aliasindex.go).
	keyAliases *keyring.Ring[[]string]

	pollInterval  time.Duration
	schedInterval time.Duration
	cacheMaxAge   time.Duration
	grantsPerKey  int

	authz  Authorizer
	grants grantState // grant cache (grants.go)

	// locks queue this node's writers of one record (store.Update); the
	// lock names are built by the lock* functions.
	locks store.Locks

	cks customKeyStores // custom key store connections (customkeystore_conn.go)

	usage usageTracker

	invMu        sync.RWMutex
	invalidators map[string][]func(id string)

	stop     chan struct{}
	wg       sync.WaitGroup
	feedSeq  int64
	feedMu   sync.Mutex
	closeOne sync.Once

	feed feedHealth // change-feed confirmation (coherence.go)
}

// New returns a Service. Call Start to run its background work and Close
// to stop it.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Root == nil {
		return nil, errors.New("kms: store and root key provider are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheMaxAge <= 0 {
		// The change feed keeps caches coherent (and the feed watchdog
		// purges them when the feed cannot be read), so the age limit is
		// only a safety net; a short one would reload a large key set
		// continuously.
		cfg.CacheMaxAge = 5 * time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.SchedulerInterval <= 0 {
		cfg.SchedulerInterval = time.Second
	}
	if cfg.GrantsPerKey <= 0 || cfg.GrantsPerKey > maxGrantsPerKey {
		cfg.GrantsPerKey = maxGrantsPerKey
	}
	if cfg.NodeID == "" {
		cfg.NodeID = newMaterialID()[:12]
	}
	s := &Service{
		store: cfg.Store, root: cfg.Root, region: cfg.Region,
		partition: PartitionOf(cfg.Region), now: cfg.Now, rand: cfg.Rand,
		log: cfg.Logger, nodeID: cfg.NodeID, events: cfg.Events, eventsReady: cfg.EventsReady,
		enableSM2:    cfg.EnableSM2 || strings.HasPrefix(cfg.Region, "cn-"),
		pollInterval: cfg.PollInterval, schedInterval: cfg.SchedulerInterval,
		cacheMaxAge: cfg.CacheMaxAge, grantsPerKey: cfg.GrantsPerKey, stop: make(chan struct{}),
	}
	unavailable := func(err error) bool { return errors.Is(err, store.ErrUnavailable) }
	s.keys = keyring.New(s.loadKey, keyring.Options{MaxAge: cfg.CacheMaxAge, Grace: cfg.CacheGrace, Now: cfg.Now, Unavailable: unavailable})
	s.aliases = keyring.New(s.loadAlias, keyring.Options{MaxAge: cfg.CacheMaxAge, Grace: cfg.CacheGrace, Now: cfg.Now, Unavailable: unavailable})
	s.keyAliases = keyring.New(s.loadKeyAliases, keyring.Options{MaxAge: cfg.CacheMaxAge, Grace: cfg.CacheGrace, Now: cfg.Now, Unavailable: unavailable})
	s.authz = defaultAuthorizer{}
	if err := s.migrateAliasIndex(context.Background()); err != nil {
		return nil, fmt.Errorf("kms: index aliases by key: %w", err)
	}
	seq, err := s.store.LastSeq(context.Background())
	if err != nil {
		return nil, fmt.Errorf("kms: read change feed position: %w", err)
	}
	s.feedSeq = seq
	s.feed.staleAfter = 2*cfg.PollInterval + cfg.CacheGrace
	s.feed.lastSync.Store(cfg.Now().UnixNano())
	return s, nil
}

// OnChange registers fn to be called with the ID of every record of kind
// that the change feed reports changed, so that other components' caches
// (access keys, policies) stay coherent across nodes.
func (s *Service) OnChange(kind string, fn func(id string)) {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	if s.invalidators == nil {
		s.invalidators = map[string][]func(string){}
	}
	s.invalidators[kind] = append(s.invalidators[kind], fn)
}

// SetAuthorizer replaces the authorization engine.
func (s *Service) SetAuthorizer(a Authorizer) { s.authz = a }

// Region returns the Region this service serves.
func (s *Service) Region() string { return s.region }

// Partition returns the ARN partition (aws, aws-cn).
func (s *Service) Partition() string { return s.partition }

// Start runs the change-feed follower and the job scheduler until Close.
func (s *Service) Start() {
	s.wg.Add(3)
	go s.runUsageFlusher()
	go s.followChanges()
	go s.runScheduler()
	s.wg.Add(1)
	go s.watchFeed()
}

// Close stops background work. It does not close the store.
func (s *Service) Close() error {
	s.closeOne.Do(func() { close(s.stop) })
	s.wg.Wait()
	return nil
}

// PartitionOf returns the ARN partition of region: aws-cn for China
// Regions, aws-us-gov for GovCloud, aws otherwise.
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// storeErr turns a store failure into the error a client sees.
func (s *Service) storeErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if e := awserr.As(err); e != nil {
		return e
	}
	// A record kept busy by other writers past the retry budget gets the
	// same retryable answer as a slow database: AWS's clients retry it.
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrContended) || errors.Is(err, context.DeadlineExceeded) {
		return awserr.New(awserr.DependencyTimeout, "The system timed out while trying to fulfill the request.")
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	s.log.ErrorContext(ctx, "store failure", "err", err)
	return awserr.Internal()
}

// loadedKey is a key as the hot path uses it: its document plus its
// materials unsealed. Immutable once built.
type loadedKey struct {
	doc     *keyDoc
	version int64
	arn     string
	current string // current material ID, "" if none
	// material is the current material of a key that is not
	// SYMMETRIC_DEFAULT (parsed once, see asymCache); nil otherwise. The
	// material of a SYMMETRIC_DEFAULT key lives only inside its prepared
	// sealing keys.
	material []byte
	// sym holds the prepared sealing keys of a SYMMETRIC_DEFAULT key, one
	// per material version (rarely more than a few: a slice is smaller and
	// faster to search than a map, which matters with 100,000 keys cached);
	// symCurrent is the one new ciphertexts use.
	sym        []symKey
	symCurrent *ciphertext.Key
	// asym holds the parsed current material of a key that is not
	// SYMMETRIC_DEFAULT (see asym.go); nil otherwise.
	asym   *asymCache
	policy *policy.Policy // the key policy as the Authorizer prepared it
	// policyText keeps the interned policy text alive: keys with the same
	// policy (most keys of an account have the default one) share it.
	policyText unique.Handle[string]
}

// symKey is a prepared sealing key and its raw material ID.
type symKey struct {
	mid [32]byte
	key *ciphertext.Key
}

// symKey returns the prepared sealing key of material mid, or nil.
func (lk *loadedKey) symKey(mid [32]byte) *ciphertext.Key {
	for i := range lk.sym {
		if lk.sym[i].mid == mid {
			return lk.sym[i].key
		}
	}
	return nil
}

func (s *Service) loadKey(ctx context.Context, id string) (*loadedKey, int64, error) {
	rec, err := s.store.Get(ctx, kindKey, id)
	if err != nil {
		return nil, 0, err
	}
	var d keyDoc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, 0, fmt.Errorf("kms: decode key %s: %w", id, err)
	}
	lk, err := s.materialize(&d, rec.Version)
	return lk, rec.Version, err
}

func materialAAD(keyID, materialID string) []byte {
	return []byte("trent/key-material/v1\x00" + keyID + "\x00" + materialID)
}

func (s *Service) materialize(d *keyDoc, version int64) (*loadedKey, error) {
	lk := &loadedKey{doc: d, version: version, arn: s.keyARN(d.Account, d.ID)}
	lk.policyText = unique.Make(d.Policy)
	d.Policy = lk.policyText.Value()
	for _, m := range d.Materials {
		if m.Sealed == nil {
			continue
		}
		pt, err := s.root.Open(m.Sealed, materialAAD(d.ID, m.ID))
		if err != nil {
			return nil, fmt.Errorf("kms: unseal material of key %s: %w", d.ID, err)
		}
		if m.State == MaterialCurrent {
			lk.current = m.ID
		}
		if d.Spec != symmetricDefault {
			if m.State == MaterialCurrent {
				lk.material = pt
			} else {
				clear(pt)
			}
			continue
		}
		if len(pt) != 32 {
			clear(pt)
			continue
		}
		mid, err := ciphertext.ParseMaterialID(m.ID)
		if err != nil {
			return nil, fmt.Errorf("kms: key %s: %w", d.ID, err)
		}
		ck, err := ciphertext.NewKey(pt, d.ID, mid)
		clear(pt)
		if err != nil {
			return nil, fmt.Errorf("kms: key %s: %w", d.ID, err)
		}
		lk.sym = append(lk.sym, symKey{mid: mid, key: ck})
		if m.State == MaterialCurrent {
			lk.symCurrent = ck
		}
	}
	if s.authz != nil {
		lk.policy = s.authz.Prepare(d.Policy, d.PolicyPrincipals)
	}
	if d.Spec != symmetricDefault {
		lk.asym = &asymCache{}
	}
	return lk, nil
}

func (s *Service) sealMaterial(keyID, materialID string, material []byte) ([]byte, error) {
	return s.root.Seal(material, materialAAD(keyID, materialID))
}

func (s *Service) loadAlias(ctx context.Context, id string) (string, int64, error) {
	rec, err := s.store.Get(ctx, kindAlias, id)
	if err != nil {
		return "", 0, err
	}
	var a aliasDoc
	if err := json.Unmarshal(rec.Data, &a); err != nil {
		return "", 0, err
	}
	return a.KeyID, rec.Version, nil
}

// Names of the in-process locks (Service.locks) that queue the writers of
// one record, or of one set of records that share a limit.
func lockKey(id string) string        { return "key/" + id }
func lockAlias(recID string) string   { return "alias/" + recID }
func lockKeyAliases(id string) string { return "keyaliases/" + id }
func lockGrants(keyID string) string  { return "grants/" + keyID }

// updateKey applies fn to key id and commits the result with IfVersion.
// Writers of one key on this node queue (store.Update); a conflict with
// another node rereads the key and applies fn again, so fn must be a pure
// function of the document it is given. fn may return extra store
// operations to commit atomically with the key. It returns the key as
// written. A fn error is returned unchanged; if other writers keep the key
// busy past store.RetryBudget, the error wraps store.ErrContended.
func (s *Service) updateKey(ctx context.Context, id string, fn func(d *keyDoc, version int64) ([]store.Op, error)) (*loadedKey, error) {
	var lk *loadedKey
	err := store.Update(ctx, &s.locks, []string{lockKey(id)}, func() error {
		rec, err := s.store.Get(ctx, kindKey, id)
		if err != nil {
			return err
		}
		var d keyDoc
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return fmt.Errorf("kms: decode key %s: %w", id, err)
		}
		extra, err := fn(&d, rec.Version)
		if err != nil {
			return err
		}
		data, err := json.Marshal(&d)
		if err != nil {
			return err
		}
		ops := append([]store.Op{{Kind: kindKey, ID: id, Data: data, IfVersion: rec.Version}}, extra...)
		epoch := s.keys.Epoch()
		if err := s.store.Apply(ctx, ops...); err != nil {
			return err
		}
		if lk, err = s.materialize(&d, rec.Version+1); err != nil {
			return err
		}
		s.keys.PutAt(id, lk, rec.Version+1, epoch)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lk, nil
}

// followChanges keeps the caches coherent with writes made by other nodes.
func (s *Service) followChanges() {
	defer s.wg.Done()
	var notify <-chan struct{}
	if n, ok := s.store.(store.Notifier); ok {
		notify = n.Notify()
	}
	t := time.NewTicker(s.pollInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-notify:
		}
		s.SyncChanges(context.Background())
	}
}

// SyncChanges reads the change feed and invalidates cached entries that
// changed. It is called periodically; tests call it to avoid waiting.
func (s *Service) SyncChanges(ctx context.Context) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	for {
		start := s.now()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		changes, err := s.store.Changes(ctx, s.feedSeq, 1000)
		cancel()
		if errors.Is(err, store.ErrFeedTruncated) {
			// Position first, then purge: a change committed in between
			// is read again next time, never lost.
			seq, err := s.store.LastSeq(context.Background())
			if err == nil {
				s.feedSeq = seq
			}
			s.purgeCaches()
			if err == nil {
				s.feedConfirmed(start)
			}
			return
		}
		if err != nil {
			return
		}
		for _, c := range changes {
			switch c.Kind {
			case kindKey:
				s.keys.Invalidate(c.ID)
			case kindAlias:
				s.aliases.Invalidate(c.ID)
			case kindKeyAliases:
				s.keyAliases.Invalidate(c.ID)
			default:
				s.invMu.RLock()
				for _, fn := range s.invalidators[c.Kind] {
					fn(c.ID)
				}
				s.invMu.RUnlock()
			}
			s.feedSeq = c.Seq
		}
		if len(changes) < 1000 {
			s.feedConfirmed(start)
			return
		}
		s.feed.progress.Store(s.now().UnixNano())
	}
}

// getKey returns the cached key, mapping not-found to AWS's message.
func (s *Service) getKey(ctx context.Context, id string) (*loadedKey, error) {
	lk, err := s.keys.Get(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, s.storeErr(ctx, err)
	}
	return lk, nil
}
