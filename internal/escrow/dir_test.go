package escrow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestFilesAndWriteDir(t *testing.T) {
	t.Parallel()
	shares := split(t, newKeys(t, 1), 12, 2)
	x, _ := age.GenerateX25519Identity()
	t.Run("fail/recipient-count", func(t *testing.T) {
		if _, err := Files(shares, []age.Recipient{x.Recipient()}); err == nil || !strings.Contains(err.Error(), "1 recipients for 12 shares") {
			t.Fatal(err)
		}
	})
	files, err := Files(shares, nil)
	if err != nil {
		t.Fatal(err)
	}
	// ok/names-sort: share 2 of 12 before share 10.
	if files[1].Name != "share-02-of-12.txt" || files[11].Name != "share-12-of-12.txt" {
		t.Fatalf("names %s, %s", files[1].Name, files[11].Name)
	}
	dir := t.TempDir()
	t.Run("ok/write", func(t *testing.T) {
		d := filepath.Join(dir, "a", "shares")
		if err := WriteDir(d, files); err != nil {
			t.Fatal(err)
		}
		ents, _ := os.ReadDir(d)
		if len(ents) != 12 {
			t.Fatalf("%d files", len(ents))
		}
		fi, _ := os.Stat(d)
		if fi.Mode().Perm() != 0o700 {
			t.Fatalf("dir mode %v", fi.Mode().Perm())
		}
		for _, e := range ents {
			data, _ := os.ReadFile(filepath.Join(d, e.Name()))
			fi, _ := e.Info()
			_, err := Parse(data)
			if err != nil || fi.Mode().Perm() != 0o600 || !strings.Contains(e.Name(), "share-") {
				t.Fatalf("%s: %v, mode %v", e.Name(), err, fi.Mode().Perm())
			}
		}
		// fail/not-empty: a second escrow never lands beside the first.
		if err := WriteDir(d, files); err == nil || !strings.Contains(err.Error(), "is not empty") {
			t.Fatal(err)
		}
	})
	t.Run("fail/partial-write-removed", func(t *testing.T) {
		d := filepath.Join(dir, "b")
		bad := append(files[:2:2], File{Name: files[0].Name, Data: []byte("x")})
		if err := WriteDir(d, bad); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Fatalf("files left after a failed write: %v", ents)
		}
	})
	t.Run("fail/path-in-name", func(t *testing.T) {
		d := filepath.Join(dir, "c")
		if err := WriteDir(d, []File{{Name: "../escape", Data: []byte("x")}}); err == nil || !strings.Contains(err.Error(), "bad file name") {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "escape")); err == nil {
			t.Fatal("wrote outside the directory")
		}
	})
}
