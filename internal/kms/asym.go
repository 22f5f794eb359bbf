package kms

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/trentkms/trent/internal/algo"
	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/wire"
)

// generateAsymmetric creates private material for a non-symmetric spec.
func generateAsymmetric(rand io.Reader, spec string) ([]byte, error) {
	return algo.Generate(rand, spec)
}

// usageAllowed reports whether a KeySpec allows a KeyUsage.
func usageAllowed(spec, usage string) bool {
	_, err := algo.ResolveUsage(spec, usage)
	return err == nil
}

// importableSpec reports whether keys of spec may have imported material.
func importableSpec(spec string) bool {
	s, ok := algo.LookupSpec(spec)
	return ok && spec != "ML_KEM_512" && spec != "ML_KEM_768" && spec != "ML_KEM_1024" && (s.Asymmetric() || spec[:4] == "HMAC")
}

// algorithmsFor returns the algorithm lists of KeyMetadata for spec/usage.
func algorithmsFor(spec, usage string) (enc, sign, mac, agree, encap []string) {
	s, ok := algo.LookupSpec(spec)
	if !ok {
		return
	}
	a := s.Algorithms(usage)
	return a.Encryption, a.Signing, a.MAC, a.KeyAgreement, a.Encapsulation
}

// asymCache holds the parsed form of a key's current non-symmetric
// material. Parsing (RSA especially) is too slow to repeat per request.
type asymCache struct {
	once sync.Once
	key  *algo.Key
	err  error
}

// parsed returns the parsed current material of a non-symmetric key.
func (lk *Key) parsed() (*algo.Key, error) {
	c := lk.asym
	if c == nil {
		return nil, errors.New("kms: key has no parsed material")
	}
	c.once.Do(func() {
		m := lk.material
		if m == nil {
			c.err = errors.New("kms: key has no current material")
			return
		}
		c.key, c.err = algo.ParseKey(lk.doc.Spec, lk.doc.Usage, m)
	})
	return c.key, c.err
}

// asymKey returns the parsed key or the AWS error for a key without usable
// material.
func (s *Service) asymKey(lk *Key) (*algo.Key, error) {
	k, err := lk.parsed()
	if err != nil {
		if lk.current == "" {
			return nil, awserr.Newf(awserr.KMSInvalidState, "%s is pending import.", lk.arn)
		}
		s.log.Error("parse stored key material", "key", lk.arn, "err", err)
		return nil, awserr.Internal()
	}
	return k, nil
}

// algoErr maps an algo error to the client's error for an operation.
func algoErr(lk *Key, op string, err error) error {
	if errors.Is(err, algo.ErrKeyUsage) {
		return invalidUsage(lk, op)
	}
	if e := awserr.As(err); e != nil {
		return e
	}
	return err
}

func (s *Service) encryptAsymmetric(ctx context.Context, lk *Key, alg string, in *wire.EncryptInput) (*wire.EncryptOutput, error) {
	if len(in.EncryptionContext) > 0 {
		return nil, awserr.New(awserr.Validation, "EncryptionContext is not supported with asymmetric KMS keys.")
	}
	if in.EncryptionAlgorithm == nil || alg == SymmetricDefault {
		return nil, awserr.Newf(awserr.InvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", alg, lk.doc.Spec)
	}
	if err := FIPSAlgorithmError("EncryptionAlgorithm", alg); err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		return nil, DryRun()
	}
	ct, err := s.asymEncrypt(lk, alg, in.Plaintext)
	if err != nil {
		return nil, err
	}
	return &wire.EncryptOutput{CiphertextBlob: ct, KeyID: lk.arn, EncryptionAlgorithm: alg}, nil
}

// asymEncrypt encrypts pt with a public-key algorithm of lk.
func (s *Service) asymEncrypt(lk *Key, alg string, pt []byte) ([]byte, error) {
	k, err := s.asymKey(lk)
	if err != nil {
		return nil, err
	}
	ct, err := k.Encrypt(s.rand, alg, pt)
	if err != nil {
		return nil, algoErr(lk, "Encrypt", err)
	}
	return ct, nil
}

// openAsymmetric decrypts an asymmetric ciphertext with the key ref names.
func (s *Service) openAsymmetric(ctx context.Context, ref *string, alg string, ct []byte, action string, grantTokens []string) (*Key, []byte, error) {
	lk, err := s.usableKey(ctx, ref, RefAliasOK, action, "ENCRYPT_DECRYPT", "Decrypt", encryptionConditions(ref, alg, nil), grantTokens)
	if err != nil {
		return nil, nil, err
	}
	if lk.doc.Spec == SymmetricDefault {
		return nil, nil, awserr.New(awserr.InvalidCiphertext, "")
	}
	if err := FIPSAlgorithmError("EncryptionAlgorithm", alg); err != nil {
		return nil, nil, err
	}
	k, err := s.asymKey(lk)
	if err != nil {
		return nil, nil, err
	}
	pt, err := k.Decrypt(alg, ct)
	if err != nil {
		return nil, nil, algoErr(lk, "Decrypt", err)
	}
	return lk, pt, nil
}

func (s *Service) decryptAsymmetric(ctx context.Context, in *wire.DecryptInput, alg string) (*wire.DecryptOutput, error) {
	if len(in.EncryptionContext) > 0 {
		return nil, awserr.New(awserr.InvalidCiphertext, "")
	}
	lk, pt, err := s.openAsymmetric(ctx, in.KeyID, alg, in.CiphertextBlob, "kms:Decrypt", in.GrantTokens)
	if err != nil {
		return nil, err
	}
	if IsTrue(in.DryRun) {
		// The ciphertext was checked, as without DryRun; only
		// IGNORE_CIPHERTEXT skips that (decryptDryRun).
		clear(pt)
		return nil, DryRun()
	}
	return &wire.DecryptOutput{KeyID: lk.arn, Plaintext: pt, EncryptionAlgorithm: alg}, nil
}
