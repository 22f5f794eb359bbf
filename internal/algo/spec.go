package algo

import (
	"crypto"
	"fmt"

	"github.com/trentkms/trent/internal/awserr"
)

// KeyUsage values as AWS spells them.
const (
	UsageEncryptDecrypt         = "ENCRYPT_DECRYPT"
	UsageSignVerify             = "SIGN_VERIFY"
	UsageGenerateVerifyMAC      = "GENERATE_VERIFY_MAC"
	UsageKeyAgreement           = "KEY_AGREEMENT"
	UsageEncapsulateDecapsulate = "ENCAPSULATE_DECAPSULATE"
)

// MessageType values for Sign and Verify.
const (
	MessageRaw        = "RAW"
	MessageDigest     = "DIGEST"
	MessageExternalMu = "EXTERNAL_MU"
)

// Algorithm names as AWS spells them.
const (
	RSAESOAEPSHA1       = "RSAES_OAEP_SHA_1"
	RSAESOAEPSHA256     = "RSAES_OAEP_SHA_256"
	SM2PKE              = "SM2PKE"
	SymmetricDefault    = "SYMMETRIC_DEFAULT"
	RSASSAPSSSHA256     = "RSASSA_PSS_SHA_256"
	RSASSAPSSSHA384     = "RSASSA_PSS_SHA_384"
	RSASSAPSSSHA512     = "RSASSA_PSS_SHA_512"
	RSASSAPKCS1SHA256   = "RSASSA_PKCS1_V1_5_SHA_256"
	RSASSAPKCS1SHA384   = "RSASSA_PKCS1_V1_5_SHA_384"
	RSASSAPKCS1SHA512   = "RSASSA_PKCS1_V1_5_SHA_512"
	ECDSASHA256         = "ECDSA_SHA_256"
	ECDSASHA384         = "ECDSA_SHA_384"
	ECDSASHA512         = "ECDSA_SHA_512"
	SM2DSA              = "SM2DSA"
	MLDSASHAKE256       = "ML_DSA_SHAKE_256"
	Ed25519SHA512       = "ED25519_SHA_512"
	Ed25519PHSHA512     = "ED25519_PH_SHA_512"
	HMACSHA224          = "HMAC_SHA_224"
	HMACSHA256          = "HMAC_SHA_256"
	HMACSHA384          = "HMAC_SHA_384"
	HMACSHA512          = "HMAC_SHA_512"
	ECDH                = "ECDH"
	MLKEM               = "ML_KEM"
	maxRawMessageLength = 4096
)

// family groups key specs that share one implementation.
type family int

const (
	famSymmetric family = iota
	famRSA
	famECDSA // NIST curves, crypto/ecdsa and crypto/ecdh
	famSecp256k1
	famEd25519
	famSM2
	famMLDSA
	famMLKEM
	famHMAC
)

// Spec describes one KeySpec: which usages it allows and, per usage, the
// algorithms KMS lists in KeyMetadata and GetPublicKey, in AWS's order.
// Specs are immutable; callers must not modify the slices.
type Spec struct {
	// Name is the KeySpec enum value, e.g. "ECC_NIST_P256".
	Name string
	// Usages lists the KeyUsage values the spec allows.
	Usages []string
	// DataKeyPair reports whether the spec is also a DataKeyPairSpec.
	DataKeyPair bool

	fam       family
	bits      int         // RSA modulus size; HMAC key size in bits
	hash      crypto.Hash // ECDSA digest; HMAC hash
	hmacRange [2]int      // accepted HMAC key lengths in bytes, inclusive
	algs      map[string]Algorithms
}

// Algorithms are the algorithm lists of a key with a given spec and usage.
// Exactly the lists that apply are non-nil.
type Algorithms struct {
	Encryption    []string
	Signing       []string
	MAC           []string
	KeyAgreement  []string
	Encapsulation []string
}

// all returns every algorithm in a.
func (a Algorithms) all() []string {
	var out []string
	for _, l := range [][]string{a.Encryption, a.Signing, a.MAC, a.KeyAgreement, a.Encapsulation} {
		out = append(out, l...)
	}
	return out
}

var (
	rsaEnc  = Algorithms{Encryption: []string{RSAESOAEPSHA1, RSAESOAEPSHA256}}
	rsaSign = Algorithms{Signing: []string{
		RSASSAPKCS1SHA256, RSASSAPKCS1SHA384, RSASSAPKCS1SHA512,
		RSASSAPSSSHA256, RSASSAPSSSHA384, RSASSAPSSSHA512,
	}}
	agree = Algorithms{KeyAgreement: []string{ECDH}}
)

func ecdsaAlgs(alg string, withAgreement bool) map[string]Algorithms {
	m := map[string]Algorithms{UsageSignVerify: {Signing: []string{alg}}}
	if withAgreement {
		m[UsageKeyAgreement] = agree
	}
	return m
}

// KeySpecs lists every KeySpec in the order of the aws-sdk-go-v2 KeySpec enum.
var KeySpecs = []string{
	"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
	"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512",
	"SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519",
	"ML_KEM_512", "ML_KEM_768", "ML_KEM_1024",
}

// DataKeyPairSpecs lists every DataKeyPairSpec in the SDK's enum order.
var DataKeyPairSpecs = []string{
	"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
	"ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024",
}

