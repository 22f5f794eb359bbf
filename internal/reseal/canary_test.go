package reseal

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// twoKeys is a rotating provider over two static root keys, standing in
// for an HSM.
type twoKeys struct {
	mu   sync.Mutex
	cur  string
	keys map[string]*rootkey.FileProvider
	next *rootkey.FileProvider
}

func static(t *testing.T, b byte) *rootkey.FileProvider {
	p, err := rootkey.NewStatic(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *twoKeys) Seal(pt, aad []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[p.cur].Seal(pt, aad)
}

func (p *twoKeys) Open(blob, aad []byte) ([]byte, error) {
	id, err := rootkey.SealedBy(blob)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	k, ok := p.keys[id]
	p.mu.Unlock()
	if !ok {
		return nil, rootkey.ErrOpen
	}
	return k.Open(blob, aad)
}

func (p *twoKeys) CurrentID() string { p.mu.Lock(); defer p.mu.Unlock(); return p.cur }
func (p *twoKeys) Close() error      { return nil }
func (p *twoKeys) Rotate() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = p.next.CurrentID()
	p.keys[p.cur] = p.next
	return p.cur, nil
}
func (p *twoKeys) Retire(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, id)
	return nil
}

// TestCanary: a store remembers which root key sealed it, refuses another
// key by name, and after a rotation needs the new key.
func TestCanary(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, b := static(t, 1), static(t, 2)
	if err := CheckCanary(ctx, st, a); !errors.Is(err, ErrNoCanary) {
		t.Fatalf("fresh store: %v", err)
	}
	if err := WriteCanary(ctx, st, a); err != nil {
		t.Fatal(err)
	}
	if err := CheckCanary(ctx, st, a); err != nil {
		t.Fatalf("same key: %v", err)
	}
	// fail/another key: named, with the one the store needs.
	err = CheckCanary(ctx, st, b)
	var me *MismatchError
	if !errors.As(err, &me) || !errors.Is(err, rootkey.ErrOpen) || me.Need != a.CurrentID() || len(me.Have) != 1 || me.Have[0] != b.CurrentID() {
		t.Fatalf("another key: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, a.CurrentID()) || !strings.Contains(msg, b.CurrentID()) {
		t.Fatalf("message %q names neither key", msg)
	}
	// A second WriteCanary (another node bootstrapping at once) checks
	// instead of overwriting.
	if err := WriteCanary(ctx, st, b); !errors.As(err, &me) {
		t.Fatalf("WriteCanary with another key over an existing canary: %v", err)
	}

	// ok/rotation: the canary moves to the new key with everything else.
	rot := &twoKeys{cur: a.CurrentID(), keys: map[string]*rootkey.FileProvider{a.CurrentID(): a}, next: b}
	res, err := Rotate(ctx, Options{Store: st, Root: rot, Settle: time.Millisecond})
	if err != nil || !res.Retired || res.Resealed != 1 {
		t.Fatalf("Rotate: %+v %v", res, err)
	}
	if need, err := CanaryNeeds(ctx, st); err != nil || need != b.CurrentID() {
		t.Fatalf("after rotation the store needs %q (%v), want %s", need, err, b.CurrentID())
	}
	if err := CheckCanary(ctx, st, b); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if err := CheckCanary(ctx, st, a); !errors.As(err, &me) || me.Need != b.CurrentID() {
		t.Fatalf("old key after rotation: %v", err)
	}
}
