package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
)

// HashSize is the size of a record hash.
const HashSize = sha256.Size

// Hash is a SHA-256 chain hash.
type Hash [HashSize]byte

// String returns h in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// genesis returns the prev hash of a node's first record. Binding the node
// ID into it stops records being moved between nodes' trails.
func genesis(node string) Hash {
	return sha256.Sum256([]byte("trent-audit-v1\x00" + node))
}

// chainHash returns SHA-256(prev ‖ uint64be(seq) ‖ event), the hash of a
// record.
func chainHash(prev Hash, seq uint64, event []byte) Hash {
	h := sha256.New()
	h.Write(prev[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	h.Write(b[:])
	h.Write(event)
	var out Hash
	h.Sum(out[:0])
	return out
}

// record is one parsed trail line.
type record struct {
	Seq   uint64
	Prev  Hash
	Hash  Hash
	Event []byte // the exact event bytes of the line (aliases the input)
}

// Line layout. A line is exactly
//
//	{"seq":N,"prev":"<64 hex>","hash":"<64 hex>","event":<event JSON>}\n
//
// with no other bytes, so that any changed byte is detected: either the
// line no longer has this layout, or its hash no longer matches.
const (
	linePrefixSeq  = `{"seq":`
	linePrefixPrev = `,"prev":"`
	linePrefixHash = `","hash":"`
	linePrefixEvt  = `","event":`
)

// appendRecord appends the line of a record (with its newline) to dst.
func appendRecord(dst []byte, seq uint64, prev, hash Hash, event []byte) []byte {
	dst = append(dst, linePrefixSeq...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, linePrefixPrev...)
	dst = hex.AppendEncode(dst, prev[:])
	dst = append(dst, linePrefixHash...)
	dst = hex.AppendEncode(dst, hash[:])
	dst = append(dst, linePrefixEvt...)
	dst = append(dst, event...)
	dst = append(dst, '}', '\n')
	return dst
}

var (
	errMalformed = errors.New("malformed record line")
	errBadHash   = errors.New("record hash does not match its content")
)

// parseRecord parses one line (without its newline). It returns errMalformed
// if the line does not have the exact layout, and errBadHash (with the
// parsed record) if the layout is right but the stored hash is not the hash
// of prev, seq and event. The event is checked only for being a JSON object
// delimited by braces; its content is covered by the hash.
func parseRecord(line []byte) (record, error) {
	var r record
	rest, ok := bytes.CutPrefix(line, []byte(linePrefixSeq))
	if !ok {
		return r, errMalformed
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || i > 20 || (i > 1 && rest[0] == '0') {
		return r, errMalformed
	}
	seq, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	if err != nil {
		return r, errMalformed
	}
	r.Seq = seq
	rest = rest[i:]
	if rest, ok = bytes.CutPrefix(rest, []byte(linePrefixPrev)); !ok {
		return r, errMalformed
	}
	if rest, ok = cutHex(rest, &r.Prev); !ok {
		return r, errMalformed
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(linePrefixHash)); !ok {
		return r, errMalformed
	}
	if rest, ok = cutHex(rest, &r.Hash); !ok {
		return r, errMalformed
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(linePrefixEvt)); !ok {
		return r, errMalformed
	}
	if len(rest) < 3 || rest[0] != '{' || rest[len(rest)-1] != '}' || rest[len(rest)-2] != '}' {
		return r, errMalformed
	}
	r.Event = rest[:len(rest)-1]
	if chainHash(r.Prev, r.Seq, r.Event) != r.Hash {
		return r, errBadHash
	}
	return r, nil
}

// cutHex decodes 64 lower-case hex digits at the start of b into h.
func cutHex(b []byte, h *Hash) ([]byte, bool) {
	if len(b) < 2*HashSize {
		return b, false
	}
	for _, c := range b[:2*HashSize] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return b, false
		}
	}
	if _, err := hex.Decode(h[:], b[:2*HashSize]); err != nil {
		return b, false
	}
	return b[2*HashSize:], true
}
