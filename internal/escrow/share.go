package escrow

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

const (
	version = 1
	// KeySize is the size of a root key.
	KeySize  = 32
	setSize  = 16
	sumSize  = 16
	linePre  = "trent-root-key-share:"
	maxShare = 64 << 10 // far above any real share (255 keys)
)

var (
	// ErrMalformed is returned (wrapped) for a share that does not parse.
	ErrMalformed = errors.New("escrow: malformed share")
	// ErrChecksum is returned (wrapped) for a share whose checksum does not
	// match: it was damaged.
	ErrChecksum = errors.New("escrow: share checksum mismatch")
)

// Share is one share of an escrow.
type Share struct {
	// Set is the same in every share of one escrow.
	Set [setSize]byte
	// Threshold is the number of shares that rebuild the keys.
	Threshold int
	// Total is the number of shares made.
	Total int
	// Index is this share's number, 1 to Total.
	Index int
	// KeyIDs are the root key IDs the shares rebuild, in key file order.
	KeyIDs []string
	// Y is the share itself: KeySize bytes per key. Secret.
	Y []byte
}

// SetID returns the set in hexadecimal, for messages and file comments.
func (s *Share) SetID() string { return hex.EncodeToString(s.Set[:8]) }

// marshalBinary encodes s as the share format describes.
func (s *Share) marshalBinary() []byte {
	b := []byte{version}
	b = append(b, s.Set[:]...)
	b = append(b, byte(s.Threshold), byte(s.Total), byte(s.Index), byte(len(s.KeyIDs)))
	for _, id := range s.KeyIDs {
		b = append(b, byte(len(id)))
		b = append(b, id...)
	}
	b = append(b, s.Y...)
	return append(b, sumOf(b)...)
}

// parseBinary decodes a binary share, checking every field.
func parseBinary(b []byte) (*Share, error) {
	if len(b) < 1+setSize+4+sumSize {
		return nil, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	if b[0] != version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, b[0], version)
	}
	body, sum := b[:len(b)-sumSize], b[len(b)-sumSize:]
	if subtle.ConstantTimeCompare(sum, sumOf(body)) != 1 {
		return nil, ErrChecksum
	}
	s := &Share{}
	copy(s.Set[:], body[1:])
	p := body[1+setSize:]
	s.Threshold, s.Total, s.Index = int(p[0]), int(p[1]), int(p[2])
	m := int(p[3])
	p = p[4:]
	if s.Threshold < 2 || s.Threshold > s.Total {
		return nil, fmt.Errorf("%w: threshold %d of %d shares", ErrMalformed, s.Threshold, s.Total)
	}
	if s.Index < 1 || s.Index > s.Total {
		return nil, fmt.Errorf("%w: index %d of %d shares", ErrMalformed, s.Index, s.Total)
	}
	if m == 0 {
		return nil, fmt.Errorf("%w: no root key", ErrMalformed)
	}
	for range m {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return nil, fmt.Errorf("%w: truncated root key ID", ErrMalformed)
		}
		id := string(p[1 : 1+int(p[0])])
		if !validID(id) {
			return nil, fmt.Errorf("%w: bad root key ID %q", ErrMalformed, id)
		}
		s.KeyIDs = append(s.KeyIDs, id)
		p = p[1+int(p[0]):]
	}
	if len(p) != KeySize*m {
		return nil, fmt.Errorf("%w: %d share bytes for %d root keys", ErrMalformed, len(p), m)
	}
	s.Y = bytes.Clone(p)
	return s, nil
}

// validID reports whether id can be a root key ID in a key file line
// ("id:hex"): 1 to 255 printable ASCII characters, no colon or space.
func validID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// Marshal returns the share's text file: comments for people, then the
// share line.
func (s *Share) Marshal() []byte {
	var b bytes.Buffer
	keys := "root key " + s.KeyIDs[0]
	if len(s.KeyIDs) > 1 {
		keys = "root keys " + strings.Join(s.KeyIDs, ", ") + " (the last is current)"
	}
	fmt.Fprintf(&b, "# Trent root key share %d of %d, escrow set %s: any %d of the %d shares\n", s.Index, s.Total, s.SetID(), s.Threshold, s.Total)
	fmt.Fprintf(&b, "# rebuild %s with `trent root-key recover`.\n", keys)
	fmt.Fprintf(&b, "# Keep it secret, apart from Trent's backups and from the other shares (docs/escrow.md).\n")
	bin := s.marshalBinary()
	b.WriteString(linePre)
	// AppendEncode into a buffer that is cleared, not EncodeToString: no
	// copy of the share is left in a string.
	enc := base64.RawURLEncoding.AppendEncode(nil, bin)
	b.Write(enc)
	b.WriteByte('\n')
	clear(enc)
	clear(bin)
	return b.Bytes()
}

// Parse reads a share file's text (not encrypted: ReadShare decrypts). It
// returns an error wrapping ErrMalformed or ErrChecksum.
func Parse(data []byte) (*Share, error) {
	if len(data) > maxShare {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(data))
	}
	var line []byte
	for l := range bytes.SplitSeq(data, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if len(bytes.TrimSpace(l)) == 0 || l[0] == '#' {
			continue
		}
		if line != nil {
			return nil, fmt.Errorf("%w: more than one share line", ErrMalformed)
		}
		if !bytes.HasPrefix(l, []byte(linePre)) {
			return nil, fmt.Errorf("%w: not a Trent root key share (want a line starting %q)", ErrMalformed, linePre)
		}
		line = l[len(linePre):]
	}
	if line == nil {
		return nil, fmt.Errorf("%w: no share line", ErrMalformed)
	}
	bin := make([]byte, base64.RawURLEncoding.DecodedLen(len(line)))
	defer clear(bin)
	n, err := base64.RawURLEncoding.Strict().Decode(bin, line)
	if err != nil {
		// The position in the error says where without echoing the share.
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return parseBinary(bin[:n])
}

// equalHeader reports whether a and b describe the same escrow.
func equalHeader(a, b *Share) bool {
	if a.Set != b.Set || a.Threshold != b.Threshold || a.Total != b.Total || len(a.KeyIDs) != len(b.KeyIDs) {
		return false
	}
	for i := range a.KeyIDs {
		if a.KeyIDs[i] != b.KeyIDs[i] {
			return false
		}
	}
	return true
}

// sumOf returns the checksum of a binary share's body.
func sumOf(body []byte) []byte {
	sum := sha256.Sum256(body)
	return sum[:sumSize]
}
