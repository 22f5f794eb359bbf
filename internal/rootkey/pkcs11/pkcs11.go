// Package pkcs11 keeps Trent's root key in an HSM through PKCS#11 (internal/hsm):
// a non-extractable AES-256 key that seals and opens in the token. It is
// apart from package rootkey so that what needs only the Provider contract
// (the domain) links no cgo.
package pkcs11

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/rootkey"
)

// Config says where the HSM root key lives.
type Config struct {
	// Module is the path of the PKCS#11 library.
	Module string
	// TokenLabel selects the token.
	TokenLabel string
	// PIN is the token's user PIN; the caller reads it from a file or the
	// environment. It is never logged or put in an error.
	PIN string
	// KeyLabel names the root key. The first root key has exactly this
	// label; keys made by Rotate have KeyLabel + "." + a unique suffix, and
	// a token data object labelled KeyLabel + ".current" records which is
	// current. At most 200 bytes.
	KeyLabel string
	// Sessions is the HSM session pool size; 0 means 4.
	Sessions int
}

// pkcs11IDPrefix starts every root key ID of this provider, so the sealed
// blob header tells which provider sealed it.
const pkcs11IDPrefix = "p11-"

// Provider keeps the root key in an HSM as a non-extractable AES-256
// key and asks the HSM to seal and open with AES-256-GCM. Its payload is
// the same as the file provider's, nonce(12) | ciphertext | tag(16), with
// the header bound in as associated data; only the HSM can compute it.
//
// It implements rootkey.Provider and rootkey.Rotator and is safe for concurrent use.
type Provider struct {
	tok  *hsm.Token
	base string

	mu      sync.RWMutex
	current string             // label of the current root key
	keys    map[string]hsm.Key // by label: every root key this provider can open with
}

// Open opens the token, finds the current root key (creating the
// first one, labelled cfg.KeyLabel, in an empty token) and loads every
// older root key still in the token.
//
// It returns errors wrapping hsm.ErrUnavailable in a build without cgo,
// hsm.ErrModule, hsm.ErrTokenNotFound or hsm.ErrLogin when the token
// cannot be used, and an error if the key recorded as current is missing
// from the token (Trent then refuses to start rather than make a new root
// key that opens nothing).
func Open(cfg Config) (*Provider, error) {
	if cfg.KeyLabel == "" || len(cfg.KeyLabel) > 200 || strings.ContainsAny(cfg.KeyLabel, "\x00\n") {
		return nil, errors.New("rootkey: the PKCS#11 root key label has 1 to 200 bytes")
	}
	tok, err := hsm.Open(hsm.Config{Module: cfg.Module, TokenLabel: cfg.TokenLabel, PIN: cfg.PIN, Sessions: cfg.Sessions})
	if err != nil {
		return nil, fmt.Errorf("rootkey: %w", err)
	}
	p := &Provider{tok: tok, base: cfg.KeyLabel, keys: map[string]hsm.Key{}}
	if err := p.load(); err != nil {
		tok.Close()
		return nil, err
	}
	return p, nil
}

func (p *Provider) pointerLabel() string { return p.base + ".current" }

// ours reports whether label names one of this provider's root keys.
func (p *Provider) ours(label string) bool {
	return label == p.base || (strings.HasPrefix(label, p.base+".") && label != p.pointerLabel())
}

func (p *Provider) load() error {
	cur, err := p.tok.GetData(p.pointerLabel())
	switch {
	case err == nil:
		p.current = string(cur)
	case errors.Is(err, hsm.ErrKeyNotFound):
		if _, err := p.tok.FindKey(p.base); errors.Is(err, hsm.ErrKeyNotFound) {
			if _, err := p.tok.GenerateAESKey(p.base); err != nil {
				return fmt.Errorf("rootkey: create root key: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("rootkey: %w", err)
		}
		if err := p.tok.PutData(p.pointerLabel(), []byte(p.base)); err != nil {
			return fmt.Errorf("rootkey: record current root key: %w", err)
		}
		p.current = p.base
	default:
		return fmt.Errorf("rootkey: %w", err)
	}
	keys, err := p.tok.ListKeys(p.base)
	if err != nil {
		return fmt.Errorf("rootkey: %w", err)
	}
	for _, k := range keys {
		if p.ours(k.Label) {
			p.keys[k.Label] = k
		}
	}
	if _, ok := p.keys[p.current]; !ok {
		return fmt.Errorf("rootkey: the token records %q as the current root key, but holds no such key", p.current)
	}
	return nil
}

// CurrentID implements rootkey.Provider.
func (p *Provider) CurrentID() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return pkcs11IDPrefix + p.current
}

// IDs implements Lister: the root keys of this key label found in the token
// so far (the current one first).
func (p *Provider) IDs() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	ids := []string{pkcs11IDPrefix + p.current}
	for label := range p.keys {
		if label != p.current {
			ids = append(ids, pkcs11IDPrefix+label)
		}
	}
	slices.Sort(ids[1:])
	return ids
}

// Seal implements Provider: AES-256-GCM inside the HSM under the current
// root key, with a random 12-byte nonce.
func (p *Provider) Seal(plaintext, aad []byte) ([]byte, error) {
	p.mu.RLock()
	label := p.current
	key := p.keys[label]
	p.mu.RUnlock()
	id := pkcs11IDPrefix + label
	out := rootkey.AppendHeader(make([]byte, 0, 2+len(id)+12+len(plaintext)+hsm.TagSize), id)
	header := out
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	ct, err := p.tok.Encrypt(key, nonce, plaintext, rootkey.HeaderAAD(header, aad))
	if err != nil {
		return nil, fmt.Errorf("rootkey: seal: %w", err)
	}
	out = append(out, nonce...)
	return append(out, ct...), nil
}

