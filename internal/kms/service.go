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

	"github.com/trentkms/trent/internal/arn"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/keyring"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/quota"
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
	// CacheMaxAge and CacheGrace configure the keyring (see package keyring).
	CacheMaxAge time.Duration
	CacheGrace  time.Duration
	// EnableSM2 serves SM2 keys outside China Regions.
	EnableSM2 bool
	// Quotas are the node's quotas (nil: AWS's resource quotas, no rate
	// quotas, and the accounts' settings in the store).
	Quotas *quota.Table
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
	enableSM2 bool

	keys    *keyring.Ring[*Key]
	aliases *keyring.Ring[string]
	// keyAliases caches the alias names of keys (aliasindex.go).
	keyAliases *keyring.Ring[[]string]

	cacheMaxAge time.Duration
	cacheGrace  time.Duration

	authz  Authorizer
	grants Grants // the grant half of authorization (concerns.go)

	// locks queue this node's writers of one record (store.Update); the
	// lock names are built by the lock* functions.
	locks store.Locks

	keyStores KeyStores // the cryptography of keys in custom key stores (concerns.go)

	// managed is the AWS managed key concern (awsmanaged.go); nil: none.
	managed     ManagedKeys
	replication Replication // multi-Region keys (multiregion.go); nil: none

	// The concerns' hooks (concerns.go).
	keyRecords  []KeyRecords
	jobHandlers map[string]JobHandler

	// The invalidation hooks of caches outside the Service (coherence.go).
	hookMu       sync.RWMutex
	invalidators map[string][]func(id string)
	purgers      []func()

	quotas *quota.Table // resource and rate quotas (quota.go)
}

// New returns a Service. It runs no background work of its own: the change
// feed that keeps its caches coherent and the scheduler of its jobs are
// package job's.
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
	s := &Service{
		store: cfg.Store, root: cfg.Root, region: cfg.Region,
		partition: arn.PartitionOf(cfg.Region), now: cfg.Now, rand: cfg.Rand, log: cfg.Logger,
		enableSM2:   cfg.EnableSM2 || strings.HasPrefix(cfg.Region, "cn-"),
		cacheMaxAge: cfg.CacheMaxAge, cacheGrace: cfg.CacheGrace, grants: noGrants{}, keyStores: noKeyStores{},
	}
	unavailable := func(err error) bool { return errors.Is(err, store.ErrUnavailable) }
	s.keys = keyring.New(s.loadKey, keyring.Options{MaxAge: cfg.CacheMaxAge, Grace: cfg.CacheGrace, Now: cfg.Now, Unavailable: unavailable})
	s.aliases = keyring.New(s.loadAlias, keyring.Options{MaxAge: cfg.CacheMaxAge, Grace: cfg.CacheGrace, Now: cfg.Now, Unavailable: unavailable})
	s.keyAliases = keyring.New(s.loadKeyAliases, keyring.Options{MaxAge: cfg.CacheMaxAge, Grace: cfg.CacheGrace, Now: cfg.Now, Unavailable: unavailable})
	s.authz = defaultAuthorizer{}
	if err := s.migrateAliasIndex(context.Background()); err != nil {
		return nil, fmt.Errorf("kms: index aliases by key: %w", err)
	}
	if err := s.initQuotas(cfg.Quotas); err != nil {
		return nil, err
	}
	return s, nil
}

// SetAuthorizer replaces the authorization engine.
func (s *Service) SetAuthorizer(a Authorizer) { s.authz = a }

// Region returns the Region this service serves.
func (s *Service) Region() string { return s.region }

// Partition returns the ARN partition (aws, aws-cn).
func (s *Service) Partition() string { return s.partition }

// What the concerns beside the core (grant, keyimport, keystore, job) build
// on: the one store, root key, clock, randomness and logger of the node,
// and the locks that queue its writers.

// Store returns the store.
func (s *Service) Store() store.Store { return s.store }

// Root returns the root key provider that seals what the store holds.
func (s *Service) Root() rootkey.Provider { return s.root }

// Now returns the domain clock's time (Config.Now).
func (s *Service) Now() time.Time { return s.now() }

// Rand returns the randomness source (Config.Rand).
func (s *Service) Rand() io.Reader { return s.rand }

// Logger returns the logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// Locks returns the in-process locks that queue this node's writers of one
// record, or of one set of records that share a limit (store.Update). A
// lock's name starts with the record kind or set it protects, so that the
// names of different users never collide.
func (s *Service) Locks() *store.Locks { return &s.locks }

// SM2Enabled reports whether SM2 keys are served (China Regions, or
// Config.EnableSM2).
func (s *Service) SM2Enabled() bool { return s.enableSM2 }

