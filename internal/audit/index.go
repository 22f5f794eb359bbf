package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// An Index finds the records of a trail directory by the attributes of
// CloudTrail's LookupEvents (event ID, event name, read-only, user name,
// resource type and name, event source, access key ID) and by time, newest
// first, without reading the records it does not return.
//
// It lives in memory and follows the trail as it grows: every Lookup first
// reads what was appended since the last one (Refresh), so a query costs
// the records written since, plus the records it returns, not the size of
// the trail. The first Refresh reads the whole trail once. Per record the
// index holds its position (32 bytes) and one 4-byte posting per attribute
// value (about nine), plus an entry of the event-ID map: about 100 bytes a
// record, some 100 MB for a million.
//
// Records are ordered by a time key, newest first. A node writes its
// records in sequence, not quite in eventTime order: a call's record is
// written when it ends, with the time it began, and a clock may be set
// back. So a node's records are cut into runs: a run ends where a record's
// eventTime is more than runBreak before the latest of the run (a clock
// set back, a record written very late), and within a run a record's key
// is the latest eventTime of the run up to it, so that keys rise with the
// sequence and a query finds its candidates by binary search. A record's
// key is never before its own eventTime and at most the run's lag (the
// greatest key minus eventTime in it, a few seconds as calls go) after
// it: a query ending at End looks at the keys up to End plus the lag and
// keeps those whose own eventTime is in its range, so that StartTime and
// EndTime select exactly the records whose eventTime they bound, whatever
// the clock did. A query merges the runs of every node; runs are few (one
// per clock step back). Records are indexed under the account that
// received them (recipientAccountId): a query names one account and sees
// only its records.
//
// An Index reads files that the trail's writer appends to concurrently: it
// consumes only complete lines, stops at the zero-filled space a segment
// is preallocated with, and reads a segment again only until a later one
// of its node holds a record. Segments removed by retention drop out of
// the answers (their records are skipped when read). Lines that are not
// well-formed records are skipped, as Read does: Verify checks integrity.
type Index struct {
	dir  string
	seed maphash.Seed

	mu    sync.RWMutex
	nodes map[string]*nodeIndex
	names []string // node IDs, sorted
}

// nodeIndex indexes one node's trail.
type nodeIndex struct {
	node string
	segs []*indexedSeg // by first sequence number
	ents []indexEntry  // by sequence number
	// post maps the hash of (account, attribute, value) to the ordinals
	// (positions in ents) of the records that have it, ascending.
	post map[uint64][]uint32
	// ids maps the hash of (account, event ID) to its record's ordinal;
	// dupIDs holds the rest when two records share a hash.
	ids    map[uint64]uint32
	dupIDs map[uint64][]uint32
	// runs cut ents into stretches of rising keys, by first ordinal.
	runs []indexRun
	// dead counts the records of removed segments.
	dead int
}

type indexedSeg struct {
	seg    segment
	off    int64 // bytes consumed
	sealed bool  // a later segment holds a record: nothing more comes
	gone   bool  // removed from the directory
	n      int   // records indexed
}

// indexEntry is one record's place in the trail.
type indexEntry struct {
	off int64
	seq uint64
	key uint32 // Unix seconds: the latest eventTime of the run up to here
	t   uint32 // Unix seconds: the record's own eventTime
	seg uint32 // index in nodeIndex.segs
	n   uint32 // length of the line
}

// indexRun is a stretch of a node's records whose keys rise with their
// sequence numbers.
type indexRun struct {
	first uint32 // ordinal of its first record
	key   uint32 // key of its last record: the latest eventTime in it
	lag   uint32 // the greatest key minus eventTime of its records
}

// runBreak is how far a record's eventTime may fall behind the latest of
// its run before it starts a new run. It bounds a run's lag, so the extra
// keys a time-bounded query looks at; calls end well within it (their
// deadline is 30 s), so runs begin only where a clock was set back.
const runBreak = 60

// LookupKey names an attribute of LookupEvents' LookupAttributes.
type LookupKey uint8

// The lookup attributes. LookupNone selects every record of the account.
const (
	LookupNone LookupKey = iota
	LookupEventID
	LookupEventName
	LookupReadOnly
	LookupUsername
	LookupResourceType
	LookupResourceName
	LookupEventSource
	LookupAccessKeyID
)

