package algo

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"testing"

	gmmlkem "github.com/emmansun/gmsm/mlkem"

	"github.com/trentkms/trent/internal/awserr"
)

func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec, alg string
		max       int
	}{
		{"RSA_2048", RSAESOAEPSHA1, 214}, {"RSA_2048", RSAESOAEPSHA256, 190},
		{"RSA_3072", RSAESOAEPSHA1, 342}, {"RSA_3072", RSAESOAEPSHA256, 318},
		{"RSA_4096", RSAESOAEPSHA1, 470}, {"RSA_4096", RSAESOAEPSHA256, 446},
		{"SM2", SM2PKE, 1024},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("ok/%s/%s", tc.spec, tc.alg), func(t *testing.T) {
			t.Parallel()
			k := testKey(t, tc.spec, UsageEncryptDecrypt)
			if got := k.MaxPlaintext(tc.alg); got != tc.max {
				t.Fatalf("MaxPlaintext = %d, want %d", got, tc.max)
			}
			pt := bytes.Repeat([]byte{0xA5}, tc.max)
			ct, err := k.Encrypt(rand.Reader, tc.alg, pt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.Decrypt(tc.alg, ct)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Decrypt = %x, %v", got, err)
			}
			tampered := append([]byte(nil), ct...)
			tampered[len(tampered)-1] ^= 1
			_, err = k.Decrypt(tc.alg, tampered)
			wantAWS(t, err, awserr.InvalidCiphertext, "")
		})
		t.Run(fmt.Sprintf("fail/%s/%s/too-large", tc.spec, tc.alg), func(t *testing.T) {
			t.Parallel()
			k := testKey(t, tc.spec, UsageEncryptDecrypt)
			_, err := k.Encrypt(rand.Reader, tc.alg, make([]byte, tc.max+1))
			wantAWS(t, err, awserr.Validation, fmt.Sprintf("Algorithm %s and key spec %s cannot encrypt data larger than %d bytes.", tc.alg, tc.spec, tc.max))
		})
	}
	errTests := []struct {
		name, spec, usage, alg string
		ct                     []byte
		code, msg              string
		sentinel               error
	}{
		{name: "fail/rsa-with-sm2pke", spec: "RSA_2048", usage: UsageEncryptDecrypt, alg: SM2PKE, code: awserr.InvalidKeyUsage, msg: "Algorithm SM2PKE is incompatible with key spec RSA_2048."},
		{name: "fail/symmetric-default", spec: "RSA_2048", usage: UsageEncryptDecrypt, alg: SymmetricDefault, code: awserr.InvalidKeyUsage, msg: "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."},
		{name: "fail/sign-key", spec: "RSA_2048", usage: UsageSignVerify, alg: RSAESOAEPSHA256, sentinel: ErrKeyUsage},
		{name: "fail/ecc-key", spec: "ECC_NIST_P256", usage: UsageSignVerify, alg: RSAESOAEPSHA256, sentinel: ErrKeyUsage},
		{name: "fail/short-ciphertext", spec: "RSA_2048", usage: UsageEncryptDecrypt, alg: RSAESOAEPSHA256, ct: make([]byte, 255), code: awserr.InvalidCiphertext},
		{name: "fail/sm2-plain-form", spec: "SM2", usage: UsageEncryptDecrypt, alg: SM2PKE, ct: append([]byte{4}, make([]byte, 120)...), code: awserr.InvalidCiphertext},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := testKey(t, tc.spec, tc.usage)
			ct := tc.ct
			if ct == nil {
				ct = make([]byte, 256)
			}
			_, derr := k.Decrypt(tc.alg, ct)
			if tc.sentinel != nil {
				_, eerr := k.Encrypt(rand.Reader, tc.alg, []byte("x"))
				if !errors.Is(derr, tc.sentinel) || !errors.Is(eerr, tc.sentinel) {
					t.Fatalf("errors = %v / %v, want %v", eerr, derr, tc.sentinel)
				}
				return
			}
			wantAWS(t, derr, tc.code, tc.msg)
		})
	}
}

