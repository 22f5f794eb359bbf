package kms

import (
	"context"
	"slices"

	"github.com/trentkms/trent/internal/algo"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/wire"
)

// usableAsymmetric opens the key of an asymmetric operation (usableKey)
// and returns it with its parsed material.
func (s *Service) usableAsymmetric(ctx context.Context, ref *string, kind RefKind, usage, op string, conds map[string][]string, tokens []string) (*Key, *algo.Key, error) {
	if c := RequestAliasCond(ref); c != nil {
		if conds == nil {
			conds = c
		} else {
			for k, v := range c {
				conds[k] = v
			}
		}
	}
	lk, err := s.usableKey(ctx, ref, kind, "kms:"+op, usage, op, conds, tokens)
	if err != nil {
		return nil, nil, err
	}
	if lk.doc.Spec == SymmetricDefault {
		return nil, nil, invalidUsage(lk, op)
	}
	k, err := s.asymKey(lk)
	if err != nil {
		return nil, nil, err
	}
	return lk, k, nil
}

// GetPublicKey implements the GetPublicKey operation.
func (s *Service) GetPublicKey(ctx context.Context, in *wire.KeyIDInput) (*wire.GetPublicKeyOutput, error) {
	var v Validator
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	lk, err := s.AuthorizedKey(ctx, in.KeyID, RefAliasOK, "kms:GetPublicKey", RequestAliasCond(in.KeyID), in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if err := RequireUsable(lk); err != nil {
		return nil, err
	}
	spec, ok := algo.LookupSpec(lk.doc.Spec)
	if !ok || !spec.Asymmetric() {
		return nil, awserr.Newf(awserr.UnsupportedOperation, "%s key spec is %s which is not valid for GetPublicKey.", lk.arn, lk.doc.Spec)
	}
	k, err := s.asymKey(lk)
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicKeyDER()
	if err != nil {
		return nil, err
	}
	out := &wire.GetPublicKeyOutput{KeyID: lk.arn, PublicKey: pub, KeySpec: lk.doc.Spec, KeyUsage: lk.doc.Usage}
	if slices.Contains(enumCMKSpec, lk.doc.Spec) {
		out.CustomerMasterKeySpec = lk.doc.Spec
	}
	out.EncryptionAlgorithms, out.SigningAlgorithms, _, out.KeyAgreementAlgorithms, out.EncapsulationAlgorithms = algorithmsFor(lk.doc.Spec, lk.doc.Usage)
	return out, nil
}

func validateSign(v *Validator, msg []byte, msgType, alg *string) {
	v.Required(msg != nil, "message")
	v.BlobLen(msg, msg != nil, "message", 1, 4096)
	v.Required(alg != nil, "signingAlgorithm")
	v.Enum(alg, "signingAlgorithm", enumSigningAlg)
	v.Enum(msgType, "messageType", enumMessageType)
}

func messageType(t *string) string {
	if t == nil {
		return "RAW"
	}
	return *t
}

// Sign implements the Sign operation.
func (s *Service) Sign(ctx context.Context, in *wire.SignInput) (*wire.SignOutput, error) {
	var v Validator
	validateSign(&v, in.Message, in.MessageType, in.SigningAlgorithm)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	mt := messageType(in.MessageType)
	conds := map[string][]string{"kms:signingalgorithm": {*in.SigningAlgorithm}, "kms:messagetype": {mt}}
	lk, k, err := s.usableAsymmetric(ctx, in.KeyID, RefAliasOK, "SIGN_VERIFY", "Sign", conds, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	sig, err := k.Sign(s.rand, *in.SigningAlgorithm, mt, in.Message)
	if err != nil {
		return nil, algoErr(lk, "Sign", err)
	}
	return &wire.SignOutput{KeyID: lk.arn, Signature: sig, SigningAlgorithm: *in.SigningAlgorithm}, nil
}

// Verify implements the Verify operation. An invalid signature is
// KMSInvalidSignatureException, never SignatureValid false.
func (s *Service) Verify(ctx context.Context, in *wire.VerifyInput) (*wire.VerifyOutput, error) {
	var v Validator
	validateSign(&v, in.Message, in.MessageType, in.SigningAlgorithm)
	v.Required(in.Signature != nil, "signature")
	v.BlobLen(in.Signature, in.Signature != nil, "signature", 1, 6144)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	mt := messageType(in.MessageType)
	conds := map[string][]string{"kms:signingalgorithm": {*in.SigningAlgorithm}, "kms:messagetype": {mt}}
	lk, k, err := s.usableAsymmetric(ctx, in.KeyID, RefAliasOK, "SIGN_VERIFY", "Verify", conds, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	if err := k.Verify(*in.SigningAlgorithm, mt, in.Message, in.Signature); err != nil {
		return nil, algoErr(lk, "Verify", err)
	}
	return &wire.VerifyOutput{KeyID: lk.arn, SignatureValid: true, SigningAlgorithm: *in.SigningAlgorithm}, nil
}

func validateMac(v *Validator, msg []byte, alg *string) {
	v.Required(msg != nil, "message")
	v.BlobLen(msg, msg != nil, "message", 1, 4096)
	v.Required(alg != nil, "macAlgorithm")
	v.Enum(alg, "macAlgorithm", enumMacAlg)
}

// GenerateMac implements the GenerateMac operation.
func (s *Service) GenerateMac(ctx context.Context, in *wire.GenerateMacInput) (*wire.GenerateMacOutput, error) {
	var v Validator
	validateMac(&v, in.Message, in.MacAlgorithm)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	conds := map[string][]string{"kms:macalgorithm": {*in.MacAlgorithm}}
	lk, k, err := s.usableAsymmetric(ctx, in.KeyID, RefKeyOnly, "GENERATE_VERIFY_MAC", "GenerateMac", conds, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	mac, err := k.MAC(*in.MacAlgorithm, in.Message)
	if err != nil {
		return nil, algoErr(lk, "GenerateMac", err)
	}
	return &wire.GenerateMacOutput{Mac: mac, MacAlgorithm: *in.MacAlgorithm, KeyID: lk.arn}, nil
}

// VerifyMac implements the VerifyMac operation.
func (s *Service) VerifyMac(ctx context.Context, in *wire.VerifyMacInput) (*wire.VerifyMacOutput, error) {
	var v Validator
	validateMac(&v, in.Message, in.MacAlgorithm)
	v.Required(in.Mac != nil, "mac")
	v.BlobLen(in.Mac, in.Mac != nil, "mac", 1, 6144)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	conds := map[string][]string{"kms:macalgorithm": {*in.MacAlgorithm}}
	lk, k, err := s.usableAsymmetric(ctx, in.KeyID, RefKeyOnly, "GENERATE_VERIFY_MAC", "VerifyMac", conds, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	if err := k.VerifyMAC(*in.MacAlgorithm, in.Message, in.Mac); err != nil {
		return nil, algoErr(lk, "VerifyMac", err)
	}
	return &wire.VerifyMacOutput{KeyID: lk.arn, MacValid: true, MacAlgorithm: *in.MacAlgorithm}, nil
}

// DeriveSharedSecret implements the DeriveSharedSecret operation.
func (s *Service) DeriveSharedSecret(ctx context.Context, in *wire.DeriveSharedSecretInput) (*wire.DeriveSharedSecretOutput, error) {
	var v Validator
	v.Required(in.KeyAgreementAlgorithm != nil, "keyAgreementAlgorithm")
	v.Enum(in.KeyAgreementAlgorithm, "keyAgreementAlgorithm", enumAgreeAlg)
	v.Required(in.PublicKey != nil, "publicKey")
	v.BlobLen(in.PublicKey, in.PublicKey != nil, "publicKey", 1, 8192)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := rejectRecipient(in.Recipient); err != nil {
		return nil, err
	}
	conds := map[string][]string{"kms:keyagreementalgorithm": {*in.KeyAgreementAlgorithm}}
	lk, k, err := s.usableAsymmetric(ctx, in.KeyID, RefAliasOK, "KEY_AGREEMENT", "DeriveSharedSecret", conds, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	secret, err := k.DeriveSharedSecret(in.PublicKey)
	if err != nil {
		return nil, algoErr(lk, "DeriveSharedSecret", err)
	}
	return &wire.DeriveSharedSecretOutput{KeyID: lk.arn, SharedSecret: secret, KeyAgreementAlgorithm: "ECDH", KeyOrigin: lk.doc.Origin}, nil
}

// Encapsulate implements the Encapsulate operation (ML-KEM).
func (s *Service) Encapsulate(ctx context.Context, in *wire.EncapsulateInput) (*wire.EncapsulateOutput, error) {
	var v Validator
	v.Required(in.EncapsulationAlgorithm != nil, "encapsulationAlgorithm")
	v.Enum(in.EncapsulationAlgorithm, "encapsulationAlgorithm", enumEncapAlg)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	lk, k, err := s.usableAsymmetric(ctx, in.KeyID, RefAliasOK, "ENCAPSULATE_DECAPSULATE", "Encapsulate", nil, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	ss, ct, err := k.Encapsulate(s.rand)
	if err != nil {
		return nil, algoErr(lk, "Encapsulate", err)
	}
	return &wire.EncapsulateOutput{KeyID: lk.arn, SharedSecret: ss, SharedSecretCiphertextBlob: ct, EncapsulationAlgorithm: "ML_KEM"}, nil
}

// Decapsulate implements the Decapsulate operation (ML-KEM).
func (s *Service) Decapsulate(ctx context.Context, in *wire.DecapsulateInput) (*wire.DecapsulateOutput, error) {
	var v Validator
	v.Required(in.SharedSecretCiphertextBlob != nil, "sharedSecretCiphertextBlob")
	v.BlobLen(in.SharedSecretCiphertextBlob, in.SharedSecretCiphertextBlob != nil, "sharedSecretCiphertextBlob", 1, 6144)
	v.Required(in.EncapsulationAlgorithm != nil, "encapsulationAlgorithm")
	v.Enum(in.EncapsulationAlgorithm, "encapsulationAlgorithm", enumEncapAlg)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	lk, k, err := s.usableAsymmetric(ctx, in.KeyID, RefAliasOK, "ENCAPSULATE_DECAPSULATE", "Decapsulate", nil, in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	ss, err := k.Decapsulate(in.SharedSecretCiphertextBlob)
	if err != nil {
		return nil, algoErr(lk, "Decapsulate", err)
	}
	return &wire.DecapsulateOutput{KeyID: lk.arn, SharedSecret: ss, EncapsulationAlgorithm: "ML_KEM"}, nil
}

// generateDataKeyPair implements GenerateDataKeyPair(WithoutPlaintext): a
// fresh key pair whose PKCS#8 private key is encrypted under a symmetric
// KMS key exactly like a data key.
func (s *Service) generateDataKeyPair(ctx context.Context, in *wire.GenerateDataKeyPairInput, withPlaintext bool, op string) (*wire.GenerateDataKeyPairOutput, error) {
	var v Validator
	v.Required(in.KeyPairSpec != nil, "keyPairSpec")
	v.Enum(in.KeyPairSpec, "keyPairSpec", enumKeyPairSpec)
	v.GrantTokens(in.GrantTokens)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := rejectRecipient(in.Recipient); err != nil {
		return nil, err
	}
	if *in.KeyPairSpec == "SM2" && !s.enableSM2 {
		return nil, awserr.New(awserr.Validation, "KeyPairSpec SM2 is supported only in China Regions. Start Trent with --enable-sm2 to serve it elsewhere.")
	}
	if err := FIPSSpecError("KeyPairSpec", *in.KeyPairSpec); err != nil {
		return nil, err
	}
	if err := s.throttlePairSpec(ctx, *in.KeyPairSpec); err != nil {
		return nil, err
	}
	conds := encryptionConditions(in.KeyID, SymmetricDefault, in.EncryptionContext)
	conds["kms:datakeypairspec"] = []string{*in.KeyPairSpec}
	lk, err := s.dataKeyWrapper(ctx, in.KeyID, op, conds, in.GrantTokens, in.DryRun)
	if err != nil {
		return nil, err
	}
	priv, pub, err := algo.GenerateDataKeyPair(s.rand, *in.KeyPairSpec)
	if err != nil {
		return nil, err
	}
	blob, err := s.sealSymmetric(ctx, lk, priv, in.EncryptionContext)
	if err != nil {
		clear(priv)
		return nil, err
	}
	out := &wire.GenerateDataKeyPairOutput{PrivateKeyCiphertextBlob: blob, PublicKey: pub, KeyID: lk.arn, KeyPairSpec: *in.KeyPairSpec, KeyMaterialID: lk.current}
	if withPlaintext {
		out.PrivateKeyPlaintext = priv
	} else {
		clear(priv)
	}
	return out, nil
}

// GenerateDataKeyPair implements the GenerateDataKeyPair operation.
func (s *Service) GenerateDataKeyPair(ctx context.Context, in *wire.GenerateDataKeyPairInput) (*wire.GenerateDataKeyPairOutput, error) {
	return s.generateDataKeyPair(ctx, in, true, "GenerateDataKeyPair")
}

// GenerateDataKeyPairWithoutPlaintext implements the GenerateDataKeyPairWithoutPlaintext operation.
func (s *Service) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, in *wire.GenerateDataKeyPairInput) (*wire.GenerateDataKeyPairOutput, error) {
	return s.generateDataKeyPair(ctx, in, false, "GenerateDataKeyPairWithoutPlaintext")
}
