package rootkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// FileProvider keeps AES-256 root keys in memory, loaded from a key file.
//
// The key file holds one root key per line as "id:hex(32 bytes)"; the last
// line is the current key. The file is written with mode 0600 and never
// holds anything else. Protect it as you would the database: whoever has
// both can read all key material. Use an HSM provider in production.
type FileProvider struct {
	path string
	mu   sync.RWMutex
	keys map[string]cipher.AEAD
	ids  []string // in file order; last is current
}

// KeyFromHex parses a 64-hex-digit root key, as given through the
// environment (TRENT_ROOT_KEY).
func KeyFromHex(s string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != 32 {
		return nil, errors.New("rootkey: a root key is 64 hexadecimal digits (256 bits)")
	}
	return k, nil
}

// NewStatic returns a provider holding exactly one root key given in memory
// (from the environment). It cannot rotate.
func NewStatic(key []byte) (*FileProvider, error) {
	p := &FileProvider{keys: map[string]cipher.AEAD{}}
	if err := p.add(keyID(key), key); err != nil {
		return nil, err
	}
	return p, nil
}

// OpenFile loads the key file at path, creating it with a fresh random root
// key if it does not exist.
func OpenFile(path string) (*FileProvider, error) {
	p := &FileProvider{path: path, keys: map[string]cipher.AEAD{}}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := p.add(keyID(key), key); err != nil {
			return nil, err
		}
		if err := p.write(map[string][]byte{keyID(key): key}); err != nil {
			return nil, err
		}
		clear(key)
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("rootkey: read %s: %w", path, err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		id, hexKey, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			return nil, fmt.Errorf("rootkey: %s line %d: want id:hex", path, i+1)
		}
		key, err := KeyFromHex(hexKey)
		if err != nil {
			return nil, fmt.Errorf("rootkey: %s line %d: %w", path, i+1, err)
		}
		if err := p.add(id, key); err != nil {
			return nil, err
		}
		clear(key)
	}
	if len(p.ids) == 0 {
		return nil, fmt.Errorf("rootkey: %s holds no key", path)
	}
	return p, nil
}

func keyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("trent root key id\x00"), key...))
	return "file-" + hex.EncodeToString(sum[:6])
}

func (p *FileProvider) add(id string, key []byte) error {
	if len(id) == 0 || len(id) > 255 {
		return errors.New("rootkey: bad root key id")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	p.keys[id] = aead
	p.ids = append(p.ids, id)
	return nil
}

// write replaces the key file atomically (temp file, fsync, rename).
func (p *FileProvider) write(keys map[string][]byte) error {
	var b strings.Builder
	for _, id := range p.ids {
		k, ok := keys[id]
		if !ok {
			return errors.New("rootkey: internal: key bytes missing for write")
		}
		fmt.Fprintf(&b, "%s:%s\n", id, hex.EncodeToString(k))
	}
	tmp := p.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("rootkey: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("rootkey: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	if d, err := os.Open(filepath.Dir(p.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CurrentID implements Provider.
func (p *FileProvider) CurrentID() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.ids[len(p.ids)-1]
}

// Seal implements Provider.
func (p *FileProvider) Seal(plaintext, aad []byte) ([]byte, error) {
	p.mu.RLock()
	id := p.ids[len(p.ids)-1]
	aead := p.keys[id]
	p.mu.RUnlock()
	out := appendHeader(make([]byte, 0, 2+len(id)+12+len(plaintext)+16), id)
	header := out
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, headerAAD(header, aad)), nil
}

// Open implements Provider.
func (p *FileProvider) Open(sealed, aad []byte) ([]byte, error) {
	id, payload, err := splitHeader(sealed)
	if err != nil {
		return nil, err
	}
	p.mu.RLock()
	aead, ok := p.keys[id]
	p.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: root key %q is not loaded", ErrOpen, id)
	}
	if len(payload) < 12+16 {
		return nil, fmt.Errorf("%w: truncated", ErrOpen)
	}
	header := sealed[:len(sealed)-len(payload)]
	pt, err := aead.Open(nil, payload[:12], payload[12:], headerAAD(header, aad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrOpen)
	}
	return pt, nil
}

// Close implements Provider.
func (p *FileProvider) Close() error { return nil }
