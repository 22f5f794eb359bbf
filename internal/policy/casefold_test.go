package policy

import (
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestFoldEqual checks FoldEqual against its definition,
// strings.ToLower(a) == strings.ToLower(b), on random strings that mix
// ASCII, Latin-1, letters whose lower case is ASCII (the Kelvin sign) and
// invalid UTF-8.
func TestFoldEqual(t *testing.T) {
	t.Parallel()
	alphabet := []string{"a", "A", "k", "K", "\u212a", "é", "É", "ß", "ẞ", "İ", "i", "ſ", "s", "S", "\xff", "\ufffd", "-", ""}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for n := r.IntN(5); n > 0; n-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 20000; i++ {
		a, b := word(), word()
		if r.IntN(3) == 0 {
			b = strings.ToUpper(a)
		}
		want := strings.ToLower(a) == strings.ToLower(b)
		if got := FoldEqual(a, b); got != want {
			t.Fatalf("FoldEqual(%q, %q) = %v, want %v", a, b, got, want)
		}
	}
}

// ecModel is the reference reading of a grant constraint: context keys are
// grouped by their lower case; a constraint pair holds if its group in the
// context has exactly one key, whose value equals the pair's.
func ecModel(subset, equals, ec map[string]string) bool {
	groups := map[string][]string{}
	for k := range ec {
		groups[strings.ToLower(k)] = append(groups[strings.ToLower(k)], k)
	}
	holds := func(want map[string]string) bool {
		for k, v := range want {
			g := groups[strings.ToLower(k)]
			if len(g) != 1 || ec[g[0]] != v {
				return false
			}
		}
		return true
	}
	if equals != nil {
		folded := map[string]bool{}
		for k := range equals {
			folded[strings.ToLower(k)] = true
		}
		if len(folded) != len(equals) || len(equals) != len(ec) || !holds(equals) {
			return false
		}
	}
	return holds(subset)
}

// shuffled returns a copy of m built by inserting its pairs in a random
// order, so that its iteration order differs from m's.
func shuffled(r *rand.Rand, m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	out := make(map[string]string, len(m))
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// TestGrantConstraintCaseProperty: over random encryption contexts whose
// keys collide under case folding, a grant constraint answers as the
// reference model does (keys without regard to case, values exactly, a
// colliding key never satisfying a pair), the same answer for every
// construction order of the maps, and never allows a context in which the
// constrained key collides.
func TestGrantConstraintCaseProperty(t *testing.T) {
	t.Parallel()
	keys := []string{"dept", "Dept", "DEPT", "dEpT", "app", "App", "x"}
	vals := []string{"finance", "Finance", "hr"}
	r := rand.New(rand.NewPCG(16, 4))
	randMap := func(max int) map[string]string {
		m := map[string]string{}
		for n := r.IntN(max + 1); n > 0; n-- {
			m[keys[r.IntN(len(keys))]] = vals[r.IntN(len(vals))]
		}
		return m
	}
	allowed, collidedDenied := 0, 0
	for i := 0; i < 5000; i++ {
		g := Grant{GranteePrincipal: bob.ARN, Operations: []string{"Encrypt", "Decrypt"}}
		if r.IntN(2) == 0 {
			g.EncryptionContextSubset = randMap(3)
		} else {
			g.EncryptionContextEquals = randMap(3)
		}
		ec := randMap(5)
		want := ecModel(g.EncryptionContextSubset, g.EncryptionContextEquals, ec)
		for try := 0; try < 8; try++ {
			g2 := g
			g2.EncryptionContextSubset = shuffled(r, g.EncryptionContextSubset)
			g2.EncryptionContextEquals = shuffled(r, g.EncryptionContextEquals)
			op := []string{"Encrypt", "kms:Decrypt"}[try%2]
			if got := g2.Allows(bob, op, shuffled(r, ec)); got != want {
				t.Fatalf("constraint subset=%v equals=%v, context %v: Allows = %v, want %v (try %d)",
					g.EncryptionContextSubset, g.EncryptionContextEquals, ec, got, want, try)
			}
		}
		// Safety: a constrained key that collides in the context never
		// passes.
		for k := range mergeMaps(g.EncryptionContextSubset, g.EncryptionContextEquals) {
			n := 0
			for ek := range ec {
				if strings.EqualFold(ek, k) {
					n++
				}
			}
			if n > 1 {
				if want {
					t.Fatalf("model allows %v under subset=%v equals=%v although %q collides", ec, g.EncryptionContextSubset, g.EncryptionContextEquals, k)
				}
				collidedDenied++
			}
		}
		if want {
			allowed++
		}
	}
	if allowed == 0 || collidedDenied == 0 {
		t.Fatalf("generator too narrow: %d allowed, %d colliding denials", allowed, collidedDenied)
	}
}

func mergeMaps(a, b map[string]string) map[string]string {
	m := maps.Clone(a)
	if m == nil {
		m = map[string]string{}
	}
	maps.Copy(m, b)
	return m
}

// TestGrantConstraintCases pins the rules of the AWS KMS Developer Guide
// for grant constraints: keys without regard to case, values exactly.
func TestGrantConstraintCases(t *testing.T) {
	t.Parallel()
	fin := map[string]string{"dept": "finance"}
	cases := []struct {
		name           string
		subset, equals map[string]string
		ec             map[string]string
		want           bool
	}{
		{"ok/subset-exact", fin, nil, map[string]string{"dept": "finance"}, true},
		{"ok/subset-key-case", fin, nil, map[string]string{"DEPT": "finance", "app": "x"}, true},
		{"fail/subset-value-case", fin, nil, map[string]string{"dept": "Finance"}, false},
		{"fail/subset-collision-other-value-first", fin, nil, map[string]string{"dept": "hr", "Dept": "finance"}, false},
		{"fail/subset-collision-same-value", fin, nil, map[string]string{"dept": "finance", "Dept": "finance"}, false},
		{"ok/equals-key-case", nil, fin, map[string]string{"Dept": "finance"}, true},
		{"fail/equals-collision", nil, fin, map[string]string{"dept": "finance", "Dept": "finance"}, false},
		{"fail/equals-extra-key", nil, fin, map[string]string{"dept": "finance", "app": "x"}, false},
		{"fail/equals-own-keys-collide", nil, map[string]string{"dept": "finance", "Dept": "finance"}, map[string]string{"dept": "finance", "x": "y"}, false},
		{"ok/subset-own-keys-collide-same-value", map[string]string{"dept": "finance", "Dept": "finance"}, nil, map[string]string{"DEPT": "finance"}, true},
		{"fail/subset-own-keys-collide-other-values", map[string]string{"dept": "finance", "Dept": "hr"}, nil, map[string]string{"dept": "finance", "Dept": "hr"}, false},
		{"ok/kelvin-sign-folds-to-k", map[string]string{"key": "v"}, nil, map[string]string{"\u212aey": "v"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := Grant{GranteePrincipal: bob.ARN, Operations: []string{"Decrypt"}, EncryptionContextSubset: c.subset, EncryptionContextEquals: c.equals}
			if got := g.Allows(bob, "Decrypt", c.ec); got != c.want {
				t.Fatalf("Allows = %v, want %v", got, c.want)
			}
			if got := ecModel(c.subset, c.equals, c.ec); got != c.want {
				t.Fatalf("model = %v, want %v", got, c.want)
			}
		})
	}
}

// TestAmbiguousConditionKey: a condition on a key the request supplies
// twice under case folding never lets an Allow statement match and always
// lets a Deny statement match, whatever the operator.
func TestAmbiguousConditionKey(t *testing.T) {
	t.Parallel()
	amb := Values{}
	amb.Set("kms:EncryptionContext:dept", Ambiguous()...)
	amb.Set("kms:EncryptionContextKeys", "dept", "Dept")
	conds := []string{
		`{"StringEquals":{"kms:EncryptionContext:dept":"finance"}}`,
		`{"StringEquals":{"kms:EncryptionContext:Dept":"hr"}}`,
		`{"StringNotEquals":{"kms:EncryptionContext:dept":"finance"}}`,
		`{"StringEqualsIgnoreCase":{"kms:EncryptionContext:DEPT":"FINANCE"}}`,
		`{"StringLike":{"kms:EncryptionContext:dept":"*"}}`,
		`{"StringNotLike":{"kms:EncryptionContext:dept":"secret*"}}`,
		`{"StringEqualsIfExists":{"kms:EncryptionContext:dept":"finance"}}`,
		`{"StringNotEqualsIfExists":{"kms:EncryptionContext:dept":"x"}}`,
		`{"ForAllValues:StringEquals":{"kms:EncryptionContext:dept":["finance","hr"]}}`,
		`{"ForAnyValue:StringEquals":{"kms:EncryptionContext:dept":["finance","hr"]}}`,
		`{"Null":{"kms:EncryptionContext:dept":"false"}}`,
		`{"Null":{"kms:EncryptionContext:dept":"true"}}`,
		`{"StringEquals":{"aws:username":"${kms:EncryptionContext:dept}"}}`,
		`{"StringNotEquals":{"kms:CallerAccount":"${kms:EncryptionContext:dept}"}}`,
		`{"StringEquals":{"kms:CallerAccount":"${kms:EncryptionContext:dept, '111122223333'}"}}`,
	}
	req := &Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice, Context: amb}
	for _, c := range conds {
		allow, err := Parse(doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":` + c + `}`))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if got := allow.Evaluate(req, true); got != NotApplicable {
			t.Errorf("Allow with %s = %v, want NotApplicable", c, got)
		}
		deny, err := Parse(doc(stAllowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":`+c+`}`))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if got := deny.Evaluate(req, true); got != Deny {
			t.Errorf("Deny with %s = %v, want Deny", c, got)
		}
	}
	// A Deny still needs its other conditions; kms:EncryptionContextKeys
	// lists the keys as sent and is not ambiguous.
	deny, err := Parse(doc(stAllowAll, `{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{
		"StringEquals":{"kms:EncryptionContext:dept":"x","aws:username":"bob"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := deny.Evaluate(req, true); got != Allow {
		t.Errorf("Deny whose other condition fails = %v, want Allow", got)
	}
	keys, err := Parse(doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{
		"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Dept"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := keys.Evaluate(req, true); got != Allow {
		t.Errorf("kms:EncryptionContextKeys = %v, want Allow", got)
	}
	// An equal string is not the marker: only the shared slice is.
	fake := Values{}
	fake.Set("kms:EncryptionContext:dept", Ambiguous()[0])
	p, err := Parse(doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:dept":"x"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Evaluate(&Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice, Context: fake}, true); got != Allow {
		t.Errorf("copied marker value = %v, want Allow (an ordinary value)", got)
	}
}
