package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trentkms/trent/internal/store"
)

// Options tunes a Store. The zero value of every field selects its default.
type Options struct {
	// Timeout bounds every call whose context has no deadline (default 5 s).
	Timeout time.Duration
	// ConnectTimeout bounds establishing one connection (default 2 s).
	ConnectTimeout time.Duration
	// MaxConns is the pool size (default 32).
	MaxConns int32
	// FeedKeep is the most changes the feed keeps (default 100,000).
	FeedKeep int64
	// FeedMaxAge prunes changes older than this (default 24 h).
	FeedMaxAge time.Duration
	// PruneEvery is how often this node prunes the feed (default 1 min);
	// pruning is idempotent, so several nodes may do it.
	PruneEvery time.Duration
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 32
	}
	if o.FeedKeep <= 0 {
		o.FeedKeep = 100_000
	}
	if o.FeedMaxAge <= 0 {
		o.FeedMaxAge = 24 * time.Hour
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = time.Minute
	}
}

// channel is the NOTIFY channel; the payload is the schema name so that
// stores in different schemas of one database ignore each other.
const channel = "trent_changes"

// Advisory lock keys (first int4 of the two-key form; the second is the
// schema's hash): one for migrations, one serializing feed inserts.
const (
	lockMigrate = 0x54524e01
	lockFeed    = 0x54524e02
)

// idleInTransaction is the idle_in_transaction_session_timeout of the
// nodes' sessions (milliseconds), unless the database URL sets one.
const idleInTransaction = "10000"

// ErrClosed is returned (wrapping store.ErrUnavailable) by calls on a closed
// Store.
var ErrClosed = fmt.Errorf("postgres: store closed: %w", store.ErrUnavailable)

var errNewerSchema = errors.New("postgres: database schema is newer than this program")

// Store is a store.Store and store.Notifier on PostgreSQL. It is safe for
// concurrent use and for use by several nodes on one database.
type Store struct {
	opt    Options
	pool   *pgxpool.Pool
	connCf *pgx.ConnConfig // for the listener's dedicated connection
	schema string

	notify  chan struct{}
	pending chan struct{} // a NOTIFY is due
	stop    context.CancelFunc
	bg      sync.WaitGroup
	closer  sync.Once
	quit    chan struct{}
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Notifier = (*Store)(nil)
)

// Open connects to the database at url (a postgres:// URL or key=value DSN)
// with default Options, migrates the schema and starts the listener.
// It returns an error wrapping store.ErrUnavailable if the database cannot
// be reached, and an error if the schema is newer than this code.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenOptions(ctx, url, Options{})
}

// OpenOptions is Open with explicit Options.
func OpenOptions(ctx context.Context, url string, opt Options) (*Store, error) {
	opt.defaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, errors.New("postgres: invalid database URL")
	}
	cfg.ConnConfig.ConnectTimeout = opt.ConnectTimeout
	// A node that stops inside a transaction (SIGSTOP, a paused VM, a
	// partition) would keep its locks for as long as its connection
	// lives, the change feed's advisory lock among them, and every node's
	// writes queue behind that lock. Trent's transactions never wait on
	// anything but the database, so PostgreSQL may end one that sits idle
	// this long, well below a request's deadline (api.DefaultDeadline).
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, set := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = idleInTransaction
	}
	cfg.MaxConns = opt.MaxConns
	cfg.HealthCheckPeriod = 5 * time.Second
	cfg.PingTimeout = opt.ConnectTimeout
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{
		opt:     opt,
		pool:    pool,
		connCf:  cfg.ConnConfig.Copy(),
		notify:  make(chan struct{}, 1),
		pending: make(chan struct{}, 1),
		quit:    make(chan struct{}),
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&s.schema); err != nil {
		pool.Close()
		return nil, s.wrap(ctx, "open", err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, s.wrap(ctx, "migrate", err)
	}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.bg.Add(3)
	go s.notifier(bg)
	go s.listen(bg)
	go s.pruneLoop(bg)
	return s, nil
}

// Close stops the listener and the pruner and closes the pool. It is
// idempotent.
func (s *Store) Close() error {
	s.closer.Do(func() {
		close(s.quit)
		s.stop()
		s.bg.Wait()
		s.pool.Close()
	})
	return nil
}

// Notify returns a channel that receives a value after other nodes (or this
// one) commit changes, and after the listener reconnects. It never closes.
func (s *Store) Notify() <-chan struct{} { return s.notify }

func (s *Store) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// timeout applies the default timeout to a context without a deadline.
func (s *Store) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.opt.Timeout)
}

// unreachable reports whether err means the database could not be reached
// or the connection was lost, rather than a problem with the request.
func unreachable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "08") || // connection exception
			pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" || // shutdown, crash, starting
			pg.Code == "53300" // too many connections
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "conn closed")
}

