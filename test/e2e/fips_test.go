package e2e

// FIPS mode: the suite runs under GODEBUG=fips140=only too (scripts/
// test-all.sh's fips stage), with the server in the same process. Key specs
// and algorithms without a FIPS 140-3 approved implementation are refused
// there by design (docs/fips.md); the tests that use them skip after
// asserting the refusal, and TestFIPSRefusals asserts each refusal.

import (
	"crypto/fips140"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

var fipsMode = fips140.Enabled()

// fipsUnapprovedSpecs are the key specs Trent refuses in FIPS mode.
var fipsUnapprovedSpecs = map[string]bool{
	"ECC_SECG_P256K1": true, "SM2": true, "ML_DSA_44": true, "ML_DSA_65": true, "ML_DSA_87": true, "ML_KEM_512": true,
}

// fipsUnapprovedAlgs are the algorithms Trent refuses in FIPS mode.
var fipsUnapprovedAlgs = map[string]bool{
	"RSAES_OAEP_SHA_1": true, "RSA_AES_KEY_WRAP_SHA_1": true, "RSAES_PKCS1_V1_5": true,
}

// fipsRefusal is the message of a refusal of member value in FIPS mode.
func fipsRefusal(member, value string) string {
	return fmt.Sprintf("%s %s is not available in FIPS mode: it has no FIPS 140-3 approved implementation in this server.", member, value)
}

// skipIfFIPSRefused skips the test if err is the FIPS-mode refusal of
// member value, which must then be a spec or algorithm refused by design;
// any other error, or a refusal of something approved, fails the test.
func skipIfFIPSRefused(t testing.TB, err error, member, value string) {
	t.Helper()
	if !fipsMode || err == nil {
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnsupportedOperationException" {
		return
	}
	if !fipsUnapprovedSpecs[value] && !fipsUnapprovedAlgs[value] {
		t.Fatalf("%s %s refused in FIPS mode, but it is approved: %v", member, value, err)
	}
	if ae.ErrorMessage() != fipsRefusal(member, value) {
		t.Fatalf("FIPS refusal of %s %s: message %q, want %q", member, value, ae.ErrorMessage(), fipsRefusal(member, value))
	}
	t.Skipf("%s %s: refused in FIPS mode by design", member, value)
}

// skipUnapprovedAlg skips a test of algorithm alg in FIPS mode, where
// the server refuses it (TestFIPSRefusals asserts the refusal).
func skipUnapprovedAlg(t testing.TB, alg string) {
	t.Helper()
	if fipsMode && fipsUnapprovedAlgs[alg] {
		t.Skipf("%s: refused in FIPS mode by design", alg)
	}
}

// TestFIPSRefusals: in FIPS mode, every unapproved key spec is refused at
// CreateKey, every unapproved data key pair spec at GenerateDataKeyPair,
// RSAES_OAEP_SHA_1 at Encrypt and Decrypt, and the SHA-1 and PKCS #1 v1.5
// wrapping algorithms at GetParametersForImport, with
// UnsupportedOperationException; everything approved still works.
func TestFIPSRefusals(t *testing.T) {
	if !fipsMode {
		t.Skip("not in FIPS mode (GODEBUG=fips140=only)")
	}
	t.Parallel()
	c := newClient(shared.Endpoint)
	ctx := ctxT(t)
	for spec := range fipsUnapprovedSpecs {
		usage := types.KeyUsageTypeSignVerify
		if spec == "ML_KEM_512" {
			usage = types.KeyUsageTypeEncapsulateDecapsulate
		}
		_, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpec(spec), KeyUsage: usage})
		if spec == "SM2" {
			// Without --enable-sm2 outside China the Region refuses it first.
			wantAPIError(t, err, "ValidationException", anyMessage)
			continue
		}
		wantAPIError(t, err, "UnsupportedOperationException", fipsRefusal("KeySpec", spec))
	}
	sym := createKey(t, c, nil)
	_, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: types.DataKeyPairSpecEccSecgP256k1})
	wantAPIError(t, err, "UnsupportedOperationException", fipsRefusal("KeyPairSpec", "ECC_SECG_P256K1"))
	if _, err := c.GenerateDataKeyPair(ctx, &kms.GenerateDataKeyPairInput{KeyId: sym.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256}); err != nil {
		t.Fatalf("GenerateDataKeyPair ECC_NIST_P256 in FIPS mode: %v", err)
	}
	rsaKey := createKey(t, c, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaKey.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	wantAPIError(t, err, "UnsupportedOperationException", fipsRefusal("EncryptionAlgorithm", "RSAES_OAEP_SHA_1"))
	_, err = c.Decrypt(ctx, &kms.DecryptInput{KeyId: rsaKey.KeyId, CiphertextBlob: make([]byte, 256), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	wantAPIError(t, err, "UnsupportedOperationException", fipsRefusal("EncryptionAlgorithm", "RSAES_OAEP_SHA_1"))
	out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: rsaKey.KeyId, Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	if err != nil {
		t.Fatalf("Encrypt RSAES_OAEP_SHA_256 in FIPS mode: %v", err)
	}
	if _, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: rsaKey.KeyId, CiphertextBlob: out.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256}); err != nil {
		t.Fatalf("Decrypt RSAES_OAEP_SHA_256 in FIPS mode: %v", err)
	}
	ext := createKey(t, c, &kms.CreateKeyInput{Origin: types.OriginTypeExternal})
	for _, alg := range []types.AlgorithmSpec{types.AlgorithmSpecRsaesOaepSha1, types.AlgorithmSpecRsaAesKeyWrapSha1} {
		_, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: ext.KeyId, WrappingAlgorithm: alg, WrappingKeySpec: types.WrappingKeySpecRsa2048})
		wantAPIError(t, err, "UnsupportedOperationException", fipsRefusal("WrappingAlgorithm", string(alg)))
	}
	if _, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: ext.KeyId, WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048}); err != nil {
		t.Fatalf("GetParametersForImport RSAES_OAEP_SHA_256 in FIPS mode: %v", err)
	}
	// Replication wraps material with age's ML-KEM-768 + X25519 hybrid, and
	// the module refuses X25519: the server starts without replication.
	mrk := createKey(t, c, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	_, err = c.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: mrk.KeyId, ReplicaRegion: aws.String("eu-west-1")})
	wantAPIError(t, err, "UnsupportedOperationException", "Multi-Region key replication is not available in FIPS mode: its key wrapping uses X25519, which FIPS 140-3 does not approve.")
}