func TestMAC(t *testing.T) {
	t.Parallel()
	msg := []byte("mac me")
	for _, spec := range []string{"HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"} {
		t.Run("ok/"+spec, func(t *testing.T) {
			t.Parallel()
			s, _ := LookupSpec(spec)
			alg := s.Algorithms(UsageGenerateVerifyMAC).MAC[0]
			for _, n := range []int{s.hmacRange[0], s.hmacRange[1]} {
				key := bytes.Repeat([]byte{byte(n)}, n)
				k, err := ParseKey(spec, UsageGenerateVerifyMAC, key)
				if err != nil {
					t.Fatalf("ParseKey(%d bytes): %v", n, err)
				}
				mac, err := k.MAC(alg, msg)
				if err != nil {
					t.Fatal(err)
				}
				h := hmac.New(s.hash.New, key)
				h.Write(msg)
				if !bytes.Equal(mac, h.Sum(nil)) {
					t.Fatal("MAC differs from crypto/hmac")
				}
				if err := k.VerifyMAC(alg, msg, mac); err != nil {
					t.Fatal(err)
				}
				mac[0] ^= 1
				wantAWS(t, k.VerifyMAC(alg, msg, mac), awserr.KMSInvalidMac, "")
				wantAWS(t, k.VerifyMAC(alg, msg, mac[:len(mac)-1]), awserr.KMSInvalidMac, "")
			}
			if len(material(t, spec)) != s.bits/8 {
				t.Fatalf("generated %d bytes, want %d", len(material(t, spec)), s.bits/8)
			}
			for _, n := range []int{s.hmacRange[0] - 1, s.hmacRange[1] + 1} {
				if _, err := ParseKey(spec, UsageGenerateVerifyMAC, make([]byte, n)); !errors.Is(err, ErrInvalidKeyMaterial) {
					t.Fatalf("ParseKey(%d bytes) = %v, want ErrInvalidKeyMaterial", n, err)
				}
			}
		})
	}
	k := testKey(t, "HMAC_224", UsageGenerateVerifyMAC)
	t.Run("fail/wrong-algorithm", func(t *testing.T) {
		_, err := k.MAC(HMACSHA256, msg)
		wantAWS(t, err, awserr.InvalidKeyUsage, "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.")
		var ae *AlgorithmError
		if !errors.As(err, &ae) || ae.Algorithm != HMACSHA256 {
			t.Fatalf("error %v is not an *AlgorithmError", err)
		}
	})
	t.Run("fail/too-long", func(t *testing.T) {
		_, err := k.MAC(HMACSHA224, make([]byte, 4097))
		wantAWS(t, err, awserr.Validation, "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096")
	})
	t.Run("fail/not-hmac-key", func(t *testing.T) {
		_, err := testKey(t, "ECC_NIST_P256", UsageSignVerify).MAC(HMACSHA256, msg)
		if !errors.Is(err, ErrKeyUsage) {
			t.Fatalf("error = %v, want ErrKeyUsage", err)
		}
	})
}

func TestDeriveSharedSecret(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec  string
		curve ecdh.Curve
	}{{"ECC_NIST_P256", ecdh.P256()}, {"ECC_NIST_P384", ecdh.P384()}, {"ECC_NIST_P521", ecdh.P521()}} {
		t.Run("ok/"+tc.spec, func(t *testing.T) {
			t.Parallel()
			k := testKey(t, tc.spec, UsageKeyAgreement)
			peer, _ := tc.curve.GenerateKey(rand.Reader)
			peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
			got, err := k.DeriveSharedSecret(peerDER)
			if err != nil {
				t.Fatal(err)
			}
			pubDER, _ := k.PublicKeyDER()
			pub, _ := x509.ParsePKIXPublicKey(pubDER)
			ourPub, _ := pub.(*ecdsa.PublicKey).ECDH()
			want, _ := peer.ECDH(ourPub)
			if !bytes.Equal(got, want) {
				t.Fatal("shared secret differs from crypto/ecdh")
			}
		})
	}
	t.Run("ok/SM2", func(t *testing.T) {
		t.Parallel()
		a := testKey(t, "SM2", UsageKeyAgreement)
		bm, _ := Generate(rand.Reader, "SM2")
		b, _ := ParseKey("SM2", UsageKeyAgreement, bm)
		apub, _ := a.PublicKeyDER()
		bpub, _ := b.PublicKeyDER()
		s1, err1 := a.DeriveSharedSecret(bpub)
		s2, err2 := b.DeriveSharedSecret(apub)
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) || len(s1) != 32 {
			t.Fatalf("SM2 ECDH: %v %v, equal=%v", err1, err2, bytes.Equal(s1, s2))
		}
	})
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(p384.PublicKey())
	rsaDER, _ := testKey(t, "RSA_2048", UsageSignVerify).PublicKeyDER()
	sm2DER, _ := testKey(t, "SM2", UsageKeyAgreement).PublicKeyDER()
	offCurve := marshalSPKI(oidECPublicKey, asn1P256(), append([]byte{4}, bytes.Repeat([]byte{1}, 64)...))
	for _, tc := range []struct {
		name, spec string
		peer       []byte
	}{
		{"fail/other-curve", "ECC_NIST_P256", p384DER},
		{"fail/rsa-key", "ECC_NIST_P256", rsaDER},
		{"fail/sm2-on-nist", "ECC_NIST_P256", sm2DER},
		{"fail/nist-on-sm2", "SM2", p384DER},
		{"fail/off-curve", "ECC_NIST_P256", offCurve},
		{"fail/garbage", "ECC_NIST_P256", []byte("not a key")},
		{"fail/empty", "SM2", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testKey(t, tc.spec, UsageKeyAgreement).DeriveSharedSecret(tc.peer)
			wantAWS(t, err, awserr.Validation, "")
		})
	}
	t.Run("fail/sign-key", func(t *testing.T) {
		_, err := testKey(t, "ECC_NIST_P256", UsageSignVerify).DeriveSharedSecret(p384DER)
		if !errors.Is(err, ErrKeyUsage) {
			t.Fatalf("error = %v, want ErrKeyUsage", err)
		}
	})
}

