package kmstest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/rootkey"
)

// RootKeys returns a root key provider (a key file) holding the keys named
// ids, the last one current, each 32 bytes of the first byte of its name:
// nodes over one store built with RootKeys("a"), then RootKeys("a", "b"),
// then RootKeys("b") see the root key rotated and the old one retired.
func RootKeys(t testing.TB, ids ...string) rootkey.Provider {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%s:%s\n", id, strings.Repeat(fmt.Sprintf("%02x", id[0]), 32))
	}
	path := filepath.Join(t.TempDir(), "root.key")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := rootkey.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
