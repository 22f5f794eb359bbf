package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
)

type cacheKey struct{ accessKeyID, date, region, service string }

type cacheEntry struct {
	secret []byte // the secret the key was derived from
	key    [32]byte
}

// keyCache holds derived signing keys. It is reset when full, which bounds
// memory without bookkeeping; keys change daily anyway.
type keyCache struct {
	mu sync.RWMutex
	m  map[cacheKey]*cacheEntry
}

// signingKey returns the signing key for secret and the scope, from the
// cache when an entry for the same scope was derived from the same secret.
func (c *keyCache) signingKey(secret []byte, sc scope, max int) [32]byte {
	k := cacheKey{sc.accessKeyID, sc.date, sc.region, sc.service}
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	if e != nil && subtle.ConstantTimeCompare(e.secret, secret) == 1 {
		return e.key
	}
	e = &cacheEntry{secret: append([]byte(nil), secret...), key: deriveKey(secret, sc.date, sc.region, sc.service)}
	k = cacheKey{strings.Clone(k.accessKeyID), strings.Clone(k.date), strings.Clone(k.region), strings.Clone(k.service)}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= max {
		c.m = make(map[cacheKey]*cacheEntry)
	}
	c.m[k] = e
	c.mu.Unlock()
	return e.key
}

// deriveKey computes HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func deriveKey(secret []byte, date, region, service string) [32]byte {
	k := make([]byte, 0, 4+len(secret))
	k = append(k, "AWS4"...)
	k = append(k, secret...)
	h := hmacSum(k, date)
	clear(k)
	h = hmacSum(h, region)
	h = hmacSum(h, service)
	h = hmacSum(h, "aws4_request")
	var out [32]byte
	copy(out[:], h)
	return out
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
