package e2e

// Issue 3, part 4: GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext
// for every DataKeyPairSpec: the private key is PKCS#8 and matches the
// public key (checked with crypto/x509, crypto/mlkem, circl or openssl),
// and the encrypted private key decrypts with Decrypt under the same
// encryption context.

import (
	"bytes"
	"crypto"
	"crypto/mlkem"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"

	"github.com/trentkms/trent/internal/testenv"
)

type pkcs8DER struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
	PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
}

// publicOfPrivate returns the DER SubjectPublicKeyInfo belonging to the
// PKCS#8 private key priv of spec, computed without Trent.
func publicOfPrivate(t testing.TB, spec types.DataKeyPairSpec, priv []byte) []byte {
	t.Helper()
	var p pkcs8DER
	rest, err := asn1.Unmarshal(priv, &p)
	if err != nil || len(rest) != 0 {
		t.Fatalf("private key is not DER PKCS#8: %v", err)
	}
	switch spec {
	case types.DataKeyPairSpecEccSecgP256k1, types.DataKeyPairSpecSm2:
		if !hasOpenSSL() {
			testenv.Missing(t, testenv.OpenSSL, "openssl not installed")
		}
		dir := t.TempDir()
		writeFile(t, dir, "priv.der", priv)
		openssl(t, dir, "pkey", "-inform", "DER", "-in", "priv.der", "-pubout", "-outform", "DER", "-out", "pub.der")
		return readFile(t, dir, "pub.der")
	case types.DataKeyPairSpecMlKem512, types.DataKeyPairSpecMlKem768, types.DataKeyPairSpecMlKem1024:
		if !p.Algorithm.Algorithm.Equal(oidMLKEM[types.KeySpec(spec)]) {
			t.Fatalf("PKCS#8 algorithm %v, want %v", p.Algorithm.Algorithm, oidMLKEM[types.KeySpec(spec)])
		}
		// RFC 9935 ML-KEM-PrivateKey: seed [0] IMPLICIT OCTET STRING (SIZE (64)), or both.
		var choice asn1.RawValue
		if _, err := asn1.Unmarshal(p.PrivateKey, &choice); err != nil {
			t.Fatalf("ML-KEM private key: %v", err)
		}
		seed := choice.Bytes
		if choice.Class == asn1.ClassUniversal && choice.Tag == asn1.TagSequence {
			var both struct {
				Seed     []byte
				Expanded []byte
			}
			if _, err := asn1.Unmarshal(p.PrivateKey, &both); err != nil {
				t.Fatalf("ML-KEM private key: %v", err)
			}
			seed = both.Seed
		} else if choice.Class != asn1.ClassContextSpecific || choice.Tag != 0 {
			t.Fatalf("ML-KEM private key has class %d tag %d, want the seed [0]", choice.Class, choice.Tag)
		}
		if len(seed) != 64 {
			t.Fatalf("ML-KEM seed is %d bytes, want 64", len(seed))
		}
		var ek []byte
		switch spec {
		case types.DataKeyPairSpecMlKem768:
			dk, err := mlkem.NewDecapsulationKey768(seed)
			if err != nil {
				t.Fatal(err)
			}
			ek = dk.EncapsulationKey().Bytes()
		case types.DataKeyPairSpecMlKem1024:
			dk, err := mlkem.NewDecapsulationKey1024(seed)
			if err != nil {
				t.Fatal(err)
			}
			ek = dk.EncapsulationKey().Bytes()
		default:
			pk, _ := mlkem512.Scheme().DeriveKeyPair(seed)
			if ek, err = pk.MarshalBinary(); err != nil {
				t.Fatal(err)
			}
		}
		der, err := asn1.Marshal(spkiDER{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidMLKEM[types.KeySpec(spec)]},
			PublicKey: asn1.BitString{Bytes: ek, BitLength: 8 * len(ek)}})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	key, err := x509.ParsePKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("crypto/x509 cannot parse the %s PKCS#8 private key: %v", spec, err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.(crypto.Signer).Public())
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// checkDataKeyPairs runs GenerateDataKeyPair(WithoutPlaintext) for specs
// under the symmetric key sym.
func checkDataKeyPairs(t *testing.T, c *kms.Client, sym *types.KeyMetadata, specs []types.DataKeyPairSpec) {
	ec := map[string]string{"purpose": "e2e data key pair"}
	for _, spec := range specs {
		t.Run("ok/"+string(spec)+"/with plaintext", func(t *testing.T) {
			t.Parallel()
			out, err := c.GenerateDataKeyPair(ctxT(t), &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: spec, EncryptionContext: ec})
			skipIfFIPSRefused(t, err, "KeyPairSpec", string(spec))
			if err != nil {
				t.Fatalf("GenerateDataKeyPair: %v", err)
			}
			if out.KeyPairSpec != spec || aws.ToString(out.KeyId) != *sym.Arn {
				t.Fatalf("KeyPairSpec, KeyId = %s, %s", out.KeyPairSpec, aws.ToString(out.KeyId))
			}
			checkPublicKey(t, types.KeySpec(spec), out.PublicKey)
			if !bytes.Equal(publicOfPrivate(t, spec, out.PrivateKeyPlaintext), out.PublicKey) {
				t.Fatal("the private key does not match the public key")
			}
			dec, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: ec})
			if err != nil {
				t.Fatalf("Decrypt of PrivateKeyCiphertextBlob: %v", err)
			}
			if !bytes.Equal(dec.Plaintext, out.PrivateKeyPlaintext) || aws.ToString(dec.KeyId) != *sym.Arn {
				t.Fatal("PrivateKeyCiphertextBlob decrypts to another private key")
			}
			_, err = c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob})
			wantAPIError(t, err, "InvalidCiphertextException", "")
		})
		t.Run("ok/"+string(spec)+"/without plaintext", func(t *testing.T) {
			t.Parallel()
			out, err := c.GenerateDataKeyPairWithoutPlaintext(ctxT(t), &kms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: sym.KeyId, KeyPairSpec: spec, EncryptionContext: ec})
			skipIfFIPSRefused(t, err, "KeyPairSpec", string(spec))
			if err != nil {
				t.Fatalf("GenerateDataKeyPairWithoutPlaintext: %v", err)
			}
			if out.KeyPairSpec != spec || aws.ToString(out.KeyId) != *sym.Arn {
				t.Fatalf("KeyPairSpec, KeyId = %s, %s", out.KeyPairSpec, aws.ToString(out.KeyId))
			}
			dec, err := c.Decrypt(ctxT(t), &kms.DecryptInput{CiphertextBlob: out.PrivateKeyCiphertextBlob, EncryptionContext: ec})
			if err != nil {
				t.Fatalf("Decrypt of PrivateKeyCiphertextBlob: %v", err)
			}
			if !bytes.Equal(publicOfPrivate(t, spec, dec.Plaintext), out.PublicKey) {
				t.Fatal("the decrypted private key does not match the public key")
			}
		})
	}
}

