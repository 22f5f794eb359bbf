package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testKey is a fixed Ed25519 key so that tests are reproducible.
var testKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

func testOptions(dir, node string) Options {
	return Options{Dir: dir, Node: node, Signer: testKey, DigestInterval: time.Hour}
}

func openLog(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// testEvent returns a plausible Decrypt event numbered i.
func testEvent(i int, t time.Time) *Event {
	arn := fmt.Sprintf("arn:aws:kms:us-east-1:111122223333:key/0000000%d-aaaa-bbbb-cccc-000000000000", i%3)
	return &Event{
		UserIdentity: &UserIdentity{Type: "IAMUser", PrincipalID: "AIDAEXAMPLE", ARN: fmt.Sprintf("arn:aws:iam::111122223333:user/u%d", i%2),
			AccountID: "111122223333", AccessKeyID: "AKIAEXAMPLE", UserName: fmt.Sprintf("u%d", i%2)},
		EventTime: t.UTC().Format(time.RFC3339), EventName: []string{"Decrypt", "Encrypt", "GenerateDataKey"}[i%3],
		AWSRegion: "us-east-1", SourceIPAddress: "127.0.0.1", UserAgent: "test",
		RequestParameters: map[string]any{"keyId": arn, "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "n": i},
		RequestID:         fmt.Sprintf("req-%d", i), ReadOnly: true,
		Resources:       []Resource{{AccountID: "111122223333", Type: ResourceTypeKMSKey, ARN: arn}},
		ManagementEvent: true, RecipientAccountID: "111122223333",
	}
}

func appendN(t testing.TB, l *Log, n int) {
	t.Helper()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		if err := l.Append(context.Background(), testEvent(i, base.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func mustVerifyOK(t testing.TB, dir string) *Report {
	t.Helper()
	rep, err := Verify(dir, VerifyOptions{PublicKeys: []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK() {
		for _, n := range rep.Nodes {
			for _, p := range n.Problems {
				t.Errorf("problem: %s", p)
			}
		}
		t.FailNow()
	}
	return rep
}

// memAnchor is an in-memory Anchor. With dir set, every save checks the
// ordering contract: the digest it names is already in the digest file.
type memAnchor struct {
	mu    sync.Mutex
	m     map[string]AnchorState
	saves int
	dir   string
	t     testing.TB
}

func newMemAnchor(t testing.TB, dir string) *memAnchor {
	return &memAnchor{m: map[string]AnchorState{}, dir: dir, t: t}
}

func (a *memAnchor) LoadAnchor(_ context.Context, node string) (AnchorState, bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.m[node]
	return s, ok, nil
}

func (a *memAnchor) SaveAnchor(_ context.Context, s AnchorState) error {
	if a.dir != "" {
		ds, err := readDigests(filepath.Join(a.dir, digestName(s.Node)))
		found := false
		for _, d := range ds {
			found = found || (d.DigestSeq == s.DigestSeq && d.payloadHash.String() == s.DigestHash)
		}
		if err != nil || !found {
			a.t.Errorf("anchor saved for digest %d before the digest was on disk (%v)", s.DigestSeq, err)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[s.Node] = s
	a.saves++
	return nil
}

func (a *memAnchor) get(node string) (AnchorState, bool) {
	s, ok, _ := a.LoadAnchor(context.Background(), node)
	return s, ok
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// eventsNamed returns the records of dir whose eventName is name.
func eventsNamed(t testing.TB, dir, name string) []Entry {
	t.Helper()
	var out []Entry
	if err := Read(dir, Filter{EventName: name}, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func pubKeys() []ed25519.PublicKey { return []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)} }
