package e2e

// Issue 3, part 3: RSA encryption, HMAC, ECDH key agreement and ML-KEM
// through the real API, each checked against an independent implementation
// (Go's standard library, circl).

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
)

// rsaLimit is AWS's largest plaintext per RSA spec and OAEP algorithm.
var rsaLimit = map[types.KeySpec]map[types.EncryptionAlgorithmSpec]int{
	types.KeySpecRsa2048: {types.EncryptionAlgorithmSpecRsaesOaepSha1: 214, types.EncryptionAlgorithmSpecRsaesOaepSha256: 190},
	types.KeySpecRsa3072: {types.EncryptionAlgorithmSpecRsaesOaepSha1: 342, types.EncryptionAlgorithmSpecRsaesOaepSha256: 318},
	types.KeySpecRsa4096: {types.EncryptionAlgorithmSpecRsaesOaepSha1: 470, types.EncryptionAlgorithmSpecRsaesOaepSha256: 446},
}

func oaepHash(alg types.EncryptionAlgorithmSpec) hash.Hash {
	if alg == types.EncryptionAlgorithmSpecRsaesOaepSha1 {
		return sha1.New()
	}
	return sha256.New()
}

// TestAsymRSAEncryption: OAEP round trips at AWS's plaintext limits, AWS's
// message one byte above, ciphertexts made locally by crypto/rsa decrypt in
// Trent, and Trent's ciphertexts are OAEP with the named hash.
func TestAsymRSAEncryption(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	for _, spec := range []types.KeySpec{types.KeySpecRsa2048, types.KeySpecRsa3072, types.KeySpecRsa4096} {
		for _, alg := range []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256} {
			limit := rsaLimit[spec][alg]
			t.Run(fmt.Sprintf("ok/%s/%s/round trip %d bytes", spec, alg, limit), func(t *testing.T) {
				t.Parallel()
				skipUnapprovedAlg(t, string(alg))
				m := pool.get(t, spec, types.KeyUsageTypeEncryptDecrypt)
				pt := randBytes(t, limit)
				enc, err := pool.c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: m.KeyId, Plaintext: pt, EncryptionAlgorithm: alg})
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				if enc.EncryptionAlgorithm != alg || *enc.KeyId != *m.Arn || len(enc.CiphertextBlob)*8 != map[types.KeySpec]int{types.KeySpecRsa2048: 2048, types.KeySpecRsa3072: 3072, types.KeySpecRsa4096: 4096}[spec] {
					t.Fatalf("Encrypt algorithm, KeyId, ciphertext size = %s, %s, %d", enc.EncryptionAlgorithm, *enc.KeyId, len(enc.CiphertextBlob))
				}
				dec, err := pool.c.Decrypt(ctxT(t), &kms.DecryptInput{KeyId: m.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: alg})
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if !bytes.Equal(dec.Plaintext, pt) || dec.EncryptionAlgorithm != alg || *dec.KeyId != *m.Arn {
					t.Fatalf("Decrypt returned another plaintext or algorithm %s, KeyId %s", dec.EncryptionAlgorithm, *dec.KeyId)
				}
				// The other OAEP hash does not open it.
				other := types.EncryptionAlgorithmSpecRsaesOaepSha256
				if alg == other {
					other = types.EncryptionAlgorithmSpecRsaesOaepSha1
				}
				skipUnapprovedAlg(t, string(other))
				_, err = pool.c.Decrypt(ctxT(t), &kms.DecryptInput{KeyId: m.KeyId, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: other})
				wantAPIError(t, err, "InvalidCiphertextException", anyMessage)
			})
			t.Run(fmt.Sprintf("fail/%s/%s/%d bytes", spec, alg, limit+1), func(t *testing.T) {
				t.Parallel()
				skipUnapprovedAlg(t, string(alg))
				m := pool.get(t, spec, types.KeyUsageTypeEncryptDecrypt)
				_, err := pool.c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: m.KeyId, Plaintext: randBytes(t, limit+1), EncryptionAlgorithm: alg})
				wantAPIError(t, err, "ValidationException",
					fmt.Sprintf("Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", alg, spec, limit))
			})
			t.Run(fmt.Sprintf("ok/%s/%s/encrypted by crypto/rsa", spec, alg), func(t *testing.T) {
				t.Parallel()
				skipUnapprovedAlg(t, string(alg))
				m := pool.get(t, spec, types.KeyUsageTypeEncryptDecrypt)
				pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
				if err != nil {
					t.Fatal(err)
				}
				pub := checkPublicKey(t, spec, pk.PublicKey).(*rsa.PublicKey)
				pt := randBytes(t, limit)
				ct, err := rsa.EncryptOAEP(oaepHash(alg), rand.Reader, pub, pt, nil)
				if err != nil {
					t.Fatal(err)
				}
				dec, err := pool.c.Decrypt(ctxT(t), &kms.DecryptInput{KeyId: aws.String(*m.Arn), CiphertextBlob: ct, EncryptionAlgorithm: alg})
				if err != nil {
					t.Fatalf("Decrypt of a crypto/rsa ciphertext: %v", err)
				}
				if !bytes.Equal(dec.Plaintext, pt) {
					t.Fatal("Decrypt returned another plaintext")
				}
			})
		}
	}
	errCases := []struct {
		name string
		in   kms.EncryptInput
		code string
		msg  string
	}{
		{"fail/SM2PKE on RSA", kms.EncryptInput{EncryptionAlgorithm: types.EncryptionAlgorithmSpecSm2pke},
			"InvalidKeyUsageException", "Algorithm SM2PKE is incompatible with key spec RSA_2048."},
		{"fail/SYMMETRIC_DEFAULT on RSA", kms.EncryptInput{EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault},
			"InvalidKeyUsageException", "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."},
		{"fail/no algorithm on RSA", kms.EncryptInput{},
			"InvalidKeyUsageException", "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."},
		{"fail/encryption context on RSA", kms.EncryptInput{EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256,
			EncryptionContext: map[string]string{"a": "b"}}, "ValidationException", "EncryptionContext is not supported with asymmetric KMS keys."},
		{"fail/dry run", kms.EncryptInput{EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256, DryRun: aws.Bool(true)},
			"DryRunOperationException", dryRunMsg},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
			in := tc.in
			in.KeyId, in.Plaintext = m.KeyId, []byte("x")
			_, err := pool.c.Encrypt(ctxT(t), &in)
			wantAPIError(t, err, tc.code, tc.msg)
		})
	}
	t.Run("fail/RSA_2048 decrypt of a wrong-length ciphertext", func(t *testing.T) {
		t.Parallel()
		m := pool.get(t, types.KeySpecRsa2048, types.KeyUsageTypeEncryptDecrypt)
		_, err := pool.c.Decrypt(ctxT(t), &kms.DecryptInput{KeyId: m.KeyId, CiphertextBlob: make([]byte, 100),
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		wantAPIError(t, err, "InvalidCiphertextException", "")
	})
	t.Run("ok/ReEncrypt RSA to symmetric and back", func(t *testing.T) {
		t.Parallel()
		skipUnapprovedAlg(t, "RSAES_OAEP_SHA_1")
		m := pool.get(t, types.KeySpecRsa3072, types.KeyUsageTypeEncryptDecrypt)
		sym := pool.get(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
		pt := randBytes(t, 100)
		enc, err := pool.c.Encrypt(ctxT(t), &kms.EncryptInput{KeyId: m.KeyId, Plaintext: pt, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
		if err != nil {
			t.Fatal(err)
		}
		re, err := pool.c.ReEncrypt(ctxT(t), &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyId: m.KeyId,
			SourceEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1, DestinationKeyId: sym.KeyId})
		if err != nil {
			t.Fatalf("ReEncrypt RSA -> symmetric: %v", err)
		}
		if *re.SourceKeyId != *m.Arn || *re.KeyId != *sym.Arn || re.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecRsaesOaepSha1 ||
			re.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
			t.Fatalf("ReEncrypt SourceKeyId, KeyId, algorithms = %s, %s, %s, %s", *re.SourceKeyId, *re.KeyId, re.SourceEncryptionAlgorithm, re.DestinationEncryptionAlgorithm)
		}
		back, err := pool.c.ReEncrypt(ctxT(t), &kms.ReEncryptInput{CiphertextBlob: re.CiphertextBlob, DestinationKeyId: m.KeyId,
			DestinationEncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		if err != nil {
			t.Fatalf("ReEncrypt symmetric -> RSA: %v", err)
		}
		dec, err := pool.c.Decrypt(ctxT(t), &kms.DecryptInput{KeyId: m.KeyId, CiphertextBlob: back.CiphertextBlob,
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dec.Plaintext, pt) {
			t.Fatal("plaintext changed across ReEncrypt")
		}
	})
}

var hmacHash = map[types.KeySpec]func() hash.Hash{
	types.KeySpecHmac224: sha256.New224, types.KeySpecHmac256: sha256.New,
	types.KeySpecHmac384: sha512.New384, types.KeySpecHmac512: sha512.New,
}

// importHMAC creates an EXTERNAL HMAC key of spec and imports material into
// it through GetParametersForImport and ImportKeyMaterial (RSAES_OAEP_SHA_256
// wrapping done locally with crypto/rsa).
func importHMAC(t testing.TB, c *kms.Client, spec types.KeySpec, material []byte) *types.KeyMetadata {
	t.Helper()
	m := createKey(t, c, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: types.KeyUsageTypeGenerateVerifyMac, Origin: types.OriginTypeExternal})
	p, err := c.GetParametersForImport(ctxT(t), &kms.GetParametersForImportInput{KeyId: m.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		t.Fatalf("GetParametersForImport: %v", err)
	}
	pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportKeyMaterial(ctxT(t), &kms.ImportKeyMaterialInput{KeyId: m.KeyId, ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire}); err != nil {
		t.Fatalf("ImportKeyMaterial: %v", err)
	}
	return m
}

// TestAsymHMAC: GenerateMac equals a local HMAC over imported material,
// VerifyMac accepts Trent's MAC and refuses a flipped one, MAC lengths per
// algorithm, AWS's message for a mismatched algorithm.
func TestAsymHMAC(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	for _, spec := range []types.KeySpec{types.KeySpecHmac224, types.KeySpecHmac256, types.KeySpecHmac384, types.KeySpecHmac512} {
		bits := strings.TrimPrefix(string(spec), "HMAC_")
		alg := types.MacAlgorithmSpec("HMAC_SHA_" + bits)
		t.Run("ok/"+string(spec)+"/generated", func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, spec, types.KeyUsageTypeGenerateVerifyMac)
			msg := randBytes(t, 300)
			out, err := pool.c.GenerateMac(ctxT(t), &kms.GenerateMacInput{KeyId: m.KeyId, Message: msg, MacAlgorithm: alg})
			if err != nil {
				t.Fatalf("GenerateMac: %v", err)
			}
			if len(out.Mac) != hmacHash[spec]().Size() || out.MacAlgorithm != alg || *out.KeyId != *m.Arn {
				t.Fatalf("MAC length, algorithm, KeyId = %d, %s, %s", len(out.Mac), out.MacAlgorithm, *out.KeyId)
			}
			again, err := pool.c.GenerateMac(ctxT(t), &kms.GenerateMacInput{KeyId: m.KeyId, Message: msg, MacAlgorithm: alg})
			if err != nil || !bytes.Equal(again.Mac, out.Mac) {
				t.Fatalf("GenerateMac is not deterministic (err %v)", err)
			}
			v, err := pool.c.VerifyMac(ctxT(t), &kms.VerifyMacInput{KeyId: m.KeyId, Message: msg, MacAlgorithm: alg, Mac: out.Mac})
			if err != nil || !v.MacValid || *v.KeyId != *m.Arn || v.MacAlgorithm != alg {
				t.Fatalf("VerifyMac of Trent's MAC: %v", err)
			}
			bad := append([]byte(nil), out.Mac...)
			bad[0] ^= 1
			_, err = pool.c.VerifyMac(ctxT(t), &kms.VerifyMacInput{KeyId: m.KeyId, Message: msg, MacAlgorithm: alg, Mac: bad})
			wantAPIError(t, err, "KMSInvalidMacException", "")
			_, err = pool.c.VerifyMac(ctxT(t), &kms.VerifyMacInput{KeyId: m.KeyId, Message: msg, MacAlgorithm: alg, Mac: out.Mac[:len(out.Mac)-1]})
			wantAPIError(t, err, "KMSInvalidMacException", "")
		})
		t.Run("ok/"+string(spec)+"/imported equals local HMAC", func(t *testing.T) {
			t.Parallel()
			material := randBytes(t, hmacHash[spec]().Size())
			m := importHMAC(t, pool.c, spec, material)
			msg := randBytes(t, 4096)
			out, err := pool.c.GenerateMac(ctxT(t), &kms.GenerateMacInput{KeyId: m.KeyId, Message: msg, MacAlgorithm: alg})
			if err != nil {
				t.Fatalf("GenerateMac: %v", err)
			}
			h := hmac.New(hmacHash[spec], material)
			h.Write(msg)
			if !hmac.Equal(out.Mac, h.Sum(nil)) {
				t.Fatal("Trent's MAC differs from crypto/hmac over the imported material")
			}
			if _, err := pool.c.VerifyMac(ctxT(t), &kms.VerifyMacInput{KeyId: m.KeyId, Message: msg, MacAlgorithm: alg, Mac: h.Sum(nil)}); err != nil {
				t.Fatalf("VerifyMac of a local MAC: %v", err)
			}
		})
		for _, other := range types.MacAlgorithmSpec("").Values() {
			if other == alg {
				continue
			}
			t.Run(fmt.Sprintf("fail/%s/%s", spec, other), func(t *testing.T) {
				t.Parallel()
				m := pool.get(t, spec, types.KeyUsageTypeGenerateVerifyMac)
				want := fmt.Sprintf("Algorithm %s is incompatible with key spec %s.", other, spec)
				_, err := pool.c.GenerateMac(ctxT(t), &kms.GenerateMacInput{KeyId: m.KeyId, Message: []byte("m"), MacAlgorithm: other})
				wantAPIError(t, err, "InvalidKeyUsageException", want)
				_, err = pool.c.VerifyMac(ctxT(t), &kms.VerifyMacInput{KeyId: m.KeyId, Message: []byte("m"), MacAlgorithm: other, Mac: make([]byte, 32)})
				wantAPIError(t, err, "InvalidKeyUsageException", want)
			})
		}
	}
	t.Run("fail/unknown MAC algorithm", func(t *testing.T) {
		t.Parallel()
		m := pool.get(t, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
		_, err := pool.c.GenerateMac(ctxT(t), &kms.GenerateMacInput{KeyId: m.KeyId, Message: []byte("m"), MacAlgorithm: "INVALID"})
		wantAPIError(t, err, "ValidationException", "1 validation error detected: Value 'INVALID' at 'macAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [HMAC_SHA_384, HMAC_SHA_256, HMAC_SHA_224, HMAC_SHA_512]")
	})
	t.Run("fail/alias for GenerateMac", func(t *testing.T) {
		t.Parallel()
		m := pool.get(t, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
		alias := createAlias(t, pool.c, *m.KeyId)
		_, err := pool.c.GenerateMac(ctxT(t), &kms.GenerateMacInput{KeyId: &alias, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		if err == nil {
			t.Fatal("GenerateMac accepted an alias; AWS takes a key ID or key ARN only")
		}
	})
}

var ecdhCurve = map[types.KeySpec]ecdh.Curve{
	types.KeySpecEccNistP256: ecdh.P256(), types.KeySpecEccNistP384: ecdh.P384(), types.KeySpecEccNistP521: ecdh.P521(),
}

// TestAsymDeriveSharedSecret: Trent's ECDH secret equals the one computed
// locally by crypto/ecdh from the other side; bad public keys are refused.
func TestAsymDeriveSharedSecret(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	for _, spec := range []types.KeySpec{types.KeySpecEccNistP256, types.KeySpecEccNistP384, types.KeySpecEccNistP521} {
		t.Run("ok/"+string(spec), func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, spec, types.KeyUsageTypeKeyAgreement)
			pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			trentPub, err := checkPublicKey(t, spec, pk.PublicKey).(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			local, err := ecdhCurve[spec].GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			localDER, err := x509.MarshalPKIXPublicKey(local.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			out, err := pool.c.DeriveSharedSecret(ctxT(t), &kms.DeriveSharedSecretInput{KeyId: m.KeyId,
				KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: localDER})
			if err != nil {
				t.Fatalf("DeriveSharedSecret: %v", err)
			}
			want, err := local.ECDH(trentPub)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.SharedSecret, want) {
				t.Fatal("Trent's shared secret differs from crypto/ecdh's")
			}
			if *out.KeyId != *m.Arn || out.KeyAgreementAlgorithm != types.KeyAgreementAlgorithmSpecEcdh || out.KeyOrigin != types.OriginTypeAwsKms {
				t.Fatalf("KeyId, algorithm, origin = %s, %s, %s", *out.KeyId, out.KeyAgreementAlgorithm, out.KeyOrigin)
			}
		})
	}
	otherCurve := func(t testing.TB) []byte {
		k, err := ecdh.P384().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	rsaPub := func(t testing.TB) []byte {
		m := pool.get(t, types.KeySpecRsa2048, types.KeyUsageTypeSignVerify)
		pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
		if err != nil {
			t.Fatal(err)
		}
		return pk.PublicKey
	}
	cases := []struct {
		name string
		pub  func(testing.TB) []byte
		alg  types.KeyAgreementAlgorithmSpec
		code string
		msg  string
	}{
		{"fail/garbage public key", func(t testing.TB) []byte { return randBytes(t, 91) }, types.KeyAgreementAlgorithmSpecEcdh, "ValidationException", ""},
		{"fail/public key on another curve", otherCurve, types.KeyAgreementAlgorithmSpecEcdh, "ValidationException", ""},
		{"fail/RSA public key", rsaPub, types.KeyAgreementAlgorithmSpecEcdh, "ValidationException", ""},
		{"fail/unknown algorithm", otherCurve, "INVALID", "ValidationException",
			"1 validation error detected: Value 'INVALID' at 'keyAgreementAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [ECDH]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement)
			pub := tc.pub(t)
			_, err := pool.c.DeriveSharedSecret(ctxT(t), &kms.DeriveSharedSecretInput{KeyId: m.KeyId, KeyAgreementAlgorithm: tc.alg, PublicKey: pub})
			if tc.msg != "" {
				wantAPIError(t, err, tc.code, tc.msg)
				return
			}
			// The SDK shows an empty message of an unmodeled exception as
			// "UnknownError": check the wire instead.
			wantAPIError(t, err, tc.code, anyMessage)
			body, _ := json.Marshal(map[string]any{"KeyId": *m.KeyId, "KeyAgreementAlgorithm": tc.alg, "PublicKey": pub})
			r := rawCall(t, shared.Endpoint, "DeriveSharedSecret", body, adminSigner())
			if r.Status != 400 || r.ErrorType != tc.code || r.Message != "" {
				t.Fatalf("raw DeriveSharedSecret = %d %s %q, want 400 %s with an empty message", r.Status, r.ErrorType, r.Message, tc.code)
			}
		})
	}
}

// mlkemCiphertextSize is the ML-KEM ciphertext size per parameter set.
var mlkemCiphertextSize = map[types.KeySpec]int{types.KeySpecMlKem512: 768, types.KeySpecMlKem768: 1088, types.KeySpecMlKem1024: 1568}

// encapsulateLocally encapsulates to the raw ML-KEM encapsulation key ek:
// crypto/mlkem for 768 and 1024, circl for 512.
func encapsulateLocally(t testing.TB, spec types.KeySpec, ek []byte) (ss, ct []byte) {
	t.Helper()
	switch spec {
	case types.KeySpecMlKem768:
		k, err := mlkem.NewEncapsulationKey768(ek)
		if err != nil {
			t.Fatal(err)
		}
		return k.Encapsulate()
	case types.KeySpecMlKem1024:
		k, err := mlkem.NewEncapsulationKey1024(ek)
		if err != nil {
			t.Fatal(err)
		}
		return k.Encapsulate()
	}
	pk, err := mlkem512.Scheme().UnmarshalBinaryPublicKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	ct, ss, err = mlkem512.Scheme().Encapsulate(pk)
	if err != nil {
		t.Fatal(err)
	}
	return ss, ct
}

// TestAsymMLKEM: Encapsulate/Decapsulate round trips, and secrets
// encapsulated locally to the public key decapsulate to the same value in
// Trent.
func TestAsymMLKEM(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	for _, spec := range []types.KeySpec{types.KeySpecMlKem512, types.KeySpecMlKem768, types.KeySpecMlKem1024} {
		t.Run("ok/"+string(spec)+"/round trip", func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, spec, types.KeyUsageTypeEncapsulateDecapsulate)
			enc, err := pool.c.Encapsulate(ctxT(t), &kms.EncapsulateInput{KeyId: m.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem})
			if err != nil {
				t.Fatalf("Encapsulate: %v", err)
			}
			if len(enc.SharedSecret) != 32 || len(enc.SharedSecretCiphertextBlob) != mlkemCiphertextSize[spec] || *enc.KeyId != *m.Arn ||
				enc.EncapsulationAlgorithm != types.EncapsulationAlgorithmSpecMlKem {
				t.Fatalf("secret %d B, ciphertext %d B, KeyId %s, algorithm %s", len(enc.SharedSecret), len(enc.SharedSecretCiphertextBlob), *enc.KeyId, enc.EncapsulationAlgorithm)
			}
			dec, err := pool.c.Decapsulate(ctxT(t), &kms.DecapsulateInput{KeyId: m.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
				SharedSecretCiphertextBlob: enc.SharedSecretCiphertextBlob})
			if err != nil {
				t.Fatalf("Decapsulate: %v", err)
			}
			if !bytes.Equal(dec.SharedSecret, enc.SharedSecret) || *dec.KeyId != *m.Arn {
				t.Fatal("Decapsulate returned another secret")
			}
			// Implicit rejection: a tampered ciphertext gives another secret, no error.
			bad := append([]byte(nil), enc.SharedSecretCiphertextBlob...)
			bad[7] ^= 1
			rej, err := pool.c.Decapsulate(ctxT(t), &kms.DecapsulateInput{KeyId: m.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
				SharedSecretCiphertextBlob: bad})
			if err != nil {
				t.Fatalf("Decapsulate of a tampered ciphertext: %v", err)
			}
			if bytes.Equal(rej.SharedSecret, enc.SharedSecret) || len(rej.SharedSecret) != 32 {
				t.Fatal("a tampered ciphertext decapsulated to the original secret")
			}
		})
		t.Run("ok/"+string(spec)+"/encapsulated locally", func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, spec, types.KeyUsageTypeEncapsulateDecapsulate)
			pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
			if err != nil {
				t.Fatal(err)
			}
			ss, ct := encapsulateLocally(t, spec, checkPublicKey(t, spec, pk.PublicKey).([]byte))
			dec, err := pool.c.Decapsulate(ctxT(t), &kms.DecapsulateInput{KeyId: m.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
				SharedSecretCiphertextBlob: ct})
			if err != nil {
				t.Fatalf("Decapsulate: %v", err)
			}
			if !bytes.Equal(dec.SharedSecret, ss) {
				t.Fatal("Trent decapsulated another secret than the local encapsulation")
			}
		})
		t.Run("fail/"+string(spec)+"/ciphertext of wrong length", func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, spec, types.KeyUsageTypeEncapsulateDecapsulate)
			_, err := pool.c.Decapsulate(ctxT(t), &kms.DecapsulateInput{KeyId: m.KeyId, EncapsulationAlgorithm: types.EncapsulationAlgorithmSpecMlKem,
				SharedSecretCiphertextBlob: make([]byte, mlkemCiphertextSize[spec]-1)})
			wantAPIError(t, err, "InvalidCiphertextException", "")
		})
	}
	t.Run("fail/unknown algorithm", func(t *testing.T) {
		t.Parallel()
		m := pool.get(t, types.KeySpecMlKem768, types.KeyUsageTypeEncapsulateDecapsulate)
		_, err := pool.c.Encapsulate(ctxT(t), &kms.EncapsulateInput{KeyId: m.KeyId, EncapsulationAlgorithm: "KYBER"})
		wantAPIError(t, err, "ValidationException", "1 validation error detected: Value 'KYBER' at 'encapsulationAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [ML_KEM]")
	})
}
