package algo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"io"

	"filippo.io/mldsa"
	"filippo.io/mldsa/mldsacrypto"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/emmansun/gmsm/sm2"

	"github.com/trentkms/trent/internal/awserr"
)

// messageTypes is the MessageType enum in AWS's order.
var messageTypes = []string{MessageRaw, MessageDigest, MessageExternalMu}

// sm2UID is the default SM2 distinguishing identifier (GM/T 0009), which
// KMS uses for SM2DSA.
var sm2UID = []byte("1234567812345678")

// sigHash returns the hash a signing algorithm applies to RAW messages and
// whose size a DIGEST must have; 0 for ML-DSA and pure Ed25519.
func sigHash(alg string) crypto.Hash {
	switch alg {
	case RSASSAPSSSHA256, RSASSAPKCS1SHA256, ECDSASHA256:
		return crypto.SHA256
	case RSASSAPSSSHA384, RSASSAPKCS1SHA384, ECDSASHA384:
		return crypto.SHA384
	case RSASSAPSSSHA512, RSASSAPKCS1SHA512, ECDSASHA512, Ed25519PHSHA512:
		return crypto.SHA512
	}
	return 0
}

// prepare checks usage, algorithm and message type, and returns what the
// primitive signs: the digest for hash-then-sign algorithms, the SM2 e value
// (SM3(Z‖M)) for SM2DSA, the message for pure Ed25519 and ML-DSA RAW, and μ
// for ML-DSA EXTERNAL_MU.
func (k *Key) prepare(alg, messageType string, msg []byte) ([]byte, error) {
	if k.usage != UsageSignVerify {
		return nil, ErrKeyUsage
	}
	if !k.spec.allows(UsageSignVerify, alg) {
		return nil, &AlgorithmError{Algorithm: alg, KeySpec: k.spec.Name}
	}
	switch messageType {
	case MessageRaw, MessageDigest, MessageExternalMu:
	default:
		return nil, awserr.ValidationError(awserr.Violation(messageType, true, "messageType", awserr.EnumSet(messageTypes)))
	}
	if len(msg) == 0 {
		return nil, errMessageEmpty("message")
	}
	if len(msg) > maxRawMessageLength {
		return nil, errMessageTooLong("message", maxRawMessageLength)
	}
	switch alg {
	case MLDSASHAKE256:
		switch messageType {
		case MessageDigest:
			return nil, errMessageType(messageType, alg)
		case MessageExternalMu:
			if len(msg) != 64 {
				return nil, errExternalMuLength()
			}
		}
		return msg, nil
	case Ed25519SHA512:
		if messageType != MessageRaw {
			return nil, errMessageType(messageType, alg)
		}
		return msg, nil
	case Ed25519PHSHA512:
		if messageType != MessageDigest {
			return nil, errMessageType(messageType, alg)
		}
		if len(msg) != 64 {
			return nil, errDigestLength(alg)
		}
		return msg, nil
	case SM2DSA:
		switch messageType {
		case MessageExternalMu:
			return nil, errMessageType(messageType, alg)
		case MessageDigest:
			if len(msg) != 32 {
				return nil, errDigestLength(alg)
			}
			return msg, nil
		}
		return sm2CalculateHash(k, msg)
	}
	h := sigHash(alg)
	switch messageType {
	case MessageExternalMu:
		return nil, errMessageType(messageType, alg)
	case MessageDigest:
		if len(msg) != h.Size() {
			return nil, errDigestLength(alg)
		}
		return msg, nil
	}
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil), nil
}

