package devclock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// Kind is the store record kind of the clock; its one record is RecordID.
const (
	Kind     = "devclock"
	RecordID = "offset"
)

// MaxOffset bounds how far the clock may run ahead of the wall clock: far
// enough for any key date AWS allows (deletion windows of 30 days,
// rotation periods of 2560 days), short of the dates Go and the stores
// represent.
const MaxOffset = 100 * 365 * 24 * time.Hour

// ErrRange is returned by Advance for a step that is not positive, not a
// whole number of seconds, or would take the offset past MaxOffset.
var ErrRange = errors.New("devclock: the clock advances by a positive whole number of seconds, at most 100 years in all")

// doc is the stored record.
type doc struct {
	// OffsetSeconds is how far the domain clock runs ahead of the wall
	// clock.
	OffsetSeconds int64 `json:"offsetSeconds"`
}

// Clock is the development clock. It is safe for concurrent use; Now costs
// one atomic load more than time.Now.
type Clock struct {
	st     store.Store
	offset atomic.Int64 // nanoseconds
}

// Stored returns the offset kept in st (0 if none was ever set). A node
// started without --dev reads it to refuse a store whose clock was
// advanced.
func Stored(ctx context.Context, st store.Store) (time.Duration, error) {
	rec, err := st.Get(ctx, Kind, RecordID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return decode(rec.Data)
}

func decode(data []byte) (time.Duration, error) {
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return 0, fmt.Errorf("devclock: decode: %w", err)
	}
	// In seconds: a record of more than 292 years' worth would wrap
	// around when multiplied into a Duration.
	if d.OffsetSeconds < 0 || d.OffsetSeconds > int64(MaxOffset/time.Second) {
		return 0, fmt.Errorf("devclock: stored offset %ds out of range", d.OffsetSeconds)
	}
	return time.Duration(d.OffsetSeconds) * time.Second, nil
}

// Open returns the clock kept in st.
func Open(ctx context.Context, st store.Store) (*Clock, error) {
	c := &Clock{st: st}
	if err := c.Reload(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Now returns the domain time: the wall clock plus the offset.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Offset returns how far the clock runs ahead of the wall clock.
func (c *Clock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// Reload reads the offset from the store (another node advanced it). The
// offset held only grows, whatever the store says.
func (c *Clock) Reload(ctx context.Context) error {
	d, err := Stored(ctx, c.st)
	if err != nil {
		return err
	}
	c.raise(d)
	return nil
}

// raise sets the offset to d unless it is already further ahead.
func (c *Clock) raise(d time.Duration) {
	for {
		cur := c.offset.Load()
		if int64(d) <= cur || c.offset.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// Advance moves the clock forward by step and returns the offsets before
// and after. The step is a positive whole number of seconds (ErrRange
// otherwise, also when the offset would pass MaxOffset). Concurrent
// advances, on this node or others, add up: each is applied to the stored
// offset with a conditional write, retried on conflict.
func (c *Clock) Advance(ctx context.Context, step time.Duration) (before, after time.Duration, err error) {
	if step <= 0 || step%time.Second != 0 || step > MaxOffset {
		return 0, 0, ErrRange
	}
	for attempt := 0; ; attempt++ {
		rec, err := c.st.Get(ctx, Kind, RecordID)
		op := store.Op{Kind: Kind, ID: RecordID}
		switch {
		case errors.Is(err, store.ErrNotFound):
			op.Create = true
		case err != nil:
			return 0, 0, err
		default:
			if before, err = decode(rec.Data); err != nil {
				return 0, 0, err
			}
			op.IfVersion = rec.Version
		}
		after = before + step
		if after > MaxOffset {
			return before, before, ErrRange
		}
		op.Data, _ = json.Marshal(doc{OffsetSeconds: int64(after / time.Second)})
		err = c.st.Apply(ctx, op)
		if err == nil {
			c.raise(after)
			return before, after, nil
		}
		if (!errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrExists)) || attempt >= 20 {
			return 0, 0, err
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
		before = 0
	}
}

// ParseStep parses a step as `trent admin dev-clock advance` takes it: a
// Go duration (90m, 36h) or a number of days (7d, 90d).
func ParseStep(s string) (time.Duration, error) {
	if n := len(s); n > 1 && s[n-1] == 'd' {
		var days int64
		if _, err := fmt.Sscanf(s[:n-1], "%d", &days); err != nil || fmt.Sprint(days) != s[:n-1] || days <= 0 || days > int64(MaxOffset/(24*time.Hour)) {
			return 0, fmt.Errorf("dev clock step %q: want a duration such as 7d, 36h or 90m", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("dev clock step %q: want a duration such as 7d, 36h or 90m", s)
	}
	return d, nil
}
