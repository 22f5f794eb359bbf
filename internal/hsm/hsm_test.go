package hsm_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/hsm/hsmtest"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

func TestOpen(t *testing.T) {
	base := hsmtest.Config(t, hsmtest.TokenA)
	// Keep one Token open so that later Opens meet an existing login: a
	// wrong PIN must still be refused then.
	hsmtest.Open(t, hsmtest.TokenA)
	tests := []struct {
		name string
		mod  func(*hsm.Config)
		want error
	}{
		{"ok/token-a", func(*hsm.Config) {}, nil},
		{"ok/token-b", func(c *hsm.Config) { c.TokenLabel = hsmtest.TokenB }, nil},
		{"ok/one-session", func(c *hsm.Config) { c.Sessions = 1 }, nil},
		{"fail/unknown-token", func(c *hsm.Config) { c.TokenLabel = "no-such-token" }, hsm.ErrTokenNotFound},
		{"fail/wrong-pin-while-logged-in", func(c *hsm.Config) { c.PIN = "9999" }, hsm.ErrLogin},
		{"fail/missing-module", func(c *hsm.Config) { c.Module = "/nonexistent/libpkcs11.so" }, hsm.ErrModule},
		{"fail/no-pin", func(c *hsm.Config) { c.PIN = "" }, hsm.ErrInput},
		{"fail/no-token-label", func(c *hsm.Config) { c.TokenLabel = "" }, hsm.ErrInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			tok, err := hsm.Open(cfg)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if got := tok.Info().Label; got != cfg.TokenLabel {
					t.Errorf("Info().Label = %q, want %q", got, cfg.TokenLabel)
				}
				if err := tok.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			if cfg.PIN != "" && bytes.Contains([]byte(err.Error()), []byte(cfg.PIN)) {
				t.Errorf("error %q contains the PIN", err)
			}
		})
	}
}

func TestWrongPINFreshLogin(t *testing.T) {
	// Token B is not open in this test: C_Login itself must refuse.
	cfg := hsmtest.Config(t, hsmtest.TokenB)
	cfg.PIN = "0000"
	if _, err := hsm.Open(cfg); !errors.Is(err, hsm.ErrLogin) {
		t.Fatalf("Open with wrong PIN: %v, want ErrLogin", err)
	}
}

func TestKeyLifecycle(t *testing.T) {
	tok := hsmtest.Open(t, hsmtest.TokenA)
	k, err := tok.GenerateAESKey("lifecycle")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateAESKey("lifecycle"); !errors.Is(err, hsm.ErrKeyExists) {
		t.Fatalf("second GenerateAESKey: %v, want ErrKeyExists", err)
	}
	found, err := tok.FindKey("lifecycle")
	if err != nil || found.Label != "lifecycle" {
		t.Fatalf("FindKey = %+v, %v", found, err)
	}
	a, err := tok.KeyAttributes(k)
	if err != nil {
		t.Fatal(err)
	}
	want := hsm.Attributes{
		Label: "lifecycle", Class: 4, KeyType: 0x1f, ValueLen: 32,
		Token: true, Private: true, Sensitive: true, Extractable: false,
		AlwaysSensitive: true, NeverExtractable: true, Encrypt: true, Decrypt: true,
		ValueReadable: false,
	}
	if a != want {
		t.Fatalf("KeyAttributes =\n%+v\nwant\n%+v", a, want)
	}
	if err := tok.DestroyKey(k); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.FindKey("lifecycle"); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("FindKey after destroy: %v, want ErrKeyNotFound", err)
	}
	if _, err := tok.Encrypt(k, make([]byte, 12), []byte("x"), nil); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("Encrypt after destroy: %v, want ErrKeyNotFound", err)
	}
}

