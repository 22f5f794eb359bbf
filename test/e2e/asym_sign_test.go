package e2e

// Issue 3, part 2: Sign and Verify for every SIGN_VERIFY KeySpec with every
// SigningAlgorithmSpec and MessageType, checked against independent
// verifiers: Go's standard library (RSA, ECDSA, Ed25519), circl (ML-DSA)
// and the openssl command line tool (secp256k1).

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/trentkms/trent/internal/testenv"
)

// sigHash is the hash a hash-then-sign algorithm uses (0 for the others).
func sigHash(alg types.SigningAlgorithmSpec) crypto.Hash {
	s := string(alg)
	switch {
	case strings.HasSuffix(s, "_SHA_256"):
		return crypto.SHA256
	case strings.HasSuffix(s, "_SHA_384"):
		return crypto.SHA384
	case strings.HasSuffix(s, "_SHA_512") && !strings.HasPrefix(s, "ED25519"):
		return crypto.SHA512
	}
	return 0
}

func digest(h crypto.Hash, msg []byte) []byte {
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

// signOutcome is what Trent must answer for (spec, alg, message type): ""
// for success, else the exception and message.
func signOutcome(spec types.KeySpec, alg types.SigningAlgorithmSpec, mt types.MessageType) (code, msg string) {
	allowed := slices.Contains(wantAlgs(spec, types.KeyUsageTypeSignVerify).Sign, string(alg))
	if !allowed {
		return "InvalidKeyUsageException", fmt.Sprintf("Algorithm %s is incompatible with key spec %s.", alg, spec)
	}
	badType := fmt.Sprintf("MessageType %s is not supported for signing algorithm %s.", mt, alg)
	switch alg {
	case types.SigningAlgorithmSpecMlDsaShake256:
		if mt == types.MessageTypeDigest {
			return "ValidationException", badType
		}
	case types.SigningAlgorithmSpecEd25519Sha512:
		if mt != types.MessageTypeRaw {
			return "ValidationException", badType
		}
	case types.SigningAlgorithmSpecEd25519PhSha512:
		if mt != types.MessageTypeDigest {
			return "ValidationException", badType
		}
	default:
		if mt == types.MessageTypeExternalMu {
			return "ValidationException", badType
		}
	}
	return "", ""
}

// signMessage is the Message a caller sends for mt: the message itself,
// its digest, or the ML-DSA external μ for public key pub.
func signMessage(t testing.TB, spec types.KeySpec, alg types.SigningAlgorithmSpec, mt types.MessageType, msg, pubDER []byte) []byte {
	switch mt {
	case types.MessageTypeDigest:
		if alg == types.SigningAlgorithmSpecEd25519PhSha512 {
			d := sha512.Sum512(msg)
			return d[:]
		}
		if h := sigHash(alg); h != 0 {
			return digest(h, msg)
		}
		return make([]byte, 32) // a length the algorithm accepts; refused before use
	case types.MessageTypeExternalMu:
		if strings.HasPrefix(string(spec), "ML_DSA_") {
			return externalMu(parseSPKI(t, pubDER).PublicKey.Bytes, msg)
		}
		return make([]byte, 64)
	}
	return msg
}

// externalMu is FIPS 204's μ for an empty context:
// SHAKE256(SHAKE256(pk, 64) ‖ 0x00 ‖ 0x00 ‖ M, 64).
func externalMu(pk, msg []byte) []byte {
	tr := make([]byte, 64)
	h := sha3.NewSHAKE256()
	h.Write(pk)
	h.Read(tr)
	h = sha3.NewSHAKE256()
	h.Write(tr)
	h.Write([]byte{0, 0})
	h.Write(msg)
	mu := make([]byte, 64)
	h.Read(mu)
	return mu
}

// verifyLocally checks sig, which Trent made over msg (the original message,
// whatever the MessageType), with an implementation other than Trent's.
func verifyLocally(t testing.TB, spec types.KeySpec, alg types.SigningAlgorithmSpec, pubDER, msg, sig []byte) {
	t.Helper()
	pub := checkPublicKey(t, spec, pubDER)
	h := sigHash(alg)
	var err error
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(string(alg), "RSASSA_PSS") {
			err = rsa.VerifyPSS(p, h, digest(h, msg), sig, &rsa.PSSOptions{SaltLength: h.Size(), Hash: h})
		} else {
			err = rsa.VerifyPKCS1v15(p, h, digest(h, msg), sig)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(p, digest(h, msg), sig) {
			err = fmt.Errorf("ecdsa.VerifyASN1 failed")
		}
	case ed25519.PublicKey:
		if alg == types.SigningAlgorithmSpecEd25519PhSha512 {
			d := sha512.Sum512(msg)
			err = ed25519.VerifyWithOptions(p, d[:], sig, &ed25519.Options{Hash: crypto.SHA512})
		} else if !ed25519.Verify(p, msg, sig) {
			err = fmt.Errorf("ed25519.Verify failed")
		}
	case []byte:
		switch spec {
		case types.KeySpecEccSecgP256k1:
			if !hasOpenSSL() {
				testenv.Missing(t, testenv.OpenSSL, "openssl not installed")
			}
			dir := t.TempDir()
			writeFile(t, dir, "pub.der", pubDER)
			writeFile(t, dir, "sig.bin", sig)
			writeFile(t, dir, "digest.bin", digest(crypto.SHA256, msg))
			out := openssl(t, dir, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der",
				"-in", "digest.bin", "-sigfile", "sig.bin")
			if !strings.Contains(string(out), "Signature Verified Successfully") {
				err = fmt.Errorf("openssl: %s", out)
			}
		case types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87:
			err = verifyMLDSA(spec, p, msg, sig)
		default:
			t.Fatalf("no local verifier for %s", spec)
		}
	}
	if err != nil {
		t.Fatalf("local verification of Trent's %s signature: %v", alg, err)
	}
}

// verifyMLDSA verifies a pure ML-DSA signature with an empty context using
// circl.
func verifyMLDSA(spec types.KeySpec, pk, msg, sig []byte) error {
	ok := false
	switch spec {
	case types.KeySpecMlDsa44:
		var p mldsa44.PublicKey
		if err := p.UnmarshalBinary(pk); err != nil {
			return err
		}
		ok = mldsa44.Verify(&p, msg, nil, sig)
	case types.KeySpecMlDsa65:
		var p mldsa65.PublicKey
		if err := p.UnmarshalBinary(pk); err != nil {
			return err
		}
		ok = mldsa65.Verify(&p, msg, nil, sig)
	case types.KeySpecMlDsa87:
		var p mldsa87.PublicKey
		if err := p.UnmarshalBinary(pk); err != nil {
			return err
		}
		ok = mldsa87.Verify(&p, msg, nil, sig)
	}
	if !ok {
		return fmt.Errorf("circl %s Verify failed", spec)
	}
	return nil
}

// signSpecs are the SIGN_VERIFY specs served without SM2.
var signSpecs = []types.KeySpec{
	types.KeySpecRsa2048, types.KeySpecRsa3072, types.KeySpecRsa4096,
	types.KeySpecEccNistP256, types.KeySpecEccNistP384, types.KeySpecEccNistP521, types.KeySpecEccSecgP256k1,
	types.KeySpecEccNistEdwards25519, types.KeySpecMlDsa44, types.KeySpecMlDsa65, types.KeySpecMlDsa87,
}

// mldsaSigSize is the ML-DSA signature size per parameter set.
var mldsaSigSize = map[types.KeySpec]int{types.KeySpecMlDsa44: 2420, types.KeySpecMlDsa65: 3309, types.KeySpecMlDsa87: 4627}

// TestAsymSignVerify runs Sign and Verify for every SIGN_VERIFY spec, every
// SigningAlgorithmSpec and every MessageType.
func TestAsymSignVerify(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	for _, spec := range signSpecs {
		t.Run(string(spec), func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, spec, types.KeyUsageTypeSignVerify)
			pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
			if err != nil {
				t.Fatalf("GetPublicKey: %v", err)
			}
			for _, alg := range types.SigningAlgorithmSpec("").Values() {
				for _, mt := range types.MessageType("").Values() {
					code, emsg := signOutcome(spec, alg, mt)
					name := "ok/"
					if code != "" {
						name = "fail/"
					}
					t.Run(name+string(alg)+"/"+string(mt), func(t *testing.T) {
						t.Parallel()
						msg := randBytes(t, 200)
						in := signMessage(t, spec, alg, mt, msg, pk.PublicKey)
						out, err := pool.c.Sign(ctxT(t), &kms.SignInput{KeyId: m.KeyId, Message: in, MessageType: mt, SigningAlgorithm: alg})
						if code != "" {
							wantAPIError(t, err, code, emsg)
							_, err = pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: in, MessageType: mt,
								SigningAlgorithm: alg, Signature: make([]byte, 64)})
							wantAPIError(t, err, code, emsg)
							return
						}
						if err != nil {
							t.Fatalf("Sign: %v", err)
						}
						if *out.KeyId != *m.Arn || out.SigningAlgorithm != alg {
							t.Errorf("Sign KeyId, SigningAlgorithm = %s, %s", *out.KeyId, out.SigningAlgorithm)
						}
						if n := mldsaSigSize[spec]; n != 0 && len(out.Signature) != n {
							t.Errorf("ML-DSA signature is %d bytes, want %d", len(out.Signature), n)
						}
						verifyLocally(t, spec, alg, pk.PublicKey, msg, out.Signature)
						if mt == types.MessageTypeExternalMu {
							// A signature from μ is a pure ML-DSA signature over the
							// message; below it is also verified from μ.
							if _, err := pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: msg,
								MessageType: types.MessageTypeRaw, SigningAlgorithm: alg, Signature: out.Signature}); err != nil {
								t.Fatalf("Verify RAW of an EXTERNAL_MU signature: %v", err)
							}
						}
						v, err := pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: in, MessageType: mt,
							SigningAlgorithm: alg, Signature: out.Signature})
						if err != nil {
							t.Fatalf("Verify of Trent's own signature: %v", err)
						}
						if !v.SignatureValid || *v.KeyId != *m.Arn || v.SigningAlgorithm != alg {
							t.Fatalf("Verify = %v, %s, %s", v.SignatureValid, *v.KeyId, v.SigningAlgorithm)
						}
						// A signature over the digest is one over the message.
						if mt == types.MessageTypeDigest && sigHash(alg) != 0 {
							if _, err := pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: msg,
								MessageType: types.MessageTypeRaw, SigningAlgorithm: alg, Signature: out.Signature}); err != nil {
								t.Fatalf("Verify RAW of a DIGEST signature: %v", err)
							}
						}
						bad := append([]byte(nil), out.Signature...)
						bad[len(bad)/2] ^= 0x01
						_, err = pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: in, MessageType: mt,
							SigningAlgorithm: alg, Signature: bad})
						wantAPIError(t, err, "KMSInvalidSignatureException", "")
						other := append([]byte(nil), in...)
						other[0] ^= 0x80
						_, err = pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: other, MessageType: mt,
							SigningAlgorithm: alg, Signature: out.Signature})
						wantAPIError(t, err, "KMSInvalidSignatureException", "")
					})
				}
			}
		})
	}
}

