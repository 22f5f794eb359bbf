package algo

import (
	"crypto/rand"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

var (
	materialMu    sync.Mutex
	materialCache = map[string][]byte{}
)

// material returns generated material for spec, one per spec per test binary
// (RSA_4096 takes about a second).
func material(t testing.TB, spec string) []byte {
	t.Helper()
	materialMu.Lock()
	defer materialMu.Unlock()
	if m, ok := materialCache[spec]; ok {
		return m
	}
	m, err := Generate(rand.Reader, spec)
	if err != nil {
		t.Fatalf("Generate(%s): %v", spec, err)
	}
	materialCache[spec] = m
	return m
}

func testKey(t testing.TB, spec, usage string) *Key {
	t.Helper()
	k, err := ParseKey(spec, usage, material(t, spec))
	if err != nil {
		t.Fatalf("ParseKey(%s, %s): %v", spec, usage, err)
	}
	return k
}

// wantAWS fails unless err is an *awserr.Error with the code and message.
func wantAWS(t testing.TB, err error, code, msg string) {
	t.Helper()
	e := awserr.As(err)
	if e == nil {
		t.Fatalf("error = %v, want %s %q", err, code, msg)
	}
	if e.Code != code || e.Message != msg {
		t.Fatalf("error = %s %q, want %s %q", e.Code, e.Message, code, msg)
	}
}

func hashOf(alg string, msg []byte) []byte {
	h := sigHash(alg).New()
	h.Write(msg)
	return h.Sum(nil)
}

func smHash(k *Key, msg []byte) ([]byte, error) {
	return sm2CalculateHash(k, msg)
}
