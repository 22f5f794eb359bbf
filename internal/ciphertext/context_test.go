package ciphertext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"strings"
	"testing"
)

// decodeContext is the inverse of EncodeContext. It exists to prove
// injectivity: if decode(encode(m)) == m for every m, no two maps share an
// encoding. It also rejects non-canonical input (unsorted or duplicate
// keys, trailing bytes, non-minimal varints).
func decodeContext(b []byte) (map[string]string, error) {
	bad := errors.New("bad context encoding")
	next := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 || n != uvarintLen(v) {
			return 0, bad
		}
		b = b[n:]
		return v, nil
	}
	str := func() (string, error) {
		l, err := next()
		if err != nil || l > uint64(len(b)) {
			return "", bad
		}
		s := string(b[:l])
		b = b[l:]
		return s, nil
	}
	n, err := next()
	if err != nil || n > uint64(len(b)) {
		return nil, bad
	}
	m := make(map[string]string, n)
	prev := ""
	for i := range n {
		k, err := str()
		if err != nil {
			return nil, err
		}
		if i > 0 && k <= prev {
			return nil, bad
		}
		v, err := str()
		if err != nil {
			return nil, err
		}
		m[k], prev = v, k
	}
	if len(b) != 0 {
		return nil, bad
	}
	return m, nil
}

func TestEncodeContext(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range 40 {
		many[strings.Repeat("k", i)] = strings.Repeat("v", 40-i)
	}
	cases := []struct {
		name string
		ec   map[string]string
		want []byte // nil: only check round trip and length
	}{
		{"ok/nil", nil, []byte{0}},
		{"ok/empty", map[string]string{}, []byte{0}},
		{"ok/one", map[string]string{"a": "bc"}, []byte{1, 1, 'a', 2, 'b', 'c'}},
		{"ok/sorted_by_bytes", map[string]string{"b": "", "B": "x", "a": "y"},
			[]byte{3, 1, 'B', 1, 'x', 1, 'a', 1, 'y', 1, 'b', 0}},
		{"ok/empty_key_and_value", map[string]string{"": ""}, []byte{1, 0, 0}},
		{"ok/long_value_varint", map[string]string{"k": strings.Repeat("x", 200)}, nil},
		{"ok/more_than_stack_sort", many, nil},
		{"ok/utf8", map[string]string{"ключ": "значение", "鍵": "値"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := EncodeContext(tc.ec)
			if tc.want != nil && !bytes.Equal(got, tc.want) {
				t.Fatalf("EncodeContext = %x, want %x", got, tc.want)
			}
			if len(got) != contextLen(tc.ec) {
				t.Fatalf("contextLen = %d, encoding is %d bytes", contextLen(tc.ec), len(got))
			}
			back, err := decodeContext(got)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.ec) != len(back) || !maps.Equal(back, tc.ec) {
				t.Fatalf("round trip = %v, want %v", back, tc.ec)
			}
			if prefixed := AppendContext([]byte("hdr"), tc.ec); !bytes.Equal(prefixed, append([]byte("hdr"), got...)) {
				t.Fatalf("AppendContext = %x", prefixed)
			}
		})
	}
}

func TestEncodeContextDistinct(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		a, b map[string]string
	}{
		{"fail/shifted_boundary", map[string]string{"ab": "c"}, map[string]string{"a": "bc"}},
		{"fail/key_value_swap", map[string]string{"a": "b"}, map[string]string{"b": "a"}},
		{"fail/extra_pair", map[string]string{"a": "b"}, map[string]string{"a": "b", "c": "d"}},
		{"fail/empty_pair_vs_none", map[string]string{"": ""}, nil},
		{"fail/case", map[string]string{"Key": "v"}, map[string]string{"key": "v"}},
		{"fail/pair_split", map[string]string{"a": "b", "c": "d"}, map[string]string{"a": "b\x01c\x01d"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if bytes.Equal(EncodeContext(tc.a), EncodeContext(tc.b)) {
				t.Fatalf("%v and %v encode alike: %x", tc.a, tc.b, EncodeContext(tc.a))
			}
		})
	}
}
