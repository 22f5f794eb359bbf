package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
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
