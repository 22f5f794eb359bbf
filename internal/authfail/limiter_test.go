package authfail

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
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

// checkLimited fails unless Limiter.limited counts exactly the buckets
// marked limited and flood mode.
func checkLimited(t *testing.T, l *Limiter) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, b := range l.buckets {
		if b.limited {
			n++
		}
	}
	if l.over.limited {
		n++
	}
	if l.lookups.flooding {
		n++
	}
	if got := l.limited.Load(); got != n {
		t.Fatalf("limited counts %d, want %d", got, n)
	}
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
	checkLimited(t, l)
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
	l, clk, dir := newTestLimiter(t, Config{Rate: 1, Burst: 2, Interval: time.Minute, MaxSources: 100, MaxTracked: 200})
	for i := 0; i < 1000; i++ {
		fail(t, l, clk, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if st := l.Stats(); st.Sources != 200 || len(l.entries) != 100 {
		t.Fatalf("%d sources tracked, %d with records of their own: want 200 and 100", st.Sources, len(l.entries))
	}
	// 100 sources with a record each, the overflow's first record; the
	// sources beyond the 200 tracked share one bucket, so most of the 800
	// are throttled.
	if n := len(records(t, dir)); n != 101 {
		t.Fatalf("%d records, want 101", n)
	}
	if st := l.Stats(); st.Throttled < 790 {
		t.Fatalf("overflow throttled %d of 800", st.Throttled)
	}
	// Record entries are dropped once their interval ended, buckets once
	// they refilled and Retention passed since their last failure.
	clk.add(2 * time.Minute)
	recs, more := l.collect(false)
	l.write(recs)
	if !more || len(l.entries) != 0 || l.Stats().Sources != 200 {
		t.Fatalf("after the interval: %d entries, %d sources", len(l.entries), l.Stats().Sources)
	}
	last := records(t, dir)
	if ad := last[len(last)-1].AdditionalEventData; ad["sourceOverflow"] != true || ad["count"] != float64(899) {
		t.Fatalf("overflow aggregate %+v", ad)
	}
	clk.add(DefaultRetention)
	if _, more := l.collect(false); more || l.Stats().Sources != 0 || l.overUsed {
		t.Fatalf("sources left after they went idle: %d", l.Stats().Sources)
	}
}

// unknownKey reports a request whose made-up access key was looked up
// and not found, as the server does, and returns its answer.
func unknownKey(t *testing.T, l *Limiter, clk *clock, src, akid string) *awserr.Error {
	t.Helper()
	f := &Failure{Time: clk.now(), Source: src, EventSource: "kms.amazonaws.com", EventName: "Encrypt",
		AccessKeyID: akid, Err: errUnrecognized, UnknownKey: true}
	answer, err := l.Fail(context.Background(), f, errThrottle)
	if err != nil {
		t.Fatal(err)
	}
	return answer
}

var errUnrecognized = awserr.New(awserr.UnrecognizedClient, "The security token included in the request is invalid.")

// refuse reports a request the server answered with the throttling
// error before verifying it.
func refuse(t *testing.T, l *Limiter, clk *clock, src, akid string) {
	t.Helper()
	f := &Failure{Time: clk.now(), Source: src, AccessKeyID: akid, Err: errThrottle}
	if _, err := l.Fail(context.Background(), f, errThrottle); err != nil {
		t.Fatal(err)
	}
}

func TestAllowLookup(t *testing.T) {
	t.Parallel()
	l, clk, _ := newTestLimiter(t, Config{Rate: 0.001, Burst: 1, LookupRate: 0.001, LookupBurst: 3})
	// A source with no failure: once a second, without spending the
	// node's budget.
	for i := 0; i < 5; i++ {
		if !l.AllowLookup("192.0.2.9", "AKIAEXAMPLE") || l.AllowLookup("192.0.2.9", "AKIAEXAMPLE2") {
			t.Fatalf("second %d: want one lookup a second for a source with no failure", i)
		}
		clk.add(time.Second)
	}
	if l.lookups.tokens != 3 {
		t.Fatalf("a source with no failure spent the node's budget: %v left", l.lookups.tokens)
	}
	// Once it failed, it is suspect: once a second, within the budget.
	fail(t, l, clk, "192.0.2.9")
	if !l.Limited("192.0.2.9") {
		t.Fatal("not limited after its burst of 1")
	}
	// A request naming no key costs no lookup: only its own budget counts.
	if l.AllowLookup("192.0.2.9", "") || !l.AllowLookup("192.0.2.10", "") {
		t.Fatal("a request naming no key: want no from the limited source, yes from another")
	}
	if !l.AllowLookup("192.0.2.9", "AKIAEXAMPLE") || l.AllowLookup("192.0.2.9", "AKIAEXAMPLE") {
		t.Fatal("want one lookup a second for a suspect source")
	}
	if l.lookups.tokens != 2 {
		t.Fatalf("budget %v, want 2", l.lookups.tokens)
	}
	clk.add(time.Second)
	fail(t, l, clk, "192.0.2.11")
	fail(t, l, clk, "192.0.2.12")
	if !l.AllowLookup("192.0.2.11", "AKIAEXAMPLE") || !l.AllowLookup("192.0.2.9", "AKIAEXAMPLE") {
		t.Fatal("suspect sources refused within the budget")
	}
	// The budget is spent: flood mode.
	if l.AllowLookup("192.0.2.12", "AKIAEXAMPLE") {
		t.Fatal("a lookup granted past the budget")
	}
	if st := l.Stats(); !st.Flooding || st.Floods != 1 || st.LookupsRefused != 7 {
		t.Fatalf("stats %+v", st)
	}
	// In flood mode every source is asked about, and one with no failure
	// still gets its lookups.
	if !l.Limited("192.0.2.13") || !l.AllowLookup("192.0.2.13", "AKIANEWCLIENT") {
		t.Fatal("a source with no failure in flood mode: want Limited, and a lookup")
	}
	checkLimited(t, l)
	// A limited source's bucket refilled by AllowLookup is kept so.
	clk.add(time.Hour)
	if !l.AllowLookup("192.0.2.9", "") {
		t.Fatal("a refilled source may not send a request naming no key")
	}
	checkLimited(t, l)
}

// The finding TestFindingOverflowSourcesLookUpEveryKey at the unit level:
// once the shared bucket of the sources beyond those tracked is empty,
// their requests are refused unless the node's lookup budget lasts.
func TestOverflowLookups(t *testing.T) {
	t.Parallel()
	l, clk, _ := newTestLimiter(t, Config{MaxTracked: 100, LookupRate: 10, LookupBurst: 20})
	for i := 0; i < 100; i++ {
		fail(t, l, clk, fmt.Sprintf("10.1.0.%d", i))
	}
	lookups := 0
	for i := 0; i < 10000; i++ { // 1,000 a second for 10 s, from 1,000 addresses
		src, akid := fmt.Sprintf("10.2.%d.%d", i%1000/250, i%250), fmt.Sprintf("AKIAMADEUP%08d", i)
		if l.Limited(src) && !l.AllowLookup(src, akid) {
			refuse(t, l, clk, src, akid)
		} else {
			lookups++
			unknownKey(t, l, clk, src, akid)
		}
		clk.add(time.Millisecond)
	}
	// Before flood mode, the shared bucket's burst and the budget's; in
	// it, the budget's rate.
	if max := DefaultBurst + 20 + 10*10; lookups > max {
		t.Fatalf("%d lookups for 10,000 made-up keys from sources beyond those tracked, want at most %d", lookups, max)
	}
	t.Logf("%d lookups for 10,000 made-up keys", lookups)
	checkLimited(t, l)
}

// fakeFlood sends made-up keys from n sources (round robin) at rate a
// second for d, as the server would handle them, and returns how many cost
// a lookup. A legitimate client new to the node, from its own address,
// asks after d/2 with a key that exists: newClient is how long it waited
// for its first lookup.
func fakeFlood(t *testing.T, l *Limiter, clk *clock, n, rate int, d time.Duration) (lookups int, newClient time.Duration) {
	t.Helper()
	every := time.Second / time.Duration(rate)
	asked := time.Duration(-1)
	for i := 0; time.Duration(i)*every < d; i++ {
		src := fmt.Sprintf("%d.%d.%d.%d", 10+i%n>>24, i%n>>16&255, i%n>>8&255, i%n&255)
		akid := fmt.Sprintf("AKIAMADEUP%08d", i)
		if l.Limited(src) && !l.AllowLookup(src, akid) {
			refuse(t, l, clk, src, akid)
		} else {
			lookups++
			unknownKey(t, l, clk, src, akid)
		}
		if elapsed := time.Duration(i) * every; elapsed >= d/2 && newClient == 0 {
			if asked < 0 {
				asked = elapsed
			}
			// The client retries after every refusal (an SDK backs
			// off; asking each time is the worst case for it).
			if l.Limited("192.0.2.200") && !l.AllowLookup("192.0.2.200", "AKIAREALKEY") {
				refuse(t, l, clk, "192.0.2.200", "AKIAREALKEY")
			} else {
				newClient = elapsed - asked + 1
			}
		}
		clk.add(every)
	}
	return lookups, newClient
}

// A flood of made-up keys, from any number of addresses, costs at most
// the budget (burst, then rate) plus one lookup per address tracked; a
// client new to the node gets its first lookup at once while the
// flooding addresses are fewer than the tracked.
func TestFloodLookupsBounded(t *testing.T) {
	t.Parallel()
	const tracked, rate, burst = 2000, 20, 40
	for _, n := range []int{1, 50, 1500, 5000, 100000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			l, clk, _ := newTestLimiter(t, Config{MaxTracked: tracked, LookupRate: rate, LookupBurst: burst})
			const secs = 30
			lookups, waited := fakeFlood(t, l, clk, n, 2000, secs*time.Second)
			bound := burst + rate*secs + min(n, tracked)
			t.Logf("%d sources, 60,000 made-up keys in %d s: %d lookups (bound %d); a new client waited %v; %+v",
				n, secs, lookups, bound, waited, l.Stats())
			if lookups > bound {
				t.Errorf("%d lookups, want at most %d", lookups, bound)
			}
			if n < tracked && waited != 1 {
				t.Errorf("a new client waited %v for its first lookup with the flood from fewer addresses than tracked", waited)
			}
			if n > 1 && !l.Stats().Flooding {
				t.Error("not in flood mode")
			}
			checkLimited(t, l)
		})
	}
}

