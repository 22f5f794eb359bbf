package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// FormatVersion is the version of the backup layout and manifest this
// code writes and reads.
const FormatVersion = 1

// Names inside a backup directory.
const (
	ManifestFile   = "manifest.json"
	sqliteFile     = "store/trent.db"
	recordsFile    = "store/records.jsonl"
	auditDir       = "audit"
	signingKeyFile = "audit-signing.key"
)

// Store formats in a backup.
const (
	FormatSQLite  = "sqlite"  // a SQLite database made by VACUUM INTO
	FormatRecords = "records" // JSON lines, one record each
)

// Manifest describes a backup.
type Manifest struct {
	Format int `json:"format"`
	// ID names the backup; the restore record in the audit trail quotes
	// it.
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Store   StoreInfo `json:"store"`
	// RootKeyIDs are the root keys a restore needs: those that sealed
	// the store's root key canary and the audit signing key.
	RootKeyIDs []string    `json:"rootKeyIds"`
	Audit      []AuditNode `json:"audit"`
	// Files lists every file of the backup but the manifest.
	Files []File `json:"files"`
}

// StoreInfo describes the store's part of a backup.
type StoreInfo struct {
	// Backend is the store the backup was taken from: sqlite or
	// postgres.
	Backend string `json:"backend"`
	// Format says how the records are kept: FormatSQLite or
	// FormatRecords; File is the file that holds them.
	Format string `json:"format"`
	File   string `json:"file"`
	// Schema is the store's schema version; LastSeq the last change the
	// snapshot includes.
	Schema  int   `json:"schema"`
	LastSeq int64 `json:"lastSeq"`
	// Kinds has the count and SHA-256 of every kind's records.
	Kinds map[string]store.KindSum `json:"kinds"`
}

// AuditNode is the part of one node's audit trail a backup holds.
type AuditNode struct {
	Node     string `json:"node"`
	FirstSeq uint64 `json:"firstSeq"`
	LastSeq  uint64 `json:"lastSeq"`
	// Digests is the number of digests; DigestedThrough the last record
	// a signed digest covers.
	Digests         int    `json:"digests"`
	DigestedThrough uint64 `json:"digestedThrough"`
	From            string `json:"from,omitempty"`
	Until           string `json:"until,omitempty"`
}

// File is one file of a backup, by its slash-separated path inside it.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// manifestFile is the layout of manifest.json: the manifest's bytes and
// their SHA-256, so that a changed byte anywhere in it is seen.
type manifestFile struct {
	Manifest json.RawMessage `json:"manifest"`
	SHA256   string          `json:"sha256"`
}

func encodeManifest(m *Manifest) ([]byte, error) {
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	out, err := json.MarshalIndent(manifestFile{Manifest: body, SHA256: hex.EncodeToString(sum[:])}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ErrCorrupt is wrapped by the errors of Verify and Restore that say the
// backup is damaged or incomplete.
var ErrCorrupt = errors.New("backup: damaged or incomplete")

// ReadManifest reads and checks the manifest of the backup in dir: its
// checksum and its format version.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no %s (not a backup, or one that did not finish)", ErrCorrupt, dir, ManifestFile)
		}
		return nil, fmt.Errorf("backup: %w", err)
	}
	var mf manifestFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mf); err != nil || len(mf.Manifest) == 0 {
		return nil, fmt.Errorf("%w: %s is malformed", ErrCorrupt, ManifestFile)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s has data after the manifest", ErrCorrupt, ManifestFile)
	}
	// The raw message keeps the bytes as they are in the file, indented
	// inside the outer object: compact them the same way the writer
	// indented them before hashing.
	var body bytes.Buffer
	if err := json.Indent(&body, compact(mf.Manifest), "", "  "); err != nil {
		return nil, fmt.Errorf("%w: %s is malformed", ErrCorrupt, ManifestFile)
	}
	sum := sha256.Sum256(body.Bytes())
	want, err := hex.DecodeString(mf.SHA256)
	if err != nil || !bytes.Equal(sum[:], want) {
		return nil, fmt.Errorf("%w: %s does not match its checksum (modified)", ErrCorrupt, ManifestFile)
	}
	var m Manifest
	dec = json.NewDecoder(bytes.NewReader(body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, ManifestFile, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("backup: format version %d; this program reads version %d", m.Format, FormatVersion)
	}
	return &m, nil
}

func compact(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return b
	}
	return out.Bytes()
}
