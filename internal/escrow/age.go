package escrow

import (
	"bytes"
	"crypto/fips140"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// ErrNoIdentity is returned (wrapped) by ReadShare for an encrypted share
// that none of the identities given decrypts.
var ErrNoIdentity = errors.New("escrow: no identity given decrypts the share")

// ParseRecipients parses age recipients, one per line ("age1..." for
// X25519, "age1pq1..." for the ML-KEM-768 + X25519 hybrid); blank lines
// and lines starting with "#" are skipped, as in age's recipients files.
func ParseRecipients(r io.Reader) ([]age.Recipient, error) {
	rs, err := age.ParseRecipients(r)
	if err != nil {
		return nil, fmt.Errorf("escrow: age recipients: %v", err)
	}
	return rs, nil
}

// ParseIdentities parses an age identity file (AGE-SECRET-KEY-1... and
// AGE-SECRET-KEY-PQ-1... lines). Errors never show key material.
func ParseIdentities(r io.Reader) ([]age.Identity, error) {
	ids, err := age.ParseIdentities(r)
	if err != nil {
		return nil, fmt.Errorf("escrow: age identities: %v", err)
	}
	return ids, nil
}

// Encrypt returns the share's text file encrypted to r, ASCII-armored.
func (s *Share) Encrypt(r age.Recipient) ([]byte, error) {
	if fips140.Enabled() {
		// age's recipients (X25519, and the ML-KEM-768 + X25519 hybrid)
		// use X25519, which the FIPS 140-3 module refuses (and hpke then
		// retries key generation for ever).
		return nil, errors.New("escrow: age encryption uses X25519, which FIPS 140-3 mode does not allow; run the escrow without GODEBUG=fips140=only")
	}
	text := s.Marshal()
	defer clear(text)
	var b bytes.Buffer
	aw := armor.NewWriter(&b)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return nil, fmt.Errorf("escrow: age: %w", err)
	}
	if _, err := w.Write(text); err != nil {
		return nil, fmt.Errorf("escrow: age: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("escrow: age: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("escrow: age: %w", err)
	}
	return b.Bytes(), nil
}

// Encrypted reports whether data is an age file (armored or binary).
func Encrypted(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return bytes.HasPrefix(t, []byte(armor.Header)) || bytes.HasPrefix(t, []byte("age-encryption.org/"))
}

// ReadShare parses a share file, decrypting it first with one of ids if it
// is an age file. It returns an error wrapping ErrNoIdentity if it is
// encrypted and no identity decrypts it, and as Parse does otherwise.
func ReadShare(data []byte, ids []age.Identity) (*Share, error) {
	if !Encrypted(data) {
		return Parse(data)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: it is encrypted with age and no identity file was given", ErrNoIdentity)
	}
	var src io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armor.Header)) {
		src = armor.NewReader(bytes.NewReader(data))
	}
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("%w (%d identities tried)", ErrNoIdentity, len(ids))
		}
		return nil, fmt.Errorf("%w: age: %v", ErrMalformed, err)
	}
	text, err := io.ReadAll(io.LimitReader(r, maxShare+1))
	defer clear(text)
	if err != nil {
		return nil, fmt.Errorf("%w: age: %v", ErrMalformed, err)
	}
	s, err := Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w (inside the age encryption)", err)
	}
	return s, nil
}
