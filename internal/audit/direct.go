package audit

import (
	"os"
	"syscall"
	"unsafe"
)

// blockSize is the unit of O_DIRECT writes: offsets, lengths and memory
// must be multiples of the device's logical block, which is at most 4 KiB
// on the disks Trent runs on.
const blockSize = 4096

// Direct I/O. A batch written through the page cache costs a write plus an
// fdatasync that walks the dirty pages and starts their writeback; written
// with O_DIRECT into blocks that already exist (zero-filled by reserve),
// the data goes to the device during the write and the fdatasync only
// flushes the device cache. Measured on the project's virtual disk (see
// docs/performance.md): the fdatasync's latency halves and its CPU drops by
// a third. Records are not block-aligned, so each batch rewrites the last
// partial block with the records that follow it: those bytes are identical
// to what is on disk, so a torn block write cannot damage an acknowledged
// record.

// openDirect opens the current segment for direct writes and loads its
// partial last block. Where the file system refuses O_DIRECT (tmpfs, some
// network file systems), dseg stays nil and batches go through the page
// cache.
func (l *Log) openDirect() {
	if l.dseg != nil {
		l.dseg.Close()
		l.dseg = nil
	}
	l.tail = l.tail[:0]
	f, err := os.OpenFile(l.segInfo.Path, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		l.log.Debug("audit: no direct I/O for the trail; writing through the page cache", "err", err)
		return
	}
	if n := l.segSize % blockSize; n > 0 {
		r, err := os.Open(l.segInfo.Path)
		if err == nil {
			l.tail = append(l.tail, make([]byte, n)...)
			_, err = r.ReadAt(l.tail, l.segSize-n)
			r.Close()
		}
		if err != nil {
			f.Close()
			l.tail = l.tail[:0]
			l.log.Warn("audit: reading the trail's last block; writing through the page cache", "err", err)
			return
		}
	}
	l.dseg = f
	l.rawIO.Store(true)
}

// RawIO reports whether the writer's disk I/O runs as raw system calls,
// which keep one Go P (scheduler context) out of service while the device
// works (see rawPwrite). A process that serves requests with every P busy
// can give the runtime one more P to make up for it: cmd/trent does.
func (l *Log) RawIO() bool { return l.rawIO.Load() }

// writeDirect writes recs (whole records) at the end of the segment.
func (l *Log) writeDirect(recs []byte) error {
	start := l.segSize &^ (blockSize - 1)
	used := len(l.tail) + len(recs)
	size := (used + blockSize - 1) &^ (blockSize - 1)
	if cap(l.dbuf) < size {
		l.dbuf = alignedBuffer(size)
	}
	b := l.dbuf[:size]
	copy(b, l.tail)
	copy(b[len(l.tail):], recs)
	clear(b[used:])
	if err := rawPwrite(l.dseg, b, start); err != nil {
		return err
	}
	end := l.segSize + int64(len(recs))
	lastBlock := int((end &^ (blockSize - 1)) - start)
	l.tail = append(l.tail[:0], b[lastBlock:used]...)
	return nil
}

// alignedBuffer returns a block-aligned buffer of at least n bytes, grown in
// 256 KiB steps.
func alignedBuffer(n int) []byte {
	n = (n + 256<<10 - 1) &^ (256<<10 - 1)
	b := make([]byte, n+blockSize)
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (blockSize - 1))
	return b[off : off+n : off+n]
}

// The writer's pwrite and fdatasync of a batch under direct I/O are raw
// system calls: the goroutine keeps its P (Go's scheduler context) while the
// device works (about 70 µs for both here, idle), instead of giving it up
// and queueing for one again afterwards, which under load (every P busy
// with requests) delayed the writer by hundreds of microseconds per call
// and cost a thread hand-off each time. Measured at c=64 GenerateDataKey:
// +6% throughput and 10% less server CPU (docs/performance.md). The price
// is that while the disk works, one P runs nothing else and a garbage
// collection waits for the call to return; if the disk stalls, the node
// stalls, which it would anyway: no call is answered before its record is
// durable. `trent serve` gives the runtime one more P than CPUs to make up
// for the P held (RawIO).

// rawPwrite writes all of b at off.
func rawPwrite(f *os.File, b []byte, off int64) error {
	for len(b) > 0 {
		n, _, e := syscall.RawSyscall6(syscall.SYS_PWRITE64, f.Fd(), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(off), 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return &os.PathError{Op: "write", Path: f.Name(), Err: e}
		}
		if n == 0 {
			return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.EIO}
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// rawFdatasync is fdatasync as a raw system call.
func rawFdatasync(f *os.File) error {
	for {
		_, _, e := syscall.RawSyscall(syscall.SYS_FDATASYNC, f.Fd(), 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}
