package rootkey_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/rootkey"
)

func TestFileProvider(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "conf", "trent", "root.key")
	// fail/missing: OpenFile never creates.
	if _, err := rootkey.OpenFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenFile of a missing file: %v", err)
	}
	// ok/concurrent-create: processes starting at once end up with one key.
	var wg sync.WaitGroup
	provs := make([]*rootkey.FileProvider, 8)
	errs := make([]error, 8)
	for i := range provs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			provs[i], errs[i] = rootkey.CreateFile(path)
		}()
	}
	wg.Wait()
	for i := range provs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if provs[i].CurrentID() != provs[0].CurrentID() {
			t.Fatalf("CreateFile %d made key %s, another made %s", i, provs[i].CurrentID(), provs[0].CurrentID())
		}
	}
	blob, err := provs[3].Seal([]byte("x"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := rootkey.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := p.Open(blob, []byte("aad")); err != nil || string(pt) != "x" {
		t.Fatalf("Open after reopen: %q %v", pt, err)
	}
	if ids := p.IDs(); len(ids) != 1 || ids[0] != p.CurrentID() || !strings.HasPrefix(ids[0], "file-") {
		t.Fatalf("IDs = %v", ids)
	}
	for _, f := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]fs.FileMode{true: 0o700, false: 0o600}[fi.IsDir()]; fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", f, fi.Mode().Perm(), want)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Fatalf("temporary files left beside the key file: %v", ents)
	}
}

func TestMoveFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	from, to := filepath.Join(dir, "data", "root.key"), filepath.Join(dir, "cfg", "trent", "root.key")
	if err := os.MkdirAll(filepath.Dir(from), 0o700); err != nil {
		t.Fatal(err)
	}
	p, err := rootkey.CreateFile(from)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(from)
	// ok/move.
	if err := rootkey.MoveFile(from, to); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(from); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old file still there: %v", err)
	}
	got, err := os.ReadFile(to)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("moved file differs (%v)", err)
	}
	if q, err := rootkey.OpenFile(to); err != nil || q.CurrentID() != p.CurrentID() {
		t.Fatalf("moved key: %v", err)
	}
	// ok/resume: a move interrupted after the copy (both files, same keys)
	// is finished.
	if err := os.WriteFile(from, want, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rootkey.MoveFile(from, to); err != nil {
		t.Fatalf("resumed move: %v", err)
	}
	if _, err := os.Stat(from); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old file still there after resumed move: %v", err)
	}
	// fail/exists: another key file at the destination is never replaced.
	if _, err := rootkey.CreateFile(from); err != nil {
		t.Fatal(err)
	}
	if err := rootkey.MoveFile(from, to); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("move onto another key file: %v", err)
	}
	if got, _ := os.ReadFile(to); !bytes.Equal(got, want) {
		t.Fatal("the destination was changed")
	}
	if _, err := os.Stat(from); err != nil {
		t.Fatalf("the source was removed after a failed move: %v", err)
	}
	// fail/not-a-key-file: nothing moves.
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("hello\n"), 0o600)
	if err := rootkey.MoveFile(junk, filepath.Join(dir, "junk2")); err == nil || !strings.Contains(err.Error(), "want id:hex") {
		t.Fatalf("move of a non-key file: %v", err)
	}
}

func TestKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "a", "root.key")
	p, err := rootkey.CreateFile(src)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := p.Seal([]byte("material"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := rootkey.ReadKeyFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != p.CurrentID() || rootkey.ID(keys[0].Secret) != keys[0].ID {
		t.Fatalf("ReadKeyFile = %d keys, ID %q, want %q", len(keys), keys[0].ID, p.CurrentID())
	}
	// ok/round-trip: the written file opens what the original sealed.
	dst := filepath.Join(dir, "b", "c", "root.key")
	if err := rootkey.WriteKeyFile(dst, keys); err != nil {
		t.Fatal(err)
	}
	q, err := rootkey.OpenFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := q.Open(blob, []byte("aad")); err != nil || string(pt) != "material" {
		t.Fatalf("Open with the rewritten key file: %q %v", pt, err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi.Mode(), err)
	}
	// fail/exists: never replaced.
	if err := rootkey.WriteKeyFile(dst, keys); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteKeyFile over a file: %v", err)
	}
	// fail/wrong-id: a key is written under its own ID only.
	bad := []rootkey.Key{{ID: "file-000000000000", Secret: keys[0].Secret}}
	if err := rootkey.WriteKeyFile(filepath.Join(dir, "bad"), bad); err == nil || !strings.Contains(err.Error(), "another ID") {
		t.Fatalf("WriteKeyFile with a wrong ID: %v", err)
	}
	// fail/hand-edited: a file whose ID is not derived from its key.
	edited := filepath.Join(dir, "edited")
	data, _ := os.ReadFile(src)
	os.WriteFile(edited, append([]byte("mykey"), data[len(keys[0].ID):]...), 0o600)
	if _, err := rootkey.ReadKeyFile(edited); err == nil || !strings.Contains(err.Error(), "not the one Trent derives") {
		t.Fatalf("ReadKeyFile of a hand-edited file: %v", err)
	} else if strings.Contains(err.Error(), hexOf(keys[0].Secret)) {
		t.Fatal("the error shows the key")
	}
	// fail/missing.
	if _, err := rootkey.ReadKeyFile(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadKeyFile of a missing file: %v", err)
	}
}

func hexOf(b []byte) string { return fmt.Sprintf("%x", b) }