// TestAsymSignMessageErrors pins the digest-length rule and the other
// message checks of Sign and Verify.
func TestAsymSignMessageErrors(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	cases := []struct {
		name string
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
		mt   types.MessageType
		msg  []byte
		code string
		want string
	}{
		{"fail/RSA_2048 PSS_SHA_256 digest 31", types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, types.MessageTypeDigest, make([]byte, 31),
			"ValidationException", "Digest is invalid length for algorithm RSASSA_PSS_SHA_256."},
		{"fail/RSA_2048 PSS_SHA_384 digest 32", types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha384, types.MessageTypeDigest, make([]byte, 32),
			"ValidationException", "Digest is invalid length for algorithm RSASSA_PSS_SHA_384."},
		{"fail/RSA_4096 PKCS1_SHA_512 digest 32", types.KeySpecRsa4096, types.SigningAlgorithmSpecRsassaPkcs1V15Sha512, types.MessageTypeDigest, make([]byte, 32),
			"ValidationException", "Digest is invalid length for algorithm RSASSA_PKCS1_V1_5_SHA_512."},
		{"fail/P256 digest 33", types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, make([]byte, 33),
			"ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256."},
		{"fail/P384 digest 32", types.KeySpecEccNistP384, types.SigningAlgorithmSpecEcdsaSha384, types.MessageTypeDigest, make([]byte, 32),
			"ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_384."},
		{"fail/P521 digest 48", types.KeySpecEccNistP521, types.SigningAlgorithmSpecEcdsaSha512, types.MessageTypeDigest, make([]byte, 48),
			"ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_512."},
		{"fail/secp256k1 digest 64", types.KeySpecEccSecgP256k1, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeDigest, make([]byte, 64),
			"ValidationException", "Digest is invalid length for algorithm ECDSA_SHA_256."},
		{"fail/Ed25519ph digest 32", types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519PhSha512, types.MessageTypeDigest, make([]byte, 32),
			"ValidationException", "Digest is invalid length for algorithm ED25519_PH_SHA_512."},
		{"fail/ML-DSA external mu 32", types.KeySpecMlDsa44, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeExternalMu, make([]byte, 32),
			"ValidationException", "External mu message must be 64 bytes for algorithm ML_DSA_SHAKE_256."},
		{"fail/message 4097", types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, make([]byte, 4097),
			"ValidationException", "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"fail/unknown message type", types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, "PREHASHED", []byte("m"),
			"ValidationException", "1 validation error detected: Value 'PREHASHED' at 'messageType' failed to satisfy constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]"},
		{"ok/message 4096", types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, types.MessageTypeRaw, make([]byte, 4096), "", ""},
		{"ok/ML-DSA RAW 4096", types.KeySpecMlDsa87, types.SigningAlgorithmSpecMlDsaShake256, types.MessageTypeRaw, make([]byte, 4096), "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, tc.spec, types.KeyUsageTypeSignVerify)
			out, err := pool.c.Sign(ctxT(t), &kms.SignInput{KeyId: m.KeyId, Message: tc.msg, MessageType: tc.mt, SigningAlgorithm: tc.alg})
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				pk, err := pool.c.GetPublicKey(ctxT(t), &kms.GetPublicKeyInput{KeyId: m.KeyId})
				if err != nil {
					t.Fatal(err)
				}
				verifyLocally(t, tc.spec, tc.alg, pk.PublicKey, tc.msg, out.Signature)
				return
			}
			wantAPIError(t, err, tc.code, tc.want)
			_, err = pool.c.Verify(ctxT(t), &kms.VerifyInput{KeyId: m.KeyId, Message: tc.msg, MessageType: tc.mt,
				SigningAlgorithm: tc.alg, Signature: make([]byte, 64)})
			wantAPIError(t, err, tc.code, tc.want)
		})
	}
}

