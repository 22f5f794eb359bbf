package kms

import (
	"context"
	"errors"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/wire"
)

// SymmetricDefault is the key spec of symmetric encryption keys, and the
// encryption algorithm of their ciphertexts.
const SymmetricDefault = "SYMMETRIC_DEFAULT"

// IsTrue reports whether an optional boolean member (DryRun, ...) is set
// and true.
func IsTrue(b *bool) bool { return b != nil && *b }

// DryRun is the answer to a request with DryRun that would have succeeded.
func DryRun() error {
	return awserr.New(awserr.DryRunOperation, "The request would have succeeded, but the DryRun option is set.")
}

// encryptionConditions returns the condition keys of a symmetric crypto request.
func encryptionConditions(ref *string, alg string, ec map[string]string) map[string][]string {
	conds := RequestAliasCond(ref)
	if conds == nil {
		conds = make(map[string][]string, 2+len(ec))
	}
	conds["kms:encryptionalgorithm"] = algorithmCondition(alg)
	return ContextConditions(conds, ec)
}

// symmetricDefaultCond is the kms:EncryptionAlgorithm value of nearly every
// request, shared read-only (condition values are never modified).
var symmetricDefaultCond = []string{SymmetricDefault}

func algorithmCondition(alg string) []string {
	if alg == SymmetricDefault {
		return symmetricDefaultCond
	}
	return []string{alg}
}

func rejectRecipient(r *wire.RecipientInfo) error {
	if r != nil {
		return awserr.New(awserr.UnsupportedOperation, "Trent does not support Nitro Enclaves attestation (Recipient).")
	}
	return nil
}

// sealSymmetric encrypts plaintext under a symmetric key's current material.
func (s *Service) sealSymmetric(ctx context.Context, lk *Key, plaintext []byte, ec map[string]string) ([]byte, error) {
	if lk.doc.CustomKeyStoreID != "" {
		return s.keyStores.Seal(ctx, lk, plaintext, ec)
	}
	if lk.symCurrent == nil {
		return nil, awserr.Newf(awserr.KMSInvalidState, "%s is pending import.", lk.arn)
	}
	return lk.symCurrent.Seal(s.rand, plaintext, ec)
}

