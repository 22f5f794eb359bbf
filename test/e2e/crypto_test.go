package e2e

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

const dryRunMsg = "The request would have succeeded, but the DryRun option is set."

func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	id, arn := *m.KeyId, *m.Arn
	alias := createAlias(t, c, id)
	ctx := map[string]string{"purpose": "e2e", "a": "b"}
	cases := []struct {
		name string
		ref  string
		size int
	}{
		{"ok/1 byte by key ID", id, 1},
		{"ok/16 bytes by key ARN", arn, 16},
		{"ok/4096 bytes by alias name", alias, 4096},
		{"ok/100 bytes by alias ARN", aliasARN(alias), 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pt := randBytes(t, tc.size)
			enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: aws.String(tc.ref), Plaintext: pt, EncryptionContext: ctx})
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if aws.ToString(enc.KeyId) != arn || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
				t.Fatalf("Encrypt KeyId, algorithm = %v, %s; want %s, SYMMETRIC_DEFAULT", aws.ToString(enc.KeyId), enc.EncryptionAlgorithm, arn)
			}
			if bytes.Contains(enc.CiphertextBlob, pt) && tc.size >= 16 {
				t.Fatal("ciphertext contains the plaintext")
			}
			// Without KeyId: the ciphertext names its key.
			for _, keyID := range []*string{nil, aws.String(tc.ref)} {
				dec, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctx, KeyId: keyID})
				if err != nil {
					t.Fatalf("Decrypt(KeyId %v): %v", aws.ToString(keyID), err)
				}
				if !bytes.Equal(dec.Plaintext, pt) {
					t.Fatal("Decrypt returned a different plaintext")
				}
				if aws.ToString(dec.KeyId) != arn || aws.ToString(dec.KeyMaterialId) != aws.ToString(m.CurrentKeyMaterialId) ||
					dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
					t.Fatalf("Decrypt KeyId, KeyMaterialId, algorithm = %s, %s, %s; want %s, %s, SYMMETRIC_DEFAULT",
						aws.ToString(dec.KeyId), aws.ToString(dec.KeyMaterialId), dec.EncryptionAlgorithm, arn, aws.ToString(m.CurrentKeyMaterialId))
				}
			}
		})
	}
}

func TestEncryptDecryptErrors(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	other := createKey(t, c, nil)
	id := *m.KeyId
	ctx := map[string]string{"ab": "c"}
	pt := []byte("attack at dawn")
	enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &id, Plaintext: pt, EncryptionContext: ctx})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	decrypt := func(in kms.DecryptInput) func() error {
		return func() error { _, err := c.Decrypt(ctxT(t), &in); return err }
	}
	encrypt := func(in kms.EncryptInput) func() error {
		return func() error { _, err := c.Encrypt(ctxT(t), &in); return err }
	}
	cases := []struct {
		name      string
		call      func() error
		code, msg string
	}{
		// The encryption context is authenticated, and its encoding is
		// unambiguous: {"ab":"c"} must not open {"a":"bc"}.
		{"fail/shifted context", decrypt(kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "bc"}}), "InvalidCiphertextException", ""},
		{"fail/no context", decrypt(kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}), "InvalidCiphertextException", ""},
		{"fail/extra context pair", decrypt(kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"ab": "c", "x": "y"}}), "InvalidCiphertextException", ""},
		{"fail/context value case", decrypt(kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"ab": "C"}}), "InvalidCiphertextException", ""},
		{"fail/tampered ciphertext", decrypt(kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ctx}), "InvalidCiphertextException", ""},
		{"fail/garbage ciphertext", decrypt(kms.DecryptInput{CiphertextBlob: []byte("definitely not a ciphertext")}), "InvalidCiphertextException", ""},
		{"fail/different key", decrypt(kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctx, KeyId: other.KeyId}),
			"IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation."},
		{"fail/decrypt dry run", decrypt(kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctx, DryRun: aws.Bool(true)}), "DryRunOperationException", dryRunMsg},
		{"fail/encrypt dry run", encrypt(kms.EncryptInput{KeyId: &id, Plaintext: pt, DryRun: aws.Bool(true)}), "DryRunOperationException", dryRunMsg},
		{"fail/plaintext 4097 bytes", encrypt(kms.EncryptInput{KeyId: &id, Plaintext: make([]byte, 4097)}), "ValidationException",
			"1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"fail/empty plaintext", encrypt(kms.EncryptInput{KeyId: &id, Plaintext: []byte{}}), "ValidationException", anyMessage},
		{"fail/unknown key", encrypt(kms.EncryptInput{KeyId: aws.String("alias/e2e-nope"), Plaintext: pt}), "NotFoundException", "Alias " + aliasARN("alias/e2e-nope") + " is not found."},
		{"fail/malformed key", encrypt(kms.EncryptInput{KeyId: aws.String("fake-key-id"), Plaintext: pt}), "NotFoundException", "Invalid keyId 'fake-key-id'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantAPIError(t, tc.call(), tc.code, tc.msg)
		})
	}
	// After all that, the right context still works.
	dec, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"ab": "c"}})
	if err != nil || !bytes.Equal(dec.Plaintext, pt) {
		t.Fatalf("Decrypt with the right context: %v", err)
	}
}