// Sign signs msg with algorithm alg (a SigningAlgorithmSpec) and message type
// RAW, DIGEST or EXTERNAL_MU, and returns the signature in the form KMS
// returns: DER (r, s) for ECDSA and SM2DSA, raw for RSA, Ed25519 and ML-DSA.
//
// Semantics per algorithm:
//   - RSASSA_PSS_*: salt length = hash length, MGF1 with the same hash.
//   - ECDSA_*: P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, secp256k1/SHA-256
//     (secp256k1 signatures are RFC 6979 deterministic and low-S).
//   - ED25519_SHA_512: pure Ed25519, RAW only; ED25519_PH_SHA_512:
//     Ed25519ph (RFC 8032) over a 64-byte SHA-512 DIGEST.
//   - SM2DSA: RAW signs SM3(Z_A‖M) with the default ID "1234567812345678";
//     DIGEST must be that 32-byte e value.
//   - ML_DSA_SHAKE_256: RAW is pure ML-DSA (FIPS 204 Algorithm 2) with an
//     empty context; EXTERNAL_MU is a caller-computed 64-byte μ.
//
// Errors: ErrKeyUsage if the key is not SIGN_VERIFY; *AlgorithmError for an
// algorithm the spec does not allow; ValidationException for a bad message
// type, an empty or >4096-byte message, or a digest of the wrong length
// ("Digest is invalid length for algorithm ECDSA_SHA_256.").
func (k *Key) Sign(rand io.Reader, alg, messageType string, msg []byte) ([]byte, error) {
	m, err := k.prepare(alg, messageType, msg)
	if err != nil {
		return nil, err
	}
	switch k.spec.fam {
	case famRSA:
		if isPSS(alg) {
			return rsa.SignPSS(rand, k.rsa, sigHash(alg), m, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand, k.rsa, sigHash(alg), m)
	case famECDSA:
		return ecdsa.SignASN1(rand, k.ec, m)
	case famSecp256k1:
		return secpecdsa.Sign(k.k1, m).Serialize(), nil
	case famEd25519:
		if alg == Ed25519PHSHA512 {
			return k.ed.Sign(nil, m, &ed25519.Options{Hash: crypto.SHA512})
		}
		return ed25519.Sign(k.ed, m), nil
	case famSM2:
		return sm2.SignASN1(rand, k.sm2, m, nil)
	case famMLDSA:
		// Hedged signing with the module's own randomness (FIPS 204 §3.4);
		// rand is not used, as for RSA and ECDSA in Go's standard library.
		if messageType == MessageExternalMu {
			return k.dsa.Sign(nil, m, mldsacrypto.MLDSAMu)
		}
		return k.dsa.Sign(nil, m, nil)
	}
	return nil, ErrKeyUsage
}

func isPSS(alg string) bool {
	return alg == RSASSAPSSSHA256 || alg == RSASSAPSSSHA384 || alg == RSASSAPSSSHA512
}

// Verify checks sig over msg as Sign would have produced it. It returns nil
// for a valid signature and a KMSInvalidSignatureException with an empty
// message for any invalid one (never "false"); the other errors are those of
// Sign. ECDSA and SM2 signatures must be DER; high-S ECDSA signatures are
// accepted, as KMS does not normalise S. ML-DSA EXTERNAL_MU signatures are
// verified from the caller's μ (FIPS 204 Algorithm 8, see mldsaVerifyMu).
func (k *Key) Verify(alg, messageType string, msg, sig []byte) error {
	m, err := k.prepare(alg, messageType, msg)
	if err != nil {
		return err
	}
	ok := false
	switch k.spec.fam {
	case famRSA:
		if isPSS(alg) {
			ok = rsa.VerifyPSS(&k.rsa.PublicKey, sigHash(alg), m, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(&k.rsa.PublicKey, sigHash(alg), m, sig) == nil
		}
	case famECDSA:
		ok = ecdsa.VerifyASN1(&k.ec.PublicKey, m, sig)
	case famSecp256k1:
		ok = verifySecp256k1(k.k1.PubKey(), m, sig)
	case famEd25519:
		pub := k.ed.Public().(ed25519.PublicKey)
		if alg == Ed25519PHSHA512 {
			ok = ed25519.VerifyWithOptions(pub, m, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
		} else {
			ok = ed25519.Verify(pub, m, sig)
		}
	case famSM2:
		ok = sm2.VerifyASN1(&k.sm2.PublicKey, m, sig)
	case famMLDSA:
		if messageType == MessageExternalMu {
			ok = mldsaVerifyMu(k.dsa.PublicKey().Bytes(), m, sig)
		} else {
			ok = mldsa.Verify(k.dsa.PublicKey(), m, sig, nil) == nil
		}
	}
	if !ok {
		return errInvalidSignature
	}
	return nil
}

// verifySecp256k1 parses a strict DER (r, s) signature, accepting high S.
func verifySecp256k1(pub *secp256k1.PublicKey, hash, sig []byte) bool {
	var rs ecdsaSig
	rest, err := asn1.Unmarshal(sig, &rs)
	if err != nil || len(rest) != 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
		return false
	}
	if rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return false
	}
	var r, s secp256k1.ModNScalar
	if r.SetByteSlice(rs.R.FillBytes(make([]byte, 32))) || s.SetByteSlice(rs.S.FillBytes(make([]byte, 32))) {
		return false
	}
	return secpecdsa.NewSignature(&r, &s).Verify(hash, pub)
}

// sm2CalculateHash returns e = SM3(Z_A ‖ msg) for the key's public key and
// the default ID: what a caller sends as an SM2DSA DIGEST.
func sm2CalculateHash(k *Key, msg []byte) ([]byte, error) {
	return sm2.CalculateSM2Hash(&k.sm2.PublicKey, msg, sm2UID)
}
