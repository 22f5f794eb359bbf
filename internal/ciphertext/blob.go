package ciphertext

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/uuid"
)

// Sizes of the version 1 format, in bytes.
const (
	// Version1 is the first byte of every version 1 blob.
	Version1 = 0x01
	// Version2 is the first byte of a version 2 blob: the version 1 layout
	// and sizes, sealed so that Go's FIPS 140-3 module draws the IV (see
	// fips.go). Nodes in FIPS mode seal version 2; every node opens both.
	Version2 = 0x02
	// NonceSize is the size of N, the KDF nonce.
	NonceSize = 16
	// IVSize is the size of the AES-GCM IV.
	IVSize = 12
	// TagSize is the size of the AES-GCM tag.
	TagSize = 16
	// MaterialSize is the size of key material accepted by Seal and Open.
	MaterialSize = 32
	// HeaderSize is the size of the cleartext header: version, key-ID type,
	// key ID, material ID, N and IV.
	HeaderSize = 1 + 1 + 16 + 32 + NonceSize + IVSize
	// Overhead is the size of a blob minus the size of its plaintext.
	Overhead = HeaderSize + TagSize
	// MaxSize is the largest CiphertextBlob the KMS API accepts. A blob of a
	// 4096-byte plaintext (the API maximum) is 4096+Overhead = 4190 bytes.
	MaxSize = 6144
)

// Header field offsets.
const (
	offKeyType  = 1
	offKeyID    = 2
	offMaterial = offKeyID + 16
	offNonce    = offMaterial + 32
	offIV       = offNonce + NonceSize
)

// Key-ID types stored in byte 1 of the header.
const (
	keyTypeUUID = 0 // xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
	keyTypeMRK  = 1 // mrk- followed by 32 hex digits
)

var (
	// ErrMalformed is wrapped by Parse for any input that is not a valid
	// version 1 blob. The lead maps it to InvalidCiphertextException.
	ErrMalformed = errors.New("ciphertext: malformed blob")
	// ErrAuth is returned by Open for every authentication failure: wrong
	// material, wrong encryption context, or a tampered blob. It says
	// nothing about which part failed. The lead maps it to
	// InvalidCiphertextException with an empty message.
	ErrAuth = errors.New("ciphertext: message authentication failed")
	// ErrInvalidID is wrapped when a key ID or key-material ID is not in
	// canonical form (lowercase hex UUID, "mrk-" + 32 lowercase hex digits,
	// 64 lowercase hex digits for a material ID).
	ErrInvalidID = errors.New("ciphertext: invalid identifier")
	// ErrMaterial is returned by Seal, Open and NewKey when key material is
	// not exactly MaterialSize bytes. It is a programming error, not a
	// property of the ciphertext.
	ErrMaterial = errors.New("ciphertext: key material must be 32 bytes")
)

// Blob is a parsed version 1 or 2 ciphertext blob.
type Blob struct {
	// Version is Version1 or Version2; zero means Version1.
	Version byte
	// KeyID is the key ID of the KMS key (UUID or "mrk-" form, lowercase).
	KeyID string
	// MaterialID names the key-material version that sealed the blob.
	MaterialID [32]byte
	// Nonce is N, the per-message KDF nonce.
	Nonce [NonceSize]byte
	// IV is the AES-GCM IV.
	IV [IVSize]byte
	// Body is the AES-GCM ciphertext followed by the 16-byte tag. After
	// Parse it aliases the parsed input.
	Body []byte
}

// Parse parses a version 1 blob. It returns an error wrapping ErrMalformed
// if b is too short, has an unknown version or key-ID type. Parse does not
// authenticate anything; only Open does. The returned Blob's Body aliases b.
func Parse(b []byte) (*Blob, error) {
	if len(b) < Overhead {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the minimum %d", ErrMalformed, len(b), Overhead)
	}
	if b[0] != Version1 && b[0] != Version2 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrMalformed, b[0])
	}
	id, err := formatKeyID(b[offKeyType], b[offKeyID:offMaterial])
	if err != nil {
		return nil, err
	}
	bl := &Blob{Version: b[0], KeyID: id, Body: b[HeaderSize:]}
	copy(bl.MaterialID[:], b[offMaterial:offNonce])
	copy(bl.Nonce[:], b[offNonce:offIV])
	copy(bl.IV[:], b[offIV:HeaderSize])
	return bl, nil
}

