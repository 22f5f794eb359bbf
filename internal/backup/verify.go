package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// PublicKeys verify the audit digests; if empty, the public keys in
	// the backup's trail directory are used.
	PublicKeys []ed25519.PublicKey
}

// Verify checks the backup in dir without restoring it: the manifest's
// checksum; that every file it lists is there, unchanged, and that there
// is no other; that the store copy is sound (SQLite's integrity check)
// and holds the records the manifest counts, kind by kind; that the root
// keys it names are those that sealed the canary and the signing key; and
// that the audit trail verifies (hash chain, digest signatures, the
// anchors of the copied store) and spans the ranges the manifest names.
// Every problem found wraps ErrCorrupt.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*Manifest, error) {
	m, _, err := verify(ctx, dir, opts)
	return m, err
}

func verify(ctx context.Context, dir string, opts VerifyOptions) (*Manifest, *snapshotFacts, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, nil, err
	}
	var problems []string
	have, err := listFiles(dir)
	if err != nil {
		return m, nil, fmt.Errorf("backup: %w", err)
	}
	listed := map[string]File{}
	for _, f := range m.Files {
		listed[f.Path] = f
	}
	for _, p := range have {
		f, ok := listed[p]
		switch {
		case p == ManifestFile:
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is not in the manifest", p))
		default:
			size, sum, err := hashFile(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", p, err))
			} else if size != f.Size || sum != f.SHA256 {
				problems = append(problems, fmt.Sprintf("%s has changed (%d bytes, sha256 %s; the manifest says %d bytes, sha256 %s)", p, size, sum, f.Size, f.SHA256))
			}
			delete(listed, p)
		}
	}
	var missing []string
	for p := range listed {
		missing = append(missing, p)
	}
	sort.Strings(missing)
	for _, p := range missing {
		problems = append(problems, fmt.Sprintf("%s is missing", p))
	}
	if len(problems) > 0 {
		// Reading damaged files would only add noise.
		return m, nil, corrupt(problems)
	}

	facts := &snapshotFacts{}
	path := filepath.Join(dir, filepath.FromSlash(m.Store.File))
	switch {
	case m.Store.Format == FormatSQLite && m.Store.File == sqliteFile:
		info, err := sqlite.Inspect(ctx, path, facts.add)
		if err != nil {
			return m, nil, fmt.Errorf("%w: store: %v", ErrCorrupt, err)
		}
		if info.Schema != m.Store.Schema {
			problems = append(problems, fmt.Sprintf("the store has schema version %d, the manifest says %d", info.Schema, m.Store.Schema))
		}
	case m.Store.Format == FormatRecords && m.Store.File == recordsFile:
		if err := readRecords(path, facts.add); err != nil {
			return m, nil, err
		}
	default:
		return m, nil, fmt.Errorf("%w: unknown store format %q in %q", ErrCorrupt, m.Store.Format, m.Store.File)
	}
	for _, d := range store.DiffSums(m.Store.Kinds, facts.census.Sums()) {
		problems = append(problems, "store: "+d)
	}
	var ids []string
	if facts.canary != nil {
		id, err := rootkey.SealedBy(facts.canary)
		if err != nil {
			problems = append(problems, "the store's root key canary is malformed")
		}
		ids = append(ids, id)
	}
	if sealed, err := os.ReadFile(filepath.Join(dir, signingKeyFile)); err == nil {
		id, err := rootkey.SealedBy(sealed)
		if err != nil {
			problems = append(problems, "the audit signing key is malformed")
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if !slices.Equal(ids, m.RootKeyIDs) {
		problems = append(problems, fmt.Sprintf("the backup is sealed under root key(s) %v, the manifest says %v", ids, m.RootKeyIDs))
	}
	if _, err := os.Stat(filepath.Join(dir, auditDir)); err == nil || len(m.Audit) > 0 {
		if _, err := checkTrail(filepath.Join(dir, auditDir), opts.PublicKeys, facts.anchors, m.Audit); err != nil {
			problems = append(problems, strings.TrimPrefix(err.Error(), ErrCorrupt.Error()+": "))
		}
	}
	if len(problems) > 0 {
		return m, nil, corrupt(problems)
	}
	return m, facts, nil
}

func corrupt(problems []string) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, strings.Join(problems, "; "))
}

// readRecords calls fn for every record of a records.jsonl file, which
// must be well-formed to its last line.
func readRecords(path string, fn func(store.Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: store: %v", ErrCorrupt, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("backup: store: %w", err)
		}
		if len(line) == 0 || line[len(line)-1] != '\n' {
			return fmt.Errorf("%w: store: line %d of %s is incomplete", ErrCorrupt, n, recordsFile)
		}
		var rl recordLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rl); err != nil || rl.Kind == nil || rl.ID == nil || rl.Data == nil {
			return fmt.Errorf("%w: store: line %d of %s is not a record", ErrCorrupt, n, recordsFile)
		}
		if err := fn(store.Record{Kind: string(rl.Kind), ID: string(rl.ID), Version: rl.Version, Data: rl.Data}); err != nil {
			return fmt.Errorf("%w: store: line %d of %s: %v", ErrCorrupt, n, recordsFile, err)
		}
	}
}
