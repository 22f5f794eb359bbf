package grant

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// Grants are store records of kind "grant" with ID keyID + "/" + grantID,
// so that a key's grants are one prefix scan and are deleted with the key.
// A second record kind indexes grants by retiring principal for
// ListRetirableGrants; index entries whose grant is gone are skipped. A
// third holds the number of a key's grants (grantcount), written in the
// same Apply as every grant created or deleted and conditioned on its
// version, so that the quota of grants per key holds under any
// concurrency.
//
// The hot path reads a key's grants from an in-memory cache indexed by
// grantee and operation (cache.go) that the change feed keeps
// current. A grant token names its key and grant, sealed by the root key,
// so a request that presents one is checked against the store itself: a
// new grant is usable at once on every node, before caches learn of it.

const (
	kindGrant      = "grant"
	kindGrantIndex = "grantret"
	kindGrantCount = "grantcount"
	grantTokenAAD  = "trent/grant-token/v1"
	maxTokenCache  = 4096
)

// grantDoc is the stored form of a grant.
type grantDoc struct {
	ID               string            `json:"id"`
	KeyID            string            `json:"keyId"`
	KeyAccount       string            `json:"keyAccount"`
	Name             string            `json:"name,omitempty"`
	Created          time.Time         `json:"created"`
	Grantee          string            `json:"grantee,omitempty"`
	GranteeService   string            `json:"granteeService,omitempty"`
	Retiring         string            `json:"retiring,omitempty"`
	RetiringService  string            `json:"retiringService,omitempty"`
	Operations       []string          `json:"operations"`
	Equals           map[string]string `json:"equals"`
	Subset           map[string]string `json:"subset"`
	SourceArn        string            `json:"sourceArn,omitempty"`
	IssuingAccount   string            `json:"issuingAccount"`
	CreatorPrincipal string            `json:"creator,omitempty"`
	ParentGrantID    string            `json:"parent,omitempty"`

	// GranteeID and RetiringID are the unique IDs Grantee and Retiring
	// were bound to when the grant was created (see bindGrantPrincipal);
	// empty for principals that are not bound (account roots, services)
	// and for grants created before principals were bound.
	GranteeID  string `json:"granteeId,omitempty"`
	RetiringID string `json:"retiringId,omitempty"`
}

// grant is a grant as the hot path uses it.
type grant struct {
	doc grantDoc
	pg  policy.Grant
}

// newGrant prepares a grant for the cache. The strings that many grants
// share (key, account, principals, the list of operations) are interned:
// a key can hold 50,000 grants, and each string decoded separately would be
// one more object for the garbage collector to mark, the one cost of a
// large grant set that grows with its size (BenchmarkDecryptGrants).
func newGrant(d grantDoc) *grant {
	for _, p := range []*string{&d.KeyID, &d.KeyAccount, &d.Grantee, &d.GranteeService, &d.Retiring,
		&d.RetiringService, &d.IssuingAccount, &d.CreatorPrincipal, &d.GranteeID, &d.RetiringID, &d.ParentGrantID} {
		if *p != "" {
			*p = unique.Make(*p).Value()
		}
	}
	d.Operations = internOperations(d.Operations)
	g := &grant{doc: d, pg: policy.Grant{Operations: d.Operations, EncryptionContextEquals: d.Equals, EncryptionContextSubset: d.Subset}}
	g.pg.GranteePrincipal, g.pg.GranteeID = d.Grantee, d.GranteeID
	if d.GranteeService != "" {
		g.pg.GranteePrincipal = d.GranteeService
	}
	return g
}

// operationLists holds one shared slice per distinct list of grant
// operations (there are few: the lists callers use); their slices are never
// modified.
var operationLists sync.Map // joined names -> []string

// internOperations returns the shared slice equal to ops.
func internOperations(ops []string) []string {
	if len(ops) == 0 {
		return ops
	}
	k := strings.Join(ops, ",")
	if v, ok := operationLists.Load(k); ok {
		return v.([]string)
	}
	v, _ := operationLists.LoadOrStore(k, slices.Clone(ops))
	return v.([]string)
}

func grantRecordID(keyID, grantID string) string { return keyID + "/" + grantID }

// grantsLock names the lock that queues this node's writers of the grants of
// key keyID (kms.Service.Locks).
func grantsLock(keyID string) string { return "grants/" + keyID }

func grantIndexID(retiring, keyID, grantID string) string {
	return retiring + " " + keyID + "/" + grantID
}

// Config configures a Service.
type Config struct {
	// PerKey lowers the quota of grants per key (the account's, from the
	// node's quotas: AWS's 50,000 unless set otherwise), for tests of the
	// quota that cannot afford that many grants. 0 (what every deployment
	// uses) means the account's quota.
	PerKey int
}

