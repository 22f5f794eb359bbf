package policy

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type opKind uint8

const (
	opString opKind = iota
	opStringIgnoreCase
	opStringLike
	opNumericEq
	opNumericLT
	opNumericLE
	opNumericGT
	opNumericGE
	opDateEq
	opDateLT
	opDateLE
	opDateGT
	opDateGE
	opBool
	opBinary
	opIP
	opARN
	opNull
)

type opInfo struct {
	kind   opKind
	negate bool
}

// operators maps lowercased operator names (without qualifier or IfExists).
var operators = map[string]opInfo{
	"stringequals":              {opString, false},
	"stringnotequals":           {opString, true},
	"stringequalsignorecase":    {opStringIgnoreCase, false},
	"stringnotequalsignorecase": {opStringIgnoreCase, true},
	"stringlike":                {opStringLike, false},
	"stringnotlike":             {opStringLike, true},
	"numericequals":             {opNumericEq, false},
	"numericnotequals":          {opNumericEq, true},
	"numericlessthan":           {opNumericLT, false},
	"numericlessthanequals":     {opNumericLE, false},
	"numericgreaterthan":        {opNumericGT, false},
	"numericgreaterthanequals":  {opNumericGE, false},
	"dateequals":                {opDateEq, false},
	"datenotequals":             {opDateEq, true},
	"datelessthan":              {opDateLT, false},
	"datelessthanequals":        {opDateLE, false},
	"dategreaterthan":           {opDateGT, false},
	"dategreaterthanequals":     {opDateGE, false},
	"bool":                      {opBool, false},
	"binaryequals":              {opBinary, false},
	"ipaddress":                 {opIP, false},
	"notipaddress":              {opIP, true},
	"arnequals":                 {opARN, false},
	"arnlike":                   {opARN, false},
	"arnnotequals":              {opARN, true},
	"arnnotlike":                {opARN, true},
	"null":                      {opNull, false},
}

const (
	qualNone = iota
	qualAny
	qualAll
)

// condition is one (operator, key) pair of a Condition block with its
// policy values, pre-parsed for the operator's type.
type condition struct {
	kind     opKind
	negate   bool
	qual     uint8
	ifExists bool
	key      string // lowercased
	vals     []pattern
	nums     []float64
	times    []int64 // Unix nanoseconds
	nets     []netip.Prefix
}

func parseConditions(v json.RawMessage, vars bool) ([]*condition, error) {
	var ops map[string]json.RawMessage
	if firstByte(v) != '{' || json.Unmarshal(v, &ops) != nil {
		return nil, malformed("The Condition element must be an object.")
	}
	var out []*condition
	for opName, body := range ops {
		c, err := parseOperator(opName)
		if err != nil {
			return nil, err
		}
		var keys map[string]json.RawMessage
		if firstByte(body) != '{' || json.Unmarshal(body, &keys) != nil {
			return nil, malformed("The body of condition operator " + truncate(opName) + " must be an object.")
		}
		for key, raw := range keys {
			cc := *c
			cc.key = strings.ToLower(key)
			if err := cc.setValues(raw, vars); err != nil {
				return nil, err
			}
			out = append(out, &cc)
		}
	}
	return out, nil
}

func parseOperator(name string) (*condition, error) {
	c := &condition{}
	n := strings.ToLower(name)
	if rest, ok := strings.CutPrefix(n, "foranyvalue:"); ok {
		c.qual, n = qualAny, rest
	} else if rest, ok := strings.CutPrefix(n, "forallvalues:"); ok {
		c.qual, n = qualAll, rest
	}
	if rest, ok := strings.CutSuffix(n, "ifexists"); ok && rest != "null" {
		c.ifExists, n = true, rest
	}
	info, ok := operators[n]
	if !ok {
		return nil, malformed("The policy document contains an unsupported condition operator: " + truncate(name))
	}
	c.kind, c.negate = info.kind, info.negate
	return c, nil
}

// scalarList decodes a condition value: a string, number or boolean, or an
// array of them, each rendered as a string.
func scalarList(raw json.RawMessage) ([]string, bool) {
	var items []json.RawMessage
	if firstByte(raw) == '[' {
		if json.Unmarshal(raw, &items) != nil {
			return nil, false
		}
	} else {
		items = []json.RawMessage{raw}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		switch firstByte(it) {
		case '"':
			var s string
			if json.Unmarshal(it, &s) != nil {
				return nil, false
			}
			out = append(out, s)
		case '{', '[', 'n', 0:
			return nil, false
		default: // number or boolean: keep the literal text
			out = append(out, string(bytes.TrimSpace(it)))
		}
	}
	return out, true
}

