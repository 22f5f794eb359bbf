package algo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/mldsa"

	circlsign "github.com/cloudflare/circl/sign"
	circldsa44 "github.com/cloudflare/circl/sign/mldsa/mldsa44"
	circldsa65 "github.com/cloudflare/circl/sign/mldsa/mldsa65"
	circldsa87 "github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/trentkms/trent/internal/awserr"
)

// signCases lists every (spec, algorithm, message type) Sign accepts.
func signCases() (out []struct{ spec, alg, mt string }) {
	add := func(spec, alg string, mts ...string) {
		for _, mt := range mts {
			out = append(out, struct{ spec, alg, mt string }{spec, alg, mt})
		}
	}
	for _, spec := range []string{"RSA_2048", "RSA_3072", "RSA_4096"} {
		s, _ := LookupSpec(spec)
		for _, alg := range s.Algorithms(UsageSignVerify).Signing {
			add(spec, alg, MessageRaw, MessageDigest)
		}
	}
	add("ECC_NIST_P256", ECDSASHA256, MessageRaw, MessageDigest)
	add("ECC_NIST_P384", ECDSASHA384, MessageRaw, MessageDigest)
	add("ECC_NIST_P521", ECDSASHA512, MessageRaw, MessageDigest)
	add("ECC_SECG_P256K1", ECDSASHA256, MessageRaw, MessageDigest)
	add("ECC_NIST_EDWARDS25519", Ed25519SHA512, MessageRaw)
	add("ECC_NIST_EDWARDS25519", Ed25519PHSHA512, MessageDigest)
	add("SM2", SM2DSA, MessageRaw, MessageDigest)
	for _, spec := range []string{"ML_DSA_44", "ML_DSA_65", "ML_DSA_87"} {
		add(spec, MLDSASHAKE256, MessageRaw, MessageExternalMu)
	}
	return out
}

// mlDSAMu computes μ for pure ML-DSA with an empty context (FIPS 204 §5.2).
func mlDSAMu(pub, msg []byte) []byte {
	tr := sha3.SumSHAKE256(pub, 64)
	h := sha3.NewSHAKE256()
	h.Write(tr)
	h.Write([]byte{0, 0})
	h.Write(msg)
	mu := make([]byte, 64)
	h.Read(mu)
	return mu
}