func TestListKeys(t *testing.T) {
	tok := hsmtest.Open(t, hsmtest.TokenA)
	for _, l := range []string{"list.a", "list.b", "other"} {
		if _, err := tok.GenerateAESKey(l); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := tok.ListKeys("list.")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, k := range keys {
		got[k.Label] = true
	}
	if len(got) != 2 || !got["list.a"] || !got["list.b"] {
		t.Fatalf("ListKeys(list.) = %v", got)
	}
}

func TestEncryptDecrypt(t *testing.T) {
	tok := hsmtest.Open(t, hsmtest.TokenA)
	k, err := tok.GenerateAESKey("gcm")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tok.GenerateAESKey("gcm-other")
	if err != nil {
		t.Fatal(err)
	}
	iv12 := bytes.Repeat([]byte{1}, 12)
	iv16 := bytes.Repeat([]byte{2}, 16)
	pt := []byte("key material, 32 bytes long....")
	aad := []byte("key-id|material-id")
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }

	tests := []struct {
		name    string
		encIV   []byte
		pt, aad []byte
		// tamper changes what Decrypt gets.
		tamper func(iv, ct, aad []byte) (hsm.Key, []byte, []byte, []byte)
		encErr error
		decErr error
	}{
		{name: "ok/iv12-aad", encIV: iv12, pt: pt, aad: aad},
		{name: "ok/iv16-aad", encIV: iv16, pt: pt, aad: aad},
		{name: "ok/no-aad", encIV: iv12, pt: pt},
		{name: "ok/empty-plaintext", encIV: iv12, pt: []byte{}, aad: aad},
		{name: "ok/4300-bytes", encIV: iv12, pt: bytes.Repeat([]byte{7}, 4300), aad: aad},
		{name: "fail/iv-length", encIV: make([]byte, 8), pt: pt, encErr: hsm.ErrInput},
		{name: "fail/wrong-aad", encIV: iv12, pt: pt, aad: aad, decErr: hsm.ErrDecrypt,
			tamper: func(iv, ct, a []byte) (hsm.Key, []byte, []byte, []byte) { return k, iv, ct, []byte("other") }},
		{name: "fail/tampered-ciphertext", encIV: iv12, pt: pt, aad: aad, decErr: hsm.ErrDecrypt,
			tamper: func(iv, ct, a []byte) (hsm.Key, []byte, []byte, []byte) { return k, iv, flip(ct, 0), a }},
		{name: "fail/tampered-tag", encIV: iv12, pt: pt, aad: aad, decErr: hsm.ErrDecrypt,
			tamper: func(iv, ct, a []byte) (hsm.Key, []byte, []byte, []byte) { return k, iv, flip(ct, len(ct)-1), a }},
		{name: "fail/wrong-iv", encIV: iv12, pt: pt, aad: aad, decErr: hsm.ErrDecrypt,
			tamper: func(iv, ct, a []byte) (hsm.Key, []byte, []byte, []byte) { return k, flip(iv, 3), ct, a }},
		{name: "fail/other-key", encIV: iv12, pt: pt, aad: aad, decErr: hsm.ErrDecrypt,
			tamper: func(iv, ct, a []byte) (hsm.Key, []byte, []byte, []byte) { return other, iv, ct, a }},
		{name: "fail/truncated", encIV: iv12, pt: pt, aad: aad, decErr: hsm.ErrDecrypt,
			tamper: func(iv, ct, a []byte) (hsm.Key, []byte, []byte, []byte) { return k, iv, ct[:10], a }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, err := tok.Encrypt(k, tc.encIV, tc.pt, tc.aad)
			if tc.encErr != nil {
				if !errors.Is(err, tc.encErr) {
					t.Fatalf("Encrypt: %v, want %v", err, tc.encErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if len(ct) != len(tc.pt)+hsm.TagSize {
				t.Fatalf("len(ct) = %d, want %d", len(ct), len(tc.pt)+hsm.TagSize)
			}
			if len(tc.pt) > 0 && bytes.Contains(ct, tc.pt) {
				t.Fatal("ciphertext contains the plaintext")
			}
			dk, iv, dct, daad := k, tc.encIV, ct, tc.aad
			if tc.tamper != nil {
				dk, iv, dct, daad = tc.tamper(tc.encIV, ct, tc.aad)
			}
			got, err := tok.Decrypt(dk, iv, dct, daad)
			if tc.decErr != nil {
				if !errors.Is(err, tc.decErr) {
					t.Fatalf("Decrypt: %v, want %v", err, tc.decErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(got, tc.pt) {
				t.Fatal("round trip changed the plaintext")
			}
		})
	}
}

func TestRandom(t *testing.T) {
	tok := hsmtest.Open(t, hsmtest.TokenA)
	tests := []struct {
		name string
		n    int
		want error
	}{
		{"ok/1", 1, nil},
		{"ok/32", 32, nil},
		{"ok/1024", 1024, nil},
		{"fail/0", 0, hsm.ErrInput},
		{"fail/1025", 1025, hsm.ErrInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tok.Random(tc.n)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Random(%d): %v, want %v", tc.n, err, tc.want)
			}
			if err == nil && len(b) != tc.n {
				t.Fatalf("len = %d", len(b))
			}
		})
	}
	a, _ := tok.Random(32)
	b, _ := tok.Random(32)
	if bytes.Equal(a, b) {
		t.Fatal("two Random(32) calls returned the same bytes")
	}
}

func TestData(t *testing.T) {
	tok := hsmtest.Open(t, hsmtest.TokenA)
	if _, err := tok.GetData("current"); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("GetData before Put: %v, want ErrKeyNotFound", err)
	}
	for _, v := range []string{"root-1", "root-2-longer-value", "r3"} {
		if err := tok.PutData("current", []byte(v)); err != nil {
			t.Fatal(err)
		}
		got, err := tok.GetData("current")
		if err != nil || string(got) != v {
			t.Fatalf("GetData = %q, %v; want %q", got, err, v)
		}
	}
	// Another Token on the same HSM token sees the value.
	tok2 := hsmtest.Open(t, hsmtest.TokenA)
	if got, err := tok2.GetData("current"); err != nil || string(got) != "r3" {
		t.Fatalf("second Token GetData = %q, %v", got, err)
	}
}

func TestConcurrentUse(t *testing.T) {
	cfg := hsmtest.Config(t, hsmtest.TokenA)
	cfg.Sessions = 2
	tok, err := hsm.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	k, err := tok.GenerateAESKey("concurrent")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				pt := fmt.Appendf(nil, "goroutine %d message %d", g, i)
				iv, err := tok.Random(12)
				if err != nil {
					errs <- err
					return
				}
				ct, err := tok.Encrypt(k, iv, pt, []byte("aad"))
				if err != nil {
					errs <- err
					return
				}
				got, err := tok.Decrypt(k, iv, ct, []byte("aad"))
				if err != nil || !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("round trip: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestClosed(t *testing.T) {
	tok, err := hsm.Open(hsmtest.Config(t, hsmtest.TokenA))
	if err != nil {
		t.Fatal(err)
	}
	k, err := tok.GenerateAESKey("closed")
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := tok.Encrypt(k, make([]byte, 12), []byte("x"), nil); !errors.Is(err, hsm.ErrClosed) {
		t.Fatalf("Encrypt after Close: %v, want ErrClosed", err)
	}
	// Reopening works and finds the key again (it is a token object).
	tok2 := hsmtest.Open(t, hsmtest.TokenA)
	if _, err := tok2.FindKey("closed"); err != nil {
		t.Fatalf("FindKey after reopen: %v", err)
	}
}

func BenchmarkEncrypt(b *testing.B) {
	tok := hsmtest.Open(b, hsmtest.TokenA)
	k, err := tok.GenerateAESKey(fmt.Sprintf("bench-enc-%d", b.N))
	if err != nil {
		b.Fatal(err)
	}
	pt, iv, aad := make([]byte, 32), make([]byte, 12), []byte("aad")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tok.Encrypt(k, iv, pt, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	tok := hsmtest.Open(b, hsmtest.TokenA)
	k, err := tok.GenerateAESKey(fmt.Sprintf("bench-dec-%d", b.N))
	if err != nil {
		b.Fatal(err)
	}
	iv, aad := make([]byte, 12), []byte("aad")
	ct, err := tok.Encrypt(k, iv, make([]byte, 32), aad)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tok.Decrypt(k, iv, ct, aad); err != nil {
			b.Fatal(err)
		}
	}
}