// grantLimit returns the quota of grants per key of account's keys.
func (s *Service) grantLimit(account string) int {
	limit := s.kms.QuotaResources(account).GrantsPerKey
	if s.perKey > 0 && s.perKey < limit {
		limit = s.perKey
	}
	return limit
}

// Service implements the grant operations of the AWS KMS API and the grant
// half of the core's authorization (kms.Grants).
type Service struct {
	kms    *kms.Service
	store  store.Store
	root   rootkey.Provider
	log    *slog.Logger
	perKey int

	cache *grantCache

	// tokens remembers verified grant tokens (openGrantToken).
	tokMu  sync.Mutex
	tokens map[string]grantTokenInfo
}

type grantTokenInfo struct{ keyID, grantID string }

// New returns the grant service of svc and registers it with svc: as the
// grant half of its authorization, as a keeper of records that go with a
// deleted key, and for the change feed's grant changes and purges.
func New(svc *kms.Service, cfg Config) *Service {
	if cfg.PerKey < 0 {
		cfg.PerKey = 0
	}
	s := &Service{kms: svc, store: svc.Store(), root: svc.Root(), log: svc.Logger(), perKey: cfg.PerKey}
	s.cache = &grantCache{s: s, maxAge: svc.CacheMaxAge(), sets: map[string]*grantEntry{}, loading: map[string]*grantLoad{}}
	svc.OnChange(kindGrant, s.onGrantChange)
	svc.OnPurge(s.cache.purge)
	svc.SetGrants(s)
	svc.AddKeyRecords(s)
	return s
}

// loadGrants reads all grants of a key from the store.
func (s *Service) loadGrants(ctx context.Context, keyID string) (*grantSet, error) {
	recs, err := s.store.List(ctx, kindGrant, keyID+"/", "", 0)
	if err != nil {
		return nil, err
	}
	set := newGrantSet(len(recs))
	for _, r := range recs {
		var d grantDoc
		if err := json.Unmarshal(r.Data, &d); err != nil {
			s.log.ErrorContext(ctx, "undecodable grant record", "id", r.ID)
			continue
		}
		set.insert(newGrant(d), true) // List returns them in ID order
	}
	return set, nil
}

