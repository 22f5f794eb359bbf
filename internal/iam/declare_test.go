package iam_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/sigv4"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// declClock is a settable clock for the directory.
type declClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *declClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *declClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func newDeclDir(t *testing.T) (*iam.Directory, store.Store, *declClock) {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	c := &declClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	return iam.New(st, root, "aws", c.now), st, c
}

// applyDecl parses and applies a principals file whose secret_env names
// are looked up in env.
func applyDecl(t *testing.T, d *iam.Directory, doc string, env map[string]string) []iam.Skipped {
	t.Helper()
	p, err := iam.ParsePrincipals([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	skipped, err := d.ApplyPrincipals(ctxT(t), p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return skipped
}

// wantSkipped fails unless skipped names exactly the kind/name pairs in
// want, each with a reason containing the given text.
func wantSkipped(t *testing.T, skipped []iam.Skipped, want map[string]string) {
	t.Helper()
	if len(skipped) != len(want) {
		t.Fatalf("skipped = %v, want %d", skipped, len(want))
	}
	for _, s := range skipped {
		text, ok := want[s.Kind+" "+s.Name]
		if !ok || !strings.Contains(s.Reason, text) {
			t.Fatalf("skipped %s %s: %q; want reason containing %q", s.Kind, s.Name, s.Reason, text)
		}
	}
}

// userPolicies returns the identity policies an access key gets.
func keyPolicies(t *testing.T, d *iam.Directory, akid string) []string {
	t.Helper()
	c, err := d.Caller(ctxT(t), akid)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := d.IdentityPolicies(ctxT(t), c)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func wantGone(t *testing.T, d *iam.Directory, akid string) {
	t.Helper()
	if _, err := d.Lookup(ctxT(t), akid); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
		t.Fatalf("access key %s: %v, want it deleted", akid, err)
	}
}

const declAllKMS = `'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'`
const declUseKMS = `'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}'`
const declTrustRoot = `'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}'`

// TestPrincipalsFileOwned: what the file creates is marked, and applying
// the file again updates it, leaving keys made through the API alone.
func TestPrincipalsFileOwned(t *testing.T) {
	t.Parallel()
	d, _, _ := newDeclDir(t)
	ctx := ctxT(t)
	doc := func(pol string) string {
		return `accounts:
  - id: "111122223333"
    users:
      - name: ci
        path: /ci/
        policies: {p: ` + pol + `}
    roles:
      - name: deployer
        path: /ops/
        trust_policy: ` + declTrustRoot + `
        policies: {p: ` + pol + `}
`
	}
	wantSkipped(t, applyDecl(t, d, doc(declUseKMS), nil), nil)
	u, err := d.GetUser(ctx, acct, "ci")
	if err != nil || !u.Declared || u.Path != "/ci/" {
		t.Fatalf("user = %+v, %v", u, err)
	}
	r, err := d.GetRole(ctx, acct, "deployer")
	if err != nil || !r.Declared || r.Path != "/ops/" {
		t.Fatalf("role = %+v, %v", r, err)
	}
	k, _, err := d.CreateUserAccessKey(ctx, acct, "ci")
	if err != nil {
		t.Fatal(err)
	}
	wantSkipped(t, applyDecl(t, d, doc(declAllKMS), nil), nil)
	if docs := keyPolicies(t, d, k.ID); len(docs) != 1 || !strings.Contains(docs[0], `"kms:*"`) {
		t.Fatalf("the user's policies were not updated: %v", docs)
	}
	if got, _ := d.GetRolePolicy(ctx, acct, "deployer", "p"); !strings.Contains(got, `"kms:*"`) {
		t.Fatalf("the role's policy was not updated: %s", got)
	}
	// A user made through the API has no mark, and the API cannot set one.
	api, err := d.CreateUser(ctx, acct, "api", "")
	if err != nil || api.Declared {
		t.Fatalf("API user = %+v, %v", api, err)
	}
}

// TestPrincipalsFileSkipsSquats: a user or role of a declared name that
// the file did not create (even with the declared path), a name taken in
// another case, a role trusting a skipped user, and an access key ID held
// by another principal are not applied; the rest of the file is, and the
// application does not fail.
func TestPrincipalsFileSkipsSquats(t *testing.T) {
	t.Parallel()
	d, _, clk := newDeclDir(t)
	ctx := ctxT(t)
	if err := d.StartPrincipalsEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	clk.set(clk.now().Add(time.Hour))
	// The squats, after the epoch, with the declared paths.
	if _, err := d.CreateUser(ctx, acct, "admin", "/admins/"); err != nil {
		t.Fatal(err)
	}
	squatKey, _, err := d.CreateUserAccessKey(ctx, acct, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "deployer", Path: "/admins/", TrustPolicy: trustFor("arn:aws:iam::111122223333:user/admins/admin")}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, acct, "boss", ""); err != nil {
		t.Fatal(err)
	}
	skipped := applyDecl(t, d, `accounts:
  - id: "111122223333"
    root_access_keys:
      - {id: `+squatKey.ID+`, secret_env: S}
    users:
      - name: admin
        path: /admins/
        policies: {all: `+declAllKMS+`}
        access_keys:
          - {id: AKIADECLAREDADMIN001, secret_env: S}
      - name: Boss
        policies: {all: `+declAllKMS+`}
      - name: ci
        policies: {use: `+declUseKMS+`}
    roles:
      - name: ops
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/admins/deployer"},"Action":"sts:AssumeRole"}]}'
        policies: {all: `+declAllKMS+`}
      - name: deployer
        path: /admins/
        trust_policy: `+declTrustRoot+`
        policies: {all: `+declAllKMS+`}
      - name: auditor
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Boss"},"Action":"sts:AssumeRole"}]}'
      - name: chained
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111122223333:assumed-role/deployer/job"},"Action":"sts:AssumeRole"}]}'
`, map[string]string{"S": "declared-secret-0123456789"})
	wantSkipped(t, skipped, map[string]string{
		"access key " + squatKey.ID: "belongs to another principal",
		"user admin":                "not created by the principals file",
		"user Boss":                 "only in case",
		"role deployer":             "not created by the principals file",
		"role ops":                  "names arn:aws:iam::111122223333:role/admins/deployer",
		"role auditor":              "names arn:aws:iam::111122223333:user/Boss",
		"role chained":              "names arn:aws:sts::111122223333:assumed-role/deployer/job",
	})
	if docs := keyPolicies(t, d, squatKey.ID); len(docs) != 0 {
		t.Fatalf("the squatter's key got %v", docs)
	}
	if _, err := d.Lookup(ctx, "AKIADECLAREDADMIN001"); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
		t.Fatalf("a declared key was added to the squatted user: %v", err)
	}
	if names, _ := d.ListRolePolicies(ctx, acct, "deployer"); len(names) != 0 {
		t.Fatalf("the squatted role got policies %v", names)
	}
	if r, _ := d.GetRole(ctx, acct, "deployer"); r.Declared || !strings.Contains(r.TrustPolicy, "user/admins/admin") {
		t.Fatalf("the squatted role was changed: %+v", r)
	}
	for _, n := range []string{"ops", "auditor", "chained"} {
		if _, err := d.GetRole(ctx, acct, n); err == nil {
			t.Fatalf("role %s trusting a skipped principal was created", n)
		}
	}
	if u, err := d.GetUser(ctx, acct, "ci"); err != nil || !u.Declared {
		t.Fatalf("the rest of the file was not applied: %+v %v", u, err)
	}
}

// TestPrincipalsFilePathMismatch: an existing user or role whose path is
// not the declared one is not applied, whether the file made it or not.
func TestPrincipalsFilePathMismatch(t *testing.T) {
	t.Parallel()
	d, _, clk := newDeclDir(t)
	ctx := ctxT(t)
	if err := d.StartPrincipalsEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	clk.set(clk.now().Add(time.Hour))
	if _, err := d.CreateUser(ctx, acct, "admin", ""); err != nil {
		t.Fatal(err)
	}
	doc := func(path string) string {
		return `accounts:
  - id: "111122223333"
    users:
      - name: admin
        path: /admins/
        policies: {all: ` + declAllKMS + `}
      - name: ci
        path: ` + path + `
        policies: {use: ` + declUseKMS + `}
    roles:
      - name: deployer
        path: ` + path + `
        trust_policy: ` + declTrustRoot + `
`
	}
	wantSkipped(t, applyDecl(t, d, doc("/a/"), nil), map[string]string{
		"user admin": "exists under path /, not the declared /admins/, and was not created by the principals file",
	})
	if names, _ := d.ListUserPolicies(ctx, acct, "admin"); len(names) != 0 {
		t.Fatalf("policies put on a user of another path: %v", names)
	}
	// The file's own, moved in the file: a move is an adoption (whoever
	// could reach the old path may hold its keys).
	wantSkipped(t, applyDecl(t, d, doc("/b/"), nil), map[string]string{
		"user admin":    "not created by the principals file",
		"user ci":       "exists under path /a/, not the declared /b/",
		"role deployer": "exists under path /a/, not the declared /b/",
	})
	if u, _ := d.GetUser(ctx, acct, "ci"); u.Path != "/a/" {
		t.Fatalf("user moved: %+v", u)
	}
}

// TestPrincipalsFileAdopt: adopt: true takes over a user and a role the
// file did not create: marked and moved to the declared path, with the
// declared policies and trust policy only; the user's undeclared access
// keys are deleted and the role's earlier sessions revoked. Adopting again
// changes nothing.
func TestPrincipalsFileAdopt(t *testing.T) {
	t.Parallel()
	d, _, clk := newDeclDir(t)
	ctx := ctxT(t)
	if err := d.StartPrincipalsEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	clk.set(clk.now().Add(time.Hour))
	if _, err := d.CreateUser(ctx, acct, "admin", ""); err != nil {
		t.Fatal(err)
	}
	squatKey, _, err := d.CreateUserAccessKey(ctx, acct, "admin")
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, d.PutUserPolicy(ctx, acct, "admin", "own", allowKMS), "")
	role, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "deployer", TrustPolicy: trustFor("arn:aws:iam::111122223333:user/admin"), MaxSessionDuration: 43200})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, d.PutRolePolicy(ctx, acct, "deployer", "own", allowKMS), "")
	squatter, err := d.Caller(ctx, squatKey.ID)
	if err != nil {
		t.Fatal(err)
	}
	session, err := d.AssumeRole(ctx, squatter, iam.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/deployer", SessionName: "squat", Duration: 12 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	oldSession, err := d.Caller(ctx, session.Credentials.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	clk.set(clk.now().Add(time.Minute))
	doc := `accounts:
  - id: "111122223333"
    users:
      - name: admin
        path: /admins/
        adopt: true
        policies: {all: ` + declAllKMS + `}
        access_keys:
          - {id: AKIADECLAREDADMIN001, secret_env: S}
    roles:
      - name: deployer
        path: /admins/
        adopt: true
        trust_policy: ` + declTrustRoot + `
        policies: {all: ` + declAllKMS + `}
`
	env := map[string]string{"S": "declared-secret-0123456789"}
	wantSkipped(t, applyDecl(t, d, doc, env), nil)

	u, _ := d.GetUser(ctx, acct, "admin")
	if !u.Declared || u.Path != "/admins/" {
		t.Fatalf("user = %+v", u)
	}
	wantGone(t, d, squatKey.ID)
	if names, _ := d.ListUserPolicies(ctx, acct, "admin"); len(names) != 1 || names[0] != "all" {
		t.Fatalf("user policies = %v", names)
	}
	c, err := d.Caller(ctx, "AKIADECLAREDADMIN001")
	if err != nil || c.ARN != "arn:aws:iam::111122223333:user/admins/admin" {
		t.Fatalf("declared key: %+v %v", c, err)
	}
	r, _ := d.GetRole(ctx, acct, "deployer")
	if !r.Declared || r.Path != "/admins/" || r.RoleID != role.RoleID || r.MaxSessionDuration != 3600 || !strings.Contains(r.TrustPolicy, ":root") {
		t.Fatalf("role = %+v", r)
	}
	if names, _ := d.ListRolePolicies(ctx, acct, "deployer"); len(names) != 1 || names[0] != "all" {
		t.Fatalf("role policies = %v", names)
	}
	wantGone(t, d, session.Credentials.AccessKeyID)
	// Even were its credential still there (another node's cache), the
	// session issued before the adoption gets none of the role's policies.
	if docs, _ := d.IdentityPolicies(ctx, oldSession); len(docs) != 0 {
		t.Fatalf("the squatter's session gets %v", docs)
	}
	// A session issued right after the adoption is dated at the cut
	// (SessionsNotBefore is ahead of the clock) and has the policies.
	fresh, err := d.AssumeRole(ctx, rootCaller, iam.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/admins/deployer", SessionName: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if docs := keyPolicies(t, d, fresh.Credentials.AccessKeyID); len(docs) != 1 {
		t.Fatalf("a session after the adoption gets %v", docs)
	}

	// The file owns them now: adopt: true acts no more.
	apiKey, _, err := d.CreateUserAccessKey(ctx, acct, "admin")
	if err != nil {
		t.Fatal(err)
	}
	wantSkipped(t, applyDecl(t, d, doc, env), nil)
	if _, err := d.Lookup(ctx, apiKey.ID); err != nil {
		t.Fatalf("a key made after the adoption was deleted: %v", err)
	}
	if _, err := d.Lookup(ctx, fresh.Credentials.AccessKeyID); err != nil {
		t.Fatalf("a session made after the adoption was revoked: %v", err)
	}
}

