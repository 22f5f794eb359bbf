package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/trentkms/trent/internal/node"
)

// TestGetKeyLastUsage checks that GetKeyLastUsage reports the last
// successful cryptographic call on a key, with its request and audit event
// IDs, and reports nothing for a key never used.
func TestGetKeyLastUsage(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir(), node.Options{})
	c := newClient(n.Endpoint)
	ctx := ctxT(t)
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := key.KeyMetadata.KeyId
	out, err := c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyLastUsage != nil {
		t.Fatalf("unused key reports usage %+v", out.KeyLastUsage)
	}
	if aws.ToString(out.KeyId) != keyARN(*id) || out.KeyCreationDate == nil || out.TrackingStartDate == nil {
		t.Fatalf("GetKeyLastUsage = %+v", out)
	}
	before := time.Now().Add(-time.Second)
	if _, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	// A non-cryptographic call is not usage.
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	// Nor is a failed cryptographic call.
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: id, CiphertextBlob: []byte("garbage-ciphertext")}); err == nil {
		t.Fatal("Decrypt of garbage succeeded")
	}
	out, err = c.GetKeyLastUsage(ctx, &kms.GetKeyLastUsageInput{KeyId: id})
	if err != nil {
		t.Fatal(err)
	}
	u := out.KeyLastUsage
	if u == nil || u.Operation != types.KeyLastUsageTrackingOperationEncrypt || u.Timestamp == nil || u.Timestamp.Before(before.Truncate(time.Second)) {
		t.Fatalf("KeyLastUsage = %+v", u)
	}
	if aws.ToString(u.CloudTrailEventId) == "" || aws.ToString(u.KmsRequestId) == "" {
		t.Fatalf("KeyLastUsage lacks its event or request ID: %+v", u)
	}
}
