package iam

import "time"

// SetClockOffset tells the directory that its clock (New's now) runs ahead
// of the wall clock by offset() (the development clock of trent serve
// --dev): sessions are issued and expire in that clock's time, while
// SigV4 verification compares their expiry with the wall clock, so Lookup
// moves it back by the offset. Call it before the directory serves.
func (d *Directory) SetClockOffset(offset func() time.Duration) { d.offset = offset }

// wallExpiry returns a session expiry kept in the directory's clock as
// wall-clock time.
func (d *Directory) wallExpiry(t time.Time) time.Time {
	if d.offset == nil || t.IsZero() {
		return t
	}
	return t.Add(-d.offset())
}
