package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/trentkms/trent/internal/durable"
)

// Space on the trail's volume. Every call is refused when its record
// cannot be written (fail closed), so a full volume stops the node; this
// file makes that foreseen, visible and recoverable:
//
//   - Watermark: a monitor checks the volume's free space every
//     SpaceCheckInterval. Below the watermark (MinFreeBytes or
//     MinFreePercent of the volume, whichever is larger) Health reports an
//     error (so /readyz says not ready and a load balancer moves traffic
//     away), an error is logged at most once a minute, and an
//     AuditVolumeLow event is recorded when the volume crosses it. Calls
//     are still served.
//   - Full: when a write to the trail fails for lack of space (ENOSPC,
//     EDQUOT), the Log deletes its reserve file, writes the failed batch
//     again in the space that frees (its calls have already acted), and
//     records an AuditVolumeFull event and a digest there. From then on
//     Accepting reports ErrVolumeFull, so the server refuses new calls
//     (KMSInternalException) before acting on them; records of calls
//     already under way are still written while the reserve lasts, and
//     refused (ErrVolumeFull) once it is spent.
//   - Recovery: once the monitor sees enough free space again, the writer
//     re-creates the reserve, records AuditVolumeRecovered and a digest,
//     and accepts records again. No restart is needed.
//
// The reserve is a zero-filled file, reserve-NODE, of ReserveBytes, made at
// Open: space held back for the Log's own records when the volume fills.

// ErrVolumeFull is matched by the error of an Append refused because the
// trail's volume is full. The Log accepts records again, without a
// restart, once space is freed.
var ErrVolumeFull = errors.New("audit: trail volume full")

// Defaults of the space options.
const (
	DefaultMinFreeBytes       = 256 << 20
	DefaultMinFreePercent     = 5.0
	DefaultReserveBytes       = 1 << 20
	DefaultSpaceCheckInterval = 5 * time.Second
	// spaceLogEvery bounds how often the same space condition is logged.
	spaceLogEvery = time.Minute
)

// statfsFree is the default Options.FreeSpace: the bytes available to an
// unprivileged writer, and the size of the volume.
func statfsFree(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// isNoSpace reports whether err means the volume (or a quota) is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func (l *Log) reservePath() string {
	return filepath.Join(l.opts.Dir, "reserve-"+l.opts.Node)
}

// makeReserve creates the reserve file if it is missing or short.
func (l *Log) makeReserve() error {
	if l.opts.ReserveBytes <= 0 {
		return nil
	}
	p := l.reservePath()
	if st, err := os.Stat(p); err == nil && st.Size() >= l.opts.ReserveBytes {
		return nil
	}
	f, err := zeroFile(p, l.opts.ReserveBytes)
	if err != nil {
		return err
	}
	f.Close()
	return durable.SyncDir(l.opts.Dir)
}

// releaseReserve deletes the reserve file, freeing its space for the
// Log's own records.
func (l *Log) releaseReserve() {
	if l.opts.ReserveBytes <= 0 {
		return
	}
	if err := os.Remove(l.reservePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.log.Error("audit: removing the reserve file", "err", err)
		return
	}
	durable.SyncDir(l.opts.Dir)
}

// watermark returns the free-space level below which the volume is low.
func (l *Log) watermark(total uint64) uint64 {
	var w uint64
	if l.opts.MinFreeBytes > 0 {
		w = uint64(l.opts.MinFreeBytes)
	}
	if p := l.opts.MinFreePercent; p > 0 {
		w = max(w, uint64(float64(total)*p/100))
	}
	return w
}

// resumeFree is the free space at which a full Log tries to resume: room
// for the reserve again and as much more.
func (l *Log) resumeFree() uint64 {
	return uint64(max(2*l.opts.ReserveBytes, 1<<20))
}

// spaceState is the last free-space reading, for Health.
type spaceState struct {
	free, total, watermark uint64
	err                    error
}

// checkSpace reads the volume's free space, updates what Health reports,
// logs and records a crossing of the watermark, and nudges a full writer
// to resume when space is back. It runs in the monitor goroutine (and once
// in Open).
func (l *Log) checkSpace() {
	free, total, err := l.opts.FreeSpace(l.opts.Dir)
	now := time.Now()
	if err != nil {
		l.space.Store(&spaceState{err: err})
		if now.Sub(l.spaceLogged) >= spaceLogEvery {
			l.spaceLogged = now
			l.log.Error("audit: cannot read the free space of the trail's volume", "dir", l.opts.Dir, "err", err)
		}
		return
	}
	wm := l.watermark(total)
	l.space.Store(&spaceState{free: free, total: total, watermark: wm})
	low := free < wm
	was := l.low
	l.low = low
	switch {
	case low && (!was || now.Sub(l.spaceLogged) >= spaceLogEvery):
		l.spaceLogged = now
		l.log.Error("audit: the trail's volume is below its free-space watermark; add space or enable retention before it fills (when it is full every call is refused)",
			"dir", l.opts.Dir, "free_bytes", free, "watermark_bytes", wm, "total_bytes", total)
		if !was {
			ctx, cancel := context.WithTimeout(context.Background(), anchorTimeout)
			err := l.Append(ctx, l.systemEvent(EventVolumeLow, map[string]any{"freeBytes": free, "watermarkBytes": wm, "totalBytes": total}))
			cancel()
			if err != nil && !errors.Is(err, ErrClosed) {
				l.log.Error("audit: recording that the volume is low", "err", err)
			}
		}
	case !low && was:
		l.log.Info("audit: the trail's volume is above its free-space watermark again", "free_bytes", free, "watermark_bytes", wm)
	}
	if l.volFull.Load() && free >= l.resumeFree() {
		select {
		case l.resume <- struct{}{}:
		default:
		}
	}
}

