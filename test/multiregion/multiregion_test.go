package multiregion

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func clockFile(t *testing.T, base string) string {
	t.Helper()
	p := filepath.Join(base, "clock")
	if err := os.WriteFile(p, []byte("0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func describe(t *testing.T, d *deployment, id string) *types.KeyMetadata {
	t.Helper()
	out, err := d.client().DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeKey in %s: %v", d.region, err)
	}
	return out.KeyMetadata
}

// replicated waits until key id exists in d with the state wanted.
func replicated(t *testing.T, d *deployment, id string, state types.KeyState) *types.KeyMetadata {
	t.Helper()
	var md *types.KeyMetadata
	waitFor(t, 20*time.Second, "key "+id+" "+string(state)+" in "+d.region, func() bool {
		out, err := d.client().DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)})
		if err != nil {
			return false
		}
		md = out.KeyMetadata
		return md.KeyState == state
	})
	return md
}

func decrypts(t *testing.T, d *deployment, ct, want []byte) {
	t.Helper()
	out, err := d.client().Decrypt(context.Background(), &kms.DecryptInput{CiphertextBlob: ct})
	if err != nil {
		t.Fatalf("Decrypt in %s: %v", d.region, err)
	}
	if !bytes.Equal(out.Plaintext, want) {
		t.Fatalf("Decrypt in %s: wrong plaintext", d.region)
	}
}

