package store

import (
	"context"
	"errors"
)

// scanPage is how many records Each reads at a time.
const scanPage = 200

// Each calls fn for every record of kind in st, in ID order, reading a
// page of records at a time so that a kind of any size costs bounded
// memory. It stops at the first error, the store's or fn's, and returns
// it. A record written while Each runs may or may not be seen.
func Each(ctx context.Context, st Store, kind string, fn func(Record) error) error {
	return EachIn(ctx, st, kind, "", fn)
}

// EachIn is Each over the records of kind whose IDs begin with prefix.
func EachIn(ctx context.Context, st Store, kind, prefix string, fn func(Record) error) error {
	after := ""
	for {
		recs, err := st.List(ctx, kind, prefix, after, scanPage)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < scanPage {
			return nil
		}
		after = recs[len(recs)-1].ID
	}
}

// Rewrite replaces the data of r, a record read by a scan (Each), with
// what fn makes of it: fn returns the new data and whether it differs. It
// runs under Update, holding the lock of r in locks and writing with
// IfVersion, so that a concurrent writer is never overwritten: after a
// conflict it reads r again and runs fn again. A record that fn leaves
// unchanged, or that was deleted meanwhile, is not written. Rewrite reports
// whether it wrote r; its errors are fn's, the store's and Update's.
func Rewrite(ctx context.Context, st Store, locks *Locks, r Record, fn func(data []byte) ([]byte, bool, error)) (bool, error) {
	written, reread := false, false
	err := Update(ctx, locks, []string{r.Kind + "/" + r.ID}, func() error {
		if reread {
			var err error
			if r, err = st.Get(ctx, r.Kind, r.ID); errors.Is(err, ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
		}
		reread = true
		data, changed, err := fn(r.Data)
		if err != nil || !changed {
			return err
		}
		if err := st.Apply(ctx, Op{Kind: r.Kind, ID: r.ID, Data: data, IfVersion: r.Version}); err != nil {
			return err
		}
		written = true
		return nil
	})
	return written, err
}
