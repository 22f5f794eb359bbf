package kmstest

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/authz"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
	"github.com/trentkms/trent/internal/wire"
)

// Principals of the policy tests: account 111122223333 owns the keys; Carol
// and AccountBRoot are of account 444455556666.
var (
	AccountRoot  = &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", Type: "Root", PrincipalID: "111122223333"}
	AccountBRoot = &kms.Caller{Account: "444455556666", ARN: "arn:aws:iam::444455556666:root", Type: "Root", PrincipalID: "444455556666"}
	Bob          = &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/bob", Type: "IAMUser", UserName: "bob", PrincipalID: "AIDABOB"}
	Alice        = &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice", Type: "IAMUser", UserName: "alice", PrincipalID: "AIDAALICE"}
	Carol        = &kms.Caller{Account: "444455556666", ARN: "arn:aws:iam::444455556666:user/carol", Type: "IAMUser", UserName: "carol", PrincipalID: "AIDACAROL"}
)

// Identities is an in-memory identity policy source (authz.Identities).
// Its zero value is ready.
type Identities struct {
	mu sync.Mutex
	m  map[string][]string
}

// IdentityPolicies returns the policies set for c's ARN.
func (p *Identities) IdentityPolicies(_ context.Context, c *kms.Caller) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[c.ARN], nil
}

// Set makes docs the identity policies of the principal arn.
func (p *Identities) Set(arn string, docs ...string) {
	p.mu.Lock()
	if p.m == nil {
		p.m = map[string][]string{}
	}
	p.m[arn] = docs
	p.mu.Unlock()
}

// PolicyEnv is nodes over one SQLite store and root key with the policy
// engine (package authz) over Identities: the fixture of the tests of
// policies and grants.
type PolicyEnv struct {
	T     testing.TB
	Store store.Store
	Root  rootkey.Provider
	IDs   *Identities
	// Node is the first node; NewNode makes others.
	Node *Node
	// Trace is the trace of the context As returned last.
	Trace *kms.Trace
}

// NewPolicyEnv returns a PolicyEnv with one node.
func NewPolicyEnv(t testing.TB) *PolicyEnv {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(bytes.Repeat([]byte{0x3c}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &PolicyEnv{T: t, Store: st, Root: root, IDs: &Identities{}}
	e.Node = e.NewNode()
	return e
}

// NewNode returns another node over e's store with the policy engine
// installed. Its change feed is read only when a test calls SyncChanges.
func (e *PolicyEnv) NewNode() *Node { return e.NewNodeWith(Config{}) }

// NewNodeWith is NewNode with cfg's settings (its store and root key are
// e's).
func (e *PolicyEnv) NewNodeWith(cfg Config) *Node {
	cfg.KMS.Store, cfg.KMS.Root, cfg.Job.PollInterval = e.Store, e.Root, time.Hour
	n := New(e.T, cfg)
	n.SetAuthorizer(authz.New(authz.Config{Identities: e.IDs}))
	return n
}

// As returns a context for caller carrying a fresh trace (e.Trace).
func (e *PolicyEnv) As(c *kms.Caller) context.Context {
	e.Trace = &kms.Trace{}
	return kms.WithTrace(kms.WithCaller(context.Background(), c), e.Trace)
}

// Key creates a key with policyDoc ("" for the default policy) as
// AccountRoot and returns its ID.
func (e *PolicyEnv) Key(policyDoc string) string {
	e.T.Helper()
	in := &wire.CreateKeyInput{}
	if policyDoc != "" {
		in.Policy = &policyDoc
	}
	out, err := e.Node.CreateKey(e.As(AccountRoot), in)
	if err != nil {
		e.T.Fatal(err)
	}
	return out.KeyMetadata.KeyID
}

// Grant creates a grant on node n as caller c, failing the test if it
// cannot.
func (e *PolicyEnv) Grant(n *Node, c *kms.Caller, in *wire.CreateGrantInput) *wire.CreateGrantOutput {
	e.T.Helper()
	out, err := n.Grants.CreateGrant(e.As(c), in)
	if err != nil {
		e.T.Fatalf("CreateGrant: %v", err)
	}
	return out
}
