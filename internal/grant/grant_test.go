package grant_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/policy"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// The principals and fixture of the grant tests (kmstest.PolicyEnv).
var gRoot, gRootB, gBob, gAlice, gCarol = kmstest.AccountRoot, kmstest.AccountBRoot, kmstest.Bob, kmstest.Alice, kmstest.Carol

func newGrantEnv(t testing.TB) *kmstest.PolicyEnv { return kmstest.NewPolicyEnv(t) }

func encrypt(svc *kmstest.Node, ctx context.Context, keyID string, ec map[string]string, tokens ...string) error {
	_, err := svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &keyID, Plaintext: []byte("hello"), EncryptionContext: ec, GrantTokens: tokens})
	return err
}

func sp(s string) *string { return &s }

func ptr[T any](v T) *T { return &v }

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if got := awserr.CodeOf(err); got != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

func TestGrantAllowsAndRevokeDenies(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	arn := "arn:aws:kms:us-east-1:111122223333:key/" + id
	err := encrypt(e.Node, e.As(gBob), id, nil)
	if e := awserr.As(err); e == nil || e.Message != policy.DenyNoIdentityPolicy(gBob.ARN, "kms:Encrypt", arn).Message {
		t.Fatalf("before the grant: got %v", err)
	}
	g := e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt", "Decrypt"}})
	if len(g.GrantID) != 64 || g.GrantToken == "" {
		t.Fatalf("grant ID %q token %q", g.GrantID, g.GrantToken)
	}
	if err := encrypt(e.Node, e.As(gBob), id, nil); err != nil {
		t.Fatalf("with the grant: %v", err)
	}
	if len(e.Trace.GrantIDs) != 1 || e.Trace.GrantIDs[0] != g.GrantID {
		t.Fatalf("trace grant IDs %v, want [%s]", e.Trace.GrantIDs, g.GrantID)
	}
	// The grant does not cover other operations or other principals.
	_, err = e.Node.GenerateDataKey(e.As(gBob), &wire.GenerateDataKeyInput{KeyID: &id, KeySpec: sp("AES_256")})
	wantCode(t, err, awserr.AccessDenied)
	wantCode(t, encrypt(e.Node, e.As(gAlice), id, nil), awserr.AccessDenied)

	if _, err := e.Node.Grants.RevokeGrant(e.As(gRoot), &wire.RevokeGrantInput{KeyID: &id, GrantID: &g.GrantID}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, encrypt(e.Node, e.As(gBob), id, nil), awserr.AccessDenied)
	wantCode(t, encrypt(e.Node, e.As(gBob), id, nil, g.GrantToken), awserr.AccessDenied)
	_, err = e.Node.Grants.RevokeGrant(e.As(gRoot), &wire.RevokeGrantInput{KeyID: &id, GrantID: &g.GrantID})
	wantCode(t, err, awserr.NotFound)
}

func TestGrantConstraints(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	eq := e.Key("")
	e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt", "DescribeKey"},
		Constraints: &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "finance"}}})
	e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &eq, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"},
		Constraints: &wire.GrantConstraints{EncryptionContextEquals: map[string]string{"dept": "finance"}}})
	cases := []struct {
		name string
		key  string
		ec   map[string]string
		want string
	}{
		{"ok/subset exact", id, map[string]string{"dept": "finance"}, ""},
		{"ok/subset with more pairs", id, map[string]string{"dept": "finance", "app": "x"}, ""},
		{"fail/subset other value", id, map[string]string{"dept": "hr"}, awserr.AccessDenied},
		// Grant constraints match keys without regard to case, values
		// exactly (AWS KMS Developer Guide, GrantConstraints).
		{"ok/subset key case differs", id, map[string]string{"Dept": "finance"}, ""},
		{"fail/subset keys collide under case folding", id, map[string]string{"dept": "finance", "Dept": "finance"}, awserr.AccessDenied},
		{"fail/subset colliding key hides another value", id, map[string]string{"dept": "hr", "Dept": "finance"}, awserr.AccessDenied},
		{"fail/subset value case differs", id, map[string]string{"dept": "Finance"}, awserr.AccessDenied},
		{"fail/subset no context", id, nil, awserr.AccessDenied},
		{"ok/equals exact", eq, map[string]string{"dept": "finance"}, ""},
		{"ok/equals key case differs", eq, map[string]string{"DEPT": "finance"}, ""},
		{"fail/equals with more pairs", eq, map[string]string{"dept": "finance", "app": "x"}, awserr.AccessDenied},
		{"fail/equals keys collide under case folding", eq, map[string]string{"dept": "finance", "Dept": "finance"}, awserr.AccessDenied},
		{"fail/equals no context", eq, nil, awserr.AccessDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, encrypt(e.Node, e.As(gBob), c.key, c.ec), c.want)
		})
	}
	t.Run("ok/constraints do not apply to DescribeKey", func(t *testing.T) {
		_, err := e.Node.DescribeKey(e.As(gBob), &wire.KeyIDInput{KeyID: &id})
		wantCode(t, err, "")
	})
	t.Run("fail/constraints with Sign", func(t *testing.T) {
		_, err := e.Node.Grants.CreateGrant(e.As(gRoot), &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Sign"},
			Constraints: &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"a": "b"}}})
		wantCode(t, err, awserr.Validation)
	})
}

