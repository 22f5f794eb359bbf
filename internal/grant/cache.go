package grant

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// # The grant cache
//
// A key may have 50,000 grants, and a principal allowed to create grants on
// a key can create that many, so nothing on the hot path may cost in
// proportion to them. Each node keeps the grants of the keys it serves in
// memory (grantCache), one grantSet per key, indexed by grantee and
// operation: a request that a grant may allow looks at the grants of its
// caller for its operation only.
//
// A set is loaded whole from the store once, then kept current in place:
// every grant this node creates or deletes is applied to it after the
// Apply, and every grant the change feed reports changed (by any node) is
// read again and applied. Grant IDs are never reused and grants are never
// modified, so a set needs only add and remove; a removed ID is remembered
// (a tombstone) until the next load, so that an add that arrives after the
// grant's removal (a slow writer, or a feed read that raced a delete) cannot
// bring it back. Changes reported while a set is being loaded are noted and
// read again once the load's listing is done, so a load racing with writes
// never caches what it read too early, and never has to start over.
//
// A set older than the service's CacheMaxAge is loaded again on its next
// use, as a safety net; the change feed watchdog purges every set when the
// feed cannot be read (OnPurge), like every other cache.

// grantSet is the cached grants of one key. Its methods are safe for
// concurrent use.
type grantSet struct {
	mu   sync.RWMutex
	byID map[string]*grant
	// byGrantee holds the grants that name a grantee principal
	// (grant.pg.GranteePrincipal), per grantee and operation, in grant ID
	// order. Allows can only be true for a caller whose ARN or role ARN
	// is the grantee (grantLookupKeys), so these are the only candidates.
	byGrantee map[granteeOp][]*grant
	byName    map[string][]*grant // named grants, for CreateGrant's idempotency
	gone      map[string]struct{} // tombstones of grants removed since the load
}

type granteeOp struct{ grantee, op string }

// maxTombstones bounds a set's tombstones beyond its size; past it the set
// is dropped and loaded again, which costs its size once per that many
// deletes.
const maxTombstones = 4096

func newGrantSet(n int) *grantSet {
	return &grantSet{byID: make(map[string]*grant, n), byGrantee: make(map[granteeOp][]*grant), byName: map[string][]*grant{}, gone: map[string]struct{}{}}
}

// grantLookupKeys returns the grantee values under which the grants that
// may allow principal p are indexed: a grant's GranteePrincipal must equal
// the caller's ARN or role ARN (policy.Grant.Allows). Keep the two in step.
func grantLookupKeys(arn, roleARN string) [2]string {
	if roleARN == arn {
		roleARN = ""
	}
	return [2]string{arn, roleARN}
}

// insert adds g in ID order; callers hold mu (or own the set alone).
func (gs *grantSet) insert(g *grant, sorted bool) {
	gs.byID[g.doc.ID] = g
	put := func(m map[granteeOp][]*grant, k granteeOp) {
		b := m[k]
		if sorted {
			m[k] = append(b, g)
			return
		}
		i, _ := slices.BinarySearchFunc(b, g.doc.ID, func(x *grant, id string) int { return strings.Compare(x.doc.ID, id) })
		m[k] = slices.Insert(b, i, g)
	}
	if p := g.pg.GranteePrincipal; p != "" {
		for _, op := range g.pg.Operations {
			put(gs.byGrantee, granteeOp{p, op})
		}
	}
	if g.doc.Name != "" {
		gs.byName[g.doc.Name] = append(gs.byName[g.doc.Name], g)
	}
}

// add adds g unless the set has it or removed it.
func (gs *grantSet) add(g *grant) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if _, ok := gs.byID[g.doc.ID]; ok {
		return
	}
	if _, ok := gs.gone[g.doc.ID]; ok {
		return
	}
	gs.insert(g, false)
}

// remove removes grant id for good. It reports false if the set has
// collected so many tombstones that it should be dropped.
func (gs *grantSet) remove(id string) bool {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gs.gone[id] = struct{}{}
	g, ok := gs.byID[id]
	if ok {
		delete(gs.byID, id)
		drop := func(b []*grant) []*grant {
			return slices.DeleteFunc(b, func(x *grant) bool { return x == g })
		}
		if p := g.pg.GranteePrincipal; p != "" {
			for _, op := range g.pg.Operations {
				k := granteeOp{p, op}
				if b := drop(gs.byGrantee[k]); len(b) > 0 {
					gs.byGrantee[k] = b
				} else {
					delete(gs.byGrantee, k)
				}
			}
		}
		if g.doc.Name != "" {
			if b := drop(gs.byName[g.doc.Name]); len(b) > 0 {
				gs.byName[g.doc.Name] = b
			} else {
				delete(gs.byName, g.doc.Name)
			}
		}
	}
	return len(gs.gone) <= maxTombstones+len(gs.byID)
}

func (gs *grantSet) has(grantID string) bool {
	gs.mu.RLock()
	defer gs.mu.RUnlock()
	_, ok := gs.byID[grantID]
	return ok
}

// find returns the grant with the lowest ID among those indexed under one
// of keys for op that satisfy ok, or nil. ok runs under the set's read
// lock: it must not block.
func (gs *grantSet) find(keys [2]string, op string, ok func(*grant) bool) *grant {
	gs.mu.RLock()
	defer gs.mu.RUnlock()
	var found *grant
	for _, k := range keys {
		if k == "" {
			continue
		}
		for _, g := range gs.byGrantee[granteeOp{k, op}] {
			if found != nil && g.doc.ID > found.doc.ID {
				break
			}
			if ok(g) {
				found = g
				break
			}
		}
	}
	return found
}