// CacheMaxAge returns Config.CacheMaxAge, for the caches the concerns
// keep.
func (s *Service) CacheMaxAge() time.Duration { return s.cacheMaxAge }

// CacheGrace returns Config.CacheGrace, for the change feed's watchdog.
func (s *Service) CacheGrace() time.Duration { return s.cacheGrace }

// StoreErr turns a store failure into the error a client sees.
func (s *Service) StoreErr(ctx context.Context, err error) error {
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

// Key is a key as the hot path uses it: its document plus its
// materials unsealed. Immutable once built.
type Key struct {
	doc     *KeyDoc
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

// Doc returns the key's stored document. It is shared by every user of the
// cached key: callers must not modify it (UpdateKey changes a key).
func (lk *Key) Doc() *KeyDoc { return lk.doc }

// ARN returns the key's ARN.
func (lk *Key) ARN() string { return lk.arn }

// SealingKey returns the prepared sealing key of material mid of a
// SYMMETRIC_DEFAULT key, or nil if the key has no such material.
func (lk *Key) SealingKey(mid [32]byte) *ciphertext.Key { return lk.symKey(mid) }

// CurrentSealingKey returns the prepared sealing key of the current
// material of a SYMMETRIC_DEFAULT key, or nil if it has none.
func (lk *Key) CurrentSealingKey() *ciphertext.Key { return lk.symCurrent }

// symKey is a prepared sealing key and its raw material ID.
type symKey struct {
	mid [32]byte
	key *ciphertext.Key
}

// symKey returns the prepared sealing key of material mid, or nil.
func (lk *Key) symKey(mid [32]byte) *ciphertext.Key {
	for i := range lk.sym {
		if lk.sym[i].mid == mid {
			return lk.sym[i].key
		}
	}
	return nil
}

func (s *Service) loadKey(ctx context.Context, id string) (*Key, int64, error) {
	rec, err := s.store.Get(ctx, kindKey, id)
	if err != nil {
		return nil, 0, err
	}
	var d KeyDoc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, 0, fmt.Errorf("kms: decode key %s: %w", id, err)
	}
	lk, err := s.materialize(&d, rec.Version)
	return lk, rec.Version, err
}

func materialAAD(keyID, materialID string) []byte {
	return []byte("trent/key-material/v1\x00" + keyID + "\x00" + materialID)
}

func (s *Service) materialize(d *KeyDoc, version int64) (*Key, error) {
	lk := &Key{doc: d, version: version, arn: s.KeyARN(d.Account, d.ID)}
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
		if d.Spec != SymmetricDefault {
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
	if d.Spec != SymmetricDefault {
		lk.asym = &asymCache{}
	}
	return lk, nil
}

func (s *Service) SealMaterial(keyID, materialID string, material []byte) ([]byte, error) {
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

// UpdateKey applies fn to key id and commits the result with IfVersion.
// Writers of one key on this node queue (store.Update); a conflict with
// another node rereads the key and applies fn again, so fn must be a pure
// function of the document it is given. fn may return extra store
// operations to commit atomically with the key. It returns the key as
// written. A fn error is returned unchanged; if other writers keep the key
// busy past store.RetryBudget, the error wraps store.ErrContended.
func (s *Service) UpdateKey(ctx context.Context, id string, fn func(d *KeyDoc, version int64) ([]store.Op, error)) (*Key, error) {
	var lk *Key
	err := store.Update(ctx, &s.locks, []string{lockKey(id)}, func() error {
		rec, err := s.store.Get(ctx, kindKey, id)
		if err != nil {
			return err
		}
		var d KeyDoc
		if err := json.Unmarshal(rec.Data, &d); err != nil {
			return fmt.Errorf("kms: decode key %s: %w", id, err)
		}
		var before []byte
		var old KeyDoc
		if d.MultiRegion {
			before = sharedBytes(&d)
			_ = json.Unmarshal(rec.Data, &old)
		}
		extra, err := fn(&d, rec.Version)
		if err != nil {
			return err
		}
		if d.MultiRegion {
			extra = append(extra, s.replicationOps(before, &old, &d)...)
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

// GetKey returns the cached key, mapping not-found to AWS's message.
func (s *Service) GetKey(ctx context.Context, id string) (*Key, error) {
	lk, err := s.keys.Get(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, s.StoreErr(ctx, err)
	}
	return lk, nil
}

// CacheStats are the counters of the key cache: keys, aliases, and the
// aliases of each key.
type CacheStats struct {
	Keys, Aliases, KeyAliases keyring.Stats
}

// CacheStats returns the counters of the key cache, for metrics.
func (s *Service) CacheStats() CacheStats {
	return CacheStats{Keys: s.keys.Stats(), Aliases: s.aliases.Stats(), KeyAliases: s.keyAliases.Stats()}
}