func asn1P256() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7} }

func TestKEM(t *testing.T) {
	t.Parallel()
	sizes := map[string]int{"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}
	for spec, ctSize := range sizes {
		t.Run("ok/"+spec, func(t *testing.T) {
			t.Parallel()
			k := testKey(t, spec, UsageEncapsulateDecapsulate)
			ss, ct, err := k.Encapsulate(rand.Reader)
			if err != nil || len(ss) != 32 || len(ct) != ctSize {
				t.Fatalf("Encapsulate: %d-byte secret, %d-byte ciphertext, %v", len(ss), len(ct), err)
			}
			got, err := k.Decapsulate(ct)
			if err != nil || !bytes.Equal(got, ss) {
				t.Fatalf("Decapsulate round trip failed: %v", err)
			}
			// Implicit rejection: a tampered ciphertext gives a different secret, no error, deterministically.
			ct[5] ^= 1
			r1, err1 := k.Decapsulate(ct)
			r2, err2 := k.Decapsulate(ct)
			if err1 != nil || err2 != nil || len(r1) != 32 || bytes.Equal(r1, ss) || !bytes.Equal(r1, r2) {
				t.Fatalf("implicit rejection: %v %v", err1, err2)
			}
			// Independent implementation (gmsm) encapsulates to our public key.
			pub := rawPublicKey(t, k)
			var gss, gct []byte
			switch spec {
			case "ML_KEM_512":
				ek, err := gmmlkem.NewEncapsulationKey512(pub)
				if err != nil {
					t.Fatal(err)
				}
				gss, gct, err = ek.Encapsulate(rand.Reader)
			case "ML_KEM_768":
				ek, err := gmmlkem.NewEncapsulationKey768(pub)
				if err != nil {
					t.Fatal(err)
				}
				gss, gct, err = ek.Encapsulate(rand.Reader)
			default:
				ek, err := gmmlkem.NewEncapsulationKey1024(pub)
				if err != nil {
					t.Fatal(err)
				}
				gss, gct, err = ek.Encapsulate(rand.Reader)
			}
			if got, err := k.Decapsulate(gct); err != nil || !bytes.Equal(got, gss) {
				t.Fatalf("gmsm encapsulation does not decapsulate: %v", err)
			}
			_, err = k.Decapsulate(ct[:len(ct)-1])
			wantAWS(t, err, awserr.InvalidCiphertext, "")
		})
	}
	t.Run("ok/stdlib-encapsulates-768", func(t *testing.T) {
		k := testKey(t, "ML_KEM_768", UsageEncapsulateDecapsulate)
		ek, err := mlkem.NewEncapsulationKey768(rawPublicKey(t, k))
		if err != nil {
			t.Fatal(err)
		}
		ss, ct := ek.Encapsulate()
		if got, err := k.Decapsulate(ct); err != nil || !bytes.Equal(got, ss) {
			t.Fatal("stdlib encapsulation does not decapsulate")
		}
	})
	t.Run("fail/wrong-usage", func(t *testing.T) {
		if _, _, err := testKey(t, "ECC_NIST_P256", UsageSignVerify).Encapsulate(rand.Reader); !errors.Is(err, ErrKeyUsage) {
			t.Fatalf("error = %v, want ErrKeyUsage", err)
		}
	})
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	seed := bytes.Repeat([]byte{7}, 64)
	both := func(oid asn1.ObjectIdentifier, seed, expanded []byte) []byte {
		inner, _ := asn1.Marshal(struct{ Seed, Expanded []byte }{seed, expanded})
		return marshalPKCS8(oid, nil, inner)
	}
	h := sha256.Sum256([]byte("x"))
	tests := []struct {
		name, spec, usage string
		material          []byte
		ok                bool
	}{
		{"ok/mlkem-both", "ML_KEM_768", UsageEncapsulateDecapsulate, both(oidMLKEM768, seed, mlkemExpanded(768, seed)), true},
		{"ok/mldsa-both", "ML_DSA_44", UsageSignVerify, both(oidMLDSA44, seed[:32], mldsaExpanded(44, seed[:32])), true},
		{"fail/mlkem-both-mismatch", "ML_KEM_768", UsageEncapsulateDecapsulate, both(oidMLKEM768, seed, mlkemExpanded(768, bytes.Repeat([]byte{8}, 64))), false},
		{"fail/mldsa-both-mismatch", "ML_DSA_44", UsageSignVerify, both(oidMLDSA44, seed[:32], mldsaExpanded(44, h[:])), false},
		{"fail/mlkem-expanded-only", "ML_KEM_768", UsageEncapsulateDecapsulate, marshalPKCS8(oidMLKEM768, nil, append([]byte{4, 0x82, 0x09, 0x60}, mlkemExpanded(768, seed)...)), false},
		{"fail/mlkem-wrong-set", "ML_KEM_512", UsageEncapsulateDecapsulate, material(t, "ML_KEM_768"), false},
		{"fail/mldsa-wrong-set", "ML_DSA_65", UsageSignVerify, material(t, "ML_DSA_44"), false},
		{"fail/rsa-size", "RSA_3072", UsageSignVerify, material(t, "RSA_2048"), false},
		{"fail/curve", "ECC_NIST_P384", UsageSignVerify, material(t, "ECC_NIST_P256"), false},
		{"fail/secp256k1-as-p256", "ECC_NIST_P256", UsageSignVerify, material(t, "ECC_SECG_P256K1"), false},
		{"fail/sm2-as-p256", "ECC_NIST_P256", UsageSignVerify, material(t, "SM2"), false},
		{"fail/p256-as-sm2", "SM2", UsageSignVerify, material(t, "ECC_NIST_P256"), false},
		{"fail/ed25519-as-p256", "ECC_NIST_P256", UsageSignVerify, material(t, "ECC_NIST_EDWARDS25519"), false},
		{"fail/trailing", "ECC_NIST_P256", UsageSignVerify, append(append([]byte(nil), material(t, "ECC_NIST_P256")...), 0), false},
		{"fail/garbage", "RSA_2048", UsageSignVerify, []byte{0x30, 0x03, 1, 2, 3}, false},
		{"fail/symmetric", "SYMMETRIC_DEFAULT", UsageEncryptDecrypt, make([]byte, 32), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParseKey(tc.spec, tc.usage, tc.material)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := k.PublicKeyDER(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidKeyMaterial) {
				t.Fatalf("ParseKey = %v, want ErrInvalidKeyMaterial", err)
			}
		})
	}
	t.Run("fail/usage", func(t *testing.T) {
		_, err := ParseKey("ECC_SECG_P256K1", UsageKeyAgreement, material(t, "ECC_SECG_P256K1"))
		wantAWS(t, err, awserr.Validation, "KeyUsage KEY_AGREEMENT is not compatible with KeySpec ECC_SECG_P256K1")
	})
}