// named returns the first grant (in ID order) called name that satisfies
// ok, or nil.
func (gs *grantSet) named(name string, ok func(*grant) bool) *grant {
	gs.mu.RLock()
	defer gs.mu.RUnlock()
	var found *grant
	for _, g := range gs.byName[name] {
		if ok(g) && (found == nil || g.doc.ID < found.doc.ID) {
			found = g
		}
	}
	return found
}

// grantCache holds the grant sets of keys (see above).
type grantCache struct {
	s      *Service
	maxAge time.Duration

	mu      sync.RWMutex
	sets    map[string]*grantEntry
	loading map[string]*grantLoad
}

type grantEntry struct {
	set    *grantSet
	loaded time.Time
}

// grantLoad is a load under way; waiters share it.
type grantLoad struct {
	done  chan struct{}
	set   *grantSet
	err   error
	dirty []string // grant IDs changed while it runs, read again at its end
	// discard is set by a purge: the load's result is returned to its
	// waiters but not cached.
	discard bool
}

// get returns the grants of keyID, loading them if they are not cached or
// older than maxAge.
func (c *grantCache) get(ctx context.Context, keyID string) (*grantSet, error) {
	now := c.s.kms.Now()
	c.mu.RLock()
	e := c.sets[keyID]
	c.mu.RUnlock()
	if e != nil && now.Sub(e.loaded) < c.maxAge {
		return e.set, nil
	}
	c.mu.Lock()
	l := c.loading[keyID]
	if l == nil {
		l = &grantLoad{done: make(chan struct{})}
		c.loading[keyID] = l
		c.mu.Unlock()
		c.load(ctx, keyID, l)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-l.done:
		return l.set, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// load lists the grants of keyID, then reads again those reported changed
// meanwhile, until none are left, and caches the set.
func (c *grantCache) load(ctx context.Context, keyID string, l *grantLoad) {
	set, err := c.s.loadGrants(ctx, keyID)
	for err == nil {
		c.mu.Lock()
		dirty := l.dirty
		l.dirty = nil
		if len(dirty) == 0 {
			if !l.discard {
				c.sets[keyID] = &grantEntry{set: set, loaded: c.s.kms.Now()}
			}
			c.endLoad(keyID, l)
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		for _, id := range dirty {
			if _, err = c.s.refreshGrant(ctx, set, keyID, id); err != nil {
				break
			}
		}
	}
	if err != nil {
		c.mu.Lock()
		c.endLoad(keyID, l)
		c.mu.Unlock()
		set = nil
	}
	l.set, l.err = set, err
	close(l.done)
}

// endLoad unregisters load l of keyID, unless a purge already replaced it.
// Callers hold mu.
func (c *grantCache) endLoad(keyID string, l *grantLoad) {
	if c.loading[keyID] == l {
		delete(c.loading, keyID)
	}
}

// changed brings the cached grants of keyID up to date with a change of
// grant grantID that the store has committed: a load under way notes it;
// a cached set reads the grant again.
func (c *grantCache) changed(ctx context.Context, keyID, grantID string) {
	c.mu.Lock()
	if l := c.loading[keyID]; l != nil {
		l.dirty = append(l.dirty, grantID)
	}
	e := c.sets[keyID]
	c.mu.Unlock()
	if e == nil {
		return
	}
	if keep, err := c.s.refreshGrant(ctx, e.set, keyID, grantID); err != nil || !keep {
		c.drop(keyID, e) // cannot tell what changed, or too many tombstones: load afresh
	}
}

// added applies a grant this node has just created to the cache.
func (c *grantCache) added(g *grant) {
	c.mu.Lock()
	if l := c.loading[g.doc.KeyID]; l != nil {
		l.dirty = append(l.dirty, g.doc.ID)
	}
	e := c.sets[g.doc.KeyID]
	c.mu.Unlock()
	if e != nil {
		e.set.add(g)
	}
}

// removed applies a grant this node has just deleted to the cache.
func (c *grantCache) removed(keyID, grantID string) {
	c.mu.Lock()
	if l := c.loading[keyID]; l != nil {
		l.dirty = append(l.dirty, grantID)
	}
	e := c.sets[keyID]
	c.mu.Unlock()
	if e != nil && !e.set.remove(grantID) {
		c.drop(keyID, e)
	}
}

// drop forgets the set e of keyID, if it is still the cached one.
func (c *grantCache) drop(keyID string, e *grantEntry) {
	c.mu.Lock()
	if c.sets[keyID] == e {
		delete(c.sets, keyID)
	}
	c.mu.Unlock()
}

// purge forgets every set. Loads under way are not cached, and callers
// that come after the purge do not join them: they may have read the store
// before a change the purge stands for.
func (c *grantCache) purge() {
	c.mu.Lock()
	clear(c.sets)
	for _, l := range c.loading {
		l.discard = true
	}
	clear(c.loading)
	c.mu.Unlock()
}

// refreshGrant reads grant grantID of keyID from the store and applies
// what it finds to set. keep is false if set should be dropped (see
// grantSet.remove).
func (s *Service) refreshGrant(ctx context.Context, set *grantSet, keyID, grantID string) (keep bool, err error) {
	g, err := s.getGrant(ctx, keyID, grantID)
	if err != nil {
		return false, err
	}
	if g == nil {
		return set.remove(grantID), nil
	}
	set.add(g)
	return true, nil
}

// grantFeedTimeout bounds the store reads of one grant change that the
// change feed reports.
const grantFeedTimeout = 5 * time.Second

// onGrantChange is the change feed's hook for grant records
// ("keyID/grantID").
func (s *Service) onGrantChange(id string) {
	keyID, grantID, ok := strings.Cut(id, "/")
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grantFeedTimeout)
	defer cancel()
	s.cache.changed(ctx, keyID, grantID)
}
