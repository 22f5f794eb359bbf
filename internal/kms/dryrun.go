package kms

import (
	"context"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/ciphertext"
	"github.com/trentkms/trent/internal/wire"
)

// # Dry runs
//
// Every operation whose request has DryRun (CreateGrant, Decrypt,
// DeriveSharedSecret, Encrypt, Encapsulate, Decapsulate, GenerateDataKey*,
// GenerateDataKeyPair*, GenerateMac, ReEncrypt, RetireGrant, RevokeGrant,
// Sign, Verify, VerifyMac) makes every check of the real request, in the
// same order, and ends, where it would act, with DryRunOperationException
// ("The request would have succeeded, but the DryRun option is set."): it
// returns every other error the request would. DryRunModifiers
// (Decrypt, ReEncrypt) applies only with DryRun: IGNORE_CIPHERTEXT checks
// authorization and the key without the ciphertext, so that permissions
// can be tested without one (the ciphertext is then not decrypted, and a
// key named in the request need not be the ciphertext's). Without KeyId
// (SourceKeyId) the ciphertext still names the key, so its header must
// parse.

// decryptDryRun is Decrypt with DryRun and IGNORE_CIPHERTEXT for the key
// in.KeyID names: its usage, the caller's authorization with the request's
// conditions, and its state.
func (s *Service) decryptDryRun(ctx context.Context, in *wire.DecryptInput, alg string) error {
	if alg != SymmetricDefault && len(in.EncryptionContext) > 0 {
		return awserr.New(awserr.InvalidCiphertext, "")
	}
	lk, err := s.usableKey(ctx, in.KeyID, RefAliasOK, "kms:Decrypt", "ENCRYPT_DECRYPT", "Decrypt", encryptionConditions(in.KeyID, alg, in.EncryptionContext), in.GrantTokens)
	if err != nil {
		return err
	}
	if lk.doc.Spec == SymmetricDefault {
		if alg != SymmetricDefault {
			return awserr.New(awserr.InvalidCiphertext, "")
		}
		return DryRun()
	}
	// An asymmetric key: the algorithm must be one of its own, which its
	// decryption checks before it reads the (here absent) ciphertext.
	k, err := s.asymKey(lk)
	if err != nil {
		return err
	}
	if _, err := k.Decrypt(alg, nil); err != nil {
		if err := algoErr(lk, "Decrypt", err); awserr.CodeOf(err) != awserr.InvalidCiphertext {
			return err
		}
	}
	return DryRun()
}

// reEncryptDryRun is ReEncrypt with DryRun and IGNORE_CIPHERTEXT: the
// source key (SourceKeyId, or the key the ciphertext's header names) and
// the destination dst are checked and authorized as the real request
// would, and the ciphertext is not decrypted.
func (s *Service) reEncryptDryRun(ctx context.Context, in *wire.ReEncryptInput, dst *Key, srcAlg, dstAlg string) error {
	dstConds := encryptionConditions(in.DestinationKeyID, dstAlg, in.DestinationEncryptionContext)
	src, err := s.dryRunSource(ctx, in, srcAlg)
	if err != nil {
		return s.beforeAuth(ctx, dst, "kms:ReEncryptTo", dstConds, in.GrantTokens, err)
	}
	if src.doc.ID == dst.doc.ID {
		dstConds["kms:reencryptonsamekey"] = []string{"true"}
	} else {
		dstConds["kms:reencryptonsamekey"] = []string{"false"}
	}
	if err := s.authorizeKey(ctx, dst, "kms:ReEncryptTo", dstConds, in.GrantTokens); err != nil {
		return err
	}
	if err := RequireUsable(dst); err != nil {
		return err
	}
	return DryRun()
}

// dryRunSource resolves and authorizes the source key of a ReEncrypt dry
// run that ignores the ciphertext.
func (s *Service) dryRunSource(ctx context.Context, in *wire.ReEncryptInput, srcAlg string) (*Key, error) {
	conds := encryptionConditions(in.SourceKeyID, srcAlg, in.SourceEncryptionContext)
	if in.SourceKeyID != nil {
		return s.usableKey(ctx, in.SourceKeyID, RefAliasOK, "kms:ReEncryptFrom", "ENCRYPT_DECRYPT", "ReEncrypt", conds, in.GrantTokens)
	}
	if srcAlg != SymmetricDefault {
		return nil, awserr.New(awserr.Validation, "SourceKeyId is required when the SourceEncryptionAlgorithm is not SYMMETRIC_DEFAULT.")
	}
	b, err := ciphertext.Parse(in.CiphertextBlob)
	if err != nil {
		return nil, awserr.New(awserr.InvalidCiphertext, "")
	}
	lk, err := s.GetKey(ctx, b.KeyID)
	if err != nil {
		return nil, err
	}
	if lk == nil || (lk.doc.Region != "" && lk.doc.Region != s.region) || lk.doc.Usage != "ENCRYPT_DECRYPT" || lk.doc.Spec != SymmetricDefault {
		return nil, awserr.New(awserr.InvalidCiphertext, "")
	}
	NoteKey(ctx, lk.arn)
	if err := s.authorizeKey(ctx, lk, "kms:ReEncryptFrom", conds, in.GrantTokens); err != nil {
		return nil, err
	}
	if err := RequireUsable(lk); err != nil {
		return nil, err
	}
	return lk, nil
}
