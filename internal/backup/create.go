package backup

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/durable"
	"github.com/trentkms/trent/internal/reseal"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// Source is what Create backs up.
type Source struct {
	// Store is the installation's store, open and possibly serving. A
	// *sqlite.Store is copied with VACUUM INTO; any other store must be
	// a store.Snapshotter.
	Store store.Store
	// Backend names the store in the manifest: sqlite or postgres.
	Backend string
	// TrailDir is the audit trail directory ("" if the trail is
	// disabled).
	TrailDir string
	// SigningKeyFile is the sealed audit signing key ("" or a missing
	// file: none).
	SigningKeyFile string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// fileCopier is a store that copies itself into a file (sqlite.Store).
type fileCopier interface {
	CopyTo(ctx context.Context, path string) error
}

// Create writes a backup of src into dir, which must not exist: it is
// built beside it under another name and renamed into place once
// complete, so that dir is either a whole backup or absent. See the
// package documentation for what it holds and why it is consistent.
func Create(ctx context.Context, src Source, dir string) (*Manifest, error) {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("backup: %s exists; name a new directory for each backup", dir)
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	created := now().UTC()
	m := &Manifest{Format: FormatVersion, ID: created.Format("20060102T150405Z") + "-" + hex.EncodeToString(rnd[:]), Created: created}
	tmp := dir + ".partial-" + m.ID
	if err := os.MkdirAll(filepath.Join(tmp, "store"), 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()

	snap, err := backupStore(ctx, src, tmp, m)
	if err != nil {
		return nil, err
	}
	if snap.canary != nil {
		id, err := rootkey.SealedBy(snap.canary)
		if err != nil {
			return nil, fmt.Errorf("backup: the store's root key canary: %w", err)
		}
		m.RootKeyIDs = append(m.RootKeyIDs, id)
	}
	if src.SigningKeyFile != "" {
		sealed, err := os.ReadFile(src.SigningKeyFile)
		switch {
		case err == nil:
			id, err := rootkey.SealedBy(sealed)
			if err != nil {
				return nil, fmt.Errorf("backup: audit signing key %s: %w", src.SigningKeyFile, err)
			}
			if !slices.Contains(m.RootKeyIDs, id) {
				m.RootKeyIDs = append(m.RootKeyIDs, id)
			}
			if err := writeSync(filepath.Join(tmp, signingKeyFile), func(w io.Writer) error { _, err := w.Write(sealed); return err }); err != nil {
				return nil, fmt.Errorf("backup: %w", err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("backup: audit signing key: %w", err)
		}
	}
	if src.TrailDir != "" {
		if m.Audit, err = backupTrail(src.TrailDir, filepath.Join(tmp, auditDir), snap.anchors); err != nil {
			return nil, err
		}
	}
	files, err := listFiles(tmp)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	for _, f := range files {
		size, sum, err := hashFile(filepath.Join(tmp, filepath.FromSlash(f)))
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		m.Files = append(m.Files, File{Path: f, Size: size, SHA256: sum})
	}
	data, err := encodeManifest(m)
	if err != nil {
		return nil, err
	}
	if err := writeSync(filepath.Join(tmp, ManifestFile), func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	for _, d := range []string{filepath.Join(tmp, "store"), filepath.Join(tmp, auditDir), tmp} {
		if err := durable.SyncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ok = true
	if err := durable.SyncDir(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

// snapshotFacts is what a pass over the records finds besides their
// census: the audit anchors and the root key canary.
type snapshotFacts struct {
	census  store.Census
	anchors map[string]audit.AnchorState
	canary  []byte
}

func (f *snapshotFacts) add(r store.Record) error {
	if err := f.census.Add(r); err != nil {
		return err
	}
	switch {
	case r.Kind == audit.AnchorKind:
		a, err := audit.ParseAnchor(r.ID, r.Data)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if f.anchors == nil {
			f.anchors = map[string]audit.AnchorState{}
		}
		f.anchors[r.ID] = a
	case r.Kind == reseal.CanaryKind: // its one record
		f.canary = r.Data
	}
	return nil
}

// backupStore writes the store's snapshot into tmp and fills m.Store.
func backupStore(ctx context.Context, src Source, tmp string, m *Manifest) (*snapshotFacts, error) {
	facts := &snapshotFacts{}
	m.Store.Backend = src.Backend
	if fc, ok := src.Store.(fileCopier); ok {
		m.Store.Format, m.Store.File = FormatSQLite, sqliteFile
		path := filepath.Join(tmp, filepath.FromSlash(sqliteFile))
		if err := fc.CopyTo(ctx, path); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		// The census is taken of the copy itself, so that the manifest
		// describes exactly what the backup holds.
		info, err := sqlite.Inspect(ctx, path, facts.add)
		if err != nil {
			return nil, fmt.Errorf("backup: reading the copy: %w", err)
		}
		m.Store.Schema, m.Store.LastSeq = info.Schema, info.LastSeq
	} else {
		sn, ok := src.Store.(store.Snapshotter)
		if !ok {
			return nil, fmt.Errorf("backup: the store (%T) cannot take a snapshot", src.Store)
		}
		m.Store.Format, m.Store.File = FormatRecords, recordsFile
		var info store.SnapshotInfo
		err := writeSync(filepath.Join(tmp, filepath.FromSlash(recordsFile)), func(w io.Writer) error {
			enc := json.NewEncoder(w)
			var err error
			info, err = sn.Snapshot(ctx, func(r store.Record) error {
				if err := facts.add(r); err != nil {
					return err
				}
				return enc.Encode(recordLine{Kind: []byte(r.Kind), ID: []byte(r.ID), Version: r.Version, Data: r.Data})
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("backup: exporting the store: %w", err)
		}
		m.Store.Schema, m.Store.LastSeq = info.Schema, info.LastSeq
	}
	m.Store.Kinds = facts.census.Sums()
	return facts, nil
}

// recordLine is one line of records.jsonl. Kinds and IDs are bytes in
// the store, so they are kept as base64 like the data.
type recordLine struct {
	Kind    []byte `json:"kind"`
	ID      []byte `json:"id"`
	Version int64  `json:"version"`
	Data    []byte `json:"data"`
}

// trailCopies bounds how often a copy of the trail that raced with a
// rotation or retention is taken again.
const trailCopies = 5

// backupTrail copies the trail directory from into to and verifies the
// copy against the anchors of the store's snapshot.
func backupTrail(from, to string, anchors map[string]audit.AnchorState) ([]AuditNode, error) {
	var last error
	for range trailCopies {
		os.RemoveAll(to)
		nodes, err := copyTrail(from, to, anchors)
		if err == nil {
			return nodes, nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("backup: the audit trail copy does not verify: %w", last)
}

func copyTrail(from, to string, anchors map[string]audit.AnchorState) ([]AuditNode, error) {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var digests, keys, segments []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case !e.Type().IsRegular():
		case strings.HasPrefix(n, "digest-") && strings.HasSuffix(n, ".jsonl"):
			digests = append(digests, n)
		case strings.HasPrefix(n, "pubkey-") && strings.HasSuffix(n, ".pem"):
			keys = append(keys, n)
		case strings.HasPrefix(n, "trail-") && strings.HasSuffix(n, ".jsonl"):
			segments = append(segments, n)
		}
	}
	// Digests before segments: every record a copied digest covers was
	// durable before the digest was written, so it is in the segments
	// read after.
	for _, n := range digests {
		if err := copyLines(filepath.Join(from, n), filepath.Join(to, n)); err != nil {
			return nil, err
		}
	}
	for _, n := range keys {
		if err := copyFile(filepath.Join(from, n), filepath.Join(to, n)); err != nil {
			return nil, err
		}
	}
	for _, n := range segments {
		if err := copyLines(filepath.Join(from, n), filepath.Join(to, n)); err != nil {
			return nil, err
		}
	}
	return checkTrail(to, nil, anchors, nil)
}

// checkTrail verifies the trail in dir, with the anchors of the backup's
// store, and returns what it holds; want, if not nil, is what the
// manifest says it holds.
func checkTrail(dir string, keys []ed25519.PublicKey, anchors map[string]audit.AnchorState, want []AuditNode) ([]AuditNode, error) {
	rep, err := audit.Verify(dir, audit.VerifyOptions{PublicKeys: keys, Anchor: mapAnchor(anchors)})
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, p := range rep.Problems {
		problems = append(problems, p.String())
	}
	var nodes []AuditNode
	for _, n := range rep.Nodes {
		for _, p := range n.Problems {
			problems = append(problems, p.String())
		}
		nodes = append(nodes, AuditNode{Node: n.Node, FirstSeq: n.FirstSeq, LastSeq: n.LastSeq, Digests: n.Digests,
			DigestedThrough: n.DigestedThrough, From: n.From, Until: n.Until})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: audit trail: %s", ErrCorrupt, strings.Join(problems, "; "))
	}
	if want != nil && !slices.Equal(nodes, want) {
		return nil, fmt.Errorf("%w: the audit trail holds %+v, the manifest says %+v", ErrCorrupt, nodes, want)
	}
	return nodes, nil
}

// mapAnchor is the audit.Anchor of a backup: the anchors of its store,
// read-only.
type mapAnchor map[string]audit.AnchorState

func (a mapAnchor) LoadAnchor(_ context.Context, node string) (audit.AnchorState, bool, error) {
	s, ok := a[node]
	return s, ok, nil
}

func (a mapAnchor) SaveAnchor(context.Context, audit.AnchorState) error {
	return errors.New("backup: the anchors of a backup are read-only")
}
