package authfail

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/awserr"
)

var (
	errMissing  = awserr.New(awserr.MissingAuthenticationToken, "Missing Authentication Token")
	errThrottle = awserr.New(awserr.Throttling, "slow down")
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestLimiter(t *testing.T, cfg Config) (*Limiter, *clock, string) {
	t.Helper()
	dir := t.TempDir()
	log, err := audit.Open(audit.Options{Dir: dir, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg.Audit, cfg.Now = log, clk.now
	l := New(cfg)
	t.Cleanup(l.Close)
	return l, clk, dir
}

func records(t *testing.T, dir string) []*audit.Event {
	t.Helper()
	var out []*audit.Event
	if err := audit.Read(dir, audit.Filter{}, func(e audit.Entry) error { out = append(out, e.Event); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func fail(t *testing.T, l *Limiter, clk *clock, src string) *awserr.Error {
	t.Helper()
	f := &Failure{Time: clk.now(), Source: src, EventSource: "kms.amazonaws.com", EventName: "ListKeys",
		Region: "us-east-1", ReadOnly: true, UserAgent: "test", RequestID: "r", Err: errMissing}
	answer, err := l.Fail(context.Background(), f, errThrottle)
	if err != nil {
		t.Fatal(err)
	}
	return answer
}

func TestBucket(t *testing.T) {
	t.Parallel()
	l, clk, _ := newTestLimiter(t, Config{Rate: 2, Burst: 5, Interval: time.Hour})
	for i := 0; i < 5; i++ {
		if got := fail(t, l, clk, "192.0.2.1"); got != errMissing {
			t.Fatalf("failure %d within the burst answered %v", i, got)
		}
	}
	if l.Limited("192.0.2.1") != true {
		t.Fatal("not limited after the burst")
	}
	if got := fail(t, l, clk, "192.0.2.1"); got != errThrottle {
		t.Fatalf("failure past the burst answered %v", got)
	}
	if l.Limited("192.0.2.2") || fail(t, l, clk, "192.0.2.2") != errMissing {
		t.Fatal("another source is limited")
	}
	clk.add(500 * time.Millisecond) // one token at 2/s
	if l.Limited("192.0.2.1") {
		t.Fatal("still limited after a token was earned")
	}
	if fail(t, l, clk, "192.0.2.1") != errMissing || fail(t, l, clk, "192.0.2.1") != errThrottle {
		t.Fatal("one token earned, not one failure answered")
	}
	// A server fault takes no token.
	clk.add(time.Hour)
	for i := 0; i < 20; i++ {
		f := &Failure{Time: clk.now(), Source: "192.0.2.3", Err: awserr.Internal(), Fault: true}
		if a, _ := l.Fail(context.Background(), f, errThrottle); a.Code != awserr.KMSInternal {
			t.Fatalf("fault %d answered %v", i, a)
		}
	}
	if st := l.Stats(); st.Failures != 29 || st.Throttled != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDisabledRate(t *testing.T) {
	t.Parallel()
	l, clk, _ := newTestLimiter(t, Config{Rate: -1, Burst: 1})
	for i := 0; i < 50; i++ {
		if fail(t, l, clk, "192.0.2.1") != errMissing {
			t.Fatalf("throttled with the limit disabled")
		}
	}
	if l.Limited("192.0.2.1") {
		t.Fatal("limited with the limit disabled")
	}
}

func TestAggregation(t *testing.T) {
	t.Parallel()
	l, clk, dir := newTestLimiter(t, Config{Rate: 1, Burst: 3, Interval: time.Minute})
	for i := 0; i < 10; i++ {
		fail(t, l, clk, "198.51.100.7")
		clk.add(time.Second)
	}
	recs := records(t, dir)
	if len(recs) != 1 || recs[0].AdditionalEventData != nil || recs[0].ErrorCode != awserr.MissingAuthenticationToken {
		t.Fatalf("during the interval: %d records, want the first failure alone: %+v", len(recs), recs)
	}
	clk.add(time.Minute)
	recs, _ = l.collect(false)
	l.write(recs)
	recs = records(t, dir)
	if len(recs) != 2 {
		t.Fatalf("after the interval: %d records, want 2", len(recs))
	}
	ad := recs[1].AdditionalEventData
	codes, _ := ad["errorCodes"].(map[string]any)
	// One failure a second at 1/s: none throttled.
	if ad["aggregated"] != true || ad["count"] != float64(9) || ad["throttledCount"] != float64(0) {
		t.Fatalf("aggregated record %+v", ad)
	}
	if ad["firstEventTime"] != "2026-01-02T03:04:06Z" || ad["lastEventTime"] != "2026-01-02T03:04:14Z" {
		t.Fatalf("aggregated times %v .. %v", ad["firstEventTime"], ad["lastEventTime"])
	}
	total := 0
	for _, n := range codes {
		total += int(n.(float64))
	}
	if total != 9 {
		t.Fatalf("error codes %v", codes)
	}
	if recs[1].SourceIPAddress != "198.51.100.7" || recs[1].RequestParameters != nil || recs[1].EventName != "ListKeys" {
		t.Fatalf("aggregated record %+v", recs[1])
	}
	// The next failure opens a new interval with its own record.
	fail(t, l, clk, "198.51.100.7")
	if n := len(records(t, dir)); n != 3 {
		t.Fatalf("%d records after a new interval's first failure", n)
	}
	// Close writes what is pending.
	fail(t, l, clk, "198.51.100.7")
	l.Close()
	if recs := records(t, dir); len(recs) != 4 || recs[3].AdditionalEventData["count"] != float64(1) {
		t.Fatalf("after Close: %d records", len(recs))
	}
}

func TestBoundedSources(t *testing.T) {
	t.Parallel()
	l, clk, dir := newTestLimiter(t, Config{Rate: 1, Burst: 2, Interval: time.Minute, MaxSources: 100})
	for i := 0; i < 1000; i++ {
		fail(t, l, clk, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if st := l.Stats(); st.Sources != 100 {
		t.Fatalf("%d sources tracked, want 100", st.Sources)
	}
	// 100 sources with a record each, the overflow's first record; the
	// overflow shares one bucket, so most of the 900 others are throttled.
	if n := len(records(t, dir)); n != 101 {
		t.Fatalf("%d records, want 101", n)
	}
	if st := l.Stats(); st.Throttled < 890 {
		t.Fatalf("overflow throttled %d of 900", st.Throttled)
	}
	// Idle entries are dropped once their interval ended and their bucket
	// refilled.
	clk.add(2 * time.Minute)
	recs, more := l.collect(false)
	l.write(recs)
	if more || l.Stats().Sources != 0 {
		t.Fatalf("entries left after they went idle: %d", l.Stats().Sources)
	}
	last := records(t, dir)
	if ad := last[len(last)-1].AdditionalEventData; ad["sourceOverflow"] != true || ad["count"] != float64(899) {
		t.Fatalf("overflow aggregate %+v", ad)
	}
}

func TestAllowLookup(t *testing.T) {
	t.Parallel()
	l, clk, _ := newTestLimiter(t, Config{Rate: 0.001, Burst: 1})
	if !l.AllowLookup("192.0.2.9") {
		t.Fatal("an untracked source may not look up")
	}
	fail(t, l, clk, "192.0.2.9")
	if !l.AllowLookup("192.0.2.9") || l.AllowLookup("192.0.2.9") {
		t.Fatal("want one lookup per second")
	}
	clk.add(time.Second)
	if !l.AllowLookup("192.0.2.9") {
		t.Fatal("no lookup a second later")
	}
}

func TestSourceKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1":                "192.0.2.1",
		"::ffff:192.0.2.1":         "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":     "2001:db8:1:2::",
		"2001:db8:1:2:ffff::1":     "2001:db8:1:2::",
		"fe80::1%eth0":             "fe80::",
		"2001:db8:1:3:3:4:5:6":     "2001:db8:1:3::",
		"::1":                      "::",
		"127.0.0.1":                "127.0.0.1",
		"2001:db8::ffff:192.0.2.1": "2001:db8::",
	} {
		if got := SourceKey(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("SourceKey(%s) = %s, want %s", in, got, want)
		}
	}
	if parseSource("not an address").IsValid() {
		t.Error("an unparsable source has a key")
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		n  int
	}{
		{"short", 10},
		{strings.Repeat("a", 1000), 256},
		{strings.Repeat("é", 1000), 256},
		{strings.Repeat("😀", 1000), 255},
		{"bad \xff\xfe utf-8 " + strings.Repeat("z", 600), 512},
		{strings.Repeat("<", 1000), 256},
		{strings.Repeat("a\x01", 1000), 256},
		{strings.Repeat("\"\\", 1000), 128},
		{strings.Repeat("\u2028x", 1000), 512},
		{strings.Repeat("<", 42), 256},
		{strings.Repeat("<", 43), 256},
	} {
		got := clip(tc.in, tc.n)
		enc, _ := json.Marshal(got) // HTML-safe, as the trail's encoder
		if len(enc)-2 > tc.n || !utf8.ValidString(got) {
			t.Errorf("clip(%.20q, %d) = %d bytes encoded, valid %v", tc.in, tc.n, len(enc)-2, utf8.ValidString(got))
		}
		full, _ := json.Marshal(tc.in)
		if cut := len(full)-2 > tc.n; cut != strings.HasSuffix(got, "…") || !cut && got != tc.in {
			t.Errorf("clip(%.20q, %d) = %.20q: cut %v", tc.in, tc.n, got, cut)
		}
	}
}

// The record of a failure keeps every client-chosen field within its
// bound, whatever the client sent.
func TestRecordSize(t *testing.T) {
	t.Parallel()
	// Invalid UTF-8 (replaced by three bytes each), and characters the
	// encoder escapes: '<' and a control character as \u003c and \u0001.
	for _, fill := range []string{"\xffA", "<", ">&", "\x01", "\"", "\\", "\n", "\u2028"} {
		l, clk, dir := newTestLimiter(t, Config{})
		huge := strings.Repeat(fill, 20000)
		for i := 0; i < 2; i++ { // one record, and one aggregated
			f := &Failure{Time: clk.now(), Source: huge, EventSource: "kms.amazonaws.com", EventName: huge, Region: "us-east-1",
				AccessKeyID: huge, UserAgent: huge, TLS: true, Host: huge, RequestID: huge,
				Err: awserr.New(awserr.IncompleteSignature, "Authorization="+huge)}
			if _, err := l.Fail(context.Background(), f, errThrottle); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		var n int
		audit.Read(dir, audit.Filter{}, func(e audit.Entry) error {
			n++
			if len(e.Raw) > 2048 {
				t.Errorf("%q: record of %d bytes", fill, len(e.Raw))
			}
			return nil
		})
		if n != 2 {
			t.Errorf("%q: %d records", fill, n)
		}
	}
}

// Fail, Limited and the sweeper under concurrency (run with -race).
func TestConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, err := audit.Open(audit.Options{Dir: dir, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	l := New(Config{Audit: log, Rate: 10, Burst: 5, Interval: 20 * time.Millisecond})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				src := fmt.Sprintf("192.0.2.%d", i%7)
				l.Limited(src)
				l.AllowLookup(src)
				l.Fail(context.Background(), &Failure{Source: src, Err: errMissing}, errThrottle)
				if i%50 == 0 {
					time.Sleep(25 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	l.Close()
	var count float64
	var recs int
	audit.Read(dir, audit.Filter{}, func(e audit.Entry) error {
		recs++
		if n, ok := e.Event.AdditionalEventData["count"].(float64); ok {
			count += n
		} else {
			count++
		}
		return nil
	})
	if count != 1600 {
		t.Fatalf("records account for %v failures, want 1600 (%d records)", count, recs)
	}
}