// Encrypt implements the Encrypt operation.
func (s *Service) Encrypt(ctx context.Context, in *wire.EncryptInput) (*wire.EncryptOutput, error) {
	var v Validator
	v.Required(in.Plaintext != nil, "plaintext")
	v.BlobLen(in.Plaintext, in.Plaintext != nil, "plaintext", 1, 4096)
	v.Enum(in.EncryptionAlgorithm, "encryptionAlgorithm", enumEncAlg)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	alg := SymmetricDefault
	if in.EncryptionAlgorithm != nil {
		alg = *in.EncryptionAlgorithm
	}
	conds := encryptionConditions(in.KeyID, alg, in.EncryptionContext)
	lk, err := s.usableKey(ctx, in.KeyID, RefAliasOK, "kms:Encrypt", "ENCRYPT_DECRYPT", "Encrypt", conds, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if lk.doc.Spec != SymmetricDefault {
		return s.encryptAsymmetric(ctx, lk, alg, in)
	}
	if alg != SymmetricDefault {
		return nil, awserr.Newf(awserr.InvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", alg, lk.doc.Spec)
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	blob, err := s.sealSymmetric(ctx, lk, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &wire.EncryptOutput{CiphertextBlob: blob, KeyID: lk.arn, EncryptionAlgorithm: SymmetricDefault}, nil
}

// openSymmetric parses and decrypts a symmetric ciphertext, returning the
// key that opened it. wantKey, if non-nil, must name the same key
// (IncorrectKeyException otherwise). It authorizes action on the key.
func (s *Service) openSymmetric(ctx context.Context, blob []byte, ec map[string]string, wantKey *string, action string, conds map[string][]string, grantTokens []string, dry, ignoreCiphertext bool) (*Key, []byte, string, error) {
	b, err := ciphertext.Parse(blob)
	if err != nil {
		if wantKey != nil {
			// An asymmetric ciphertext, or garbage, named by key: let the
			// caller try the key's own algorithm.
			return nil, nil, "", errNotSymmetric
		}
		return nil, nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	keyRef := b.KeyID
	var lk *Key
	if wantKey != nil {
		want, err := s.ResolveKey(ctx, wantKey, RefAliasOK, "keyId", action)
		if err != nil {
			return nil, nil, "", err
		}
		if want.doc.ID != keyRef {
			// A symmetric ciphertext of another key. AWS checks the
			// ciphertext's key first: IncorrectKeyException, also when
			// the named key cannot decrypt at all (signing, MAC, key
			// agreement). Only an asymmetric encryption key goes on to
			// its own algorithm: the blob may be one of its ciphertexts
			// that happens to parse.
			if want.doc.Spec != SymmetricDefault && want.doc.Usage == "ENCRYPT_DECRYPT" {
				// Whatever the caller makes of it (Decrypt tries the
				// key's algorithm, ReEncrypt refuses the ciphertext),
				// another account the key's policies do not allow
				// learns nothing about the key from it.
				if err := s.beforeAuth(ctx, want, action, conds, grantTokens, nil); err != nil {
					return nil, nil, "", err
				}
				return nil, nil, "", errNotSymmetric
			}
			return nil, nil, "", s.beforeAuth(ctx, want, action, conds, grantTokens,
				awserr.New(awserr.IncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation."))
		}
		lk = want
	} else {
		lk, err = s.GetKey(ctx, keyRef)
		if err != nil {
			return nil, nil, "", err
		}
		if lk == nil || (lk.doc.Region != "" && lk.doc.Region != s.region) {
			return nil, nil, "", awserr.New(awserr.InvalidCiphertext, "")
		}
		NoteKey(ctx, lk.arn)
	}
	if err := s.throttleKey(ctx, lk, action); err != nil {
		return nil, nil, "", err
	}
	if lk.doc.Usage != "ENCRYPT_DECRYPT" || lk.doc.Spec != SymmetricDefault {
		return nil, nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	if err := s.authorizeKey(ctx, lk, action, conds, grantTokens); err != nil {
		return nil, nil, "", err
	}
	if err := RequireUsable(lk); err != nil {
		return nil, nil, "", err
	}
	if dry && ignoreCiphertext {
		return nil, nil, "", DryRun()
	}
	if lk.doc.CustomKeyStoreID != "" {
		pt, mid, err := s.keyStores.Open(ctx, lk, b, ec)
		if err != nil {
			return nil, nil, "", err
		}
		if dry {
			clear(pt)
			return nil, nil, "", DryRun()
		}
		return lk, pt, mid, nil
	}
	ck := lk.symKey(b.MaterialID)
	if ck == nil {
		return nil, nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	pt, err := ck.Open(b, ec)
	if err != nil {
		return nil, nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	if dry {
		clear(pt)
		return nil, nil, "", DryRun()
	}
	return lk, pt, ciphertext.MaterialIDString(b.MaterialID), nil
}

var errNotSymmetric = errors.New("kms: not a symmetric ciphertext")

// Decrypt implements the Decrypt operation.
func (s *Service) Decrypt(ctx context.Context, in *wire.DecryptInput) (*wire.DecryptOutput, error) {
	var v Validator
	v.Required(in.CiphertextBlob != nil, "ciphertextBlob")
	v.BlobLen(in.CiphertextBlob, in.CiphertextBlob != nil, "ciphertextBlob", 1, 6144)
	v.Enum(in.EncryptionAlgorithm, "encryptionAlgorithm", enumEncAlg)
	v.GrantTokens(in.GrantTokens)
	for _, m := range in.DryRunModifiers {
		v.Enum(&m, "dryRunModifiers", enumDryRunMod)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := rejectRecipient(in.Recipient); err != nil {
		return nil, err
	}
	alg := SymmetricDefault
	if in.EncryptionAlgorithm != nil {
		alg = *in.EncryptionAlgorithm
	}
	if IsTrue(in.DryRun) && ignoreCiphertext(in.DryRunModifiers) && in.KeyID != nil {
		return nil, s.decryptDryRun(ctx, in, alg)
	}
	if alg != SymmetricDefault {
		if in.KeyID == nil {
			return nil, awserr.New(awserr.Validation, "KeyId is required when the EncryptionAlgorithm is not SYMMETRIC_DEFAULT.")
		}
		return s.decryptAsymmetric(ctx, in, alg)
	}
	conds := encryptionConditions(in.KeyID, alg, in.EncryptionContext)
	lk, pt, mid, err := s.openSymmetric(ctx, in.CiphertextBlob, in.EncryptionContext, in.KeyID, "kms:Decrypt", conds, in.GrantTokens, IsTrue(in.DryRun), ignoreCiphertext(in.DryRunModifiers))
	if errors.Is(err, errNotSymmetric) {
		return s.decryptAsymmetric(ctx, in, alg)
	}
	if err != nil {
		return nil, err
	}
	return &wire.DecryptOutput{KeyID: lk.arn, Plaintext: pt, EncryptionAlgorithm: SymmetricDefault, KeyMaterialID: mid}, nil
}

func ignoreCiphertext(mods []string) bool {
	for _, m := range mods {
		if m == "IGNORE_CIPHERTEXT" {
			return true
		}
	}
	return false
}

// ReEncrypt implements the ReEncrypt operation: decrypt and encrypt inside
// the service, so the plaintext never leaves it.
func (s *Service) ReEncrypt(ctx context.Context, in *wire.ReEncryptInput) (*wire.ReEncryptOutput, error) {
	var v Validator
	v.Required(in.CiphertextBlob != nil, "ciphertextBlob")
	v.BlobLen(in.CiphertextBlob, in.CiphertextBlob != nil, "ciphertextBlob", 1, 6144)
	v.Required(in.DestinationKeyID != nil, "destinationKeyId")
	v.Enum(in.SourceEncryptionAlgorithm, "sourceEncryptionAlgorithm", enumEncAlg)
	v.Enum(in.DestinationEncryptionAlgorithm, "destinationEncryptionAlgorithm", enumEncAlg)
	v.GrantTokens(in.GrantTokens)
	for _, m := range in.DryRunModifiers {
		v.Enum(&m, "dryRunModifiers", enumDryRunMod)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	srcAlg, dstAlg := SymmetricDefault, SymmetricDefault
	if in.SourceEncryptionAlgorithm != nil {
		srcAlg = *in.SourceEncryptionAlgorithm
	}
	if in.DestinationEncryptionAlgorithm != nil {
		dstAlg = *in.DestinationEncryptionAlgorithm
	}
	dst, err := s.ResolveKey(ctx, in.DestinationKeyID, RefAliasOK, "destinationKeyId", "kms:ReEncryptTo")
	if err != nil {
		return nil, err
	}
	if dst.doc.Usage != "ENCRYPT_DECRYPT" {
		return nil, s.beforeAuth(ctx, dst, "kms:ReEncryptTo", encryptionConditions(in.DestinationKeyID, dstAlg, in.DestinationEncryptionContext),
			in.GrantTokens, invalidUsage(dst, "ReEncrypt"))
	}
	if IsTrue(in.DryRun) && ignoreCiphertext(in.DryRunModifiers) {
		return nil, s.reEncryptDryRun(ctx, in, dst, srcAlg, dstAlg)
	}
	var (
		src    *Key
		pt     []byte
		srcMat string
	)
	switch {
	case srcAlg == SymmetricDefault:
		conds := encryptionConditions(in.SourceKeyID, srcAlg, in.SourceEncryptionContext)
		src, pt, srcMat, err = s.openSymmetric(ctx, in.CiphertextBlob, in.SourceEncryptionContext, in.SourceKeyID, "kms:ReEncryptFrom", conds, in.GrantTokens, false, false)
		if errors.Is(err, errNotSymmetric) {
			err = awserr.New(awserr.InvalidCiphertext, "")
		}
	case in.SourceKeyID == nil:
		err = awserr.New(awserr.Validation, "SourceKeyId is required when the SourceEncryptionAlgorithm is not SYMMETRIC_DEFAULT.")
	default:
		src, pt, err = s.openAsymmetric(ctx, in.SourceKeyID, srcAlg, in.CiphertextBlob, "kms:ReEncryptFrom", in.GrantTokens)
	}
	if err != nil {
		// The destination is resolved but not yet authorized (its
		// conditions need the source): another account that may not
		// use it gets the denial a missing key gets, not the source's
		// error, which would tell it that the key exists.
		return nil, s.beforeAuth(ctx, dst, "kms:ReEncryptTo",
			encryptionConditions(in.DestinationKeyID, dstAlg, in.DestinationEncryptionContext), in.GrantTokens, err)
	}
	defer clear(pt)
	conds := encryptionConditions(in.DestinationKeyID, dstAlg, in.DestinationEncryptionContext)
	if src.doc.ID == dst.doc.ID {
		conds["kms:reencryptonsamekey"] = []string{"true"}
	} else {
		conds["kms:reencryptonsamekey"] = []string{"false"}
	}
	if err := s.authorizeKey(ctx, dst, "kms:ReEncryptTo", conds, in.GrantTokens); err != nil {
		return nil, err
	}
	if err := RequireUsable(dst); err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	out := &wire.ReEncryptOutput{SourceKeyID: src.arn, KeyID: dst.arn, SourceEncryptionAlgorithm: srcAlg, DestinationEncryptionAlgorithm: dstAlg, SourceKeyMaterialID: srcMat}
	if dst.doc.Spec == SymmetricDefault {
		if dstAlg != SymmetricDefault {
			return nil, awserr.Newf(awserr.InvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", dstAlg, dst.doc.Spec)
		}
		out.CiphertextBlob, err = s.sealSymmetric(ctx, dst, pt, in.DestinationEncryptionContext)
		out.DestinationKeyMaterialID = dst.current
	} else {
		out.CiphertextBlob, err = s.asymEncrypt(dst, dstAlg, pt)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GenerateDataKey implements GenerateDataKey and, with withPlaintext false,
// GenerateDataKeyWithoutPlaintext.
func (s *Service) generateDataKey(ctx context.Context, in *wire.GenerateDataKeyInput, withPlaintext bool, op string) (*wire.GenerateDataKeyOutput, error) {
	var v Validator
	v.IntRange(in.NumberOfBytes, "numberOfBytes", 1, 1024)
	v.Enum(in.KeySpec, "keySpec", enumDataKey)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := rejectRecipient(in.Recipient); err != nil {
		return nil, err
	}
	var n int
	switch {
	case in.NumberOfBytes != nil && in.KeySpec != nil:
		return nil, awserr.New(awserr.Validation, "Please specify either number of bytes or key spec.")
	case in.NumberOfBytes != nil:
		n = int(*in.NumberOfBytes)
	case in.KeySpec != nil && *in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec != nil:
		n = 32
	default:
		return nil, awserr.New(awserr.Validation, "Please specify either number of bytes or key spec.")
	}
	conds := encryptionConditions(in.KeyID, SymmetricDefault, in.EncryptionContext)
	lk, err := s.dataKeyWrapper(ctx, in.KeyID, op, conds, in.GrantTokens, in.DryRun)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, n)
	if _, err := s.rand.Read(pt); err != nil {
		return nil, err
	}
	blob, err := s.sealSymmetric(ctx, lk, pt, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	out := &wire.GenerateDataKeyOutput{CiphertextBlob: blob, KeyID: lk.arn, KeyMaterialID: lk.current}
	if withPlaintext {
		out.Plaintext = pt
	} else {
		clear(pt)
	}
	return out, nil
}

// dataKeyWrapper resolves and checks the symmetric key that encrypts a new
// data key or data key pair for op, and authorizes the caller; a dry run
// ends here with DryRunOperationException.
func (s *Service) dataKeyWrapper(ctx context.Context, ref *string, op string, conds map[string][]string, tokens []string, dry *bool) (*Key, error) {
	lk, err := s.usableKey(ctx, ref, RefAliasOK, "kms:"+op, "ENCRYPT_DECRYPT", op, conds, tokens)
	if err != nil {
		return nil, err
	}
	if lk.doc.Spec != SymmetricDefault {
		return nil, awserr.Newf(awserr.InvalidKeyUsage, "%s key spec is %s which is not valid for %s.", lk.arn, lk.doc.Spec, op)
	}
	if IsTrue(dry) {
		return nil, DryRun()
	}
	return lk, nil
}

// GenerateDataKey implements the GenerateDataKey operation.
func (s *Service) GenerateDataKey(ctx context.Context, in *wire.GenerateDataKeyInput) (*wire.GenerateDataKeyOutput, error) {
	return s.generateDataKey(ctx, in, true, "GenerateDataKey")
}

// GenerateDataKeyWithoutPlaintext implements the GenerateDataKeyWithoutPlaintext operation.
func (s *Service) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *wire.GenerateDataKeyInput) (*wire.GenerateDataKeyOutput, error) {
	return s.generateDataKey(ctx, in, false, "GenerateDataKeyWithoutPlaintext")
}

// GenerateRandom implements the GenerateRandom operation.
func (s *Service) GenerateRandom(ctx context.Context, in *wire.GenerateRandomInput) (*wire.GenerateRandomOutput, error) {
	if in.NumberOfBytes == nil {
		return nil, awserr.New(awserr.Validation, "NumberOfBytes is required.")
	}
	var v Validator
	v.IntRange(in.NumberOfBytes, "numberOfBytes", 1, 1024)
	v.StrLen(in.CustomKeyStoreID, "customKeyStoreId", 1, 64)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := rejectRecipient(in.Recipient); err != nil {
		return nil, err
	}
	if err := s.AuthorizeAccount(ctx, "kms:GenerateRandom", nil); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreID != nil {
		b, err := s.keyStores.GenerateRandom(ctx, *in.CustomKeyStoreID, int(*in.NumberOfBytes))
		if err != nil {
			return nil, err
		}
		return &wire.GenerateRandomOutput{Plaintext: b}, nil
	}
	b := make([]byte, *in.NumberOfBytes)
	if _, err := s.rand.Read(b); err != nil {
		return nil, err
	}
	return &wire.GenerateRandomOutput{Plaintext: b}, nil
}