// TestGrantTokenAtOnce: a second node whose cache already holds the key's
// (empty) grant set honours a new grant at once when given its token.
func TestGrantTokenAtOnce(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	other := e.NewNode()
	wantCode(t, encrypt(other, e.As(gBob), id, nil), awserr.AccessDenied) // caches "no grants"
	g := e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
	wantCode(t, encrypt(other, e.As(gBob), id, nil), awserr.AccessDenied)
	wantCode(t, encrypt(other, e.As(gBob), id, nil, g.GrantToken), "")
	other.Jobs.SyncChanges(context.Background())
	wantCode(t, encrypt(other, e.As(gBob), id, nil), "")
	// Revocation on one node reaches the other through the change feed.
	if _, err := e.Node.Grants.RevokeGrant(e.As(gRoot), &wire.RevokeGrantInput{KeyID: &id, GrantID: &g.GrantID}); err != nil {
		t.Fatal(err)
	}
	other.Jobs.SyncChanges(context.Background())
	wantCode(t, encrypt(other, e.As(gBob), id, nil), awserr.AccessDenied)

	for _, tok := range []string{"not base64!", "AAAA", g.GrantToken[:len(g.GrantToken)-4] + "AAAA"} {
		wantCode(t, encrypt(e.Node, e.As(gBob), id, nil, tok), awserr.InvalidGrantToken)
	}
}

func TestGrantNameIdempotent(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	in := &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt", "Decrypt"}, Name: sp("app-1")}
	a := e.Grant(e.Node, gRoot, in)
	b := e.Grant(e.Node, gRoot, in)
	if a.GrantID != b.GrantID {
		t.Fatalf("retry with the same name: %s != %s", a.GrantID, b.GrantID)
	}
	if a.GrantToken == b.GrantToken {
		t.Fatal("retry returned the same token")
	}
	in.Operations = []string{"Encrypt"}
	c := e.Grant(e.Node, gRoot, in)
	if c.GrantID == a.GrantID {
		t.Fatal("different parameters returned the original grant")
	}
	list, err := e.Node.Grants.ListGrants(e.As(gRoot), &wire.ListGrantsInput{KeyID: &id})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Grants) != 2 {
		t.Fatalf("%d grants, want 2", len(list.Grants))
	}
}

