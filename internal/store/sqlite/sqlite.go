package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/trentkms/trent/internal/store"
)

// Options tunes a Store. The zero value of every field selects its default.
type Options struct {
	// FeedKeep is the most changes the feed keeps (default 100,000).
	FeedKeep int64
	// FeedMaxAge prunes changes older than this (default 24 h).
	FeedMaxAge time.Duration
	// PruneEvery is how often the writer prunes the feed (default 1 min).
	PruneEvery time.Duration
	// Readers is the size of the read connection pool (default 4).
	Readers int
	// BusyTimeout is SQLite's busy_timeout for locks held by other
	// processes (default 5 s).
	BusyTimeout time.Duration
	// MaxGroup caps how many write requests share one commit (default 512).
	MaxGroup int
}

func (o *Options) defaults() {
	if o.FeedKeep <= 0 {
		o.FeedKeep = 100_000
	}
	if o.FeedMaxAge <= 0 {
		o.FeedMaxAge = 24 * time.Hour
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = time.Minute
	}
	if o.Readers <= 0 {
		o.Readers = 4
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 512
	}
}

// ErrClosed is returned (wrapping store.ErrUnavailable) by calls on a closed
// Store.
var ErrClosed = fmt.Errorf("sqlite: store closed: %w", store.ErrUnavailable)

// errNewerSchema is wrapped when the database was written by newer code.
var errNewerSchema = errors.New("sqlite: database schema is newer than this program")

// Store is a store.Store on one SQLite database file. It is safe for
// concurrent use by many goroutines, but only one process may open a
// database file at a time for writing.
type Store struct {
	opt    Options
	wdb    *sql.DB // one connection, used only by the writer goroutine
	rdb    *sql.DB // read pool
	reqs   chan *request
	quit   chan struct{}
	done   chan struct{}
	closer sync.Once
	now    func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database at path with default Options.
// It returns an error if the database cannot be opened or migrated, or if its
// schema is newer than this code.
func Open(path string) (*Store, error) {
	return OpenOptions(path, Options{})
}

// OpenOptions is Open with explicit Options.
func OpenOptions(path string, opt Options) (*Store, error) {
	opt.defaults()
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	busy := opt.BusyTimeout.Milliseconds()
	base := "file:" + (&url.URL{Path: path}).EscapedPath()
	wdsn := fmt.Sprintf("%s?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=synchronous(FULL)", base, busy)
	rdsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=query_only(1)", base, busy)

	wdb, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// A new database gets 16 KiB pages before anything is written (the
	// page size is fixed once the file has a header, and WAL mode writes
	// one): key records are about 1 KiB, which with 4 KiB pages spills
	// every row to an overflow page and quadruples the file.
	if _, err := wdb.Exec("PRAGMA page_size = 16384"); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	var mode string
	if err := wdb.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode); err != nil || mode != "wal" {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: %s: cannot enable WAL mode (got %q): %v", path, mode, err)
	}
	if err := migrate(wdb); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite", rdsn)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(opt.Readers)
	rdb.SetMaxIdleConns(opt.Readers)
	rdb.SetConnMaxIdleTime(0)
	rdb.SetConnMaxLifetime(0)
	if err := rdb.Ping(); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{
		opt:  opt,
		wdb:  wdb,
		rdb:  rdb,
		reqs: make(chan *request),
		quit: make(chan struct{}),
		done: make(chan struct{}),
		now:  time.Now,
	}
	w, err := newWriter(s)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	go w.run()
	return s, nil
}

// Close stops the writer and closes the database. Calls made after Close
// return ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	var err error
	s.closer.Do(func() {
		close(s.quit)
		<-s.done
		err = errors.Join(s.rdb.Close(), s.wdb.Close())
	})
	return err
}

