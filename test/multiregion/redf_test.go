package multiregion

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	tk "github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/replica"
)

// redfReceiver starts eu-west-1 with one peer, us-east-1, whose keys the
// test holds (an attacker with that peer's signing key, or a peer that
// misbehaves); the peer's endpoint answers nothing, so what eu-west-1 sends
// it stays pending.
func redfReceiver(t *testing.T) (*deployment, *redfPeer) {
	t.Helper()
	base := t.TempDir()
	eu := newDeployment(t, base, "eu-west-1", "", "", clockFile(t, base))
	fp := newRedfPeer(t, "us-east-1")
	eu.configure(t, map[*deployment]string{fp.as(): "http://127.0.0.1:9"})
	eu.start(t)
	return eu, fp
}

// TestRedFPeerCannotChangeKeyKind: a peer that is a key's primary may send
// its state, but the key spec, usage and origin of a multi-Region key never
// change (AWS fixes them at creation), and a replica is only ever of a kind
// a multi-Region key can be, holding material of that kind. Before, a peer
// could turn a symmetric replica into an HMAC or RSA key over its AES
// material, or create one of spec "FOO", origin AWS_CLOUDHSM, or RSA_2048
// with garbage material: the replica's owners then got 500s.
func TestRedFPeerCannotChangeKeyKind(t *testing.T) {
	ctx := context.Background()
	eu, fp := redfReceiver(t)
	r := kemOf(t, eu)
	mat := make([]byte, 32)
	rand.Read(mat)

	id, mid := fp.createReplica(t, eu)
	for _, sc := range [][3]string{
		{"HMAC_256", "GENERATE_VERIFY_MAC", "AWS_KMS"},
		{"RSA_2048", "SIGN_VERIFY", "AWS_KMS"},
		{"SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "EXTERNAL_KEY_STORE"},
		{"FOO", "BAR", "AWS_CLOUDHSM"},
	} {
		m := fp.message(eu, id)
		m.Shared = fp.symShared(eu, id, mid, 2)
		m.Shared.Spec, m.Shared.Usage, m.Shared.Origin = sc[0], sc[1], sc[2]
		if code, ans := fp.send(t, eu, m); code != 200 || ans == "" {
			t.Errorf("%v: the change was applied (%d %q)", sc, code, ans)
		}
		md := describe(t, eu, id)
		if md.KeySpec != types.KeySpecSymmetricDefault || md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.Origin != types.OriginTypeAwsKms {
			t.Errorf("%v: the replica is now %s %s %s", sc, md.KeySpec, md.KeyUsage, md.Origin)
		}
		if _, err := eu.client().Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")}); err != nil {
			t.Errorf("%v: Encrypt: %v", sc, err)
		}
	}

	// New replicas of a kind no multi-Region key has, or with material that
	// is not of their kind, are refused and not created.
	for _, sc := range []struct {
		name, spec, usage, origin string
		material                  []byte
	}{
		{"unknown spec", "FOO", "BAR", "AWS_KMS", mat},
		{"custom key store origin", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_CLOUDHSM", mat},
		{"RSA over 32 random bytes", "RSA_2048", "SIGN_VERIFY", "AWS_KMS", mat},
		{"short symmetric material", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS", mat[:5]},
	} {
		id, mid := redfKeyID(), tk.NewHexID()
		m := fp.message(eu, id)
		m.Shared = fp.symShared(eu, id, mid, 1)
		m.Shared.Spec, m.Shared.Usage, m.Shared.Origin = sc.spec, sc.usage, sc.origin
		m.Materials = map[string][]byte{mid: wrapFor(t, r, id, mid, sc.material)}
		m.Create = &replica.CreateParams{}
		if code, ans := fp.send(t, eu, m); code != 200 || ans == "" {
			t.Errorf("%s: applied (%d %q)", sc.name, code, ans)
		}
		if _, err := eu.client().DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); errCode(err) != "NotFoundException" {
			t.Errorf("%s: the replica exists: %v", sc.name, err)
		}
	}
}

// TestRedFPendingReplicaDeletionHolds: a primary in PendingReplicaDeletion
// is pending deletion for every operation, as in AWS's key-state table:
// EnableKey, DisableKey and CreateAlias fail with KMSInvalidStateException
// and leave it there, and deleting its imported material does not move it
// to PendingImport. Before, EnableKey (or DisableKey, or
// DeleteImportedKeyMaterial, or the expiry of imported material) took the
// key out of PendingReplicaDeletion, so its deletion never began when its
// last replica was gone: a principal allowed kms:EnableKey but not
// kms:CancelKeyDeletion cancelled a scheduled deletion.
func TestRedFPendingReplicaDeletionHolds(t *testing.T) {
	ctx := context.Background()
	eu, fp := redfReceiver(t)
	c := eu.client()

	primary := func(origin types.OriginType) string {
		ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Origin: origin})
		if err != nil {
			t.Fatal(err)
		}
		id := *ck.KeyMetadata.KeyId
		if origin == types.OriginTypeExternal {
			m := make([]byte, 32)
			rand.Read(m)
			if err := importMaterial(t, eu, id, m); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("us-east-1")}); err != nil {
			t.Fatal(err)
		}
		sk, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
		if err != nil || sk.KeyState != types.KeyStatePendingReplicaDeletion {
			t.Fatalf("ScheduleKeyDeletion: %v %+v", err, sk)
		}
		return id
	}
	state := func(id string) types.KeyState { return describe(t, eu, id).KeyState }

	id := primary(types.OriginTypeAwsKms)
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); errCode(err) != "KMSInvalidStateException" {
		t.Errorf("EnableKey: %v", err)
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); errCode(err) != "KMSInvalidStateException" {
		t.Errorf("DisableKey: %v", err)
	}
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/redf-" + randHex(4)), TargetKeyId: aws.String(id)}); errCode(err) != "KMSInvalidStateException" {
		t.Errorf("CreateAlias: %v", err)
	}
	if s := state(id); s != types.KeyStatePendingReplicaDeletion {
		t.Fatalf("the primary is %s", s)
	}
	// Its replica is gone: its waiting period begins.
	m := fp.message(eu, id)
	// The notice names the epoch of the deleted replica's last state,
	// which is never older than the replica (one of an earlier replica in
	// that Region is ignored); this peer stands in for it with a later one.
	m.Deleted, m.Epoch = true, 1<<40
	if code, ans := fp.send(t, eu, m); code != 200 || ans != "" {
		t.Fatalf("replica deleted: %d %q", code, ans)
	}
	if s := state(id); s != types.KeyStatePendingDeletion {
		t.Errorf("after its last replica is gone the primary is %s, not PendingDeletion", s)
	}

	ext := primary(types.OriginTypeExternal)
	if _, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(ext)}); err != nil && !strings.Contains(errCode(err), "InvalidState") {
		t.Fatalf("DeleteImportedKeyMaterial: %v", err)
	}
	if s := state(ext); s != types.KeyStatePendingReplicaDeletion {
		t.Errorf("after DeleteImportedKeyMaterial the primary is %s, not PendingReplicaDeletion", s)
	}
}