// TestAsymSignDeterminism: secp256k1 signatures are deterministic (RFC
// 6979), the others randomized; all verify.
func TestAsymSignDeterminism(t *testing.T) {
	t.Parallel()
	pool := sharedPool()
	msg := sha256.Sum256([]byte("determinism"))
	cases := []struct {
		name string
		spec types.KeySpec
		alg  types.SigningAlgorithmSpec
		same bool
	}{
		{"ok/secp256k1 deterministic", types.KeySpecEccSecgP256k1, types.SigningAlgorithmSpecEcdsaSha256, true},
		{"ok/P256 randomized", types.KeySpecEccNistP256, types.SigningAlgorithmSpecEcdsaSha256, false},
		{"ok/PSS randomized", types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPssSha256, false},
		{"ok/PKCS1 deterministic", types.KeySpecRsa2048, types.SigningAlgorithmSpecRsassaPkcs1V15Sha256, true},
		{"ok/Ed25519 deterministic", types.KeySpecEccNistEdwards25519, types.SigningAlgorithmSpecEd25519Sha512, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := pool.get(t, tc.spec, types.KeyUsageTypeSignVerify)
			var sigs [2][]byte
			for i := range sigs {
				out, err := pool.c.Sign(ctxT(t), &kms.SignInput{KeyId: m.KeyId, Message: msg[:], SigningAlgorithm: tc.alg})
				if err != nil {
					t.Fatal(err)
				}
				sigs[i] = out.Signature
			}
			if same := string(sigs[0]) == string(sigs[1]); same != tc.same {
				t.Fatalf("two signatures equal = %v, want %v", same, tc.same)
			}
		})
	}
}
