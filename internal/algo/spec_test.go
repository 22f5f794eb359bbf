package algo

import (
	"reflect"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

func TestResolveUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec, usage, want, code, msg string
	}{
		{name: "ok/symmetric-default", spec: "SYMMETRIC_DEFAULT", want: UsageEncryptDecrypt},
		{name: "ok/rsa-sign", spec: "RSA_2048", usage: UsageSignVerify, want: UsageSignVerify},
		{name: "ok/p256-agreement", spec: "ECC_NIST_P256", usage: UsageKeyAgreement, want: UsageKeyAgreement},
		{name: "ok/sm2-encrypt", spec: "SM2", usage: UsageEncryptDecrypt, want: UsageEncryptDecrypt},
		{name: "ok/mlkem", spec: "ML_KEM_512", usage: UsageEncapsulateDecapsulate, want: UsageEncapsulateDecapsulate},
		{name: "ok/hmac", spec: "HMAC_384", usage: UsageGenerateVerifyMAC, want: UsageGenerateVerifyMAC},
		{name: "fail/rsa-agreement", spec: "RSA_2048", usage: UsageKeyAgreement, code: awserr.Validation,
			msg: "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048"},
		{name: "fail/secp256k1-agreement", spec: "ECC_SECG_P256K1", usage: UsageKeyAgreement, code: awserr.Validation,
			msg: "KeyUsage KEY_AGREEMENT is not compatible with KeySpec ECC_SECG_P256K1"},
		{name: "fail/ed25519-encrypt", spec: "ECC_NIST_EDWARDS25519", usage: UsageEncryptDecrypt, code: awserr.Validation,
			msg: "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec ECC_NIST_EDWARDS25519"},
		{name: "fail/hmac-no-usage", spec: "HMAC_256", code: awserr.Validation,
			msg: "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."},
		{name: "fail/symmetric-sign", spec: "SYMMETRIC_DEFAULT", usage: UsageSignVerify, code: awserr.Validation,
			msg: "KeyUsage SIGN_VERIFY is not compatible with KeySpec SYMMETRIC_DEFAULT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveUsage(tc.spec, tc.usage)
			if tc.code != "" {
				wantAWS(t, err, tc.code, tc.msg)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ResolveUsage = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestSpecAlgorithms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec, usage string
		want              Algorithms
	}{
		{"ok/rsa-encrypt", "RSA_3072", UsageEncryptDecrypt, Algorithms{Encryption: []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}}},
		{"ok/rsa-sign", "RSA_4096", UsageSignVerify, Algorithms{Signing: []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512", "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}}},
		{"ok/p521-sign", "ECC_NIST_P521", UsageSignVerify, Algorithms{Signing: []string{"ECDSA_SHA_512"}}},
		{"ok/p384-agree", "ECC_NIST_P384", UsageKeyAgreement, Algorithms{KeyAgreement: []string{"ECDH"}}},
		{"ok/ed25519", "ECC_NIST_EDWARDS25519", UsageSignVerify, Algorithms{Signing: []string{"ED25519_SHA_512", "ED25519_PH_SHA_512"}}},
		{"ok/mldsa", "ML_DSA_65", UsageSignVerify, Algorithms{Signing: []string{"ML_DSA_SHAKE_256"}}},
		{"ok/mlkem", "ML_KEM_1024", UsageEncapsulateDecapsulate, Algorithms{Encapsulation: []string{"ML_KEM"}}},
		{"ok/hmac", "HMAC_224", UsageGenerateVerifyMAC, Algorithms{MAC: []string{"HMAC_SHA_224"}}},
		{"ok/sm2-encrypt", "SM2", UsageEncryptDecrypt, Algorithms{Encryption: []string{"SM2PKE"}}},
		{"ok/symmetric", "SYMMETRIC_DEFAULT", UsageEncryptDecrypt, Algorithms{Encryption: []string{"SYMMETRIC_DEFAULT"}}},
		{"fail/wrong-usage-empty", "RSA_2048", UsageKeyAgreement, Algorithms{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := LookupSpec(tc.spec)
			if !ok {
				t.Fatalf("LookupSpec(%s) not found", tc.spec)
			}
			if got := s.Algorithms(tc.usage); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Algorithms = %+v, want %+v", got, tc.want)
			}
		})
	}
	for _, name := range KeySpecs {
		if _, ok := LookupSpec(name); !ok {
			t.Errorf("KeySpecs lists %s but LookupSpec does not know it", name)
		}
	}
	for _, name := range DataKeyPairSpecs {
		if s, ok := LookupSpec(name); !ok || !s.DataKeyPair {
			t.Errorf("DataKeyPairSpecs lists %s but it is not a data key pair spec", name)
		}
	}
	if _, ok := LookupSpec("RSA_1024"); ok {
		t.Error("LookupSpec(RSA_1024) found a spec")
	}
}