// TestRedFReplicaPolicyChecked: ReplicateKey checks its Policy as AWS does,
// in the primary's Region where the caller is known: a malformed policy is
// MalformedPolicyDocumentException, and one that locks the caller out is
// refused unless BypassPolicyLockoutSafetyCheck. Before, any valid JSON was
// accepted; the replica's Region then replaced a policy it could not take
// by the default key policy (the whole account through IAM): a restrictive
// policy with a typo became the broadest one, and the lockout check never
// ran.
func TestRedFReplicaPolicyChecked(t *testing.T) {
	ctx := context.Background()
	eu, _ := redfReceiver(t)
	c := eu.client()
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	stmt := func(effect, principal string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"` + effect + `","Principal":{"AWS":"` + principal +
			`"},"Action":"kms:*","Resource":"*"}]}`
	}
	for _, tc := range []struct {
		name, policy string
		bypass       bool
		want         string
	}{
		{"fail/malformed effect", stmt("Alow", "arn:aws:iam::"+account+":root"), false, "MalformedPolicyDocumentException"},
		{"fail/no principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, false, "MalformedPolicyDocumentException"},
		{"fail/lockout", stmt("Allow", "arn:aws:iam::444455556666:root"), false, "MalformedPolicyDocumentException"},
		{"ok/lockout bypassed", stmt("Allow", "arn:aws:iam::444455556666:root"), true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("us-east-1"),
				Policy: aws.String(tc.policy), BypassPolicyLockoutSafetyCheck: tc.bypass})
			if errCode(err) != tc.want {
				t.Fatalf("ReplicateKey: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRedFHandoverToCreatingReplica: UpdatePrimaryRegion to a Region whose
// replica is still Creating (its Region has not received it yet) is
// KMSInvalidStateException, and the key stays the primary. Before, the key
// became a replica, Updating, at once; the Region named refused the
// handover (it takes a new key only from its primary), so the key stayed
// Updating with no primary for ever: no rotation, no ReplicateKey, and
// ScheduleKeyDeletion refused (a caller with kms:UpdatePrimaryRegion made a
// key undeletable).
func TestRedFHandoverToCreatingReplica(t *testing.T) {
	ctx := context.Background()
	eu, _ := redfReceiver(t)
	c := eu.client()
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	if _, err := c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("us-east-1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String("us-east-1")}); errCode(err) != "KMSInvalidStateException" {
		t.Errorf("UpdatePrimaryRegion to a Creating replica: %v", err)
	}
	md := describe(t, eu, id)
	if md.KeyState != types.KeyStateEnabled || md.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypePrimary {
		t.Fatalf("the key is %s %s", md.KeyState, md.MultiRegionConfiguration.MultiRegionKeyType)
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
}

// TestRedGHandoverCannotPinUpdating: a peer that is a key's primary hands
// the role to this Region in a signed state that leaves itself out of the
// members. The new primary would then wait in Updating for a delivery to
// that peer that nothing ever sends, and its owner could never disable,
// delete or replicate it. It must take the role without waiting.
func TestRedGHandoverCannotPinUpdating(t *testing.T) {
	ctx := context.Background()
	eu, fp := redfReceiver(t)
	id, mid := fp.createReplica(t, eu)
	h := fp.message(eu, id)
	h.Shared = fp.symShared(eu, id, mid, 2)
	h.Shared.PrimaryRegion, h.Shared.ReplicaRegions = "eu-west-1", nil
	if code, ans := fp.send(t, eu, h); code != 200 || ans != "" {
		t.Fatalf("handover: %d %q", code, ans)
	}
	md := describe(t, eu, id)
	if md.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypePrimary || md.KeyState != types.KeyStateEnabled {
		t.Fatalf("after the handover: %s %s; want an Enabled primary", md.MultiRegionConfiguration.MultiRegionKeyType, md.KeyState)
	}
	if _, err := eu.client().DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("DisableKey on the new primary: %v", err)
	}
}