// wrap classifies err. ctx is the caller's context (or one derived from it
// by timeout): if the caller's context ended, its error is what the caller
// sees; if only our default timeout fired, the database is unavailable.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	select {
	case <-s.quit:
		return fmt.Errorf("postgres: %s: %w", op, ErrClosed)
	default:
	}
	if cerr := context.Cause(ctx); cerr != nil && (errors.Is(cerr, context.Canceled) || errors.Is(cerr, context.DeadlineExceeded)) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || unreachable(err) {
			if errors.Is(cerr, context.DeadlineExceeded) {
				return fmt.Errorf("postgres: %s: %w (%w)", op, cerr, store.ErrUnavailable)
			}
			return fmt.Errorf("postgres: %s: %w", op, cerr)
		}
	}
	if unreachable(err) {
		return fmt.Errorf("postgres: %s: %w: %v", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// call runs fn under the default timeout, retrying once an error that
// happened before anything was sent (a dead pooled connection) or, if
// idempotent, any connection loss.
func (s *Store) call(ctx context.Context, op string, idempotent bool, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.quit:
		return ErrClosed
	default:
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	err := fn(ctx)
	if err != nil && ctx.Err() == nil && (pgconn.SafeToRetry(err) || idempotent && unreachable(err)) {
		err = fn(ctx)
	}
	return s.wrap(ctx, op, err)
}

// Get returns the record, or an error wrapping store.ErrNotFound.
func (s *Store) Get(ctx context.Context, kind, id string) (store.Record, error) {
	r := store.Record{Kind: kind, ID: id}
	err := s.call(ctx, "get", true, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT version, data FROM records WHERE kind = $1 AND id = $2`,
			[]byte(kind), []byte(id)).Scan(&r.Version, &r.Data)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, fmt.Errorf("postgres: %q %q: %w", kind, id, store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, err
	}
	return r, nil
}

// List returns records of kind whose ID has prefix and sorts after `after`
// ("" means from the start), in ascending byte order of ID, at most limit
// (all if limit <= 0).
func (s *Store) List(ctx context.Context, kind, prefix, after string, limit int) ([]store.Record, error) {
	q := `SELECT id, version, data FROM records WHERE kind = $1 AND id >= $2`
	args := []any{[]byte(kind), []byte(prefix)}
	if after != "" {
		args = append(args, []byte(after))
		q += fmt.Sprintf(` AND id > $%d`, len(args))
	}
	if end := store.PrefixEnd(prefix); end != nil {
		args = append(args, end)
		q += fmt.Sprintf(` AND id < $%d`, len(args))
	} else if prefix != "" {
		args = append(args, len(prefix), []byte(prefix))
		q += fmt.Sprintf(` AND substring(id from 1 for $%d) = $%d`, len(args)-1, len(args))
	}
	q += ` ORDER BY id`
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	var out []store.Record
	err := s.call(ctx, "list", true, func(ctx context.Context) error {
		out = out[:0]
		rows, err := s.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		var id []byte
		r := store.Record{Kind: kind}
		_, err = pgx.ForEachRow(rows, []any{&id, &r.Version, &r.Data}, func() error {
			r.ID = string(id)
			out = append(out, r)
			r.Data = nil
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Changes returns up to limit changes with Seq > since (all if limit <= 0),
// in Seq order, or an error wrapping store.ErrFeedTruncated if changes after
// since were pruned.
func (s *Store) Changes(ctx context.Context, since int64, limit int) ([]store.Change, error) {
	q := `SELECT seq, kind, id, deleted FROM changes WHERE seq > $1 AND seq <= $2 ORDER BY seq`
	if limit > 0 {
		q += ` LIMIT $3`
	}
	var out []store.Change
	var pruned int64
	err := s.call(ctx, "changes", true, func(ctx context.Context) error {
		out = out[:0]
		h, err := s.horizon(ctx)
		if err != nil {
			return err
		}
		args := []any{since, h}
		if limit > 0 {
			args = append(args, limit)
		}
		rows, err := s.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		var c store.Change
		var kind, id []byte
		if _, err := pgx.ForEachRow(rows, []any{&c.Seq, &kind, &id, &c.Deleted}, func() error {
			c.Kind, c.ID = string(kind), string(id)
			out = append(out, c)
			return nil
		}); err != nil {
			return err
		}
		// The prune mark only rises: reading it after the changes catches
		// a prune that raced with the query above.
		return s.pool.QueryRow(ctx, `SELECT pruned_through FROM feed_meta`).Scan(&pruned)
	})
	if err != nil {
		return nil, err
	}
	if since < pruned {
		return nil, fmt.Errorf("postgres: changes after %d: pruned through %d: %w", since, pruned, store.ErrFeedTruncated)
	}
	return out, nil
}

// LastSeq returns the Seq of the newest change, 0 if there has been none.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.call(ctx, "last seq", true, func(ctx context.Context) error {
		var err error
		seq, err = s.horizon(ctx)
		return err
	})
	return seq, err
}

// horizon returns a Seq such that every transaction that drew a Seq at or
// below it has finished: it takes the feed lock exclusively, which waits
// for the writers holding it shared (those between drawing Seqs and
// commit), and reads the sequence while no writer can draw. Writers queue
// behind the reader for as long as one in-flight commit takes.
func (s *Store) horizon(ctx context.Context) (int64, error) {
	var h int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, lockFeed); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM changes_seq_seq`).Scan(&h)
	})
	return h, err
}

