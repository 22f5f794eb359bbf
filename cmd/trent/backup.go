package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/backup"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/dirlock"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/store"
)

const backupUsage = `usage: trent backup --out DIR [--data-dir D] [--config F] [--store URL]
       trent backup verify [--public-key F]... DIR

trent backup writes a consistent backup of an installation into DIR (which
must not exist) while its server keeps serving: the store as of one moment
(SQLite: VACUUM INTO; PostgreSQL: one REPEATABLE READ export), then the
audit trail up to that moment and beyond, the sealed audit signing key, and
a manifest with a SHA-256 of every file. The backup holds no root key: keep
the root key (or its escrow shares) apart from it. See docs/operations.md.

trent backup verify checks a backup without restoring it, and exits
non-zero if any file is damaged, missing or added.
`

// runBackup implements "trent backup" and "trent backup verify".
func runBackup(args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return runBackupVerify(args[1:], out)
	}
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), backupUsage) }
	cfgPath := fs.String("config", "", "the server's YAML configuration file")
	dataDir := fs.String("data-dir", "", "data directory (default "+config.DefaultDataDir()+")")
	storeURL := fs.String("store", "", "store, as for trent serve (default DATA_DIR/trent.db)")
	outDir := fs.String("out", "", "directory to create for the backup")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *outDir == "" || fs.NArg() > 0 {
		return fmt.Errorf("backup: name the backup directory with --out DIR\n\n%s", backupUsage)
	}
	cfg, err := resolvedConfig(*cfgPath, *dataDir, *storeURL)
	if err != nil {
		return err
	}
	st, err := node.OpenExistingStore(cfg)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer st.Close()
	backend := "postgres"
	if _, ok := node.SQLitePath(cfg); ok {
		backend = "sqlite"
	}
	src := backup.Source{Store: st, Backend: backend, SigningKeyFile: filepath.Join(cfg.DataDir, audit.SigningKeyFile)}
	if !cfg.Audit.Disabled {
		src.TrailDir = cfg.Audit.Dir
	}
	m, err := backup.Create(context.Background(), src, *outDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup %s written to %s\n", m.ID, *outDir)
	printManifest(out, m)
	return nil
}

func runBackupVerify(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backup verify", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), backupUsage) }
	var keyFiles multiFlag
	fs.Var(&keyFiles, "public-key", "trusted audit digest public key (PEM); may be repeated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("backup verify: name one backup directory\n\n%s", backupUsage)
	}
	keys, err := readPublicKeys(keyFiles)
	if err != nil {
		return err
	}
	m, err := backup.Verify(context.Background(), fs.Arg(0), backup.VerifyOptions{PublicKeys: keys})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup %s: OK\n", m.ID)
	printManifest(out, m)
	return nil
}

