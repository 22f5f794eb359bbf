package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// migrations are the schema scripts in order; migrations[i] takes the
// schema from version i to i+1. Append only: never edit a released script.
var migrations = []string{
	`CREATE TABLE records (
		kind    BLOB    NOT NULL,
		id      BLOB    NOT NULL,
		version INTEGER NOT NULL,
		data    BLOB,
		PRIMARY KEY (kind, id)
	) WITHOUT ROWID;
	CREATE TABLE changes (
		seq     INTEGER PRIMARY KEY AUTOINCREMENT,
		kind    BLOB    NOT NULL,
		id      BLOB    NOT NULL,
		deleted INTEGER NOT NULL,
		at      INTEGER NOT NULL
	);
	CREATE TABLE leases (
		name    TEXT    NOT NULL PRIMARY KEY,
		holder  TEXT    NOT NULL,
		expires INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE feed_meta (pruned_through INTEGER NOT NULL);
	INSERT INTO feed_meta VALUES (0);`,
}

// migrate brings the schema up to date in one transaction.
func migrate(db *sql.DB) error {
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (see _txlock)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var v int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.ExecContext(ctx, `INSERT INTO schema_version VALUES (0)`)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("%w: schema version %d, this program knows up to %d", errNewerSchema, v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate to version %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return tx.Commit()
}

// request is one write waiting for the writer goroutine.
type request struct {
	ctx  context.Context
	fn   func(*writer) error
	done chan error
}

// writer owns the only write connection. Its methods run on the writer
// goroutine only.
type writer struct {
	s    *Store
	conn *sql.Conn

	version, upsert, del, change, lease, unlease *sql.Stmt
}

func newWriter(s *Store) (*writer, error) {
	ctx := context.Background()
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writer{s: s, conn: conn}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&w.version, `SELECT version FROM records WHERE kind = ? AND id = ?`},
		{&w.upsert, `INSERT INTO records (kind, id, version, data) VALUES (?, ?, ?, ?)
			ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version, data = excluded.data`},
		{&w.del, `DELETE FROM records WHERE kind = ? AND id = ?`},
		{&w.change, `INSERT INTO changes (kind, id, deleted, at) VALUES (?, ?, ?, ?)`},
		{&w.lease, `INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
			WHERE leases.holder = excluded.holder OR leases.expires <= ?`},
		{&w.unlease, `DELETE FROM leases WHERE name = ? AND holder = ?`},
	} {
		if *p.st, err = conn.PrepareContext(ctx, p.q); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return w, nil
}

func (w *writer) run() {
	defer close(w.s.done)
	defer w.conn.Close()
	tick := time.NewTicker(w.s.opt.PruneEvery)
	defer tick.Stop()
	batch := make([]*request, 0, w.s.opt.MaxGroup)
	for {
		select {
		case r := <-w.s.reqs:
			batch = append(batch[:0], r)
		drain:
			for len(batch) < w.s.opt.MaxGroup {
				select {
				case r := <-w.s.reqs:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			w.commit(batch)
			clear(batch)
		case <-tick.C:
			r := &request{ctx: context.Background(), fn: (*writer).prune, done: make(chan error, 1)}
			w.commit([]*request{r})
		case <-w.s.quit:
			return
		}
	}
}

// commit runs a group of requests in one transaction. If the group fails
// for a reason other than a precondition, each request is retried alone.
func (w *writer) commit(batch []*request) {
	live := make([]*request, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if w.group(live, len(live) == 1) {
		return
	}
	for _, r := range live {
		w.group([]*request{r}, true)
	}
}

func soft(err error) bool {
	return errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrConflict)
}

// group runs rs in one transaction and reports whether it answered them.
// If it fails for a reason other than a precondition, it answers them with
// that error only when final is set.
func (w *writer) group(rs []*request, final bool) bool {
	ctx := context.Background()
	errs := make([]error, len(rs))
	fail := func(err error) bool {
		w.conn.ExecContext(ctx, `ROLLBACK`)
		if !final {
			return false
		}
		err = w.s.wrap("write", err)
		for _, r := range rs {
			r.done <- err
		}
		return true
	}
	if _, err := w.conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fail(err)
	}
	for i, r := range rs {
		if err := r.fn(w); err != nil {
			if !soft(err) {
				return fail(err)
			}
			errs[i] = err
		}
	}
	if _, err := w.conn.ExecContext(ctx, `COMMIT`); err != nil {
		return fail(err)
	}
	for i, r := range rs {
		r.done <- errs[i]
	}
	return true
}

// apply checks every precondition before it writes anything, so a failed
// precondition leaves the transaction as it found it.
func (w *writer) apply(ops []store.Op) error {
	ctx := context.Background()
	vers := make([]int64, len(ops))
	for i, op := range ops {
		var v int64
		err := w.version.QueryRowContext(ctx, []byte(op.Kind), []byte(op.ID)).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		switch {
		case op.Create && v != 0:
			return fmt.Errorf("sqlite: create %q %q: %w", op.Kind, op.ID, store.ErrExists)
		case op.IfVersion != 0 && v != op.IfVersion:
			return fmt.Errorf("sqlite: %q %q is at version %d, not %d: %w", op.Kind, op.ID, v, op.IfVersion, store.ErrConflict)
		}
		vers[i] = v
	}
	at := w.s.now().UnixMilli()
	for i, op := range ops {
		kind, id := []byte(op.Kind), []byte(op.ID)
		if op.Delete {
			if vers[i] == 0 {
				continue // deleting a missing record changes nothing
			}
			if _, err := w.del.ExecContext(ctx, kind, id); err != nil {
				return err
			}
		} else {
			data := op.Data
			if data == nil {
				data = []byte{}
			}
			if _, err := w.upsert.ExecContext(ctx, kind, id, vers[i]+1, data); err != nil {
				return err
			}
		}
		if _, err := w.change.ExecContext(ctx, kind, id, op.Delete, at); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) tryLease(name, holder string, ttl time.Duration) (bool, error) {
	now := w.s.now()
	res, err := w.lease.ExecContext(context.Background(), name, holder, now.Add(ttl).UnixNano(), now.UnixNano())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (w *writer) releaseLease(name, holder string) error {
	_, err := w.unlease.ExecContext(context.Background(), name, holder)
	return err
}

// prune deletes the changes beyond FeedKeep and those older than FeedMaxAge
// and raises the prune mark. The age scan is bounded because FeedKeep
// bounds the table.
func (w *writer) prune() error {
	ctx := context.Background()
	var last, pruned, old int64
	err := w.conn.QueryRowContext(ctx, `SELECT
		COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0),
		(SELECT pruned_through FROM feed_meta),
		COALESCE((SELECT MAX(seq) FROM changes WHERE at < ?), 0)`,
		w.s.now().Add(-w.s.opt.FeedMaxAge).UnixMilli()).Scan(&last, &pruned, &old)
	if err != nil {
		return err
	}
	mark := max(last-w.s.opt.FeedKeep, old)
	if mark <= pruned {
		return nil
	}
	if _, err := w.conn.ExecContext(ctx, `DELETE FROM changes WHERE seq <= ?`, mark); err != nil {
		return err
	}
	_, err = w.conn.ExecContext(ctx, `UPDATE feed_meta SET pruned_through = ?`, mark)
	return err
}
