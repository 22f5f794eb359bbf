package ciphertext

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_v1.json (only for a deliberate format change)")

var (
	testMaterial   = bytes.Repeat([]byte{0x42}, 32)
	testMaterialID = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}
)

func mustSeal(t testing.TB, pt []byte, ec map[string]string) []byte {
	t.Helper()
	b, err := Seal(rand.Reader, testMaterial, testKeyID, testMaterialID, pt, ec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseOpen(material, blob []byte, ec map[string]string) ([]byte, error) {
	b, err := Parse(blob)
	if err != nil {
		return nil, err
	}
	return Open(material, b, ec)
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		keyID string
		pt    []byte
		ec    map[string]string
	}{
		{"ok/empty_plaintext", testKeyID, nil, nil},
		{"ok/one_byte", testKeyID, []byte{7}, nil},
		{"ok/1KiB_context", testKeyID, bytes.Repeat([]byte("x"), 1024), map[string]string{"purpose": "test", "tenant": "a"}},
		{"ok/4KiB", testKeyID, bytes.Repeat([]byte{0xff}, 4096), map[string]string{"k": "v"}},
		{"ok/mrk", testMRK, []byte("hello"), nil},
		{"ok/data_key", testKeyID, make([]byte, 32), map[string]string{"aws:ebs:id": "vol-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			blob, err := Seal(rand.Reader, testMaterial, tc.keyID, testMaterialID, tc.pt, tc.ec)
			if err != nil {
				t.Fatal(err)
			}
			if len(blob) != len(tc.pt)+Overhead {
				t.Fatalf("len = %d, want %d", len(blob), len(tc.pt)+Overhead)
			}
			if cap(blob) != len(blob) {
				t.Fatalf("cap = %d exposes scratch space past len %d", cap(blob), len(blob))
			}
			b, err := Parse(blob)
			if err != nil {
				t.Fatal(err)
			}
			if b.KeyID != tc.keyID || b.MaterialID != testMaterialID {
				t.Fatalf("header names %s/%x", b.KeyID, b.MaterialID)
			}
			pt, err := Open(testMaterial, b, tc.ec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pt, tc.pt) {
				t.Fatalf("Open = %x, want %x", pt, tc.pt)
			}
			k, err := NewKey(testMaterial, tc.keyID, testMaterialID)
			if err != nil {
				t.Fatal(err)
			}
			pt2, err := k.Open(b, tc.ec)
			if err != nil || !bytes.Equal(pt2, tc.pt) {
				t.Fatalf("Key.Open = %x, %v", pt2, err)
			}
		})
	}
}

func TestOpenFails(t *testing.T) {
	t.Parallel()
	ec := map[string]string{"Department": "Finance", "project": "x"}
	blob := mustSeal(t, []byte("secret"), ec)
	otherMaterial := bytes.Repeat([]byte{0x43}, 32)
	otherKey, err := Seal(rand.Reader, testMaterial, "1234abcd-12ab-34cd-56ef-1234567890ac", testMaterialID, []byte("secret"), ec)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		material []byte
		blob     []byte
		ec       map[string]string
		want     error
	}{
		{"ok/baseline", testMaterial, blob, ec, nil},
		{"ok/context_is_a_copy", testMaterial, blob, map[string]string{"project": "x", "Department": "Finance"}, nil},
		{"fail/no_context", testMaterial, blob, nil, ErrAuth},
		{"fail/missing_pair", testMaterial, blob, map[string]string{"Department": "Finance"}, ErrAuth},
		{"fail/extra_pair", testMaterial, blob, map[string]string{"Department": "Finance", "project": "x", "a": "b"}, ErrAuth},
		{"fail/key_case", testMaterial, blob, map[string]string{"department": "Finance", "project": "x"}, ErrAuth},
		{"fail/value_case", testMaterial, blob, map[string]string{"Department": "finance", "project": "x"}, ErrAuth},
		{"fail/value_changed", testMaterial, blob, map[string]string{"Department": "Finance", "project": "y"}, ErrAuth},
		{"fail/wrong_material", otherMaterial, blob, ec, ErrAuth},
		{"fail/truncated", testMaterial, blob[:len(blob)-1], ec, ErrAuth},
		{"fail/extended", testMaterial, append(append([]byte{}, blob...), 0), ec, ErrAuth},
		{"fail/too_short", testMaterial, blob[:Overhead-1], ec, ErrMalformed},
		{"fail/short_material", testMaterial[:31], blob, ec, ErrMaterial},
		{"fail/other_key_same_material_ok_but_swapped_id", testMaterial, swapKeyID(otherKey, blob), ec, ErrAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pt, err := parseOpen(tc.material, tc.blob, tc.ec)
			if tc.want == nil {
				if err != nil || string(pt) != "secret" {
					t.Fatalf("Open = %q, %v", pt, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || pt != nil {
				t.Fatalf("Open = %q, %v; want %v", pt, err, tc.want)
			}
			if tc.want == ErrAuth && err != ErrAuth {
				t.Fatalf("Open error %q carries detail; want bare ErrAuth", err)
			}
		})
	}
}

// swapKeyID returns a with the key-ID field of b.
func swapKeyID(a, b []byte) []byte {
	out := append([]byte{}, a...)
	copy(out[offKeyType:offMaterial], b[offKeyType:offMaterial])
	return out
}

func TestKeyOpenWrongKey(t *testing.T) {
	t.Parallel()
	blob := mustSeal(t, []byte("secret"), nil)
	b, err := Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	otherMID := testMaterialID
	otherMID[31]++
	cases := []struct {
		name, keyID string
		mid         [32]byte
	}{
		{"ok/same", testKeyID, testMaterialID},
		{"fail/other_material_id", testKeyID, otherMID},
		{"fail/other_key_id", testMRK, testMaterialID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewKey(testMaterial, tc.keyID, tc.mid)
			if err != nil {
				t.Fatal(err)
			}
			_, err = k.Open(b, nil)
			if ok := strings.HasPrefix(tc.name, "ok/"); ok != (err == nil) {
				t.Fatalf("Open error = %v", err)
			}
			if err != nil && err != ErrAuth {
				t.Fatalf("Open error = %v, want ErrAuth", err)
			}
		})
	}
}

func TestTamperEveryByte(t *testing.T) {
	t.Parallel()
	ec := map[string]string{"a": "b"}
	blob := mustSeal(t, []byte("attack at dawn"), ec)
	for i := range blob {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			tampered := append([]byte{}, blob...)
			tampered[i] ^= mask
			if pt, err := parseOpen(testMaterial, tampered, ec); err == nil {
				t.Fatalf("byte %d ^ %#x: Open succeeded with %q", i, mask, pt)
			}
		}
	}
}