// TestPrincipalsFileUpgrade: the first application after the epoch marks
// the unmarked users and roles of the declared path created before it (an
// earlier Trent's, whose keys are kept), and records that it did; those
// created after the epoch, and any unmarked one later, are skipped.
func TestPrincipalsFileUpgrade(t *testing.T) {
	t.Parallel()
	d, st, clk := newDeclDir(t)
	ctx := ctxT(t)
	t0 := clk.now()
	// What an earlier Trent made when it applied the file.
	if _, err := d.CreateUser(ctx, acct, "ci", ""); err != nil {
		t.Fatal(err)
	}
	ciKey, _, err := d.CreateUserAccessKey(ctx, acct, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "deployer", Path: "/ops/", TrustPolicy: trustFor("arn:aws:iam::111122223333:root")}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, acct, "moved", "/x/"); err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(time.Hour))
	if err := d.StartPrincipalsEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(2 * time.Hour))
	if _, err := d.CreateUser(ctx, acct, "late", ""); err != nil {
		t.Fatal(err)
	}
	doc := `accounts:
  - id: "111122223333"
    users:
      - name: ci
        policies: {use: ` + declUseKMS + `}
      - name: moved
        path: /y/
      - name: late
        policies: {all: ` + declAllKMS + `}
    roles:
      - name: deployer
        path: /ops/
        trust_policy: ` + declTrustRoot + `
        policies: {all: ` + declAllKMS + `}
`
	wantSkipped(t, applyDecl(t, d, doc, nil), map[string]string{
		"user moved": "exists under path /x/",
		"user late":  "not created by the principals file",
	})
	if u, _ := d.GetUser(ctx, acct, "ci"); !u.Declared {
		t.Fatalf("ci not marked: %+v", u)
	}
	if docs := keyPolicies(t, d, ciKey.ID); len(docs) != 1 {
		t.Fatalf("ci's key (kept) gets %v", docs)
	}
	if r, _ := d.GetRole(ctx, acct, "deployer"); !r.Declared {
		t.Fatalf("deployer not marked: %+v", r)
	}
	if names, _ := d.ListRolePolicies(ctx, acct, "deployer"); len(names) != 1 {
		t.Fatalf("deployer policies = %v", names)
	}
	rec, err := st.Get(ctx, iam.KindMeta, "principals")
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Since    time.Time `json:"since"`
		Upgraded bool      `json:"upgraded"`
	}
	if err := json.Unmarshal(rec.Data, &meta); err != nil || !meta.Upgraded || !meta.Since.Equal(t0.Add(time.Hour)) {
		t.Fatalf("meta record = %s (%v)", rec.Data, err)
	}
	// Once only: an unmarked user made before the epoch, declared later,
	// is skipped.
	clk.set(t0)
	if _, err := d.CreateUser(ctx, acct, "older", ""); err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(3 * time.Hour))
	wantSkipped(t, applyDecl(t, d, doc+`  - id: "111122223333"
    users:
      - name: older
`, nil), map[string]string{
		"user moved": "exists under path /x/",
		"user late":  "not created by the principals file",
		"user older": "not created by the principals file",
	})
}

