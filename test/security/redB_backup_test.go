package security

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRedBBackupFileModes (red team B): every file of a backup is readable
// by its owner only, whatever the umask. Before the fix the SQLite copy
// (store/trent.db, made by VACUUM INTO) took the umask's mode, 0644 under
// the usual 022, while every other file of the backup was 0600: the
// store's records (IAM users, policies, grants, sealed key material) were
// readable by every local user as soon as the backup directory was moved,
// archived or its parent's mode widened.
func TestRedBBackupFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	s := Start(t, Opts{})
	s.CreateKey(t, Admin, nil)
	out := filepath.Join(t.TempDir(), "bk")
	if msg, err := Trent(t, []string{"TRENT_ROOT_KEY=" + s.RootKeyHex, "HOME=" + s.ConfigHome, "XDG_CONFIG_HOME=" + s.ConfigHome},
		"backup", "--out", out, "--data-dir", s.DataDir); err != nil {
		t.Fatalf("backup: %v\n%s", err, msg)
	}
	n := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n++
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: a backup file must be readable by its owner only", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil || n < 3 {
		t.Fatalf("walking the backup: %v (%d entries)", err, n)
	}
}
