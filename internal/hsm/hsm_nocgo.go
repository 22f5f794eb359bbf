//go:build !cgo

package hsm

// Available reports whether this build can talk to PKCS#11 modules.
const Available = false

// Token is unavailable in a build without cgo; see ErrUnavailable.
type Token struct{}

// Open always returns ErrUnavailable in a build without cgo.
func Open(cfg Config) (*Token, error) { return nil, ErrUnavailable }

// Close returns nil.
func (t *Token) Close() error { return nil }

// Info returns the zero TokenInfo.
func (t *Token) Info() TokenInfo { return TokenInfo{} }

// FindKey returns ErrUnavailable.
func (t *Token) FindKey(label string) (Key, error) { return Key{}, ErrUnavailable }

// ListKeys returns ErrUnavailable.
func (t *Token) ListKeys(prefix string) ([]Key, error) { return nil, ErrUnavailable }

// GenerateAESKey returns ErrUnavailable.
func (t *Token) GenerateAESKey(label string) (Key, error) { return Key{}, ErrUnavailable }

// DestroyKey returns ErrUnavailable.
func (t *Token) DestroyKey(k Key) error { return ErrUnavailable }

// KeyAttributes returns ErrUnavailable.
func (t *Token) KeyAttributes(k Key) (Attributes, error) { return Attributes{}, ErrUnavailable }

// Encrypt returns ErrUnavailable.
func (t *Token) Encrypt(k Key, iv, plaintext, aad []byte) ([]byte, error) {
	return nil, ErrUnavailable
}

// Decrypt returns ErrUnavailable.
func (t *Token) Decrypt(k Key, iv, sealed, aad []byte) ([]byte, error) {
	return nil, ErrUnavailable
}

// Random returns ErrUnavailable.
func (t *Token) Random(n int) ([]byte, error) { return nil, ErrUnavailable }

// PutData returns ErrUnavailable.
func (t *Token) PutData(label string, value []byte) error { return ErrUnavailable }

// GetData returns ErrUnavailable.
func (t *Token) GetData(label string) ([]byte, error) { return nil, ErrUnavailable }
