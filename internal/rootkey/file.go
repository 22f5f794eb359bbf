package rootkey

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/trentkms/trent/internal/durable"
)

// FileProvider keeps AES-256 root keys in memory, loaded from a key file.
//
// The key file holds one root key per line as "id:hex(32 bytes)"; the last
// line is the current key. The file is written with mode 0600 and never
// holds anything else. Whoever has both the key file and the store can read
// all key material, so the key file lives outside the data directory (see
// config.DefaultRootKeyFile); an HSM provider is better still.
//
// A root key's ID is "file-" and the first 6 bytes of SHA-256 over a fixed
// label and the key: it names the key in sealed blobs and error messages
// without revealing anything that helps to find the key.
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

// OpenFile loads the key file at path. It returns an error wrapping
// fs.ErrNotExist if there is none; CreateFile makes one.
func OpenFile(path string) (*FileProvider, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rootkey: read %s: %w", path, err)
	}
	p := &FileProvider{path: path, keys: map[string]cipher.AEAD{}}
	if err := p.parse(data); err != nil {
		return nil, err
	}
	return p, nil
}

// parse loads the keys of a key file's contents.
func (p *FileProvider) parse(data []byte) error {
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		id, hexKey, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			return fmt.Errorf("rootkey: %s line %d: want id:hex", p.path, i+1)
		}
		key, err := KeyFromHex(hexKey)
		if err != nil {
			return fmt.Errorf("rootkey: %s line %d: %w", p.path, i+1, err)
		}
		err = p.add(id, key)
		clear(key)
		if err != nil {
			return err
		}
	}
	if len(p.ids) == 0 {
		return fmt.Errorf("rootkey: %s holds no key", p.path)
	}
	return nil
}

// CreateFile makes a key file at path holding a fresh random root key, and
// the directories above it (mode 0700), and returns its provider. If a key
// file appears at path meanwhile (another process created it first), that
// one is opened instead: the file is never replaced, so two processes
// starting at once end up with the same key.
func CreateFile(path string) (*FileProvider, error) {
	key := make([]byte, 32)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%s\n", keyID(key), hex.EncodeToString(key))
	line := []byte(b.String())
	defer clear(line)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("rootkey: %w", err)
	}
	if err := linkNew(path, line); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return OpenFile(path)
		}
		return nil, err
	}
	return OpenFile(path)
}

// linkNew writes data to a new file at path, mode 0600, durably: a
// temporary file in the same directory is written and synced, then linked
// to path, which fails (wrapping fs.ErrExist) if path exists, so that an
// existing file is never replaced and a reader never sees a partial one.
func linkNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".root.key-*")
	if err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rootkey: write %s: %w", tmp, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("rootkey: %s: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("rootkey: %w", err)
	}
	return durable.SyncDir(dir)
}

// MoveFile moves the key file at from to to, which must not exist (an
// error wrapping fs.ErrExist otherwise, unless it already holds exactly the
// same keys: then a move that was interrupted after the copy is finished).
// The new file is written (mode 0600), synced and read back before the old
// one is overwritten with zeros, synced and removed, so that a crash at any
// point leaves at least one complete key file. The keys are never printed.
//
// A move interrupted after the old file was overwritten (it holds only
// zeros) is finished: if to opens as a key file, from is removed.
func MoveFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("rootkey: read %s: %w", from, err)
	}
	defer clear(data)
	if Overwritten(from) {
		if _, err := OpenFile(to); err != nil {
			return fmt.Errorf("rootkey: %s holds only zeros (a move that was interrupted after overwriting it), and %s is not a key file: %w", from, to, err)
		}
		if err := os.Remove(from); err != nil {
			return fmt.Errorf("rootkey: remove %s: %w", from, err)
		}
		return durable.SyncDir(filepath.Dir(from))
	}
	if err := (&FileProvider{path: from, keys: map[string]cipher.AEAD{}}).parse(data); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	if err := linkNew(to, data); errors.Is(err, fs.ErrExist) {
		have, rerr := os.ReadFile(to)
		same := rerr == nil && bytes.Equal(have, data)
		clear(have)
		if !same {
			return err
		}
	} else if err != nil {
		return err
	}
	check, err := os.ReadFile(to)
	if err != nil {
		return fmt.Errorf("rootkey: read back %s: %w", to, err)
	}
	same := bytes.Equal(check, data)
	clear(check)
	if !same {
		return fmt.Errorf("rootkey: %s does not read back as written; %s is kept", to, from)
	}
	// Overwriting first keeps the key out of the old file's blocks on file
	// systems that rewrite in place; on copy-on-write file systems and SSDs
	// it is best effort, which docs/threat-model.md says.
	if f, err := os.OpenFile(from, os.O_WRONLY, 0); err == nil {
		f.Write(make([]byte, len(data)))
		f.Sync()
		f.Close()
	}
	if err := os.Remove(from); err != nil {
		return fmt.Errorf("rootkey: remove %s: %w", from, err)
	}
	return durable.SyncDir(filepath.Dir(from))
}

// Overwritten reports whether the file at path is non-empty and holds only
// zero bytes: what MoveFile leaves if it is interrupted between
// overwriting the old key file and removing it.
func Overwritten(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return false
	}
	return !slices.ContainsFunc(data, func(b byte) bool { return b != 0 })
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
	// The module's GCM with random nonces: it draws the nonce, as Go's
	// FIPS 140-3 mode requires, and writes nonce || ciphertext || tag,
	// the layout sealed root-key payloads always had.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return err
	}
	p.keys[id] = aead
	p.ids = append(p.ids, id)
	return nil
}

// IDs implements Lister.
func (p *FileProvider) IDs() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return slices.Clone(p.ids)
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
	out := AppendHeader(make([]byte, 0, 2+len(id)+12+len(plaintext)+16), id)
	return aead.Seal(out, nil, plaintext, HeaderAAD(out, aad)), nil
}

// Open implements Provider.
func (p *FileProvider) Open(sealed, aad []byte) ([]byte, error) {
	id, payload, err := SplitHeader(sealed)
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
	pt, err := aead.Open(nil, nil, payload, HeaderAAD(header, aad))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrOpen)
	}
	return pt, nil
}

// Close implements Provider.
func (p *FileProvider) Close() error { return nil }

var _ Lister = (*FileProvider)(nil)
