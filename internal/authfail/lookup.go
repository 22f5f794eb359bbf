package authfail

import "time"

// lookupBudget is the node's budget of store lookups of access keys not in
// use for requests from suspect sources, and its flood mode. Times are
// nanoseconds since Limiter.epoch.
type lookupBudget struct {
	tokens float64
	last   int64 // of the last refill
	miss   int64 // of the last lookup of a key that did not exist
	// flooding is set in flood mode (and then counted in
	// Limiter.limited).
	flooding bool
}

// floodQuiet is how long no lookup may have missed before flood mode ends.
// While the mode lasts every request with a key not in use goes through
// AllowLookup; outside it a suspect source that has not spent its own
// budget is verified at once, so its concurrent requests may all cost a
// lookup: the longer the mode lasts, the rarer such bursts.
const floodQuiet = time.Minute

// refillLookups adds the budget earned since its last refill and ends
// flood mode once the budget is full and no lookup missed for floodQuiet.
// It runs under mu.
func (l *Limiter) refillLookups(t int64) {
	if l.cfg.LookupRate < 0 {
		return
	}
	b := &l.lookups
	burst := float64(l.cfg.LookupBurst)
	if d := t - b.last; d > 0 {
		b.tokens = min(burst, b.tokens+time.Duration(d).Seconds()*l.cfg.LookupRate)
		b.last = t
	}
	if b.flooding && b.tokens >= burst && t-b.miss >= int64(floodQuiet) {
		b.flooding = false
		l.limited.Add(-1)
		l.flood = -1
	}
}

// takeLookup takes one lookup from the budget, if it has one. It runs
// under mu, after refillLookups.
func (l *Limiter) takeLookup(t int64) bool {
	if l.cfg.LookupRate < 0 {
		return true
	}
	b := &l.lookups
	if b.tokens < 1 {
		l.beginFlood(t)
		return false
	}
	if b.tokens--; b.tokens < 1 {
		l.beginFlood(t)
	}
	return true
}

// spendLookup counts a lookup that missed against the budget (taking
// nothing when it is empty: a lookup AllowLookup granted has already
// taken its share) and begins flood mode when the budget is spent. It
// runs under mu.
func (l *Limiter) spendLookup(t int64) {
	if l.cfg.LookupRate < 0 {
		return
	}
	l.refillLookups(t)
	b := &l.lookups
	b.miss = max(b.miss, t)
	if b.tokens >= 1 {
		b.tokens--
	}
	if b.tokens < 1 {
		l.beginFlood(t)
	}
}

func (l *Limiter) beginFlood(t int64) {
	b := &l.lookups
	b.miss = max(b.miss, t)
	if !b.flooding {
		b.flooding = true
		l.limited.Add(1)
		l.floods.Add(1)
		l.flood = 1
	}
}

// unknownFor is how long a key that was looked up and not found is
// refused by AllowLookup without another lookup: between one and two
// times it, less when more than maxUnknown keys missed within it.
const (
	unknownFor = 5 * time.Second
	maxUnknown = 4096
)

// negativeCache holds the access keys whose lookup missed lately, in two
// generations of at most maxUnknown keys each (a key is at most
// MaxAccessKeyID bytes: at most about 1.5 MB in all).
type negativeCache struct {
	cur, old map[string]struct{}
	since    int64 // when cur was begun
}

func (c *negativeCache) rotate(t int64) {
	if age := t - c.since; age >= int64(unknownFor) || len(c.cur) >= maxUnknown {
		if age >= 2*int64(unknownFor) {
			c.old = nil
		} else {
			c.old = c.cur
		}
		c.cur, c.since = nil, t
	}
}

func (c *negativeCache) add(akid string, t int64) {
	if akid == "" {
		return
	}
	c.rotate(t)
	if c.cur == nil {
		c.cur = make(map[string]struct{})
	}
	c.cur[akid] = struct{}{}
}

func (c *negativeCache) has(akid string, t int64) bool {
	c.rotate(t)
	if _, ok := c.cur[akid]; ok {
		return true
	}
	_, ok := c.old[akid]
	return ok
}
