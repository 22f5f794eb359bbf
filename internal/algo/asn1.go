package algo

import (
	"crypto/subtle"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
)

// Object identifiers not known to crypto/x509.
var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSecp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	oidSM2Curve    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	// RFC 9881 (ML-DSA) and RFC 9935 (ML-KEM) algorithm identifiers.
	oidMLDSA44  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}
	oidMLDSA65  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	oidMLDSA87  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}
	oidMLKEM512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 1}
	oidMLKEM768 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}
	oidMLKEM1K  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}
)

type pkcs8 struct {
	Version    int
	Algo       pkix.AlgorithmIdentifier
	PrivateKey []byte
	// Attributes and the v2 public key are accepted and ignored.
	Rest asn1.RawValue `asn1:"optional"`
}

type spki struct {
	Algo      pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

type ecPrivateKey struct {
	Version    int
	PrivateKey []byte
	Curve      asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// parsePKCS8 returns the algorithm identifier of a PKCS#8 PrivateKeyInfo
// and, for id-ecPublicKey, the named curve. It rejects trailing data.
func parsePKCS8(der []byte) (p pkcs8, curve asn1.ObjectIdentifier, err error) {
	rest, err := asn1.Unmarshal(der, &p)
	if err != nil {
		return p, nil, errors.New("not a PKCS#8 PrivateKeyInfo")
	}
	if len(rest) != 0 {
		return p, nil, errors.New("trailing data after PKCS#8 PrivateKeyInfo")
	}
	if p.Algo.Algorithm.Equal(oidECPublicKey) {
		if rest, err := asn1.Unmarshal(p.Algo.Parameters.FullBytes, &curve); err != nil || len(rest) != 0 {
			return p, nil, errors.New("EC private key without a named curve")
		}
	}
	return p, curve, nil
}

// marshalSPKI encodes a SubjectPublicKeyInfo. A nil curve leaves the
// parameters absent, as RFC 9881/9935 require for ML-DSA and ML-KEM.
func marshalSPKI(alg, curve asn1.ObjectIdentifier, pub []byte) []byte {
	ai := pkix.AlgorithmIdentifier{Algorithm: alg}
	if curve != nil {
		b, _ := asn1.Marshal(curve)
		ai.Parameters = asn1.RawValue{FullBytes: b}
	}
	der, err := asn1.Marshal(spki{Algo: ai, PublicKey: asn1.BitString{Bytes: pub, BitLength: 8 * len(pub)}})
	if err != nil {
		panic("algo: marshal SPKI: " + err.Error()) // fixed shapes: cannot fail
	}
	return der
}

// parseSPKI decodes a SubjectPublicKeyInfo strictly (no trailing data, whole
// bytes in the bit string).
func parseSPKI(der []byte) (alg, curve asn1.ObjectIdentifier, pub []byte, err error) {
	var s spki
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil || len(rest) != 0 {
		return nil, nil, nil, errors.New("not a SubjectPublicKeyInfo")
	}
	if s.PublicKey.BitLength != 8*len(s.PublicKey.Bytes) {
		return nil, nil, nil, errors.New("public key bit string has unused bits")
	}
	if len(s.Algo.Parameters.FullBytes) != 0 {
		if rest, err := asn1.Unmarshal(s.Algo.Parameters.FullBytes, &curve); err != nil || len(rest) != 0 {
			return nil, nil, nil, errors.New("unexpected algorithm parameters")
		}
	}
	return s.Algo.Algorithm, curve, s.PublicKey.Bytes, nil
}

// marshalECPKCS8 encodes an EC private key (SEC 1 ECPrivateKey inside
// PKCS#8, curve in the algorithm parameters, public key included) the way
// crypto/x509 does for NIST curves.
func marshalECPKCS8(curve asn1.ObjectIdentifier, d, pubUncompressed []byte) []byte {
	inner, err := asn1.Marshal(ecPrivateKey{Version: 1, PrivateKey: d,
		PublicKey: asn1.BitString{Bytes: pubUncompressed, BitLength: 8 * len(pubUncompressed)}})
	if err != nil {
		panic("algo: marshal ECPrivateKey: " + err.Error())
	}
	return marshalPKCS8(oidECPublicKey, curve, inner)
}

func marshalPKCS8(alg, curve asn1.ObjectIdentifier, inner []byte) []byte {
	ai := pkix.AlgorithmIdentifier{Algorithm: alg}
	if curve != nil {
		b, _ := asn1.Marshal(curve)
		ai.Parameters = asn1.RawValue{FullBytes: b}
	}
	der, err := asn1.Marshal(struct {
		Version    int
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}{0, ai, inner})
	if err != nil {
		panic("algo: marshal PKCS#8: " + err.Error())
	}
	return der
}

// marshalSeedPKCS8 encodes a post-quantum private key in the seed-only form
// of RFC 9881/9935: privateKey = [0] IMPLICIT OCTET STRING (seed).
func marshalSeedPKCS8(alg asn1.ObjectIdentifier, seed []byte) []byte {
	inner := append([]byte{0x80, byte(len(seed))}, seed...)
	return marshalPKCS8(alg, nil, inner)
}

// parseSeedKey extracts the seed from the privateKey octets of an ML-DSA or
// ML-KEM PKCS#8 key. It accepts the seed-only form and the "both" form
// (SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING }); for the latter
// it returns the expanded key so the caller can check it against the seed.
// The expanded-only form is rejected: every implementation used here needs
// the seed.
func parseSeedKey(octets []byte, seedLen int) (seed, expanded []byte, err error) {
	if len(octets) == 0 {
		return nil, nil, errors.New("empty private key")
	}
	switch octets[0] {
	case 0x80:
		if len(octets) != 2+seedLen || octets[1] != byte(seedLen) {
			return nil, nil, errors.New("seed has the wrong length")
		}
		return octets[2:], nil, nil
	case 0x30:
		var both struct {
			Seed     []byte
			Expanded []byte
		}
		rest, err := asn1.Unmarshal(octets, &both)
		if err != nil || len(rest) != 0 || len(both.Seed) != seedLen {
			return nil, nil, errors.New("malformed seed-and-expanded private key")
		}
		return both.Seed, both.Expanded, nil
	case 0x04:
		return nil, nil, errors.New("expanded-only private keys are not supported; supply the seed form")
	}
	return nil, nil, errors.New("unknown private key form")
}

// sameBytes compares secret material in constant time.
func sameBytes(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// ecdsaSig is the DER form of an ECDSA or SM2 signature.
type ecdsaSig struct{ R, S *big.Int }

func asnUnmarshal(b []byte, v any) ([]byte, error) { return asn1.Unmarshal(b, v) }
