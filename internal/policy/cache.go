package policy

import "sync"

// Cache memoizes parsed policies by document text, so that the hot path
// parses each distinct key or identity policy once. Only successful parses
// are cached. A Cache is safe for concurrent use.
type Cache struct {
	mu  sync.RWMutex
	m   map[cacheKey]*Policy
	max int
}

type cacheKey struct {
	doc      string
	identity bool
}

// NewCache returns a cache holding at most max policies (at least 1). When
// full, an arbitrary entry is evicted.
func NewCache(max int) *Cache {
	if max < 1 {
		max = 1
	}
	return &Cache{m: make(map[cacheKey]*Policy), max: max}
}

// Parse returns Parse(doc), from the cache when the same document was
// parsed before. Errors are those of Parse.
func (c *Cache) Parse(doc string) (*Policy, error) { return c.get(doc, false) }

// ParseIdentity returns ParseIdentity(doc), from the cache when the same
// document was parsed before. Errors are those of ParseIdentity.
func (c *Cache) ParseIdentity(doc string) (*Policy, error) { return c.get(doc, true) }

// Len returns the number of cached policies.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *Cache) get(doc string, identity bool) (*Policy, error) {
	k := cacheKey{doc, identity}
	c.mu.RLock()
	p, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return p, nil
	}
	var err error
	if identity {
		p, err = ParseIdentity(doc)
	} else {
		p, err = Parse(doc)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = p
	c.mu.Unlock()
	return p, nil
}
