package audit

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	fastjson "github.com/goccy/go-json"

	"github.com/trentkms/trent/internal/uuid"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultDigestInterval  = 60 * time.Second
	DefaultMaxSegmentBytes = 64 << 20
	DefaultRotateEvery     = 24 * time.Hour
	DefaultMaxBatch        = 4096
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit: log closed")

// ErrFailed wraps the error that made the log unusable (a failed fsync, or
// a failed write that could not be rolled back). Once failed, every Append
// returns an error that matches ErrFailed: the server must fail closed.
var ErrFailed = errors.New("audit: log failed")

// Options configures a Log. Only Dir and Node are required.
type Options struct {
	// Dir is the trail directory. It is created (mode 0700) if missing.
	// Several nodes may share it.
	Dir string
	// Node identifies this Trent node; see ValidNodeID. Two processes
	// must never write the same node's trail: Open takes an exclusive lock.
	Node string
	// Signer signs digests; its Public() must be an ed25519.PublicKey. If
	// nil, no digests are written and verification can only check the
	// hash chain.
	Signer crypto.Signer
	// DigestInterval is the period of signed digests (default 60 s). A
	// digest is also written at segment rotation, retention and Close.
	DigestInterval time.Duration
	// MaxSegmentBytes rotates a segment once it holds this many bytes
	// (default 64 MiB).
	MaxSegmentBytes int64
	// RotateEvery rotates segments at UTC-aligned boundaries of this
	// period (default 24 h: at midnight UTC). Negative disables it.
	RotateEvery time.Duration
	// MaxAge deletes segments whose records are all older than this; 0
	// keeps them forever.
	MaxAge time.Duration
	// MaxSegments keeps at most this many segments; 0 means no limit.
	MaxSegments int
	// MaxBatch bounds the records written per fsync (default 4096).
	MaxBatch int
	// CommitDelay is how long the writer may wait for more records before
	// writing a batch, when concurrent appenders are evidently active (the
	// recent average batch holds more than one record). An fdatasync has a
	// fixed kernel CPU cost, so fuller batches cost less per record; a lone
	// sequential caller never waits. Default 300µs (the best of 150–500 µs
	// at c=64 here: docs/performance.md); negative disables.
	CommitDelay time.Duration
	// Stdout and Syslog, if not nil, receive each durable event as one
	// JSON line, after it is on disk, for log shippers. They are written
	// from a separate goroutine through a bounded queue: a slow sink never
	// delays Append; when the queue is full events are dropped for the
	// sink (counted in Stats.SinkDropped), never for the trail.
	Stdout io.Writer
	Syslog io.Writer
	// Logger receives recovery notices and digest errors; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Recovery describes what Open repaired.
type Recovery struct {
	// TornBytes is the number of bytes cut from the end of the current
	// segment: a record that was being written when the process died. No
	// such record was ever acknowledged.
	TornBytes int64
	// TornDigestBytes is the same for the digest file.
	TornDigestBytes int64
	// LastSeq is the sequence number of the last record on disk.
	LastSeq uint64
}

// Stats are counters of a Log since Open.
type Stats struct {
	Records     uint64 // records appended
	Syncs       uint64 // fdatasync calls for records
	Digests     uint64 // digests written
	Rotations   uint64 // segments started
	Pruned      uint64 // segments deleted by retention
	SinkDropped uint64 // events not delivered to Stdout/Syslog
}

// Log is one node's append-only audit trail. Its methods are safe for
// concurrent use.
type Log struct {
	opts Options
	log  *slog.Logger
	pub  ed25519.PublicKey
	kid  string

	// Appenders add their records to the open batch under qmu; the writer
	// takes whole batches. Every record of a batch shares one write and
	// one fdatasync, and its appenders are woken together by one close.
	qmu    sync.Mutex
	closed bool
	open   *batch   // guarded by qmu: the batch records are added to
	full   []*batch // guarded by qmu: batches that reached MaxBatch, oldest first
	target int      // guarded by qmu: batch size at which to kick the writer while it gathers
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	failed atomic.Pointer[error]

	sinkq    chan [][]byte
	sinkDone chan struct{}

	recovery Recovery

	// Writer-goroutine state.
	lock       *os.File
	seg        *os.File
	segInfo    segment
	segSize    int64
	segAlloc   int64 // bytes of the segment on disk: written, or zero-filled ahead (reserve)
	segRecords int
	// dseg, when the file system allows it, is the segment opened with
	// O_DIRECT: batches are written as whole blocks, the last partial
	// block (tail) rewritten with the records that follow it.
	dseg     *os.File
	rawIO    atomic.Bool // set once dseg has been opened: see RawIO
	tail     []byte
	dbuf     []byte
	prep     *prepared // the next segment, being prepared
	seq      uint64
	prev     Hash
	dfile    *os.File
	dSeq     uint64 // last digest number
	dHash    Hash   // payload hash of the last digest
	dLast    uint64 // LastSeq of the last digest
	buf      []byte
	closeErr error

	records, syncs, digests, rotations, pruned, sinkDropped atomic.Uint64

	avgBatch float64 // writer goroutine only: running average batch size
}

// batch is a group of records committed together. done is closed once err
// is set: nil when every record of the batch is durable.
type batch struct {
	events [][]byte
	first  time.Time // when the first record joined
	done   chan struct{}
	err    error
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// Open opens (creating if needed) the trail of opts.Node in opts.Dir,
// repairs a torn tail left by a crash, and starts the writer. Open returns
// an error if the directory cannot be used, another process holds the
// node's lock, or the trail is behind its own signed digests (records that
// were once durable are missing: the operator must investigate; Trent must
// not continue the chain over the hole).
func Open(opts Options) (*Log, error) {
	if !ValidNodeID(opts.Node) {
		return nil, fmt.Errorf("audit: invalid node ID %q", opts.Node)
	}
	if opts.Dir == "" {
		return nil, errors.New("audit: no trail directory")
	}
	if opts.DigestInterval <= 0 {
		opts.DigestInterval = DefaultDigestInterval
	}
	if opts.MaxSegmentBytes <= 0 {
		opts.MaxSegmentBytes = DefaultMaxSegmentBytes
	}
	if opts.RotateEvery == 0 {
		opts.RotateEvery = DefaultRotateEvery
	}
	if opts.CommitDelay == 0 {
		opts.CommitDelay = 300 * time.Microsecond
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Log{opts: opts, log: opts.Logger, open: newBatch(), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if opts.Signer != nil {
		pub, ok := opts.Signer.Public().(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("audit: digest signer is not Ed25519")
		}
		l.pub, l.kid = pub, KeyID(pub)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := l.lockNode(); err != nil {
		return nil, err
	}
	os.Remove(l.preparedPath()) // left by a crash
	if err := l.recover(); err != nil {
		l.dropPrepared()
		l.lock.Close()
		return nil, err
	}
	if l.pub != nil {
		if err := l.writePublicKey(); err != nil {
			l.closeFiles()
			return nil, err
		}
	}
	if opts.Stdout != nil || opts.Syslog != nil {
		l.sinkq = make(chan [][]byte, 1024)
		l.sinkDone = make(chan struct{})
		go l.sinkLoop()
	}
	go l.writer()
	return l, nil
}

// Recovery returns what Open repaired.
func (l *Log) Recovery() Recovery { return l.recovery }

// PublicKey returns the digest verification key, or nil without a Signer.
func (l *Log) PublicKey() ed25519.PublicKey { return l.pub }

// Stats returns the counters of l.
func (l *Log) Stats() Stats {
	return Stats{
		Records: l.records.Load(), Syncs: l.syncs.Load(), Digests: l.digests.Load(),
		Rotations: l.rotations.Load(), Pruned: l.pruned.Load(), SinkDropped: l.sinkDropped.Load(),
	}
}

// Append writes e to the trail and returns once the record is on stable
// storage (fdatasync), sharing the sync with every record that arrived
// while the previous one ran (group commit). Empty EventVersion,
// EventSource, EventCategory, EventType, EventTime and EventID are filled in
// on a copy; e itself is not modified and may be reused when Append returns.
//
// Append returns nil only if the record is durable. It returns ErrClosed
// after Close, an error matching ErrFailed if the log failed, a write error
// if the batch could not be written (the batch is rolled back), or
// ctx.Err() if ctx ends first; in that last case the record may still
// become durable. A caller that gets an error must fail the request.
func (l *Log) Append(ctx context.Context, e *Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p := l.failed.Load(); p != nil {
		return *p
	}
	ev, err := l.marshal(e)
	if err != nil {
		return err
	}
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		return ErrClosed
	}
	b := l.open
	b.events = append(b.events, ev)
	n := len(b.events)
	if n == 1 {
		b.first = time.Now()
	}
	if n >= l.opts.MaxBatch {
		l.full = append(l.full, b)
		l.open = newBatch()
	}
	kick := n == 1 || n == l.target || n >= l.opts.MaxBatch
	l.qmu.Unlock()
	if kick {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		// The record may still become durable.
		return ctx.Err()
	}
}

func (l *Log) marshal(e *Event) ([]byte, error) {
	if e == nil {
		return nil, errors.New("audit: nil event")
	}
	if e.EventVersion != "" && e.EventSource != "" && e.EventCategory != "" && e.EventType != "" && e.EventTime != "" && e.EventID != "" {
		// Nothing to fill in (the server sets every field): encode e
		// itself rather than a copy of this large struct.
		return marshalEvent(e)
	}
	c := *e
	if c.EventVersion == "" {
		c.EventVersion = EventVersion
	}
	if c.EventSource == "" {
		c.EventSource = EventSource
	}
	if c.EventCategory == "" {
		c.EventCategory = EventCategory
	}
	if c.EventType == "" {
		c.EventType = EventTypeAPICall
	}
	if c.EventTime == "" {
		c.EventTime = l.opts.Now().UTC().Format(time.RFC3339)
	}
	if c.EventID == "" {
		c.EventID = NewEventID()
	}
	return marshalEvent(&c)
}

// marshalEvent encodes e with goccy/go-json, a faster encoding/json-
// compatible encoder: this runs once per API call.
func marshalEvent(e *Event) ([]byte, error) {
	b, err := fastjson.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: encoding event: %w", err)
	}
	return b, nil
}

// NewEventID returns a random (version 4) UUID for Event.EventID.
func NewEventID() string { return uuid.New() }

// Close stops accepting records, writes every record already queued, writes
// a final digest, and closes the files. It returns the first error met.
// Close is idempotent.
func (l *Log) Close() error {
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		<-l.done
		return l.closeErr
	}
	l.closed = true
	l.qmu.Unlock()
	close(l.stop)
	<-l.done
	if l.sinkq != nil {
		close(l.sinkq)
		<-l.sinkDone
	}
	return l.closeErr
}

// writer is the only goroutine that touches the files after Open.
func (l *Log) writer() {
	defer close(l.done)
	tick := time.NewTicker(l.opts.DigestInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.kick:
			l.flush(false)
		case <-tick.C:
			if l.failed.Load() != nil {
				continue
			}
			if l.segRecords > 0 && l.needRotate(0) {
				if err := l.rotate(); err != nil {
					l.log.Error("audit: segment rotation failed", "err", err)
				}
			}
			if err := l.writeDigest(DigestInterval, 0, Hash{}); err != nil {
				l.log.Error("audit: writing digest failed", "err", err)
			}
		case <-l.stop:
			l.flush(true)
			l.shutdown()
			return
		}
	}
}

// flush commits batches until none has records.
func (l *Log) flush(closing bool) {
	for {
		b := l.take(closing)
		if b == nil {
			return
		}
		l.commit(b)
	}
}

// take returns the next batch to commit, or nil if no record is waiting.
// When appenders are evidently concurrent (the recent average batch holds
// more than one record), it first waits until the open batch's first record
// is CommitDelay old, or the batch has reached twice that average: an fdatasync has a fixed kernel CPU
// cost, so fuller batches cost less per record. A lone sequential caller
// never waits.
func (l *Log) take(closing bool) *batch {
	l.qmu.Lock()
	if b := l.popFull(); b != nil {
		l.qmu.Unlock()
		return b
	}
	n := len(l.open.events)
	if n == 0 {
		l.qmu.Unlock()
		return nil
	}
	target := min(int(2*l.avgBatch)+1, l.opts.MaxBatch)
	wait := l.opts.CommitDelay - time.Since(l.open.first)
	if !closing && wait > 0 && l.avgBatch >= 2 && n < target {
		l.target = target
		l.qmu.Unlock()
		select { // a kick from before this wait must not end it
		case <-l.kick:
		default:
		}
		timer := time.NewTimer(wait)
		select {
		case <-l.kick:
		case <-timer.C:
		case <-l.stop:
		}
		timer.Stop()
		l.qmu.Lock()
		l.target = 0
		if b := l.popFull(); b != nil {
			l.qmu.Unlock()
			return b
		}
	}
	b := l.open
	l.open = newBatch()
	l.qmu.Unlock()
	l.avgBatch = 0.8*l.avgBatch + 0.2*float64(len(b.events))
	return b
}

// popFull removes and returns the oldest batch that reached MaxBatch, or
// nil if there is none. l.qmu must be held.
func (l *Log) popFull() *batch {
	if len(l.full) == 0 {
		return nil
	}
	b := l.full[0]
	l.full[0] = nil
	l.full = l.full[1:]
	return b
}

func (l *Log) fail(err error) error {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	l.failed.CompareAndSwap(nil, &err)
	return *l.failed.Load()
}

// commit writes one batch, fsyncs it, and answers its appenders.
func (l *Log) commit(b *batch) {
	reply := func(err error) {
		b.err = err
		close(b.done)
	}
	if p := l.failed.Load(); p != nil {
		reply(*p)
		return
	}
	if l.segRecords > 0 && l.needRotate(0) {
		if err := l.rotate(); err != nil {
			reply(l.fail(err))
			return
		}
	}
	seq, prev := l.seq, l.prev
	buf := l.buf[:0]
	for _, ev := range b.events {
		seq++
		h := chainHash(prev, seq, ev)
		buf = appendRecord(buf, seq, prev, h, ev)
		prev = h
	}
	l.buf = buf
	if err := l.reserve(int64(len(buf))); err != nil {
		reply(fmt.Errorf("audit: preallocating trail space: %w", err))
		return
	}
	if l.dseg != nil {
		if err := l.writeDirect(buf); err != nil {
			// Blocks past the last acknowledged record may hold part of
			// this batch: stop rather than continue the chain over them.
			reply(l.fail(fmt.Errorf("writing trail: %w", err)))
			return
		}
	} else if n, err := l.seg.WriteAt(buf, l.segSize); err != nil {
		// Roll back so no partial record stays behind the next batch.
		if n > 0 {
			if terr := l.seg.Truncate(l.segSize); terr != nil {
				reply(l.fail(terr))
				return
			}
			l.segAlloc = l.segSize
		}
		reply(fmt.Errorf("audit: writing trail: %w", err))
		return
	}
	l.seq, l.prev = seq, prev
	l.segSize += int64(len(buf))
	l.segRecords += len(b.events)
	if l.prep == nil && l.segSize >= l.opts.MaxSegmentBytes/2 {
		l.prepareNext()
	}
	sync := fdatasync
	if l.dseg != nil {
		sync = rawFdatasync
	}
	if err := sync(l.seg); err != nil {
		// After a failed fsync the page cache can no longer be trusted
		// (the kernel may have dropped the dirty pages): stop for good.
		reply(l.fail(fmt.Errorf("fdatasync: %w", err)))
		return
	}
	l.syncs.Add(1)
	l.records.Add(uint64(len(b.events)))
	if l.sinkq != nil {
		select {
		case l.sinkq <- b.events:
		default:
			l.sinkDropped.Add(uint64(len(b.events)))
		}
	}
	reply(nil)
}

// preallocChunk is how much zero-filled space reserve adds at a time.
const preallocChunk = 4 << 20

// reserve makes sure the n bytes after the current end of the segment exist
// on disk, zero-filled and durable, before records are written over them.
// An fdatasync after writing into such space carries no change of file
// size or extents, which makes it much cheaper (measured on the project's
// virtual disk: 148 instead of 240 µs, and 20% less kernel CPU). Readers
// treat a zero-filled tail as the end of the file (lineReader).
func (l *Log) reserve(n int64) error {
	if l.segSize+n <= l.segAlloc {
		return nil
	}
	target := l.segAlloc
	for target < l.segSize+n {
		target += preallocChunk
	}
	target = (target + blockSize - 1) &^ (blockSize - 1) // whole blocks for writeDirect
	zeros := make([]byte, 256<<10)
	for off := max(l.segAlloc, l.segSize); off < target; {
		k := min(int64(len(zeros)), target-off)
		if _, err := l.seg.WriteAt(zeros[:k], off); err != nil {
			l.seg.Truncate(l.segSize)
			l.segAlloc = l.segSize
			return err
		}
		off += k
	}
	if err := l.seg.Sync(); err != nil {
		return l.fail(fmt.Errorf("fsync: %w", err))
	}
	l.segAlloc = target
	return nil
}

// sealSegment trims the current segment's unused preallocated space, so a
// finished segment ends with its last record.
func (l *Log) sealSegment() error {
	if l.segAlloc <= l.segSize {
		return nil
	}
	if err := l.seg.Truncate(l.segSize); err != nil {
		return err
	}
	l.segAlloc = l.segSize
	return fdatasync(l.seg)
}

func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func (l *Log) sinkLoop() {
	defer close(l.sinkDone)
	var line []byte
	for evs := range l.sinkq {
		for _, ev := range evs {
			line = append(append(line[:0], ev...), '\n')
			for _, w := range []io.Writer{l.opts.Stdout, l.opts.Syslog} {
				if w != nil {
					if _, err := w.Write(line); err != nil {
						l.sinkDropped.Add(1)
					}
				}
			}
		}
	}
}

// needRotate reports whether the current segment is full or from an
// earlier rotation period. extra is the size about to be written.
func (l *Log) needRotate(extra int64) bool {
	if l.segSize+extra >= l.opts.MaxSegmentBytes {
		return true
	}
	if p := l.opts.RotateEvery; p > 0 {
		return !l.opts.Now().Truncate(p).Equal(l.segInfo.Start.Truncate(p))
	}
	return false
}

// rotate closes the current segment with a digest, starts a new one and
// applies retention.
func (l *Log) rotate() error {
	if err := l.writeDigest(DigestRotation, 0, Hash{}); err != nil {
		return err
	}
	if err := l.newSegment(); err != nil {
		return err
	}
	if err := l.applyRetention(); err != nil {
		l.log.Error("audit: retention failed", "err", err)
	}
	return nil
}

// newSegment creates the segment that starts at l.seq+1 and makes it
// current.
func (l *Log) newSegment() error {
	now := l.opts.Now().UTC().Truncate(time.Second)
	s := segment{Node: l.opts.Node, FirstSeq: l.seq + 1, Start: now}
	s.Name = segmentName(s.Node, s.FirstSeq, s.Start)
	s.Path = filepath.Join(l.opts.Dir, s.Name)
	f, alloc := l.takePrepared(s.Path)
	if f == nil {
		var err error
		if f, err = os.OpenFile(s.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			return fmt.Errorf("audit: creating segment: %w", err)
		}
	}
	if err := syncDir(l.opts.Dir); err != nil {
		f.Close()
		return fmt.Errorf("audit: syncing trail directory: %w", err)
	}
	if l.seg != nil {
		if err := l.sealSegment(); err != nil {
			l.log.Error("audit: trimming the finished segment", "err", err)
		}
		l.seg.Close()
	}
	l.seg, l.segInfo, l.segSize, l.segRecords, l.segAlloc = f, s, 0, 0, alloc
	l.openDirect()
	l.rotations.Add(1)
	return nil
}

// writeDigest writes a signed digest if records arrived since the last one
// or if reason is DigestRetention (with prunedThrough and prunedHash).
func (l *Log) writeDigest(reason string, prunedThrough uint64, prunedHash Hash) error {
	if l.opts.Signer == nil {
		return nil
	}
	if l.seq == l.dLast && reason != DigestRetention {
		return nil
	}
	d := Digest{
		Version: 1, Node: l.opts.Node, DigestSeq: l.dSeq + 1,
		Time:   l.opts.Now().UTC().Format(time.RFC3339Nano),
		Reason: reason, LastSeq: l.seq, LastHash: l.prev.String(),
		PrevDigest: l.dHash.String(), KeyID: l.kid,
	}
	if l.seq > l.dLast {
		d.FirstSeq = l.dLast + 1
	}
	if reason == DigestRetention {
		d.PrunedThrough, d.PrunedHash = prunedThrough, prunedHash.String()
	}
	line, h, err := signDigest(l.opts.Signer, &d)
	if err != nil {
		return err
	}
	if l.dfile == nil {
		f, err := os.OpenFile(filepath.Join(l.opts.Dir, digestName(l.opts.Node)), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("audit: opening digest file: %w", err)
		}
		if err := syncDir(l.opts.Dir); err != nil {
			f.Close()
			return fmt.Errorf("audit: syncing trail directory: %w", err)
		}
		l.dfile = f
	}
	st, err := l.dfile.Stat()
	if err != nil {
		return fmt.Errorf("audit: digest file: %w", err)
	}
	if _, err := l.dfile.Write(line); err != nil {
		_ = l.dfile.Truncate(st.Size())
		return fmt.Errorf("audit: writing digest: %w", err)
	}
	if err := fdatasync(l.dfile); err != nil {
		return fmt.Errorf("audit: syncing digest: %w", err)
	}
	l.dSeq, l.dHash, l.dLast = d.DigestSeq, h, l.seq
	l.digests.Add(1)
	return nil
}

// applyRetention deletes old segments (never the current one). Before
// deleting, it writes a retention digest naming the last deleted sequence
// number and the hash the first kept record chains to, so that Verify can
// tell retention from removal.
func (l *Log) applyRetention() error {
	if l.opts.MaxAge <= 0 && l.opts.MaxSegments <= 0 {
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
	if cut >= len(segs) {
		cut = len(segs) - 1
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
	if err := l.writeDigest(DigestRetention, keep.FirstSeq-1, anchor); err != nil && l.opts.Signer != nil {
		return err
	}
	for _, s := range segs[:cut] {
		if err := os.Remove(s.Path); err != nil {
			return err
		}
		l.pruned.Add(1)
	}
	return syncDir(l.opts.Dir)
}

func (l *Log) shutdown() {
	var errs []error
	if l.failed.Load() == nil {
		if err := l.writeDigest(DigestShutdown, 0, Hash{}); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, l.closeFiles())
	l.closeErr = errors.Join(errs...)
}

func (l *Log) closeFiles() error {
	l.dropPrepared()
	var errs []error
	if l.seg != nil {
		errs = append(errs, l.sealSegment())
	}
	for _, f := range []*os.File{l.seg, l.dseg, l.dfile, l.lock} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

func (l *Log) lockNode() error {
	f, err := os.OpenFile(filepath.Join(l.opts.Dir, "lock-"+l.opts.Node), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("audit: trail of node %q is in use by another process: %w", l.opts.Node, err)
	}
	l.lock = f
	return nil
}

func (l *Log) writePublicKey() error {
	p := filepath.Join(l.opts.Dir, "pubkey-"+l.kid+".pem")
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	b, err := MarshalPublicKeyPEM(l.pub)
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("audit: writing public key: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("audit: writing public key: %w", err)
	}
	return syncDir(l.opts.Dir)
}