// TestPrincipalsEpochOnce: the epoch is recorded once, by the first caller.
func TestPrincipalsEpochOnce(t *testing.T) {
	t.Parallel()
	d, st, clk := newDeclDir(t)
	ctx := context.Background()
	t0 := clk.now()
	for i := range 3 {
		clk.set(t0.Add(time.Duration(i) * time.Hour))
		if err := d.StartPrincipalsEpoch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := st.Get(ctx, iam.KindMeta, "principals")
	if err != nil || rec.Version != 1 || !strings.Contains(string(rec.Data), t0.Format(time.RFC3339)) {
		t.Fatalf("meta record = %s v%d (%v)", rec.Data, rec.Version, err)
	}
}

// TestPrincipalsFileConcurrentNodes: nodes of a cluster starting together
// apply the file at once; none takes the principals another just created
// for squats, and none fails.
func TestPrincipalsFileConcurrentNodes(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iam.ParsePrincipals([]byte(`accounts:
  - id: "111122223333"
    users:
      - name: ci
        path: /ci/
        policies: {use: ` + declUseKMS + `}
        access_keys:
          - {id: AKIADECLAREDCI00001, secret_env: S}
      - name: ops
        policies: {all: ` + declAllKMS + `}
    roles:
      - name: first
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/second"},"Action":"sts:AssumeRole"}]}'
        policies: {all: ` + declAllKMS + `}
      - name: second
        trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/ci/ci"},"Action":"sts:AssumeRole"}]}'
`))
	if err != nil {
		t.Fatal(err)
	}
	env := func(string) string { return "declared-secret-0123456789" }
	const nodes = 4
	type result struct {
		skipped []iam.Skipped
		err     error
	}
	results := make(chan result, nodes)
	for range nodes {
		d := iam.New(st, root, "aws", nil)
		go func() {
			skipped, err := d.ApplyPrincipals(ctxT(t), p, env)
			results <- result{skipped, err}
		}()
	}
	for range nodes {
		r := <-results
		if r.err != nil || len(r.skipped) != 0 {
			t.Fatalf("a node applying the file: %v, skipped %v", r.err, r.skipped)
		}
	}
	d := iam.New(st, root, "aws", nil)
	for _, n := range []string{"ci", "ops"} {
		if u, err := d.GetUser(ctxT(t), acct, n); err != nil || !u.Declared {
			t.Fatalf("user %s = %+v, %v", n, u, err)
		}
	}
	if docs := keyPolicies(t, d, "AKIADECLAREDCI00001"); len(docs) != 1 {
		t.Fatalf("declared key gets %v", docs)
	}
}