// monitor runs checkSpace every SpaceCheckInterval until Close.
func (l *Log) monitor() {
	defer close(l.monitorDone)
	t := time.NewTicker(l.opts.SpaceCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.checkSpace()
		case <-l.stop:
			return
		}
	}
}

// enterFull puts the Log into the full state after a write failed for
// lack of space: Accepting refuses new calls from now on, and the reserve
// is freed for the records of calls under way and for the Log's own.
// Writer only. It reports whether the Log was not full before.
func (l *Log) enterFull(cause error) bool {
	if l.volFull.Load() {
		return false
	}
	l.volFull.Store(true)
	l.fullSince = time.Now()
	l.log.Error("audit: the trail's volume is full: new calls are refused until space is freed (no restart needed)",
		"dir", l.opts.Dir, "err", cause)
	l.releaseReserve()
	return true
}

// recordFull records the AuditVolumeFull event, and a digest, in the space
// the reserve freed. Writer only.
func (l *Log) recordFull(cause error) {
	details := map[string]any{"cause": cause.Error()}
	if s := l.space.Load(); s != nil && s.err == nil {
		details["totalBytes"] = s.total
	}
	if err := l.writeSystemEvent(EventVolumeFull, details); err != nil {
		l.log.Error("audit: recording that the volume is full", "err", err)
		return
	}
	if err := l.digest(DigestInterval, nil); err != nil {
		l.log.Error("audit: writing a digest after the volume filled", "err", err)
	}
}

// fullAfter enters the full state after a failed start-up or background
// write and records it.
func (l *Log) fullAfter(cause error) {
	if l.enterFull(cause) {
		l.recordFull(cause)
	}
}

// tryResume leaves the full state if the reserve can be made again, and
// records the recovery. Writer only.
func (l *Log) tryResume() {
	if !l.volFull.Load() || l.failed.Load() != nil {
		return
	}
	free, _, err := l.opts.FreeSpace(l.opts.Dir)
	if err != nil || free < l.resumeFree() {
		return
	}
	if err := l.makeReserve(); err != nil {
		l.log.Warn("audit: volume still too full to re-create the reserve", "err", err)
		os.Remove(l.reservePath())
		return
	}
	refused := l.refused.Swap(0)
	l.volFull.Store(false)
	err = l.writeSystemEvent(EventVolumeRecovered, map[string]any{
		"freeBytes": free, "fullSince": l.fullSince.UTC().Format(time.RFC3339), "refusedRecords": refused,
	})
	if err == nil {
		err = l.digest(DigestInterval, nil)
	}
	if err != nil {
		if isNoSpace(err) {
			l.fullAfter(err)
			return
		}
		l.log.Error("audit: recording the recovery of the volume", "err", err)
	}
	l.log.Info("audit: the trail's volume has space again; calls are served", "free_bytes", free, "refused_records", refused)
}

// Health returns nil if the trail is writable and its volume above the
// watermark, else an error that says why: the Log failed, its volume is
// full (new calls are refused), or it is below the watermark (calls are
// served, but the volume will fill). A readiness check reports it.
func (l *Log) Health() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	if l.volFull.Load() {
		return fmt.Errorf("%w: every call is refused until space is freed in %s", ErrVolumeFull, l.opts.Dir)
	}
	if s := l.space.Load(); s != nil {
		if s.err != nil {
			return fmt.Errorf("audit: cannot read the free space of %s: %w", l.opts.Dir, s.err)
		}
		if s.free < s.watermark {
			return fmt.Errorf("audit: trail volume low: %d MiB free, below the watermark of %d MiB", s.free>>20, s.watermark>>20)
		}
	}
	return nil
}

// Accepting returns nil if the server may act on a new call, else why not:
// the volume is full (ErrVolumeFull: the space left is kept for the
// records of calls already under way and for the Log's own), or the Log
// failed (ErrFailed: every Append fails). A server checks it before acting
// on a call; each refusal counts in Stats.Refused and is logged at a
// bounded rate. While calls are accepted it costs two atomic loads.
func (l *Log) Accepting() error {
	if !l.volFull.Load() {
		if p := l.failed.Load(); p != nil {
			return *p
		}
		return nil
	}
	l.noteRefused(1)
	return errRefusedFull
}

// Recording returns nil if the Log takes new records, else why not (the
// volume is full, or the Log failed), like Accepting but without counting
// a refused call: for the node's own background work (scheduled deletion,
// rotation, expiry), which waits while it could not be recorded.
func (l *Log) Recording() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	if l.volFull.Load() {
		return errRefusedFull
	}
	return nil
}

// noteRefused counts calls or records refused while the volume is full and
// logs them at a bounded rate.
func (l *Log) noteRefused(n int) {
	total := l.refused.Add(uint64(n))
	now := time.Now().UnixNano()
	last := l.refusedLogged.Load()
	if now-last >= int64(spaceLogEvery) && l.refusedLogged.CompareAndSwap(last, now) {
		l.log.Error("audit: refusing calls: the trail's volume is full", "dir", l.opts.Dir, "refused_since_full", total)
	}
}
