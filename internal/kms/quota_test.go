package kms_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/quota"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/postgres"
	"github.com/trentkms/trent/internal/store/postgres/pgtest"
	"github.com/trentkms/trent/internal/store/sqlite"
	"github.com/trentkms/trent/internal/wire"
)

const quotaAcct = "111122223333"

// quotaNodes returns two nodes over st, whose account quotaAcct has the
// resource quotas res (stored before the nodes start, as `trent admin
// quotas set` stores them), and the clock they share.
func quotaNodes(t *testing.T, st store.Store, res quota.Resources) ([2]*kmstest.Node, *kmstest.Clock) {
	t.Helper()
	if _, err := quota.Update(context.Background(), st, quotaAcct, func(q *quota.Quotas) error { q.Resources = res; return nil }); err != nil {
		t.Fatal(err)
	}
	root, err := rootkey.NewStatic(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := &kmstest.Clock{}
	clock.Add(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Sub(time.Time{}))
	var nodes [2]*kmstest.Node
	for i := range nodes {
		nodes[i] = kmstest.New(t, kmstest.Config{KMS: kms.Config{Store: st, Root: root, Now: clock.Now}})
	}
	return nodes, clock
}

// quotaStores runs f over SQLite, and over PostgreSQL when the test
// server is configured (TRENT_TEST_POSTGRES_URL), as cluster mode runs.
func quotaStores(t *testing.T, f func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(context.Background(), pgtest.FreshSchema(t, ""))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		f(t, st)
	})
}

var quotaCtx = kms.WithCaller(context.Background(), &kms.Caller{Account: quotaAcct, ARN: "arn:aws:iam::" + quotaAcct + ":root", Type: "Root"})

