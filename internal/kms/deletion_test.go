package kms_test

import (
	"errors"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// TestKeyDeletion: nothing is deleted before the waiting period ends, even
// across a restart; at its end the key record (with all its material), its
// aliases and grants are gone from the store, the key ID is NotFound and
// its ciphertexts no longer decrypt.
func TestKeyDeletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.CreateKey(&wire.CreateKeyInput{})
	id := &md.KeyID
	must(e.Node.RotateKeyOnDemand(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
	must(e.Node.CreateAlias(e.Ctx, &wire.AliasInput{AliasName: ptr("alias/doomed"), TargetKeyID: id}))(t)
	// A grant record as the grants code stores it: ID "<keyID>/<grantID>".
	if err := e.Store.Apply(e.Ctx, store.Op{Kind: "grant", ID: md.KeyID + "/g1", Data: []byte("{}"), Create: true}); err != nil {
		t.Fatal(err)
	}
	g := must(e.Node.Grants.CreateGrant(e.Ctx, &wire.CreateGrantInput{KeyID: id, GranteePrincipal: ptr("arn:aws:iam::111122223333:user/bob"), Operations: []string{"Decrypt"}}))(t)
	ct := must(e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: ptr("alias/doomed"), Plaintext: []byte("gone")}))(t)
	must(e.Node.ScheduleKeyDeletion(e.Ctx, &wire.ScheduleKeyDeletionInput{KeyID: id, PendingWindowInDays: ptr[int64](7)}))(t)

	e.Node.Jobs.Close() // restart
	svc := e.NewNode("node-b")
	e.Clock.Add(7*day - time.Second)
	if n := e.RunJobs(svc); n != 0 {
		t.Fatalf("ran %d jobs before the deletion date", n)
	}
	if _, err := e.Store.Get(e.Ctx, "key", md.KeyID); err != nil {
		t.Fatalf("key gone early: %v", err)
	}
	e.Clock.Add(time.Second)
	if n := e.RunJobs(svc); n != 1 {
		t.Fatalf("ran %d jobs at the deletion date, want 1", n)
	}
	for _, r := range []struct{ kind, id string }{
		{"key", md.KeyID}, {"alias", "111122223333/alias/doomed"}, {"grant", md.KeyID + "/g1"}, {"acctkey", "111122223333/" + md.KeyID},
		{"keyaliases", md.KeyID}, {"grantcount", md.KeyID}, {"grant", md.KeyID + "/" + g.GrantID},
	} {
		if _, err := e.Store.Get(e.Ctx, r.kind, r.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s %s still stored (err %v)", r.kind, r.id, err)
		}
	}
	if got := e.EventNames(); len(got) != 1 || got[0] != kms.EventDeleteKey {
		t.Fatalf("events = %v", got)
	}
	_, err := svc.DescribeKey(e.Ctx, &wire.KeyIDInput{KeyID: id})
	wantErr(t, err, awserr.NotFound, "Key '"+md.Arn+"' does not exist")
	_, err = svc.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: ptr("alias/doomed"), Plaintext: []byte("x")})
	wantErr(t, err, awserr.NotFound, "*")
	_, err = svc.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: ct.CiphertextBlob})
	wantErr(t, err, awserr.InvalidCiphertext, "")
}

// TestCancelledDeletion: a cancelled deletion's job does nothing when due.
func TestCancelledDeletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.CreateKey(&wire.CreateKeyInput{})
	must(e.Node.ScheduleKeyDeletion(e.Ctx, &wire.ScheduleKeyDeletionInput{KeyID: &md.KeyID, PendingWindowInDays: ptr[int64](7)}))(t)
	must(e.Node.CancelKeyDeletion(e.Ctx, &wire.KeyIDInput{KeyID: &md.KeyID}))(t)
	e.Clock.Add(8 * day)
	e.RunJobs(e.Node)
	d := must(e.Node.DescribeKey(e.Ctx, &wire.KeyIDInput{KeyID: &md.KeyID}))(t).KeyMetadata
	if d.KeyState != "Disabled" || len(e.EventNames()) != 0 {
		t.Fatalf("state %s, events %v", d.KeyState, e.EventNames())
	}
}

func BenchmarkRunDueJobsIdle(b *testing.B) {
	e := newEnv(b)
	for range 100 {
		id := e.CreateKey(&wire.CreateKeyInput{}).KeyID
		must(e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &id}))(b)
	}
	for b.Loop() {
		if _, err := e.Node.Jobs.RunDueJobs(e.Ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAutomaticRotation(b *testing.B) {
	e := newEnv(b)
	id := e.CreateKey(&wire.CreateKeyInput{}).KeyID
	must(e.Node.EnableKeyRotation(e.Ctx, &wire.EnableKeyRotationInput{KeyID: &id, RotationPeriodInDays: ptr[int64](90)}))(b)
	for b.Loop() {
		e.Clock.Add(90 * day)
		if n, err := e.Node.Jobs.RunDueJobs(e.Ctx); err != nil || n != 1 {
			b.Fatalf("ran %d: %v", n, err)
		}
	}
}
