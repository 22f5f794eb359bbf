package replica

import (
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/wire"
)

// replicatedKey builds regions linked with a lossy transport for the first
// one, and a multi-Region key whose primary is in the first and replicas in
// the others, all delivered.
func replicatedKey(t *testing.T, names []string, seed byte) ([]*region, *losing, string) {
	t.Helper()
	var rs []*region
	var trs []*direct
	for i, n := range names {
		r, tr := newRegion(t, n, seed+byte(i))
		rs, trs = append(rs, r), append(trs, tr)
	}
	link(t, rs, trs)
	lossy := &losing{direct: trs[0], lose: map[string]bool{}}
	var peers []Peer
	for _, o := range rs[1:] {
		peers = append(peers, peerOf(t, o))
	}
	rs[0].r = New(Config{KMS: rs[0].node.Service, Identity: rs[0].id, Peers: peers, Transport: lossy})
	for _, tr := range trs[1:] {
		tr.to[names[0]] = rs[0].r
	}
	ck, err := rs[0].node.CreateKey(ctx, &wire.CreateKeyInput{MultiRegion: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := ck.KeyMetadata.KeyID
	for _, n := range names[1:] {
		if _, err := rs[0].r.ReplicateKey(ctx, &wire.ReplicateKeyInput{KeyID: &id, ReplicaRegion: ptr(n)}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, rs[0])
	return rs, lossy, id
}

func run(t *testing.T, r *region) {
	t.Helper()
	if _, err := r.node.Jobs.RunDueJobs(ctx); err != nil {
		t.Fatal(err)
	}
}

func state(t *testing.T, r *region, id string) *kms.KeyDoc {
	t.Helper()
	d, _, err := r.node.ReadKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// settle runs every Region's jobs until nothing is pending (bounded).
func settle(t *testing.T, rs ...*region) {
	t.Helper()
	for range 6 {
		advance(2 * time.Minute)
		t.Cleanup(func() { advance(-2 * time.Minute) })
		for _, r := range rs {
			run(t, r)
		}
	}
}

// TestHandoverBackAfterLostAnswer: us hands the primary to eu and loses
// eu's answer; eu (its handover over) hands the primary back before us
// retries. us, primary again, must not stay Updating for ever (its owner
// could never disable or delete it there).
func TestHandoverBackAfterLostAnswer(t *testing.T) {
	rs, lossy, id := replicatedKey(t, []string{"us-east-1", "eu-west-1"}, 40)
	us, eu := rs[0], rs[1]
	lossy.lose["eu-west-1"] = true
	if _, err := us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	run(t, us) // eu applies; us does not hear it
	if d := state(t, us, id); d.State != kms.StateUpdating {
		t.Fatalf("us after a lost answer: %s", d.State)
	}
	run(t, eu) // eu's state reaches us: eu's handover is over
	if e := state(t, eu, id); e.State != kms.StateEnabled || kms.PrimaryOf(e) != "eu-west-1" {
		t.Fatalf("eu: %s, primary %s", e.State, kms.PrimaryOf(e))
	}
	if _, err := eu.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("us-east-1")}); err != nil {
		t.Fatal(err)
	}
	run(t, eu) // us takes the primary role back
	lossy.lose["eu-west-1"] = false
	settle(t, us, eu)
	d, e := state(t, us, id), state(t, eu, id)
	if kms.PrimaryOf(d) != "us-east-1" || kms.PrimaryOf(e) != "us-east-1" {
		t.Fatalf("primaries: us sees %s, eu sees %s", kms.PrimaryOf(d), kms.PrimaryOf(e))
	}
	if d.State != kms.StateEnabled || e.State != kms.StateEnabled {
		t.Fatalf("after everything was delivered: us %s (prior %q, handover from %q), eu %s", d.State, d.PriorState, d.HandoverFrom, e.State)
	}
	if _, err := us.node.DisableKey(ctx, &wire.KeyIDInput{KeyID: &id}); err != nil {
		t.Fatalf("DisableKey on the primary: %v", err)
	}
}

// TestHandoverOnwardAfterLostAnswer: us hands the primary to eu and loses
// eu's answer; eu hands it on to ap, and eu's state naming ap reaches us
// before us retries (its retry is then answered as done by eu, change 1).
// us must not stay Updating for ever as a replica.
func TestHandoverOnwardAfterLostAnswer(t *testing.T) {
	rs, lossy, id := replicatedKey(t, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, 50)
	us, eu, ap := rs[0], rs[1], rs[2]
	lossy.lose["eu-west-1"] = true
	if _, err := us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	run(t, us)
	// eu is Updating (handover from us): UpdatePrimaryRegion is allowed
	// in Updating (key-state table).
	if _, err := eu.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("ap-southeast-2")}); err != nil {
		t.Fatal(err)
	}
	run(t, eu)
	lossy.lose["eu-west-1"] = false
	settle(t, us, eu, ap)
	for _, r := range rs {
		d := state(t, r, id)
		if kms.PrimaryOf(d) != "ap-southeast-2" {
			t.Errorf("%s sees primary %s", r.id.Region, kms.PrimaryOf(d))
		}
		if d.State != kms.StateEnabled {
			t.Errorf("%s after everything was delivered: %s (prior %q, handover from %q)", r.id.Region, d.State, d.PriorState, d.HandoverFrom)
		}
	}
	if pend, _ := Outbox(ctx, us.node.Store()); len(pend) != 0 {
		t.Errorf("us's outbox: %+v", pend)
	}
}

