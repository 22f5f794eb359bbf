package reseal

import (
	"bytes"
	"errors"
	"testing"

	"github.com/trentkms/trent/internal/rootkey"
)

func TestStaleAndBlob(t *testing.T) {
	t.Parallel()
	a, b := static(t, 1), static(t, 2)
	rot := &twoKeys{cur: a.CurrentID(), keys: map[string]*rootkey.FileProvider{a.CurrentID(): a}, next: b}
	aad := []byte("record/1")
	old, err := rot.Seal([]byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	if Stale(old, a.CurrentID()) || Stale(nil, "x") || Stale([]byte("not sealed"), "x") {
		t.Fatal("Stale reports a blob under the current key, a nil blob or an unreadable one")
	}
	if _, err := rot.Rotate(); err != nil {
		t.Fatal(err)
	}
	if !Stale(old, rot.CurrentID()) {
		t.Fatal("a blob under the old key is not stale")
	}
	fresh, err := Blob(rot, old, aad)
	if err != nil {
		t.Fatal(err)
	}
	if Stale(fresh, rot.CurrentID()) {
		t.Fatal("Blob's output is still stale")
	}
	if pt, err := b.Open(fresh, aad); err != nil || !bytes.Equal(pt, []byte("secret")) {
		t.Fatalf("the new key opens %q, %v", pt, err)
	}
	// fail/other-aad: the associated data is kept, not replaced.
	if _, err := Blob(rot, old, []byte("record/2")); err == nil {
		t.Fatal("Blob opened a blob with other associated data")
	}
	// fail/key-gone: the old key retired, nothing opens.
	if err := rot.Retire(a.CurrentID()); err != nil {
		t.Fatal(err)
	}
	if _, err := Blob(rot, old, aad); !errors.Is(err, rootkey.ErrOpen) {
		t.Fatalf("Blob without the old key = %v, want rootkey.ErrOpen", err)
	}
}
