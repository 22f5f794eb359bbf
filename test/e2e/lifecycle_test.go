package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func describe(t testing.TB, c *kms.Client, ref string) *types.KeyMetadata {
	t.Helper()
	out, err := c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: &ref})
	if err != nil {
		t.Fatalf("DescribeKey(%s): %v", ref, err)
	}
	return out.KeyMetadata
}

func wantState(t testing.TB, c *kms.Client, ref string, state types.KeyState, enabled bool) *types.KeyMetadata {
	t.Helper()
	m := describe(t, c, ref)
	if m.KeyState != state || m.Enabled != enabled {
		t.Fatalf("key %s: KeyState %s, Enabled %v; want %s, %v", ref, m.KeyState, m.Enabled, state, enabled)
	}
	return m
}

func TestEnableDisableKey(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	arn := *m.Arn
	alias := createAlias(t, c, *m.KeyId)
	enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &arn, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctxT(t), &kms.DisableKeyInput{KeyId: m.KeyId}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	wantState(t, c, arn, types.KeyStateDisabled, false)
	disabled := arn + " is disabled."
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"fail/Encrypt", func() error {
			_, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &alias, Plaintext: []byte("x")})
			return err
		}},
		{"fail/Decrypt", func() error {
			_, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			return err
		}},
		{"fail/GenerateDataKey", func() error {
			_, err := c.GenerateDataKey(ctxT(t), &kms.GenerateDataKeyInput{KeyId: m.KeyId, KeySpec: types.DataKeySpecAes256})
			return err
		}},
		{"fail/GenerateDataKeyWithoutPlaintext", func() error {
			_, err := c.GenerateDataKeyWithoutPlaintext(ctxT(t), &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: m.KeyId, KeySpec: types.DataKeySpecAes256})
			return err
		}},
		{"fail/ReEncrypt to it", func() error {
			other := createKey(t, c, nil)
			e2, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: other.KeyId, Plaintext: []byte("x")})
			if err != nil {
				return err
			}
			_, err = c.ReEncrypt(ctxT(t), &kms.ReEncryptInput{CiphertextBlob: e2.CiphertextBlob, DestinationKeyId: &arn})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.call(), "DisabledException", disabled) })
	}
	// Management operations still work on a disabled key.
	if _, err := c.DisableKey(ctxT(t), &kms.DisableKeyInput{KeyId: &arn}); err != nil {
		t.Fatalf("DisableKey twice: %v", err)
	}
	if _, err := c.UpdateKeyDescription(ctxT(t), &kms.UpdateKeyDescriptionInput{KeyId: &arn, Description: aws.String("disabled")}); err != nil {
		t.Fatalf("UpdateKeyDescription on a disabled key: %v", err)
	}
	if _, err := c.EnableKey(ctxT(t), &kms.EnableKeyInput{KeyId: &arn}); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	wantState(t, c, arn, types.KeyStateEnabled, true)
	if _, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt after EnableKey: %v", err)
	}
	missing := "6f8f41a4-6a8e-4c3b-9a1e-3a5b2c1d0e91"
	_, err = c.EnableKey(ctxT(t), &kms.EnableKeyInput{KeyId: &missing})
	wantAPIError(t, err, "NotFoundException", "Key '"+keyARN(missing)+"' does not exist")
	_, err = c.DisableKey(ctxT(t), &kms.DisableKeyInput{KeyId: aws.String("fake-key-id")})
	wantAPIError(t, err, "NotFoundException", "Invalid keyId 'fake-key-id'")
}