func TestReEncrypt(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	src, dst := createKey(t, c, nil), createKey(t, c, nil)
	dstAlias := createAlias(t, c, *dst.KeyId)
	pt := randBytes(t, 300)
	srcCtx, dstCtx := map[string]string{"stage": "one"}, map[string]string{"stage": "two"}
	enc, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: src.KeyId, Plaintext: pt, EncryptionContext: srcCtx})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/to another key by alias", func(t *testing.T) {
		re, err := c.ReEncrypt(ctxT(t), &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: srcCtx,
			DestinationKeyId: &dstAlias, DestinationEncryptionContext: dstCtx})
		if err != nil {
			t.Fatalf("ReEncrypt: %v", err)
		}
		if *re.SourceKeyId != *src.Arn || *re.KeyId != *dst.Arn ||
			re.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault ||
			re.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
			t.Fatalf("ReEncrypt = %+v", re)
		}
		dec, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: dstCtx})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) || *dec.KeyId != *dst.Arn {
			t.Fatalf("Decrypt of re-encrypted blob: %v", err)
		}
		_, err = c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: srcCtx})
		wantAPIError(t, err, "InvalidCiphertextException", "")
	})
	t.Run("fail/wrong source context", func(t *testing.T) {
		_, err := c.ReEncrypt(ctxT(t), &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: dstCtx, DestinationKeyId: dst.KeyId})
		wantAPIError(t, err, "InvalidCiphertextException", "")
	})
	t.Run("fail/wrong source key", func(t *testing.T) {
		_, err := c.ReEncrypt(ctxT(t), &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: srcCtx, SourceKeyId: dst.KeyId, DestinationKeyId: dst.KeyId})
		wantAPIError(t, err, "IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
	})
	t.Run("fail/dry run", func(t *testing.T) {
		_, err := c.ReEncrypt(ctxT(t), &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: srcCtx, DestinationKeyId: dst.KeyId, DryRun: aws.Bool(true)})
		wantAPIError(t, err, "DryRunOperationException", dryRunMsg)
	})
	t.Run("fail/unknown destination", func(t *testing.T) {
		missing := "6f8f41a4-6a8e-4c3b-9a1e-3a5b2c1d0e90"
		_, err := c.ReEncrypt(ctxT(t), &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: srcCtx, DestinationKeyId: &missing})
		wantAPIError(t, err, "NotFoundException", "Key '"+keyARN(missing)+"' does not exist")
	})
}