func TestSealNonDeterministic(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 64 {
		b := mustSeal(t, []byte("same"), nil)
		if seen[string(b)] {
			t.Fatal("Seal returned the same blob twice")
		}
		seen[string(b)] = true
	}
}

func TestSizeBound(t *testing.T) {
	t.Parallel()
	ec := map[string]string{strings.Repeat("k", 1000): strings.Repeat("v", 3000)}
	b := mustSeal(t, make([]byte, 4096), ec)
	if len(b) != 4190 || len(b) > MaxSize {
		t.Fatalf("4096-byte plaintext sealed to %d bytes; want 4190 (≤ %d)", len(b), MaxSize)
	}
}

func TestSealErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		rand     func() *bytes.Reader
		material []byte
		keyID    string
		want     error
	}{
		{"fail/short_rand", func() *bytes.Reader { return bytes.NewReader(make([]byte, NonceSize-1)) }, testMaterial, testKeyID, nil},
		{"fail/material_33", nil, make([]byte, 33), testKeyID, ErrMaterial},
		{"fail/material_empty", nil, nil, testKeyID, ErrMaterial},
		{"fail/arn_key_id", nil, testMaterial, "arn:aws:kms:us-east-1:111122223333:key/" + testKeyID, ErrInvalidID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := iotest.ErrReader(errors.New("must not be read"))
			if tc.rand != nil {
				r = tc.rand()
			}
			b, err := Seal(r, tc.material, tc.keyID, testMaterialID, []byte("x"), nil)
			if err == nil || b != nil {
				t.Fatalf("Seal = %x, %v; want an error", b, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Seal error = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), string(testMaterial)) {
				t.Fatal("error contains key material")
			}
		})
	}
}