// Apply commits ops atomically and durably. It returns an error wrapping
// store.ErrExists or store.ErrConflict if a precondition fails, and then
// nothing was written. If ctx ends or the database goes away before the
// commit is acknowledged, the outcome is unknown to the caller (as with any
// remote database); the error then wraps the context error or
// store.ErrUnavailable.
func (s *Store) Apply(ctx context.Context, ops ...store.Op) error {
	if len(ops) == 0 {
		return ctx.Err()
	}
	sorted := slices.Clone(ops)
	slices.SortFunc(sorted, func(a, b store.Op) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var precond error
	err := s.call(ctx, "apply", false, func(ctx context.Context) error {
		precond = nil
		for attempt := 0; ; attempt++ {
			err := s.apply(ctx, sorted, &precond)
			var pg *pgconn.PgError
			if attempt < 3 && errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001") {
				continue // deadlock or serialization failure: nothing committed
			}
			return err
		}
	})
	if precond != nil {
		return precond
	}
	return err
}

func (s *Store) apply(ctx context.Context, ops []store.Op, precond *error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	b := &pgx.Batch{}
	for _, op := range ops {
		kind, id := []byte(op.Kind), []byte(op.ID)
		data := op.Data
		if data == nil {
			data = []byte{}
		}
		switch {
		case op.Delete && op.IfVersion != 0:
			b.Queue(`DELETE FROM records WHERE kind = $1 AND id = $2 AND version = $3`, kind, id, op.IfVersion)
		case op.Delete:
			b.Queue(`DELETE FROM records WHERE kind = $1 AND id = $2`, kind, id)
		case op.Create:
			b.Queue(`INSERT INTO records (kind, id, version, data) VALUES ($1, $2, 1, $3) ON CONFLICT DO NOTHING`, kind, id, data)
		case op.IfVersion != 0:
			b.Queue(`UPDATE records SET version = version + 1, data = $3 WHERE kind = $1 AND id = $2 AND version = $4`, kind, id, data, op.IfVersion)
		default:
			b.Queue(`INSERT INTO records (kind, id, version, data) VALUES ($1, $2, 1, $3)
				ON CONFLICT (kind, id) DO UPDATE SET version = records.version + 1, data = excluded.data`, kind, id, data)
		}
	}
	br := tx.SendBatch(ctx, b)
	var kinds, ids [][]byte
	var deleted []bool
	for _, op := range ops {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return err
		}
		if tag.RowsAffected() == 0 {
			switch {
			case op.Create:
				*precond = fmt.Errorf("postgres: create %q %q: %w", op.Kind, op.ID, store.ErrExists)
			case op.IfVersion != 0:
				*precond = fmt.Errorf("postgres: %q %q is not at version %d: %w", op.Kind, op.ID, op.IfVersion, store.ErrConflict)
			default:
				continue // deleting a missing record changes nothing
			}
			br.Close()
			return nil // the deferred Rollback undoes the earlier ops
		}
		kinds, ids, deleted = append(kinds, []byte(op.Kind)), append(ids, []byte(op.ID)), append(deleted, op.Delete)
	}
	if err := br.Close(); err != nil {
		return err
	}
	if len(kinds) > 0 {
		// See the package doc: the shared lock, taken before the Seqs are
		// drawn and held until commit, lets readers wait for every
		// transaction that holds a Seq below their horizon.
		b = &pgx.Batch{}
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1, hashtext(current_schema()))`, lockFeed)
		b.Queue(`INSERT INTO changes (kind, id, deleted) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bool[])`, kinds, ids, deleted)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if len(kinds) > 0 {
		select {
		case s.pending <- struct{}{}:
		default: // a notification is already due
		}
	}
	return nil
}

// notifier sends one NOTIFY for any number of commits since the last one.
// NOTIFY inside Apply's transaction would serialize all commits on
// PostgreSQL's notify-queue lock (it halved throughput); sent after the
// commit it costs one small transaction per burst. A node that dies between
// commit and NOTIFY leaves others to find the change by polling.
func (s *Store) notifier(ctx context.Context) {
	defer s.bg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.pending:
		}
		for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
			nctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
			_, err := s.pool.Exec(nctx, `SELECT pg_notify($1, $2)`, channel, s.schema)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TryLease acquires or renews the named lease for holder until now+ttl,
// measured on the database's clock so that nodes' clocks need not agree,
// and reports whether holder holds it.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var n int64
	err := s.call(ctx, "try lease", true, func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires)
			VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond')
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
			WHERE leases.holder = excluded.holder OR leases.expires <= clock_timestamp()`,
			name, holder, ttl.Microseconds())
		n = tag.RowsAffected()
		return err
	})
	return n == 1, err
}