// TestTwoRegions: a primary in us-east-1 replicated to eu-west-1; data
// keys, signatures, rotation, a replica killed during a rotation that
// catches up, UpdatePrimaryRegion, deletion through
// PendingReplicaDeletion; and no key material crossed in the clear.
func TestTwoRegions(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	clock := clockFile(t, base)
	us := newDeployment(t, base, "us-east-1", "", "", clock)
	eu := newDeployment(t, base, "eu-west-1", "", "", clock)
	us.metrics = freePort(t)
	proxies := link(t, us, eu)
	var secrets [][]byte // plaintexts the wire must never carry

	// A symmetric primary, replicated.
	ck, err := us.client().CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Description: aws.String("primary")})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	rk, err := us.client().ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("eu-west-1"),
		Description: aws.String("replica"), Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if m := rk.ReplicaKeyMetadata; m.KeyState != types.KeyStateCreating || m.Enabled || *m.Arn != "arn:aws:kms:eu-west-1:"+account+":key/"+id ||
		m.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypeReplica || *m.Description != "replica" {
		t.Fatalf("ReplicaKeyMetadata = %+v", m)
	}
	if len(rk.ReplicaTags) != 1 || rk.ReplicaPolicy == nil {
		t.Fatalf("ReplicaTags %v, policy %v", rk.ReplicaTags, rk.ReplicaPolicy)
	}
	// One replica per Region; none in the primary's.
	if _, err := us.client().ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("eu-west-1")}); errCode(err) != "AlreadyExistsException" {
		t.Fatalf("second replica: %v", err)
	}
	if _, err := us.client().ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("us-east-1")}); errCode(err) != "ValidationException" {
		t.Fatalf("replica in the primary's Region: %v", err)
	}
	md := replicated(t, eu, id, types.KeyStateEnabled)
	if *md.Description != "replica" || md.MultiRegionConfiguration.MultiRegionKeyType != types.MultiRegionKeyTypeReplica ||
		*md.MultiRegionConfiguration.PrimaryKey.Region != "us-east-1" {
		t.Fatalf("replica metadata %+v", md)
	}
	pm := describe(t, us, id)
	if len(pm.MultiRegionConfiguration.ReplicaKeys) != 1 || *pm.MultiRegionConfiguration.ReplicaKeys[0].Region != "eu-west-1" {
		t.Fatalf("primary's replicas %+v", pm.MultiRegionConfiguration)
	}
	// Replicating a replica is refused as AWS refuses it.
	if _, err := eu.client().ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(id), ReplicaRegion: aws.String("us-east-1")}); errCode(err) != "UnsupportedOperationException" {
		t.Fatalf("replicate a replica: %v", err)
	}

	// Encrypt in one Region, decrypt in the other, both ways.
	dk, err := us.client().GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, dk.Plaintext)
	decrypts(t, eu, dk.CiphertextBlob, dk.Plaintext)
	msg := []byte("from eu-west-1 " + randHex(8))
	ct, err := eu.client().Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: msg})
	if err != nil {
		t.Fatal(err)
	}
	decrypts(t, us, ct.CiphertextBlob, msg)

	// Independent properties stay apart: disabling the replica leaves the
	// primary enabled.
	if _, err := eu.client().DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if !describe(t, us, id).Enabled {
		t.Fatal("disabling the replica disabled the primary")
	}
	if _, err := eu.client().EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	// A replica does not rotate on its own.
	if _, err := eu.client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); errCode(err) != "UnsupportedOperationException" {
		t.Fatalf("rotate a replica: %v", err)
	}

	// Sign in one Region, verify in the other.
	sk, err := us.client().CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	sid := *sk.KeyMetadata.KeyId
	if _, err := us.client().ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: aws.String(sid), ReplicaRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	replicated(t, eu, sid, types.KeyStateEnabled)
	sig, err := eu.client().Sign(ctx, &kms.SignInput{KeyId: aws.String(sid), Message: []byte("hello"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil {
		t.Fatal(err)
	}
	v, err := us.client().Verify(ctx, &kms.VerifyInput{KeyId: aws.String(sid), Message: []byte("hello"), Signature: sig.Signature, SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil || !v.SignatureValid {
		t.Fatalf("Verify in us-east-1 of eu-west-1's signature: %v", err)
	}

	// Rotate on the primary: new ciphertexts decrypt in the replica.
	if _, err := us.client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	cur := *describe(t, us, id).CurrentKeyMaterialId
	waitFor(t, 20*time.Second, "the rotation in eu-west-1", func() bool { return aws.ToString(describe(t, eu, id).CurrentKeyMaterialId) == cur })
	dk2, err := us.client().GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, dk2.Plaintext)
	decrypts(t, eu, dk2.CiphertextBlob, dk2.Plaintext)

	// kill -9 the replica's deployment, rotate: the primary serves on and
	// shows the replica PENDING; the replica catches up when it returns.
	eu.kill()
	if _, err := us.client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	dk3, err := us.client().GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)})
	if err != nil {
		t.Fatalf("the primary's data plane with its replica down: %v", err)
	}
	secrets = append(secrets, dk3.Plaintext)
	time.Sleep(500 * time.Millisecond)
	raw := describeRaw(t, us, id)
	if !bytes.Contains(raw, []byte(`"ReplicationStatus":"PENDING"`)) {
		t.Fatalf("DescribeKey does not show the replica behind: %s", raw)
	}
	// The trail says so, and so do the operator's tools.
	waitFor(t, 10*time.Second, "the pending replication in us-east-1's trail", func() bool {
		files, _ := filepath.Glob(filepath.Join(us.dir, "audit", "*.jsonl"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			for _, l := range bytes.Split(b, []byte("\n")) {
				if bytes.Contains(l, []byte(`"SynchronizeMultiRegionKey"`)) && bytes.Contains(l, []byte(`"PENDING"`)) && bytes.Contains(l, []byte(id)) {
					return true
				}
			}
		}
		return false
	})
	if st := us.admin(t, "replication-status"); !strings.Contains(st, "eu-west-1") || !strings.Contains(st, id) {
		t.Fatalf("replication-status does not show the pending change:\n%s", st)
	}
	resp, err := http.Get("http://" + us.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`trent_replication_failed_total\{region="eu-west-1"\} [1-9]`).Match(mb) ||
		!regexp.MustCompile(`trent_replication_delivered_total\{region="eu-west-1"\} [1-9]`).Match(mb) {
		t.Fatalf("metrics do not show the replication state:\n%s", grepLines(mb, "trent_replication"))
	}
	eu.start(t)
	waitFor(t, 30*time.Second, "eu-west-1 to catch up", func() bool {
		return !bytes.Contains(describeRaw(t, us, id), []byte("PENDING"))
	})
	decrypts(t, eu, dk3.CiphertextBlob, dk3.Plaintext)

	// UpdatePrimaryRegion: eu-west-1 becomes the primary and rotates.
	if _, err := us.client().UpdatePrimaryRegion(ctx, &kms.UpdatePrimaryRegionInput{KeyId: aws.String(id), PrimaryRegion: aws.String("eu-west-1")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "eu-west-1 primary", func() bool {
		m := describe(t, eu, id)
		return m.MultiRegionConfiguration.MultiRegionKeyType == types.MultiRegionKeyTypePrimary
	})
	waitFor(t, 20*time.Second, "us-east-1 replica, Enabled", func() bool {
		m := describe(t, us, id)
		return m.MultiRegionConfiguration.MultiRegionKeyType == types.MultiRegionKeyTypeReplica && m.KeyState == types.KeyStateEnabled
	})
	if _, err := eu.client().RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)}); err != nil {
		t.Fatalf("rotate from the new primary: %v", err)
	}
	cur = *describe(t, eu, id).CurrentKeyMaterialId
	waitFor(t, 20*time.Second, "the new primary's rotation in us-east-1", func() bool { return aws.ToString(describe(t, us, id).CurrentKeyMaterialId) == cur })
	dk4, err := eu.client().GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(id), NumberOfBytes: aws.Int32(32)})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, dk4.Plaintext)
	decrypts(t, us, dk4.CiphertextBlob, dk4.Plaintext)

	// Deleting the primary with a replica: PendingReplicaDeletion until
	// the replica is gone.
	sd, err := eu.client().ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if sd.KeyState != types.KeyStatePendingReplicaDeletion || sd.DeletionDate != nil {
		t.Fatalf("ScheduleKeyDeletion of a primary with replicas: %+v", sd)
	}
	if _, err := us.client().ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	// Eight days on (the test clock): the replica is deleted, tells its
	// primary, whose own waiting period then begins.
	if err := os.WriteFile(clock, []byte("192h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the primary PendingDeletion", func() bool {
		return describe(t, eu, id).KeyState == types.KeyStatePendingDeletion
	})
	if _, err := us.client().DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)}); errCode(err) != "NotFoundException" {
		t.Fatalf("the deleted replica: %v", err)
	}

	// Nothing that crossed between the deployments holds a plaintext data
	// key or a material in the clear.
	var wire []byte
	for _, p := range proxies {
		wire = append(wire, p.bytes()...)
	}
	if len(wire) < 1000 {
		t.Fatalf("the proxies saw %d bytes: replication did not go through them", len(wire))
	}
	for _, s := range secrets {
		if bytes.Contains(wire, s) || bytes.Contains(wire, []byte(b64(s))) {
			t.Fatal("a plaintext data key crossed between the deployments")
		}
	}
	t.Logf("scanned %d bytes of replication traffic", len(wire))
}

func b64(b []byte) string {
	return base64Std.EncodeToString(b)
}

// describeRaw returns DescribeKey's JSON answer as the server wrote it.
func describeRaw(t *testing.T, d *deployment, id string) []byte {
	t.Helper()
	var raw []byte
	_, err := d.client().DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String(id)}, func(o *kms.Options) {
		o.APIOptions = append(o.APIOptions, captureBody(&raw))
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
