package security

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
)

// TestFIPSModeRestart runs one data directory through `trent serve` without
// and with GODEBUG=fips140=only (issue 18, item 3): the server starts and
// serves under Go's FIPS 140-3 module; it opens the ciphertexts sealed
// before (version 1) and seals version 2, which a server out of FIPS mode
// opens again; a key of a spec without an approved implementation
// (secp256k1), created before, is refused at use with
// UnsupportedOperationException, while its metadata is still served; and
// such keys cannot be created.
func TestFIPSModeRestart(t *testing.T) {
	t.Parallel()
	dir, home := t.TempDir(), t.TempDir()
	rootKey := randHex(32)
	start := func(godebug string) *Server {
		return Start(t, Opts{DataDir: dir, ConfigHome: home, RootKeyHex: rootKey, Env: []string{"GODEBUG=" + godebug}})
	}
	call := func(s *Server, op string, body any) Response {
		t.Helper()
		return s.Call(t, Admin, op, body)
	}
	ok := func(r Response, what string) {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s %q", what, r.Status, r.ErrorType, r.Message)
		}
	}
	blobOf := func(r Response) []byte {
		t.Helper()
		var out struct{ CiphertextBlob string }
		json.Unmarshal(r.Body, &out)
		b, err := base64.StdEncoding.DecodeString(out.CiphertextBlob)
		if err != nil || len(b) == 0 {
			t.Fatalf("no ciphertext in %s", r.Body)
		}
		return b
	}
	plain := base64.StdEncoding.EncodeToString([]byte("fips"))

	s := start("")
	sym := s.CreateKey(t, Admin, nil)
	k1 := s.CreateKey(t, Admin, map[string]any{"KeySpec": "ECC_SECG_P256K1", "KeyUsage": "SIGN_VERIFY"})
	ct1 := blobOf(call(s, "Encrypt", map[string]any{"KeyId": sym, "Plaintext": plain}))
	if ct1[0] != 1 {
		t.Fatalf("out of FIPS mode the blob is version %d, want 1", ct1[0])
	}
	s.Stop(t)

	s = start("fips140=only")
	r := call(s, "Decrypt", map[string]any{"CiphertextBlob": ct1})
	ok(r, "Decrypt of a version 1 blob in FIPS mode")
	ct2 := blobOf(call(s, "Encrypt", map[string]any{"KeyId": sym, "Plaintext": plain}))
	if ct2[0] != 2 {
		t.Fatalf("in FIPS mode the blob is version %d, want 2", ct2[0])
	}
	ok(call(s, "Decrypt", map[string]any{"CiphertextBlob": ct2}), "Decrypt of a version 2 blob in FIPS mode")
	ok(call(s, "GenerateDataKey", map[string]any{"KeyId": sym, "KeySpec": "AES_256"}), "GenerateDataKey in FIPS mode")
	ok(call(s, "DescribeKey", map[string]any{"KeyId": k1}), "DescribeKey of a secp256k1 key in FIPS mode")
	r = call(s, "Sign", map[string]any{"KeyId": k1, "Message": plain, "SigningAlgorithm": "ECDSA_SHA_256"})
	want := "arn:aws:kms:us-east-1:111122223333:key/" + k1 + " has key spec ECC_SECG_P256K1, which is not available in FIPS mode: it has no FIPS 140-3 approved implementation in this server."
	if r.Status != http.StatusBadRequest || r.ErrorType != "UnsupportedOperationException" || r.Message != want {
		t.Fatalf("Sign with a secp256k1 key in FIPS mode: %d %s %q; want 400 UnsupportedOperationException %q", r.Status, r.ErrorType, r.Message, want)
	}
	r = call(s, "CreateKey", map[string]any{"KeySpec": "ECC_SECG_P256K1", "KeyUsage": "SIGN_VERIFY"})
	if r.ErrorType != "UnsupportedOperationException" || r.Message != "KeySpec ECC_SECG_P256K1 is not available in FIPS mode: it has no FIPS 140-3 approved implementation in this server." {
		t.Fatalf("CreateKey ECC_SECG_P256K1 in FIPS mode: %d %s %q", r.Status, r.ErrorType, r.Message)
	}
	ok(call(s, "CreateKey", map[string]any{"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}), "CreateKey ECC_NIST_P256 in FIPS mode")
	s.Stop(t)

	s = start("")
	ok(call(s, "Decrypt", map[string]any{"CiphertextBlob": ct2}), "Decrypt of a version 2 blob out of FIPS mode")
	ok(call(s, "Sign", map[string]any{"KeyId": k1, "Message": plain, "SigningAlgorithm": "ECDSA_SHA_256"}), "Sign with the secp256k1 key out of FIPS mode")
	s.Stop(t)
}