func TestFloodModeEnds(t *testing.T) {
	t.Parallel()
	l, clk, _ := newTestLimiter(t, Config{LookupRate: 10, LookupBurst: 5})
	for i := 0; i < 5; i++ {
		unknownKey(t, l, clk, fmt.Sprintf("192.0.2.%d", i), fmt.Sprintf("AKIAMADEUP%d", i))
	}
	if !l.Stats().Flooding || l.limited.Load() != 1 {
		t.Fatalf("not in flood mode after the budget was spent: %+v", l.Stats())
	}
	clk.add(floodQuiet - time.Second)
	if !l.Limited("192.0.2.50") {
		t.Fatal("flood mode ended before a quiet minute")
	}
	clk.add(time.Second)
	if l.Limited("192.0.2.50") || l.Stats().Flooding || l.limited.Load() != 0 {
		t.Fatalf("flood mode did not end after a quiet minute: %+v", l.Stats())
	}
}

func TestUnknownKeyCache(t *testing.T) {
	t.Parallel()
	l, clk, _ := newTestLimiter(t, Config{Rate: 1, Burst: 1, LookupRate: 1000})
	unknownKey(t, l, clk, "192.0.2.1", "AKIAMADEUP")
	clk.add(time.Second)
	// A key that just missed is refused, from any source, without
	// spending the budget; another key is not.
	before := l.lookups.tokens
	if l.AllowLookup("192.0.2.1", "AKIAMADEUP") || l.AllowLookup("192.0.2.2", "AKIAMADEUP") {
		t.Fatal("a key that missed was granted a lookup again")
	}
	if l.lookups.tokens < before || !l.AllowLookup("192.0.2.1", "AKIAOTHER") {
		t.Fatal("refusing a known-missing key spent the budget, or another key was refused")
	}
	clk.add(2 * unknownFor)
	if !l.AllowLookup("192.0.2.2", "AKIAMADEUP") {
		t.Fatal("a key that missed is still refused after twice unknownFor")
	}
	// Bounded: two generations of maxUnknown keys.
	for i := 0; i < 5*maxUnknown; i++ {
		unknownKey(t, l, clk, "192.0.2.3", fmt.Sprintf("AKIAMADEUP%08d", i))
	}
	if n := len(l.unknown.cur) + len(l.unknown.old); n > 2*maxUnknown {
		t.Fatalf("%d keys remembered", n)
	}
}

