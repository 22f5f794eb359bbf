package algo

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

// FuzzParseKey: ParseKey never panics; what it accepts round-trips (the
// public key it derives is stable) and what it rejects is ErrInvalidKeyMaterial.
func FuzzParseKey(f *testing.F) {
	specsUnderTest := []string{"ECC_NIST_P256", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "SM2", "ML_DSA_44", "ML_KEM_512", "HMAC_256"}
	for i, spec := range specsUnderTest {
		f.Add(uint8(i), material(f, spec))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		spec := specsUnderTest[int(which)%len(specsUnderTest)]
		s, _ := LookupSpec(spec)
		k, err := ParseKey(spec, s.Usages[0], data)
		if err != nil {
			if !errors.Is(err, ErrInvalidKeyMaterial) {
				t.Fatalf("ParseKey error %v does not wrap ErrInvalidKeyMaterial", err)
			}
			return
		}
		k2, err := ParseKey(spec, s.Usages[0], data)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		p1, e1 := k.PublicKeyDER()
		p2, _ := k2.PublicKeyDER()
		if (e1 == nil) != s.Asymmetric() || !bytes.Equal(p1, p2) {
			t.Fatal("public key not stable across parses")
		}
	})
}

// FuzzDeriveSharedSecret: any peer key bytes either derive a secret of the
// field size or fail with ValidationException and an empty message.
func FuzzDeriveSharedSecret(f *testing.F) {
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	good, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	f.Add(good)
	sm2Pub, _ := testKey(f, "SM2", UsageKeyAgreement).PublicKeyDER()
	f.Add(sm2Pub)
	f.Add([]byte{0x30, 0x00})
	nist := testKey(f, "ECC_NIST_P256", UsageKeyAgreement)
	sm2k := testKey(f, "SM2", UsageKeyAgreement)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, k := range []*Key{nist, sm2k} {
			secret, err := k.DeriveSharedSecret(data)
			if err != nil {
				if e := awserr.As(err); e == nil || e.Code != awserr.Validation || e.Message != "" {
					t.Fatalf("error = %v, want empty ValidationException", err)
				}
				continue
			}
			if len(secret) != 32 {
				t.Fatalf("secret is %d bytes", len(secret))
			}
		}
	})
}

func BenchmarkSign(b *testing.B) {
	msg := bytes.Repeat([]byte{1}, 1024)
	for _, tc := range []struct{ spec, alg, mt string }{
		{"RSA_2048", RSASSAPSSSHA256, MessageRaw}, {"RSA_4096", RSASSAPKCS1SHA512, MessageRaw},
		{"ECC_NIST_P256", ECDSASHA256, MessageRaw}, {"ECC_NIST_P521", ECDSASHA512, MessageRaw},
		{"ECC_SECG_P256K1", ECDSASHA256, MessageRaw}, {"ECC_NIST_EDWARDS25519", Ed25519SHA512, MessageRaw},
		{"SM2", SM2DSA, MessageRaw}, {"ML_DSA_44", MLDSASHAKE256, MessageRaw}, {"ML_DSA_87", MLDSASHAKE256, MessageRaw},
	} {
		k := testKey(b, tc.spec, UsageSignVerify)
		sig, err := k.Sign(rand.Reader, tc.alg, tc.mt, msg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("Sign/"+tc.spec, func(b *testing.B) {
			for b.Loop() {
				if _, err := k.Sign(rand.Reader, tc.alg, tc.mt, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Verify/"+tc.spec, func(b *testing.B) {
			for b.Loop() {
				if err := k.Verify(tc.alg, tc.mt, msg, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCrypt(b *testing.B) {
	pt := bytes.Repeat([]byte{1}, 100)
	for _, tc := range []struct{ spec, alg string }{{"RSA_2048", RSAESOAEPSHA256}, {"SM2", SM2PKE}} {
		k := testKey(b, tc.spec, UsageEncryptDecrypt)
		ct, _ := k.Encrypt(rand.Reader, tc.alg, pt)
		b.Run("Decrypt/"+tc.spec, func(b *testing.B) {
			for b.Loop() {
				if _, err := k.Decrypt(tc.alg, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	mac := testKey(b, "HMAC_256", UsageGenerateVerifyMAC)
	b.Run("MAC/HMAC_256-1KiB", func(b *testing.B) {
		msg := make([]byte, 1024)
		for b.Loop() {
			mac.MAC(HMACSHA256, msg)
		}
	})
	for _, spec := range []string{"ML_KEM_512", "ML_KEM_768"} {
		k := testKey(b, spec, UsageEncapsulateDecapsulate)
		_, ct, _ := k.Encapsulate(rand.Reader)
		b.Run("Decapsulate/"+spec, func(b *testing.B) {
			for b.Loop() {
				k.Decapsulate(ct)
			}
		})
	}
	agree := testKey(b, "ECC_NIST_P256", UsageKeyAgreement)
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	b.Run("DeriveSharedSecret/ECC_NIST_P256", func(b *testing.B) {
		for b.Loop() {
			agree.DeriveSharedSecret(peerDER)
		}
	})
}

// BenchmarkGenerateDataKeyPair measures key generation per DataKeyPairSpec
// (RSA_4096 is slow: run with -benchtime=3x).
func BenchmarkGenerateDataKeyPair(b *testing.B) {
	for _, spec := range DataKeyPairSpecs {
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := GenerateDataKeyPair(rand.Reader, spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseKey(b *testing.B) {
	for _, spec := range []string{"RSA_2048", "ECC_NIST_P256", "ML_DSA_65", "ML_KEM_768"} {
		s, _ := LookupSpec(spec)
		m := material(b, spec)
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseKey(spec, s.Usages[0], m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