func TestListGrants(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	var ids []string
	for i := 0; i < 5; i++ {
		grantee := gBob.ARN
		if i%2 == 1 {
			grantee = gAlice.ARN
		}
		g := e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: &grantee, RetiringPrincipal: sp(gAlice.ARN),
			Operations: []string{"Decrypt"}, Constraints: &wire.GrantConstraints{EncryptionContextEquals: map[string]string{"n": "v"}}})
		ids = append(ids, g.GrantID)
	}
	// Pages of two.
	var got []wire.GrantListEntry
	in := &wire.ListGrantsInput{KeyID: &id, Limit: ptr(int64(2))}
	for {
		out, err := e.Node.Grants.ListGrants(e.As(gRoot), in)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Grants...)
		if !out.Truncated {
			break
		}
		in.Marker = sp(out.NextMarker)
	}
	if len(got) != 5 {
		t.Fatalf("%d grants listed, want 5", len(got))
	}
	g0 := got[0]
	if g0.KeyID != "arn:aws:kms:us-east-1:111122223333:key/"+id || g0.IssuingAccount != "arn:aws:iam::111122223333:root" ||
		g0.RetiringPrincipal != gAlice.ARN || len(g0.Operations) != 1 || g0.Operations[0] != "Decrypt" ||
		g0.Constraints == nil || g0.Constraints.EncryptionContextEquals["n"] != "v" || g0.CreationDate == nil {
		b, _ := json.Marshal(g0)
		t.Fatalf("entry %s", b)
	}
	out, err := e.Node.Grants.ListGrants(e.As(gRoot), &wire.ListGrantsInput{KeyID: &id, GranteePrincipal: sp(gAlice.ARN)})
	if err != nil || len(out.Grants) != 2 {
		t.Fatalf("filter by grantee: %v %d", err, len(out.Grants))
	}
	out, err = e.Node.Grants.ListGrants(e.As(gRoot), &wire.ListGrantsInput{KeyID: &id, GrantID: &ids[3]})
	if err != nil || len(out.Grants) != 1 || out.Grants[0].GrantID != ids[3] {
		t.Fatalf("filter by grant ID: %v %+v", err, out)
	}
	_, err = e.Node.Grants.ListGrants(e.As(gRoot), &wire.ListGrantsInput{KeyID: &id, Marker: sp("bogus")})
	wantCode(t, err, awserr.InvalidMarker)
	_, err = e.Node.Grants.ListGrants(e.As(gBob), &wire.ListGrantsInput{KeyID: &id})
	wantCode(t, err, awserr.AccessDenied)

	// ListRetirableGrants finds them all through the retiring principal.
	rin := &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(gAlice.ARN), Limit: ptr(int64(3))}
	n := 0
	for {
		r, err := e.Node.Grants.ListRetirableGrants(e.As(gRoot), rin)
		if err != nil {
			t.Fatal(err)
		}
		n += len(r.Grants)
		if !r.Truncated {
			break
		}
		rin.Marker = sp(r.NextMarker)
	}
	if n != 5 {
		t.Fatalf("%d retirable grants, want 5", n)
	}
	_, err = e.Node.Grants.ListRetirableGrants(e.As(gBob), &wire.ListRetirableGrantsInput{RetiringPrincipal: sp(gAlice.ARN)})
	wantCode(t, err, awserr.AccessDenied)
}

func TestRetireGrant(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	mk := func(ops ...string) *wire.CreateGrantOutput {
		return e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), RetiringPrincipal: sp(gAlice.ARN), Operations: ops})
	}
	cases := []struct {
		name   string
		caller *kms.Caller
		ops    []string
		byTok  bool
		want   string
	}{
		{"ok/retiring principal by token", gAlice, []string{"Encrypt"}, true, ""},
		{"ok/retiring principal by ID", gAlice, []string{"Encrypt"}, false, ""},
		{"ok/grantee with RetireGrant", gBob, []string{"Encrypt", "RetireGrant"}, true, ""},
		{"fail/grantee without RetireGrant", gBob, []string{"Encrypt"}, false, awserr.AccessDenied},
		{"ok/key owner root", gRoot, []string{"Encrypt"}, false, ""},
		{"fail/stranger", gCarol, []string{"Encrypt"}, true, awserr.AccessDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := mk(c.ops...)
			in := &wire.RetireGrantInput{GrantToken: &g.GrantToken}
			if !c.byTok {
				in = &wire.RetireGrantInput{KeyID: sp("arn:aws:kms:us-east-1:111122223333:key/" + id), GrantID: &g.GrantID}
			}
			_, err := e.Node.Grants.RetireGrant(e.As(c.caller), in)
			wantCode(t, err, c.want)
			_, err = e.Node.Grants.RetireGrant(e.As(gRoot), &wire.RetireGrantInput{KeyID: &id, GrantID: &g.GrantID})
			if c.want == "" {
				wantCode(t, err, awserr.NotFound) // already retired
			} else {
				wantCode(t, err, "")
			}
		})
	}
	t.Run("fail/neither token nor IDs", func(t *testing.T) {
		_, err := e.Node.Grants.RetireGrant(e.As(gRoot), &wire.RetireGrantInput{KeyID: &id})
		wantCode(t, err, awserr.Validation)
	})
	t.Run("fail/malformed grant ID", func(t *testing.T) {
		_, err := e.Node.Grants.RetireGrant(e.As(gRoot), &wire.RetireGrantInput{KeyID: &id, GrantID: sp("xyz")})
		wantCode(t, err, awserr.InvalidGrantID)
	})
	t.Run("fail/dry run", func(t *testing.T) {
		g := mk("Encrypt")
		_, err := e.Node.Grants.RetireGrant(e.As(gAlice), &wire.RetireGrantInput{GrantToken: &g.GrantToken, DryRun: ptr(true)})
		wantCode(t, err, awserr.DryRunOperation)
		_, err = e.Node.Grants.RetireGrant(e.As(gAlice), &wire.RetireGrantInput{GrantToken: &g.GrantToken})
		wantCode(t, err, "")
	})
}

