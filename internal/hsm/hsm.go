package hsm

import (
	"errors"
	"fmt"
)

// Errors returned by this package, wrapped with context; test with errors.Is.
var (
	// ErrUnavailable is returned by every function of a build without cgo.
	ErrUnavailable = errors.New("hsm: PKCS#11 support requires a cgo build; this binary was built without cgo")
	// ErrModule is returned when the PKCS#11 module cannot be loaded or
	// initialised.
	ErrModule = errors.New("hsm: cannot load PKCS#11 module")
	// ErrTokenNotFound is returned by Open when no slot holds a token with
	// the configured label.
	ErrTokenNotFound = errors.New("hsm: token not found")
	// ErrLogin is returned by Open when the token refuses the PIN.
	ErrLogin = errors.New("hsm: login failed")
	// ErrKeyNotFound is returned when no key (or data object) has the label.
	ErrKeyNotFound = errors.New("hsm: key not found")
	// ErrKeyExists is returned by GenerateAESKey when a key with the label
	// already exists.
	ErrKeyExists = errors.New("hsm: a key with this label already exists")
	// ErrDecrypt is returned by Decrypt when authentication fails: wrong
	// key, IV, AAD, tag, or modified ciphertext.
	ErrDecrypt = errors.New("hsm: decryption failed")
	// ErrClosed is returned by every method of a closed Token.
	ErrClosed = errors.New("hsm: token is closed")
	// ErrInput is returned for arguments the HSM would reject (IV length,
	// empty labels, short ciphertext).
	ErrInput = errors.New("hsm: invalid input")
)

// Config says where the token is.
type Config struct {
	// Module is the path of the PKCS#11 shared library, e.g.
	// /usr/lib/softhsm/libsofthsm2.so.
	Module string
	// TokenLabel selects the slot whose token has this label.
	TokenLabel string
	// PIN is the user PIN. The caller reads it from a file or environment.
	PIN string
	// Sessions is the size of the session pool; 0 means 4.
	Sessions int
}

func (c Config) validate() error {
	switch {
	case c.Module == "":
		return fmt.Errorf("%w: no PKCS#11 module path configured", ErrInput)
	case c.TokenLabel == "":
		return fmt.Errorf("%w: no token label configured", ErrInput)
	case c.PIN == "":
		return fmt.Errorf("%w: no PIN configured", ErrInput)
	case c.Sessions < 0 || c.Sessions > 64:
		return fmt.Errorf("%w: session pool size must be 0..64", ErrInput)
	}
	return nil
}

// Key names an AES key inside the token. It holds no key material: only
// the label and the object handle, which is valid in every session of this
// process until the key is destroyed or the Token closed.
type Key struct {
	// Label is the key's CKA_LABEL.
	Label  string
	handle uint
}

// Attributes are the security-relevant attributes of a key, as the token
// reports them. They prove that a key cannot leave the HSM.
type Attributes struct {
	Label            string
	Class            uint // CKO_SECRET_KEY = 4
	KeyType          uint // CKK_AES = 0x1f
	ValueLen         uint // bytes; 32 for AES-256
	Token            bool
	Private          bool
	Sensitive        bool
	Extractable      bool
	AlwaysSensitive  bool
	NeverExtractable bool
	Encrypt, Decrypt bool
	// ValueReadable is true if the token handed out CKA_VALUE when asked.
	// For keys generated here it must be false (CKR_ATTRIBUTE_SENSITIVE).
	ValueReadable bool
}

// TagSize is the AES-GCM tag length, in bytes, of Encrypt's output.
const TagSize = 16

// TokenInfo describes an open token.
type TokenInfo struct {
	Label, Manufacturer, Model, Serial string
}