// golden is a known-answer vector: the format and construction must never
// change by accident. Regenerate only with -update, for a new version.
type golden struct {
	Comment    string            `json:"comment"`
	Material   string            `json:"material"`
	KeyID      string            `json:"key_id"`
	MaterialID string            `json:"material_id"`
	Random     string            `json:"random"`
	Plaintext  string            `json:"plaintext"`
	Context    map[string]string `json:"context"`
	Blob       string            `json:"blob"`
}

func TestGolden(t *testing.T) {
	skipInFIPSMode(t)
	path := filepath.Join("testdata", "golden_v1.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []golden
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for i := range vs {
		v := &vs[i]
		mid, err := ParseMaterialID(v.MaterialID)
		if err != nil {
			t.Fatal(err)
		}
		blob, err := Seal(bytes.NewReader(unhex(t, v.Random)), unhex(t, v.Material), v.KeyID, mid, unhex(t, v.Plaintext), v.Context)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			v.Blob = hex.EncodeToString(blob)
			continue
		}
		if got := hex.EncodeToString(blob); got != v.Blob {
			t.Errorf("vector %d (%s): Seal = %s, golden %s", i, v.Comment, got, v.Blob)
		}
		pt, err := parseOpen(unhex(t, v.Material), unhex(t, v.Blob), v.Context)
		if err != nil || hex.EncodeToString(pt) != v.Plaintext {
			t.Errorf("vector %d (%s): Open(golden) = %x, %v", i, v.Comment, pt, err)
		}
	}
	if *update {
		out, err := json.MarshalIndent(vs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeyConcurrent shares one Key between goroutines, as a keyring cache
// would; run with -race.
func TestKeyConcurrent(t *testing.T) {
	t.Parallel()
	k, err := NewKey(testMaterial, testKeyID, testMaterialID)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			pt := []byte{byte(g)}
			for range 50 {
				blob, err := k.Seal(rand.Reader, pt, nil)
				if err != nil {
					errs <- err
					return
				}
				b, err := Parse(blob)
				if err != nil {
					errs <- err
					return
				}
				got, err := k.Open(b, nil)
				if err != nil || !bytes.Equal(got, pt) {
					errs <- errors.New("round trip failed")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		material []byte
		keyID    string
		want     error
	}{
		{"ok/uuid", testMaterial, testKeyID, nil},
		{"ok/mrk", testMaterial, testMRK, nil},
		{"fail/material_31", testMaterial[:31], testKeyID, ErrMaterial},
		{"fail/key_id_uppercase", testMaterial, strings.ToUpper(testKeyID), ErrInvalidID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := NewKey(tc.material, tc.keyID, testMaterialID)
			if !errors.Is(err, tc.want) {
				t.Fatalf("NewKey error = %v, want %v", err, tc.want)
			}
			if err == nil && k.MaterialID() != testMaterialID {
				t.Fatalf("MaterialID = %x", k.MaterialID())
			}
			if err != nil && k != nil {
				t.Fatal("NewKey returned a Key with an error")
			}
		})
	}
}

func TestDestroy(t *testing.T) {
	t.Parallel()
	k, err := NewKey(testMaterial, testKeyID, testMaterialID)
	if err != nil {
		t.Fatal(err)
	}
	k.Destroy()
	if k.ipad != [64]byte{} || k.opad != [64]byte{} {
		t.Fatal("Destroy left secret pads in memory")
	}
}
