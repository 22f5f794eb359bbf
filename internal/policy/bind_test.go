package policy

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestPrincipals(t *testing.T) {
	t.Parallel()
	p, err := Parse(doc(stRootA,
		`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/team/alice","444455556666","arn:aws:sts::111122223333:assumed-role/Dev/s2"]},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:role/Admin","arn:aws:iam::111122223333:user/team/alice"]},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}`,
		stAllowAll))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"arn:aws:iam::111122223333:user/team/alice", "arn:aws:iam::111122223333:role/Admin"}
	if got := p.Principals(); !slices.Equal(got, want) {
		t.Fatalf("Principals() = %q, want %q", got, want)
	}
}

func TestBind(t *testing.T) {
	t.Parallel()
	const (
		aliceARN = "arn:aws:iam::111122223333:user/alice"
		devARN   = "arn:aws:iam::111122223333:role/Dev"
	)
	use := `{"Effect":"Allow","Principal":{"AWS":["` + aliceARN + `","` + devARN + `"]},"Action":"kms:Encrypt","Resource":"*"}`
	denyOthers := `{"Effect":"Deny","NotPrincipal":{"AWS":["` + aliceARN + `","arn:aws:iam::111122223333:root"]},"Action":"kms:Decrypt","Resource":"*"}`
	p, err := Parse(doc(use, denyOthers))
	if err != nil {
		t.Fatal(err)
	}
	bound := p.Bind(map[string]string{aliceARN: "AIDAALICE", devARN: "AROADEV"})
	if bound == p {
		t.Fatal("Bind returned the unbound policy")
	}
	if p.Bind(nil) != p || p.Bind(map[string]string{"arn:aws:iam::111122223333:user/zed": "AIDAZED"}) != p {
		t.Fatal("Bind that binds nothing must return p")
	}
	newAlice := alice
	newAlice.UserID = "AIDANEWALICE" // alice deleted and re-created
	newDev := dev
	newDev.UserID = "AROANEWDEV:s2"
	noID := alice
	noID.UserID = ""
	cases := []struct {
		name   string
		p      *Policy
		who    Principal
		action string
		want   Decision
	}{
		{"ok/unbound-matches-by-arn", p, newAlice, "kms:Encrypt", Allow},
		{"ok/bound-user-same-id", bound, alice, "kms:Encrypt", Allow},
		{"fail/bound-user-recreated", bound, newAlice, "kms:Encrypt", NotApplicable},
		{"fail/bound-user-no-id", bound, noID, "kms:Encrypt", NotApplicable},
		{"ok/bound-role-session", bound, dev, "kms:Encrypt", Allow},
		{"fail/bound-role-recreated", bound, newDev, "kms:Encrypt", NotApplicable},
		// NotPrincipal names the old alice: the new one is not excluded.
		{"ok/notprincipal-excludes-bound", bound, alice, "kms:Decrypt", NotApplicable},
		{"fail/notprincipal-recreated-not-excluded", bound, newAlice, "kms:Decrypt", Deny},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &Request{Action: c.action, Resource: keyARN, Principal: c.who}
			if got := c.p.Evaluate(req, true); got != c.want {
				t.Fatalf("Evaluate = %v, want %v", got, c.want)
			}
		})
	}
	// The unbound policy keeps its own statements.
	if got := p.Evaluate(&Request{Action: "kms:Encrypt", Resource: keyARN, Principal: newAlice}, true); got != Allow {
		t.Fatalf("Bind modified p: %v", got)
	}
}