func TestGenerateDataKey(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	alias := createAlias(t, c, *m.KeyId)
	ctx := map[string]string{"file": "e2e"}
	cases := []struct {
		name string
		in   kms.GenerateDataKeyInput
		size int
	}{
		{"ok/AES_256", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
		{"ok/AES_128", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
		{"ok/1 byte", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(1)}, 1},
		{"ok/1024 bytes", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(1024)}, 1024},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.in
			in.KeyId, in.EncryptionContext = &alias, ctx
			out, err := c.GenerateDataKey(ctxT(t), &in)
			if err != nil {
				t.Fatalf("GenerateDataKey: %v", err)
			}
			if len(out.Plaintext) != tc.size || *out.KeyId != *m.Arn || aws.ToString(out.KeyMaterialId) != aws.ToString(m.CurrentKeyMaterialId) {
				t.Fatalf("GenerateDataKey: %d bytes, KeyId %s, KeyMaterialId %s", len(out.Plaintext), *out.KeyId, aws.ToString(out.KeyMaterialId))
			}
			dec, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ctx})
			if err != nil || !bytes.Equal(dec.Plaintext, out.Plaintext) {
				t.Fatalf("Decrypt of the data key: %v", err)
			}
			wp := kms.GenerateDataKeyWithoutPlaintextInput{KeyId: &alias, EncryptionContext: ctx, KeySpec: tc.in.KeySpec, NumberOfBytes: tc.in.NumberOfBytes}
			out2, err := c.GenerateDataKeyWithoutPlaintext(ctxT(t), &wp)
			if err != nil || *out2.KeyId != *m.Arn {
				t.Fatalf("GenerateDataKeyWithoutPlaintext: %v", err)
			}
			dec, err = c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: out2.CiphertextBlob, EncryptionContext: ctx})
			if err != nil || len(dec.Plaintext) != tc.size {
				t.Fatalf("Decrypt of the data key without plaintext: %v", err)
			}
		})
	}

	id := m.KeyId
	fails := []struct {
		name      string
		in        kms.GenerateDataKeyInput
		code, msg string
	}{
		{"fail/0 bytes", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(0)}, "ValidationException",
			"1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"fail/1025 bytes", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(1025)}, "ValidationException",
			"1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
		{"fail/both", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(32), KeySpec: types.DataKeySpecAes256}, "ValidationException", anyMessage},
		{"fail/neither", kms.GenerateDataKeyInput{}, "ValidationException", anyMessage},
		{"fail/unknown key spec", kms.GenerateDataKeyInput{KeySpec: "AES_512"}, "ValidationException",
			"1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"},
		{"fail/dry run", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(true)}, "DryRunOperationException", dryRunMsg},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := tc.in
			in.KeyId = id
			_, err := c.GenerateDataKey(ctxT(t), &in)
			wantAPIError(t, err, tc.code, tc.msg)
			wp := kms.GenerateDataKeyWithoutPlaintextInput{KeyId: id, KeySpec: in.KeySpec, NumberOfBytes: in.NumberOfBytes, DryRun: in.DryRun}
			_, err = c.GenerateDataKeyWithoutPlaintext(ctxT(t), &wp)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
}

func TestGenerateRandom(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	for _, n := range []int32{1, 32, 1024} {
		out, err := c.GenerateRandom(ctxT(t), &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(n)})
		if err != nil || len(out.Plaintext) != int(n) {
			t.Fatalf("GenerateRandom(%d): %d bytes, %v", n, len(out.Plaintext), err)
		}
	}
	a, _ := c.GenerateRandom(ctxT(t), &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	b, _ := c.GenerateRandom(ctxT(t), &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(32)})
	if a == nil || b == nil || bytes.Equal(a.Plaintext, b.Plaintext) {
		t.Fatal("two GenerateRandom calls returned the same 32 bytes")
	}
	for _, tc := range []struct {
		name string
		n    *int32
		msg  string
	}{
		{"fail/0", aws.Int32(0), "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"fail/1025", aws.Int32(1025), "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
		{"fail/missing", nil, "NumberOfBytes is required."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GenerateRandom(ctxT(t), &kms.GenerateRandomInput{NumberOfBytes: tc.n})
			wantAPIError(t, err, "ValidationException", tc.msg)
		})
	}
}

