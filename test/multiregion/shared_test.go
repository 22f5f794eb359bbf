package multiregion

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// TestSharedStore: nodes of two Regions on one PostgreSQL store, with no
// peers declared: each Region's keys, aliases and key list are its own,
// and multi-Region keys replicate, rotate, change primary and are deleted
// as between deployments.
func TestSharedStore(t *testing.T) {
	ctx := context.Background()
	storeURL := pgtest.FreshSchema(t, pgtest.BaseURL(t))
	base := t.TempDir()
	clock := clockFile(t, base)
	root := randHex(32) // one store, one root key
	us := newDeployment(t, base, "us-east-1", storeURL, root, clock)
	eu := newDeployment(t, base, "eu-west-1", storeURL, root, clock)
	for _, d := range []*deployment{us, eu} {
		d.configure(t, nil)
		d.start(t)
	}

	// Region isolation on the one store: a single-Region key and an alias
	// of one Region are not the other's.
	sk, err := us.client().CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eu.client().DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: sk.KeyMetadata.KeyId}); errCode(err) != "NotFoundException" {
		t.Fatalf("a us-east-1 key in eu-west-1: %v", err)
	}
	lk, err := eu.client().ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range lk.Keys {
		if *k.KeyId == *sk.KeyMetadata.KeyId {
			t.Fatal("eu-west-1 lists a key of us-east-1")
		}
	}

	ck, err := us.client().CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	if _, err := us.client().ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("eu-west-1"), Description: aws.String("shared replica")}); err != nil {
		t.Fatal(err)
	}
	md := replicated(t, eu, id, types.KeyStateEnabled)
	if *md.Description != "shared replica" || md.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypeReplica {
		t.Fatalf("replica %+v", md)
	}
	// The same alias name in both Regions, each to its own member.
	for _, d := range []*deployment{us, eu} {
		if _, err := d.client().CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)}); err != nil {
			t.Fatalf("CreateAlias in %s: %v", d.region, err)
		}
	}
	dk, err := us.client().GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/app"), NumberOfBytes: aws.Int32(32)})
	if err != nil {
		t.Fatal(err)
	}
	decrypts(t, eu, dk.CiphertextBlob, dk.Plaintext)

	// Rotation on the primary reaches the replica.
	if _, err := us.client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	cur := *describe(t, us, id).CurrentKeyMaterialId
	waitFor(t, 20*time.Second, "the rotation in eu-west-1", func() bool { return aws.ToString(describe(t, eu, id).CurrentKeyMaterialId) == cur })
	ct, err := eu.client().Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("shared")})
	if err != nil {
		t.Fatal(err)
	}
	decrypts(t, us, ct.CiphertextBlob, []byte("shared"))

	// UpdatePrimaryRegion, and a rotation from the new primary.
	if _, err := us.client().UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "eu-west-1 primary, us-east-1 Enabled replica", func() bool {
		e, u := describe(t, eu, id), describe(t, us, id)
		return e.MultiRegionConfiguration.MultiRegionKeyType == types.MultiRegionKeyTypePrimary &&
			u.MultiRegionConfiguration.MultiRegionKeyType == types.MultiRegionKeyTypeReplica && u.KeyState == types.KeyStateEnabled
	})
	if _, err := eu.client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	cur = *describe(t, eu, id).CurrentKeyMaterialId
	waitFor(t, 20*time.Second, "the new primary's rotation in us-east-1", func() bool { return aws.ToString(describe(t, us, id).CurrentKeyMaterialId) == cur })

	// Deletion: PendingReplicaDeletion until the replica is gone.
	sd, err := eu.client().ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil || sd.KeyState != types.KeyStatePendingReplicaDeletion {
		t.Fatalf("ScheduleKeyDeletion: %+v, %v", sd, err)
	}
	if _, err := us.client().ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clock, []byte("192h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the primary PendingDeletion", func() bool { return describe(t, eu, id).KeyState == types.KeyStatePendingDeletion })
	if _, err := us.client().DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); errCode(err) != "NotFoundException" {
		t.Fatalf("the deleted replica: %v", err)
	}
}
