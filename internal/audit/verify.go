package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Kinds of Problem.
const (
	ProblemModified        = "modified"         // a record's bytes changed
	ProblemRemoved         = "removed"          // records (or a whole segment) are missing
	ProblemInserted        = "inserted"         // a line that is not part of the chain
	ProblemReordered       = "reordered"        // records out of order (e.g. two swapped)
	ProblemTruncated       = "truncated"        // the trail ends before what digests cover, or mid-record
	ProblemDigestMalformed = "digest-malformed" // a digest line does not parse
	ProblemDigestSignature = "digest-signature" // a digest's signature does not verify
	ProblemDigestGap       = "digest-gap"       // a digest is missing, digests do not chain, or a period has no digest
	ProblemAnchor          = "anchor-mismatch"  // the digest the store's anchor names differs from the one on disk
	ProblemNoTrail         = "no-trail"         // no trail where one is required
	ProblemKeyReplaced     = "key-replaced"     // the signing key was replaced by a key not among the trusted ones
)

// Problem is one verification failure, located as precisely as the damage
// allows: file, 1-based line, and the sequence number expected there.
type Problem struct {
	Node   string `json:"node"`
	Kind   string `json:"kind"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s: %s", p.Node, p.Kind)
	if p.Seq != 0 {
		fmt.Fprintf(&b, " at record %d", p.Seq)
	}
	if p.File != "" {
		fmt.Fprintf(&b, " (%s", p.File)
		if p.Line != 0 {
			fmt.Fprintf(&b, " line %d", p.Line)
		}
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(p.Detail)
	return b.String()
}

// NodeReport is the verification result of one node's trail.
type NodeReport struct {
	Node            string `json:"node"`
	Segments        int    `json:"segments"`
	FirstSeq        uint64 `json:"firstSeq"`
	LastSeq         uint64 `json:"lastSeq"`
	PrunedThrough   uint64 `json:"prunedThrough,omitempty"`
	Digests         int    `json:"digests"`
	DigestedThrough uint64 `json:"digestedThrough"`
	// From and Until are the eventTime of the first and the last record
	// checked; DigestsFrom and DigestsUntil the time of the first and the
	// last digest: the trail is proven complete up to DigestsUntil.
	From         string `json:"from,omitempty"`
	Until        string `json:"until,omitempty"`
	DigestsFrom  string `json:"digestsFrom,omitempty"`
	DigestsUntil string `json:"digestsUntil,omitempty"`
	// Anchor is the node's anchor in the store, when one was checked.
	Anchor   *AnchorState `json:"anchor,omitempty"`
	Problems []Problem    `json:"problems,omitempty"`
	Warnings []string     `json:"warnings,omitempty"`
}

// Truncated reports whether one of n's problems is a truncation.
func (n *NodeReport) Truncated() bool {
	return slices.ContainsFunc(n.Problems, func(p Problem) bool { return p.Kind == ProblemTruncated })
}

// Report is the result of Verify.
type Report struct {
	Nodes []NodeReport `json:"nodes"`
	// Problems are about the directory as a whole (no trail at all).
	Problems []Problem `json:"problems,omitempty"`
}

// OK reports whether no node has a problem.
func (r *Report) OK() bool {
	if len(r.Problems) > 0 {
		return false
	}
	for _, n := range r.Nodes {
		if len(n.Problems) > 0 {
			return false
		}
	}
	return true
}

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// PublicKeys verify digest signatures. If empty, the pubkey-*.pem
	// files of the trail directory are used and a warning says so: an
	// attacker who can rewrite the trail can replace those too.
	PublicKeys []ed25519.PublicKey
	// Node restricts verification to one node; "" verifies all.
	Node string
	// RequireDigests makes a trail without digests, or a directory
	// without a trail, a problem instead of a warning.
	RequireDigests bool
	// Anchor, if set, holds each node's latest digest outside the trail
	// (Trent's store): a trail that ends before its anchor is reported
	// truncated. Without it, removal of the end of a trail together with
	// its digests cannot be detected (a warning says so).
	Anchor Anchor
	// ExpectNodes are nodes whose trail belongs in dir (the node ID of a
	// data directory's configuration): a node missing from dir whose
	// anchor exists is reported truncated.
	ExpectNodes []string
	// Now is the clock against which the age of the last digest is
	// judged (default time.Now).
	Now func() time.Time
}

// Verify checks every node trail in dir: the hash chain of the records,
// their continuity across segments, the signatures, the chain and the
// periods of the digests, that every record a digest covers is present and
// unchanged, and, with opts.Anchor, that no trail ends before its anchor.
// Each node's report holds at most the first record problem and the first
// digest problem. Verify returns an error only if dir cannot be read or
// the anchor store cannot be asked; damage is reported in the Report.
func Verify(dir string, opts VerifyOptions) (*Report, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	nodes, err := listNodes(dir)
	if err != nil && !(errors.Is(err, os.ErrNotExist) && (opts.Anchor != nil || opts.RequireDigests)) {
		return nil, fmt.Errorf("audit: %w", err)
	}
	keys := map[string]ed25519.PublicKey{}
	fromDir := len(opts.PublicKeys) == 0
	if fromDir {
		ms, _ := filepath.Glob(filepath.Join(dir, "pubkey-*.pem"))
		for _, m := range ms {
			b, err := os.ReadFile(m)
			if err != nil {
				return nil, fmt.Errorf("audit: %w", err)
			}
			ks, err := ParsePublicKeyPEM(b)
			if err != nil {
				return nil, fmt.Errorf("audit: %s: %w", filepath.Base(m), err)
			}
			opts.PublicKeys = append(opts.PublicKeys, ks...)
		}
	}
	for _, k := range opts.PublicKeys {
		keys[KeyID(k)] = k
	}
	present := map[string]bool{}
	for _, n := range nodes {
		present[n] = true
	}
	for _, n := range append(opts.ExpectNodes, opts.Node) {
		if n != "" && !present[n] {
			present[n] = false
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	rep := &Report{}
	for _, n := range nodes {
		if opts.Node != "" && n != opts.Node {
			continue
		}
		var anchor *AnchorState
		if opts.Anchor != nil {
			ctx, cancel := context.WithTimeout(context.Background(), anchorTimeout)
			a, ok, err := opts.Anchor.LoadAnchor(ctx, n)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("audit: reading the anchor of node %q: %w", n, err)
			}
			if ok {
				anchor = &a
			}
		}
		if !present[n] {
			// Expected here but absent: a removed trail if the store
			// knows it, else a node that never wrote one.
			if anchor != nil {
				rep.Nodes = append(rep.Nodes, NodeReport{Node: n, Anchor: anchor, Problems: []Problem{{Node: n, Kind: ProblemTruncated,
					Detail: fmt.Sprintf("no trail of this node in %s, but the anchor in the store names digest %d of %s, covering records up to %d: the trail was removed",
						dir, anchor.DigestSeq, anchor.Time.UTC().Format(time.RFC3339), anchor.LastSeq)}}})
			} else if n == opts.Node {
				rep.Nodes = append(rep.Nodes, NodeReport{Node: n, Problems: []Problem{{Node: n, Kind: ProblemNoTrail,
					Detail: fmt.Sprintf("no trail of this node in %s", dir)}}})
			}
			continue
		}
		nr := verifyNode(dir, n, keys, anchor, opts)
		if fromDir && nr.Digests > 0 {
			nr.Warnings = append(nr.Warnings, "digest signatures checked with the public keys found in the trail directory; pass a trusted public key to rule out a replaced key")
		}
		rep.Nodes = append(rep.Nodes, nr)
	}
	if len(rep.Nodes) == 0 && opts.RequireDigests {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemNoTrail, Detail: fmt.Sprintf("no trail in %s", dir)})
	}
	return rep, nil
}

// digestState is what the records check needs from the digests.
type digestState struct {
	count       int
	lastSeq     uint64          // LastSeq of the last valid digest
	lastDigest  uint64          // DigestSeq of that digest
	hashAt      map[uint64]Hash // LastSeq -> LastHash of valid digests
	digestAt    map[uint64]uint64
	pruned      uint64
	prunedHash  Hash
	problem     *Problem
	digestsFile string
	// holes are the records declared lost by accepted truncations:
	// LostFrom -> LostThrough.
	holes map[uint64]uint64
	// anchorHash is the payload hash of the digest numbered like the
	// anchor, if there is one.
	anchorHash *Hash
	// Times of the first and last digest; the last one's reason and the
	// longest gap it allows before the next.
	firstTime, lastTime time.Time
	lastReason          string
	lastAllowed         time.Duration
	warnings            []string
}

// allowedGap is the longest time after digest d before the next one: the
// heartbeat, plus two digest intervals (the heartbeat is checked at each
// interval tick) and a tenth of the heartbeat, at least a second, for a
// busy machine. Zero (no limit) for version-1 digests, which do not state
// their periods.
func allowedGap(d *Digest) time.Duration {
	if d.HeartbeatMs <= 0 {
		return 0
	}
	hb := time.Duration(d.HeartbeatMs) * time.Millisecond
	return hb + 2*time.Duration(d.IntervalMs)*time.Millisecond + max(hb/10, time.Second)
}

func verifyDigests(dir, node string, keys map[string]ed25519.PublicKey, anchor *AnchorState) digestState {
	ds := digestState{hashAt: map[uint64]Hash{}, digestAt: map[uint64]uint64{}, digestsFile: digestName(node), holes: map[uint64]uint64{}}
	f, err := os.Open(filepath.Join(dir, ds.digestsFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			ds.problem = &Problem{Node: node, Kind: ProblemDigestMalformed, File: ds.digestsFile, Detail: err.Error()}
		}
		return ds
	}
	defer f.Close()
	fail := func(kind string, line int, seq uint64, format string, args ...any) digestState {
		ds.problem = &Problem{Node: node, Kind: kind, File: ds.digestsFile, Line: line, Seq: seq, Detail: fmt.Sprintf(format, args...)}
		return ds
	}
	lr := newLineReader(f)
	var prevSeq, prevLast uint64
	var prevHash Hash
	var prevSig []byte
	var prevTime time.Time
	var prevReason string
	var prevAllowed time.Duration
	var prevKeyID string
	for {
		line, _, torn, err := lr.next()
		if err == io.EOF {
			return ds
		}
		if err != nil {
			return fail(ProblemDigestMalformed, lr.line, 0, "reading: %v", err)
		}
		if torn {
			return fail(ProblemTruncated, lr.line, 0, "incomplete digest line (digest file truncated mid-line)")
		}
		d, err := parseDigest(line)
		if err != nil {
			return fail(ProblemDigestMalformed, lr.line, 0, "line is not a well-formed digest (modified)")
		}
		if err := d.verify(keys); err != nil {
			if _, known := keys[d.KeyID]; !known && (d.Reason == DigestKeyReplaced || (prevSeq > 0 && d.KeyID != prevKeyID)) {
				return failKeyChange(&ds, node, &d, lr.line, prevSeq, prevKeyID)
			}
			return fail(ProblemDigestSignature, lr.line, 0, "digest %d: %v (forged or modified)", d.DigestSeq, err)
		}
		if d.Reason == DigestKeyReplaced || d.PrevKeyID != "" || d.PublicKey != "" {
			if msg := checkReplacement(&d, prevSeq, prevKeyID); msg != "" {
				return fail(ProblemDigestMalformed, lr.line, 0, "%s", msg)
			}
			ds.warnings = append(ds.warnings, fmt.Sprintf("the signing key was replaced at %s (digest %d): the digests before it are signed by key %s, from it on by key %s; both are among the trusted keys",
				digestTime(&d.Digest), d.DigestSeq, orUnknown(d.PrevKeyID), d.KeyID))
		} else if prevSeq > 0 && d.KeyID != prevKeyID {
			ds.warnings = append(ds.warnings, fmt.Sprintf("digest %d (%s) is signed by key %s, digest %d by key %s, and no signing-key-replaced digest records the change (a signing key file replaced before Trent recorded replacements?); both are among the trusted keys",
				d.DigestSeq, digestTime(&d.Digest), d.KeyID, prevSeq, prevKeyID))
		}
		if d.Node != node {
			return fail(ProblemDigestMalformed, lr.line, 0, "digest %d names node %q", d.DigestSeq, d.Node)
		}
		switch {
		case d.DigestSeq > prevSeq+1:
			return fail(ProblemDigestGap, lr.line, 0, "digests %d..%d are missing (expected digest %d, found %d)", prevSeq+1, d.DigestSeq-1, prevSeq+1, d.DigestSeq)
		case d.DigestSeq <= prevSeq:
			return fail(ProblemDigestGap, lr.line, 0, "digest %d appears after digest %d (duplicated or reordered)", d.DigestSeq, prevSeq)
		case d.PrevDigest != prevHash.String():
			return fail(ProblemDigestGap, lr.line, 0, "digest %d does not chain to digest %d", d.DigestSeq, prevSeq)
		case d.Version >= 2 && prevSeq > 0 && d.PrevSignature != base64.StdEncoding.EncodeToString(prevSig):
			return fail(ProblemDigestGap, lr.line, 0, "digest %d does not chain to the signature of digest %d", d.DigestSeq, prevSeq)
		}
		t, err := time.Parse(time.RFC3339Nano, d.Time)
		if err != nil {
			return fail(ProblemDigestMalformed, lr.line, 0, "digest %d has a malformed time", d.DigestSeq)
		}
		if prevSeq > 0 && prevAllowed > 0 && prevReason != DigestShutdown {
			// After a shutdown digest any pause is a stop; otherwise a
			// running node writes the next digest within prevAllowed.
			restart := d.Reason == DigestStart || d.Reason == DigestTruncation || d.Reason == DigestKeyReplaced || d.Reason == DigestRestore
			// A key replacement, an accepted truncation or a restore is
			// written at start, just before the start digest of the same
			// start; a restore follows a backup, not a crash.
			sameStart := prevReason == DigestKeyReplaced || prevReason == DigestTruncation || prevReason == DigestRestore ||
				d.Reason == DigestRestore
			gap := t.Sub(prevTime)
			switch {
			case gap > prevAllowed && !restart:
				return fail(ProblemDigestGap, lr.line, 0, "no digest for %s between digest %d (%s) and digest %d (%s), but the node writes one at least every %s: a period is missing",
					gap.Round(time.Second), prevSeq, prevTime.UTC().Format(time.RFC3339), d.DigestSeq, t.UTC().Format(time.RFC3339), prevAllowed.Round(time.Second))
			case restart && !sameStart:
				ds.warnings = append(ds.warnings, fmt.Sprintf("the node started again at %s (digest %d) after digest %d of %s without a shutdown digest: it crashed or was killed",
					t.UTC().Format(time.RFC3339), d.DigestSeq, prevSeq, prevTime.UTC().Format(time.RFC3339)))
			}
		}
		if d.Reason == DigestRestore {
			w := fmt.Sprintf("restored from a backup at %s (digest %d): records up to %d are the backup's, and the BackupRestored record after them names it (trent audit list --event BackupRestored); what the node recorded after the backup was taken is not in this trail",
				t.UTC().Format(time.RFC3339), d.DigestSeq, d.LastSeq)
			if prevSeq > 0 {
				w += fmt.Sprintf("; the backup's last digest is digest %d of %s", prevSeq, prevTime.UTC().Format(time.RFC3339))
			}
			ds.warnings = append(ds.warnings, w)
		}
		if d.Reason == DigestTruncation {
			w := fmt.Sprintf("truncation accepted by the operator at %s (digest %d): the trail was shorter than its anchor or its digests", t.UTC().Format(time.RFC3339), d.DigestSeq)
			if d.LostFrom != 0 {
				w += fmt.Sprintf("; records %d..%d are lost", d.LostFrom, d.LostThrough)
			}
			ds.warnings = append(ds.warnings, w)
		}
		if d.Reason == DigestTruncation && d.LostFrom != 0 {
			// The chain continues at LostThrough+1 from record LastSeq.
			if d.LostFrom != d.LastSeq+1 || d.LostThrough < d.LostFrom || d.LostThrough < prevLast {
				return fail(ProblemDigestMalformed, lr.line, 0, "digest %d declares lost records %d..%d that do not follow record %d and digest coverage %d", d.DigestSeq, d.LostFrom, d.LostThrough, d.LastSeq, prevLast)
			}
			if d.FirstSeq != 0 && d.FirstSeq != prevLast+1 {
				return fail(ProblemDigestGap, lr.line, 0, "digest %d covers records from %d but the previous digest ended at %d", d.DigestSeq, d.FirstSeq, prevLast)
			}
			ds.holes[d.LostFrom] = d.LostThrough
		} else if d.FirstSeq != 0 {
			if d.FirstSeq != prevLast+1 {
				return fail(ProblemDigestGap, lr.line, 0, "digest %d covers records from %d but the previous digest ended at %d", d.DigestSeq, d.FirstSeq, prevLast)
			}
			if d.LastSeq < d.FirstSeq {
				return fail(ProblemDigestMalformed, lr.line, 0, "digest %d covers an empty range %d..%d", d.DigestSeq, d.FirstSeq, d.LastSeq)
			}
		} else if d.LastSeq != prevLast {
			return fail(ProblemDigestGap, lr.line, 0, "digest %d claims no new records but ends at %d, the previous at %d", d.DigestSeq, d.LastSeq, prevLast)
		}
		var h Hash
		if _, ok := cutHex([]byte(d.LastHash), &h); !ok {
			return fail(ProblemDigestMalformed, lr.line, 0, "digest %d has a malformed lastHash", d.DigestSeq)
		}
		if d.LastSeq > 0 {
			if old, ok := ds.hashAt[d.LastSeq]; ok && old != h {
				return fail(ProblemDigestGap, lr.line, d.LastSeq, "digest %d names another hash for record %d than digest %d", d.DigestSeq, d.LastSeq, ds.digestAt[d.LastSeq])
			}
			ds.hashAt[d.LastSeq] = h
			ds.digestAt[d.LastSeq] = d.DigestSeq
		}
		if anchor != nil && d.DigestSeq == anchor.DigestSeq {
			ah := d.payloadHash
			ds.anchorHash = &ah
		}
		if d.PrunedThrough > ds.pruned {
			if _, ok := cutHex([]byte(d.PrunedHash), &ds.prunedHash); !ok {
				return fail(ProblemDigestMalformed, lr.line, 0, "digest %d has a malformed prunedHash", d.DigestSeq)
			}
			ds.pruned = d.PrunedThrough
		}
		ds.count++
		ds.lastSeq, ds.lastDigest = d.LastSeq, d.DigestSeq
		if ds.count == 1 {
			ds.firstTime = t
		}
		ds.lastTime, ds.lastReason, ds.lastAllowed = t, d.Reason, allowedGap(&d.Digest)
		prevSeq, prevLast, prevHash, prevSig = d.DigestSeq, d.LastSeq, d.payloadHash, d.sig
		prevTime, prevReason, prevAllowed = t, d.Reason, ds.lastAllowed
		prevKeyID = d.KeyID
		if d.Reason == DigestTruncation && d.LostFrom != 0 {
			prevLast = d.LostThrough
		}
	}
}

// failKeyChange reports digest d, signed by a key that is not trusted and
// that is not the key of the digest before it: where the trail's signing
// key changed. A signing-key-replaced digest names the new key and asks
// the operator to add it if they trust it; any other digest is a change
// nothing recorded.
func failKeyChange(ds *digestState, node string, d *parsedDigest, line int, prevSeq uint64, prevKeyID string) digestState {
	p := Problem{Node: node, Kind: ProblemKeyReplaced, File: ds.digestsFile, Line: line}
	if d.Reason == DigestKeyReplaced {
		before := ""
		if prevSeq > 0 {
			before = fmt.Sprintf(" (which signed digests up to %d)", prevSeq)
		}
		p.Detail = fmt.Sprintf("the signing key was replaced at %s (digest %d): key %s%s by key ID %s, which is not among the trusted public keys, so digests %d and later are not verified. "+
			"If you trust that key (an operator started the node with --replace-audit-signing-key then), add its public key (pubkey-%s.pem from the trail directory, once you have checked it) with another --public-key",
			digestTime(&d.Digest), d.DigestSeq, orUnknown(d.PrevKeyID), before, d.KeyID, d.DigestSeq, d.KeyID)
	} else {
		p.Kind = ProblemDigestSignature
		p.Detail = fmt.Sprintf("digest %d (%s) is signed by key %s, which is not among the trusted public keys, but digest %d by key %s, and no signing-key-replaced digest records a change of key: "+
			"the signing key was replaced without a record (a deleted audit-signing.key, before Trent refused that), or the digest is forged",
			d.DigestSeq, digestTime(&d.Digest), d.KeyID, prevSeq, prevKeyID)
	}
	ds.problem = &p
	return *ds
}

// checkReplacement checks the fields of a signing-key-replaced digest whose
// signature verified: the public key it carries is the one that signed it,
// and it names the key of the digest before it. It returns "" if they
// hold.
func checkReplacement(d *parsedDigest, prevSeq uint64, prevKeyID string) string {
	der, err := base64.StdEncoding.DecodeString(d.PublicKey)
	if err != nil {
		return fmt.Sprintf("digest %d has a malformed publicKey", d.DigestSeq)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	pub, ok := k.(ed25519.PublicKey)
	if err != nil || !ok || KeyID(pub) != d.KeyID {
		return fmt.Sprintf("digest %d carries a publicKey that is not key %s, which signed it", d.DigestSeq, d.KeyID)
	}
	if d.Reason != DigestKeyReplaced {
		return fmt.Sprintf("digest %d (%s) carries signing-key replacement fields", d.DigestSeq, d.Reason)
	}
	if prevSeq > 0 && d.PrevKeyID != prevKeyID {
		return fmt.Sprintf("digest %d says it replaces key %s, but digest %d is signed by key %s", d.DigestSeq, orUnknown(d.PrevKeyID), prevSeq, prevKeyID)
	}
	return ""
}

// digestTime is d's time in RFC 3339 to the second (as written if it does
// not parse).
func digestTime(d *Digest) string {
	t, err := time.Parse(time.RFC3339Nano, d.Time)
	if err != nil {
		return d.Time
	}
	return t.UTC().Format(time.RFC3339)
}

func orUnknown(keyID string) string {
	if keyID == "" {
		return "(unknown)"
	}
	return keyID
}

// segLines iterates over the lines of a node's segments, with one line of
// lookahead.
type segLines struct {
	segs []segment
	i    int
	f    *os.File
	lr   *lineReader
	peek *segLine
	err  error
}

type segLine struct {
	seg   *segment
	line  int
	data  []byte
	torn  bool
	first bool // first line of its segment
}

func (s *segLines) read() *segLine {
	for {
		if s.lr == nil {
			if s.i >= len(s.segs) {
				return nil
			}
			f, err := os.Open(s.segs[s.i].Path)
			if err != nil {
				s.err = err
				return nil
			}
			s.f, s.lr = f, newLineReader(f)
		}
		b, _, torn, err := s.lr.next()
		if err != nil {
			if err != io.EOF {
				s.err = err
			}
			s.f.Close()
			s.f, s.lr = nil, nil
			s.i++
			if s.err != nil {
				return nil
			}
			continue
		}
		return &segLine{seg: &s.segs[s.i], line: s.lr.line, data: append([]byte(nil), b...), torn: torn, first: s.lr.line == 1}
	}
}

func (s *segLines) next() *segLine {
	if p := s.peek; p != nil {
		s.peek = nil
		return p
	}
	return s.read()
}

func (s *segLines) lookahead() *segLine {
	if s.peek == nil {
		s.peek = s.read()
	}
	return s.peek
}

func (s *segLines) close() {
	if s.f != nil {
		s.f.Close()
	}
}

func verifyNode(dir, node string, keys map[string]ed25519.PublicKey, anchor *AnchorState, opts VerifyOptions) NodeReport {
	nr := NodeReport{Node: node, Anchor: anchor}
	ds := verifyDigests(dir, node, keys, anchor)
	nr.Digests, nr.DigestedThrough, nr.PrunedThrough = ds.count, ds.lastSeq, ds.pruned
	nr.Warnings = append(nr.Warnings, ds.warnings...)
	if ds.count > 0 {
		nr.DigestsFrom, nr.DigestsUntil = ds.firstTime.UTC().Format(time.RFC3339), ds.lastTime.UTC().Format(time.RFC3339)
	}
	if ds.problem != nil {
		nr.Problems = append(nr.Problems, *ds.problem)
	}
	if ds.count == 0 && ds.problem == nil && anchor == nil {
		msg := "no signed digests: only the hash chain was checked; removal of records at the end cannot be detected"
		if opts.RequireDigests {
			nr.Problems = append(nr.Problems, Problem{Node: node, Kind: ProblemDigestGap, Detail: msg})
		} else {
			nr.Warnings = append(nr.Warnings, msg)
		}
	}
	switch {
	case anchor != nil && ds.problem == nil && ds.lastDigest < anchor.DigestSeq:
		// Reported after the records are checked, which says which
		// records are missing.
	case anchor != nil && ds.problem == nil && (ds.anchorHash == nil || ds.anchorHash.String() != anchor.DigestHash):
		nr.Problems = append(nr.Problems, Problem{Node: node, Kind: ProblemAnchor, File: ds.digestsFile,
			Detail: fmt.Sprintf("digest %d differs from the one the anchor in the store names (of %s): the digests were replaced", anchor.DigestSeq, anchor.Time.UTC().Format(time.RFC3339))})
	case anchor == nil && opts.Anchor != nil && ds.count > 0:
		nr.Warnings = append(nr.Warnings, "the store holds no anchor for this node: removal of the end of the trail together with its digests cannot be ruled out")
	case opts.Anchor == nil && ds.count > 0:
		nr.Warnings = append(nr.Warnings, "no anchor checked (give --data-dir): removal of the end of the trail together with its digests cannot be ruled out")
	}
	if ds.count > 0 && ds.lastAllowed > 0 && ds.lastReason != DigestShutdown {
		if age := opts.Now().Sub(ds.lastTime); age > ds.lastAllowed {
			nr.Warnings = append(nr.Warnings, fmt.Sprintf("the last digest (%s) is %s old and is not a shutdown digest: the node is not running (it crashed or was killed), or digests after it were removed",
				nr.DigestsUntil, age.Round(time.Second)))
		}
	}
	all, err := listSegments(dir, node)
	if err != nil {
		nr.Problems = append(nr.Problems, Problem{Node: node, Kind: ProblemRemoved, Detail: err.Error()})
		return nr
	}
	segs := all[node]
	// Skip segments that retention deleted records from (a crash may
	// have left them between the retention digest and the delete).
	for len(segs) > 1 && segs[1].FirstSeq <= ds.pruned+1 {
		segs = segs[1:]
	}
	nr.Segments = len(segs)
	if p := checkRecords(node, segs, ds, &nr); p != nil {
		nr.Problems = append(nr.Problems, *p)
	}
	if anchor != nil && ds.problem == nil && ds.lastDigest < anchor.DigestSeq {
		last := "has no digest"
		if ds.count > 0 {
			last = fmt.Sprintf("ends at digest %d of %s", ds.lastDigest, nr.DigestsUntil)
		}
		p := Problem{Node: node, Kind: ProblemTruncated, File: ds.digestsFile,
			Detail: fmt.Sprintf("the trail %s, but the anchor in the store names digest %d of %s: digests %d..%d are missing",
				last, anchor.DigestSeq, anchor.Time.UTC().Format(time.RFC3339), ds.lastDigest+1, anchor.DigestSeq)}
		if anchor.LastSeq > nr.LastSeq {
			p.Seq = nr.LastSeq + 1
			p.Detail += fmt.Sprintf(", and records %d..%d they covered", nr.LastSeq+1, anchor.LastSeq)
		}
		p.Detail += ": the end of the trail was removed"
		nr.Problems = append(nr.Problems, p)
	}
	return nr
}

// eventTimeOf returns the eventTime of a record's event bytes, or "".
func eventTimeOf(ev []byte) string {
	var e struct {
		EventTime string `json:"eventTime"`
	}
	if json.Unmarshal(ev, &e) != nil {
		return ""
	}
	return e.EventTime
}

func checkRecords(node string, segs []segment, ds digestState, nr *NodeReport) *Problem {
	e := ds.pruned + 1 // expected sequence number
	prev := genesis(node)
	if ds.pruned > 0 {
		prev = ds.prunedHash
	}
	var lastPrev Hash // prev field of the last accepted record
	var lastLoc *segLine
	var firstEvent, lastEvent []byte
	nr.FirstSeq = e
	it := &segLines{segs: segs}
	defer it.close()
	segIdx := -1 // index in segs of the segment being read
	prob := func(kind string, l *segLine, seq uint64, format string, args ...any) *Problem {
		p := &Problem{Node: node, Kind: kind, Seq: seq, Detail: fmt.Sprintf(format, args...)}
		if l != nil {
			p.File, p.Line = l.seg.Name, l.line
		}
		return p
	}
	for {
		l := it.next()
		if l == nil {
			break
		}
		if segIdx < 0 || l.seg != &segs[segIdx] {
			// Entering a new segment; segments skipped on the way were empty.
			for segIdx++; &segs[segIdx] != l.seg; segIdx++ {
				if segs[segIdx].FirstSeq != e {
					return &Problem{Node: node, Kind: ProblemRemoved, Seq: e, File: segs[segIdx].Name,
						Detail: fmt.Sprintf("empty segment should start at record %d", e)}
				}
			}
			if th, ok := ds.holes[e]; ok && l.seg.FirstSeq == th+1 {
				e = th + 1 // records declared lost when a truncation was accepted
			}
			if l.seg.FirstSeq > e {
				return prob(ProblemRemoved, l, e, "records %d..%d are missing: segment %s starts at %d (a segment was deleted)", e, l.seg.FirstSeq-1, l.seg.Name, l.seg.FirstSeq)
			}
		}
		if l.torn {
			return prob(ProblemTruncated, l, e, "incomplete record at the end of the file (truncated mid-record)")
		}
		r, err := parseRecord(l.data)
		if errors.Is(err, errMalformed) {
			return prob(ProblemModified, l, e, "line is not a well-formed record (modified or inserted)")
		}
		if errors.Is(err, errBadHash) {
			if r.Seq == e || r.Seq == 0 {
				return prob(ProblemModified, l, e, "record content does not match its hash")
			}
			return prob(ProblemModified, l, e, "record content does not match its hash (its seq field reads %d)", r.Seq)
		}
		if len(ds.holes) > 0 && r.Seq > e {
			if th, ok := ds.holes[e]; ok && r.Seq == th+1 {
				e = th + 1 // records declared lost when a truncation was accepted
			}
		}
		switch {
		case r.Seq == e:
			if r.Prev != prev {
				return prob(ProblemModified, l, e, "record does not chain to record %d (rewritten or replaced)", e-1)
			}
		case r.Seq > e:
			if n := it.lookahead(); n != nil && !n.torn {
				if nx, err := parseRecord(n.data); err == nil && nx.Seq == e && nx.Prev == prev {
					return prob(ProblemReordered, l, e, "records %d and %d are swapped: record %d is at line %d, record %d at line %d", e, r.Seq, r.Seq, l.line, e, n.line)
				}
			}
			if r.Seq == e+1 {
				return prob(ProblemRemoved, l, e, "record %d is missing before this line", e)
			}
			return prob(ProblemRemoved, l, e, "records %d..%d are missing before this line", e, r.Seq-1)
		default: // r.Seq < e
			if r.Seq == e-1 && r.Hash == prev {
				return prob(ProblemInserted, l, r.Seq, "line repeats record %d (%s line %d): inserted", r.Seq, lastLoc.seg.Name, lastLoc.line)
			}
			if r.Seq == e-1 && r.Prev == lastPrev {
				return prob(ProblemInserted, l, r.Seq, "two records claim seq %d (%s line %d and this line): one was inserted", r.Seq, lastLoc.seg.Name, lastLoc.line)
			}
			if n := it.lookahead(); n != nil && !n.torn {
				if nx, err := parseRecord(n.data); err == nil && nx.Seq == e && nx.Prev == prev {
					return prob(ProblemInserted, l, e, "line (claiming record %d) is not part of the chain: inserted", r.Seq)
				}
			}
			return prob(ProblemReordered, l, e, "record %d appears where record %d belongs", r.Seq, e)
		}
		if h, ok := ds.hashAt[e]; ok && h != r.Hash {
			return prob(ProblemModified, l, e, "record differs from signed digest %d (the chain was rewritten)", ds.digestAt[e])
		}
		if firstEvent == nil {
			firstEvent = r.Event
		}
		lastEvent = r.Event
		lastPrev, prev, lastLoc = r.Prev, r.Hash, l
		e++
	}
	if firstEvent != nil {
		nr.From, nr.Until = eventTimeOf(firstEvent), eventTimeOf(lastEvent)
	}
	if it.err != nil {
		return prob(ProblemRemoved, nil, e, "reading segment: %v", it.err)
	}
	if th, ok := ds.holes[e]; ok {
		e = th + 1 // the trail ends at an accepted truncation
	}
	// Empty trailing segments must start where the chain ends.
	for i := max(segIdx+1, 0); i < len(segs); i++ {
		if segs[i].FirstSeq != e {
			return &Problem{Node: node, Kind: ProblemRemoved, Seq: e, File: segs[i].Name, Detail: fmt.Sprintf("empty segment should start at record %d", e)}
		}
	}
	nr.LastSeq = e - 1
	if ds.lastSeq > e-1 {
		p := &Problem{Node: node, Kind: ProblemTruncated, Seq: e, Detail: fmt.Sprintf("records %d..%d, covered by signed digest %d, are missing (trail truncated)", e, ds.lastSeq, ds.lastDigest)}
		if lastLoc != nil {
			p.File = lastLoc.seg.Name
			p.Line = lastLoc.line + 1
		}
		return p
	}
	if e-1 > ds.lastSeq && ds.count > 0 {
		nr.Warnings = append(nr.Warnings, fmt.Sprintf("records %d..%d are not yet covered by a signed digest", ds.lastSeq+1, e-1))
	}
	return nil
}
