package ciphertext

import (
	"encoding/binary"
	"slices"
)

// sortOnStack is the number of pairs sorted without a heap allocation.
const sortOnStack = 16

// EncodeContext returns the canonical encoding of an encryption context:
//
//	uvarint(n) || for each pair in ascending byte order of keys: uvarint(len(k)) || k || uvarint(len(v)) || v
//
// The encoding is injective (two different maps never encode alike) and nil
// and the empty map both encode as the single byte 0x00.
func EncodeContext(ec map[string]string) []byte {
	return AppendContext(make([]byte, 0, contextLen(ec)), ec)
}

// AppendContext appends the encoding of ec described at EncodeContext to
// dst and returns the extended slice.
func AppendContext(dst []byte, ec map[string]string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ec)))
	switch len(ec) {
	case 0:
		return dst
	case 1:
		for k, v := range ec {
			dst = appendString(dst, k)
			dst = appendString(dst, v)
		}
		return dst
	}
	var arr [sortOnStack]string
	keys := arr[:0]
	if len(ec) > sortOnStack {
		keys = make([]string, 0, len(ec))
	}
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = appendString(dst, k)
		dst = appendString(dst, ec[k])
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// contextLen returns len(EncodeContext(ec)) without encoding.
func contextLen(ec map[string]string) int {
	n := uvarintLen(uint64(len(ec)))
	for k, v := range ec {
		n += uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(v))) + len(v)
	}
	return n
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