var specs = func() map[string]*Spec {
	m := map[string]*Spec{}
	add := func(s *Spec) { m[s.Name] = s }
	add(&Spec{Name: "SYMMETRIC_DEFAULT", Usages: []string{UsageEncryptDecrypt}, fam: famSymmetric,
		algs: map[string]Algorithms{UsageEncryptDecrypt: {Encryption: []string{SymmetricDefault}}}})
	for _, b := range []int{2048, 3072, 4096} {
		add(&Spec{Name: fmt.Sprintf("RSA_%d", b), Usages: []string{UsageEncryptDecrypt, UsageSignVerify},
			DataKeyPair: true, fam: famRSA, bits: b,
			algs: map[string]Algorithms{UsageEncryptDecrypt: rsaEnc, UsageSignVerify: rsaSign}})
	}
	add(&Spec{Name: "ECC_NIST_P256", Usages: []string{UsageSignVerify, UsageKeyAgreement}, DataKeyPair: true,
		fam: famECDSA, hash: crypto.SHA256, algs: ecdsaAlgs(ECDSASHA256, true)})
	add(&Spec{Name: "ECC_NIST_P384", Usages: []string{UsageSignVerify, UsageKeyAgreement}, DataKeyPair: true,
		fam: famECDSA, hash: crypto.SHA384, algs: ecdsaAlgs(ECDSASHA384, true)})
	add(&Spec{Name: "ECC_NIST_P521", Usages: []string{UsageSignVerify, UsageKeyAgreement}, DataKeyPair: true,
		fam: famECDSA, hash: crypto.SHA512, algs: ecdsaAlgs(ECDSASHA512, true)})
	add(&Spec{Name: "ECC_SECG_P256K1", Usages: []string{UsageSignVerify}, DataKeyPair: true,
		fam: famSecp256k1, hash: crypto.SHA256, algs: ecdsaAlgs(ECDSASHA256, false)})
	add(&Spec{Name: "ECC_NIST_EDWARDS25519", Usages: []string{UsageSignVerify}, DataKeyPair: true,
		fam: famEd25519, algs: map[string]Algorithms{UsageSignVerify: {Signing: []string{Ed25519SHA512, Ed25519PHSHA512}}}})
	add(&Spec{Name: "SM2", Usages: []string{UsageSignVerify, UsageEncryptDecrypt, UsageKeyAgreement}, DataKeyPair: true,
		fam: famSM2, algs: map[string]Algorithms{
			UsageSignVerify:     {Signing: []string{SM2DSA}},
			UsageEncryptDecrypt: {Encryption: []string{SM2PKE}},
			UsageKeyAgreement:   agree,
		}})
	for _, n := range []int{44, 65, 87} {
		add(&Spec{Name: fmt.Sprintf("ML_DSA_%d", n), Usages: []string{UsageSignVerify}, fam: famMLDSA, bits: n,
			algs: map[string]Algorithms{UsageSignVerify: {Signing: []string{MLDSASHAKE256}}}})
	}
	for _, n := range []int{512, 768, 1024} {
		add(&Spec{Name: fmt.Sprintf("ML_KEM_%d", n), Usages: []string{UsageEncapsulateDecapsulate}, DataKeyPair: true,
			fam: famMLKEM, bits: n,
			algs: map[string]Algorithms{UsageEncapsulateDecapsulate: {Encapsulation: []string{MLKEM}}}})
	}
	for _, h := range []struct {
		bits     int
		hash     crypto.Hash
		min, max int
	}{{224, crypto.SHA224, 28, 64}, {256, crypto.SHA256, 32, 64}, {384, crypto.SHA384, 48, 128}, {512, crypto.SHA512, 64, 128}} {
		add(&Spec{Name: fmt.Sprintf("HMAC_%d", h.bits), Usages: []string{UsageGenerateVerifyMAC}, fam: famHMAC,
			bits: h.bits, hash: h.hash, hmacRange: [2]int{h.min, h.max},
			algs: map[string]Algorithms{UsageGenerateVerifyMAC: {MAC: []string{fmt.Sprintf("HMAC_SHA_%d", h.bits)}}}})
	}
	return m
}()

// LookupSpec returns the Spec named name (a KeySpec or DataKeyPairSpec
// value), or false if there is none.
func LookupSpec(name string) (*Spec, bool) {
	s, ok := specs[name]
	return s, ok
}

// Algorithms returns the algorithm lists DescribeKey and GetPublicKey show for
// a key of spec s with the given usage. It returns the zero Algorithms if s
// does not allow usage.
func (s *Spec) Algorithms(usage string) Algorithms { return s.algs[usage] }

// Asymmetric reports whether keys of this spec have a public key
// (GetPublicKey works for them).
func (s *Spec) Asymmetric() bool { return s.fam != famSymmetric && s.fam != famHMAC }

// allows reports whether alg is one of the algorithms of spec s under usage.
func (s *Spec) allows(usage, alg string) bool {
	for _, a := range s.algs[usage].all() {
		if a == alg {
			return true
		}
	}
	return false
}

// ResolveUsage returns the effective KeyUsage of a new key with the given
// spec and requested usage ("" when the caller gave none). Errors are
// *awserr.Error ValidationException with AWS's text:
//   - no usage for a spec other than SYMMETRIC_DEFAULT: "You must specify a
//     KeyUsage value for all KMS keys except for symmetric encryption keys.";
//   - an incompatible pair: "KeyUsage KEY_AGREEMENT is not compatible with
//     KeySpec RSA_2048".
//
// An unknown spec is a ValidationException too; the API layer normally
// rejects it first with the enum-constraint message.
func ResolveUsage(spec, usage string) (string, error) {
	s, ok := LookupSpec(spec)
	if !ok {
		return "", awserr.ValidationError(awserr.Violation(spec, true, "keySpec", awserr.EnumSet(KeySpecs)))
	}
	if usage == "" {
		if s.fam == famSymmetric {
			return UsageEncryptDecrypt, nil
		}
		return "", awserr.New(awserr.Validation, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
	}
	for _, u := range s.Usages {
		if u == usage {
			return usage, nil
		}
	}
	return "", awserr.Newf(awserr.Validation, "KeyUsage %s is not compatible with KeySpec %s", usage, spec)
}
