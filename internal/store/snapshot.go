package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
)

// Snapshotter is an optional capability of a Store: reading every record
// as of one moment while writers go on. Backups and migrations use it; a
// scan with Each is not enough for them, because a record written while
// Each runs may or may not be seen, so a batch that Apply committed
// atomically could be seen in part.
type Snapshotter interface {
	// Snapshot calls fn for every record of every kind, in (kind, ID)
	// byte order, all as of one moment: a batch that Apply committed
	// before that moment is seen whole, one committed after it not at
	// all. Writers are not blocked while it runs (it is one read
	// transaction). It stops at the first error, the store's or fn's, and
	// returns it; fn must not call the store. The Record's Data belongs
	// to fn.
	Snapshot(ctx context.Context, fn func(Record) error) (SnapshotInfo, error)
}

// SnapshotInfo describes a snapshot.
type SnapshotInfo struct {
	// Schema is the backend's schema version (its number of migrations).
	Schema int `json:"schema"`
	// LastSeq is the Seq of the newest change the snapshot includes.
	LastSeq int64 `json:"lastSeq"`
}

// KindSum is the content of one kind of record: how many records it has
// and a SHA-256 over their IDs and data in ID order. Versions are not
// hashed: they are the store's bookkeeping, and a copy into another
// store starts them again at 1.
type KindSum struct {
	Count  int64  `json:"count"`
	SHA256 string `json:"sha256"`
}

// Census computes the KindSum of every kind from records given in
// (kind, ID) byte order, as Snapshot gives them; two stores hold the same
// records if their censuses are equal. The zero value is ready to use.
type Census struct {
	kind, id string
	started  bool
	h        hash.Hash
	n        int64
	sums     map[string]KindSum
}

// Add adds r. It returns an error if r does not sort after the record
// added before it, so that a census over records in another order (which
// would hash differently) is never taken for a mismatch of content.
func (c *Census) Add(r Record) error {
	if c.started {
		if r.Kind < c.kind || r.Kind == c.kind && r.ID <= c.id {
			return fmt.Errorf("store: census: record %q %q does not sort after %q %q", r.Kind, r.ID, c.kind, c.id)
		}
	}
	if !c.started || r.Kind != c.kind {
		c.flush()
		c.h, c.n = sha256.New(), 0
	}
	c.started, c.kind, c.id = true, r.Kind, r.ID
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(len(r.ID)))
	c.h.Write(l[:])
	c.h.Write([]byte(r.ID))
	binary.BigEndian.PutUint64(l[:], uint64(len(r.Data)))
	c.h.Write(l[:])
	c.h.Write(r.Data)
	c.n++
	return nil
}

func (c *Census) flush() {
	if c.sums == nil {
		c.sums = map[string]KindSum{}
	}
	if c.h != nil {
		c.sums[c.kind] = KindSum{Count: c.n, SHA256: hex.EncodeToString(c.h.Sum(nil))}
		c.h = nil
	}
}

// Sums returns the KindSum of every kind added so far.
func (c *Census) Sums() map[string]KindSum {
	out := make(map[string]KindSum, len(c.sums)+1)
	for k, v := range c.sums {
		out[k] = v
	}
	if c.h != nil {
		out[c.kind] = KindSum{Count: c.n, SHA256: hex.EncodeToString(c.h.Sum(nil))}
	}
	return out
}

// DiffSums describes how got differs from want, kind by kind in sorted
// order; it returns nil if they are equal.
func DiffSums(want, got map[string]KindSum) []string {
	kinds := map[string]bool{}
	for k := range want {
		kinds[k] = true
	}
	for k := range got {
		kinds[k] = true
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []string
	for _, k := range names {
		w, g := want[k], got[k]
		switch {
		case w.Count != g.Count:
			out = append(out, fmt.Sprintf("kind %q: %d records, want %d", k, g.Count, w.Count))
		case w.SHA256 != g.SHA256:
			out = append(out, fmt.Sprintf("kind %q: %d records as expected, but their content differs (sha256 %s, want %s)", k, g.Count, g.SHA256, w.SHA256))
		}
	}
	return out
}
