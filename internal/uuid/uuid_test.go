package uuid

import (
	"regexp"
	"testing"
)

func TestNewAndFormat(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		u := New()
		if !v4.MatchString(u) || seen[u] {
			t.Fatalf("New() = %q (repeat: %v)", u, seen[u])
		}
		seen[u] = true
	}
	b := []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10}
	if got, want := Format(b), "01234567-89ab-cdef-fedc-ba9876543210"; got != want {
		t.Fatalf("Format = %q, want %q", got, want)
	}
}