// TestKeyQuotaExact races CreateKey on two nodes at an account 3 keys
// short of its (lowered) key quota: exactly 3 succeed, the rest get AWS's
// LimitExceededException; deleting a key makes room for exactly one more.
func TestKeyQuotaExact(t *testing.T) {
	t.Parallel()
	quotaStores(t, func(t *testing.T, st store.Store) {
		const limit, existing = 10, 7
		nodes, clock := quotaNodes(t, st, quota.Resources{Keys: limit})
		var ids []string
		for range existing {
			out, err := nodes[0].CreateKey(quotaCtx, &wire.CreateKeyInput{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, out.KeyMetadata.KeyID)
		}
		var msgs sync.Map
		codes := kmstest.Race(t, nodes, 16, func(n *kmstest.Node, i int) error {
			_, err := n.CreateKey(quotaCtx, &wire.CreateKeyInput{})
			if e := awserr.As(err); e != nil {
				msgs.Store(e.Message, true)
			}
			return err
		})
		if codes[""] != limit-existing || codes[awserr.LimitExceeded] != 16-(limit-existing) {
			t.Fatalf("outcomes %v; want %d successes and %d LimitExceededException", codes, limit-existing, 16-(limit-existing))
		}
		want := fmt.Sprintf("Key quota for this account in this region is %d but the current usage is %d.", limit, limit)
		msgs.Range(func(m, _ any) bool {
			if m != want {
				t.Errorf("message %q; want %q", m, want)
			}
			return true
		})
		// A key pending deletion still counts; a deleted one does not.
		if _, err := nodes[1].ScheduleKeyDeletion(quotaCtx, &wire.ScheduleKeyDeletionInput{KeyID: &ids[0], PendingWindowInDays: ptr(int64(7))}); err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[0].CreateKey(quotaCtx, &wire.CreateKeyInput{}); awserr.CodeOf(err) != awserr.LimitExceeded {
			t.Fatalf("CreateKey with a key pending deletion: %v; want LimitExceededException", err)
		}
		clock.Add(8 * 24 * time.Hour)
		if _, err := nodes[1].Jobs.RunDueJobs(quotaCtx); err != nil {
			t.Fatal(err)
		}
		codes = kmstest.Race(t, nodes, 4, func(n *kmstest.Node, i int) error {
			_, err := n.CreateKey(quotaCtx, &wire.CreateKeyInput{})
			return err
		})
		if codes[""] != 1 || codes[awserr.LimitExceeded] != 3 {
			t.Fatalf("after a deletion: outcomes %v; want 1 success and 3 LimitExceededException", codes)
		}
		// Another account is not limited by this one's quota.
		other := kms.WithCaller(context.Background(), &kms.Caller{Account: "444455556666", ARN: "arn:aws:iam::444455556666:root", Type: "Root"})
		if _, err := nodes[0].CreateKey(other, &wire.CreateKeyInput{}); err != nil {
			t.Fatalf("another account's CreateKey: %v", err)
		}
	})
}

// TestAliasQuotaExact races CreateAlias to one key at its account's
// (lowered) quota of aliases per key.
func TestAliasQuotaExact(t *testing.T) {
	t.Parallel()
	quotaStores(t, func(t *testing.T, st store.Store) {
		nodes, _ := quotaNodes(t, st, quota.Resources{AliasesPerKey: 3})
		out, err := nodes[0].CreateKey(quotaCtx, &wire.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		id := out.KeyMetadata.KeyID
		codes := kmstest.Race(t, nodes, 8, func(n *kmstest.Node, i int) error {
			name := fmt.Sprintf("alias/quota-%d", i)
			_, err := n.CreateAlias(quotaCtx, &wire.AliasInput{AliasName: &name, TargetKeyID: &id})
			return err
		})
		if codes[""] != 3 || codes[awserr.LimitExceeded] != 5 {
			t.Fatalf("outcomes %v; want 3 successes and 5 LimitExceededException", codes)
		}
	})
}

// TestRotationAndPolicyQuotas: the account's quota of on-demand rotations
// holds under a race, and its key policy size quota is applied.
func TestRotationAndPolicyQuotas(t *testing.T) {
	t.Parallel()
	quotaStores(t, func(t *testing.T, st store.Store) {
		nodes, _ := quotaNodes(t, st, quota.Resources{OnDemandRotations: 2, KeyPolicyBytes: 600})
		out, err := nodes[0].CreateKey(quotaCtx, &wire.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		id := out.KeyMetadata.KeyID
		codes := kmstest.Race(t, nodes, 6, func(n *kmstest.Node, i int) error {
			_, err := n.RotateKeyOnDemand(quotaCtx, &wire.KeyIDInput{KeyID: &id})
			return err
		})
		if codes[""] != 2 || codes[awserr.LimitExceeded] != 4 {
			t.Fatalf("rotations: outcomes %v; want 2 successes and 4 LimitExceededException", codes)
		}
		pol := kms.DefaultKeyPolicy("aws", quotaAcct)
		long := strings.Replace(pol, `"Id" : "key-default-1"`, `"Id" : "`+strings.Repeat("x", 600-len(pol)+len("key-default-1")+1)+`"`, 1)
		name := "default"
		if _, err := nodes[1].PutKeyPolicy(quotaCtx, &wire.KeyPolicyInput{KeyID: &id, PolicyName: &name, Policy: &pol}); err != nil {
			t.Fatalf("PutKeyPolicy of %d bytes: %v", len(pol), err)
		}
		_, err = nodes[1].PutKeyPolicy(quotaCtx, &wire.KeyPolicyInput{KeyID: &id, PolicyName: &name, Policy: &long})
		if e := awserr.As(err); e == nil || e.Code != awserr.LimitExceeded || e.Message != "Policy document exceeds the maximum size of 600 bytes." || len(long) != 601 {
			t.Fatalf("PutKeyPolicy of %d bytes: %v; want LimitExceededException", len(long), err)
		}
	})
}

// TestRateClasses: every cryptographic operation counts against the class
// of its key (Decrypt of a symmetric ciphertext too, which names its key
// only in the blob), GenerateDataKeyPair against its key pair spec's rate
// and not the wrapping key's, and the caller's account is the one charged.
func TestRateClasses(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, _ := rootkey.NewStatic(bytes.Repeat([]byte{0x5a}, 32))
	var now atomic.Int64 // frozen: no bucket refills during the test
	tbl := quota.New(quota.Config{Rates: quota.Rates{quota.ClassSymmetric: 3, quota.ClassRSA: 1, "GenerateDataKeyPair:ECC_NIST_P256": 1},
		Now: now.Load}, st, nil)
	n := kmstest.New(t, kmstest.Config{KMS: kms.Config{Store: st, Root: root, Quotas: tbl}})
	sym, err := n.CreateKey(quotaCtx, &wire.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := sym.KeyMetadata.KeyID
	enc, err := n.Encrypt(quotaCtx, &wire.EncryptInput{KeyID: &id, Plaintext: []byte("x")}) // 1 of 3
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Decrypt(quotaCtx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil { // 2 of 3
		t.Fatal(err)
	}
	if _, err := n.GenerateDataKeyPair(quotaCtx, &wire.GenerateDataKeyPairInput{KeyID: &id, KeyPairSpec: ptr("ECC_NIST_P256")}); err != nil {
		t.Fatalf("GenerateDataKeyPair: %v", err) // its own class, not the symmetric one
	}
	_, err = n.GenerateDataKeyPair(quotaCtx, &wire.GenerateDataKeyPairInput{KeyID: &id, KeyPairSpec: ptr("ECC_NIST_P256")})
	wantThrottled(t, err, "a second GenerateDataKeyPair ECC_NIST_P256")
	if _, err := n.GenerateDataKey(quotaCtx, &wire.GenerateDataKeyInput{KeyID: &id, KeySpec: ptr("AES_256")}); err != nil { // 3 of 3
		t.Fatal(err)
	}
	_, err = n.Decrypt(quotaCtx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantThrottled(t, err, "a fourth symmetric request")
	rsa, err := n.CreateKey(quotaCtx, &wire.CreateKeyInput{KeySpec: ptr("RSA_2048"), KeyUsage: ptr("ENCRYPT_DECRYPT")})
	if err != nil {
		t.Fatal(err)
	}
	rid := rsa.KeyMetadata.KeyID
	if _, err := n.Encrypt(quotaCtx, &wire.EncryptInput{KeyID: &rid, Plaintext: []byte("x"), EncryptionAlgorithm: ptr("RSAES_OAEP_SHA_256")}); err != nil {
		t.Fatalf("RSA Encrypt with the symmetric class spent: %v", err)
	}
	_, err = n.Encrypt(quotaCtx, &wire.EncryptInput{KeyID: &rid, Plaintext: []byte("x"), EncryptionAlgorithm: ptr("RSAES_OAEP_SHA_256")})
	wantThrottled(t, err, "a second RSA Encrypt")
	other := kms.WithCaller(context.Background(), &kms.Caller{Account: "444455556666", ARN: "arn:aws:iam::444455556666:root", Type: "Root"})
	okey, err := n.CreateKey(other, &wire.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Encrypt(other, &wire.EncryptInput{KeyID: &okey.KeyMetadata.KeyID, Plaintext: []byte("x")}); err != nil {
		t.Fatalf("another account throttled by this one's requests: %v", err)
	}
	now.Add(int64(time.Second))
	if _, err := n.Decrypt(quotaCtx, &wire.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt a second later: %v", err)
	}
}

func wantThrottled(t *testing.T, err error, what string) {
	t.Helper()
	if e := awserr.As(err); e == nil || e.Code != awserr.Throttling ||
		e.Message != "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls." {
		t.Fatalf("%s: %v; want ThrottlingException", what, err)
	}
}

// TestKeyQuotaSkipsAWSManagedKeys: AWS managed keys do not count against
// the key quota (as at AWS), whether they exist before the account's count
// is first built from its key index or are made after.
func TestKeyQuotaSkipsAWSManagedKeys(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	nodes, _ := quotaNodes(t, st, quota.Resources{Keys: 2})
	n := nodes[0]
	// Before the count exists: built from the index, without this one.
	if _, err := n.CreateAWSManagedKey(quotaCtx, quotaAcct, "alias/aws/s3", "s3", `{"Version":"2012-10-17","Statement":[]}`); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := n.CreateKey(quotaCtx, &wire.CreateKeyInput{}); err != nil {
			t.Fatalf("customer managed key %d of 2: %v", i+1, err)
		}
	}
	// After: the count stays at the quota.
	if _, err := n.CreateAWSManagedKey(quotaCtx, quotaAcct, "alias/aws/ebs", "ebs", `{"Version":"2012-10-17","Statement":[]}`); err != nil {
		t.Fatalf("an AWS managed key at the customer key quota: %v", err)
	}
	_, err = n.CreateKey(quotaCtx, &wire.CreateKeyInput{})
	want := "Key quota for this account in this region is 2 but the current usage is 2."
	if e := awserr.As(err); e == nil || e.Code != awserr.LimitExceeded || e.Message != want {
		t.Fatalf("a third customer managed key: %v; want LimitExceededException %q", err, want)
	}
}
