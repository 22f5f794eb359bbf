package dirlock

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trent.lock")
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	// fail/second: a second lock of the same file (here: the same process,
	// another open file) is refused and names the holder.
	_, err = Acquire(path)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.PID != os.Getpid() {
		t.Fatalf("second Acquire: %v", err)
	}
	if want := "process " + strconv.Itoa(os.Getpid()) + " holds the lock " + path; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
	// ok/after release.
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal("second Release:", err)
	}
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer l2.Release()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file mode: %v %v", fi.Mode(), err)
	}
}