// input returns what the caller sends for message type mt.
func signInput(t *testing.T, k *Key, alg, mt string, msg []byte) []byte {
	switch {
	case mt == MessageRaw:
		return msg
	case mt == MessageExternalMu:
		return mlDSAMu(rawPublicKey(t, k), msg)
	case alg == SM2DSA:
		e, err := smHash(k, msg)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	return hashOf(alg, msg)
}

// rawPublicKey extracts the subjectPublicKey bits of the key's SPKI.
func rawPublicKey(t testing.TB, k *Key) []byte {
	der, err := k.PublicKeyDER()
	if err != nil {
		t.Fatal(err)
	}
	_, _, pub, err := parseSPKI(der)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// independentVerify verifies with an implementation other than the one Sign
// used where this process has one (stdlib for RSA/ECDSA/Ed25519 via the
// parsed SPKI, circl for ML-DSA). secp256k1 and SM2 are checked by OpenSSL.
func independentVerify(t *testing.T, k *Key, alg string, msg, sig []byte) {
	t.Helper()
	der, _ := k.PublicKeyDER()
	switch k.spec.fam {
	case famRSA, famECDSA, famEd25519:
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			t.Fatalf("x509.ParsePKIXPublicKey: %v", err)
		}
		var ok bool
		switch p := pub.(type) {
		case *rsa.PublicKey:
			d := hashOf(alg, msg)
			if isPSS(alg) {
				ok = rsa.VerifyPSS(p, sigHash(alg), d, sig, &rsa.PSSOptions{SaltLength: sigHash(alg).Size()}) == nil
			} else {
				ok = rsa.VerifyPKCS1v15(p, sigHash(alg), d, sig) == nil
			}
		case *ecdsa.PublicKey:
			ok = ecdsa.VerifyASN1(p, hashOf(alg, msg), sig)
		case ed25519.PublicKey:
			if alg == Ed25519PHSHA512 {
				d := sha512.Sum512(msg)
				ok = ed25519.VerifyWithOptions(p, d[:], sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
			} else {
				ok = ed25519.Verify(p, msg, sig)
			}
		}
		if !ok {
			t.Fatalf("standard library rejects the signature")
		}
	case famMLDSA:
		raw := rawPublicKey(t, k)
		var ok bool
		switch k.spec.bits {
		case 44:
			var pk circldsa44.PublicKey
			ok = pk.UnmarshalBinary(raw) == nil && circldsa44.Verify(&pk, msg, nil, sig)
		case 65:
			var pk circldsa65.PublicKey
			ok = pk.UnmarshalBinary(raw) == nil && circldsa65.Verify(&pk, msg, nil, sig)
		case 87:
			var pk circldsa87.PublicKey
			ok = pk.UnmarshalBinary(raw) == nil && circldsa87.Verify(&pk, msg, nil, sig)
		}
		if !ok {
			t.Fatalf("circl rejects the ML-DSA signature")
		}
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	msg := []byte("Trent signs this message.")
	for _, tc := range signCases() {
		t.Run(fmt.Sprintf("ok/%s/%s/%s", tc.spec, tc.alg, tc.mt), func(t *testing.T) {
			t.Parallel()
			k := testKey(t, tc.spec, UsageSignVerify)
			in := signInput(t, k, tc.alg, tc.mt, msg)
			sig, err := k.Sign(rand.Reader, tc.alg, tc.mt, in)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := k.Verify(tc.alg, tc.mt, in, sig); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			independentVerify(t, k, tc.alg, msg, sig)
			// A signature over another message must fail with the empty-message exception.
			other := append([]byte(nil), in...)
			other[0] ^= 1
			wantAWS(t, k.Verify(tc.alg, tc.mt, other, sig), awserr.KMSInvalidSignature, "")
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 0x40
			wantAWS(t, k.Verify(tc.alg, tc.mt, in, bad), awserr.KMSInvalidSignature, "")
			wantAWS(t, k.Verify(tc.alg, tc.mt, in, nil), awserr.KMSInvalidSignature, "")
		})
	}
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	long := make([]byte, 4097)
	tests := []struct {
		name, spec, usage, alg, mt string
		msg                        []byte
		code, text                 string
		sentinel                   error
	}{
		{name: "fail/digest-length-ecdsa", spec: "ECC_NIST_P256", alg: ECDSASHA256, mt: MessageDigest, msg: make([]byte, 31),
			code: awserr.Validation, text: "Digest is invalid length for algorithm ECDSA_SHA_256."},
		{name: "fail/digest-length-pss", spec: "RSA_2048", alg: RSASSAPSSSHA384, mt: MessageDigest, msg: make([]byte, 32),
			code: awserr.Validation, text: "Digest is invalid length for algorithm RSASSA_PSS_SHA_384."},
		{name: "fail/digest-length-pkcs1", spec: "RSA_4096", alg: RSASSAPKCS1SHA512, mt: MessageDigest, msg: make([]byte, 48),
			code: awserr.Validation, text: "Digest is invalid length for algorithm RSASSA_PKCS1_V1_5_SHA_512."},
		{name: "fail/digest-length-ed25519ph", spec: "ECC_NIST_EDWARDS25519", alg: Ed25519PHSHA512, mt: MessageDigest, msg: make([]byte, 32),
			code: awserr.Validation, text: "Digest is invalid length for algorithm ED25519_PH_SHA_512."},
		{name: "fail/digest-length-sm2", spec: "SM2", alg: SM2DSA, mt: MessageDigest, msg: make([]byte, 33),
			code: awserr.Validation, text: "Digest is invalid length for algorithm SM2DSA."},
		{name: "fail/ed25519-digest", spec: "ECC_NIST_EDWARDS25519", alg: Ed25519SHA512, mt: MessageDigest, msg: make([]byte, 64),
			code: awserr.Validation, text: "MessageType DIGEST is not supported for signing algorithm ED25519_SHA_512."},
		{name: "fail/ed25519ph-raw", spec: "ECC_NIST_EDWARDS25519", alg: Ed25519PHSHA512, mt: MessageRaw, msg: []byte("m"),
			code: awserr.Validation, text: "MessageType RAW is not supported for signing algorithm ED25519_PH_SHA_512."},
		{name: "fail/external-mu-ecdsa", spec: "ECC_NIST_P256", alg: ECDSASHA256, mt: MessageExternalMu, msg: make([]byte, 64),
			code: awserr.Validation, text: "MessageType EXTERNAL_MU is not supported for signing algorithm ECDSA_SHA_256."},
		{name: "fail/external-mu-length", spec: "ML_DSA_44", alg: MLDSASHAKE256, mt: MessageExternalMu, msg: make([]byte, 32),
			code: awserr.Validation, text: "External mu message must be 64 bytes for algorithm ML_DSA_SHAKE_256."},
		{name: "fail/mldsa-digest", spec: "ML_DSA_44", alg: MLDSASHAKE256, mt: MessageDigest, msg: make([]byte, 64),
			code: awserr.Validation, text: "MessageType DIGEST is not supported for signing algorithm ML_DSA_SHAKE_256."},
		{name: "fail/raw-too-long", spec: "ECC_NIST_P384", alg: ECDSASHA384, mt: MessageRaw, msg: long,
			code: awserr.Validation, text: "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{name: "fail/empty", spec: "ECC_NIST_P384", alg: ECDSASHA384, mt: MessageRaw, msg: nil,
			code: awserr.Validation, text: "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{name: "fail/bad-message-type", spec: "ECC_NIST_P256", alg: ECDSASHA256, mt: "HASHED", msg: []byte("m"),
			code: awserr.Validation, text: "1 validation error detected: Value 'HASHED' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]"},
		{name: "fail/wrong-algorithm-rsa", spec: "RSA_2048", alg: ECDSASHA256, mt: MessageRaw, msg: []byte("m"),
			code: awserr.InvalidKeyUsage, text: "Algorithm ECDSA_SHA_256 is incompatible with key spec RSA_2048."},
		{name: "fail/wrong-curve-hash", spec: "ECC_NIST_P384", alg: ECDSASHA256, mt: MessageRaw, msg: []byte("m"),
			code: awserr.InvalidKeyUsage, text: "Algorithm ECDSA_SHA_256 is incompatible with key spec ECC_NIST_P384."},
		{name: "fail/encrypt-algorithm", spec: "RSA_2048", alg: RSAESOAEPSHA256, mt: MessageRaw, msg: []byte("m"),
			code: awserr.InvalidKeyUsage, text: "Algorithm RSAES_OAEP_SHA_256 is incompatible with key spec RSA_2048."},
		{name: "fail/wrong-usage", spec: "RSA_2048", usage: UsageEncryptDecrypt, alg: RSASSAPSSSHA256, mt: MessageRaw, msg: []byte("m"), sentinel: ErrKeyUsage},
		{name: "fail/agreement-key", spec: "ECC_NIST_P256", usage: UsageKeyAgreement, alg: ECDSASHA256, mt: MessageRaw, msg: []byte("m"), sentinel: ErrKeyUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			usage := tc.usage
			if usage == "" {
				usage = UsageSignVerify
			}
			k := testKey(t, tc.spec, usage)
			_, err := k.Sign(rand.Reader, tc.alg, tc.mt, tc.msg)
			verr := k.Verify(tc.alg, tc.mt, tc.msg, []byte{1})
			for _, e := range []error{err, verr} {
				if tc.sentinel != nil {
					if !errors.Is(e, tc.sentinel) {
						t.Fatalf("error = %v, want %v", e, tc.sentinel)
					}
					continue
				}
				wantAWS(t, e, tc.code, tc.text)
			}
		})
	}
}

// TestEd25519phKnownAnswer checks RFC 8032 §7.3 TEST abc.
func TestEd25519phKnownAnswer(t *testing.T) {
	t.Parallel()
	seed, _ := hex.DecodeString("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
	want := "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey("ECC_NIST_EDWARDS25519", UsageSignVerify, der)
	if err != nil {
		t.Fatal(err)
	}
	d := sha512.Sum512([]byte("abc"))
	sig, err := k.Sign(rand.Reader, Ed25519PHSHA512, MessageDigest, d[:])
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sig); got != want {
		t.Fatalf("Ed25519ph(abc) = %s, want %s", got, want)
	}
}

// TestMLDSAExternalMuMatchesPure checks that a signature made from a
// caller-computed μ verifies as a pure ML-DSA signature over the message
// in circl.
func TestMLDSAExternalMuMatchesPure(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"ML_DSA_44", "ML_DSA_65", "ML_DSA_87"} {
		t.Run("ok/"+spec, func(t *testing.T) {
			k := testKey(t, spec, UsageSignVerify)
			msg := []byte(strings.Repeat("large message ", 500))
			mu := mlDSAMu(rawPublicKey(t, k), msg)
			sig, err := k.Sign(rand.Reader, MLDSASHAKE256, MessageExternalMu, mu)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Verify(MLDSASHAKE256, MessageRaw, msg[:4096], sig); err == nil {
				t.Fatal("signature over the whole message verified for a prefix")
			}
			if err := k.Verify(MLDSASHAKE256, MessageExternalMu, mu, sig); err != nil {
				t.Fatalf("Verify EXTERNAL_MU of Trent's own signature: %v", err)
			}
			if !mldsaVerifyMu(rawPublicKey(t, k), mu, sig) {
				t.Fatal("mldsaVerifyMu rejects Trent's own signature")
			}
			independentVerify(t, k, MLDSASHAKE256, msg, sig)
		})
	}
}

// mldsaSigner is an independent ML-DSA implementation making a pure
// signature over msg with an empty context; it returns the encoded pk.
type mldsaSigner struct {
	name string
	sign func(t testing.TB, msg []byte) (pk, sig []byte)
}

// mldsaSigners lists circl and filippo.io/mldsa signers for every parameter set.
func mldsaSigners() []mldsaSigner {
	circl := func(s circlsign.Scheme) func(testing.TB, []byte) ([]byte, []byte) {
		return func(t testing.TB, msg []byte) ([]byte, []byte) {
			pk, sk, err := s.GenerateKey()
			if err != nil {
				t.Fatal(err)
			}
			pkb, _ := pk.MarshalBinary()
			return pkb, s.Sign(sk, msg, nil)
		}
	}
	filippo := func(p mldsa.Parameters) func(testing.TB, []byte) ([]byte, []byte) {
		return func(t testing.TB, msg []byte) ([]byte, []byte) {
			sk, err := mldsa.GenerateKey(p)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := sk.Sign(nil, msg, &mldsa.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return sk.PublicKey().Bytes(), sig
		}
	}
	return []mldsaSigner{
		{"circl/ML-DSA-44", circl(circldsa44.Scheme())},
		{"circl/ML-DSA-65", circl(circldsa65.Scheme())},
		{"circl/ML-DSA-87", circl(circldsa87.Scheme())},
		{"filippo/ML-DSA-44", filippo(mldsa.MLDSA44())},
		{"filippo/ML-DSA-65", filippo(mldsa.MLDSA65())},
		{"filippo/ML-DSA-87", filippo(mldsa.MLDSA87())},
	}
}

// TestMLDSAVerifyMu checks mldsaVerifyMu against signatures made by
// independent implementations, and that every alteration is rejected.
func TestMLDSAVerifyMu(t *testing.T) {
	t.Parallel()
	for _, s := range mldsaSigners() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			msg := []byte("Trent verifies this message from mu.")
			pk, sig := s.sign(t, msg)
			mu := mlDSAMu(pk, msg)
			otherPK, _ := s.sign(t, msg)
			if !mldsaVerifyMu(pk, mu, sig) {
				t.Fatal("ok/valid: signature rejected")
			}
			cases := []struct {
				name        string
				pk, mu, sig []byte
			}{
				{"fail/other-mu", pk, mlDSAMu(pk, append(msg, '!')), sig},
				{"fail/mu-of-message-without-tr", pk, sha3.SumSHAKE256(msg, 64), sig},
				{"fail/other-pk", otherPK, mu, sig},
				{"fail/short-sig", pk, mu, sig[:len(sig)-1]},
				{"fail/long-sig", pk, mu, append(append([]byte(nil), sig...), 0)},
				{"fail/short-mu", pk, mu[:63], sig},
				{"fail/short-pk", pk[:len(pk)-1], mu, sig},
				{"fail/empty", nil, nil, nil},
			}
			for _, tc := range cases {
				if mldsaVerifyMu(tc.pk, tc.mu, tc.sig) {
					t.Errorf("%s: accepted", tc.name)
				}
			}
			// Every single-bit flip anywhere in the signature is rejected.
			bad := append([]byte(nil), sig...)
			for i := range bad {
				for b := 0; b < 8; b += 3 {
					bad[i] ^= 1 << b
					if mldsaVerifyMu(pk, mu, bad) {
						t.Fatalf("fail/flip: signature with byte %d bit %d flipped accepted", i, b)
					}
					bad[i] ^= 1 << b
				}
			}
		})
	}
}

