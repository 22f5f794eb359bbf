package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

const upperHex = "0123456789ABCDEF"

// appendCanonicalRequest appends the SigV4 canonical request of r to buf:
// method, canonical URI, canonical query, canonical headers, signed headers
// and payload hash, separated by newlines. signedHeaders is the
// semicolon-separated list exactly as the client sent it.
func appendCanonicalRequest(buf []byte, r Request, signedHeaders string, payloadHash []byte) []byte {
	buf = append(buf, r.Method()...)
	buf = append(buf, '\n')
	buf = appendCanonicalURI(buf, r.EscapedPath())
	buf = append(buf, '\n')
	buf = appendCanonicalQuery(buf, r.RawQuery())
	buf = append(buf, '\n')
	s := signedHeaders
	for s != "" {
		var name string
		name, s, _ = strings.Cut(s, ";")
		buf = append(buf, name...)
		buf = append(buf, ':')
		buf = appendHeaderValue(buf, r, name)
		buf = append(buf, '\n')
	}
	buf = append(buf, '\n')
	buf = append(buf, signedHeaders...)
	buf = append(buf, '\n')
	buf = append(buf, payloadHash...)
	return buf
}

// appendCanonicalURI URI-encodes the already-encoded path once more, keeping
// '/', as the SDKs do for every service but S3.
func appendCanonicalURI(buf []byte, p string) []byte {
	if p == "" {
		return append(buf, '/')
	}
	return appendEncoded(buf, p, true)
}

// appendEncoded appends s percent-encoded per RFC 3986: unreserved characters
// stay, everything else becomes %XX (and '/' stays if keepSlash).
func appendEncoded(buf []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || (c == '/' && keepSlash) {
			buf = append(buf, c)
			continue
		}
		buf = append(buf, '%', upperHex[c>>4], upperHex[c&15])
	}
	return buf
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// appendCanonicalQuery decodes the raw query, sorts it by name then value and
// re-encodes it per RFC 3986. Unparseable escapes are kept literally.
func appendCanonicalQuery(buf []byte, raw string) []byte {
	if raw == "" {
		return buf
	}
	type kv struct{ k, v string }
	var pairs []kv
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		pairs = append(pairs, kv{k, v})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	for i, p := range pairs {
		if i > 0 {
			buf = append(buf, '&')
		}
		buf = appendEncoded(buf, p.k, false)
		buf = append(buf, '=')
		buf = appendEncoded(buf, p.v, false)
	}
	return buf
}

// appendHeaderValue appends the canonical value of the header name (any
// case): all values joined by commas, each trimmed with runs of spaces folded
// to one.
func appendHeaderValue(buf []byte, r Request, name string) []byte {
	for i := 0; ; i++ {
		v, ok := r.Header(name, i)
		if !ok {
			return buf
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendTrimmed(buf, v)
	}
}

// canonicalKey writes the MIME-canonical form of name ("x-amz-date" ->
// "X-Amz-Date") into b, as net/http keys its header map.
func canonicalKey(b []byte, name string) []byte {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
		upper = c == '-'
	}
	return b
}

// appendTrimmed appends v without leading and trailing spaces and with runs
// of spaces folded into one.
func appendTrimmed(buf []byte, v string) []byte {
	v = strings.Trim(v, " \t")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		buf = append(buf, c)
	}
	return buf
}

// signature computes the signature over the canonical request in buf. It
// reuses buf's storage.
func signature(buf []byte, key *[32]byte, amzDate []byte, scope string) [32]byte {
	crHash := sha256.Sum256(buf)
	// HMAC-SHA256 done by hand so that nothing escapes to the heap: the key
	// is 32 bytes, shorter than the 64-byte block.
	buf = buf[:0]
	for i := 0; i < 64; i++ {
		k := byte(0)
		if i < 32 {
			k = key[i]
		}
		buf = append(buf, k^0x36)
	}
	buf = append(buf, Algorithm...)
	buf = append(buf, '\n')
	buf = append(buf, amzDate...)
	buf = append(buf, '\n')
	buf = append(buf, scope...)
	buf = append(buf, '\n')
	var hx [64]byte
	hex.Encode(hx[:], crHash[:])
	buf = append(buf, hx[:]...)
	inner := sha256.Sum256(buf)
	var outer [96]byte
	for i := 0; i < 64; i++ {
		k := byte(0)
		if i < 32 {
			k = key[i]
		}
		outer[i] = k ^ 0x5c
	}
	copy(outer[64:], inner[:])
	return sha256.Sum256(outer[:])
}