// A request refused before verification does not make a source suspect:
// a new client refused for asking twice in a second keeps its lookups.
func TestRefusedStaysClean(t *testing.T) {
	t.Parallel()
	l, clk, _ := newTestLimiter(t, Config{Rate: 1, Burst: 2, LookupRate: 1, LookupBurst: 1})
	unknownKey(t, l, clk, "192.0.2.1", "AKIAMADEUP") // flood mode
	for i := 0; i < 20; i++ {
		if l.AllowLookup("192.0.2.7", "AKIANEW") {
			continue
		}
		refuse(t, l, clk, "192.0.2.7", "AKIANEW")
		clk.add(100 * time.Millisecond)
	}
	clk.add(time.Second)
	if !l.AllowLookup("192.0.2.7", "AKIANEW") {
		t.Fatal("a source refused, never failed, lost its lookups")
	}
	checkLimited(t, l)
}

// Tracking many sources is cheap: a tracked source takes about 150 bytes.
func TestTrackedMemory(t *testing.T) {
	l, clk, _ := newTestLimiter(t, Config{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Through AllowLookup: no records (fail writes one per source).
	for i := 0; i < DefaultMaxTracked+1000; i++ {
		l.AllowLookup(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff), "AKIANEW")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / DefaultMaxTracked
	t.Logf("%d sources tracked: %.0f bytes each", l.Stats().Sources, per)
	if l.Stats().Sources != DefaultMaxTracked {
		t.Fatalf("%d sources tracked, want %d", l.Stats().Sources, DefaultMaxTracked)
	}
	if per > 160 {
		t.Fatalf("%.0f bytes per tracked source", per)
	}
	// A sweep visits every bucket under the lock (every sweepEvery).
	clk.add(sweepEvery)
	t0 := time.Now()
	l.collect(false)
	t.Logf("a sweep of %d buckets: %v", DefaultMaxTracked, time.Since(t0))
	if l.Stats().Sources != 0 {
		t.Fatalf("%d sources left after their lookup spacing passed; none failed", l.Stats().Sources)
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
				l.AllowLookup(src, "AKIAEXAMPLE")
				l.Fail(context.Background(), &Failure{Source: src, Err: errMissing}, errThrottle)
				l.Fail(context.Background(), &Failure{Source: src, AccessKeyID: fmt.Sprint("AKIA", i%13), Err: errUnrecognized, UnknownKey: true}, errThrottle)
				if i%50 == 0 {
					time.Sleep(25 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	checkLimited(t, l)
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
	if count != 3200 {
		t.Fatalf("records account for %v failures, want 3200 (%d records)", count, recs)
	}
}

// BenchmarkSweep: a sweep of DefaultMaxTracked buckets that all stay.
func BenchmarkSweep(b *testing.B) {
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := New(Config{Now: clk.now, Retention: 1e6 * time.Hour})
	defer l.Close()
	for i := 0; i < DefaultMaxTracked; i++ {
		src := fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)
		l.Fail(context.Background(), &Failure{Time: clk.now(), Source: src, Err: errMissing}, errThrottle)
	}
	for b.Loop() {
		clk.add(sweepEvery)
		l.collect(false)
	}
	if l.Stats().Sources != DefaultMaxTracked {
		b.Fatal("buckets dropped")
	}
}