func TestBoundToAllocatesNothing(t *testing.T) {
	p, err := Parse(doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Dev"},"Action":"kms:Encrypt","Resource":"*"}`))
	if err != nil {
		t.Fatal(err)
	}
	b := p.Bind(map[string]string{"arn:aws:iam::111122223333:role/Dev": "AROADEV"})
	req := &Request{Action: "kms:Encrypt", Resource: keyARN, Principal: dev}
	if n := testing.AllocsPerRun(100, func() { b.Evaluate(req, true) }); n != 0 {
		t.Fatalf("evaluating a bound policy allocates %v times", n)
	}
}

func TestGrantBound(t *testing.T) {
	t.Parallel()
	g := &Grant{GranteePrincipal: dev.RoleARN, GranteeID: "AROADEV", Operations: []string{"Decrypt"}}
	if !g.Allows(dev, "Decrypt", nil) {
		t.Fatal("bound role grant refused the role's session")
	}
	other := dev
	other.UserID = "AROADEVX:s2" // an ID that only shares a prefix
	if g.Allows(other, "Decrypt", nil) {
		t.Fatal("bound role grant allowed another role's session")
	}
	u := &Grant{GranteePrincipal: alice.ARN, GranteeID: "AIDAALICE", Operations: []string{"Decrypt"}}
	newAlice := alice
	newAlice.UserID = "AIDANEWALICE"
	if !u.Allows(alice, "Decrypt", nil) || u.Allows(newAlice, "Decrypt", nil) {
		t.Fatal("bound user grant: want the old alice only")
	}
}

func TestRenderPrincipals(t *testing.T) {
	t.Parallel()
	const aliceARN = "arn:aws:iam::111122223333:user/alice"
	repl := map[string]string{aliceARN: "AIDAALICE"}
	cases := []struct{ name, in, want string }{
		{"ok/string", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + aliceARN + `"},"Action":"kms:*","Resource":"*"}]}`,
			`{"Statement":[{"Effect":"Allow","Principal":{"AWS":"AIDAALICE"},"Action":"kms:*","Resource":"*"}]}`},
		{"ok/array-keeps-formatting", "{\n  \"Statement\" : {\n    \"NotPrincipal\" : { \"AWS\" : [ \"arn:aws:iam::111122223333:root\", \"" + aliceARN + "\" ] }\n  }\n}",
			"{\n  \"Statement\" : {\n    \"NotPrincipal\" : { \"AWS\" : [ \"arn:aws:iam::111122223333:root\", \"AIDAALICE\" ] }\n  }\n}"},
		{"ok/escaped-arn", `{"Statement":[{"Principal":{"AWS":"arn:aws:iam::111122223333:user\/alice"}}]}`,
			`{"Statement":[{"Principal":{"AWS":"AIDAALICE"}}]}`},
		{"ok/condition-untouched", `{"Statement":[{"Principal":"*","Condition":{"StringEquals":{"aws:PrincipalArn":"` + aliceARN + `"}},"AWS":"` + aliceARN + `"}]}`,
			`{"Statement":[{"Principal":"*","Condition":{"StringEquals":{"aws:PrincipalArn":"` + aliceARN + `"}},"AWS":"` + aliceARN + `"}]}`},
		{"ok/service-untouched", `{"Statement":[{"Principal":{"Service":"` + aliceARN + `"}}]}`,
			`{"Statement":[{"Principal":{"Service":"` + aliceARN + `"}}]}`},
		{"fail/not-json-unchanged", `{"Statement":[{"Principal":{"AWS":"` + aliceARN + `"}`, `{"Statement":[{"Principal":{"AWS":"` + aliceARN + `"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := RenderPrincipals(c.in, repl); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// FuzzRenderPrincipals: rendering never panics and keeps valid JSON valid.
func FuzzRenderPrincipals(f *testing.F) {
	f.Add(`{"Statement":[{"Principal":{"AWS":["arn:aws:iam::111122223333:user/alice"]}}]}`)
	f.Add(`{"Statement":{"NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"}}}`)
	f.Add(`[1,{"a":"\u0041"},true,null]`)
	repl := map[string]string{"arn:aws:iam::111122223333:user/alice": "AIDAALICE"}
	f.Fuzz(func(t *testing.T, d string) {
		out := RenderPrincipals(d, repl)
		if json.Valid([]byte(d)) && !json.Valid([]byte(out)) {
			t.Fatalf("rendered %q into invalid JSON %q", d, out)
		}
	})
}