// TestGrantCreatedThroughGrant: a grantee with CreateGrant may delegate no
// more than it holds.
func TestGrantCreatedThroughGrant(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	parent := e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt", "Decrypt", "CreateGrant"},
		Constraints: &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "finance"}}})
	cases := []struct {
		name string
		ops  []string
		con  *wire.GrantConstraints
		want string
	}{
		{"ok/same operations same constraint", []string{"Encrypt"}, &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "finance"}}, ""},
		{"ok/stricter subset", []string{"Decrypt"}, &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "finance", "app": "x"}}, ""},
		{"ok/equals within subset", []string{"Decrypt"}, &wire.GrantConstraints{EncryptionContextEquals: map[string]string{"dept": "finance"}}, ""},
		{"fail/no constraint", []string{"Decrypt"}, nil, awserr.AccessDenied},
		{"fail/other constraint", []string{"Decrypt"}, &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "hr"}}, awserr.AccessDenied},
		{"fail/more operations", []string{"GenerateDataKey"}, &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"dept": "finance"}}, awserr.AccessDenied},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Node.Grants.CreateGrant(e.As(gBob), &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gAlice.ARN), Operations: c.ops, Constraints: c.con})
			wantCode(t, err, c.want)
			if c.want == "" && (len(e.Trace.GrantIDs) != 1 || e.Trace.GrantIDs[0] != parent.GrantID) {
				t.Fatalf("trace %v, want the parent grant", e.Trace.GrantIDs)
			}
		})
	}
}

// TestCrossAccountGrant: a principal of another account uses a key of
// account A through a grant, naming the key by ARN.
func TestCrossAccountGrant(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	arn := "arn:aws:kms:us-east-1:111122223333:key/" + id
	wantCode(t, encrypt(e.Node, e.As(gCarol), arn, nil), awserr.AccessDenied)
	e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gCarol.ARN), Operations: []string{"Encrypt", "DescribeKey"}})
	wantCode(t, encrypt(e.Node, e.As(gCarol), arn, nil), "")
	wantCode(t, encrypt(e.Node, e.As(gCarol), id, nil), awserr.NotFound) // a bare ID resolves in carol's account
	_, err := e.Node.Grants.ListGrants(e.As(gCarol), &wire.ListGrantsInput{KeyID: &arn})
	wantCode(t, err, awserr.AccessDenied)
}

