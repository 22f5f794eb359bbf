package kmstest

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
	"github.com/trentkms/trent/internal/wire"
)

// Clock is a controllable clock (kms.Config.Now).
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Env is nodes over one SQLite store and root key with a controlled clock,
// recording the service events their jobs emit: the fixture of the tests of
// the key lifecycle (rotation, deletion, imported material). It has the
// default authorizer (a principal may act on its own account's keys).
type Env struct {
	T     testing.TB
	Store store.Store
	Root  rootkey.Provider
	Clock *Clock
	// Ctx calls as the root of account 111122223333.
	Ctx context.Context
	// Node is the first node ("node-a"); NewNode makes others.
	Node *Node

	mu     sync.Mutex
	events []job.Event
}

// NewEnv returns an Env with one node, its clock at 2026-01-01 12:00 UTC.
func NewEnv(t testing.TB) *Env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Store: st, Root: root, Clock: &Clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}}
	e.Ctx = kms.WithCaller(context.Background(), &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", Type: "Root"})
	e.Node = e.NewNode("node-a")
	return e
}

// NewNode returns another node over e's store, named id for the
// scheduler's lease.
func (e *Env) NewNode(id string) *Node {
	e.T.Helper()
	return New(e.T, Config{KMS: kms.Config{Store: e.Store, Root: e.Root, Now: e.Clock.Now}, Job: job.Config{NodeID: id,
		Events: func(_ context.Context, ev job.Event) error {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
			return nil
		}}})
}

// EventNames returns the names of the service events recorded so far.
func (e *Env) EventNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for _, ev := range e.events {
		names = append(names, ev.Name)
	}
	return names
}

// CreateKey creates a key on the first node, failing the test if it
// cannot.
func (e *Env) CreateKey(in *wire.CreateKeyInput) *wire.KeyMetadata {
	e.T.Helper()
	out, err := e.Node.CreateKey(e.Ctx, in)
	if err != nil {
		e.T.Fatal(err)
	}
	return out.KeyMetadata
}

// RunJobs runs n's due jobs and returns how many ran, failing the test on
// an error.
func (e *Env) RunJobs(n *Node) int {
	e.T.Helper()
	ran, err := n.Jobs.RunDueJobs(e.Ctx)
	if err != nil {
		e.T.Fatal(err)
	}
	return ran
}

// MaterialOf returns the key-material ID a symmetric ciphertext names
// (Encrypt's response does not carry it; Decrypt's does).
func MaterialOf(t testing.TB, blob []byte) string {
	t.Helper()
	b, err := ciphertext.Parse(blob)
	if err != nil {
		t.Fatalf("parse ciphertext: %v", err)
	}
	return ciphertext.MaterialIDString(b.MaterialID)
}
