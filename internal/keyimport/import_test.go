package keyimport_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/testenv"
	"github.com/trentkms/trent/internal/wire"
)

// opensslWrap wraps material for import the way AWS's documentation shows:
// RSA-OAEP with openssl pkeyutl, and for RSA_AES_KEY_WRAP an AES-256 key
// wrapped that way followed by `openssl enc -id-aes256-wrap-pad` of the
// material.
func opensslWrap(t *testing.T, alg string, publicKey, material []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		testenv.Missing(t, testenv.OpenSSL, "openssl not installed")
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	md := "sha256"
	if strings.HasSuffix(alg, "SHA_1") {
		md = "sha1"
	}
	pub := write("wrapping.der", publicKey)
	oaep := func(in, out string) {
		run("pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-keyform", "DER",
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md,
			"-in", in, "-out", out)
	}
	mat := write("material.bin", material)
	wrapped := filepath.Join(dir, "wrapped.bin")
	if strings.HasPrefix(alg, "RSAES_OAEP") {
		oaep(mat, wrapped)
	} else {
		aesKey := make([]byte, 32)
		rand.Read(aesKey)
		aes := write("aes.bin", aesKey)
		oaep(aes, filepath.Join(dir, "aes.wrapped"))
		run("enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(aesKey), "-iv", "A65959A6", "-in", mat, "-out", filepath.Join(dir, "material.wrapped"))
		a, _ := os.ReadFile(filepath.Join(dir, "aes.wrapped"))
		m, _ := os.ReadFile(filepath.Join(dir, "material.wrapped"))
		write("wrapped.bin", append(a, m...))
	}
	b, err := os.ReadFile(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goWrap wraps material with RSA-OAEP in Go (for tests that need no
// OpenSSL cross-check).
func goWrap(t testing.TB, publicKey, material []byte) []byte {
	t.Helper()
	pk, err := x509.ParsePKIXPublicKey(publicKey)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pk.(*rsa.PublicKey), material, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// importInto runs GetParametersForImport and ImportKeyMaterial on e's first
// node.
func importInto(e *kmstest.Env, t *testing.T, keyID, alg string, material []byte, in wire.ImportKeyMaterialInput, viaOpenSSL bool) (*wire.ImportKeyMaterialOutput, error) {
	t.Helper()
	p := must(e.Node.Imports.GetParametersForImport(e.Ctx, &wire.GetParametersForImportInput{KeyID: &keyID, WrappingAlgorithm: &alg, WrappingKeySpec: ptr("RSA_2048")}))(t)
	if in.ExpirationModel == nil && in.ValidTo == nil {
		in.ExpirationModel = ptr("KEY_MATERIAL_DOES_NOT_EXPIRE")
	}
	in.KeyID, in.ImportToken = &keyID, p.ImportToken
	if viaOpenSSL {
		in.EncryptedKeyMaterial = opensslWrap(t, alg, p.PublicKey, material)
	} else {
		in.EncryptedKeyMaterial = goWrap(t, p.PublicKey, material)
	}
	return e.Node.Imports.ImportKeyMaterial(e.Ctx, &in)
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestImportSymmetric: imported symmetric material encrypts and decrypts;
// after DeleteImportedKeyMaterial the key is unusable, different bits are
// refused, and the same bits restore decryption of old ciphertexts.
func TestImportSymmetric(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL")})
	if md.KeyState != "PendingImport" || md.Enabled {
		t.Fatalf("new EXTERNAL key: %s enabled=%v", md.KeyState, md.Enabled)
	}
	id := &md.KeyID
	_, err := e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: id, Plaintext: []byte("x")})
	wantErr(t, err, awserr.KMSInvalidState, md.Arn+" is pending import.")

	material := random(32)
	imp := must(importInto(e, t, md.KeyID, "RSAES_OAEP_SHA_256", material, wire.ImportKeyMaterialInput{}, true))(t)
	if imp.KeyID != md.Arn || len(imp.KeyMaterialID) != 64 {
		t.Fatalf("ImportKeyMaterial = %+v", imp)
	}
	d := must(e.Node.DescribeKey(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t).KeyMetadata
	if d.KeyState != "Enabled" || !d.Enabled || d.ExpirationModel != "KEY_MATERIAL_DOES_NOT_EXPIRE" || d.CurrentKeyMaterialID != imp.KeyMaterialID {
		t.Fatalf("after import: %+v", d)
	}
	ct := must(e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: id, Plaintext: []byte("secret")}))(t)

	del := must(e.Node.Imports.DeleteImportedKeyMaterial(e.Ctx, &wire.DeleteImportedKeyMaterialInput{KeyID: id}))(t)
	if del.KeyMaterialID != imp.KeyMaterialID {
		t.Fatalf("deleted %s, want %s", del.KeyMaterialID, imp.KeyMaterialID)
	}
	_, err = e.Node.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: ct.CiphertextBlob})
	wantErr(t, err, awserr.KMSInvalidState, md.Arn+" is pending import.")

	_, err = importInto(e, t, md.KeyID, "RSAES_OAEP_SHA_1", random(32), wire.ImportKeyMaterialInput{}, true)
	wantErr(t, err, awserr.IncorrectKeyMaterial, "*")

	again := must(importInto(e, t, md.KeyID, "RSA_AES_KEY_WRAP_SHA_256", material, wire.ImportKeyMaterialInput{}, true))(t)
	if again.KeyMaterialID != imp.KeyMaterialID {
		t.Fatalf("re-import made material %s, want %s", again.KeyMaterialID, imp.KeyMaterialID)
	}
	out := must(e.Node.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: ct.CiphertextBlob}))(t)
	if string(out.Plaintext) != "secret" {
		t.Fatalf("decrypt after re-import = %q", out.Plaintext)
	}
}