func (s *Store) closed() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// Get returns the record, or an error wrapping store.ErrNotFound.
func (s *Store) Get(ctx context.Context, kind, id string) (store.Record, error) {
	if s.closed() {
		return store.Record{}, ErrClosed
	}
	r := store.Record{Kind: kind, ID: id}
	err := s.rdb.QueryRowContext(ctx, `SELECT version, data FROM records WHERE kind = ? AND id = ?`,
		[]byte(kind), []byte(id)).Scan(&r.Version, &r.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, fmt.Errorf("sqlite: %q %q: %w", kind, id, store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, s.wrap("get", err)
	}
	return r, nil
}

// List returns records of kind whose ID has prefix and sorts after `after`,
// in ascending byte order of ID, at most limit (all if limit <= 0).
func (s *Store) List(ctx context.Context, kind, prefix, after string, limit int) ([]store.Record, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	q := `SELECT id, version, data FROM records WHERE kind = ? AND id >= ?`
	args := []any{[]byte(kind), []byte(prefix)}
	if after != "" { // "" means from the start, so an empty ID is listed
		q += ` AND id > ?`
		args = append(args, []byte(after))
	}
	if end := store.PrefixEnd(prefix); end != nil {
		q += ` AND id < ?`
		args = append(args, end)
	} else if prefix != "" {
		// An all-0xff prefix has no upper bound; match with substr.
		q += ` AND substr(id, 1, ?) = ?`
		args = append(args, len(prefix), []byte(prefix))
	}
	q += ` ORDER BY id LIMIT ?`
	if limit <= 0 {
		limit = -1
	}
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, s.wrap("list", err)
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		var id []byte
		r := store.Record{Kind: kind}
		if err := rows.Scan(&id, &r.Version, &r.Data); err != nil {
			return nil, s.wrap("list", err)
		}
		r.ID = string(id)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list", err)
	}
	return out, nil
}

// Changes returns up to limit changes with Seq > since (all if limit <= 0),
// in Seq order, or an error wrapping store.ErrFeedTruncated if changes after
// since were pruned.
func (s *Store) Changes(ctx context.Context, since int64, limit int) ([]store.Change, error) {
	if s.closed() {
		return nil, ErrClosed
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT seq, kind, id, deleted FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, since, limit)
	if err != nil {
		return nil, s.wrap("changes", err)
	}
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var kind, id []byte
		if err := rows.Scan(&c.Seq, &kind, &id, &c.Deleted); err != nil {
			rows.Close()
			return nil, s.wrap("changes", err)
		}
		c.Kind, c.ID = string(kind), string(id)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap("changes", err)
	}
	// Read the prune mark after the changes: pruning only raises it, so a
	// prune that raced with the query above is caught here.
	var pruned int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT pruned_through FROM feed_meta`).Scan(&pruned); err != nil {
		return nil, s.wrap("changes", err)
	}
	if since < pruned {
		return nil, fmt.Errorf("sqlite: changes after %d: pruned through %d: %w", since, pruned, store.ErrFeedTruncated)
	}
	return out, nil
}

// LastSeq returns the Seq of the newest change, 0 if there has been none.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	if s.closed() {
		return 0, ErrClosed
	}
	var seq int64
	err := s.rdb.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.wrap("last seq", err)
	}
	return seq, nil
}

// Apply commits ops atomically and durably. It returns an error wrapping
// store.ErrExists or store.ErrConflict if a precondition fails, and then
// nothing was written. If ctx ends before the writer starts on the batch,
// Apply returns ctx's error and nothing is written; once started, Apply
// waits for the commit.
func (s *Store) Apply(ctx context.Context, ops ...store.Op) error {
	if len(ops) == 0 {
		return ctx.Err()
	}
	return s.submit(ctx, func(w *writer) error { return w.apply(ops) })
}

// TryLease acquires or renews the named lease for holder until now+ttl and
// reports whether holder holds it.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var got bool
	err := s.submit(ctx, func(w *writer) error {
		var err error
		got, err = w.tryLease(name, holder, ttl)
		return err
	})
	return got, err
}

// ReleaseLease gives up the named lease if holder holds it; otherwise it
// does nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.submit(ctx, func(w *writer) error { return w.releaseLease(name, holder) })
}

// Prune removes from the feed the changes beyond Options.FeedKeep and those
// older than Options.FeedMaxAge, now rather than at the next periodic prune.
// Changes called with a since below the pruned Seq then reports
// store.ErrFeedTruncated.
func (s *Store) Prune(ctx context.Context) error {
	return s.submit(ctx, func(w *writer) error { return w.prune() })
}

func (s *Store) submit(ctx context.Context, fn func(*writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.done
}

// wrap adds context to err; a context error stays testable with errors.Is.
func (s *Store) wrap(op string, err error) error {
	if s.closed() {
		return fmt.Errorf("sqlite: %s: %w", op, ErrClosed)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
