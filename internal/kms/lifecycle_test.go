package kms_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
	"github.com/trentkms/trent/internal/wire"
)

// clock is a controllable kms.Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a Service over a real SQLite store with a controlled clock and a
// record of the service events it emitted.
type env struct {
	t     testing.TB
	svc   *kmstest.Node
	store store.Store
	root  rootkey.Provider
	clock *clock
	ctx   context.Context

	mu     sync.Mutex
	events []job.Event
}

var rootKey = bytes.Repeat([]byte{0x5a}, 32)

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(rootKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, root: root, clock: &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}}
	e.ctx = kms.WithCaller(context.Background(), &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", Type: "Root"})
	e.svc = e.newService("node-a")
	return e
}

// newService returns another Service (another "node") over e's store.
func (e *env) newService(node string) *kmstest.Node {
	e.t.Helper()
	return kmstest.New(e.t, kmstest.Config{KMS: kms.Config{Store: e.store, Root: e.root, Now: e.clock.Now}, Job: job.Config{NodeID: node,
		Events: func(_ context.Context, ev job.Event) error {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
			return nil
		}}})
}

func (e *env) eventNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for _, ev := range e.events {
		names = append(names, ev.Name)
	}
	return names
}

func ptr[T any](v T) *T { return &v }

// must returns v, failing t if err is not nil: must(f())(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantErr fails unless err is an *awserr.Error with code and, if msg is not
// "*", exactly that message.
func wantErr(t testing.TB, err error, code, msg string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if e.Code != code || (msg != "*" && e.Message != msg) {
		t.Fatalf("error = %s: %q, want %s: %q", e.Code, e.Message, code, msg)
	}
}

func (e *env) createKey(in *wire.CreateKeyInput) *wire.KeyMetadata {
	e.t.Helper()
	return must(e.svc.CreateKey(e.ctx, in))(e.t).KeyMetadata
}

func (e *env) runJobs(svc *kmstest.Node) int {
	e.t.Helper()
	return must(svc.Jobs.RunDueJobs(e.ctx))(e.t)
}

// materialOf returns the key-material ID a symmetric ciphertext names
// (Encrypt's response does not carry it; Decrypt's does).
func materialOf(t *testing.T, blob []byte) string {
	t.Helper()
	b, err := ciphertext.Parse(blob)
	if err != nil {
		t.Fatalf("parse ciphertext: %v", err)
	}
	return ciphertext.MaterialIDString(b.MaterialID)
}