// TestAsymDataKeyPair covers every DataKeyPairSpec but SM2 (see TestSM2).
func TestAsymDataKeyPair(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	sym := pool.get(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	var specs []types.DataKeyPairSpec
	for _, s := range types.DataKeyPairSpec("").Values() {
		if s != types.DataKeyPairSpecSm2 {
			specs = append(specs, s)
		}
	}
	checkDataKeyPairs(t, pool.c, sym, specs)
	t.Run("fail/SM2 outside China Regions", func(t *testing.T) {
		t.Parallel()
		_, err := pool.c.GenerateDataKeyPair(ctxT(t), &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: types.DataKeyPairSpecSm2})
		wantAPIError(t, err, "ValidationException",
			"KeyPairSpec SM2 is supported only in China Regions. Start Trent with --enable-sm2 to serve it elsewhere.")
	})
	t.Run("fail/unknown KeyPairSpec", func(t *testing.T) {
		t.Parallel()
		_, err := pool.c.GenerateDataKeyPair(ctxT(t), &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: "RSA_1024"})
		wantAPIErrorPrefix(t, err, "ValidationException",
			"1 validation error detected: Value 'RSA_1024' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [")
	})
	t.Run("fail/dry run", func(t *testing.T) {
		t.Parallel()
		_, err := pool.c.GenerateDataKeyPair(ctxT(t), &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256, DryRun: aws.Bool(true)})
		wantAPIError(t, err, "DryRunOperationException", dryRunMsg)
	})
}