// getGrant reads one grant from the store; it returns nil if there is none.
func (s *Service) getGrant(ctx context.Context, keyID, grantID string) (*grant, error) {
	rec, err := s.store.Get(ctx, kindGrant, grantRecordID(keyID, grantID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d grantDoc
	if err := json.Unmarshal(rec.Data, &d); err != nil {
		return nil, err
	}
	return newGrant(d), nil
}

// newGrantToken returns a fresh token for a grant: the key and grant IDs
// sealed by the root key (a new token on every call, all interchangeable).
func (s *Service) newGrantToken(keyID, grantID string) (string, error) {
	sealed, err := s.root.Seal([]byte(keyID+"\x00"+grantID), []byte(grantTokenAAD))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

func invalidGrantToken() error {
	return awserr.New(awserr.InvalidGrantToken, "Invalid grant token.")
}

// openGrantToken returns what a grant token names, or InvalidGrantToken.
// Verified tokens are remembered so that a client that sends the same
// token with every request costs one root-key operation.
func (s *Service) openGrantToken(tok string) (grantTokenInfo, error) {
	s.tokMu.Lock()
	info, ok := s.tokens[tok]
	s.tokMu.Unlock()
	if ok {
		return info, nil
	}
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return info, invalidGrantToken()
	}
	pt, err := s.root.Open(raw, []byte(grantTokenAAD))
	if err != nil {
		return info, invalidGrantToken()
	}
	keyID, grantID, ok := strings.Cut(string(pt), "\x00")
	if !ok || !kms.ValidKeyID(keyID) || !validGrantID(grantID) {
		return info, invalidGrantToken()
	}
	info = grantTokenInfo{keyID: keyID, grantID: grantID}
	s.tokMu.Lock()
	if s.tokens == nil || len(s.tokens) >= maxTokenCache {
		s.tokens = make(map[string]grantTokenInfo)
	}
	s.tokens[tok] = info
	s.tokMu.Unlock()
	return info, nil
}

// validGrantID reports whether s is a grant ID Trent could have issued.
func validGrantID(s string) bool { return kms.IsHexID(s) }

// grantOperations is the GrantOperation enum, in AWS's order.
var grantOperations = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	"ReEncryptFrom", "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey",
	"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac",
	"DeriveSharedSecret", "Encapsulate", "Decapsulate"}

var grantOperationSet = func() map[string]bool {
	m := make(map[string]bool, len(grantOperations))
	for _, o := range grantOperations {
		m[o] = true
	}
	return m
}()

// Allowing implements kms.Grants: the ID of a grant on lk that authorizes
// action for the caller, given the request's conditions (for
// encryption-context constraints) and grant tokens, or "". It returns
// InvalidGrantTokenException for a token Trent did not issue.
func (s *Service) Allowing(ctx context.Context, lk *kms.Key, action string, conds map[string][]string, tokens []string) (string, error) {
	g, err := s.findGrant(ctx, lk, action, conds, tokens, nil)
	if err != nil || g == nil {
		return "", err
	}
	return g.doc.ID, nil
}

// CheckTokens implements kms.Grants: InvalidGrantTokenException if any
// token is not one this service issued.
func (s *Service) CheckTokens(tokens []string) error {
	for _, t := range tokens {
		if _, err := s.openGrantToken(t); err != nil {
			return err
		}
	}
	return nil
}

// findGrant returns a grant of lk that lets the caller perform action, or
// nil. If accept is non-nil, a grant must also satisfy it.
func (s *Service) findGrant(ctx context.Context, lk *kms.Key, action string, conds map[string][]string, tokens []string, accept func(*grant) bool) (*grant, error) {
	var named []grantTokenInfo
	for _, t := range tokens {
		info, err := s.openGrantToken(t)
		if err != nil {
			return nil, err
		}
		if info.keyID == lk.Doc().ID {
			named = append(named, info)
		}
	}
	c := kms.CallerFrom(ctx)
	op, _ := strings.CutPrefix(action, "kms:")
	if c == nil || !grantOperationSet[op] {
		return nil, nil
	}
	set, err := s.cache.get(ctx, lk.Doc().ID)
	if err != nil {
		return nil, s.kms.StoreErr(ctx, err)
	}
	p := policy.Principal{ARN: c.ARN, Account: c.Account, Type: policy.PrincipalType(c.Type), RoleARN: c.RoleARN, UserID: c.PrincipalID}
	var ec map[string]string
	ecDone := false
	allows := func(g *grant) bool {
		if g.doc.SourceArn != "" && g.doc.SourceArn != c.SourceARN {
			// A grant constrained to a SourceArn holds only for the
			// resource it names, which only a service principal
			// states (kms.Caller.SourceARN, docs/services.md).
			return false
		}
		if !ecDone && (g.pg.EncryptionContextEquals != nil || g.pg.EncryptionContextSubset != nil) {
			ec, ecDone = contextFromConditions(conds), true
		}
		return g.pg.Allows(p, op, ec) && (accept == nil || accept(g))
	}
	if g := set.find(grantLookupKeys(p.ARN, p.RoleARN), op, allows); g != nil {
		return g, nil
	}
	// A token names a grant the cache may not know yet: read it from the
	// store, which every node shares.
	for _, info := range named {
		if set.has(info.grantID) {
			continue
		}
		g, err := s.getGrant(ctx, info.keyID, info.grantID)
		if err != nil {
			return nil, s.kms.StoreErr(ctx, err)
		}
		if g != nil && allows(g) {
			return g, nil
		}
	}
	return nil, nil
}

// contextFromConditions rebuilds the request's encryption context, keys as
// sent, from the kms:EncryptionContext* condition keys (kms.ContextConditions).
// Keys that collide under case folding share one ambiguous condition value;
// they are kept, with that marker as their value, so that a grant
// constraint sees the collision (policy.Grant.Allows) and refuses.
func contextFromConditions(conds map[string][]string) map[string]string {
	keys := conds["kms:encryptioncontextkeys"]
	ec := make(map[string]string, len(keys))
	for _, k := range keys {
		if v := conds["kms:encryptioncontext:"+strings.ToLower(k)]; len(v) == 1 {
			ec[k] = v[0]
		}
	}
	return ec
}

// KeyDeletionOps implements kms.KeyRecords: the grants of key keyID, their
// index entries and their count go with the key.
func (s *Service) KeyDeletionOps(ctx context.Context, keyID string) ([]store.Op, error) {
	var ops []store.Op
	// The grant count, conditioned on its version: a grant created
	// meanwhile makes the key's deletion conflict instead of outliving
	// its key.
	switch rec, err := s.store.Get(ctx, kindGrantCount, keyID); {
	case err == nil:
		ops = append(ops, store.Op{Kind: kindGrantCount, ID: keyID, Delete: true, IfVersion: rec.Version})
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	grants, err := s.store.List(ctx, kindGrant, keyID+"/", "", 0)
	if err != nil {
		return nil, err
	}
	for _, r := range grants {
		ops = append(ops, store.Op{Kind: kindGrant, ID: r.ID, Delete: true})
		var g grantDoc
		if json.Unmarshal(r.Data, &g) == nil {
			if ret := g.Retiring + g.RetiringService; ret != "" {
				ops = append(ops, store.Op{Kind: kindGrantIndex, ID: grantIndexID(ret, g.KeyID, g.ID), Delete: true})
			}
		}
	}
	return ops, nil
}
