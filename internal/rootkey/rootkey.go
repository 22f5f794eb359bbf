// Package rootkey is Trent's root of trust: the key that seals every piece of
// key material and every secret before it reaches storage.
//
// A Provider seals with its current root key and opens blobs sealed under any
// root key it still holds, found by the root key ID written in the sealed
// blob's header. Root-key rotation is therefore: add a new current key, reseal
// every stored blob (SealedBy tells which are old), then retire the old key.
//
// # Sealed blob format (version 1)
//
//	0x01 | len(rootKeyID) (1 byte) | rootKeyID | provider-specific payload
//
// The file provider's payload is nonce(12) | AES-256-GCM(ciphertext|tag) with
// the caller's associated data, which binds a blob to its owner (for key
// material: the key ID and material ID), so a blob copied onto another record
// does not open.
package rootkey

import (
	"errors"
	"fmt"
)

// ErrOpen is returned (wrapped) when a blob cannot be opened: it was sealed
// under a root key this provider does not hold, it was modified, or the
// associated data differs.
var ErrOpen = errors.New("rootkey: cannot open sealed blob")

// Provider seals and opens secrets under a root key.
// Implementations are safe for concurrent use.
type Provider interface {
	// Seal encrypts and authenticates plaintext with aad under the current
	// root key and returns a self-describing blob.
	Seal(plaintext, aad []byte) ([]byte, error)
	// Open reverses Seal. It returns an error wrapping ErrOpen on any
	// authentication failure or unknown root key.
	Open(sealed, aad []byte) ([]byte, error)
	// CurrentID names the root key Seal uses now.
	CurrentID() string
	// Close releases resources (HSM sessions).
	Close() error
}

// Rotator is an optional capability: a provider that can make a new root key
// current while keeping the old ones able to open.
type Rotator interface {
	// Rotate creates a new root key, makes it current and returns its ID.
	Rotate() (string, error)
	// Retire forgets the root key with the given ID. Blobs sealed under it no
	// longer open; callers reseal them first.
	Retire(id string) error
}

// Lister is an optional capability: a provider that can name every root key
// it holds, so that an error can say which keys a node has when the store
// needs another.
type Lister interface {
	// IDs returns the IDs of the root keys the provider can open with.
	IDs() []string
}

const formatV1 = 0x01

// SealedBy returns the ID of the root key that sealed blob.
func SealedBy(blob []byte) (string, error) {
	id, _, err := SplitHeader(blob)
	return id, err
}

// The sealed blob format, for the providers (FileProvider here, the
// PKCS#11 provider in rootkey/pkcs11): a header naming the root key that
// sealed the blob, then the provider's payload, authenticated with the
// header bound in as associated data (HeaderAAD).

// AppendHeader writes the version-1 header for root key id.
func AppendHeader(dst []byte, id string) []byte {
	dst = append(dst, formatV1, byte(len(id)))
	return append(dst, id...)
}

// SplitHeader parses the header and returns the root key ID and payload,
// or an error wrapping ErrOpen.
func SplitHeader(blob []byte) (id string, payload []byte, err error) {
	if len(blob) < 2 || blob[0] != formatV1 {
		return "", nil, fmt.Errorf("%w: unknown format", ErrOpen)
	}
	n := int(blob[1])
	if n == 0 || len(blob) < 2+n {
		return "", nil, fmt.Errorf("%w: truncated header", ErrOpen)
	}
	return string(blob[2 : 2+n]), blob[2+n:], nil
}

// HeaderAAD binds the header to the payload: the caller's aad is prefixed
// with the header so a blob's root key ID cannot be swapped.
func HeaderAAD(header, aad []byte) []byte {
	out := make([]byte, 0, len(header)+len(aad))
	out = append(out, header...)
	return append(out, aad...)
}
