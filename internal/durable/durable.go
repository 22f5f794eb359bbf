// Package durable holds what makes a change to the file system survive a
// crash: a file's data is durable after its own fsync, but its name (a
// create, rename or remove) only after the directory holding it is synced.
package durable

import "os"

// SyncDir fsyncs the directory dir, so that the entries created, renamed
// and removed in it so far are durable. The error names dir.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &os.PathError{Op: "sync", Path: dir, Err: err}
	}
	return nil
}
