package kms

import (
	"crypto/fips140"

	"github.com/trentkms/trent/internal/awserr"
)

// # FIPS mode
//
// A node runs in FIPS mode when Go's FIPS 140-3 module is enabled
// (GODEBUG=fips140=on or only; crypto/fips140.Enabled). It then serves only
// what the module implements and approves: key specs whose cryptography
// Trent performs outside the module (secp256k1 with decred's code, SM2
// with gmsm, ML-DSA with filippo.io/mldsa, ML-KEM-512 with circl) and
// algorithms built on SHA-1 are refused with UnsupportedOperationException:
// at CreateKey, GenerateDataKeyPair and GetParametersForImport, and at
// every cryptographic use of an existing key of such a spec (its metadata
// and its deletion are still served). docs/fips.md has the list.

// FIPSMode reports whether this process runs Go's FIPS 140-3 module.
func FIPSMode() bool { return fipsMode }

var fipsMode = fips140.Enabled()

// fipsUnapproved lists the key specs (and data key pair specs, and
// wrapping key specs) that have no approved implementation in Trent.
var fipsUnapproved = map[string]bool{
	"ECC_SECG_P256K1": true, "SM2": true,
	"ML_DSA_44": true, "ML_DSA_65": true, "ML_DSA_87": true,
	"ML_KEM_512": true,
}

// fipsUnapprovedAlgorithms lists the algorithms (encryption, wrapping)
// that use SHA-1 or PKCS #1 v1.5 encryption, which the module refuses.
// SM2PKE needs no entry: SM2 keys and wrapping keys are refused by spec.
var fipsUnapprovedAlgorithms = map[string]bool{
	"RSAES_OAEP_SHA_1": true, "RSA_AES_KEY_WRAP_SHA_1": true, "RSAES_PKCS1_V1_5": true,
}

// FIPSSpecError returns UnsupportedOperationException for a new key (or
// data key pair, or wrapping key) of spec in FIPS mode when spec has no
// approved implementation; member names the request member
// ("KeySpec", "KeyPairSpec", "WrappingKeySpec"). It returns nil otherwise.
func FIPSSpecError(member, spec string) error {
	if fipsMode && fipsUnapproved[spec] {
		return awserr.Newf(awserr.UnsupportedOperation, "%s %s is not available in FIPS mode: it has no FIPS 140-3 approved implementation in this server.", member, spec)
	}
	return nil
}

// FIPSAlgorithmError returns UnsupportedOperationException for algorithm
// alg (the request member named member) in FIPS mode when alg is not
// approved, and nil otherwise.
func FIPSAlgorithmError(member, alg string) error {
	if fipsMode && fipsUnapprovedAlgorithms[alg] {
		return awserr.Newf(awserr.UnsupportedOperation, "%s %s is not available in FIPS mode: it has no FIPS 140-3 approved implementation in this server.", member, alg)
	}
	return nil
}

// fipsKeyError refuses the cryptographic use of an existing key whose spec
// has no approved implementation, in FIPS mode.
func fipsKeyError(lk *Key) error {
	if fipsMode && fipsUnapproved[lk.doc.Spec] {
		return awserr.Newf(awserr.UnsupportedOperation, "%s has key spec %s, which is not available in FIPS mode: it has no FIPS 140-3 approved implementation in this server.", lk.arn, lk.doc.Spec)
	}
	return nil
}
