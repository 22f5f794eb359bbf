package quota

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/trentkms/trent/internal/store"
)

// Read returns the settings of account in st (empty settings if none).
func Read(ctx context.Context, st store.Store, acct string) (*Quotas, error) {
	rec, err := st.Get(ctx, Kind, acct)
	if errors.Is(err, store.ErrNotFound) {
		return &Quotas{}, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(rec.Data)
}

// Update applies fn to the settings of account in st and writes them
// durably (deleting the record when nothing is left set). Concurrent
// updates are serialized by the record's version: fn runs again on a
// conflict. Every node picks the change up from the change feed.
func Update(ctx context.Context, st store.Store, acct string, fn func(*Quotas) error) (*Quotas, error) {
	var out *Quotas
	err := store.Update(ctx, &locks, []string{Kind + "/" + acct}, func() error {
		rec, err := st.Get(ctx, Kind, acct)
		q := &Quotas{}
		var version int64
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if q, err = Parse(rec.Data); err != nil {
				return err
			}
			version = rec.Version
		}
		if err := fn(q); err != nil {
			return err
		}
		if err := q.Validate(); err != nil {
			return err
		}
		out = q
		if q.Resources == (Resources{}) && len(q.Rates) == 0 {
			if version == 0 {
				return nil
			}
			return st.Apply(ctx, store.Op{Kind: Kind, ID: acct, Delete: true, IfVersion: version})
		}
		data, err := json.Marshal(q)
		if err != nil {
			return err
		}
		err = st.Apply(ctx, store.Op{Kind: Kind, ID: acct, Data: data, IfVersion: version, Create: version == 0})
		if errors.Is(err, store.ErrExists) {
			return errors.Join(store.ErrConflict, err)
		}
		return err
	})
	return out, err
}

// locks queues this process's writers of one account's settings.
var locks store.Locks
