package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The anchor: each node's latest durable digest, kept outside the trail
// directory (in Trent's store, so in PostgreSQL in cluster mode). Digests
// chain to each other, so whoever can write the trail directory can still
// cut its end, records and digests together, and leave a shorter trail
// that verifies. The anchor says how far the trail reached; a trail that
// ends before it was truncated.
//
// Crash ordering: the Log saves an anchor only after the digest it names
// is written and fdatasync'ed, from one goroutine, in digest order, so
// the anchor is never ahead of the disk; it may lag behind it (a crash
// between the digest and the anchor write, or a store that is down), which
// is harmless: a trail longer than its anchor is not a truncation. The
// anchor can only be ahead of the disk if the disk lost data it had
// acknowledged (a device that ignores flushes), or if the trail directory
// was restored from an older copy: both are truncations the operator must
// see.

// AnchorState is a node's latest durable digest.
type AnchorState struct {
	Node string `json:"node"`
	// DigestSeq and DigestHash (hex SHA-256 of the payload) name the
	// digest.
	DigestSeq  uint64 `json:"digestSeq"`
	DigestHash string `json:"digestHash"`
	// LastSeq and LastHash are the last record the digest covers.
	LastSeq  uint64 `json:"lastSeq"`
	LastHash string `json:"lastHash"`
	// Time is the digest's time.
	Time time.Time `json:"time"`
	// KeyID names the key that signed the digest ("" in anchors saved
	// before anchors named it), so that a node whose signing key and
	// digest file are both gone can still say which key its trail needs.
	KeyID string `json:"keyId,omitempty"`
}

// Anchor keeps each node's AnchorState outside the trail directory.
// Implementations must be safe for concurrent use.
type Anchor interface {
	// LoadAnchor returns the node's anchor; ok is false if it has none.
	LoadAnchor(ctx context.Context, node string) (s AnchorState, ok bool, err error)
	// SaveAnchor replaces the node's anchor with s. The Log calls it
	// only from one goroutine, in digest order, after the digest is
	// durable.
	SaveAnchor(ctx context.Context, s AnchorState) error
}

// AnchorLister is implemented by the Anchor of a store that belongs to one
// data directory (SQLite): every node it anchors wrote its trail there, so
// Verify of that data directory expects each of them, and a node whose
// trail is absent (run under another node ID with its trail elsewhere,
// then removed) is reported truncated. A store shared by a cluster does
// not implement it: the other nodes' trails are in their own directories.
type AnchorLister interface {
	AnchoredNodes(ctx context.Context) ([]string, error)
}

// ErrTruncated is returned by Open when the trail on disk is shorter than
// its anchor or its own digests (records or digests that were once
// durable are gone) and Options.AcceptTruncation is not set.
var ErrTruncated = errors.New("audit: trail truncated")

// anchorTimeout bounds one anchor read or write.
const anchorTimeout = 10 * time.Second

// truncation is what Open found missing.
type truncation struct {
	anchor      *AnchorState // the store's anchor, if it was ahead or did not match
	diskDigest  uint64       // last digest on disk
	diskLast    uint64       // last record on disk
	dLast       uint64       // last record covered by a digest on disk
	mismatch    bool         // the disk's digest at anchor.DigestSeq differs from the anchor
	lostFrom    uint64       // records lostFrom..lostThrough are gone (0: none)
	lostThrough uint64
}

func (t *truncation) String() string {
	s := fmt.Sprintf("the trail ends at record %d and digest %d", t.diskLast, t.diskDigest)
	if t.dLast > t.diskLast {
		s += fmt.Sprintf(", but its own digests cover records up to %d", t.dLast)
	}
	if a := t.anchor; a != nil {
		if t.mismatch {
			s += fmt.Sprintf("; digest %d on disk differs from the anchor in the store (digest %d of %s)", a.DigestSeq, a.DigestSeq, a.Time.UTC().Format(time.RFC3339))
		} else {
			s += fmt.Sprintf("; the anchor in the store names digest %d of %s, covering records up to %d", a.DigestSeq, a.Time.UTC().Format(time.RFC3339), a.LastSeq)
		}
	}
	if t.lostFrom != 0 {
		s += fmt.Sprintf(": records %d..%d are missing", t.lostFrom, t.lostThrough)
	}
	if t.anchor != nil {
		s += fmt.Sprintf(" (or another node uses the node ID %q with this store: every node needs its own)", t.anchor.Node)
	}
	return s
}