// TestKeyReferenceForms checks which forms of KeyId each operation accepts:
// alias names and ARNs only where AWS accepts them.
func TestKeyReferenceForms(t *testing.T) {
	t.Parallel()
	c := newClient(shared.Endpoint)
	m := createKey(t, c, nil)
	alias := createAlias(t, c, *m.KeyId)
	refs := []struct {
		name    string
		ref     string
		isAlias bool
	}{{"key ID", *m.KeyId, false}, {"key ARN", *m.Arn, false}, {"alias name", alias, true}, {"alias ARN", aliasARN(alias), true}}
	keyOnly := map[string]func(ref string) error{
		"EnableKey": func(ref string) error { _, err := c.EnableKey(ctxT(t), &kms.EnableKeyInput{KeyId: &ref}); return err },
		"UpdateKeyDescription": func(ref string) error {
			_, err := c.UpdateKeyDescription(ctxT(t), &kms.UpdateKeyDescriptionInput{KeyId: &ref, Description: aws.String("by " + ref)})
			return err
		},
		"TagResource": func(ref string) error {
			_, err := c.TagResource(ctxT(t), &kms.TagResourceInput{KeyId: &ref, Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("v")}}})
			return err
		},
		"ListResourceTags": func(ref string) error {
			_, err := c.ListResourceTags(ctxT(t), &kms.ListResourceTagsInput{KeyId: &ref})
			return err
		},
		"GetKeyPolicy": func(ref string) error {
			_, err := c.GetKeyPolicy(ctxT(t), &kms.GetKeyPolicyInput{KeyId: &ref})
			return err
		},
		"ListKeyPolicies": func(ref string) error {
			_, err := c.ListKeyPolicies(ctxT(t), &kms.ListKeyPoliciesInput{KeyId: &ref})
			return err
		},
		"ListAliases": func(ref string) error {
			_, err := c.ListAliases(ctxT(t), &kms.ListAliasesInput{KeyId: &ref})
			return err
		},
		"CreateAlias": func(ref string) error {
			_, err := c.CreateAlias(ctxT(t), &kms.CreateAliasInput{AliasName: aws.String(uniq("alias/e2e-ref")), TargetKeyId: &ref})
			return err
		},
	}
	aliasOK := map[string]func(ref string) error{
		"DescribeKey": func(ref string) error {
			_, err := c.DescribeKey(ctxT(t), &kms.DescribeKeyInput{KeyId: &ref})
			return err
		},
		"Encrypt": func(ref string) error {
			_, err := c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: &ref, Plaintext: []byte("x")})
			return err
		},
		"GenerateDataKey": func(ref string) error {
			_, err := c.GenerateDataKey(ctxT(t), &kms.GenerateDataKeyInput{KeyId: &ref, KeySpec: types.DataKeySpecAes256})
			return err
		},
		"GenerateDataKeyWithoutPlaintext": func(ref string) error {
			_, err := c.GenerateDataKeyWithoutPlaintext(ctxT(t), &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: &ref, NumberOfBytes: aws.Int32(8)})
			return err
		},
	}
	for _, r := range refs {
		for op, call := range aliasOK {
			t.Run("ok/"+op+" by "+r.name, func(t *testing.T) {
				if err := call(r.ref); err != nil {
					t.Fatalf("%s(%s): %v", op, r.ref, err)
				}
			})
		}
		for op, call := range keyOnly {
			name := "ok/" + op + " by " + r.name
			if r.isAlias {
				name = "fail/" + op + " by " + r.name
			}
			t.Run(name, func(t *testing.T) {
				err := call(r.ref)
				if !r.isAlias {
					if err != nil {
						t.Fatalf("%s(%s): %v", op, r.ref, err)
					}
					return
				}
				wantAPIError(t, err, "NotFoundException", anyMessage)
				if !strings.Contains(err.Error(), r.ref) {
					t.Errorf("%s(%s): message does not name the reference: %v", op, r.ref, err)
				}
			})
		}
	}
}
