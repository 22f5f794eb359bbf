package kms

import (
	"context"
	"errors"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/wire"
)

const symmetricDefault = "SYMMETRIC_DEFAULT"

func isTrue(b *bool) bool { return b != nil && *b }

// dryRun is the answer to a request with DryRun that would have succeeded.
func dryRun() error {
	return awserr.New(awserr.DryRunOperation, "The request would have succeeded, but the DryRun option is set.")
}

// encryptionConditions returns the condition keys of a symmetric crypto request.
func encryptionConditions(ref *string, alg string, ec map[string]string) map[string][]string {
	conds := requestAliasCond(ref)
	if conds == nil {
		conds = make(map[string][]string, 2+len(ec))
	}
	conds["kms:encryptionalgorithm"] = algorithmCondition(alg)
	return contextConditions(conds, ec)
}

// symmetricDefaultCond is the kms:EncryptionAlgorithm value of nearly every
// request, shared read-only (condition values are never modified).
var symmetricDefaultCond = []string{symmetricDefault}

func algorithmCondition(alg string) []string {
	if alg == symmetricDefault {
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
func (s *Service) sealSymmetric(ctx context.Context, lk *loadedKey, plaintext []byte, ec map[string]string) ([]byte, error) {
	if lk.doc.CustomKeyStoreID != "" {
		return s.sealInStore(ctx, lk, plaintext, ec)
	}
	if lk.symCurrent == nil {
		return nil, awserr.Newf(awserr.KMSInvalidState, "%s is pending import.", lk.arn)
	}
	return lk.symCurrent.Seal(s.rand, plaintext, ec)
}

// Encrypt implements the Encrypt operation.
func (s *Service) Encrypt(ctx context.Context, in *wire.EncryptInput) (*wire.EncryptOutput, error) {
	var v validator
	v.required(in.Plaintext != nil, "plaintext")
	v.blobLen(in.Plaintext, in.Plaintext != nil, "plaintext", 1, 4096)
	v.enum(in.EncryptionAlgorithm, "encryptionAlgorithm", enumEncAlg)
	v.grantTokens(in.GrantTokens)
	if err := v.err(); err != nil {
		return nil, err
	}
	alg := symmetricDefault
	if in.EncryptionAlgorithm != nil {
		alg = *in.EncryptionAlgorithm
	}
	conds := encryptionConditions(in.KeyID, alg, in.EncryptionContext)
	lk, err := s.usableKey(ctx, in.KeyID, refAliasOK, "kms:Encrypt", "ENCRYPT_DECRYPT", "Encrypt", conds, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if lk.doc.Spec != symmetricDefault {
		return s.encryptAsymmetric(ctx, lk, alg, in)
	}
	if alg != symmetricDefault {
		return nil, awserr.Newf(awserr.InvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", alg, lk.doc.Spec)
	}
	if isTrue(in.DryRun) {
		return nil, dryRun()
	}
	blob, err := s.sealSymmetric(ctx, lk, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &wire.EncryptOutput{CiphertextBlob: blob, KeyID: lk.arn, EncryptionAlgorithm: symmetricDefault}, nil
}

// openSymmetric parses and decrypts a symmetric ciphertext, returning the
// key that opened it. wantKey, if non-nil, must name the same key
// (IncorrectKeyException otherwise). It authorizes action on the key.
func (s *Service) openSymmetric(ctx context.Context, blob []byte, ec map[string]string, wantKey *string, action string, conds map[string][]string, grantTokens []string, dry, ignoreCiphertext bool) (*loadedKey, []byte, string, error) {
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
	var lk *loadedKey
	if wantKey != nil {
		want, err := s.resolveKey(ctx, wantKey, refAliasOK, "keyId", action)
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
			if want.doc.Spec != symmetricDefault && want.doc.Usage == "ENCRYPT_DECRYPT" {
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
		lk, err = s.getKey(ctx, keyRef)
		if err != nil {
			return nil, nil, "", err
		}
		if lk == nil || (lk.doc.Region != "" && lk.doc.Region != s.region) {
			return nil, nil, "", awserr.New(awserr.InvalidCiphertext, "")
		}
		noteKey(ctx, lk.arn)
	}
	if lk.doc.Usage != "ENCRYPT_DECRYPT" || lk.doc.Spec != symmetricDefault {
		return nil, nil, "", awserr.New(awserr.InvalidCiphertext, "")
	}
	if err := s.authorizeKey(ctx, lk, action, conds, grantTokens); err != nil {
		return nil, nil, "", err
	}
	if err := requireUsable(lk); err != nil {
		return nil, nil, "", err
	}
	if dry && ignoreCiphertext {
		return nil, nil, "", dryRun()
	}
	if lk.doc.CustomKeyStoreID != "" {
		return s.openSymmetricInStore(ctx, lk, b, ec, dry)
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
		return nil, nil, "", dryRun()
	}
	return lk, pt, ciphertext.MaterialIDString(b.MaterialID), nil
}

var errNotSymmetric = errors.New("kms: not a symmetric ciphertext")

// Decrypt implements the Decrypt operation.
func (s *Service) Decrypt(ctx context.Context, in *wire.DecryptInput) (*wire.DecryptOutput, error) {
	var v validator
	v.required(in.CiphertextBlob != nil, "ciphertextBlob")
	v.blobLen(in.CiphertextBlob, in.CiphertextBlob != nil, "ciphertextBlob", 1, 6144)
	v.enum(in.EncryptionAlgorithm, "encryptionAlgorithm", enumEncAlg)
	v.grantTokens(in.GrantTokens)
	for _, m := range in.DryRunModifiers {
		v.enum(&m, "dryRunModifiers", enumDryRunMod)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := rejectRecipient(in.Recipient); err != nil {
		return nil, err
	}
	alg := symmetricDefault
	if in.EncryptionAlgorithm != nil {
		alg = *in.EncryptionAlgorithm
	}
	if alg != symmetricDefault {
		if in.KeyID == nil {
			return nil, awserr.New(awserr.Validation, "KeyId is required when the EncryptionAlgorithm is not SYMMETRIC_DEFAULT.")
		}
		return s.decryptAsymmetric(ctx, in, alg)
	}
	conds := encryptionConditions(in.KeyID, alg, in.EncryptionContext)
	lk, pt, mid, err := s.openSymmetric(ctx, in.CiphertextBlob, in.EncryptionContext, in.KeyID, "kms:Decrypt", conds, in.GrantTokens, isTrue(in.DryRun), ignoreCiphertext(in.DryRunModifiers))
	if errors.Is(err, errNotSymmetric) {
		return s.decryptAsymmetric(ctx, in, alg)
	}
	if err != nil {
		return nil, err
	}
	return &wire.DecryptOutput{KeyID: lk.arn, Plaintext: pt, EncryptionAlgorithm: symmetricDefault, KeyMaterialID: mid}, nil
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
	var v validator
	v.required(in.CiphertextBlob != nil, "ciphertextBlob")
	v.blobLen(in.CiphertextBlob, in.CiphertextBlob != nil, "ciphertextBlob", 1, 6144)
	v.required(in.DestinationKeyID != nil, "destinationKeyId")
	v.enum(in.SourceEncryptionAlgorithm, "sourceEncryptionAlgorithm", enumEncAlg)
	v.enum(in.DestinationEncryptionAlgorithm, "destinationEncryptionAlgorithm", enumEncAlg)
	v.grantTokens(in.GrantTokens)
	if err := v.err(); err != nil {
		return nil, err
	}
	srcAlg, dstAlg := symmetricDefault, symmetricDefault
	if in.SourceEncryptionAlgorithm != nil {
		srcAlg = *in.SourceEncryptionAlgorithm
	}
	if in.DestinationEncryptionAlgorithm != nil {
		dstAlg = *in.DestinationEncryptionAlgorithm
	}
	dst, err := s.resolveKey(ctx, in.DestinationKeyID, refAliasOK, "destinationKeyId", "kms:ReEncryptTo")
	if err != nil {
		return nil, err
	}
	if dst.doc.Usage != "ENCRYPT_DECRYPT" {
		return nil, s.beforeAuth(ctx, dst, "kms:ReEncryptTo", encryptionConditions(in.DestinationKeyID, dstAlg, in.DestinationEncryptionContext),
			in.GrantTokens, invalidUsage(dst, "ReEncrypt"))
	}
	var (
		src    *loadedKey
		pt     []byte
		srcMat string
	)
	switch {
	case srcAlg == symmetricDefault:
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
	if err := requireUsable(dst); err != nil {
		return nil, err
	}
	if isTrue(in.DryRun) {
		return nil, dryRun()
	}
	out := &wire.ReEncryptOutput{SourceKeyID: src.arn, KeyID: dst.arn, SourceEncryptionAlgorithm: srcAlg, DestinationEncryptionAlgorithm: dstAlg, SourceKeyMaterialID: srcMat}
	if dst.doc.Spec == symmetricDefault {
		if dstAlg != symmetricDefault {
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
	var v validator
	v.intRange(in.NumberOfBytes, "numberOfBytes", 1, 1024)
	v.enum(in.KeySpec, "keySpec", enumDataKey)
	v.grantTokens(in.GrantTokens)
	if err := v.err(); err != nil {
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
	conds := encryptionConditions(in.KeyID, symmetricDefault, in.EncryptionContext)
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
func (s *Service) dataKeyWrapper(ctx context.Context, ref *string, op string, conds map[string][]string, tokens []string, dry *bool) (*loadedKey, error) {
	lk, err := s.usableKey(ctx, ref, refAliasOK, "kms:"+op, "ENCRYPT_DECRYPT", op, conds, tokens)
	if err != nil {
		return nil, err
	}
	if lk.doc.Spec != symmetricDefault {
		return nil, awserr.Newf(awserr.InvalidKeyUsage, "%s key spec is %s which is not valid for %s.", lk.arn, lk.doc.Spec, op)
	}
	if isTrue(dry) {
		return nil, dryRun()
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
	var v validator
	v.intRange(in.NumberOfBytes, "numberOfBytes", 1, 1024)
	v.strLen(in.CustomKeyStoreID, "customKeyStoreId", 1, 64)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := rejectRecipient(in.Recipient); err != nil {
		return nil, err
	}
	if err := s.authorizeAccount(ctx, "kms:GenerateRandom", nil); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreID != nil {
		return s.generateRandomInStore(ctx, *in.CustomKeyStoreID, int(*in.NumberOfBytes))
	}
	b := make([]byte, *in.NumberOfBytes)
	if _, err := s.rand.Read(b); err != nil {
		return nil, err
	}
	return &wire.GenerateRandomOutput{Plaintext: b}, nil
}