// Marshal returns the blob's bytes. It returns an error wrapping
// ErrInvalidID if KeyID is not canonical, and one wrapping ErrMalformed if
// Body is shorter than a tag.
func (b *Blob) Marshal() ([]byte, error) {
	if len(b.Body) < TagSize {
		return nil, fmt.Errorf("%w: body shorter than the tag", ErrMalformed)
	}
	out := make([]byte, HeaderSize+len(b.Body))
	if err := b.putHeader(out); err != nil {
		return nil, err
	}
	copy(out[HeaderSize:], b.Body)
	return out, nil
}

// putHeader writes the header into h[:HeaderSize].
func (b *Blob) putHeader(h []byte) error {
	h[0] = b.version()
	if err := parseKeyID(b.KeyID, h[offKeyType:offMaterial]); err != nil {
		return err
	}
	copy(h[offMaterial:], b.MaterialID[:])
	copy(h[offNonce:], b.Nonce[:])
	copy(h[offIV:], b.IV[:])
	return nil
}

// version returns the blob's version byte.
func (b *Blob) version() byte {
	if b.Version == 0 {
		return Version1
	}
	return b.Version
}

// parseKeyID writes the 17-byte header encoding (type, 16 raw bytes) of id
// into dst. It returns an error wrapping ErrInvalidID if id is neither a
// lowercase UUID nor "mrk-" followed by 32 lowercase hex digits. Both forms
// are 36 characters long.
func parseKeyID(id string, dst []byte) error {
	if len(id) != 36 {
		return fmt.Errorf("%w: key ID must be 36 characters", ErrInvalidID)
	}
	if id[:4] == "mrk-" {
		dst[0] = keyTypeMRK
		for i := range 16 {
			hi, ok1 := fromHex(id[4+2*i])
			lo, ok2 := fromHex(id[5+2*i])
			if !ok1 || !ok2 {
				return fmt.Errorf("%w: multi-Region key ID must be mrk- and 32 lowercase hex digits", ErrInvalidID)
			}
			dst[1+i] = hi<<4 | lo
		}
		return nil
	}
	dst[0] = keyTypeUUID
	j := 1
	for i := 0; i < 36; {
		switch i {
		case 8, 13, 18, 23:
			if id[i] != '-' {
				return fmt.Errorf("%w: key ID is not a UUID", ErrInvalidID)
			}
			i++
			continue
		}
		hi, ok1 := fromHex(id[i])
		lo, ok2 := fromHex(id[i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: key ID is not a lowercase UUID", ErrInvalidID)
		}
		dst[j] = hi<<4 | lo
		j++
		i += 2
	}
	return nil
}

// fromHex decodes one lowercase hex digit.
func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// formatKeyID is the inverse of parseKeyID.
func formatKeyID(typ byte, raw []byte) (string, error) {
	var buf [36]byte
	switch typ {
	case keyTypeUUID:
		return uuid.Format(raw), nil
	case keyTypeMRK:
		copy(buf[:4], "mrk-")
		hex.Encode(buf[4:36], raw[:16])
		return string(buf[:]), nil
	}
	return "", fmt.Errorf("%w: unknown key-ID type %d", ErrMalformed, typ)
}

// MaterialIDString returns the KMS KeyMaterialId form of id: 64 lowercase
// hex digits.
func MaterialIDString(id [32]byte) string {
	return hex.EncodeToString(id[:])
}

// ParseMaterialID parses a KMS KeyMaterialId. It returns an error wrapping
// ErrInvalidID unless s is exactly 64 lowercase hex digits.
func ParseMaterialID(s string) ([32]byte, error) {
	var id [32]byte
	if len(s) != 64 {
		return id, fmt.Errorf("%w: key material ID must be 64 hex digits", ErrInvalidID)
	}
	for i := range id {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return [32]byte{}, fmt.Errorf("%w: key material ID must be lowercase hex", ErrInvalidID)
		}
		id[i] = hi<<4 | lo
	}
	return id, nil
}
