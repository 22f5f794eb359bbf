package ciphertext

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
)

// kdfLabel is the SP 800-108 Label of the version 1 per-message key.
const kdfLabel = "trent symmetric v1"

// kdfMsgLen is the length of the HMAC input for the version 1 KDF:
// [1]_32 || Label || 0x00 || Context (the header) || [256]_32.
const kdfMsgLen = 4 + len(kdfLabel) + 1 + HeaderSize + 4

// Key is one key-material version of one KMS key, prepared for sealing and
// opening. It holds the HMAC pads of the material, so it is as secret as
// the material itself. A Key is immutable and safe for concurrent use;
// callers may cache one per material version. Nothing derived per message
// is kept: each Seal derives a fresh AES key from a fresh nonce.
type Key struct {
	ipad, opad [sha256.BlockSize]byte
	keyID      [17]byte // type byte and 16 raw bytes, as in the header
	materialID [32]byte
}

// NewKey prepares material (exactly 32 bytes) of the KMS key keyID, whose
// key-material ID is materialID. It returns ErrMaterial if material has the
// wrong length and an error wrapping ErrInvalidID if keyID is not a
// canonical key ID. NewKey keeps no reference to material.
func NewKey(material []byte, keyID string, materialID [32]byte) (*Key, error) {
	k := new(Key)
	if err := k.init(material, keyID, materialID); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Key) init(material []byte, keyID string, materialID [32]byte) error {
	if len(material) != MaterialSize {
		return ErrMaterial
	}
	if err := parseKeyID(keyID, k.keyID[:]); err != nil {
		return err
	}
	k.materialID = materialID
	setPads(&k.ipad, &k.opad, material)
	return nil
}

// setPads computes the HMAC pads of a key of at most one block.
func setPads(ipad, opad *[sha256.BlockSize]byte, key []byte) {
	*ipad = [sha256.BlockSize]byte{}
	copy(ipad[:], key)
	*opad = *ipad
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
}

// Destroy overwrites the key's secret state. The Key must not be used
// afterwards. It is best effort: Go may have copied the memory.
func (k *Key) Destroy() {
	clear(k.ipad[:])
	clear(k.opad[:])
}

// MaterialID returns the key-material ID the key seals under.
func (k *Key) MaterialID() [32]byte { return k.materialID }

// Seal encrypts plaintext for the key under encryption context ec and
// returns the blob. It reads NonceSize bytes of N and then IVSize bytes of
// IV from rand (normally crypto/rand.Reader) and returns an error if rand
// fails. The blob is Overhead bytes longer than plaintext.
func (k *Key) Seal(rand io.Reader, plaintext []byte, ec map[string]string) ([]byte, error) {
	if fipsMode {
		return k.sealV2(rand, plaintext, ec)
	}
	n := Overhead + len(plaintext)
	// One allocation holds the blob and, after it, the AAD (a copy of the
	// header followed by the encoded context); the returned slice is capped
	// at the blob.
	buf := make([]byte, n+HeaderSize+contextLen(ec))
	h := buf[:HeaderSize]
	h[0] = Version1
	copy(h[offKeyType:], k.keyID[:])
	copy(h[offMaterial:], k.materialID[:])
	if _, err := io.ReadFull(rand, h[offNonce:HeaderSize]); err != nil {
		return nil, fmt.Errorf("ciphertext: reading randomness: %w", err)
	}
	aad := buf[n:n]
	aad = append(aad, h...)
	aad = AppendContext(aad, ec)
	aead, err := k.aead(h)
	if err != nil {
		return nil, err
	}
	aead.Seal(buf[HeaderSize:HeaderSize:n], h[offIV:HeaderSize], plaintext, aad)
	return buf[:n:n], nil
}

// Open authenticates and decrypts b under encryption context ec. It
// returns ErrAuth if b was not sealed by this key (another key ID or
// material ID), if ec differs from the context b was sealed with, or if
// any byte of b was changed. Open never says which of these happened.
func (k *Key) Open(b *Blob, ec map[string]string) ([]byte, error) {
	if len(b.Body) < TagSize {
		return nil, ErrAuth
	}
	if fipsMode || b.Version == Version2 {
		return k.openFIPS(b, ec, fipsMode)
	}
	ptLen := len(b.Body) - TagSize
	// One allocation holds the plaintext and, after it, the AAD.
	buf := make([]byte, ptLen+HeaderSize+contextLen(ec))
	h := buf[ptLen : ptLen+HeaderSize]
	if err := b.putHeader(h); err != nil {
		return nil, ErrAuth
	}
	if subtle.ConstantTimeCompare(h[offKeyType:offMaterial], k.keyID[:]) != 1 ||
		subtle.ConstantTimeCompare(h[offMaterial:offNonce], k.materialID[:]) != 1 {
		return nil, ErrAuth
	}
	aad := AppendContext(h, ec)
	aead, err := k.aead(h)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(buf[:0:ptLen], b.IV[:], b.Body, aad)
	if err != nil {
		clear(buf[:ptLen])
		return nil, ErrAuth
	}
	return pt[:ptLen:ptLen], nil
}

