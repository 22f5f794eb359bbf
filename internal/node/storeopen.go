package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/postgres"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// Every command finds an installation's store here, as `trent serve` does:
// serve, admin, rotate-root-key and audit, and backup, restore and migrate.

// SQLitePath returns the SQLite database file of cfg (store sqlite:PATH,
// else DATA_DIR/trent.db when no store is named), and false if the store
// is not SQLite.
func SQLitePath(cfg *config.File) (string, bool) {
	if cfg.Store != "" && !strings.HasPrefix(cfg.Store, "sqlite:") {
		return "", false
	}
	path := strings.TrimPrefix(cfg.Store, "sqlite:")
	if path == "" {
		path = filepath.Join(cfg.DataDir, "trent.db")
	}
	return path, true
}

// OpenStore opens the store cfg names, creating a SQLite database that
// does not exist yet (mode 0600) and migrating a PostgreSQL schema.
func OpenStore(cfg *config.File) (store.Store, error) {
	if path, ok := SQLitePath(cfg); ok {
		// Create the database file 0600 before SQLite does (it would use
		// 0644); SQLite gives its -wal and -shm files the same mode.
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
		return sqlite.Open(path)
	}
	return OpenPostgres(cfg.Store)
}

// OpenExistingStore opens the store of an installation as OpenStore does,
// but refuses a SQLite database that is not there: the commands that read
// an installation (audit verify, backup) must not take a new, empty
// database for it.
func OpenExistingStore(cfg *config.File) (store.Store, error) {
	if path, ok := SQLitePath(cfg); ok {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("data directory %s has no store at %s (give --data-dir, --config, or --store if it is elsewhere)", cfg.DataDir, path)
		}
	}
	return OpenStore(cfg)
}

// OpenPostgres opens the PostgreSQL store at url (postgres:// or
// postgresql://) and migrates its schema. Several nodes may start at once:
// the store migrates under an advisory lock, so exactly one of them
// applies each migration.
//
// It fails at once, with an error wrapping store.ErrUnavailable, when the
// database cannot be reached; a supervisor (systemd, Kubernetes) restarts
// the node, and /readyz keeps a load balancer away meanwhile. The URL is
// never echoed back, because it may carry a password.
func OpenPostgres(url string) (store.Store, error) {
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		// Only the scheme: the rest may carry a password.
		scheme, _, _ := strings.Cut(url, ":")
		return nil, fmt.Errorf("store %q: want sqlite:PATH or postgres://...", scheme+":...")
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeOpenTimeout)
	defer cancel()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return nil, fmt.Errorf("store: PostgreSQL is unreachable: %w", err)
		}
		return nil, fmt.Errorf("store: PostgreSQL: %w", err)
	}
	return st, nil
}

// storeOpenTimeout bounds connecting to and migrating the database at
// start-up. A migration waits for another node's migration lock, so it is
// generous.
const storeOpenTimeout = 30 * time.Second
