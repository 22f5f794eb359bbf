package security

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Red team (rt-rest): a second server on a SQLite database that a running
// server holds, reached by another name than the one the holder used.
// Issue 15.8 says a second process on the same SQLite data is refused
// whatever its --node-id; the lock must not depend on how the database
// was named.

// TestSecondServerSameDatabase: the first server uses the default
// database DATA_DIR/trent.db; a second one, with a data directory of its
// own, names that database through --store: directly, through a symbolic
// link to the file, through a symbolic link to its directory, and through
// a hard link. Every second server must be refused, and the first keeps
// serving.
func TestSecondServerSameDatabase(t *testing.T) {
	t.Parallel()
	dirA := t.TempDir()
	a := Start(t, Opts{DataDir: dirA})
	a.CreateKey(t, Admin, nil)
	db := filepath.Join(dirA, "trent.db")

	links := t.TempDir()
	fileLink := filepath.Join(links, "db-link.db")
	if err := os.Symlink(db, fileLink); err != nil {
		t.Fatal(err)
	}
	dirLink := filepath.Join(links, "dir-link")
	if err := os.Symlink(dirA, dirLink); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(links, "hard.db")
	if err := os.Link(db, hard); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct{ name, path string }{
		{"same path", db},
		{"symlink to file", fileLink},
		{"symlink to its dir", filepath.Join(dirLink, "trent.db")},
		{"hard link", hard},
	} {
		name := c.name
		t.Run(name, func(t *testing.T) {
			// A node ID of its own each time: the refusal must come from
			// the lock, not from another node's audit anchor.
			b := Start(t, Opts{RootKeyHex: a.RootKeyHex, ConfigHome: a.ConfigHome,
				Args: []string{"--store", "sqlite:" + c.path, "--node-id", "other" + strconv.Itoa(i)}, ExpectFail: true})
			want := []string{}
			if name != "hard link" {
				want = append(want, "is in use", "PID "+strconv.Itoa(a.PID()))
			}
			atrestRefused(t, b, want...)
		})
	}
	if !a.Alive() {
		t.Fatalf("the first server died:\n%s", a.Output())
	}
	a.CreateKey(t, Admin, nil)
}