func TestGenerateDataKeyPair(t *testing.T) {
	t.Parallel()
	for _, spec := range DataKeyPairSpecs {
		t.Run("ok/"+spec, func(t *testing.T) {
			t.Parallel()
			if spec == "RSA_4096" || spec == "RSA_3072" {
				t.Skip("slow; covered by TestOpenSSLDataKeyPair via cached material")
			}
			priv, pub, err := GenerateDataKeyPair(rand.Reader, spec)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := LookupSpec(spec)
			k, err := ParseKey(spec, s.Usages[0], priv)
			if err != nil {
				t.Fatal(err)
			}
			if der, _ := k.PublicKeyDER(); !bytes.Equal(der, pub) {
				t.Fatal("public key does not match private key")
			}
		})
	}
	for _, spec := range []string{"ML_DSA_44", "HMAC_256", "SYMMETRIC_DEFAULT", "RSA_1024"} {
		t.Run("fail/"+spec, func(t *testing.T) {
			_, _, err := GenerateDataKeyPair(rand.Reader, spec)
			wantAWS(t, err, awserr.Validation, "1 validation error detected: Value '"+spec+"' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2, ECC_NIST_EDWARDS25519, ML_KEM_512, ML_KEM_768, ML_KEM_1024]")
		})
	}
}
