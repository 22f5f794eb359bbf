package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/trentkms/trent/internal/store"
)

var _ store.Snapshotter = (*Store)(nil)

// Snapshot calls fn for every record in (kind, ID) order as of one moment:
// it reads in one read transaction, which in WAL mode sees the database as
// of its first read while the writer goes on committing.
func (s *Store) Snapshot(ctx context.Context, fn func(store.Record) error) (store.SnapshotInfo, error) {
	if s.closed() {
		return store.SnapshotInfo{}, ErrClosed
	}
	info, err := snapshot(ctx, s.rdb, fn)
	var cb callbackError
	if errors.As(err, &cb) {
		return info, cb.err
	}
	if err != nil {
		return info, s.wrap("snapshot", err)
	}
	return info, nil
}

// callbackError carries an error of snapshot's fn, which is returned to
// the caller as it is.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// snapshot reads db in one read-only transaction. An error of fn is
// returned as a callbackError.
func snapshot(ctx context.Context, db *sql.DB, fn func(store.Record) error) (store.SnapshotInfo, error) {
	var info store.SnapshotInfo
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return info, err
	}
	defer tx.Rollback()
	// The first read fixes the transaction's view of the database.
	if err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&info.Schema); err != nil {
		return info, err
	}
	err = tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).Scan(&info.LastSeq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return info, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT kind, id, version, data FROM records ORDER BY kind, id`)
	if err != nil {
		return info, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, id, data []byte
		var r store.Record
		if err := rows.Scan(&kind, &id, &r.Version, &data); err != nil {
			return info, err
		}
		r.Kind, r.ID = string(kind), string(id)
		r.Data = data
		if r.Data == nil {
			r.Data = []byte{}
		}
		if err := fn(r); err != nil {
			return info, callbackError{err}
		}
	}
	return info, rows.Err()
}

// CopyTo writes a consistent copy of the database to path, which must not
// exist, with VACUUM INTO: a snapshot as of one moment, taken through
// SQLite while writers go on (never a copy of the live file, which can
// catch a write half done). The copy is compacted, fsynced and holds no
// WAL: it is a complete database file on its own.
func (s *Store) CopyTo(ctx context.Context, path string) error {
	if s.closed() {
		return ErrClosed
	}
	// The copy is created empty, mode 0600, before VACUUM INTO fills it
	// (which it does to an empty file): made by SQLite, it would take the
	// umask's mode (0644 under the usual 022), readable by every local
	// user. O_EXCL refuses a file or symbolic link already there.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("sqlite: copy to %s: %w", path, os.ErrExist)
		}
		return fmt.Errorf("sqlite: copy: %w", err)
	}
	f.Close()
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		os.Remove(path)
		return s.wrap("copy", err)
	}
	defer conn.Close()
	// The read pool is query_only, which VACUUM INTO respects although it
	// does not change this database.
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = 0`); err != nil {
		os.Remove(path)
		return s.wrap("copy", err)
	}
	defer conn.ExecContext(context.Background(), `PRAGMA query_only = 1`)
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return s.wrap("copy", err)
	}
	f, err = os.Open(path)
	if err != nil {
		return fmt.Errorf("sqlite: copy: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sqlite: copy: %w", err)
	}
	return nil
}

// Inspect reads the database file at path, a copy made by CopyTo, without
// changing it (read-only and immutable: no -wal or -shm file is made
// beside it): it checks the file with PRAGMA integrity_check and the
// schema version against this code, then calls fn for every record in
// (kind, ID) order. A damaged file, a file that is not a database, or one
// whose schema is newer than this code is an error.
func Inspect(ctx context.Context, path string, fn func(store.Record) error) (store.SnapshotInfo, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return store.SnapshotInfo{}, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	if _, err := os.Stat(path); err != nil {
		return store.SnapshotInfo{}, fmt.Errorf("sqlite: %w", err)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&immutable=1"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return store.SnapshotInfo{}, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return store.SnapshotInfo{}, fmt.Errorf("sqlite: %s is not a readable database: %w", path, err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return store.SnapshotInfo{}, fmt.Errorf("sqlite: %s: integrity check: %w", path, err)
		}
		if line != "ok" && len(problems) < 5 {
			problems = append(problems, line)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return store.SnapshotInfo{}, fmt.Errorf("sqlite: %s: integrity check: %w", path, err)
	}
	if len(problems) > 0 {
		return store.SnapshotInfo{}, fmt.Errorf("sqlite: %s is damaged: %s", path, strings.Join(problems, "; "))
	}
	var schema int
	if err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&schema); err != nil {
		return store.SnapshotInfo{}, fmt.Errorf("sqlite: %s is not a Trent database: %w", path, err)
	}
	if schema > len(migrations) {
		return store.SnapshotInfo{}, fmt.Errorf("%w: %s has schema version %d, this program knows up to %d", errNewerSchema, path, schema, len(migrations))
	}
	info, err := snapshot(ctx, db, fn)
	var cb callbackError
	if errors.As(err, &cb) {
		return info, cb.err
	}
	if err != nil {
		return info, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return info, nil
}

// SchemaVersion is the schema version this code writes.
func SchemaVersion() int { return len(migrations) }
