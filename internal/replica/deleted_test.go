package replica

import (
	"slices"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/wire"
)

// TestDeletedNoticeBoundToReplica: a captured "replica deleted" notice,
// replayed within the time window to a node that has not seen its nonce
// (another node of the primary's deployment, or one restarted) after the
// same Region was replicated again, does not drop the new replica.
func TestDeletedNoticeBoundToReplica(t *testing.T) {
	us, trUS := newRegion(t, "us-east-1", 8)
	eu, trEU := newRegion(t, "eu-west-1", 9)
	link(t, []*region{us, eu}, []*direct{trUS, trEU})
	ck, err := us.node.CreateKey(ctx, &wire.CreateKeyInput{MultiRegion: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := ck.KeyMetadata.KeyID
	replicate := func() {
		t.Helper()
		if _, err := us.r.ReplicateKey(ctx, &wire.ReplicateKeyInput{KeyID: &id, ReplicaRegion: ptr("eu-west-1")}); err != nil {
			t.Fatal(err)
		}
		if _, err := us.node.Jobs.RunDueJobs(ctx); err != nil {
			t.Fatal(err)
		}
		if d, _, err := eu.node.ReadKey(ctx, id); err != nil || d.State != kms.StateEnabled {
			t.Fatalf("the replica in eu-west-1: %+v, %v", d, err)
		}
	}
	replicate()
	// The replica is deleted; its Region tells the primary.
	if _, err := eu.node.ScheduleKeyDeletion(ctx, &wire.ScheduleKeyDeletionInput{KeyID: &id, PendingWindowInDays: ptr(int64(7))}); err != nil {
		t.Fatal(err)
	}
	advance(8 * 24 * time.Hour)
	defer advance(-8 * 24 * time.Hour)
	for range 2 {
		if _, err := eu.node.Jobs.RunDueJobs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d, _, _ := us.node.ReadKey(ctx, id); slices.Contains(d.ReplicaRegions, "eu-west-1") {
		t.Fatal("the primary still lists the deleted replica")
	}
	captured := trEU.sent[len(trEU.sent)-1]
	// The same Region is replicated again, then the notice replayed to a
	// primary node with an empty nonce cache.
	replicate()
	us.r.mu.Lock()
	clear(us.r.nonces)
	us.r.mu.Unlock()
	if _, _, err := us.r.Receive(ctx, "eu-west-1", captured, eu.id.signMessage(captured)); err != nil {
		t.Fatalf("replayed notice: %v", err)
	}
	if d, _, _ := us.node.ReadKey(ctx, id); !slices.Contains(d.ReplicaRegions, "eu-west-1") {
		t.Fatalf("a replayed deletion notice of the earlier replica dropped the new one: replicas %v", d.ReplicaRegions)
	}
	// The new replica's own deletion still reaches the primary.
	if _, err := eu.node.ScheduleKeyDeletion(ctx, &wire.ScheduleKeyDeletionInput{KeyID: &id, PendingWindowInDays: ptr(int64(7))}); err != nil {
		t.Fatal(err)
	}
	advance(8 * 24 * time.Hour)
	defer advance(-8 * 24 * time.Hour)
	for range 2 {
		if _, err := eu.node.Jobs.RunDueJobs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d, _, _ := us.node.ReadKey(ctx, id); slices.Contains(d.ReplicaRegions, "eu-west-1") {
		t.Fatal("the primary still lists the second deleted replica")
	}
}
