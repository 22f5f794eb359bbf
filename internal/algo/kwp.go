package algo

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// ErrKeyUnwrap is the single error KeyUnwrapPad returns, whatever failed,
// so that a caller learns nothing about which integrity check rejected its
// input.
var ErrKeyUnwrap = errors.New("algo: AES key unwrap with padding failed")

// kwpMagic is the constant half of RFC 5649's alternative initial value.
var kwpMagic = [4]byte{0xA6, 0x59, 0x59, 0xA6}

// KeyWrapPad wraps plaintext with kek (16, 24 or 32 bytes) by AES Key Wrap
// with Padding (RFC 5649). It is what `openssl enc -id-aes256-wrap-pad`
// computes and what the RSA_AES_KEY_WRAP wrapping algorithms use. It returns
// an error only for a bad KEK size or an empty plaintext.
func KeyWrapPad(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(plaintext) == 0 || uint64(len(plaintext)) > 0xffffffff {
		return nil, errors.New("algo: key wrap plaintext must be 1 to 2^32-1 bytes")
	}
	n := (len(plaintext) + 7) / 8
	var aiv [8]byte
	copy(aiv[:4], kwpMagic[:])
	binary.BigEndian.PutUint32(aiv[4:], uint32(len(plaintext)))
	out := make([]byte, 8+8*n)
	copy(out[8:], plaintext) // zero padding is already in place
	if n == 1 {
		copy(out[:8], aiv[:])
		block.Encrypt(out, out)
		return out, nil
	}
	var b [16]byte
	a := aiv
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], a[:])
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:], b[8:])
		}
	}
	copy(out[:8], a[:])
	return out, nil
}

// KeyUnwrapPad reverses KeyWrapPad. It returns ErrKeyUnwrap if the ciphertext
// is malformed or fails RFC 5649's integrity checks (wrong KEK, tampering).
func KeyUnwrapPad(kek, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < 16 || len(ciphertext)%8 != 0 {
		return nil, ErrKeyUnwrap
	}
	n := len(ciphertext)/8 - 1
	out := make([]byte, 8*n)
	var a [8]byte
	if n == 1 {
		var b [16]byte
		block.Decrypt(b[:], ciphertext)
		copy(a[:], b[:8])
		copy(out, b[8:])
	} else {
		copy(a[:], ciphertext[:8])
		copy(out, ciphertext[8:])
		var b [16]byte
		for j := 5; j >= 0; j-- {
			for i := n; i >= 1; i-- {
				t := uint64(n*j + i)
				binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a[:])^t)
				copy(b[8:], out[8*(i-1):8*i])
				block.Decrypt(b[:], b[:])
				copy(a[:], b[:8])
				copy(out[8*(i-1):], b[8:])
			}
		}
	}
	mli := int(binary.BigEndian.Uint32(a[4:]))
	ok := subtle.ConstantTimeCompare(a[:4], kwpMagic[:])
	if mli <= 8*(n-1) || mli > 8*n {
		ok = 0
		mli = 8 * n
	}
	var pad byte
	for _, c := range out[mli:] {
		pad |= c
	}
	ok &= subtle.ConstantTimeByteEq(pad, 0)
	if ok != 1 {
		clear(out)
		return nil, ErrKeyUnwrap
	}
	return out[:mli:mli], nil
}