// TestMLDSAVerifyMuManySignatures checks many independent signatures per
// parameter set, so that hints and boundary coefficients of varied shape occur.
func TestMLDSAVerifyMuManySignatures(t *testing.T) {
	t.Parallel()
	for _, s := range mldsaSigners() {
		t.Run("ok/"+s.name, func(t *testing.T) {
			for i := 0; i < 25; i++ {
				msg := []byte(fmt.Sprintf("message %d", i))
				pk, sig := s.sign(t, msg)
				if !mldsaVerifyMu(pk, mlDSAMu(pk, msg), sig) {
					t.Fatalf("signature %d rejected", i)
				}
			}
		})
	}
}

// FuzzVerifyMu: mldsaVerifyMu never panics on any pk, μ or signature, and
// never accepts a signature altered from a valid one.
func FuzzVerifyMu(f *testing.F) {
	signers := mldsaSigners()[:3]
	type vec struct{ pk, mu, sig []byte }
	var vecs []vec
	for _, s := range signers {
		pk, sig := s.sign(f, []byte("fuzz"))
		vecs = append(vecs, vec{pk, mlDSAMu(pk, []byte("fuzz")), sig})
		f.Add(uint8(len(vecs)-1), uint16(0), byte(0), []byte(nil))
		f.Add(uint8(len(vecs)-1), uint16(len(sig)-1), byte(0x80), []byte{1, 2})
	}
	f.Fuzz(func(t *testing.T, which uint8, pos uint16, x byte, tail []byte) {
		v := vecs[int(which)%len(vecs)]
		sig := append([]byte(nil), v.sig...)
		sig[int(pos)%len(sig)] ^= x
		sig = append(sig, tail...)
		altered := x != 0 || len(tail) != 0
		if mldsaVerifyMu(v.pk, v.mu, sig) == altered {
			t.Fatalf("mldsaVerifyMu = %v for altered = %v", !altered, altered)
		}
		// Arbitrary bytes in every position must not panic.
		mldsaVerifyMu(v.pk, tail, sig)
		mldsaVerifyMu(tail, v.mu, sig)
		mldsaVerifyMu(v.pk, v.mu, tail)
		if len(tail) >= 64 {
			mldsaVerifyMu(v.pk, tail[:64], append(tail, sig...)[:len(v.sig)])
		}
	})
}

// BenchmarkVerifyMu measures one verification from μ per parameter set.
func BenchmarkVerifyMu(b *testing.B) {
	for _, s := range mldsaSigners()[:3] {
		pk, sig := s.sign(b, []byte("bench"))
		mu := mlDSAMu(pk, []byte("bench"))
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				if !mldsaVerifyMu(pk, mu, sig) {
					b.Fatal("rejected")
				}
			}
		})
	}
}
