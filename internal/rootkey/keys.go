package rootkey

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Key is one root key of the file provider, in the clear: what escrow
// splits and rebuilds. Its Secret is the AES-256 key; callers clear it.
type Key struct {
	// ID names the key in sealed blobs: ID(Secret) for every key Trent
	// made.
	ID     string
	Secret []byte
}

// ID returns the ID the file provider gives the 32-byte root key secret.
// It commits to the key without revealing anything that helps to find it,
// so a rebuilt key can be checked against the ID it should have.
func ID(secret []byte) string { return keyID(secret) }

// ReadKeyFile returns the root keys of the key file at path in file order
// (the last is current), parsed as OpenFile parses them. It refuses a key
// whose ID is not ID(key) (a hand-edited file), since nothing could check
// such a key once rebuilt. Errors never contain key material; a missing
// file gives an error wrapping fs.ErrNotExist.
func ReadKeyFile(path string) ([]Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rootkey: read %s: %w", path, err)
	}
	defer clear(data)
	var keys []Key
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		id, hexKey, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			clearKeys(keys)
			return nil, fmt.Errorf("rootkey: %s line %d: want id:hex", path, i+1)
		}
		key, err := KeyFromHex(hexKey)
		if err != nil {
			clearKeys(keys)
			return nil, fmt.Errorf("rootkey: %s line %d: %w", path, i+1, err)
		}
		if subtle.ConstantTimeCompare([]byte(id), []byte(keyID(key))) != 1 {
			clear(key)
			clearKeys(keys)
			return nil, fmt.Errorf("rootkey: %s line %d: the ID %q is not the one Trent derives from the key", path, i+1, id)
		}
		keys = append(keys, Key{ID: id, Secret: key})
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("rootkey: %s holds no key", path)
	}
	return keys, nil
}

func clearKeys(keys []Key) {
	for _, k := range keys {
		clear(k.Secret)
	}
}

// WriteKeyFile writes keys (the last is current) as a new key file at path
// that OpenFile reads, mode 0600, creating the directories above it (mode
// 0700). It never replaces a file: if path exists it returns an error
// wrapping fs.ErrExist. Each key must be 32 bytes with ID(Secret) as its
// ID.
func WriteKeyFile(path string, keys []Key) error {
	if len(keys) == 0 {
		return errors.New("rootkey: no key to write")
	}
	var line []byte
	defer func() { clear(line) }()
	for _, k := range keys {
		if len(k.Secret) != 32 {
			return fmt.Errorf("rootkey: root key %s is %d bytes, want 32", k.ID, len(k.Secret))
		}
		if subtle.ConstantTimeCompare([]byte(k.ID), []byte(keyID(k.Secret))) != 1 {
			return fmt.Errorf("rootkey: the key given as %q has another ID", k.ID)
		}
		// Appending into one buffer, cleared at the end, leaves no copy of
		// the key in a string.
		line = append(line, k.ID...)
		line = append(line, ':')
		line = hex.AppendEncode(line, k.Secret)
		line = append(line, '\n')
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	return linkNew(path, line)
}