func (c *condition) setValues(raw json.RawMessage, vars bool) error {
	l, ok := scalarList(raw)
	if !ok || len(l) == 0 {
		return malformed("Condition values must be strings, numbers or booleans, or a non-empty array of them.")
	}
	bad := func() error {
		return malformed("The policy document contains a condition value that is not valid for its operator.")
	}
	for _, s := range l {
		if strings.IndexByte(s, 0) >= 0 {
			return malformed(MsgInvalidCharacters)
		}
		switch c.kind {
		case opNumericEq, opNumericLT, opNumericLE, opNumericGT, opNumericGE:
			f, ok := parseNumber(s)
			if !ok {
				return bad()
			}
			c.nums = append(c.nums, f)
		case opDateEq, opDateLT, opDateLE, opDateGT, opDateGE:
			t, ok := parseDate(s)
			if !ok {
				return bad()
			}
			c.times = append(c.times, t)
		case opIP:
			pfx, ok := parseCIDR(s)
			if !ok {
				return bad()
			}
			c.nets = append(c.nets, pfx)
		case opNull, opBool:
			if !strings.EqualFold(s, "true") && !strings.EqualFold(s, "false") {
				return bad()
			}
			c.vals = append(c.vals, pattern{raw: s})
		case opString, opStringIgnoreCase, opStringLike, opARN:
			c.vals = append(c.vals, compilePattern(s, vars))
		default:
			c.vals = append(c.vals, pattern{raw: s})
		}
	}
	return nil
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && !math.IsNaN(f)
}

var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02"}

// parseDate accepts ISO 8601 dates and date-times and epoch seconds.
func parseDate(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < -1e10 || n > 1e11 {
			return 0, false
		}
		return n * 1e9, true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}

func parseCIDR(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// eval evaluates the condition of a statement whose effect is Allow (allow)
// or Deny against the request. Semantics follow IAM: a missing key fails
// positive operators and satisfies negated ones; ...IfExists is satisfied
// by a missing key; ForAllValues is satisfied by an empty or missing set and
// ForAnyValue fails it; Null checks presence only. A condition that reads
// an ambiguous key (see Ambiguous) fails in an Allow statement and holds in
// a Deny statement, whatever its operator.
func (c *condition) eval(req *Request, allow bool) bool {
	v, ok := lookup(req, c.key)
	if (ok && isAmbiguous(v.many)) || c.readsAmbiguous(req) {
		return !allow
	}
	present := ok && v.n > 0
	if c.kind == opNull {
		for i := range c.vals {
			wantAbsent := strings.EqualFold(c.vals[i].raw, "true")
			if wantAbsent != present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.qual == qualAll:
			return true
		case c.qual == qualAny:
			return false
		}
		return c.negate
	}
	switch c.qual {
	case qualAll:
		for i := 0; i < v.n; i++ {
			if c.matchAny(req, v.at(i)) == c.negate {
				return false
			}
		}
		return true
	case qualAny:
		for i := 0; i < v.n; i++ {
			if c.matchAny(req, v.at(i)) != c.negate {
				return true
			}
		}
		return false
	}
	m := false
	for i := 0; i < v.n; i++ {
		if c.matchAny(req, v.at(i)) {
			m = true
			break
		}
	}
	return m != c.negate
}

// readsAmbiguous reports whether a policy variable in the condition's
// values names an ambiguous key.
func (c *condition) readsAmbiguous(req *Request) bool {
	for i := range c.vals {
		for _, sg := range c.vals[i].segs {
			if sg.key == "" {
				continue
			}
			if v, ok := lookup(req, sg.key); ok && isAmbiguous(v.many) {
				return true
			}
		}
	}
	return false
}

// matchAny reports whether the request value s matches any policy value
// under the operator's positive form.
func (c *condition) matchAny(req *Request, s string) bool {
	switch c.kind {
	case opString, opBinary:
		for i := range c.vals {
			p := &c.vals[i]
			if p.segs == nil {
				if p.raw == s {
					return true
				}
			} else if x, ok := p.expand(req, true); ok && x == s {
				return true
			}
		}
	case opStringIgnoreCase:
		for i := range c.vals {
			p := &c.vals[i]
			x, ok := p.raw, true
			if p.segs != nil {
				x, ok = p.expand(req, true)
			}
			if ok && strings.EqualFold(x, s) {
				return true
			}
		}
	case opStringLike:
		for i := range c.vals {
			if c.vals[i].matchGlob(req, s, false) {
				return true
			}
		}
	case opARN:
		for i := range c.vals {
			p := &c.vals[i]
			x, ok := p.raw, true
			if p.segs != nil {
				x, ok = p.expand(req, false)
			}
			if ok && arnMatch(x, s) {
				return true
			}
		}
	case opBool:
		for i := range c.vals {
			if strings.EqualFold(c.vals[i].raw, s) {
				return true
			}
		}
	case opNumericEq, opNumericLT, opNumericLE, opNumericGT, opNumericGE:
		f, ok := parseNumber(s)
		if !ok {
			return false
		}
		for _, n := range c.nums {
			if cmpOK(c.kind-opNumericEq, compareF(f, n)) {
				return true
			}
		}
	case opDateEq, opDateLT, opDateLE, opDateGT, opDateGE:
		t, ok := parseDate(s)
		if !ok {
			return false
		}
		for _, n := range c.times {
			if cmpOK(c.kind-opDateEq, compareI(t, n)) {
				return true
			}
		}
	case opIP:
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, n := range c.nets {
			if n.Contains(a) {
				return true
			}
		}
	}
	return false
}

// cmpOK interprets a three-way comparison of request value to policy value
// for the relation rel (0 eq, 1 lt, 2 le, 3 gt, 4 ge).
func cmpOK(rel opKind, c int) bool {
	switch rel {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c <= 0
	case 3:
		return c > 0
	case 4:
		return c >= 0
	}
	return false
}

func compareF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareI(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
