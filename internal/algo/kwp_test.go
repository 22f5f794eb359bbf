package algo

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKeyWrapPad checks the known-answer vectors of RFC 5649 section 6.
func TestKeyWrapPad(t *testing.T) {
	t.Parallel()
	const kek = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"
	cases := []struct {
		name, kek, pt, ct string
	}{
		{"ok/rfc5649-20-octets", kek, "c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"ok/rfc5649-7-octets", kek, "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := KeyWrapPad(unhex(t, c.kek), unhex(t, c.pt))
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != c.ct {
				t.Fatalf("wrap = %x, want %s", got, c.ct)
			}
			pt, err := KeyUnwrapPad(unhex(t, c.kek), got)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(pt) != c.pt {
				t.Fatalf("unwrap = %x, want %s", pt, c.pt)
			}
		})
	}
}

func TestKeyUnwrapPadRejects(t *testing.T) {
	t.Parallel()
	kek := unhex(t, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	good := unhex(t, "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	other := bytes.Clone(kek)
	other[0] ^= 1
	cases := []struct {
		name string
		kek  []byte
		ct   []byte
	}{
		{"fail/tampered-first-block", kek, flip(0)},
		{"fail/tampered-last-block", kek, flip(len(good) - 1)},
		{"fail/wrong-kek", other, good},
		{"fail/short", kek, good[:8]},
		{"fail/not-multiple-of-8", kek, good[:20]},
		{"fail/truncated", kek, good[:24]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if pt, err := KeyUnwrapPad(c.kek, c.ct); err == nil {
				t.Fatalf("unwrap succeeded: %x", pt)
			}
		})
	}
}

func FuzzKeyWrapPad(f *testing.F) {
	f.Add([]byte{1}, []byte{0})
	f.Add(bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 40))
	kek := bytes.Repeat([]byte{0x42}, 32)
	f.Fuzz(func(t *testing.T, pt, ct []byte) {
		if len(pt) > 0 {
			w, err := KeyWrapPad(kek, pt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := KeyUnwrapPad(kek, w)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("round trip failed: %v", err)
			}
		}
		// Arbitrary input must never panic, and what unwraps must re-wrap
		// to the same bytes (the encoding is canonical).
		if got, err := KeyUnwrapPad(kek, ct); err == nil {
			w, err := KeyWrapPad(kek, got)
			if err != nil || !bytes.Equal(w, ct) {
				t.Fatalf("unwrapped input does not re-wrap to itself")
			}
		}
	})
}

func BenchmarkKeyUnwrapPad(b *testing.B) {
	kek := bytes.Repeat([]byte{0x42}, 32)
	w, _ := KeyWrapPad(kek, bytes.Repeat([]byte{1}, 1218)) // an RSA-2048 PKCS#8 key
	for b.Loop() {
		if _, err := KeyUnwrapPad(kek, w); err != nil {
			b.Fatal(err)
		}
	}
}
