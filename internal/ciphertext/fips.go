package ciphertext

import (
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
)

// # FIPS 140-3 mode
//
// Under Go's FIPS 140-3 module (GODEBUG=fips140=on or only), AES-GCM must
// draw its own IV: cipher.NewGCM, which takes the caller's IV, is refused
// in fips140=only mode, and cipher.NewGCMWithRandomNonce is the module's
// approved GCM. Version 1 binds the IV into the per-message key and the
// AAD, which the caller must know before sealing, so a node in FIPS mode
// seals version 2 instead:
//
//	0x02 | key-ID type (1) | key ID (16) | material ID (32) | N (16) | IV (12) | AES-256-GCM ciphertext | tag (16)
//
// the same layout and sizes as version 1, with
//
//	K   = KBKDF-CTR-HMAC-SHA256(material, Label = "trent symmetric v2", Context = header with the IV field zeroed, L = 256)
//	AAD = header with the IV field zeroed || EncodeContext(ec)
//
// and IV || ciphertext || tag exactly as NewGCMWithRandomNonce's Seal
// writes them, so the blob needs no copying. The IV is still
// authenticated: GCM's tag depends on it, and K is fresh for every message
// (N is 128 random bits), so the IV only has to be unique per key, which a
// single use of K guarantees. Every node opens both versions; a node in FIPS
// mode opens through NewGCMWithRandomNonce too (its Open takes the IV as
// the ciphertext's prefix) and computes the KDF's HMAC with crypto/hmac,
// the module's, rather than from the precomputed pads.
//
// In FIPS mode the IV comes from the module's DRBG, not from Seal's rand
// argument (N still does).

// fipsMode is whether this process runs Go's FIPS 140-3 module; tests of
// version 2 outside FIPS mode set it.
var fipsMode = fips140.Enabled()

// FIPS reports whether blobs are sealed and opened through Go's FIPS 140-3
// module (version 2 sealing).
func FIPS() bool { return fipsMode }

// moduleHMAC computes HMAC-SHA-256 of msg under the key whose pads k holds,
// with crypto/hmac. The key is recovered from the inner pad.
func (k *Key) moduleHMAC(msg []byte) [32]byte {
	var key [sha256.BlockSize]byte
	for i := range key {
		key[i] = k.ipad[i] ^ 0x36
	}
	m := hmac.New(sha256.New, key[:MaterialSize])
	clear(key[:])
	m.Write(msg)
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// sealV2 seals a version 2 blob.
func (k *Key) sealV2(rand io.Reader, plaintext []byte, ec map[string]string) ([]byte, error) {
	n := Overhead + len(plaintext)
	buf := make([]byte, n+HeaderSize+contextLen(ec))
	h := buf[:HeaderSize]
	h[0] = Version2
	copy(h[offKeyType:], k.keyID[:])
	copy(h[offMaterial:], k.materialID[:])
	if _, err := io.ReadFull(rand, h[offNonce:offIV]); err != nil {
		return nil, fmt.Errorf("ciphertext: reading randomness: %w", err)
	}
	aad := buf[n:n]
	aad = append(aad, h...) // the IV field is still zero
	aad = AppendContext(aad, ec)
	aead, err := k.aeadRandomNonce(h)
	if err != nil {
		return nil, err
	}
	aead.Seal(buf[offIV:offIV:n], nil, plaintext, aad)
	return buf[:n:n], nil
}

// openFIPS opens a version 2 blob, or any blob in FIPS mode; module says
// whether through the module's random-nonce GCM (FIPS mode) or NewGCM.
func (k *Key) openFIPS(b *Blob, ec map[string]string, module bool) ([]byte, error) {
	ptLen := len(b.Body) - TagSize
	// One allocation: the header, IV || body (the random-nonce AEAD's
	// input), then the plaintext and the AAD.
	buf := make([]byte, HeaderSize+IVSize+len(b.Body)+ptLen+HeaderSize+contextLen(ec))
	h := buf[:HeaderSize]
	if err := b.putHeader(h); err != nil {
		return nil, ErrAuth
	}
	if subtle.ConstantTimeCompare(h[offKeyType:offMaterial], k.keyID[:]) != 1 ||
		subtle.ConstantTimeCompare(h[offMaterial:offNonce], k.materialID[:]) != 1 {
		return nil, ErrAuth
	}
	in := buf[HeaderSize : HeaderSize+IVSize+len(b.Body)]
	copy(in, b.IV[:])
	copy(in[IVSize:], b.Body)
	rest := buf[HeaderSize+IVSize+len(b.Body):]
	aad := rest[ptLen:ptLen]
	aad = append(aad, h...)
	if h[0] == Version2 {
		clear(aad[offIV:HeaderSize])
	}
	aad = AppendContext(aad, ec)
	var aead cipher.AEAD
	var err error
	if module {
		aead, err = k.aeadRandomNonce(h)
	} else {
		aead, err = k.aead(h)
	}
	if err != nil {
		return nil, err
	}
	var pt []byte
	if module {
		pt, err = aead.Open(rest[:0:ptLen], nil, in, aad)
	} else {
		pt, err = aead.Open(rest[:0:ptLen], b.IV[:], b.Body, aad)
	}
	if err != nil {
		clear(rest[:ptLen])
		return nil, ErrAuth
	}
	return pt[:ptLen:ptLen], nil
}

// aeadRandomNonce returns the module's AES-256-GCM with random nonces
// under the per-message key derived for header h.
func (k *Key) aeadRandomNonce(h []byte) (cipher.AEAD, error) {
	return k.gcm(h, cipher.NewGCMWithRandomNonce)
}
