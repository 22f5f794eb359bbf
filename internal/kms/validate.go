package kms

import (
	"strconv"

	"github.com/trentkms/trent/internal/awserr"
)

// Validator collects the constraint violations of a request and reports
// them the way AWS does: "N validation errors detected: ...; ..." (Err).
// Its zero value is ready.
type Validator struct{ v []string }

// Add records a violation of constraint by member; value is shown in the
// message only if show is set (never for secrets and blobs).
func (v *Validator) Add(value string, show bool, member, constraint string) {
	v.v = append(v.v, awserr.Violation(value, show, member, constraint))
}

// Required checks that a member is present.
func (v *Validator) Required(present bool, member string) bool {
	if !present {
		v.v = append(v.v, awserr.NullViolation(member))
	}
	return present
}

// StrLen checks a string member's length; absent members pass.
func (v *Validator) StrLen(s *string, member string, min, max int) {
	if s == nil {
		return
	}
	if n := len([]rune(*s)); n < min {
		v.Add(*s, true, member, awserr.MinLength(min))
	} else if n > max {
		v.Add(*s, true, member, awserr.MaxLength(max))
	}
}

// BlobLen checks a binary member's length without showing its value.
func (v *Validator) BlobLen(b []byte, present bool, member string, min, max int) {
	if !present {
		return
	}
	if len(b) < min {
		v.Add("", false, member, awserr.MinLength(min))
	} else if len(b) > max {
		v.Add("", false, member, awserr.MaxLength(max))
	}
}

// IntRange checks an integer member's value; absent members pass.
func (v *Validator) IntRange(n *int64, member string, min, max int64) {
	if n == nil {
		return
	}
	if *n < min {
		v.Add(strconv.FormatInt(*n, 10), true, member, awserr.MinValue(min))
	} else if *n > max {
		v.Add(strconv.FormatInt(*n, 10), true, member, awserr.MaxValue(max))
	}
}

// Enum checks an enum member; absent members pass.
func (v *Validator) Enum(s *string, member string, values []string) {
	if s == nil {
		return
	}
	for _, x := range values {
		if *s == x {
			return
		}
	}
	v.Add(*s, true, member, awserr.EnumSet(values))
}

// GrantTokens checks the GrantTokens member.
func (v *Validator) GrantTokens(tokens []string) {
	if len(tokens) > 10 {
		v.Add("["+strconv.Itoa(len(tokens))+" tokens]", false, "grantTokens", awserr.MaxLength(10))
	}
	for i, t := range tokens {
		if len(t) < 1 || len(t) > 8192 {
			v.Add("", false, "grantTokens."+strconv.Itoa(i+1)+".member", awserr.MaxLength(8192))
		}
	}
}

// Pattern checks an optional string member against a length range and a
// character rule named by its AWS pattern.
func (v *Validator) Pattern(s *string, member string, min, max int, ok func(string) bool, pat string) {
	if s == nil {
		return
	}
	before := len(v.v)
	v.StrLen(s, member, min, max)
	if len(v.v) == before && !ok(*s) {
		v.Add(*s, true, member, awserr.Pattern(pat))
	}
}

// Err returns the ValidationException of the violations found, or nil.
func (v *Validator) Err() error {
	if len(v.v) == 0 {
		return nil
	}
	return awserr.ValidationError(v.v...)
}

// Enum value sets, in AWS's order as its validation messages list them.
var (
	enumKeySpec = []string{"RSA_2048", "ECC_NIST_P384", "ECC_NIST_P256", "ECC_NIST_P521", "HMAC_384", "RSA_3072",
		"ECC_SECG_P256K1", "RSA_4096", "SYMMETRIC_DEFAULT", "HMAC_256", "HMAC_224", "HMAC_512", "SM2",
		"ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}
	enumCMKSpec = []string{"RSA_2048", "ECC_NIST_P384", "ECC_NIST_P256", "ECC_NIST_P521", "HMAC_384", "RSA_3072",
		"ECC_SECG_P256K1", "RSA_4096", "SYMMETRIC_DEFAULT", "HMAC_256", "HMAC_224", "HMAC_512", "SM2"}
	enumKeyUsage  = []string{"ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE"}
	enumOrigin    = []string{"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}
	enumDataKey   = []string{"AES_256", "AES_128"}
	enumEncAlg    = []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}
	enumDryRunMod = []string{"IGNORE_CIPHERTEXT"}
	enumIncludeKM = []string{"ALL_KEY_MATERIAL", "ROTATIONS_ONLY"}
)

// Enum value sets of the asymmetric, HMAC, key-agreement and post-quantum
// operations.
var (
	enumSigningAlg = []string{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
		"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512", "SM2DSA", "ML_DSA_SHAKE_256",
		"ED25519_SHA_512", "ED25519_PH_SHA_512"}
	enumMessageType = []string{"RAW", "DIGEST", "EXTERNAL_MU"}
	enumMacAlg      = []string{"HMAC_SHA_384", "HMAC_SHA_256", "HMAC_SHA_224", "HMAC_SHA_512"}
	enumAgreeAlg    = []string{"ECDH"}
	enumEncapAlg    = []string{"ML_KEM"}
	enumKeyPairSpec = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}
)
