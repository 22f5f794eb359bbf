package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// hashFile returns the size and SHA-256 of the file at path.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// listFiles returns the slash-separated paths of the regular files under
// dir, and an error naming anything else (a symbolic link, a device).
func listFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, filepath.ToSlash(rel))
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}

// copyFile copies from to to (which must not exist) with mode 0600 and
// syncs it.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	return writeSync(to, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	})
}

// writeSync creates path (which must not exist) with mode 0600, fills it
// with fill and syncs it; on error it removes it.
func writeSync(path string, fill func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// copyLines copies the complete lines of a file another process may be
// appending to: everything up to the last newline before the first NUL
// (an audit segment's preallocated, not yet written space) or the end. A
// line being written when the copy reads is left out; the next backup
// has it.
func copyLines(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	data = data[:bytes.LastIndexByte(data, '\n')+1]
	return writeSync(to, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// emptyDir reports an error unless dir does not exist or is an empty
// directory.
func emptyDir(dir, what string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, dir, err)
	}
	if len(ents) > 0 {
		names := []string{}
		for i, e := range ents {
			if i == 3 {
				names = append(names, "...")
				break
			}
			names = append(names, e.Name())
		}
		return fmt.Errorf("%s %s is not empty (%s): restore only into an empty one", what, dir, strings.Join(names, ", "))
	}
	return nil
}
