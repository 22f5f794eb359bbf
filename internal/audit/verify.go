package audit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	ProblemDigestGap       = "digest-gap"       // a digest is missing, or digests do not chain
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
	Node            string    `json:"node"`
	Segments        int       `json:"segments"`
	FirstSeq        uint64    `json:"firstSeq"`
	LastSeq         uint64    `json:"lastSeq"`
	PrunedThrough   uint64    `json:"prunedThrough,omitempty"`
	Digests         int       `json:"digests"`
	DigestedThrough uint64    `json:"digestedThrough"`
	Problems        []Problem `json:"problems,omitempty"`
	Warnings        []string  `json:"warnings,omitempty"`
}

// Report is the result of Verify.
type Report struct {
	Nodes []NodeReport `json:"nodes"`
}

// OK reports whether no node has a problem.
func (r *Report) OK() bool {
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
	// RequireDigests makes a trail without digests a problem instead of
	// a warning.
	RequireDigests bool
}

// Verify checks every node trail in dir: the hash chain of the records,
// their continuity across segments, the signatures and the chain of the
// digests, and that every record a digest covers is present and unchanged.
// Each node's report holds at most the first record problem and the first
// digest problem. Verify returns an error only if dir cannot be read;
// damage is reported in the Report.
func Verify(dir string, opts VerifyOptions) (*Report, error) {
	nodes, err := listNodes(dir)
	if err != nil {
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
	rep := &Report{}
	for _, n := range nodes {
		if opts.Node != "" && n != opts.Node {
			continue
		}
		nr := verifyNode(dir, n, keys, opts)
		if fromDir && nr.Digests > 0 {
			nr.Warnings = append(nr.Warnings, "digest signatures checked with the public keys found in the trail directory; pass a trusted public key to rule out a replaced key")
		}
		rep.Nodes = append(rep.Nodes, nr)
	}
	if opts.Node != "" && len(rep.Nodes) == 0 {
		return nil, fmt.Errorf("audit: no trail of node %q in %s", opts.Node, dir)
	}
	return rep, nil
}

// digestState is what the records check needs from the digests.
type digestState struct {
	count       int
	lastSeq     uint64          // highest LastSeq of a valid digest
	lastDigest  uint64          // DigestSeq of that digest
	hashAt      map[uint64]Hash // LastSeq -> LastHash of valid digests
	digestAt    map[uint64]uint64
	pruned      uint64
	prunedHash  Hash
	problem     *Problem
	digestsFile string
}

func verifyDigests(dir, node string, keys map[string]ed25519.PublicKey) digestState {
	ds := digestState{hashAt: map[uint64]Hash{}, digestAt: map[uint64]uint64{}, digestsFile: digestName(node)}
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
			return fail(ProblemDigestSignature, lr.line, 0, "digest %d: %v (forged or modified)", d.DigestSeq, err)
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
		}
		if d.FirstSeq != 0 {
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
			ds.hashAt[d.LastSeq] = h
			ds.digestAt[d.LastSeq] = d.DigestSeq
		}
		if d.PrunedThrough > ds.pruned {
			if _, ok := cutHex([]byte(d.PrunedHash), &ds.prunedHash); !ok {
				return fail(ProblemDigestMalformed, lr.line, 0, "digest %d has a malformed prunedHash", d.DigestSeq)
			}
			ds.pruned = d.PrunedThrough
		}
		ds.count++
		ds.lastSeq, ds.lastDigest = d.LastSeq, d.DigestSeq
		prevSeq, prevLast, prevHash = d.DigestSeq, d.LastSeq, d.payloadHash
	}
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

func verifyNode(dir, node string, keys map[string]ed25519.PublicKey, opts VerifyOptions) NodeReport {
	nr := NodeReport{Node: node}
	ds := verifyDigests(dir, node, keys)
	nr.Digests, nr.DigestedThrough, nr.PrunedThrough = ds.count, ds.lastSeq, ds.pruned
	if ds.problem != nil {
		nr.Problems = append(nr.Problems, *ds.problem)
	}
	if ds.count == 0 && ds.problem == nil {
		msg := "no signed digests: only the hash chain was checked; removal of records at the end cannot be detected"
		if opts.RequireDigests {
			nr.Problems = append(nr.Problems, Problem{Node: node, Kind: ProblemDigestGap, Detail: msg})
		} else {
			nr.Warnings = append(nr.Warnings, msg)
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
	return nr
}

func checkRecords(node string, segs []segment, ds digestState, nr *NodeReport) *Problem {
	e := ds.pruned + 1 // expected sequence number
	prev := genesis(node)
	if ds.pruned > 0 {
		prev = ds.prunedHash
	}
	var lastPrev Hash // prev field of the last accepted record
	var lastLoc *segLine
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
		lastPrev, prev, lastLoc = r.Prev, r.Hash, l
		e++
	}
	if it.err != nil {
		return prob(ProblemRemoved, nil, e, "reading segment: %v", it.err)
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
