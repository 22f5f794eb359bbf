package reseal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
)

// Kind is the store record kind that announces the current root key; its
// one record has ID "current".
const Kind = "rootkey"

const currentID = "current"

// Resealer re-seals the secrets of one component under the current root
// key. kms.Service (key materials), keystore.Service (custom key store
// secrets), keyimport.Service (import parameters) and iam.Directory
// implement it.
type Resealer interface {
	// ResealAll rewrites every record sealed under a root key other than
	// the current one and returns how many it rewrote.
	ResealAll(ctx context.Context, progress func(n int)) (int, error)
}

// File is a file holding one sealed blob (the audit signing key).
type File struct {
	Path string
	AAD  []byte
}

// Options configure Rotate.
type Options struct {
	Store store.Store
	// Root must implement rootkey.Rotator.
	Root      rootkey.Provider
	Resealers []Resealer
	Files     []File
	// Settle is how long to wait after announcing the new root key before
	// re-sealing, so that running nodes switch to it; 0 means 3 s (the
	// change feed is polled every 250 ms).
	Settle time.Duration
	// MaxPasses bounds the re-seal passes; 0 means 5.
	MaxPasses int
	// KeepOld skips retiring the old root key.
	KeepOld bool
	// Progress, if set, is told the number of records re-sealed so far.
	Progress func(n int)
}

// Result reports a rotation.
type Result struct {
	Old, New string
	Resealed int
	Passes   int
	Retired  bool
}

// ErrNotRotatable is returned by Rotate when the root key provider cannot
// make a new root key.
var ErrNotRotatable = errors.New("reseal: this root key provider cannot rotate online")

type announcement struct {
	ID       string    `json:"id"`
	Previous string    `json:"previous"`
	Rotated  time.Time `json:"rotated"`
}

// Rotate rotates the root key online; see the package documentation. It
// returns ErrNotRotatable (wrapped) if o.Root is not a rootkey.Rotator, and
// an error without retiring anything if re-sealing fails or does not
// converge within MaxPasses passes.
func Rotate(ctx context.Context, o Options) (Result, error) {
	rot, ok := o.Root.(rootkey.Rotator)
	if !ok {
		return Result{}, fmt.Errorf("%w (%T); use the pkcs11 provider", ErrNotRotatable, o.Root)
	}
	if o.Settle == 0 {
		o.Settle = 3 * time.Second
	}
	if o.MaxPasses == 0 {
		o.MaxPasses = 5
	}
	res := Result{Old: o.Root.CurrentID()}
	var err error
	if res.New, err = rot.Rotate(); err != nil {
		return res, fmt.Errorf("reseal: rotate: %w", err)
	}
	if err := Announce(ctx, o.Store, res.New, res.Old); err != nil {
		return res, err
	}
	if err := sleep(ctx, o.Settle); err != nil {
		return res, err
	}
	for res.Passes < o.MaxPasses {
		res.Passes++
		n, err := pass(ctx, o, res.Resealed)
		if err != nil {
			return res, err
		}
		res.Resealed += n
		if n == 0 && res.Passes > 1 {
			break
		}
		if res.Passes > 1 {
			// A node sealed with the old key after the first pass: give
			// it time to switch.
			if err := sleep(ctx, o.Settle); err != nil {
				return res, err
			}
		}
	}
	if res.Passes == o.MaxPasses {
		if n, err := pass(ctx, o, res.Resealed); err != nil || n != 0 {
			return res, fmt.Errorf("reseal: secrets sealed under %s keep appearing; the old root key is kept (is a node not following the change feed?)", res.Old)
		}
	}
	if o.KeepOld || res.Old == res.New {
		return res, nil
	}
	if err := rot.Retire(res.Old); err != nil {
		return res, fmt.Errorf("reseal: retire %s: %w", res.Old, err)
	}
	res.Retired = true
	return res, nil
}

// Announce records id as the current root key, so that nodes following the
// change feed switch to it.
func Announce(ctx context.Context, st store.Store, id, previous string) error {
	data, err := json.Marshal(announcement{ID: id, Previous: previous, Rotated: time.Now().UTC()})
	if err != nil {
		return err
	}
	if err := st.Apply(ctx, store.Op{Kind: Kind, ID: currentID, Data: data}); err != nil {
		return fmt.Errorf("reseal: announce the new root key: %w", err)
	}
	return nil
}

func pass(ctx context.Context, o Options, base int) (int, error) {
	total := 0
	for _, r := range o.Resealers {
		n, err := r.ResealAll(ctx, func(n int) {
			if o.Progress != nil {
				o.Progress(base + total + n)
			}
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("reseal: %w", err)
		}
	}
	cur := o.Root.CurrentID()
	changed, err := resealCanary(ctx, o.Store, o.Root, cur)
	if err != nil {
		return total, err
	}
	if changed {
		total++
	}
	for _, f := range o.Files {
		changed, err := resealFile(o.Root, f, cur)
		if err != nil {
			return total, err
		}
		if changed {
			total++
		}
	}
	return total, nil
}

// resealFile rewrites a sealed file atomically (temporary file, fsync,
// rename) if it is sealed under another root key. A missing file is not an
// error.
func resealFile(root rootkey.Provider, f File, cur string) (bool, error) {
	blob, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if id, err := rootkey.SealedBy(blob); err == nil && id == cur {
		return false, nil
	}
	out, err := Blob(root, blob, f.AAD)
	if err != nil {
		return false, fmt.Errorf("reseal: %s: %w", f.Path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".reseal-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return false, err
	}
	check, err := os.ReadFile(f.Path)
	return err == nil && bytes.Equal(check, out), err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Refresher is implemented by root key providers that can re-read which
// root key is current (rootkey/pkcs11.Provider).
type Refresher interface {
	Refresh() error
}

// Follow makes root switch to a new current root key when Rotate (in this
// or another process) announces one: it subscribes to the change feed of
// kind Kind through onChange (kms.Service.OnChange). Providers that are
// not Refreshers are left alone. onErr, if set, receives refresh failures.
func Follow(feed interface {
	OnChange(kind string, fn func(id string))
}, root rootkey.Provider, onErr func(error)) {
	r, ok := root.(Refresher)
	if !ok {
		return
	}
	feed.OnChange(Kind, func(string) {
		if err := r.Refresh(); err != nil && onErr != nil {
			onErr(err)
		}
	})
}