// TestHandoverWithoutFormerPrimary: a (buggy or hostile) former primary
// hands over with a configuration that does not name itself as a member:
// the new primary has nothing to deliver to it, and must not stay Updating
// for ever (its owner could neither disable nor delete it).
func TestHandoverWithoutFormerPrimary(t *testing.T) {
	rs, _, id := replicatedKey(t, []string{"us-east-1", "eu-west-1"}, 60)
	us, eu := rs[0], rs[1]
	d := state(t, us, id)
	sh := kms.SharedOf(d)
	sh.PrimaryRegion, sh.ReplicaRegions, sh.Epoch = "eu-west-1", []string{"eu-west-1"}, sh.Epoch+1
	b := mustJSON(&Message{V: Version, From: "us-east-1", To: "eu-west-1", Time: clockNow().UTC(), Nonce: newNonce(),
		KeyID: id, Account: d.Account, Shared: sh})
	if _, _, err := eu.r.Receive(ctx, "us-east-1", b, us.id.signMessage(b)); err != nil {
		t.Fatal(err)
	}
	settle(t, eu)
	if e := state(t, eu, id); kms.PrimaryOf(e) == "eu-west-1" && e.State == kms.StateUpdating {
		t.Fatalf("the new primary stays Updating (handover from %q, pending %v)", e.HandoverFrom, e.ReplicaPending)
	}
	if _, err := eu.node.DisableKey(ctx, &wire.KeyIDInput{KeyID: &id}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
}

// TestHandoverRefusedWhileAReplicaIsCreating: the primary does not move
// while any replica is still Creating (its Region has not received it):
// only the current primary holds that replica's creation parameters, and
// its Region takes a new key only from the primary, so the replica would
// never be created. Once it is, the primary moves.
func TestHandoverRefusedWhileAReplicaIsCreating(t *testing.T) {
	rs, lossy, _ := replicatedKey(t, []string{"us-east-1", "eu-west-1", "ap-southeast-2"}, 70)
	us, eu, ap := rs[0], rs[1], rs[2]
	// A key replicated to eu (delivered) and to ap (unreachable: Creating).
	ck, err := us.node.CreateKey(ctx, &wire.CreateKeyInput{MultiRegion: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := ck.KeyMetadata.KeyID
	if _, err := us.r.ReplicateKey(ctx, &wire.ReplicateKeyInput{KeyID: &id, ReplicaRegion: ptr("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	run(t, us)
	apSvc := lossy.to["ap-southeast-2"]
	delete(lossy.to, "ap-southeast-2")
	if _, err := us.r.ReplicateKey(ctx, &wire.ReplicateKeyInput{KeyID: &id, ReplicaRegion: ptr("ap-southeast-2")}); err != nil {
		t.Fatal(err)
	}
	run(t, us)
	_, err = us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")})
	want := "arn:aws:kms:ap-southeast-2:111122223333:key/" + id + " is creating."
	if e := awserr.As(err); e == nil || e.Code != awserr.KMSInvalidState || e.Message != want {
		t.Fatalf("UpdatePrimaryRegion while ap's replica is Creating: %v; want KMSInvalidStateException %q", err, want)
	}
	if d := state(t, us, id); d.State != kms.StateEnabled || kms.PrimaryOf(d) != "us-east-1" {
		t.Fatalf("the refused call changed the primary: %s, primary %s", d.State, kms.PrimaryOf(d))
	}
	// ap comes back and creates its replica; then the primary moves.
	lossy.to["ap-southeast-2"] = apSvc
	settle(t, us)
	if _, err := us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")}); err != nil {
		t.Fatalf("UpdatePrimaryRegion once every replica exists: %v", err)
	}
	settle(t, us, eu, ap)
	for _, r := range rs {
		if d := state(t, r, id); kms.PrimaryOf(d) != "eu-west-1" || d.State != kms.StateEnabled {
			t.Errorf("%s after the handover: %s, primary %s", r.id.Region, d.State, kms.PrimaryOf(d))
		}
	}
}

// TestHandoverToReplicaPendingDeletion: a replica scheduled for deletion
// (its owner's choice, which the primary's Region cannot see) that becomes
// the primary waits for its replicas, as a primary with replicas does
// (PendingReplicaDeletion), instead of being destroyed at the end of its
// window and leaving them replicas of a key that no longer exists.
func TestHandoverToReplicaPendingDeletion(t *testing.T) {
	rs, _, id := replicatedKey(t, []string{"us-east-1", "eu-west-1"}, 80)
	us, eu := rs[0], rs[1]
	if _, err := eu.node.ScheduleKeyDeletion(ctx, &wire.ScheduleKeyDeletionInput{KeyID: &id, PendingWindowInDays: ptr(int64(7))}); err != nil {
		t.Fatal(err)
	}
	if _, err := us.r.UpdatePrimaryRegion(ctx, &wire.UpdatePrimaryRegionInput{KeyID: &id, PrimaryRegion: ptr("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	settle(t, us, eu)
	if d := state(t, eu, id); d.State != kms.StatePendingReplicaDeletion || kms.PrimaryOf(d) != "eu-west-1" || !d.DeletionDate.IsZero() {
		t.Fatalf("the new primary: %s, primary %s, deletion date %v; want PendingReplicaDeletion with no date", d.State, kms.PrimaryOf(d), d.DeletionDate)
	}
	advance(8 * 24 * time.Hour)
	t.Cleanup(func() { advance(-8 * 24 * time.Hour) })
	settle(t, us, eu)
	if d := state(t, eu, id); d.State != kms.StatePendingReplicaDeletion {
		t.Fatalf("the new primary after its old window: %s; want PendingReplicaDeletion", d.State)
	}
	if d := state(t, us, id); kms.PrimaryOf(d) != "eu-west-1" || d.State != kms.StateEnabled {
		t.Fatalf("the replica: %s, primary %s", d.State, kms.PrimaryOf(d))
	}
}
