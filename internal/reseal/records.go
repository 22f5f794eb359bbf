package reseal

import (
	"context"

	"github.com/trentkms/trent/internal/store"
)

// Records is the re-seal pass of a Resealer whose records of kind each
// hold sealed secrets: it rewrites every record of kind in st with
// store.Rewrite (under locks, compare-and-swap, re-read after a conflict),
// where rewrite gets the record's ID and data and returns the data with
// its stale secrets (Stale) sealed again (Blob) and true, or false if none
// was stale. After each record written it calls written, if not nil, with
// the record's ID, then progress, if not nil, with the count so far. It
// returns how many records it wrote, and stops at the first error.
func Records(ctx context.Context, st store.Store, locks *store.Locks, kind string,
	rewrite func(id string, data []byte) ([]byte, bool, error), written func(id string), progress func(n int)) (int, error) {
	n := 0
	err := store.Each(ctx, st, kind, func(r store.Record) error {
		ok, err := store.Rewrite(ctx, st, locks, r, func(data []byte) ([]byte, bool, error) { return rewrite(r.ID, data) })
		if err != nil || !ok {
			return err
		}
		if written != nil {
			written(r.ID)
		}
		n++
		if progress != nil {
			progress(n)
		}
		return nil
	})
	return n, err
}