// TestImportHMAC: an imported HMAC key computes the same MAC as the local
// HMAC of the same key.
func TestImportHMAC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL"), KeySpec: ptr("HMAC_256"), KeyUsage: ptr("GENERATE_VERIFY_MAC")})
	key := random(32)
	must(importInto(e, t, md.KeyID, "RSA_AES_KEY_WRAP_SHA_256", key, wire.ImportKeyMaterialInput{}, true))(t)
	msg := []byte("message to authenticate")
	out := must(e.Node.GenerateMac(e.Ctx, &wire.GenerateMacInput{KeyID: &md.KeyID, Message: msg, MacAlgorithm: ptr("HMAC_SHA_256")}))(t)
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	if !hmac.Equal(out.Mac, m.Sum(nil)) {
		t.Fatal("imported HMAC key disagrees with local HMAC")
	}
	_, err := importInto(e, t, md.KeyID, "RSAES_OAEP_SHA_256", random(32), wire.ImportKeyMaterialInput{ImportType: ptr("NEW_KEY_MATERIAL")}, false)
	wantErr(t, err, awserr.IncorrectKeyMaterial, "*")
}

// TestImportAsymmetric: imported RSA (which only RSA_AES_KEY_WRAP can carry)
// and ECC private keys sign what the local public key verifies.
func TestImportAsymmetric(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name, spec, alg, signing string
		priv                     crypto.Signer
		verify                   func(digest, sig []byte) bool
	}{
		{"ok/rsa-2048-aes-key-wrap", "RSA_2048", "RSA_AES_KEY_WRAP_SHA_256", "RSASSA_PSS_SHA_256", rsaKey, func(d, s []byte) bool {
			return rsa.VerifyPSS(&rsaKey.PublicKey, crypto.SHA256, d, s, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}},
		{"ok/ecc-p256-oaep-sha1", "ECC_NIST_P256", "RSAES_OAEP_SHA_1", "ECDSA_SHA_256", ecKey, func(d, s []byte) bool {
			return ecdsa.VerifyASN1(&ecKey.PublicKey, d, s)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			md := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL"), KeySpec: &c.spec, KeyUsage: ptr("SIGN_VERIFY")})
			der, err := x509.MarshalPKCS8PrivateKey(c.priv)
			if err != nil {
				t.Fatal(err)
			}
			must(importInto(e, t, md.KeyID, c.alg, der, wire.ImportKeyMaterialInput{}, true))(t)
			msg := []byte("signed by an imported key")
			sig := must(e.Node.Sign(e.Ctx, &wire.SignInput{KeyID: &md.KeyID, Message: msg, SigningAlgorithm: &c.signing}))(t)
			digest := sha256.Sum256(msg)
			if !c.verify(digest[:], sig.Signature) {
				t.Fatal("signature does not verify with the local public key")
			}
		})
	}
}