func printManifest(out io.Writer, m *backup.Manifest) {
	var n int64
	kinds := make([]string, 0, len(m.Store.Kinds))
	for k, v := range m.Store.Kinds {
		n += v.Count
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(out, "  taken:      %s\n  store:      %s (%s, schema %d), %d records of %d kinds, change %d\n",
		m.Created.Format(time.RFC3339), m.Store.Backend, m.Store.Format, m.Store.Schema, n, len(kinds), m.Store.LastSeq)
	fmt.Fprintf(out, "  root keys:  %s (not in the backup)\n", strings.Join(m.RootKeyIDs, ", "))
	for _, a := range m.Audit {
		fmt.Fprintf(out, "  audit:      node %s records %d..%d, digests %d (covering up to %d)\n", a.Node, a.FirstSeq, a.LastSeq, a.Digests, a.DigestedThrough)
	}
}

const restoreUsage = `usage: trent restore --from DIR [--data-dir D] [--config F] [--store URL] [--root-key-file F] [--node-id N] [--public-key F]...

Restores the backup in DIR into an empty data directory (and, with --store
postgres://..., an empty database; a SQLite database must not exist). It
first verifies the backup and checks that the root key, found as trent
serve finds it (--root-key-file, TRENT_ROOT_KEY, or the configuration's
root_key), opens what the backup holds, and refuses before writing anything otherwise. The restore is
recorded in the audit trail as the first record after the backup's
(BackupRestored); trent audit verify then reports the boundary. Start
trent serve on the data directory afterwards.
`

// runRestore implements "trent restore".
func runRestore(args []string, env config.Env, out io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), restoreUsage) }
	from := fs.String("from", "", "backup directory")
	cfgPath := fs.String("config", "", "the server's YAML configuration file")
	dataDir := fs.String("data-dir", "", "data directory to restore into (default "+config.DefaultDataDir()+")")
	storeURL := fs.String("store", "", "store to restore into, as for trent serve (default DATA_DIR/trent.db)")
	rootKeyFile := fs.String("root-key-file", "", "root key file (default "+defaultRootKeyFile()+")")
	nodeID := fs.String("node-id", "", "node ID of the restored server (default node1)")
	var keyFiles multiFlag
	fs.Var(&keyFiles, "public-key", "trusted audit digest public key (PEM); may be repeated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || fs.NArg() > 0 {
		return fmt.Errorf("restore: name the backup with --from DIR\n\n%s", restoreUsage)
	}
	cfg, err := resolvedConfig(*cfgPath, *dataDir, *storeURL)
	if err != nil {
		return err
	}
	if *rootKeyFile != "" {
		cfg.RootKey.File = *rootKeyFile
	}
	if *nodeID != "" {
		cfg.NodeID = *nodeID
	}
	keys, err := readPublicKeys(keyFiles)
	if err != nil {
		return err
	}
	root, source, err := node.OpenRootKey(cfg, env)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer root.Close()
	id := node.AuditNode(cfg)
	t := backup.Target{DataDir: cfg.DataDir, TrailDir: cfg.Audit.Dir, SigningKeyFile: filepath.Join(cfg.DataDir, audit.SigningKeyFile),
		Root: root, Node: id, Region: cfg.Region, PublicKeys: keys,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OpenStore: func() (store.Store, error) { return node.OpenStore(cfg) }}
	if path, ok := node.SQLitePath(cfg); ok {
		t.SQLitePath = path
	}
	res, err := backup.Restore(context.Background(), *from, t)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backup %s restored into %s (root key %s from %s)\n", res.Manifest.ID, cfg.DataDir, strings.Join(res.Manifest.RootKeyIDs, ", "), source)
	printManifest(out, res.Manifest)
	if res.AuditSeq > 0 {
		fmt.Fprintf(out, "  restore recorded as record %d of node %s's trail (BackupRestored)\n", res.AuditSeq, id)
	}
	fmt.Fprintf(out, "Start the server on %s as before.\n", cfg.DataDir)
	return nil
}

const migrateUsage = `usage: trent migrate --from STORE --to STORE [--audit-dir DIR --trail-from DIR...]

Copies every record of the store --from (sqlite:PATH or postgres://...) into
the empty store --to, and verifies the copy: the number and a SHA-256 of the
records of every kind must be equal on both sides. The source is read in one
snapshot and never written to; stop every server that uses it first (a
SQLite source is locked against a running server). The audit trail stays in
each node's data directory; its anchors move with the records. Start the
servers with --store set to the new store afterwards, under the same root key.

Moving a cluster back to one SQLite node: the SQLite store then holds every
node's audit anchor, and its data directory must hold every node's trail.
--trail-from DIR (repeatable) copies the trails of the nodes in DIR into the
trail directory --audit-dir (DATA_DIR/audit of the node that will serve),
and the copy is verified against the anchors of the new store.
`

