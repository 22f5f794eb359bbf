package sigv4

import "strings"

// authorization holds the parts of an Authorization header; the strings are
// substrings of the header, so parsing does not allocate.
type authorization struct {
	algorithm     string
	credential    string
	signedHeaders string
	signature     string
}

// parseAuthorization splits "ALG Credential=..., SignedHeaders=..., Signature=..."
// and returns, as msg, AWS's text for every missing parameter (empty if none
// is missing). Parameters may be separated by commas and/or spaces; unknown
// parameters are ignored, as AWS does.
func parseAuthorization(h string) (a authorization, msg string) {
	alg, rest, _ := strings.Cut(h, " ")
	a.algorithm = alg
	for rest != "" {
		var part string
		i := strings.IndexAny(rest, ", ")
		if i < 0 {
			part, rest = rest, ""
		} else {
			part, rest = rest[:i], rest[i+1:]
		}
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch k {
		case "Credential":
			a.credential = val
		case "SignedHeaders":
			a.signedHeaders = val
		case "Signature":
			a.signature = val
		}
	}
	if a.credential == "" {
		msg += "Authorization header requires 'Credential' parameter. "
	}
	if a.signature == "" {
		msg += "Authorization header requires 'Signature' parameter. "
	}
	if a.signedHeaders == "" {
		msg += "Authorization header requires 'SignedHeaders' parameter. "
	}
	return a, msg
}

// signsHost reports whether host is among the signed headers (in any case).
func (a *authorization) signsHost() bool { return a.signs("host") }

// signs reports whether header is among the signed headers (in any
// ASCII case). It runs for every header that must be signed, so it
// compares lengths before bytes.
func (a *authorization) signs(header string) bool {
	s := a.signedHeaders
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ';' {
			continue
		}
		if i-start == len(header) && asciiEqualFold(s[start:i], header) {
			return true
		}
		start = i + 1
	}
	return false
}

// asciiEqualFold reports whether a and b, of equal length, are equal under
// ASCII case folding. Header names are ASCII tokens; a byte outside ASCII
// must match exactly.
func asciiEqualFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// mustSign reports whether a header present on a request must be signed:
// Content-Type and every X-Amz-* header (X-Amz-Target names the operation,
// X-Amz-Date and X-Amz-Security-Token the time and the credentials), so
// that nothing that selects or qualifies the operation can be changed or
// added after signing. X-Amzn-* headers (trace IDs added by proxies) are
// not X-Amz-* headers.
func mustSign(name string) bool {
	const prefix = "x-amz-"
	if len(name) >= len(prefix) && asciiEqualFold(name[:len(prefix)], prefix) {
		return true
	}
	return len(name) == len("content-type") && asciiEqualFold(name, "content-type")
}

// unsignedHeader returns the name of a header in names that must be signed
// but is not, or "" if there is none. Of several it returns the smallest,
// so that the answer does not depend on the order of names.
//
// It runs before the signature is checked, for any client: its cost is
// linear in the number of headers and the length of SignedHeaders (one
// pass over each), never their product.
func (a *authorization) unsignedHeader(names []string) string {
	var needBuf [8]string
	need := needBuf[:0] // the request's headers that must be signed: usually 3 or 4
	for _, n := range names {
		if mustSign(n) {
			need = append(need, n)
		}
	}
	if len(need) == 0 {
		return ""
	}
	var okBuf [8]bool
	ok := okBuf[:]
	var signed map[string]bool // for requests with many such headers
	if len(need) > len(okBuf) {
		ok = make([]bool, len(need))
		signed = map[string]bool{}
	}
	s := a.signedHeaders
	for s != "" {
		tok := s
		if i := strings.IndexByte(s, ';'); i >= 0 {
			tok, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if !mustSign(tok) {
			continue
		}
		if signed != nil {
			signed[asciiLower(tok)] = true
			continue
		}
		for j, n := range need {
			if len(n) == len(tok) && asciiEqualFold(n, tok) {
				ok[j] = true
			}
		}
	}
	var bad string
	for j, n := range need {
		if signed != nil {
			ok[j] = signed[asciiLower(n)]
		}
		if !ok[j] && (bad == "" || n < bad) {
			bad = n
		}
	}
	return bad
}

// asciiLower returns s with ASCII letters in lower case.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// scope returns the "date/region/service/aws4_request" part of the credential.
func (a *authorization) scope() string {
	_, s, _ := strings.Cut(a.credential, "/")
	return s
}

// scope is a parsed credential: AKID/date/region/service/terminator.
type scope struct {
	accessKeyID, date, region, service, terminator string
}

// parseScope splits a credential into its five elements. Access key IDs
// cannot contain '/', so exactly four slashes are required.
func parseScope(c string) (scope, bool) {
	var p [5]string
	for i := 0; i < 4; i++ {
		j := strings.IndexByte(c, '/')
		if j < 0 {
			return scope{}, false
		}
		p[i], c = c[:j], c[j+1:]
	}
	if strings.IndexByte(c, '/') >= 0 {
		return scope{}, false
	}
	p[4] = c
	for _, e := range p {
		if e == "" {
			return scope{}, false
		}
	}
	return scope{p[0], p[1], p[2], p[3], p[4]}, true
}