// TestImportExpiry: material expires on time without traffic, the key goes
// to PendingImport, the scheduler records DeleteExpiredKeyMaterial, and a
// re-import of the same bits restores old ciphertexts.
func TestImportExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL")})
	material := random(32)
	validTo := e.Clock.Now().Add(48 * time.Hour)
	must(importInto(e, t, md.KeyID, "RSAES_OAEP_SHA_256", material, wire.ImportKeyMaterialInput{ValidTo: &wire.Timestamp{Time: validTo}}, false))(t)
	d := must(e.Node.DescribeKey(e.Ctx, &wire.KeyIDInput{KeyID: &md.KeyID}))(t).KeyMetadata
	if d.ExpirationModel != "KEY_MATERIAL_EXPIRES" || !d.ValidTo.Equal(validTo) {
		t.Fatalf("metadata: %s %v", d.ExpirationModel, d.ValidTo)
	}
	ct := must(e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: &md.KeyID, Plaintext: []byte("p")}))(t)
	e.Clock.Add(48*time.Hour - time.Second)
	e.RunJobs(e.Node)
	if st := must(e.Node.DescribeKey(e.Ctx, &wire.KeyIDInput{KeyID: &md.KeyID}))(t).KeyMetadata.KeyState; st != "Enabled" {
		t.Fatalf("state before ValidTo = %s", st)
	}
	e.Clock.Add(time.Second)
	if n := e.RunJobs(e.Node); n < 1 {
		t.Fatal("no job ran at ValidTo")
	}
	if st := must(e.Node.DescribeKey(e.Ctx, &wire.KeyIDInput{KeyID: &md.KeyID}))(t).KeyMetadata.KeyState; st != "PendingImport" {
		t.Fatalf("state after ValidTo = %s", st)
	}
	if got := e.EventNames(); len(got) != 1 || got[0] != kms.EventDeleteExpiredKeyMaterial {
		t.Fatalf("events = %v", got)
	}
	_, err := e.Node.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: ct.CiphertextBlob})
	wantErr(t, err, awserr.KMSInvalidState, md.Arn+" is pending import.")
	must(importInto(e, t, md.KeyID, "RSAES_OAEP_SHA_256", material, wire.ImportKeyMaterialInput{}, false))(t)
	if out := must(e.Node.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: ct.CiphertextBlob}))(t); string(out.Plaintext) != "p" {
		t.Fatalf("decrypt after re-import = %q", out.Plaintext)
	}
}