// LookupKeys maps the AttributeKey values of the CloudTrail API to
// LookupKeys.
var LookupKeys = map[string]LookupKey{
	"EventId": LookupEventID, "EventName": LookupEventName, "ReadOnly": LookupReadOnly,
	"Username": LookupUsername, "ResourceType": LookupResourceType, "ResourceName": LookupResourceName,
	"EventSource": LookupEventSource, "AccessKeyId": LookupAccessKeyID,
}

// Query selects records for Index.Lookup.
type Query struct {
	// Account is the account whose records are searched. Required.
	Account string
	// Key and Value select records whose attribute Key is Value
	// (exactly); LookupNone selects them all.
	Key   LookupKey
	Value string
	// Start and End bound eventTime, both inclusive; zero values do not
	// bound.
	Start, End time.Time
	// After continues a previous Lookup of the same query: records after
	// (older than) this one. Nil starts with the newest.
	After *Cursor
	// Limit is the number of records returned at most (at least 1).
	Limit int
}

// Cursor is the place of a record in the order of Lookup. It names the
// record by node and sequence number, so it stays valid across restarts
// and as the trail grows.
type Cursor struct {
	Key  uint32 `json:"k"`
	Node string `json:"n"`
	Seq  uint64 `json:"s"`
}

// Found is a record Lookup returns.
type Found struct {
	key   uint32
	Node  string
	Seq   uint64
	Time  time.Time
	Event *Event
	// Raw is the event's JSON exactly as the trail holds it.
	Raw []byte
}

// NewIndex returns an empty Index of the trail directory dir. Call Refresh
// to read the trail (Lookup does).
func NewIndex(dir string) *Index {
	return &Index{dir: dir, seed: maphash.MakeSeed(), nodes: map[string]*nodeIndex{}}
}

// Records returns the number of records indexed (of segments still
// present).
func (x *Index) Records() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := 0
	for _, ni := range x.nodes {
		n += len(ni.ents) - ni.dead
	}
	return n
}

// Refresh reads what the trail directory gained since the last Refresh:
// new segments, and records appended to segments not yet sealed. It returns
// an error only if the directory or a segment cannot be read.
func (x *Index) Refresh() error {
	all, err := listSegments(x.dir, "")
	if err != nil {
		return fmt.Errorf("audit: index: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for node, segs := range all {
		ni := x.nodes[node]
		if ni == nil {
			ni = &nodeIndex{node: node, post: map[uint64][]uint32{}, ids: map[uint64]uint32{}, dupIDs: map[uint64][]uint32{}}
			x.nodes[node] = ni
			x.names = append(x.names, node)
			sort.Strings(x.names)
		}
		if err := x.refreshNode(ni, segs); err != nil {
			return err
		}
	}
	for node, ni := range x.nodes {
		if _, ok := all[node]; !ok {
			x.refreshNode(ni, nil)
		}
	}
	return nil
}

// refreshNode brings ni up to date with segs, the node's segments now.
func (x *Index) refreshNode(ni *nodeIndex, segs []segment) error {
	present := make(map[string]bool, len(segs))
	for _, s := range segs {
		present[s.Name] = true
	}
	known := make(map[string]bool, len(ni.segs))
	for _, is := range ni.segs {
		known[is.seg.Name] = true
		if !is.gone && !present[is.seg.Name] {
			is.gone, ni.dead = true, ni.dead+is.n
		}
	}
	if ni.dead > 0 && ni.dead >= len(ni.ents)/2 {
		// Retention removed half the records: index the rest afresh
		// rather than keep postings of records that are gone.
		*ni = nodeIndex{node: ni.node, post: map[uint64][]uint32{}, ids: map[uint64]uint32{}, dupIDs: map[uint64][]uint32{}}
		known = map[string]bool{}
	}
	for _, s := range segs {
		if known[s.Name] {
			continue
		}
		if n := len(ni.segs); n > 0 && s.FirstSeq < ni.segs[n-1].seg.FirstSeq {
			continue // older than what is indexed: not written any more
		}
		ni.segs = append(ni.segs, &indexedSeg{seg: s})
	}
	for i, is := range ni.segs {
		if is.sealed || is.gone {
			continue
		}
		later := false
		for _, next := range ni.segs[i+1:] {
			later = later || (!next.gone && (next.n > 0 || startsWithData(next.seg.Path)))
		}
		if err := x.readSegment(ni, uint32(i), is); err != nil {
			return err
		}
		// Sealed only after a read that followed the proof that the
		// writer had moved on: that read saw the segment's last record.
		is.sealed = later
	}
	return nil
}

// startsWithData reports whether the segment at path holds a byte that is
// not preallocated space: its writer has begun writing it.
func startsWithData(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [1]byte
	n, _ := f.ReadAt(b[:], 0)
	return n == 1 && b[0] != 0
}

// readSegment indexes the complete records of is after what was read.
func (x *Index) readSegment(ni *nodeIndex, si uint32, is *indexedSeg) error {
	f, err := os.Open(is.seg.Path)
	if errors.Is(err, os.ErrNotExist) {
		is.gone, ni.dead = true, ni.dead+is.n
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: index: %w", err)
	}
	defer f.Close()
	// Nothing new costs one byte read: the end of the file, or the
	// segment's preallocated zeros.
	var b [1]byte
	if n, _ := f.ReadAt(b[:], is.off); n == 0 || b[0] == 0 {
		return nil
	}
	if _, err := f.Seek(is.off, io.SeekStart); err != nil {
		return fmt.Errorf("audit: index: %w", err)
	}
	br := bufio.NewReaderSize(f, 256<<10)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) && bytes.IndexByte(line, 0) < 0 {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil // preallocated space, or a write under way
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil // an incomplete line waits for the writer
			}
			return fmt.Errorf("audit: index: reading %s: %w", is.seg.Name, err)
		}
		off := is.off
		is.off += int64(len(line))
		x.add(ni, si, is, off, line[:len(line)-1])
	}
}

