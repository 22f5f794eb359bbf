package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// The next segment is prepared in the background once the current one is
// half full: created under a temporary name, zero-filled to MaxSegmentBytes and
// synced, so that rotation only renames it into place, and the writer never
// stops to zero-fill (reserve) in the middle of a segment. (Measured before:
// the writer spent about 4% of its time in reserve's 4 MiB zero-fills and
// their fsyncs, each a stall of every waiting call.) etcd's WAL prepares its
// next file the same way. A crash can leave the temporary file behind; Open
// removes it.

// prepared is a segment file being prepared; f and err are set when done
// is closed.
type prepared struct {
	path string
	size int64
	done chan struct{}
	f    *os.File
	err  error
}

// maxPrepared bounds the size of a prepared segment; a larger
// MaxSegmentBytes grows past it with reserve.
const maxPrepared = 256 << 20

func (l *Log) preparedPath() string {
	return filepath.Join(l.opts.Dir, "next-"+l.opts.Node+".tmp")
}

// prepareNext starts preparing the segment after the current one. Only the
// writer calls it.
func (l *Log) prepareNext() {
	size := min((l.opts.MaxSegmentBytes+blockSize-1)&^(blockSize-1), maxPrepared)
	if free, _, err := l.opts.FreeSpace(l.opts.Dir); err == nil && free < uint64(size)+l.resumeFree() {
		// Zero-filling it would briefly take the last free space, and
		// a record written meanwhile could find the volume full:
		// rotation creates the segment itself instead.
		return
	}
	p := &prepared{path: l.preparedPath(), size: size, done: make(chan struct{})}
	l.prep = p
	go func() {
		defer close(p.done)
		p.f, p.err = zeroFile(p.path, p.size)
	}()
}

// takePrepared renames the prepared segment to path and returns it with its
// zero-filled size, or nil if there is none or preparing it failed (the
// caller then creates the segment itself). It waits if the preparation is
// still running.
func (l *Log) takePrepared(path string) (*os.File, int64) {
	p := l.prep
	if p == nil {
		return nil, 0
	}
	l.prep = nil
	<-p.done
	if p.err != nil {
		l.log.Warn("audit: preparing the next segment failed; creating it on rotation", "err", p.err)
		os.Remove(p.path)
		return nil, 0
	}
	if _, err := os.Stat(path); err == nil {
		p.f.Close()
		os.Remove(p.path)
		return nil, 0 // let the caller's O_EXCL create report the clash
	}
	if err := os.Rename(p.path, path); err != nil {
		l.log.Warn("audit: renaming the prepared segment failed; creating it on rotation", "err", err)
		p.f.Close()
		os.Remove(p.path)
		return nil, 0
	}
	return p.f, p.size
}

// dropPrepared waits for a preparation in progress and removes its file.
func (l *Log) dropPrepared() {
	if p := l.prep; p != nil {
		l.prep = nil
		<-p.done
		if p.f != nil {
			p.f.Close()
		}
		os.Remove(p.path)
	}
}

// zeroFile creates path with size zero bytes, written (not just allocated:
// an fdatasync after writing into allocated but unwritten extents would
// have to journal their conversion) and synced. Whole blocks go through
// O_DIRECT where possible, so the zeros do not fill the page cache.
func zeroFile(path string, size int64) (*os.File, error) {
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	w := f
	if d, err := os.OpenFile(path, os.O_WRONLY|syscall.O_DIRECT, 0); err == nil {
		defer d.Close()
		w = d
	}
	zeros := alignedBuffer(1 << 20)
	for off := int64(0); off < size; {
		n := min(int64(len(zeros)), size-off)
		if _, err := w.WriteAt(zeros[:n], off); err != nil {
			f.Close()
			os.Remove(path)
			return nil, fmt.Errorf("zero-filling %s: %w", path, err)
		}
		off += n
	}
	if err := fdatasync(f); err != nil {
		f.Close()
		os.Remove(path)
		return nil, errors.Join(fmt.Errorf("syncing %s", path), err)
	}
	return f, nil
}