// TestImportNewMaterialRotation: NEW_KEY_MATERIAL waits PENDING_ROTATION
// until RotateKeyOnDemand makes it current; one may be pending at a time.
func TestImportNewMaterialRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	md := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL")})
	id := &md.KeyID
	first := must(importInto(e, t, md.KeyID, "RSAES_OAEP_SHA_256", random(32), wire.ImportKeyMaterialInput{}, false))(t)
	ct1 := must(e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: id, Plaintext: []byte("1")}))(t)
	_, err := e.Node.RotateKeyOnDemand(e.Ctx, &wire.KeyIDInput{KeyID: id})
	wantErr(t, err, awserr.KMSInvalidState, "No available key material pending rotation for the key: "+md.Arn+".")

	second := must(importInto(e, t, md.KeyID, "RSAES_OAEP_SHA_256", random(32), wire.ImportKeyMaterialInput{ImportType: ptr("NEW_KEY_MATERIAL"), KeyMaterialDescription: ptr("second one")}, false))(t)
	_, err = importInto(e, t, md.KeyID, "RSAES_OAEP_SHA_256", random(32), wire.ImportKeyMaterialInput{ImportType: ptr("NEW_KEY_MATERIAL")}, false)
	wantErr(t, err, awserr.KMSInvalidState, "*")
	if !strings.Contains(err.Error(), "because another key material (id: "+second.KeyMaterialID+") is pending rotation.") {
		t.Fatalf("message = %v", err)
	}
	all := must(e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: id, IncludeKeyMaterial: ptr("ALL_KEY_MATERIAL")}))(t)
	if len(all.Rotations) != 2 || all.Rotations[1].KeyMaterialState != "PENDING_ROTATION" || all.Rotations[1].KeyMaterialDescription != "second one" || all.Rotations[1].ImportState != "IMPORTED" {
		t.Fatalf("rotations = %+v", all.Rotations)
	}
	must(e.Node.RotateKeyOnDemand(e.Ctx, &wire.KeyIDInput{KeyID: id}))(t)
	ct2 := must(e.Node.Encrypt(e.Ctx, &wire.EncryptInput{KeyID: id, Plaintext: []byte("2")}))(t)
	if kmstest.MaterialOf(t, ct1.CiphertextBlob) != first.KeyMaterialID || kmstest.MaterialOf(t, ct2.CiphertextBlob) != second.KeyMaterialID {
		t.Fatalf("materials used: %s, %s; want %s, %s", kmstest.MaterialOf(t, ct1.CiphertextBlob), kmstest.MaterialOf(t, ct2.CiphertextBlob), first.KeyMaterialID, second.KeyMaterialID)
	}
	for want, ct := range map[string][]byte{"1": ct1.CiphertextBlob, "2": ct2.CiphertextBlob} {
		if out := must(e.Node.Decrypt(e.Ctx, &wire.DecryptInput{CiphertextBlob: ct}))(t); string(out.Plaintext) != want {
			t.Fatalf("decrypt = %q, want %q", out.Plaintext, want)
		}
	}
	rot := must(e.Node.ListKeyRotations(e.Ctx, &wire.ListKeyRotationsInput{KeyID: id}))(t)
	if len(rot.Rotations) != 1 || rot.Rotations[0].RotationType != "ON_DEMAND" || rot.Rotations[0].KeyMaterialID != second.KeyMaterialID {
		t.Fatalf("rotations = %+v", rot.Rotations)
	}
}

func TestImportErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL")})
	b := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL")})
	native := e.CreateKey(&wire.CreateKeyInput{})
	p := must(e.Node.Imports.GetParametersForImport(e.Ctx, &wire.GetParametersForImportInput{KeyID: &a.KeyID, WrappingAlgorithm: ptr("RSAES_OAEP_SHA_256"), WrappingKeySpec: ptr("RSA_2048")}))(t)
	if !p.ParametersValidTo.Equal(e.Clock.Now().Add(24 * time.Hour)) {
		t.Fatalf("ParametersValidTo = %v", p.ParametersValidTo)
	}
	wrapped := goWrap(t, p.PublicKey, random(32))
	noExpiry := ptr("KEY_MATERIAL_DOES_NOT_EXPIRE")
	tampered := bytes.Clone(p.ImportToken)
	tampered[len(tampered)-1] ^= 1
	imp := func(in wire.ImportKeyMaterialInput) func() error {
		return func() error { _, err := e.Node.Imports.ImportKeyMaterial(e.Ctx, &in); return err }
	}
	cases := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"fail/no-valid-to", imp(wire.ImportKeyMaterialInput{KeyID: &a.KeyID, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped}),
			awserr.Validation, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"},
		{"fail/valid-to-past", imp(wire.ImportKeyMaterialInput{KeyID: &a.KeyID, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ValidTo: &wire.Timestamp{Time: e.Clock.Now().Add(-time.Hour)}}),
			awserr.Validation, "*"},
		{"fail/token-of-other-key", imp(wire.ImportKeyMaterialInput{KeyID: &b.KeyID, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: noExpiry}),
			awserr.InvalidImportToken, "*"},
		{"fail/tampered-token", imp(wire.ImportKeyMaterialInput{KeyID: &a.KeyID, ImportToken: tampered, EncryptedKeyMaterial: wrapped, ExpirationModel: noExpiry}),
			awserr.InvalidImportToken, "*"},
		{"fail/garbage-token", imp(wire.ImportKeyMaterialInput{KeyID: &a.KeyID, ImportToken: []byte("garbage"), EncryptedKeyMaterial: wrapped, ExpirationModel: noExpiry}),
			awserr.InvalidImportToken, "*"},
		{"fail/garbage-material", imp(wire.ImportKeyMaterialInput{KeyID: &a.KeyID, ImportToken: p.ImportToken, EncryptedKeyMaterial: random(256), ExpirationModel: noExpiry}),
			awserr.InvalidCiphertext, ""},
		{"fail/short-symmetric-material", imp(wire.ImportKeyMaterialInput{KeyID: &a.KeyID, ImportToken: p.ImportToken, EncryptedKeyMaterial: goWrap(t, p.PublicKey, random(16)), ExpirationModel: noExpiry}),
			awserr.IncorrectKeyMaterial, "*"},
		{"fail/params-for-native-key", func() error {
			_, err := e.Node.Imports.GetParametersForImport(e.Ctx, &wire.GetParametersForImportInput{KeyID: &native.KeyID, WrappingAlgorithm: ptr("RSAES_OAEP_SHA_256"), WrappingKeySpec: ptr("RSA_2048")})
			return err
		}, awserr.UnsupportedOperation, native.Arn + " origin is AWS_KMS which is not valid for this operation."},
		{"fail/delete-material-of-native-key", func() error {
			_, err := e.Node.Imports.DeleteImportedKeyMaterial(e.Ctx, &wire.DeleteImportedKeyMaterialInput{KeyID: &native.KeyID})
			return err
		}, awserr.UnsupportedOperation, native.Arn + " origin is AWS_KMS which is not valid for this operation."},
		{"fail/bad-wrapping-algorithm", func() error {
			_, err := e.Node.Imports.GetParametersForImport(e.Ctx, &wire.GetParametersForImportInput{KeyID: &a.KeyID, WrappingAlgorithm: ptr("RSA_PLAIN"), WrappingKeySpec: ptr("RSA_2048")})
			return err
		}, awserr.Validation, "1 validation error detected: Value 'RSA_PLAIN' at 'wrappingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256, SM2PKE]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, c.call(), c.code, c.msg) })
	}
	t.Run("fail/expired-token", func(t *testing.T) {
		e.Clock.Add(24 * time.Hour)
		wantErr(t, imp(wire.ImportKeyMaterialInput{KeyID: &a.KeyID, ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped, ExpirationModel: noExpiry})(), awserr.ExpiredImportToken, "*")
		// The scheduler purges the expired wrapping key.
		e.RunJobs(e.Node)
		if recs, err := e.Store.List(e.Ctx, "importparams", "", "", 0); err != nil || len(recs) != 0 {
			t.Fatalf("import parameters left after expiry: %d (%v)", len(recs), err)
		}
	})
	var _ store.Store = e.Store
}

func BenchmarkImportKeyMaterial(b *testing.B) {
	e := newEnv(b)
	md := e.CreateKey(&wire.CreateKeyInput{Origin: ptr("EXTERNAL")})
	p := must(e.Node.Imports.GetParametersForImport(e.Ctx, &wire.GetParametersForImportInput{KeyID: &md.KeyID, WrappingAlgorithm: ptr("RSAES_OAEP_SHA_256"), WrappingKeySpec: ptr("RSA_2048")}))(b)
	in := &wire.ImportKeyMaterialInput{KeyID: &md.KeyID, ImportToken: p.ImportToken, EncryptedKeyMaterial: goWrap(b, p.PublicKey, random(32)), ExpirationModel: ptr("KEY_MATERIAL_DOES_NOT_EXPIRE")}
	for b.Loop() {
		if _, err := e.Node.Imports.ImportKeyMaterial(e.Ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// newEnv returns the fixture of the key lifecycle tests.
func newEnv(t testing.TB) *kmstest.Env { return kmstest.NewEnv(t) }

func ptr[T any](v T) *T { return &v }

// must returns v, failing t if err is not nil: must(f())(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantErr fails unless err is an *awserr.Error with code and, if msg is not
// "*", exactly that message.
func wantErr(t testing.TB, err error, code, msg string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if e.Code != code || (msg != "*" && e.Message != msg) {
		t.Fatalf("error = %s: %q, want %s: %q", e.Code, e.Message, code, msg)
	}
}