// TestKeyPolicyEnforcement covers the policy operations with the engine.
func TestKeyPolicyEnforcement(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	bobOnly := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + gBob.ARN + `"},"Action":"kms:*","Resource":"*"}]}`
	id := e.Key("")
	e.IDs.Set(gAlice.ARN, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`)
	wantCode(t, encrypt(e.Node, e.As(gAlice), id, nil), "")

	_, err := e.Node.PutKeyPolicy(e.As(gRoot), &wire.KeyPolicyInput{KeyID: &id, Policy: &bobOnly})
	if e := awserr.As(err); e == nil || e.Code != awserr.MalformedPolicyDocument || e.Message != policy.MsgLockout {
		t.Fatalf("lockout: got %v", err)
	}
	_, err = e.Node.PutKeyPolicy(e.As(gRoot), &wire.KeyPolicyInput{KeyID: &id, Policy: sp("{")})
	wantCode(t, err, awserr.MalformedPolicyDocument)
	if _, err := e.Node.PutKeyPolicy(e.As(gRoot), &wire.KeyPolicyInput{KeyID: &id, Policy: &bobOnly, BypassPolicyLockoutSafetyCheck: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	// Without the root statement alice's IAM policy is irrelevant, and the
	// root itself is locked out; bob, named directly, is in.
	wantCode(t, encrypt(e.Node, e.As(gAlice), id, nil), awserr.AccessDenied)
	wantCode(t, encrypt(e.Node, e.As(gRoot), id, nil), awserr.AccessDenied)
	wantCode(t, encrypt(e.Node, e.As(gBob), id, nil), "")
	_, err = e.Node.GetKeyPolicy(e.As(gRoot), &wire.KeyPolicyInput{KeyID: &id})
	wantCode(t, err, awserr.AccessDenied)
	// A grant still works for the root.
	e.Grant(e.Node, gBob, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gRoot.ARN), Operations: []string{"Encrypt"}})
	wantCode(t, encrypt(e.Node, e.As(gRoot), id, nil), "")
	// Another node loading the key prepares the stored policy the same way.
	wantCode(t, encrypt(e.NewNode(), e.As(gAlice), id, nil), awserr.AccessDenied)
}

func TestGrantLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50,000 grant records")
	}
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	ops := make([]store.Op, 0, 50000)
	for i := 0; i < 50000; i++ {
		gid := []byte("0000000000000000000000000000000000000000000000000000000000000000")
		for j, n := 63, i; n > 0; j, n = j-1, n/16 {
			gid[j] = "0123456789abcdef"[n%16]
		}
		d, _ := json.Marshal(map[string]any{"id": string(gid), "keyId": id, "keyAccount": "111122223333", "grantee": gCarol.ARN, "operations": []string{"Encrypt"}})
		ops = append(ops, store.Op{Kind: "grant", ID: id + "/" + string(gid), Data: d})
	}
	if err := e.Store.Apply(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	_, err := e.Node.Grants.CreateGrant(e.As(gRoot), &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
	wantCode(t, err, awserr.LimitExceeded)
}

// FuzzRetireGrantToken: arbitrary tokens never panic and are refused with
// InvalidGrantTokenException.
func FuzzRetireGrantToken(f *testing.F) {
	e := newGrantEnv(f)
	id := e.Key("")
	g := e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
	f.Add(g.GrantToken)
	f.Add("AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		if tok == g.GrantToken || tok == "" {
			return
		}
		_, err := e.Node.Grants.RetireGrant(e.As(gRoot), &wire.RetireGrantInput{GrantToken: &tok, DryRun: ptr(true)})
		// A worker process has its own store, so a token of the parent's
		// grant opens but names no grant there.
		switch awserr.CodeOf(err) {
		case awserr.InvalidGrantToken, awserr.Validation, awserr.DryRunOperation, awserr.NotFound:
		default:
			t.Fatalf("token %q: %v", tok, err)
		}
	})
}

// BenchmarkEncryptAuthorizedByGrant is Encrypt by a grantee whom only a
// grant allows: the grant lookup on the hot path.
func BenchmarkEncryptAuthorizedByGrant(b *testing.B) {
	e := newGrantEnv(b)
	id := e.Key("")
	for i := 0; i < 20; i++ {
		e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gCarol.ARN), Operations: []string{"Decrypt"}})
	}
	e.Grant(e.Node, gRoot, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"},
		Constraints: &wire.GrantConstraints{EncryptionContextSubset: map[string]string{"app": "x"}}})
	ctx := kms.WithCaller(context.Background(), gBob)
	in := &wire.EncryptInput{KeyID: &id, Plaintext: []byte("hello"), EncryptionContext: map[string]string{"app": "x"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Node.Encrypt(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// TestGrantConcurrency creates, uses and revokes grants from many
// goroutines at once (run with -race): every grant is usable with its
// token as soon as CreateGrant returns, and unusable once revoked.
func TestGrantConcurrency(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				g, err := e.Node.Grants.CreateGrant(kms.WithCaller(context.Background(), gRoot), &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
				if err != nil {
					errs <- err
					return
				}
				bob := kms.WithCaller(context.Background(), gBob)
				if err := encrypt(e.Node, bob, id, nil, g.GrantToken); err != nil {
					errs <- err
					return
				}
				if _, err := e.Node.Grants.RevokeGrant(kms.WithCaller(context.Background(), gRoot), &wire.RevokeGrantInput{KeyID: &id, GrantID: &g.GrantID}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	wantCode(t, encrypt(e.Node, e.As(gBob), id, nil), awserr.AccessDenied)
}
