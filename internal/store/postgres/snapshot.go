package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/trentkms/trent/internal/store"
)

var _ store.Snapshotter = (*Store)(nil)

// Snapshot calls fn for every record in (kind, ID) byte order as of one
// moment: it reads in one REPEATABLE READ, READ ONLY transaction, whose
// snapshot is taken at its first statement, while other sessions go on
// committing. It runs under the caller's context only, not the default
// timeout of other calls: an export of a large store takes as long as it
// takes. LastSeq is the highest Seq the snapshot sees committed.
func (s *Store) Snapshot(ctx context.Context, fn func(store.Record) error) (store.SnapshotInfo, error) {
	var info store.SnapshotInfo
	select {
	case <-s.quit:
		return info, ErrClosed
	default:
	}
	var cbErr error
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// fn writes a backup and may wait on its disk or pipe: this
		// read-only transaction holds no lock a writer needs, so it is
		// exempt from the nodes' idle-in-transaction limit.
		if _, err := tx.Exec(ctx, `SET LOCAL idle_in_transaction_session_timeout = 0`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&info.Schema); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT GREATEST(COALESCE((SELECT max(seq) FROM changes), 0), (SELECT pruned_through FROM feed_meta))`).Scan(&info.LastSeq); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT kind, id, version, data FROM records ORDER BY kind, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var kind, id, data []byte
			var r store.Record
			if err := rows.Scan(&kind, &id, &r.Version, &data); err != nil {
				return err
			}
			r.Kind, r.ID, r.Data = string(kind), string(id), data
			if r.Data == nil {
				r.Data = []byte{}
			}
			if err := fn(r); err != nil {
				cbErr = err
				return err
			}
		}
		return rows.Err()
	})
	if cbErr != nil {
		return info, cbErr
	}
	if err != nil {
		return info, s.wrap(ctx, "snapshot", err)
	}
	return info, nil
}

// SchemaVersion is the schema version this code writes.
func SchemaVersion() int { return len(migrations) }
