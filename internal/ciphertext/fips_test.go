package ciphertext

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

// TestVersion2 seals version 2 blobs (as a node in FIPS mode does) and
// opens them both ways: through NewGCM with the blob's IV and through the
// module's random-nonce GCM, and opens version 1 blobs through the latter.
func TestVersion2(t *testing.T) {
	t.Parallel()
	k, err := NewKey(testMaterial, testKeyID, testMaterialID)
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"purpose": "test"}
	for _, n := range []int{0, 1, 16, 4096} {
		pt := bytes.Repeat([]byte{7}, n)
		blob, err := k.sealV2(rand.Reader, pt, ec)
		if err != nil {
			t.Fatal(err)
		}
		if len(blob) != Overhead+n || blob[0] != Version2 {
			t.Fatalf("v2 blob: %d bytes, version %d", len(blob), blob[0])
		}
		b, err := Parse(blob)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := b.Marshal(); err != nil || !bytes.Equal(m, blob) {
			t.Fatalf("v2 blob does not re-marshal: %v", err)
		}
		for _, module := range modules() {
			got, err := k.openFIPS(b, ec, module)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("open v2 (module %v): %v", module, err)
			}
			if _, err := k.openFIPS(b, map[string]string{"purpose": "other"}, module); !errors.Is(err, ErrAuth) {
				t.Fatalf("open v2 with another context (module %v): %v", module, err)
			}
		}
		if got, err := k.Open(b, ec); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Key.Open of v2: %v", err)
		}
		v1 := mustSeal(t, pt, ec)
		b1, err := Parse(v1)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.openFIPS(b1, ec, true); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("open v1 through the module: %v", err)
		}
	}
}

// TestVersion2TamperEveryByte: every byte of a version 2 blob, the IV
// included, is authenticated.
func TestVersion2TamperEveryByte(t *testing.T) {
	t.Parallel()
	k, _ := NewKey(testMaterial, testKeyID, testMaterialID)
	ec := map[string]string{"a": "b"}
	blob, err := k.sealV2(rand.Reader, []byte("attack at dawn"), ec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range blob {
		tampered := append([]byte{}, blob...)
		tampered[i] ^= 0x01
		b, err := Parse(tampered)
		if err != nil {
			continue
		}
		for _, module := range modules() {
			if pt, err := k.openFIPS(b, ec, module); err == nil {
				t.Fatalf("byte %d: open succeeded with %q", i, pt)
			}
		}
	}
}

// TestModuleHMAC: the KDF computed with crypto/hmac (FIPS mode) equals the
// one computed from the precomputed pads.
func TestModuleHMAC(t *testing.T) {
	t.Parallel()
	k, _ := NewKey(testMaterial, testKeyID, testMaterialID)
	msg := bytes.Repeat([]byte{0xa5}, kdfMsgLen)
	if k.moduleHMAC(msg) != hmacSHA256(&k.ipad, &k.opad, msg) {
		t.Fatal("crypto/hmac and the pads disagree")
	}
}

// modules returns the ways to open a blob that this process allows: in
// fips140=only mode NewGCM is refused.
func modules() []bool {
	if fipsMode {
		return []bool{true}
	}
	return []bool{false, true}
}

// skipInFIPSMode skips a test of version 1 sealing, which a process in
// FIPS mode does not do (it seals version 2, whose IV the module draws).
func skipInFIPSMode(t *testing.T) {
	t.Helper()
	if fipsMode {
		t.Skip("FIPS mode seals version 2; version 1 sealing is not used")
	}
}

// goldenV2 is a version 2 blob of "hello" under testMaterial, key
// testKeyID, material testMaterialID, context {"purpose": "golden v2"}
// (made by sealV2 with N = a1…a1; the IV is the module's draw).
const goldenV2 = "02001234abcd12ab34cd56ef1234567890ab0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20" +
	"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1" + "6167951f391e52da364395997baa8853dd8986d52b73ea69075633ef0f20366c12"

// TestVersion2Golden pins the version 2 format: the golden blob opens, and
// an independent computation (the reference SP 800-108 KDF over the header
// with its IV zeroed, then AES-256-GCM from the standard library) agrees.
func TestVersion2Golden(t *testing.T) {
	t.Parallel()
	blob, _ := hex.DecodeString(goldenV2)
	ec := map[string]string{"purpose": "golden v2"}
	pt, err := parseOpen(testMaterial, blob, ec)
	if err != nil || string(pt) != "hello" {
		t.Fatalf("open golden v2: %q, %v", pt, err)
	}
	if fipsMode {
		return // cipher.NewGCM, the independent opener, is refused
	}
	h := append([]byte{}, blob[:HeaderSize]...)
	clear(h[offIV:])
	k := referenceDerive(testMaterial, []byte("trent symmetric v2"), h, 256)
	block, _ := aes.NewCipher(k)
	gcm, _ := cipher.NewGCM(block)
	pt, err = gcm.Open(nil, blob[offIV:HeaderSize], blob[HeaderSize:], AppendContext(h, ec))
	if err != nil || string(pt) != "hello" {
		t.Fatalf("independent open of golden v2: %q, %v", pt, err)
	}
}