// indexed are the members of an event the index reads.
type indexed struct {
	EventTime    string        `json:"eventTime"`
	EventID      string        `json:"eventID"`
	EventName    string        `json:"eventName"`
	EventSource  string        `json:"eventSource"`
	ReadOnly     bool          `json:"readOnly"`
	Recipient    string        `json:"recipientAccountId"`
	UserIdentity *UserIdentity `json:"userIdentity"`
	Resources    []Resource    `json:"resources"`
}

// add indexes one line, the record at off of segment si.
func (x *Index) add(ni *nodeIndex, si uint32, is *indexedSeg, off int64, line []byte) {
	r, err := parseRecord(line)
	if err != nil && !errors.Is(err, errBadHash) {
		return
	}
	if n := len(ni.ents); n > 0 && r.Seq <= ni.ents[n-1].seq {
		return // not after what is indexed: the order is by sequence
	}
	var e indexed
	if json.Unmarshal(r.Event, &e) != nil {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, e.EventTime)
	if err != nil || t.Unix() < 0 || t.Unix() > 1<<32-1 {
		return
	}
	ord := uint32(len(ni.ents))
	et := uint32(t.Unix())
	run := len(ni.runs) - 1
	if run < 0 || uint64(et)+runBreak < uint64(ni.runs[run].key) {
		ni.runs = append(ni.runs, indexRun{first: ord, key: et})
		run++
	}
	rn := &ni.runs[run]
	rn.key = max(rn.key, et)
	rn.lag = max(rn.lag, rn.key-et)
	ni.ents = append(ni.ents, indexEntry{off: off, seq: r.Seq, key: rn.key, t: et, seg: si, n: uint32(len(line))})
	is.n++
	acct := e.Recipient
	x.post(ni, acct, LookupNone, "", ord)
	if e.EventID != "" {
		h := x.hash(acct, LookupEventID, e.EventID)
		if _, dup := ni.ids[h]; dup {
			ni.dupIDs[h] = append(ni.dupIDs[h], ord)
		} else {
			ni.ids[h] = ord
		}
	}
	x.post(ni, acct, LookupEventName, e.EventName, ord)
	x.post(ni, acct, LookupReadOnly, readOnlyString(e.ReadOnly), ord)
	x.post(ni, acct, LookupUsername, username(e.UserIdentity), ord)
	x.post(ni, acct, LookupEventSource, e.EventSource, ord)
	if e.UserIdentity != nil {
		x.post(ni, acct, LookupAccessKeyID, e.UserIdentity.AccessKeyID, ord)
	}
	for i, res := range e.Resources {
		if !seenBefore(e.Resources[:i], func(o Resource) bool { return o.Type == res.Type }) {
			x.post(ni, acct, LookupResourceType, res.Type, ord)
		}
		if !seenBefore(e.Resources[:i], func(o Resource) bool { return o.ARN == res.ARN }) {
			x.post(ni, acct, LookupResourceName, res.ARN, ord)
		}
	}
}

