package node

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/trailapi"
)

// verifyMaxAge is how old the reported verification may be before a call
// starts a new one (in the background: the call answers at once).
const verifyMaxAge = time.Minute

// verifyDuty bounds the share of time spent verifying: a run that took d
// is followed by no other until verifyDuty×d after it started. A run
// reads the whole trail (about 2 µs a record, 450 MB/s of one core), and
// retention is opt-in: on a trail of billions of records a run takes
// longer than verifyMaxAge, and any caller allowed to look up events, in
// any account, would otherwise keep a core and the disk busy for as long
// as it calls once a minute.
const verifyDuty = 10

// trailVerifier answers GetTrailVerification: it runs audit.Verify over
// the node's trail, as `trent audit verify --data-dir` does (the digest
// keys are the trail directory's pubkey-*.pem files, and the store's
// anchor is checked), at most one run at a time and at most one a
// minute, whatever the number of callers, so the cost stays bounded.
type trailVerifier struct {
	dir, node string
	anchor    audit.Anchor
	log       *slog.Logger

	// verify and now are audit.Verify over the trail and the clock
	// (fields for tests; nil: the real ones).
	verify func() (*audit.Report, error)
	now    func() time.Time

	mu      sync.Mutex
	last    *trailapi.Verification
	started time.Time
	// next is when the next run may start (verifyMaxAge after the last
	// started, or verifyDuty times its duration if that is longer).
	next    time.Time
	running bool
}

func newTrailVerifier(dir, node string, st store.Store, log *slog.Logger) *trailVerifier {
	return &trailVerifier{dir: dir, node: node, anchor: audit.StoreAnchor{Store: st}, log: log}
}

// State returns the last finished verification (Status Checking before
// the first), starting a new one if it is older than verifyMaxAge.
func (v *trailVerifier) State(context.Context) (*trailapi.Verification, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if now := v.clock(); !v.running && (v.last == nil || !now.Before(v.next)) {
		v.running = true
		v.started = now
		go v.run(v.started)
	}
	out := &trailapi.Verification{Status: trailapi.VerificationChecking}
	if v.last != nil {
		c := *v.last
		out = &c
	}
	out.Running = v.running
	return out, nil
}

func (v *trailVerifier) clock() time.Time {
	if v.now != nil {
		return v.now()
	}
	return time.Now()
}

func (v *trailVerifier) run(start time.Time) {
	res := &trailapi.Verification{CheckedAt: trailapi.Timestamp(start)}
	verify := v.verify
	if verify == nil {
		verify = func() (*audit.Report, error) {
			return audit.Verify(v.dir, audit.VerifyOptions{Node: v.node, Anchor: v.anchor, ExpectNodes: []string{v.node}})
		}
	}
	r, err := verify()
	if err != nil {
		v.log.Error("trail verification", "err", err)
		res.Status = trailapi.VerificationFailed
		res.Problems = []string{"the trail could not be read (the server log says why)"}
	} else {
		res.Status = trailapi.VerificationVerified
		for _, p := range r.Problems {
			res.Problems = append(res.Problems, p.Node+": "+p.Kind)
		}
		for _, n := range r.Nodes {
			res.Digests += n.Digests
			if t, err := time.Parse(time.RFC3339Nano, n.DigestsUntil); err == nil {
				res.DigestsUntil = trailapi.Timestamp(t)
			}
			for _, p := range n.Problems {
				res.Problems = append(res.Problems, p.Node+": "+p.Kind)
			}
		}
		if len(res.Problems) > 0 {
			res.Status = trailapi.VerificationFailed
		}
	}
	pems, _ := filepath.Glob(filepath.Join(v.dir, "pubkey-*.pem"))
	for _, p := range pems {
		res.SigningKeyIDs = append(res.SigningKeyIDs, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "pubkey-"), ".pem"))
	}
	slices.Sort(res.SigningKeyIDs)
	v.mu.Lock()
	v.last, v.running = res, false
	v.next = start.Add(max(verifyMaxAge, verifyDuty*v.clock().Sub(start)))
	v.mu.Unlock()
}
