package pkcs11_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/hsm/hsmtest"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/rootkey/pkcs11"
)

// TestMain removes the SoftHSM2 directory hsmtest creates. If another test
// file of this package needs a TestMain, merge it here.
func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

func openP11(t testing.TB, token, keyLabel string) *pkcs11.Provider {
	t.Helper()
	c := hsmtest.Config(t, token)
	p, err := pkcs11.Open(pkcs11.Config{Module: c.Module, TokenLabel: c.TokenLabel, PIN: c.PIN, KeyLabel: keyLabel})
	if err != nil {
		t.Fatalf("OpenPKCS11: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPKCS11SealOpen(t *testing.T) {
	p := openP11(t, hsmtest.TokenA, "root-sealopen")
	if got := p.CurrentID(); got != "p11-root-sealopen" {
		t.Fatalf("CurrentID = %q", got)
	}
	pt, aad := []byte("32 bytes of key material........"), []byte("key-1|material-1")
	blob, err := p.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := rootkey.SealedBy(blob); err != nil || id != p.CurrentID() {
		t.Fatalf("SealedBy = %q, %v", id, err)
	}
	if bytes.Contains(blob, pt) {
		t.Fatal("sealed blob contains the plaintext")
	}
	// A second provider on the same token (a restart) opens it; one on a
	// different token with the same key label has a different key and
	// cannot; nor can a file provider.
	same := openP11(t, hsmtest.TokenA, "root-sealopen")
	other := openP11(t, hsmtest.TokenB, "root-sealopen")
	file, err := rootkey.NewStatic(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { b := bytes.Clone(blob); b[i] ^= 1; return b }
	renamed := bytes.Clone(blob)
	copy(renamed[2:], "p11-root-sealopem") // same length, other key label

	tests := []struct {
		name string
		p    rootkey.Provider
		blob []byte
		aad  []byte
		ok   bool
	}{
		{"ok/same-instance", p, blob, aad, true},
		{"ok/second-instance-same-token", same, blob, aad, true},
		{"fail/other-token-same-label", other, blob, aad, false},
		{"fail/file-provider", file, blob, aad, false},
		{"fail/other-aad", p, blob, []byte("key-2|material-1"), false},
		{"fail/no-aad", p, blob, nil, false},
		{"fail/tampered-header", p, renamed, aad, false},
		{"fail/tampered-nonce", p, flip(2 + len(p.CurrentID())), aad, false},
		{"fail/tampered-tag", p, flip(len(blob) - 1), aad, false},
		{"fail/truncated", p, blob[:len(blob)-20], aad, false},
		{"fail/empty", p, nil, aad, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Open(tc.blob, tc.aad)
			if tc.ok {
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("Open = %v", err)
				}
				return
			}
			if !errors.Is(err, rootkey.ErrOpen) {
				t.Fatalf("Open error = %v, want ErrOpen", err)
			}
			if got != nil {
				t.Fatal("failed Open returned plaintext")
			}
		})
	}
}

func TestPKCS11Config(t *testing.T) {
	c := hsmtest.Config(t, hsmtest.TokenA)
	tests := []struct {
		name string
		cfg  pkcs11.Config
	}{
		{"fail/no-key-label", pkcs11.Config{Module: c.Module, TokenLabel: c.TokenLabel, PIN: c.PIN}},
		{"fail/long-key-label", pkcs11.Config{Module: c.Module, TokenLabel: c.TokenLabel, PIN: c.PIN, KeyLabel: strings.Repeat("k", 201)}},
		{"fail/wrong-pin", pkcs11.Config{Module: c.Module, TokenLabel: hsmtest.TokenB, PIN: "0000", KeyLabel: "k"}},
		{"fail/no-token", pkcs11.Config{Module: c.Module, TokenLabel: "absent", PIN: c.PIN, KeyLabel: "k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pkcs11.Open(tc.cfg)
			if err == nil {
				p.Close()
				t.Fatal("OpenPKCS11 succeeded")
			}
			if strings.Contains(err.Error(), "0000") {
				t.Errorf("error %q contains the PIN", err)
			}
		})
	}
}

func TestPKCS11KeyIsNonExtractable(t *testing.T) {
	p := openP11(t, hsmtest.TokenA, "root-attrs")
	k, err := p.Token().FindKey("root-attrs")
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Token().KeyAttributes(k)
	if err != nil {
		t.Fatal(err)
	}
	if a.Extractable || !a.Sensitive || !a.NeverExtractable || !a.Token || a.ValueReadable || a.ValueLen != 32 {
		t.Fatalf("root key attributes %+v: want sensitive, non-extractable, 32-byte token key", a)
	}
}

// TestPKCS11RotateUnderLoad seals and opens from 8 goroutines for 2 s while
// the root key rotates; every blob opens before Retire, and after Retire
// exactly the blobs sealed under the old key fail.
func TestPKCS11RotateUnderLoad(t *testing.T) {
	p := openP11(t, hsmtest.TokenA, "root-rotate")
	oldID := p.CurrentID()

	type sealed struct{ blob, pt, aad []byte }
	var (
		mu     sync.Mutex
		blobs  []sealed
		failed atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				pt := fmt.Appendf(nil, "material %d/%d", g, i)
				aad := fmt.Appendf(nil, "key-%d", g)
				b, err := p.Seal(pt, aad)
				if err != nil {
					failed.Add(1)
					continue
				}
				if got, err := p.Open(b, aad); err != nil || !bytes.Equal(got, pt) {
					failed.Add(1)
				}
				if i%10 == 0 { // keep the verification below short
					mu.Lock()
					blobs = append(blobs, sealed{b, pt, aad})
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	newID, err := p.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d seal/open failures during rotation", n)
	}
	if newID == oldID || p.CurrentID() != newID {
		t.Fatalf("Rotate returned %q, CurrentID %q, old %q", newID, p.CurrentID(), oldID)
	}
	// A restarted instance finds the new key current and opens both.
	restarted := openP11(t, hsmtest.TokenA, "root-rotate")
	if restarted.CurrentID() != newID {
		t.Fatalf("restarted CurrentID = %q, want %q", restarted.CurrentID(), newID)
	}
	count := map[string]int{}
	for _, s := range blobs {
		id, _ := rootkey.SealedBy(s.blob)
		count[id]++
		for _, q := range []*pkcs11.Provider{p, restarted} {
			if got, err := q.Open(s.blob, s.aad); err != nil || !bytes.Equal(got, s.pt) {
				t.Fatalf("blob under %s does not open before Retire: %v", id, err)
			}
		}
	}
	if count[oldID] == 0 || count[newID] == 0 {
		t.Fatalf("blobs per root key %v: want some under each", count)
	}
	t.Logf("%d blobs: %v", len(blobs), count)

	if err := p.Retire(newID); err == nil {
		t.Fatal("Retire(current) succeeded")
	}
	if err := p.Retire(oldID); err != nil {
		t.Fatal(err)
	}
	for _, s := range blobs {
		id, _ := rootkey.SealedBy(s.blob)
		for _, q := range []*pkcs11.Provider{p, restarted} {
			_, err := q.Open(s.blob, s.aad)
			if id == oldID && !errors.Is(err, rootkey.ErrOpen) {
				t.Fatalf("old blob after Retire: %v, want ErrOpen", err)
			}
			if id == newID && err != nil {
				t.Fatalf("new blob after Retire: %v", err)
			}
		}
	}
	if err := p.Retire(oldID); !errors.Is(err, rootkey.ErrOpen) {
		t.Fatalf("second Retire: %v, want ErrOpen", err)
	}
}

func TestPKCS11Refresh(t *testing.T) {
	a := openP11(t, hsmtest.TokenA, "root-refresh")
	b := openP11(t, hsmtest.TokenA, "root-refresh")
	id, err := a.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := a.Seal([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(blob, nil); err != nil {
		t.Fatalf("other instance cannot open a blob under the new key: %v", err)
	}
	if b.CurrentID() == id {
		t.Fatal("b switched without Refresh")
	}
	if err := b.Refresh(); err != nil {
		t.Fatal(err)
	}
	if b.CurrentID() != id {
		t.Fatalf("after Refresh CurrentID = %q, want %q", b.CurrentID(), id)
	}
}

func BenchmarkPKCS11Seal(b *testing.B) {
	p := openP11(b, hsmtest.TokenA, "root-bench")
	pt, aad := make([]byte, 32), []byte("key-id|material-id")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Seal(pt, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPKCS11Open(b *testing.B) {
	p := openP11(b, hsmtest.TokenA, "root-bench")
	aad := []byte("key-id|material-id")
	blob, err := p.Seal(make([]byte, 32), aad)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Open(blob, aad); err != nil {
			b.Fatal(err)
		}
	}
}
