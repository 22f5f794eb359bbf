package ciphertext

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const (
	testKeyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
	testMRK   = "mrk-1234abcd12ab34cd56ef1234567890ab"
)

// validBlob returns a syntactically valid blob with a body of n bytes.
func validBlob(n int) []byte {
	b := make([]byte, HeaderSize+n)
	b[0] = Version1
	if err := parseKeyID(testKeyID, b[offKeyType:offMaterial]); err != nil {
		panic(err)
	}
	for i := offMaterial; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

func TestParse(t *testing.T) {
	t.Parallel()
	mrk := validBlob(20)
	mrk[offKeyType] = keyTypeMRK
	cases := []struct {
		name    string
		in      []byte
		wantKey string
	}{
		{"ok/uuid_empty_plaintext", validBlob(TagSize), testKeyID},
		{"ok/uuid", validBlob(100), testKeyID},
		{"ok/mrk", mrk, "mrk-" + strings.ReplaceAll(testKeyID, "-", "")},
		{"fail/empty", nil, ""},
		{"fail/short_by_one", validBlob(TagSize - 1), ""},
		{"fail/version0", append([]byte{0}, validBlob(20)[1:]...), ""},
		{"fail/version3", append([]byte{3}, validBlob(20)[1:]...), ""},
		{"fail/key_type2", func() []byte { b := validBlob(20); b[offKeyType] = 2; return b }(), ""},
		{"fail/key_type_ff", func() []byte { b := validBlob(20); b[offKeyType] = 0xff; return b }(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bl, err := Parse(tc.in)
			if strings.HasPrefix(tc.name, "fail/") {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse error = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if bl.KeyID != tc.wantKey {
				t.Fatalf("KeyID = %q, want %q", bl.KeyID, tc.wantKey)
			}
			if !bytes.Equal(bl.Body, tc.in[HeaderSize:]) || bl.MaterialID[0] != tc.in[offMaterial] ||
				bl.Nonce[0] != tc.in[offNonce] || bl.IV[IVSize-1] != tc.in[HeaderSize-1] {
				t.Fatal("fields do not match the input")
			}
			out, err := bl.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.in) {
				t.Fatalf("Marshal(Parse(b)) = %x, want %x", out, tc.in)
			}
		})
	}
}

func TestKeyID(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, id string }{
		{"ok/uuid", testKeyID},
		{"ok/uuid_zero", "00000000-0000-0000-0000-000000000000"},
		{"ok/mrk", testMRK},
		{"fail/uppercase_uuid", strings.ToUpper(testKeyID)},
		{"fail/uppercase_mrk", "mrk-1234ABCD12ab34cd56ef1234567890ab"},
		{"fail/MRK_prefix", "MRK-1234abcd12ab34cd56ef1234567890ab"},
		{"fail/empty", ""},
		{"fail/short", testKeyID[:35]},
		{"fail/long", testKeyID + "0"},
		{"fail/dash_moved", "1234abc-d12ab-34cd-56ef-1234567890ab"},
		{"fail/no_dashes", "1234abcd12ab34cd56ef1234567890ab"},
		{"fail/non_hex", "1234abcd-12ab-34cd-56ef-1234567890ag"},
		{"fail/arn", "arn:aws:kms:us-east-1:111122223333:key/" + testKeyID},
		{"fail/alias", "alias/my-key-name-that-is-36-chars-x"},
		{"fail/mrk_short", "mrk-1234abcd12ab34cd56ef1234567890a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var raw [17]byte
			err := parseKeyID(tc.id, raw[:])
			if strings.HasPrefix(tc.name, "fail/") {
				if !errors.Is(err, ErrInvalidID) {
					t.Fatalf("parseKeyID(%q) error = %v, want ErrInvalidID", tc.id, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := formatKeyID(raw[0], raw[1:])
			if err != nil || back != tc.id {
				t.Fatalf("formatKeyID = %q, %v; want %q", back, err, tc.id)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		b    Blob
		want error
	}{
		{"fail/bad_key_id", Blob{KeyID: "alias/x", Body: make([]byte, TagSize)}, ErrInvalidID},
		{"fail/short_body", Blob{KeyID: testKeyID, Body: make([]byte, TagSize-1)}, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tc.b.Marshal(); !errors.Is(err, tc.want) {
				t.Fatalf("Marshal error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMaterialID(t *testing.T) {
	t.Parallel()
	var id [32]byte
	for i := range id {
		id[i] = byte(0xa0 + i)
	}
	s := MaterialIDString(id)
	cases := []struct{ name, in string }{
		{"ok/roundtrip", s},
		{"ok/zero", strings.Repeat("0", 64)},
		{"fail/uppercase", strings.ToUpper(s)},
		{"fail/short", s[:63]},
		{"fail/long", s + "0"},
		{"fail/non_hex", s[:63] + "g"},
		{"fail/empty", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseMaterialID(tc.in)
			if strings.HasPrefix(tc.name, "fail/") {
				if !errors.Is(err, ErrInvalidID) {
					t.Fatalf("ParseMaterialID(%q) error = %v, want ErrInvalidID", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if MaterialIDString(got) != tc.in {
				t.Fatalf("round trip = %s, want %s", MaterialIDString(got), tc.in)
			}
		})
	}
	if len(s) != 64 || s[:4] != "a0a1" {
		t.Fatalf("MaterialIDString = %s", s)
	}
}
