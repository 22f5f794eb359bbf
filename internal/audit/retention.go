package audit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/trentkms/trent/internal/durable"
)

// applyRetention deletes old segments, or moves them to ArchiveDir (never
// the current one, and only segments a signed digest covers). It first
// records an AuditRetention event naming them, then writes a retention
// digest naming the last removed sequence number and the hash the first
// kept record chains to, so that Verify starts the chain there and can
// tell retention from removal; only then are the files removed. Writer
// only.
func (l *Log) applyRetention() error {
	if l.opts.MaxAge <= 0 && l.opts.MaxSegments <= 0 && l.opts.MaxTotalBytes <= 0 {
		return nil
	}
	if l.opts.Signer == nil {
		if !l.retentionWarn {
			l.retentionWarn = true
			l.log.Warn("audit: retention is configured but the trail has no digest signer; keeping every segment")
		}
		return nil
	}
	all, err := listSegments(l.opts.Dir, l.opts.Node)
	if err != nil {
		return err
	}
	segs := all[l.opts.Node]
	cut := 0 // segs[:cut] go
	if l.opts.MaxSegments > 0 && len(segs) > l.opts.MaxSegments {
		cut = len(segs) - l.opts.MaxSegments
	}
	if l.opts.MaxAge > 0 {
		limit := l.opts.Now().Add(-l.opts.MaxAge)
		// Segment i's records all precede segment i+1's start.
		for cut < len(segs)-1 && segs[cut+1].Start.Before(limit) {
			cut++
		}
	}
	if l.opts.MaxTotalBytes > 0 {
		var total int64
		sizes := make([]int64, len(segs))
		for i, s := range segs {
			if st, err := os.Stat(s.Path); err == nil {
				sizes[i] = st.Size()
				total += sizes[i]
			}
		}
		for i := 0; i < len(segs)-1 && total > l.opts.MaxTotalBytes; i++ {
			total -= sizes[i]
			cut = max(cut, i+1)
		}
	}
	cut = min(cut, len(segs)-1)
	// Only records that a signed digest covers may go.
	for cut > 0 && segs[cut].FirstSeq-1 > l.dLast {
		cut--
	}
	if cut <= 0 {
		return nil
	}
	keep := segs[cut]
	anchor := l.prev
	if keep.FirstSeq <= l.seq {
		r, err := firstRecord(keep.Path)
		if err != nil {
			return err
		}
		anchor = r.Prev
	}
	action := "delete"
	if l.opts.ArchiveDir != "" {
		action = "archive"
	}
	names := make([]string, cut)
	for i, s := range segs[:cut] {
		names[i] = s.Name
	}
	details := map[string]any{"action": action, "segments": names, "firstSeq": segs[0].FirstSeq, "lastSeq": keep.FirstSeq - 1}
	if l.opts.ArchiveDir != "" {
		details["archiveDir"] = l.opts.ArchiveDir
	}
	if err := l.writeSystemEvent(EventRetention, details); err != nil {
		return err
	}
	if err := l.digest(DigestRetention, func(d *Digest) {
		d.PrunedThrough, d.PrunedHash = keep.FirstSeq-1, anchor.String()
	}); err != nil {
		return err
	}
	for _, s := range segs[:cut] {
		var err error
		if l.opts.ArchiveDir != "" {
			err = archiveFile(s.Path, l.opts.ArchiveDir)
		} else {
			err = os.Remove(s.Path)
		}
		if err != nil {
			return fmt.Errorf("audit: retention: %w", err)
		}
		l.pruned.Add(1)
	}
	return durable.SyncDir(l.opts.Dir)
}

// archiveFile moves src into dir: a rename on the same file system, else a
// copy that is synced before src is removed. It never overwrites.
func archiveFile(src, dir string) error {
	dst := filepath.Join(dir, filepath.Base(src))
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("archive: %s exists", dst)
	}
	err := os.Rename(src, dst)
	if err == nil {
		return durable.SyncDir(dir)
	}
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err == nil {
		err = durable.SyncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Remove(src)
}