// key returns the root key labelled label, looking in the token for keys
// another instance made current since this one started.
func (p *Provider) key(label string) (hsm.Key, bool, error) {
	p.mu.RLock()
	k, ok := p.keys[label]
	p.mu.RUnlock()
	if ok {
		return k, true, nil
	}
	if !p.ours(label) {
		return hsm.Key{}, false, nil
	}
	k, err := p.tok.FindKey(label)
	if errors.Is(err, hsm.ErrKeyNotFound) {
		return hsm.Key{}, false, nil
	}
	if err != nil {
		return hsm.Key{}, false, err
	}
	p.mu.Lock()
	p.keys[label] = k
	p.mu.Unlock()
	return k, true, nil
}

// Open implements rootkey.Provider. It returns an error wrapping rootkey.ErrOpen if the
// blob was not sealed by a root key of this token and key label, was
// modified, or aad differs; other errors (the HSM is unreachable) do not
// wrap rootkey.ErrOpen.
func (p *Provider) Open(sealed, aad []byte) ([]byte, error) {
	id, payload, err := rootkey.SplitHeader(sealed)
	if err != nil {
		return nil, err
	}
	label, ok := strings.CutPrefix(id, pkcs11IDPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: root key %q is not a PKCS#11 root key", rootkey.ErrOpen, id)
	}
	if len(payload) < 12+hsm.TagSize {
		return nil, fmt.Errorf("%w: truncated", rootkey.ErrOpen)
	}
	key, ok, err := p.key(label)
	if err != nil {
		return nil, fmt.Errorf("rootkey: open: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: root key %q is not in the token", rootkey.ErrOpen, id)
	}
	header := sealed[:len(sealed)-len(payload)]
	pt, err := p.tok.Decrypt(key, payload[:12], payload[12:], rootkey.HeaderAAD(header, aad))
	switch {
	case errors.Is(err, hsm.ErrDecrypt):
		return nil, fmt.Errorf("%w: authentication failed", rootkey.ErrOpen)
	case errors.Is(err, hsm.ErrKeyNotFound):
		p.forget(label)
		return nil, fmt.Errorf("%w: root key %q is not in the token", rootkey.ErrOpen, id)
	case err != nil:
		return nil, fmt.Errorf("rootkey: open: %w", err)
	}
	return pt, nil
}

func (p *Provider) forget(label string) {
	p.mu.Lock()
	if label != p.current {
		delete(p.keys, label)
	}
	p.mu.Unlock()
}

// Rotate implements Rotator: it generates a new root key in the HSM,
// records it in the token as current, and seals with it from then on. Older
// root keys keep opening until retired. Other provider instances on the
// same token keep sealing with their current key until Refresh or restart,
// but open blobs sealed with the new one.
func (p *Provider) Rotate() (string, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return "", err
	}
	label := p.base + "." + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(suffix)
	k, err := p.tok.GenerateAESKey(label)
	if err != nil {
		return "", fmt.Errorf("rootkey: rotate: %w", err)
	}
	if err := p.tok.PutData(p.pointerLabel(), []byte(label)); err != nil {
		p.tok.DestroyKey(k)
		return "", fmt.Errorf("rootkey: rotate: record current root key: %w", err)
	}
	p.mu.Lock()
	p.keys[label] = k
	p.current = label
	p.mu.Unlock()
	return pkcs11IDPrefix + label, nil
}

// Refresh re-reads which root key the token records as current, so that
// an instance picks up another instance's Rotate without restarting.
func (p *Provider) Refresh() error {
	cur, err := p.tok.GetData(p.pointerLabel())
	if err != nil {
		return fmt.Errorf("rootkey: refresh: %w", err)
	}
	label := string(cur)
	k, ok, err := p.key(label)
	if err != nil {
		return fmt.Errorf("rootkey: refresh: %w", err)
	}
	if !ok {
		return fmt.Errorf("rootkey: refresh: the token records %q as current, but holds no such key", label)
	}
	p.mu.Lock()
	p.keys[label] = k
	p.current = label
	p.mu.Unlock()
	return nil
}

// Retire implements Rotator: it destroys the root key with the given ID in
// the HSM. Blobs sealed under it never open again, anywhere; reseal them
// first. Retire refuses the current key and IDs this provider does not
// know (an error wrapping rootkey.ErrOpen).
func (p *Provider) Retire(id string) error {
	label, ok := strings.CutPrefix(id, pkcs11IDPrefix)
	if !ok || !p.ours(label) {
		return fmt.Errorf("%w: %q is not a root key of this provider", rootkey.ErrOpen, id)
	}
	if id == p.CurrentID() {
		return errors.New("rootkey: cannot retire the current root key; rotate first")
	}
	k, ok, err := p.key(label)
	if err != nil {
		return fmt.Errorf("rootkey: retire: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: root key %q is not in the token", rootkey.ErrOpen, id)
	}
	p.mu.Lock()
	delete(p.keys, label)
	p.mu.Unlock()
	if err := p.tok.DestroyKey(k); err != nil && !errors.Is(err, hsm.ErrKeyNotFound) {
		return fmt.Errorf("rootkey: retire: %w", err)
	}
	return nil
}

// Token returns the open HSM token, for capabilities beyond sealing
// (GenerateRandom, CloudHSM-type key stores on the same token). The
// provider owns it: do not close it.
func (p *Provider) Token() *hsm.Token { return p.tok }

// Close implements rootkey.Provider: it closes the provider's HSM sessions.
func (p *Provider) Close() error { return p.tok.Close() }

var (
	_ rootkey.Provider = (*Provider)(nil)
	_ rootkey.Rotator  = (*Provider)(nil)
	_ rootkey.Lister   = (*Provider)(nil)
)
