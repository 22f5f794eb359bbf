package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/trentkms/trent/internal/job"
	"github.com/trentkms/trent/internal/node"
)

// TestDeletionJob checks that the background job deletes a key at its
// DeletionDate, with its aliases, so that its ciphertexts no longer decrypt.
// The node's clock is controlled and the client signs with the same clock.
func TestDeletionJob(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	n := startNode(t, t.TempDir(), node.Options{Now: clk.Now, Jobs: func(c *job.Config) { c.SchedulerInterval = 20 * time.Millisecond }})
	c := newClient(n.Endpoint, withClock(clk.Now))

	doomed, survivor, later := createKey(t, c, nil), createKey(t, c, nil), createKey(t, c, nil)
	alias := createAlias(t, c, *doomed.KeyId)
	otherAlias := createAlias(t, c, *survivor.KeyId)
	ctx := map[string]string{"k": "v"}
	enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &alias, Plaintext: []byte("soon unreadable"), EncryptionContext: ctx})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: doomed.KeyId, PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: later.KeyId, PendingWindowInDays: aws.Int32(30)}); err != nil {
		t.Fatal(err)
	}

	// A minute before the deletion date, nothing happens.
	clk.Advance(sched.DeletionDate.Sub(clk.Now()) - time.Minute)
	time.Sleep(200 * time.Millisecond) // ten scheduler ticks
	wantState(t, c, *doomed.Arn, types.KeyStatePendingDeletion, false)

	clk.Advance(2 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: doomed.KeyId})
		if err != nil {
			wantAPIError(t, err, "NotFoundException", "Key '"+*doomed.Arn+"' does not exist")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key not deleted 10 s after its deletion date")
		}
		time.Sleep(20 * time.Millisecond)
	}

	_, err = c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: doomed.Arn})
	wantAPIError(t, err, "NotFoundException", "Key '"+*doomed.Arn+"' does not exist")
	_, err = c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: &alias})
	wantAPIError(t, err, "NotFoundException", "Alias "+aliasARN(alias)+" is not found.")
	_, err = c.DeleteAlias(ctxT(t), &kms.DeleteAliasInput{AliasName: &alias})
	wantAPIError(t, err, "NotFoundException", "Alias "+aliasARN(alias)+" is not found.")
	all := listAliases(t, c, nil)
	if _, ok := all[alias]; ok {
		t.Fatalf("alias %s of the deleted key still listed", alias)
	}
	if _, ok := all[otherAlias]; !ok {
		t.Fatalf("alias %s of a surviving key not listed", otherAlias)
	}
	_, err = c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctx})
	var ae smithy.APIError
	if !errors.As(err, &ae) || (ae.ErrorCode() != "InvalidCiphertextException" && ae.ErrorCode() != "NotFoundException") {
		t.Fatalf("Decrypt under a deleted key: %v; want InvalidCiphertextException or NotFoundException", err)
	}
	_, err = c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctx, KeyId: doomed.Arn})
	wantAPIError(t, err, "NotFoundException", "Key '"+*doomed.Arn+"' does not exist")

	keys, err := c.ListKeys(ctxT(t), &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, k := range keys.Keys {
		listed[*k.KeyId] = true
	}
	if listed[*doomed.KeyId] || !listed[*survivor.KeyId] || !listed[*later.KeyId] {
		t.Fatalf("ListKeys after deletion = %v; want survivor and later, not doomed", listed)
	}
	wantState(t, c, *survivor.Arn, types.KeyStateEnabled, true)
	wantState(t, c, *later.Arn, types.KeyStatePendingDeletion, false)
}
