package backup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/durable"
	"github.com/trentkms/trent/internal/store"
)

// CopyTrails brings the audit trails of other nodes into the trail
// directory dir, for an installation whose nodes become one (a cluster
// moved back to SQLite, whose store then holds every node's anchor and
// whose data directory must hold every node's trail): for each directory
// of from, it copies the segments, the digest file and the public keys of
// every node that dir does not hold yet (files of a node dir already has
// are left alone). It then verifies dir against the anchors in st and
// returns what each node's trail holds. The servers of those trails must
// be stopped.
func CopyTrails(ctx context.Context, st store.Store, dir string, from []string) ([]AuditNode, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	have := map[string]bool{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if n, ok := trailNode(e.Name()); ok {
			have[n] = true
		}
	}
	for _, src := range from {
		ents, err := os.ReadDir(src)
		if err != nil {
			return nil, fmt.Errorf("trail directory %s: %w", src, err)
		}
		for _, e := range ents {
			name := e.Name()
			if !e.Type().IsRegular() {
				continue
			}
			if strings.HasPrefix(name, "pubkey-") && strings.HasSuffix(name, ".pem") {
				if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
					continue
				}
				if err := copyFile(filepath.Join(src, name), filepath.Join(dir, name)); err != nil {
					return nil, err
				}
				continue
			}
			n, ok := trailNode(name)
			if !ok || have[n] {
				continue
			}
			if err := copyLines(filepath.Join(src, name), filepath.Join(dir, name)); err != nil {
				return nil, err
			}
		}
		for _, e := range ents {
			if n, ok := trailNode(e.Name()); ok {
				have[n] = true
			}
		}
	}
	if err := durable.SyncDir(dir); err != nil {
		return nil, err
	}
	facts := &snapshotFacts{}
	err = store.Each(ctx, st, audit.AnchorKind, func(r store.Record) error { return facts.add(r) })
	if err != nil {
		return nil, err
	}
	return checkTrail(dir, nil, facts.anchors, nil)
}

// trailNode returns the node of a segment or digest file name.
func trailNode(name string) (string, bool) {
	if s, ok := strings.CutPrefix(name, "digest-"); ok {
		return strings.CutSuffix(s, ".jsonl")
	}
	if s, ok := strings.CutPrefix(name, "trail-"); ok && strings.HasSuffix(name, ".jsonl") {
		// trail-<node>-<20 digits>-<stamp>.jsonl
		parts := strings.Split(strings.TrimSuffix(s, ".jsonl"), "-")
		if len(parts) >= 3 {
			return strings.Join(parts[:len(parts)-2], "-"), true
		}
	}
	return "", false
}
