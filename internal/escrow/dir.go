package escrow

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"filippo.io/age"
	"github.com/trentkms/trent/internal/durable"
)

// File is one share file: its name in the escrow directory and its
// contents.
type File struct {
	Name string
	// Recipient is the age recipient it is encrypted to ("" if it is not).
	Recipient string
	Data      []byte
}

// Files returns the files of shares, in order: "share-I-of-N.txt" in the
// clear, or, when recipients are given (exactly one per share: share I
// goes to recipients[I-1]), "share-I-of-N.age" encrypted to its recipient.
// I is zero-padded to the width of N, so that the names sort.
func Files(shares []*Share, recipients []age.Recipient) ([]File, error) {
	if len(recipients) != 0 && len(recipients) != len(shares) {
		return nil, fmt.Errorf("escrow: %d recipients for %d shares: give one recipient per share (share I goes to the I-th), or none", len(recipients), len(shares))
	}
	files := make([]File, len(shares))
	width := len(fmt.Sprint(len(shares)))
	for i, s := range shares {
		name := fmt.Sprintf("share-%0*d-of-%d", width, s.Index, s.Total)
		if len(recipients) == 0 {
			files[i] = File{Name: name + ".txt", Data: s.Marshal()}
			continue
		}
		data, err := s.Encrypt(recipients[i])
		if err != nil {
			return nil, err
		}
		files[i] = File{Name: name + ".age", Recipient: fmt.Sprint(recipients[i]), Data: data}
	}
	return files, nil
}

// WriteDir writes files into dir, mode 0600, creating dir (mode 0700) if
// it does not exist. It refuses a dir that holds anything, so that shares
// of two escrows never mix in one directory. Every file is synced before
// WriteDir returns; on an error it removes the files it wrote.
func WriteDir(dir string, files []File) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("escrow: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("escrow: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("escrow: %s is not empty (it holds %s); give a new or empty directory", dir, ents[0].Name())
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	for _, f := range files {
		if f.Name == "" || filepath.Base(f.Name) != f.Name {
			return fmt.Errorf("escrow: bad file name %q", f.Name)
		}
		p := filepath.Join(dir, f.Name)
		if err := writeNew(p, f.Data); err != nil {
			return err
		}
		written = append(written, p)
	}
	if err := durable.SyncDir(dir); err != nil {
		return fmt.Errorf("escrow: %w", err)
	}
	return nil
}

// writeNew writes data to a new file at p (mode 0600) and syncs it.
func writeNew(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("escrow: %s exists", p)
	}
	if err != nil {
		return fmt.Errorf("escrow: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("escrow: write %s: %w", p, err)
	}
	return nil
}