// checkTruncation compares what recover found on disk with the anchor and
// the disk's own digests. It returns nil when nothing is missing.
func (l *Log) checkTruncation(a *AnchorState, anchorHashOnDisk *Hash) *truncation {
	t := &truncation{diskDigest: l.dSeq, diskLast: l.seq, dLast: l.dLast}
	missing := uint64(0) // highest record number known to have existed
	if l.dLast > l.seq {
		missing = l.dLast
	}
	if a != nil {
		switch {
		case a.DigestSeq > l.dSeq:
			t.anchor = a
		case anchorHashOnDisk == nil || anchorHashOnDisk.String() != a.DigestHash:
			t.anchor, t.mismatch = a, true
		}
		if a.LastSeq > l.seq && a.LastSeq > missing {
			missing = a.LastSeq
		}
	}
	if t.anchor == nil && missing == 0 {
		return nil
	}
	if missing > l.seq {
		t.lostFrom, t.lostThrough = l.seq+1, missing
	}
	return t
}

// acceptTruncation writes a signed DigestTruncation digest that declares
// the lost records, then the event that records the operator's decision,
// so that the chain continues after the hole and Verify can tell the
// accepted loss (a warning) from an unnoticed one (a failure). The
// digest comes first: a crash between the two leaves a declared hole, not
// an undeclared one.
func (l *Log) acceptTruncation(t *truncation) error {
	l.log.Error("audit: trail truncation accepted by the operator; continuing the trail after the missing part", "detail", t.String())
	if err := l.digest(DigestTruncation, func(d *Digest) {
		d.LostFrom, d.LostThrough = t.lostFrom, t.lostThrough
	}); err != nil {
		return err
	}
	if t.lostThrough > l.seq {
		// Record numbers are never reused: the chain goes on from the
		// last record on disk, numbered after the highest one that
		// existed.
		l.seq, l.dLast = t.lostThrough, t.lostThrough
	}
	if l.seg == nil {
		// Every segment is gone: the next starts after the hole.
		if err := l.newSegment(); err != nil {
			return err
		}
	}
	details := map[string]any{"detail": t.String(), "trailLastSeq": t.diskLast, "trailLastDigest": t.diskDigest}
	if t.lostFrom != 0 {
		details["lostFrom"], details["lostThrough"] = t.lostFrom, t.lostThrough
	}
	if a := t.anchor; a != nil {
		details["anchorDigestSeq"], details["anchorLastSeq"], details["anchorTime"] = a.DigestSeq, a.LastSeq, a.Time.UTC().Format(time.RFC3339)
		details["anchorMismatch"] = t.mismatch
	}
	return l.writeSystemEvent(EventTruncationAccepted, details)
}

// anchorLoop saves the latest digest state to the anchor store, in order,
// until stop is closed; then it saves what is left and returns. A failed
// save is retried with the next digest (the newest state wins).
func (l *Log) anchorLoop() {
	defer close(l.anchorDone)
	var failedAt time.Time
	save := func() {
		l.anchorMu.Lock()
		s, pending := l.anchorNext, l.anchorPending
		l.anchorPending = false
		l.anchorMu.Unlock()
		if !pending {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), anchorTimeout)
		err := l.opts.Anchor.SaveAnchor(ctx, s)
		cancel()
		if err != nil {
			l.anchorMu.Lock()
			if !l.anchorPending { // nothing newer arrived: retry this one
				l.anchorNext, l.anchorPending = s, true
			}
			l.anchorMu.Unlock()
			if time.Since(failedAt) >= time.Minute {
				failedAt = time.Now()
				l.log.Warn("audit: saving the trail anchor to the store failed; will retry with the next digest", "digest", s.DigestSeq, "err", err)
			}
		}
	}
	for {
		select {
		case <-l.anchorKick:
			save()
		case <-l.anchorStop:
			save()
			return
		}
	}
}

// queueAnchor hands the state of a durable digest to anchorLoop.
func (l *Log) queueAnchor(s AnchorState) {
	if l.opts.Anchor == nil {
		return
	}
	l.anchorMu.Lock()
	l.anchorNext, l.anchorPending = s, true
	l.anchorMu.Unlock()
	select {
	case l.anchorKick <- struct{}{}:
	default:
	}
}