// ReleaseLease gives up the named lease if holder holds it; otherwise it
// does nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.call(ctx, "release lease", true, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
		return err
	})
}

// Prune removes from the feed the changes beyond Options.FeedKeep and those
// older than Options.FeedMaxAge. Changes called with a since below the
// pruned Seq then reports store.ErrFeedTruncated. It is safe to run on
// several nodes at once.
func (s *Store) Prune(ctx context.Context) error {
	return s.call(ctx, "prune", true, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var mark, pruned int64
			err := tx.QueryRow(ctx, `SELECT GREATEST(
				COALESCE((SELECT max(seq) FROM changes), 0) - $1,
				COALESCE((SELECT max(seq) FROM changes WHERE at < now() - $2 * interval '1 microsecond'), 0)),
				(SELECT pruned_through FROM feed_meta FOR UPDATE)`,
				s.opt.FeedKeep, s.opt.FeedMaxAge.Microseconds()).Scan(&mark, &pruned)
			if err != nil || mark <= pruned {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM changes WHERE seq <= $1`, mark); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE feed_meta SET pruned_through = $1`, mark)
			return err
		})
	})
}

func (s *Store) pruneLoop(ctx context.Context) {
	defer s.bg.Done()
	t := time.NewTicker(s.opt.PruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Prune(ctx) // an unreachable database is retried next tick
		}
	}
}

// listen keeps a dedicated connection LISTENing and turns notifications
// for this schema into signals.
func (s *Store) listen(ctx context.Context) {
	defer s.bg.Done()
	backoff := 50 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, &first)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, first *bool) error {
	cctx, cancel := context.WithTimeout(ctx, s.opt.ConnectTimeout)
	conn, err := pgx.ConnectConfig(cctx, s.connCf)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+channel); err != nil {
		return err
	}
	if !*first {
		s.signal() // notifications sent while disconnected are lost
	}
	*first = false
	payload := []byte(s.schema)
	for {
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			// Idle: make sure the connection is still alive.
			pctx, cancel := context.WithTimeout(ctx, s.opt.ConnectTimeout)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		if bytes.Equal([]byte(n.Payload), payload) {
			s.signal()
		}
	}
}

// migrations are the schema scripts in order; migrations[i] takes the
// schema from version i to i+1. Append only: never edit a released script.
var migrations = []string{
	`CREATE TABLE records (
		kind    bytea  NOT NULL,
		id      bytea  NOT NULL,
		version bigint NOT NULL,
		data    bytea  NOT NULL,
		PRIMARY KEY (kind, id)
	);
	CREATE TABLE changes (
		seq     bigserial   PRIMARY KEY,
		kind    bytea       NOT NULL,
		id      bytea       NOT NULL,
		deleted boolean     NOT NULL,
		at      timestamptz NOT NULL DEFAULT now()
	);
	CREATE TABLE leases (
		name    text        PRIMARY KEY,
		holder  text        NOT NULL,
		expires timestamptz NOT NULL
	);
	CREATE TABLE feed_meta (pruned_through bigint NOT NULL);
	INSERT INTO feed_meta VALUES (0);`,
}

// migrate brings the schema up to date under a session advisory lock, so
// that nodes starting together migrate once.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema()))`, lockMigrate); err != nil {
		conn.Conn().Close(context.Background()) // drop the session and its lock
		return err
	}
	defer func() {
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, lockMigrate); err != nil {
			conn.Conn().Close(context.Background())
		}
	}()
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version int NOT NULL)`); err != nil {
			return err
		}
		var v int
		err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			_, err = tx.Exec(ctx, `INSERT INTO schema_version VALUES (0)`)
		}
		if err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("%w: schema version %d, this program knows up to %d", errNewerSchema, v, len(migrations))
		}
		for i := v; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("to version %d: %w", i+1, err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations))
		return err
	})
}
