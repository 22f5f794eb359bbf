package backup

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/durable"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// Target is where Restore puts a backup.
type Target struct {
	// DataDir is the data directory; it must not exist or be empty.
	DataDir string
	// TrailDir is the audit trail directory (often DataDir/audit); it
	// must not exist or be empty.
	TrailDir string
	// SigningKeyFile is where the sealed audit signing key goes
	// (DataDir/audit-signing.key).
	SigningKeyFile string
	// SQLitePath is the SQLite database to create, which must not exist;
	// "" when the store is not SQLite.
	SQLitePath string
	// OpenStore opens the target store: after the database file is in
	// place for SQLite, else an empty database, which Restore fills.
	OpenStore func() (store.Store, error)
	// Root must hold every root key the backup needs.
	Root rootkey.Provider
	// Node is the node ID of the restored installation, whose trail
	// records the restore; Region the awsRegion of that record.
	Node   string
	Region string
	// PublicKeys verify the backup's audit digests (default: the keys in
	// the backup).
	PublicKeys []ed25519.PublicKey
	// Logger receives the trail's notices; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Result describes a restore.
type Result struct {
	Manifest *Manifest
	// AuditSeq is the record number of the BackupRestored record in the
	// node's trail (0 when the backup has no audit trail).
	AuditSeq uint64
}

// Restore verifies the backup in dir and restores it to t. Before it
// writes anything it refuses (with an error wrapping ErrCorrupt) a backup
// that does not verify, a target that is not empty, and a root key that
// cannot open the store's canary or the audit signing key (a
// *reseal.MismatchError naming the keys). Then it lays out the trail, the
// signing key and the store, checks that the restored store holds what
// the manifest counts, and opens the node's trail once to record the
// restore (audit.Options.Restore) as the first record after the backup's.
func Restore(ctx context.Context, dir string, t Target) (*Result, error) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	m, facts, err := verify(ctx, dir, VerifyOptions{PublicKeys: t.PublicKeys})
	if err != nil {
		return nil, err
	}
	if err := emptyDir(t.DataDir, "data directory"); err != nil {
		return nil, err
	}
	if err := emptyDir(t.TrailDir, "audit directory"); err != nil {
		return nil, err
	}
	if t.SQLitePath != "" {
		if _, err := os.Lstat(t.SQLitePath); err == nil {
			return nil, fmt.Errorf("the database %s exists: restore only into a new one", t.SQLitePath)
		}
	}
	if facts.canary != nil {
		if err := reseal.CheckCanaryData(t.Root, facts.canary); err != nil {
			return nil, fmt.Errorf("restore refused: %w", err)
		}
	}
	var signer ed25519.PrivateKey
	if sealed, err := os.ReadFile(filepath.Join(dir, signingKeyFile)); err == nil {
		if err := reseal.CheckSealed(t.Root, "audit signing key", sealed, audit.SigningKeyAAD); err != nil {
			return nil, fmt.Errorf("restore refused: %w", err)
		}
		seed, err := t.Root.Open(sealed, audit.SigningKeyAAD)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("restore refused: the audit signing key does not open (%v)", err)
		}
		signer = ed25519.NewKeyFromSeed(seed)
		clear(seed)
	}

	src := filepath.Join(dir, filepath.FromSlash(m.Store.File))
	fileCopy := t.SQLitePath != "" && m.Store.Format == FormatSQLite
	var st store.Store
	if t.SQLitePath == "" {
		// A database of its own: its emptiness is checked before
		// anything is written.
		if st, err = t.OpenStore(); err != nil {
			return nil, err
		}
		defer st.Close()
		if err := CheckEmpty(ctx, st); err != nil {
			return nil, err
		}
	}

	// Nothing was written so far; from here on a failure leaves a
	// partial target, which the error says to remove.
	partial := func(err error) error {
		return fmt.Errorf("restore failed, remove what it wrote before trying again (%s, %s): %w", t.DataDir, t.TrailDir, err)
	}
	for _, d := range []string{t.DataDir, t.TrailDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, partial(err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, auditDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, partial(err)
	}
	for _, e := range ents {
		if err := copyFile(filepath.Join(dir, auditDir, e.Name()), filepath.Join(t.TrailDir, e.Name())); err != nil {
			return nil, partial(err)
		}
	}
	if err := durable.SyncDir(t.TrailDir); err != nil {
		return nil, partial(err)
	}
	if signer != nil {
		if err := copyFile(filepath.Join(dir, signingKeyFile), t.SigningKeyFile); err != nil {
			return nil, partial(err)
		}
	}
	if err := durable.SyncDir(t.DataDir); err != nil {
		return nil, partial(err)
	}

	if fileCopy {
		if err := copyFile(src, t.SQLitePath); err != nil {
			return nil, partial(err)
		}
		if err := durable.SyncDir(filepath.Dir(t.SQLitePath)); err != nil {
			return nil, partial(err)
		}
	}
	if st == nil {
		if st, err = t.OpenStore(); err != nil {
			return nil, partial(err)
		}
		defer st.Close()
	}
	if !fileCopy {
		read := func(fn func(store.Record) error) error { return readRecords(src, fn) }
		if m.Store.Format == FormatSQLite {
			read = func(fn func(store.Record) error) error { _, err := sqlite.Inspect(ctx, src, fn); return err }
		}
		if err := load(ctx, st, read); err != nil {
			return nil, partial(err)
		}
	}
	sums, err := census(ctx, st)
	if err != nil {
		return nil, partial(err)
	}
	if d := store.DiffSums(m.Store.Kinds, sums); len(d) > 0 {
		return nil, partial(fmt.Errorf("the restored store differs from the backup: %v", d))
	}

	res := &Result{Manifest: m}
	if signer == nil && len(m.Audit) == 0 {
		return res, nil
	}
	details := map[string]any{
		"backupId": m.ID, "backupCreated": m.Created.Format(time.RFC3339), "storeBackend": m.Store.Backend,
		"storeLastSeq": m.Store.LastSeq, "restoredAt": now().UTC().Format(time.RFC3339),
	}
	ranges := []map[string]any{}
	for _, n := range m.Audit {
		ranges = append(ranges, map[string]any{"node": n.Node, "firstSeq": n.FirstSeq, "lastSeq": n.LastSeq, "digestedThrough": n.DigestedThrough})
	}
	details["auditRanges"] = ranges
	o := audit.Options{Dir: t.TrailDir, Node: t.Node, Anchor: audit.StoreAnchor{Store: st}, Region: t.Region,
		Logger: t.Logger, Now: now, Restore: details}
	if signer != nil {
		o.Signer = signer
	}
	l, err := audit.Open(o)
	if err != nil {
		return nil, partial(fmt.Errorf("recording the restore in the audit trail: %w", err))
	}
	if err := l.Close(); err != nil {
		return nil, partial(fmt.Errorf("recording the restore in the audit trail: %w", err))
	}
	err = audit.Read(t.TrailDir, audit.Filter{EventName: audit.EventBackupRestored, Node: t.Node}, func(e audit.Entry) error {
		res.AuditSeq = e.Seq
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the restore record back: %w", err)
	}
	return res, nil
}