func TestScheduleAndCancelKeyDeletion(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	arn := *m.Arn
	enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &arn, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		days int32
		msg  string
	}{
		{"fail/6 days", 6, "1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7"},
		{"fail/31 days", 31, "1 validation error detected: Value '31' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: &arn, PendingWindowInDays: aws.Int32(tc.days)})
			wantAPIError(t, err, "ValidationException", tc.msg)
		})
	}
	_, err = c.CancelKeyDeletion(ctxT(t), &kms.CancelKeyDeletionInput{KeyId: &arn})
	wantAPIError(t, err, "KMSInvalidStateException", arn+" is not pending deletion.")

	before := time.Now()
	out, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: m.KeyId})
	if err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	due := before.Add(30 * 24 * time.Hour)
	if *out.KeyId != arn || out.KeyState != types.KeyStatePendingDeletion || aws.ToInt32(out.PendingWindowInDays) != 30 ||
		out.DeletionDate == nil || out.DeletionDate.Sub(due).Abs() > 5*time.Second {
		t.Fatalf("ScheduleKeyDeletion = KeyId %s, %s, %d days, %v; want %s, PendingDeletion, 30, about %v",
			*out.KeyId, out.KeyState, aws.ToInt32(out.PendingWindowInDays), out.DeletionDate, arn, due)
	}
	md := wantState(t, c, arn, types.KeyStatePendingDeletion, false)
	if md.DeletionDate == nil || !md.DeletionDate.Equal(*out.DeletionDate) || aws.ToInt32(md.PendingDeletionWindowInDays) != 30 {
		t.Fatalf("DescribeKey DeletionDate %v, window %d; want %v, 30", md.DeletionDate, aws.ToInt32(md.PendingDeletionWindowInDays), out.DeletionDate)
	}
	pending := arn + " is pending deletion."
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"fail/Encrypt", func() error {
			_, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &arn, Plaintext: []byte("x")})
			return err
		}},
		{"fail/Decrypt", func() error {
			_, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			return err
		}},
		{"fail/ScheduleKeyDeletion again", func() error {
			_, err := c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: &arn})
			return err
		}},
		{"fail/EnableKey", func() error { _, err := c.EnableKey(ctxT(t), &kms.EnableKeyInput{KeyId: &arn}); return err }},
		{"fail/DisableKey", func() error { _, err := c.DisableKey(ctxT(t), &kms.DisableKeyInput{KeyId: &arn}); return err }},
		{"fail/UpdateKeyDescription", func() error {
			_, err := c.UpdateKeyDescription(ctxT(t), &kms.UpdateKeyDescriptionInput{KeyId: &arn, Description: aws.String("x")})
			return err
		}},
		{"fail/TagResource", func() error {
			_, err := c.TagResource(ctxT(t), &kms.TagResourceInput{KeyId: &arn, Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("v")}}})
			return err
		}},
		{"fail/CreateAlias", func() error {
			_, err := c.CreateAlias(ctxT(t), &kms.CreateAliasInput{AliasName: aws.String(uniq("alias/e2e-pending")), TargetKeyId: &arn})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.call(), "KMSInvalidStateException", pending) })
	}
	// Read-only management operations still work.
	if _, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: &arn}); err != nil {
		t.Fatalf("GetKeyPolicy on a key pending deletion: %v", err)
	}

	cancel, err := c.CancelKeyDeletion(ctxT(t), &kms.CancelKeyDeletionInput{KeyId: m.KeyId})
	if err != nil || *cancel.KeyId != arn {
		t.Fatalf("CancelKeyDeletion = %v, %v; want KeyId %s", cancel, err, arn)
	}
	md = wantState(t, c, arn, types.KeyStateDisabled, false)
	if md.DeletionDate != nil || md.PendingDeletionWindowInDays != nil {
		t.Fatalf("after CancelKeyDeletion: DeletionDate %v, window %v", md.DeletionDate, md.PendingDeletionWindowInDays)
	}
	out, err = c.ScheduleKeyDeletion(ctxT(t), &kms.ScheduleKeyDeletionInput{KeyId: &arn, PendingWindowInDays: aws.Int32(7)})
	if err != nil || aws.ToInt32(out.PendingWindowInDays) != 7 || out.DeletionDate.Sub(time.Now().Add(7*24*time.Hour)).Abs() > 5*time.Second {
		t.Fatalf("ScheduleKeyDeletion(7) = %+v, %v", out, err)
	}
}

func TestUpdateKeyDescription(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	for _, tc := range []struct{ name, desc string }{{"ok/text", "new description"}, {"ok/empty", ""}, {"ok/8192 chars", string(make([]byte, 0)) + repeat('x', 8192)}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.UpdateKeyDescription(ctxT(t), &kms.UpdateKeyDescriptionInput{KeyId: m.KeyId, Description: aws.String(tc.desc)}); err != nil {
				t.Fatalf("UpdateKeyDescription: %v", err)
			}
			if got := aws.ToString(describe(t, c, *m.Arn).Description); got != tc.desc {
				t.Fatalf("Description = %q, want %q", got, tc.desc)
			}
		})
	}
	t.Run("fail/8193 chars", func(t *testing.T) {
		_, err := c.UpdateKeyDescription(ctxT(t), &kms.UpdateKeyDescriptionInput{KeyId: m.KeyId, Description: aws.String(repeat('x', 8193))})
		wantAPIError(t, err, "ValidationException", anyMessage)
	})
}

func repeat(b byte, n int) string {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return string(s)
}
