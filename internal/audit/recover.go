package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// recover restores the writer state from disk: the last digest, the last
// record, and the current segment, cutting torn tails left by a crash. If
// the node has no segment, it leaves l.seg nil and Open creates one. It
// returns the payload hash of the digest on disk that has the anchor's
// number (nil if none). Whether records or digests are missing is for
// checkTruncation to decide.
func (l *Log) recover(anchor *AnchorState) (*Hash, error) {
	rd, err := l.recoverDigests(anchor)
	if err != nil {
		return nil, err
	}
	all, err := listSegments(l.opts.Dir, l.opts.Node)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	segs := all[l.opts.Node]
	if len(segs) == 0 {
		// A new trail, or one whose segments were all removed: the
		// chain starts after the last record retention removed.
		l.seq, l.prev = rd.pruned, genesis(l.opts.Node)
		if rd.pruned > 0 {
			l.prev = rd.prunedHash
		}
		l.holeAfter(rd)
		l.recovery.LastSeq = l.seq
		return rd.anchorHash, nil
	}
	cur := segs[len(segs)-1]
	last, end, ok, err := lastValidRecord(cur.Path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(cur.Path, os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: opening segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	if size := st.Size(); size > end {
		// Cut once Open has decided to go on: a start refused because
		// records are missing leaves the files as they are, the torn
		// bytes included, for the investigation.
		l.cuts = append(l.cuts, func() error {
			if err := f.Truncate(end); err != nil {
				return fmt.Errorf("audit: cutting torn tail: %w", err)
			}
			if err := fdatasync(f); err != nil {
				return fmt.Errorf("audit: cutting torn tail: %w", err)
			}
			l.recovery.TornBytes = size - end
			l.log.Warn("audit: cut the end of the trail after its last complete record (preallocated space, or a record torn by a crash: never acknowledged)",
				"file", cur.Name, "offset", end, "bytes", size-end)
			return nil
		})
	}
	l.seg, l.segInfo, l.segSize, l.segAlloc = f, cur, end, end
	l.openDirect()
	if ok {
		l.seq, l.prev = last.Seq, last.Hash
		l.segRecords = 1 // at least one; only zero-ness matters
	} else {
		// Empty current segment: the chain state comes from the record
		// before it.
		l.seq = cur.FirstSeq - 1
		if l.prev, err = l.hashAt(l.seq, segs[:len(segs)-1]); err != nil {
			return nil, err
		}
	}
	l.holeAfter(rd)
	l.recovery.LastSeq = l.seq
	return rd.anchorHash, nil
}

// holeAfter continues the numbering after the records that the last
// digest declares lost (a truncation accepted just before a crash, before
// any record followed it).
func (l *Log) holeAfter(rd recoveredDigests) {
	if rd.lostFrom != 0 && l.seq+1 == rd.lostFrom && rd.lostThrough > l.seq {
		l.seq = rd.lostThrough
	}
}

// hashAt returns the hash of record seq: from the last record of the
// previous segment, or a digest or retention checkpoint naming it.
func (l *Log) hashAt(seq uint64, before []segment) (Hash, error) {
	if seq == 0 {
		return genesis(l.opts.Node), nil
	}
	if len(before) > 0 {
		if r, _, ok, err := lastValidRecord(before[len(before)-1].Path); err != nil {
			return Hash{}, err
		} else if ok && r.Seq == seq {
			return r.Hash, nil
		}
	}
	if ds, err := readDigests(filepath.Join(l.opts.Dir, digestName(l.opts.Node))); err == nil {
		for i := len(ds) - 1; i >= 0; i-- {
			d := ds[i]
			if d.PrunedThrough == seq {
				var h Hash
				if _, ok := cutHex([]byte(d.PrunedHash), &h); ok {
					return h, nil
				}
			}
			// After an accepted truncation the chain continues at
			// LostThrough+1 from the hash of record LastSeq.
			if d.LastSeq == seq || (d.LostThrough == seq && d.LostFrom != 0) {
				var h Hash
				if _, ok := cutHex([]byte(d.LastHash), &h); ok {
					return h, nil
				}
			}
		}
	}
	return Hash{}, fmt.Errorf("audit: cannot find the hash of record %d of node %q to continue the chain", seq, l.opts.Node)
}

// recoveredDigests is what recoverDigests found.
type recoveredDigests struct {
	anchorHash            *Hash // payload hash of the digest numbered like the anchor
	pruned                uint64
	prunedHash            Hash
	lostFrom, lostThrough uint64 // hole declared by the last digest
}

// recoverDigests reads the digest file, cuts a torn tail, and restores the
// digest chain state.
func (l *Log) recoverDigests(anchor *AnchorState) (recoveredDigests, error) {
	var rd recoveredDigests
	p := filepath.Join(l.opts.Dir, digestName(l.opts.Node))
	f, err := os.OpenFile(p, os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return rd, nil
	}
	if err != nil {
		return rd, fmt.Errorf("audit: opening digest file: %w", err)
	}
	lr := newLineReader(f)
	var end int64
	var last *parsedDigest
	for {
		line, off, torn, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return rd, fmt.Errorf("audit: reading digest file: %w", err)
		}
		if torn {
			break
		}
		if allZero(line) {
			continue
		}
		end = off + int64(len(line)) + 1
		d, perr := parseDigest(line)
		if perr != nil {
			continue // a malformed line is tampering: Verify reports it
		}
		last = &d
		if anchor != nil && d.DigestSeq == anchor.DigestSeq {
			h := d.payloadHash
			rd.anchorHash = &h
		}
		if d.PrunedThrough > rd.pruned && l.signedByNode(&d) {
			var h Hash
			if _, ok := cutHex([]byte(d.PrunedHash), &h); ok {
				rd.pruned, rd.prunedHash = d.PrunedThrough, h
			}
		}
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return rd, fmt.Errorf("audit: digest file: %w", err)
	}
	if size := st.Size(); size > end {
		l.cuts = append(l.cuts, func() error { // see recover
			f, err := os.OpenFile(p, os.O_RDWR, 0o600)
			if err == nil {
				if err = f.Truncate(end); err == nil {
					err = fdatasync(f)
				}
				f.Close()
			}
			if err != nil {
				return fmt.Errorf("audit: digest file: %w", err)
			}
			l.recovery.TornDigestBytes = size - end
			l.log.Warn("audit: cut an incomplete digest at the end of the digest file", "bytes", size-end)
			return nil
		})
	}
	if last != nil {
		l.dSeq, l.dHash, l.dSig, l.dLast = last.DigestSeq, last.payloadHash, last.sig, last.LastSeq
		l.dLastHash = last.LastHash
		if t, err := time.Parse(time.RFC3339Nano, last.Time); err == nil {
			l.dTime = t
		}
		if last.Reason == DigestTruncation && last.LostFrom != 0 && l.signedByNode(last) {
			rd.lostFrom, rd.lostThrough = last.LostFrom, last.LostThrough
			l.dLast = max(l.dLast, last.LostThrough)
		}
	}
	return rd, nil
}

// signedByNode reports whether d is signed by this node's signing key.
// Open reads the digest file without checking signatures (Verify does),
// except for the digests that relax its truncation check: a retention
// digest (records up to PrunedThrough were removed on purpose) and an
// accepted truncation (records LostFrom..LostThrough are declared lost).
// Whoever can write the trail directory can append such a line; only the
// node can sign it. A digest signed by another key (one the node no longer
// has) relaxes nothing: if the trail is then short, the node refuses to
// start and the operator decides (--accept-audit-truncation).
func (l *Log) signedByNode(d *parsedDigest) bool {
	if l.pub == nil || d.KeyID != l.kid {
		return false
	}
	return d.verify(map[string]ed25519.PublicKey{l.kid: l.pub}) == nil
}

// lastValidRecord scans a segment and returns its last record that parses
// (a record whose hash does not match counts: that is tampering, which
// Verify reports, not a crash) and the offset just past the last line worth
// keeping. Bytes after that offset are a torn tail left by a crash: an
// incomplete final line without newline, and lines of NUL bytes (some
// filesystems expose zeroed blocks after a crash). ok is false if no line
// parses.
func lastValidRecord(path string) (last record, end int64, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return record{}, 0, false, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	lr := newLineReader(f)
	for {
		line, off, torn, err := lr.next()
		if err == io.EOF {
			return last, end, ok, nil
		}
		if err != nil {
			return record{}, 0, false, fmt.Errorf("audit: reading %s: %w", filepath.Base(path), err)
		}
		if torn {
			return last, end, ok, nil
		}
		if allZero(line) {
			continue
		}
		end = off + int64(len(line)) + 1
		r, perr := parseRecord(line)
		if perr != nil && !errors.Is(perr, errBadHash) {
			continue
		}
		r.Event = nil
		last, ok = r, true
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// firstRecord returns the first record of a segment.
func firstRecord(path string) (record, error) {
	f, err := os.Open(path)
	if err != nil {
		return record{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	line, _, torn, err := newLineReader(f).next()
	if err != nil || torn {
		return record{}, fmt.Errorf("audit: %s has no complete first record", filepath.Base(path))
	}
	r, err := parseRecord(line)
	if err != nil {
		return record{}, fmt.Errorf("audit: first record of %s: %w", filepath.Base(path), err)
	}
	return r, nil
}

// readDigests parses every complete line of a digest file, skipping
// malformed ones.
func readDigests(path string) ([]parsedDigest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []parsedDigest
	lr := newLineReader(f)
	for {
		line, _, torn, err := lr.next()
		if err == io.EOF || torn {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if d, err := parseDigest(line); err == nil {
			out = append(out, d)
		}
	}
}
