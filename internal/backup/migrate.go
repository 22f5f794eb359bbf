package backup

import (
	"context"
	"errors"
	"fmt"

	"github.com/trentkms/trent/internal/store"
)

// loadBatch is how many records load writes per Apply.
const loadBatch = 200

// errNotEmpty stops the snapshot that checks a target for records.
var errNotEmpty = errors.New("not empty")

// CheckEmpty returns an error unless st holds no record.
func CheckEmpty(ctx context.Context, st store.Store) error {
	sn, ok := st.(store.Snapshotter)
	if !ok {
		return fmt.Errorf("the target store (%T) cannot take a snapshot", st)
	}
	var first store.Record
	_, err := sn.Snapshot(ctx, func(r store.Record) error { first = r; return errNotEmpty })
	if errors.Is(err, errNotEmpty) {
		return fmt.Errorf("the target store is not empty (it holds a %q record, at least): migrate and restore only into an empty store", first.Kind)
	}
	return err
}

// load writes the records read gives it into st, which must be empty, in
// batches that create each record (so that a record already there fails
// the batch instead of being overwritten).
func load(ctx context.Context, st store.Store, read func(func(store.Record) error) error) error {
	if err := CheckEmpty(ctx, st); err != nil {
		return err
	}
	var ops []store.Op
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		err := st.Apply(ctx, ops...)
		ops = ops[:0]
		return err
	}
	err := read(func(r store.Record) error {
		ops = append(ops, store.Op{Kind: r.Kind, ID: r.ID, Data: r.Data, Create: true})
		if len(ops) == loadBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// census returns the KindSum of every kind of st's records.
func census(ctx context.Context, st store.Store) (map[string]store.KindSum, error) {
	sn, ok := st.(store.Snapshotter)
	if !ok {
		return nil, fmt.Errorf("the store (%T) cannot take a snapshot", st)
	}
	var c store.Census
	if _, err := sn.Snapshot(ctx, c.Add); err != nil {
		return nil, err
	}
	return c.Sums(), nil
}

// Migration reports a migration: the count and SHA-256 of every kind's
// records, equal in the source and the target.
type Migration struct {
	Kinds map[string]store.KindSum
	// Records is the number of records moved.
	Records int64
}

// Migrate copies every record of from into to, which must be empty, and
// verifies the copy: it reads from in one snapshot (never writing to it),
// and then the census of to (count and SHA-256 per kind) must equal the
// snapshot's and a second census of from, taken after the copy, which
// also shows that nothing wrote to the source meanwhile (its servers must
// be stopped). Record versions start again at 1 in to.
func Migrate(ctx context.Context, from, to store.Store) (*Migration, error) {
	sn, ok := from.(store.Snapshotter)
	if !ok {
		return nil, fmt.Errorf("migrate: the source store (%T) cannot take a snapshot", from)
	}
	var c store.Census
	err := load(ctx, to, func(fn func(store.Record) error) error {
		_, err := sn.Snapshot(ctx, func(r store.Record) error {
			if err := c.Add(r); err != nil {
				return err
			}
			return fn(r)
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	want := c.Sums()
	got, err := census(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("migrate: reading the copy back: %w", err)
	}
	if d := store.DiffSums(want, got); len(d) > 0 {
		return nil, fmt.Errorf("migrate: the copy differs from the source: %v", d)
	}
	again, err := census(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("migrate: reading the source again: %w", err)
	}
	if d := store.DiffSums(want, again); len(d) > 0 {
		return nil, fmt.Errorf("migrate: the source changed while it was copied (stop its servers first): %v", d)
	}
	m := &Migration{Kinds: want}
	for _, k := range want {
		m.Records += k.Count
	}
	return m, nil
}
