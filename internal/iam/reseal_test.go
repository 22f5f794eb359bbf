package iam_test

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// switchKeys is a root key provider over two static keys, of which the
// test chooses the current one, as a rotation does.
type switchKeys struct {
	mu       sync.Mutex
	cur      *rootkey.FileProvider
	old, new *rootkey.FileProvider
}

func (p *switchKeys) current() *rootkey.FileProvider      { p.mu.Lock(); defer p.mu.Unlock(); return p.cur }
func (p *switchKeys) Seal(pt, aad []byte) ([]byte, error) { return p.current().Seal(pt, aad) }
func (p *switchKeys) CurrentID() string                   { return p.current().CurrentID() }
func (p *switchKeys) Close() error                        { return nil }
func (p *switchKeys) Open(blob, aad []byte) ([]byte, error) {
	id, err := rootkey.SealedBy(blob)
	if err != nil {
		return nil, err
	}
	if id == p.new.CurrentID() {
		return p.new.Open(blob, aad)
	}
	return p.old.Open(blob, aad)
}

// TestResealAll: after the root key changes, ResealAll seals every access
// key secret under the new key, each once, and the keys still
// authenticate with the same secret.
func TestResealAll(t *testing.T) {
	ctx := ctxT(t)
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mk := func(b byte) *rootkey.FileProvider {
		p, err := rootkey.NewStatic(bytes.Repeat([]byte{b}, 32))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := &switchKeys{old: mk(1), new: mk(2)}
	root.cur = root.old
	d := iam.New(st, root, "aws", nil)
	secrets := map[string]string{}
	for range 3 {
		k, secret, err := d.CreateRootAccessKey(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		secrets[k.ID] = secret
	}
	root.mu.Lock()
	root.cur = root.new
	root.mu.Unlock()

	var progress []int
	n, err := d.ResealAll(ctx, func(n int) { progress = append(progress, n) })
	if err != nil || n != len(secrets) || len(progress) != n || progress[n-1] != n {
		t.Fatalf("ResealAll = %d, %v (progress %v), want %d", n, err, progress, len(secrets))
	}
	for akid, secret := range secrets {
		blob, _, err := d.SealedSecret(ctx, akid)
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := rootkey.SealedBy(blob); id != root.new.CurrentID() {
			t.Fatalf("access key %s sealed by %s after ResealAll, want %s", akid, id, root.new.CurrentID())
		}
		sec, err := d.Lookup(ctx, akid)
		if err != nil || string(sec.Key) != secret {
			t.Fatalf("Lookup(%s) after ResealAll: %v (same secret: %v)", akid, err, err == nil && string(sec.Key) == secret)
		}
	}
	if n, err := d.ResealAll(ctx, nil); err != nil || n != 0 {
		t.Fatalf("second ResealAll = %d, %v, want 0", n, err)
	}
}