// aead returns AES-256-GCM under the per-message key derived for header h.
func (k *Key) aead(h []byte) (cipher.AEAD, error) { return k.gcm(h, cipher.NewGCM) }

// gcm returns the GCM mode made by mode over AES-256 under the
// per-message key derived for header h; the derived key is cleared.
func (k *Key) gcm(h []byte, mode func(cipher.Block) (cipher.AEAD, error)) (cipher.AEAD, error) {
	var dk [32]byte
	k.derive(&dk, h)
	block, err := aes.NewCipher(dk[:])
	clear(dk[:])
	if err != nil {
		return nil, fmt.Errorf("ciphertext: %w", err)
	}
	aead, err := mode(block)
	if err != nil {
		return nil, fmt.Errorf("ciphertext: %w", err)
	}
	return aead, nil
}

// derive computes the version 1 per-message key for header h:
// KBKDF in counter mode (SP 800-108r1 §4.1) with PRF HMAC-SHA-256,
// r = 32, Label = kdfLabel, Context = h and L = 256, one PRF block.
func (k *Key) derive(out *[32]byte, h []byte) {
	var msg [kdfMsgLen]byte
	binary.BigEndian.PutUint32(msg[0:], 1)
	copy(msg[4:], kdfLabel)
	msg[4+len(kdfLabel)] = 0x00
	copy(msg[5+len(kdfLabel):], h[:HeaderSize])
	binary.BigEndian.PutUint32(msg[kdfMsgLen-4:], 256)
	if h[0] == Version2 {
		// Version 2: label "trent symmetric v2"; the IV field is not part
		// of the context (the module draws it after the key is derived).
		msg[4+len(kdfLabel)-1] = '2'
		clear(msg[5+len(kdfLabel)+offIV : 5+len(kdfLabel)+HeaderSize])
	}
	if fipsMode {
		// A copy: msg itself must not escape (it stays on the stack out
		// of FIPS mode, the hot path).
		*out = k.moduleHMAC(append([]byte(nil), msg[:]...))
		return
	}
	*out = hmacSHA256(&k.ipad, &k.opad, msg[:])
}

// hmacSHA256 computes HMAC-SHA-256 from precomputed pads. It allocates
// nothing for messages up to 192 bytes.
func hmacSHA256(ipad, opad *[sha256.BlockSize]byte, msg []byte) [32]byte {
	var ib [256]byte
	in := append(ib[:0], ipad[:]...)
	in = append(in, msg...)
	inner := sha256.Sum256(in)
	var ob [sha256.BlockSize + sha256.Size]byte
	copy(ob[:], opad[:])
	copy(ob[sha256.BlockSize:], inner[:])
	sum := sha256.Sum256(ob[:])
	clear(ib[:sha256.BlockSize])
	clear(ob[:])
	return sum
}

// Seal encrypts plaintext under material (32 bytes), the key material with
// ID materialID of the KMS key keyID, with encryption context ec. See
// Key.Seal; callers that seal often under one material should cache a Key.
func Seal(rand io.Reader, material []byte, keyID string, materialID [32]byte, plaintext []byte, ec map[string]string) ([]byte, error) {
	var k Key
	if err := k.init(material, keyID, materialID); err != nil {
		return nil, err
	}
	defer k.Destroy()
	return k.Seal(rand, plaintext, ec)
}

// Open decrypts b with material, which the caller found by b.MaterialID.
// It returns ErrMaterial if material is not 32 bytes and ErrAuth for every
// authentication failure, as Key.Open does.
func Open(material []byte, b *Blob, ec map[string]string) ([]byte, error) {
	var k Key
	if len(material) != MaterialSize {
		return nil, ErrMaterial
	}
	if err := k.init(material, b.KeyID, b.MaterialID); err != nil {
		return nil, ErrAuth
	}
	defer k.Destroy()
	return k.Open(b, ec)
}
