package kms

import (
	"strconv"

	"github.com/trentkms/trent/internal/awserr"
)

// validator collects constraint violations and reports them the way AWS
// does: "N validation errors detected: ...; ...".
type validator struct{ v []string }

func (v *validator) add(value string, show bool, member, constraint string) {
	v.v = append(v.v, awserr.Violation(value, show, member, constraint))
}

// required checks that a member is present.
func (v *validator) required(present bool, member string) bool {
	if !present {
		v.v = append(v.v, awserr.NullViolation(member))
	}
	return present
}

// strLen checks a string member's length; absent members pass.
func (v *validator) strLen(s *string, member string, min, max int) {
	if s == nil {
		return
	}
	if n := len([]rune(*s)); n < min {
		v.add(*s, true, member, awserr.MinLength(min))
	} else if n > max {
		v.add(*s, true, member, awserr.MaxLength(max))
	}
}

// blobLen checks a binary member's length without showing its value.
func (v *validator) blobLen(b []byte, present bool, member string, min, max int) {
	if !present {
		return
	}
	if len(b) < min {
		v.add("", false, member, awserr.MinLength(min))
	} else if len(b) > max {
		v.add("", false, member, awserr.MaxLength(max))
	}
}

// intRange checks an integer member's value; absent members pass.
func (v *validator) intRange(n *int64, member string, min, max int64) {
	if n == nil {
		return
	}
	if *n < min {
		v.add(strconv.FormatInt(*n, 10), true, member, awserr.MinValue(min))
	} else if *n > max {
		v.add(strconv.FormatInt(*n, 10), true, member, awserr.MaxValue(max))
	}
}

// enum checks an enum member; absent members pass.
func (v *validator) enum(s *string, member string, values []string) {
	if s == nil {
		return
	}
	for _, x := range values {
		if *s == x {
			return
		}
	}
	v.add(*s, true, member, awserr.EnumSet(values))
}

// grantTokens checks the GrantTokens member.
func (v *validator) grantTokens(tokens []string) {
	if len(tokens) > 10 {
		v.add("["+strconv.Itoa(len(tokens))+" tokens]", false, "grantTokens", awserr.MaxLength(10))
	}
	for i, t := range tokens {
		if len(t) < 1 || len(t) > 8192 {
			v.add("", false, "grantTokens."+strconv.Itoa(i+1)+".member", awserr.MaxLength(8192))
		}
	}
}

func (v *validator) err() error {
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
