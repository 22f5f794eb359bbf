package trailapi

import (
	"testing"

	"github.com/trentkms/trent/internal/audit"
)

func TestNextToken(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	q := &lookupInput{LookupAttributes: []lookupAttribute{{AttributeKey: s("Username"), AttributeValue: s("app")}}}
	other := &lookupInput{LookupAttributes: []lookupAttribute{{AttributeKey: s("Username"), AttributeValue: s("apq")}}}
	fp := fingerprint("111122223333", q)
	tok := makeToken(&audit.Cursor{Key: 7, Node: "n1", Seq: 42}, fp)
	if c, ok := parseToken(tok, fp); !ok || c.Node != "n1" || c.Seq != 42 || c.Key != 7 {
		t.Fatalf("ok/round-trip: %+v %v", c, ok)
	}
	for name, tc := range map[string]struct{ tok, fp string }{
		"fail/other-value":   {tok, fingerprint("111122223333", other)},
		"fail/other-account": {tok, fingerprint("444455556666", q)},
		"fail/garbage":       {"not a token", fp},
		"fail/truncated":     {tok[:len(tok)-3], fp},
		"fail/bad-node":      {makeToken(&audit.Cursor{Node: "../x"}, fp), fp},
	} {
		if _, ok := parseToken(tc.tok, tc.fp); ok {
			t.Errorf("%s: token accepted", name)
		}
	}
	if n := attributeLength("a_b c,d\n"); n != 12 {
		t.Errorf("attributeLength: %d, want 12", n)
	}
}
