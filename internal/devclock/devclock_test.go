package devclock

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store/sqlite"
)

// TestAdvance: the clock only goes forward, concurrent steps add up, and a
// second Clock over the same store (another node) reads the same offset.
func TestAdvance(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	c, err := Open(ctx, st)
	if err != nil || c.Offset() != 0 {
		t.Fatalf("Open: %v, offset %v", err, c.Offset())
	}
	for _, bad := range []time.Duration{0, -time.Hour, 1500 * time.Millisecond, MaxOffset + time.Second} {
		if _, _, err := c.Advance(ctx, bad); !errors.Is(err, ErrRange) {
			t.Errorf("Advance(%v): %v, want ErrRange", bad, err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, _, err := c.Advance(ctx, time.Hour); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c.Offset() != 8*time.Hour {
		t.Fatalf("offset %v after 8 concurrent steps of 1h", c.Offset())
	}
	if ahead := time.Until(c.Now()); ahead < 8*time.Hour-time.Minute || ahead > 8*time.Hour+time.Minute {
		t.Errorf("Now is %v ahead, want 8h", ahead)
	}
	if _, _, err := c.Advance(ctx, MaxOffset); !errors.Is(err, ErrRange) || c.Offset() != 8*time.Hour {
		t.Errorf("a step past MaxOffset: %v, offset %v", err, c.Offset())
	}
	other, err := Open(ctx, st)
	if err != nil || other.Offset() != 8*time.Hour {
		t.Fatalf("another node's clock: %v, %v", err, other.Offset())
	}
	if got, err := Stored(ctx, st); err != nil || got != 8*time.Hour {
		t.Errorf("Stored: %v %v", got, err)
	}
}

func TestParseStep(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "604801s": 604801 * time.Second} {
		if got, err := ParseStep(in); err != nil || got != want {
			t.Errorf("ParseStep(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-7d", "0d", "7 d", "1.5d", "+7d", "seven"} {
		if _, err := ParseStep(in); err == nil {
			t.Errorf("ParseStep(%q) accepted", in)
		}
	}
}

// TestDecodeRange: a stored offset out of range is refused, also one that
// wraps around into a negative Duration when multiplied into nanoseconds.
func TestDecodeRange(t *testing.T) {
	for _, data := range []string{`{"offsetSeconds":-1}`, `{"offsetSeconds":3153600001}`, `{"offsetSeconds":9223372037}`, `{"offsetSeconds":18446744074}`} {
		if d, err := decode([]byte(data)); err == nil {
			t.Errorf("decode(%s) = %v, want an error", data, d)
		}
	}
	if d, err := decode([]byte(`{"offsetSeconds":3153600000}`)); err != nil || d != MaxOffset {
		t.Errorf("decode of MaxOffset: %v %v", d, err)
	}
}