func seenBefore(rs []Resource, same func(Resource) bool) bool {
	for _, r := range rs {
		if same(r) {
			return true
		}
	}
	return false
}

func (x *Index) post(ni *nodeIndex, acct string, k LookupKey, v string, ord uint32) {
	if v == "" && k != LookupNone {
		return
	}
	h := x.hash(acct, k, v)
	ni.post[h] = append(ni.post[h], ord)
}

func (x *Index) hash(acct string, k LookupKey, v string) uint64 {
	var h maphash.Hash
	h.SetSeed(x.seed)
	h.WriteString(acct)
	h.WriteByte(0)
	h.WriteByte(byte(k))
	h.WriteString(v)
	return h.Sum64()
}

func readOnlyString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Username is the user name LookupEvents shows for an event's caller: an
// IAM user's name, an assumed role's session name, "root" for an
// account's root user, and "" for Trent's own actions.
func (e *Event) Username() string { return username(e.UserIdentity) }

func username(u *UserIdentity) string {
	switch {
	case u == nil:
		return ""
	case u.UserName != "":
		return u.UserName
	case u.Type == "Root":
		return "root"
	case u.Type == "AssumedRole":
		if i := strings.LastIndexByte(u.ARN, '/'); i >= 0 {
			return u.ARN[i+1:]
		}
	}
	return ""
}

// matches reports whether e has the attribute of q.
func (q *Query) matches(e *Event) bool {
	if e.RecipientAccountID != q.Account {
		return false
	}
	v := q.Value
	switch q.Key {
	case LookupNone:
		return true
	case LookupEventID:
		return e.EventID == v
	case LookupEventName:
		return e.EventName == v
	case LookupReadOnly:
		return readOnlyString(e.ReadOnly) == v
	case LookupUsername:
		return e.Username() == v
	case LookupEventSource:
		return e.EventSource == v
	case LookupAccessKeyID:
		return e.UserIdentity != nil && e.UserIdentity.AccessKeyID == v
	case LookupResourceType:
		return seenBefore(e.Resources, func(r Resource) bool { return r.Type == v })
	case LookupResourceName:
		return seenBefore(e.Resources, func(r Resource) bool { return r.ARN == v })
	}
	return false
}

// ErrLookupLimit is returned by Lookup for a Query with Limit < 1.
var ErrLookupLimit = errors.New("audit: lookup limit must be at least 1")