// runMigrate implements "trent migrate".
func runMigrate(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), migrateUsage) }
	from := fs.String("from", "", "source store: sqlite:PATH or postgres://...")
	to := fs.String("to", "", "target store, empty: sqlite:PATH (a new file) or postgres://...")
	auditDir := fs.String("audit-dir", "", "trail directory that receives the --trail-from trails")
	var trailFrom multiFlag
	fs.Var(&trailFrom, "trail-from", "trail directory of another node whose trail moves into --audit-dir; may be repeated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		return fmt.Errorf("migrate: name both stores with --from and --to\n\n%s", migrateUsage)
	}
	if (*auditDir == "") != (len(trailFrom) == 0) {
		return fmt.Errorf("migrate: --trail-from and --audit-dir go together\n\n%s", migrateUsage)
	}
	src, unlock, err := openMigrationStore(*from, true)
	if err != nil {
		return fmt.Errorf("migrate: source: %w", err)
	}
	defer unlock()
	defer src.Close()
	dst, unlockDst, err := openMigrationStore(*to, false)
	if err != nil {
		return fmt.Errorf("migrate: target: %w", err)
	}
	defer unlockDst()
	defer dst.Close()
	m, err := backup.Migrate(context.Background(), src, dst)
	if err != nil {
		return err
	}
	kinds := make([]string, 0, len(m.Kinds))
	for k := range m.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(out, "migrated %d records of %d kinds; the copy verifies (count and sha256 per kind):\n", m.Records, len(kinds))
	for _, k := range kinds {
		fmt.Fprintf(out, "  %-24s %8d  %s\n", k, m.Kinds[k].Count, m.Kinds[k].SHA256)
	}
	if len(trailFrom) > 0 {
		nodes, err := backup.CopyTrails(context.Background(), dst, *auditDir, trailFrom)
		if err != nil {
			return fmt.Errorf("migrate: moving the audit trails: %w", err)
		}
		for _, n := range nodes {
			fmt.Fprintf(out, "audit trail of node %s in %s: records %d..%d, digests %d, verified against its anchor\n", n.Node, *auditDir, n.FirstSeq, n.LastSeq, n.Digests)
		}
	}
	return nil
}

// openMigrationStore opens a migration's store from its URL. A SQLite
// source must exist and is locked as trent serve locks it, so that a
// running server refuses (and is refused); a SQLite target must not exist.
func openMigrationStore(url string, source bool) (store.Store, func(), error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return nil, nil, errors.New("sqlite: needs a path")
		}
		_, err := os.Stat(path)
		switch {
		case source && err != nil:
			return nil, nil, fmt.Errorf("the database %s: %w", path, err)
		case !source && err == nil:
			return nil, nil, fmt.Errorf("the database %s exists: migrate only into a new one", path)
		}
		lockPath := path
		if r, err := filepath.EvalSymlinks(path); err == nil {
			lockPath = r
		}
		if abs, err := filepath.Abs(lockPath); err == nil {
			lockPath = abs
		}
		var lock *dirlock.Lock
		if source {
			if lock, err = dirlock.Acquire(lockPath + ".lock"); err != nil {
				return nil, nil, fmt.Errorf("the database %s is in use (a server runs on it?): stop it first: %w", path, err)
			}
		}
		st, err := node.OpenStore(&config.File{Store: url})
		if err != nil {
			if lock != nil {
				lock.Release()
			}
			return nil, nil, err
		}
		return st, func() {
			if lock != nil {
				lock.Release()
			}
		}, nil
	case strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"):
		st, err := node.OpenPostgres(url)
		return st, func() {}, err
	}
	scheme, _, _ := strings.Cut(url, ":")
	return nil, nil, fmt.Errorf("store %q: want sqlite:PATH or postgres://...", scheme+":...")
}

// resolvedConfig reads the configuration as trent serve does and fills in
// its defaults.
func resolvedConfig(cfgPath, dataDir, storeURL string) (*config.File, error) {
	cfg, err := loadConfig(cfgPath, dataDir, storeURL)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func readPublicKeys(files []string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		k, err := audit.ParsePublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		keys = append(keys, k...)
	}
	return keys, nil
}
