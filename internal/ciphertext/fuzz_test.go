package ciphertext

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

// FuzzParse checks that Parse never panics, that every accepted input
// re-marshals to exactly the same bytes (the format is canonical), and that
// Parse(Marshal(b)) reproduces b.
func FuzzParse(f *testing.F) {
	f.Add(validBlob(TagSize))
	f.Add(validBlob(40))
	mrk := validBlob(20)
	mrk[offKeyType] = keyTypeMRK
	f.Add(mrk)
	f.Add([]byte{})
	f.Add([]byte{Version1})
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || b != nil {
				t.Fatalf("Parse = %v, %v; want nil, ErrMalformed", b, err)
			}
			return
		}
		out, err := b.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed blob: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("Marshal(Parse(x)) = %x, want %x", out, in)
		}
		b2, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		if b2.KeyID != b.KeyID || b2.MaterialID != b.MaterialID || b2.Nonce != b.Nonce ||
			b2.IV != b.IV || !bytes.Equal(b2.Body, b.Body) {
			t.Fatal("Parse(Marshal(b)) != b")
		}
	})
}

// FuzzOpen is a malleability check in the spirit of age's
// FuzzMalleability: no byte string other than the sealed blob opens under
// the key and context it was sealed with.
func FuzzOpen(f *testing.F) {
	ec := map[string]string{"fuzz": "context"}
	// Fixed randomness: the fuzzing engine reruns this setup in every worker
	// process, and all must agree on the one blob that may open.
	blob, err := Seal(bytes.NewReader(bytes.Repeat([]byte{0x5a}, NonceSize+IVSize)), testMaterial, testKeyID, testMaterialID, []byte("fuzzing plaintext"), ec)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	for _, i := range []int{0, 1, offKeyID, offMaterial, offNonce, offIV, HeaderSize, len(blob) - 1} {
		c := append([]byte{}, blob...)
		c[i] ^= 1
		f.Add(c)
	}
	f.Add(blob[:len(blob)-1])
	f.Add(append(append([]byte{}, blob...), 0))
	k, err := NewKey(testMaterial, testKeyID, testMaterialID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Parse(in)
		if err != nil {
			return
		}
		pt, err := k.Open(b, ec)
		if bytes.Equal(in, blob) {
			if err != nil || string(pt) != "fuzzing plaintext" {
				t.Fatalf("original blob does not open: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("tampered blob %x opened to %q", in, pt)
		}
		if err != ErrAuth {
			t.Fatalf("Open error = %v, want bare ErrAuth", err)
		}
	})
}

// contextFromBytes splits s at 0x00 into alternating keys and values.
func contextFromBytes(s []byte) map[string]string {
	parts := bytes.Split(s, []byte{0})
	m := map[string]string{}
	for i := 0; i+1 < len(parts); i += 2 {
		m[string(parts[i])] = string(parts[i+1])
	}
	return m
}

// FuzzContext checks that the context encoding is injective (decodes back
// to the map) and that different maps never encode alike.
func FuzzContext(f *testing.F) {
	f.Add([]byte("ab\x00c"), []byte("a\x00bc"))
	f.Add([]byte(""), []byte("\x00"))
	f.Add([]byte("k\x00v\x00k2\x00v2"), []byte("k2\x00v2\x00k\x00v"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ma, mb := contextFromBytes(a), contextFromBytes(b)
		ea, eb := EncodeContext(ma), EncodeContext(mb)
		back, err := decodeContext(ea)
		if err != nil || !maps.Equal(back, ma) {
			t.Fatalf("decode(encode(%q)) = %q, %v", ma, back, err)
		}
		if maps.Equal(ma, mb) != bytes.Equal(ea, eb) {
			t.Fatalf("maps %q and %q: equal=%v but encodings equal=%v", ma, mb, maps.Equal(ma, mb), bytes.Equal(ea, eb))
		}
	})
}