// Lookup returns the records of q, newest first, at most q.Limit of them,
// and the cursor of the last one if more may follow (nil if none do). It
// refreshes the index first. A record that cannot be read (its segment was
// removed, or the line changed under it) is left out.
func (x *Index) Lookup(q Query) ([]Found, *Cursor, error) {
	if q.Limit < 1 {
		return nil, nil, ErrLookupLimit
	}
	if err := x.Refresh(); err != nil {
		return nil, nil, err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	lo, hi := uint32(0), uint32(1<<32-1)
	if !q.Start.IsZero() {
		s := q.Start.Unix()
		if q.Start.Nanosecond() > 0 {
			s++ // eventTime has second precision
		}
		if s > 1<<32-1 {
			return nil, nil, nil
		}
		lo = uint32(max(s, 0))
	}
	if !q.End.IsZero() {
		e := q.End.Unix()
		if e < 0 {
			return nil, nil, nil
		}
		hi = uint32(min(e, 1<<32-1))
	}
	if lo > hi {
		return nil, nil, nil
	}
	var its []lookupIter
	for _, name := range x.names {
		its = x.iters(its, x.nodes[name], &q, lo, hi)
	}
	files := map[string]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var out []Found
	for len(out) < q.Limit {
		// The next record is the greatest (key, node, seq) of the
		// iterators' heads; nodes and their runs are few.
		best := -1
		for i := range its {
			if its[i].more() && (best < 0 || its[i].before(&its[best])) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		it := &its[best]
		ent := it.head()
		it.pos--
		if ent.t < lo || ent.t > hi {
			continue // a key within the run's lag of the range, its time not in it
		}
		if f, ok := x.read(it.ni, ent, files, &q); ok {
			out = append(out, f)
		}
	}
	var next *Cursor
	for i := range its {
		if its[i].more() && len(out) > 0 {
			last := out[len(out)-1]
			next = &Cursor{Key: last.key, Node: last.Node, Seq: last.Seq}
			break
		}
	}
	return out, next, nil
}

// lookupIter walks the candidates of one run of a node from its newest
// down.
type lookupIter struct {
	ni   *nodeIndex
	ords []uint32 // ordinals of the run's candidates, ascending
	low  int      // first position in range
	pos  int      // current position (walks down to low)
}

func (it *lookupIter) more() bool { return it.pos >= it.low }

func (it *lookupIter) head() *indexEntry { return &it.ni.ents[it.ords[it.pos]] }

// before reports whether it's head comes before o's in the order of
// Lookup: (key, node, seq) descending.
func (it *lookupIter) before(o *lookupIter) bool {
	a, b := it.head(), o.head()
	switch {
	case a.key != b.key:
		return a.key > b.key
	case it.ni != o.ni:
		return it.ni.node > o.ni.node
	}
	return a.seq > b.seq
}

// iters appends to its an iterator for each run of ni that holds
// candidates of q: records with the attribute of q, keys in [lo, hi + the
// run's lag], after q.After.
func (x *Index) iters(its []lookupIter, ni *nodeIndex, q *Query, lo, hi uint32) []lookupIter {
	var ords []uint32
	switch q.Key {
	case LookupEventID:
		h := x.hash(q.Account, LookupEventID, q.Value)
		if o, ok := ni.ids[h]; ok {
			ords = append([]uint32{o}, ni.dupIDs[h]...)
		}
	default:
		ords = ni.post[x.hash(q.Account, q.Key, q.Value)]
	}
	a := 0
	for r := range ni.runs {
		if a == len(ords) {
			break
		}
		b := len(ords)
		if r+1 < len(ni.runs) {
			next := ni.runs[r+1].first
			b = a + sort.Search(len(ords)-a, func(i int) bool { return ords[a+i] >= next })
		}
		sub := ords[a:b:b]
		a = b
		n := len(sub)
		key := func(i int) uint32 { return ni.ents[sub[i]].key }
		low := sort.Search(n, func(i int) bool { return key(i) >= lo })
		top := uint64(hi) + uint64(ni.runs[r].lag)
		end := sort.Search(n, func(i int) bool { return uint64(key(i)) > top })
		if c := q.After; c != nil {
			// Records after the cursor in the order (key, node, seq)
			// descending. Within a run, key and seq both rise with the
			// ordinal.
			switch {
			case ni.node < c.Node:
				end = min(end, sort.Search(n, func(i int) bool { return key(i) > c.Key }))
			case ni.node > c.Node:
				end = min(end, sort.Search(n, func(i int) bool { return key(i) >= c.Key }))
			default:
				end = min(end, sort.Search(n, func(i int) bool {
					k := key(i)
					return k > c.Key || k == c.Key && ni.ents[sub[i]].seq >= c.Seq
				}))
			}
		}
		if low < end {
			its = append(its, lookupIter{ni: ni, ords: sub, low: low, pos: end - 1})
		}
	}
	return its
}

// read reads the record of ent and returns it if it matches q.
func (x *Index) read(ni *nodeIndex, ent *indexEntry, files map[string]*os.File, q *Query) (Found, bool) {
	is := ni.segs[ent.seg]
	if is.gone {
		return Found{}, false
	}
	f := files[is.seg.Path]
	if f == nil {
		var err error
		if f, err = os.Open(is.seg.Path); err != nil {
			return Found{}, false
		}
		files[is.seg.Path] = f
	}
	line := make([]byte, ent.n)
	if _, err := f.ReadAt(line, ent.off); err != nil {
		return Found{}, false
	}
	r, err := parseRecord(line)
	if (err != nil && !errors.Is(err, errBadHash)) || r.Seq != ent.seq {
		return Found{}, false
	}
	var e Event
	if json.Unmarshal(r.Event, &e) != nil {
		return Found{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, e.EventTime)
	if err != nil || !q.matches(&e) || (!q.Start.IsZero() && t.Before(q.Start)) ||
		(!q.End.IsZero() && t.After(q.End)) {
		return Found{}, false
	}
	return Found{key: ent.key, Node: ni.node, Seq: r.Seq, Time: t, Event: &e, Raw: r.Event}, true
}
