package authfail

import (
	"context"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/trentkms/trent/internal/audit"
	"github.com/trentkms/trent/internal/awserr"
)

// Defaults of Config.
const (
	DefaultRate       = 5
	DefaultBurst      = 25
	DefaultInterval   = time.Minute
	DefaultMaxSources = 1000
	DefaultMaxTracked = 65536
	DefaultRetention  = 10 * time.Minute
	DefaultLookupRate = 100
)

// Sizes a failure record's attacker-chosen fields are cut to: bytes as
// the record's JSON encoder writes them, escapes included. Together with
// the record's fixed fields and an aggregated record's counts they stay
// under 2 KiB.
const (
	MaxEventName    = 128
	MaxUserAgent    = 256
	MaxErrorMessage = 384
	MaxAccessKeyID  = 128
	MaxHost         = 192
	MaxSource       = 64
	MaxRequestID    = 64
)

// Config configures a Limiter.
type Config struct {
	// Audit receives the records; nil records nothing (the limit still
	// applies).
	Audit *audit.Log
	// Rate is how many failures per second a source may cause before it is
	// throttled, once its burst is spent (default DefaultRate); negative
	// disables throttling by source (the lookup budget still applies).
	Rate float64
	// Burst is the bucket's size (default DefaultBurst).
	Burst int
	// Interval is the aggregation interval (default DefaultInterval).
	Interval time.Duration
	// MaxSources bounds the sources whose failures are recorded and
	// summarized on their own (default DefaultMaxSources); the failures of
	// further sources share one summary.
	MaxSources int
	// MaxTracked bounds the sources with a bucket of their own (default
	// DefaultMaxTracked); further sources share one bucket and count as
	// suspect.
	MaxTracked int
	// Retention is how long a source stays tracked, and suspect, after
	// its last verified failure (default DefaultRetention).
	Retention time.Duration
	// LookupRate is the node's budget, per second, of store lookups of
	// access keys not in use for requests from suspect sources, after a
	// burst of LookupBurst (default DefaultLookupRate); negative disables
	// the budget.
	LookupRate float64
	// LookupBurst is the budget's size (default twice LookupRate, at
	// least 1).
	LookupBurst int
	Logger      *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Failure is one request that failed before its caller was authenticated.
// Its strings may be anything a client sent: the Limiter cuts them to the
// Max sizes and replaces invalid UTF-8.
type Failure struct {
	// Time is when the request arrived.
	Time time.Time
	// Source is the client's address as text (an IP address).
	Source string
	// EventSource is the service, e.g. "kms.amazonaws.com".
	EventSource string
	// EventName is the operation named by the request ("" if none).
	EventName string
	Region    string
	ReadOnly  bool
	// AccessKeyID is the access key the request claimed, if any.
	AccessKeyID string
	UserAgent   string
	// TLS reports an HTTPS request; Host is then its Host header.
	TLS       bool
	Host      string
	RequestID string
	// Err is the error the request earned.
	Err *awserr.Error
	// Fault marks a failure of the server's (a store that could not be
	// reached while the access key was looked up): it is recorded but
	// takes no token from the source.
	Fault bool
	// UnknownKey marks a request whose access key was looked up in the
	// store and not found (or not active) and is not in use on the node:
	// a lookup that a flood of made-up keys makes. It spends the node's
	// lookup budget, and AllowLookup refuses the key for a few seconds.
	UnknownKey bool
}

// Stats are a Limiter's counters since it started.
type Stats struct {
	// Failures counts every failure reported to Fail.
	Failures uint64
	// Throttled counts failures answered with the throttling error.
	Throttled uint64
	// Aggregated counts aggregated records written.
	Aggregated uint64
	// UnknownKeys counts failures reported with UnknownKey.
	UnknownKeys uint64
	// LookupsRefused counts the lookups AllowLookup refused.
	LookupsRefused uint64
	// Floods counts the times the lookup budget ran out.
	Floods uint64
	// Sources is the number of sources tracked now.
	Sources int
	// Flooding reports that the node is in flood mode now (see Limited).
	Flooding bool
}

// Limiter rate-limits and records failed requests per source address. It
// is safe for concurrent use.
type Limiter struct {
	cfg   Config
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time
	// epoch is the origin of the buckets' times, kept as int64
	// nanoseconds to keep a bucket small.
	epoch time.Time

	// limited counts the buckets last seen empty, plus one in flood
	// mode: while it is zero, Limited answers without taking mu.
	limited atomic.Int64

	mu sync.Mutex
	// buckets are the tracked sources; sources beyond MaxTracked share
	// over (overUsed while it holds anything).
	buckets  map[netip.Addr]bucket
	over     bucket
	overUsed bool
	// nextSweep is when the sweeper next visits every bucket.
	nextSweep int64
	// entries hold the aggregation intervals of the first MaxSources
	// sources; further sources share overflow.
	entries  map[netip.Addr]*entry
	overflow *entry
	lookups  lookupBudget
	unknown  negativeCache
	// flood is a flood mode change (+1 began, -1 ended) to log once mu
	// is released.
	flood    int
	sweeping bool
	closed   bool
	stop     chan struct{}
	swept    chan struct{}

	failures, throttled, aggregated, unknownKeys, refused, floods atomic.Uint64
}

// bucket is one source's failure budget: 40 bytes, so that many sources
// can be tracked (plus 24 for its key in the map). Times are nanoseconds
// since Limiter.epoch.
type bucket struct {
	tokens float64
	last   int64 // of the last refill
	seen   int64 // of the last verified failure
	next   int64 // the earliest time AllowLookup may grant a lookup
	// limited is set while the bucket is counted in Limiter.limited.
	limited bool
	// failed marks a verified failure within Retention: the source is
	// suspect. A request refused unverified does not set it.
	failed bool
}

// entry is one source's open aggregation interval.
type entry struct {
	// open is set from the interval's first failure (recorded on its own)
	// until the interval ends at end.
	open bool
	end  time.Time
	// The failures after the first within the interval.
	count, throttled int
	first, latest    time.Time
	lastFail         Failure // the latest, already cut to size
	lastCode         string  // the error code it was answered with
	lastMsg          string
	codes            map[string]int
	overflow         bool
}

// maxCodes bounds the distinct error codes counted per interval; codes come
// from the server's own errors, so this is never reached in practice.
const maxCodes = 16

// New returns a Limiter. Its sweeper goroutine runs only while sources
// are tracked; Close flushes open intervals.
func New(cfg Config) *Limiter {
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = DefaultMaxSources
	}
	if cfg.MaxTracked <= 0 {
		cfg.MaxTracked = DefaultMaxTracked
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.LookupRate == 0 {
		cfg.LookupRate = DefaultLookupRate
	}
	if cfg.LookupBurst <= 0 {
		cfg.LookupBurst = max(1, int(2*cfg.LookupRate))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, audit: cfg.Audit, log: cfg.Logger, now: cfg.Now, epoch: cfg.Now(),
		buckets: map[netip.Addr]bucket{}, entries: map[netip.Addr]*entry{}}
	l.over = l.newBucket(0)
	l.lookups = lookupBudget{tokens: float64(cfg.LookupBurst)}
	return l
}

// SourceKey is the source a limit applies to: the address itself for
// IPv4 (and IPv4-mapped IPv6), its /64 prefix for IPv6, since one host
// usually holds a whole /64. The zero Addr (an unparsable address) is a
// source of its own.
func SourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.WithZone("").Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

func parseSource(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return SourceKey(a)
}

// at is t as a bucket keeps it.
func (l *Limiter) at(t time.Time) int64 { return int64(t.Sub(l.epoch)) }

func (l *Limiter) newBucket(t int64) bucket {
	return bucket{tokens: float64(l.cfg.Burst), last: t, next: math.MinInt64}
}

// source returns the bucket of the source key, refilled: a copy of its
// own in *own (tracked), a new one in *own if fewer than MaxTracked
// sources are tracked (tracked and fresh), or the shared one of the
// sources beyond. The caller stores *own with l.buckets[key] = *own
// whenever it changed, or is new and is to be kept. It runs under mu.
func (l *Limiter) source(key netip.Addr, t int64, own *bucket) (b *bucket, tracked, fresh bool) {
	if o, ok := l.buckets[key]; ok {
		*own = o
		l.refill(own, t)
		return own, true, false
	}
	if len(l.buckets) < l.cfg.MaxTracked {
		*own = l.newBucket(t)
		return own, true, true
	}
	l.refill(&l.over, t)
	return &l.over, false, false
}

// Limited reports whether the caller must not verify a request from
// source (answering it with the throttling error instead) unless it names
// an access key the server has in use or AllowLookup says yes: when the
// source has spent its failure budget, and in flood mode, which begins
// when lookups of keys that do not exist have spent the node's lookup
// budget and ends once none has been made for a minute. It costs one
// atomic load while neither is the case.
func (l *Limiter) Limited(source string) bool {
	if l.limited.Load() == 0 {
		return false
	}
	key := parseSource(source)
	t := l.at(l.now())
	l.mu.Lock()
	defer l.unlock()
	l.refillLookups(t)
	var own bucket
	b, tracked, fresh := l.source(key, t, &own)
	if tracked && !fresh {
		l.buckets[key] = own
	}
	return b.limited || l.lookups.flooding
}

// lookupEvery is how often AllowLookup may grant one source a lookup:
// a legitimate client whose key dropped out of the cache, or new to the
// node, gets in, a flood of made-up keys costs one lookup a second per
// source at most.
const lookupEvery = time.Second

// AllowLookup reports whether a request that Limited refused may be
// verified all the same, when it names the access key accessKeyID ("" for
// none) that the server does not have in use (the caller checks that
// first: a key in use is always verified). Verifying it costs a store
// lookup, so:
//
//   - A request naming no key costs none: yes unless the source has spent
//     its failure budget.
//   - A key that was looked up and not found in the last few seconds: no.
//   - A source that has no verified failure within Retention (a client new
//     to the node, say, during a flood): yes, once a second.
//   - A suspect source (one that has, or any beyond the MaxTracked
//     tracked): once a second for a tracked one, and only while the node's
//     lookup budget (LookupRate a second) lasts.
func (l *Limiter) AllowLookup(source, accessKeyID string) bool {
	key := parseSource(source)
	t := l.at(l.now())
	l.mu.Lock()
	defer l.unlock()
	l.refillLookups(t)
	var own bucket
	b, tracked, fresh := l.source(key, t, &own)
	ok := l.allow(b, tracked, accessKeyID, t)
	if tracked && (!fresh || ok && accessKeyID != "") {
		l.buckets[key] = own // refilled, or granted a lookup
	}
	return ok
}

// allow is AllowLookup for the source whose bucket is b; it runs under mu.
func (l *Limiter) allow(b *bucket, tracked bool, accessKeyID string, t int64) bool {
	if accessKeyID == "" {
		return !b.limited
	}
	if l.unknown.has(accessKeyID, t) || tracked && t < b.next {
		l.refused.Add(1)
		return false
	}
	if (!tracked || b.failed) && !l.takeLookup(t) {
		l.refused.Add(1)
		return false
	}
	if tracked {
		b.next = t + int64(lookupEvery)
	}
	return true
}

// refill adds the tokens earned since b.last and keeps Limiter.limited in
// step with b. It runs under mu.
func (l *Limiter) refill(b *bucket, t int64) {
	if l.cfg.Rate < 0 {
		b.tokens = float64(l.cfg.Burst)
	} else if d := t - b.last; d > 0 {
		b.tokens = min(float64(l.cfg.Burst), b.tokens+time.Duration(d).Seconds()*l.cfg.Rate)
		b.last = t
	}
	if lim := b.tokens < 1; lim != b.limited {
		b.limited = lim
		if lim {
			l.limited.Add(1)
		} else {
			l.limited.Add(-1)
		}
	}
}

// unlock releases mu and logs a flood mode change.
func (l *Limiter) unlock() {
	flood := l.flood
	l.flood = 0
	l.mu.Unlock()
	switch flood {
	case 1:
		l.log.Warn("flood mode: lookups of unknown access keys spent the lookup budget; keys not in use are looked up for suspect sources within it only",
			"lookupRate", l.cfg.LookupRate, "lookupBurst", l.cfg.LookupBurst)
	case -1:
		l.log.Info("flood mode ended: no lookup of an unknown access key for a minute")
	}
}

// Fail reports failure f and returns the error to answer it with: f.Err
// while f's source has tokens left, throttle once it has none. When f is
// the first failure of its source's interval, its record is written before
// Fail returns; a non-nil error then means it could not be, and the caller
// must fail the request as for any record (fail closed).
func (l *Limiter) Fail(ctx context.Context, f *Failure, throttle *awserr.Error) (*awserr.Error, error) {
	if f.Time.IsZero() {
		f.Time = l.now()
	}
	l.failures.Add(1)
	key := parseSource(f.Source)
	cut(f)
	t := l.at(f.Time)
	// The caller may have answered with throttle before verifying: such a
	// failure takes a token but does not make its source suspect.
	refused := f.Err.Code == throttle.Code
	l.mu.Lock()
	var own bucket
	b, tracked, _ := l.source(key, t, &own)
	if b == &l.over {
		l.overUsed = true
	}
	answer := f.Err
	if l.cfg.Rate >= 0 && !f.Fault {
		if b.tokens >= 1 {
			b.tokens--
		} else {
			answer = throttle
		}
		l.refill(b, t) // keep limited in step with the token taken
	}
	if !refused && !f.Fault {
		b.failed, b.seen = true, max(b.seen, t)
	}
	if tracked {
		l.buckets[key] = own
	}
	if f.UnknownKey {
		l.unknownKeys.Add(1)
		l.unknown.add(f.AccessKeyID, t)
		l.spendLookup(t)
	}
	throttled := answer.Code == throttle.Code
	if throttled {
		l.throttled.Add(1)
	}
	e := l.entries[key]
	if e == nil {
		if len(l.entries) < l.cfg.MaxSources {
			e = &entry{}
			l.entries[key] = e
		} else {
			if l.overflow == nil {
				l.overflow = &entry{overflow: true}
			}
			e = l.overflow
		}
	}
	var rec *audit.Event
	if !e.open {
		e.open, e.end = true, f.Time.Add(l.cfg.Interval)
		rec = event(f, answer, e.overflow)
	} else {
		e.add(f, answer, throttled)
	}
	if !l.sweeping && !l.closed {
		l.sweeping = true
		l.stop, l.swept = make(chan struct{}), make(chan struct{})
		go l.sweep(l.stop, l.swept)
	}
	l.unlock()
	if rec != nil && l.audit != nil {
		if err := l.audit.Append(ctx, rec); err != nil {
			return answer, err
		}
	}
	return answer, nil
}

// add counts a failure after the interval's first. It runs under mu.
func (e *entry) add(f *Failure, answer *awserr.Error, throttled bool) {
	if e.count == 0 {
		e.first = f.Time
	}
	e.count++
	if throttled {
		e.throttled++
	}
	e.latest = f.Time
	e.lastFail = *f
	e.lastFail.Err = nil
	e.lastCode, e.lastMsg = answer.Code, strings.Clone(clip(answer.Message, MaxErrorMessage))
	if e.codes == nil {
		e.codes = map[string]int{}
	}
	if _, ok := e.codes[answer.Code]; ok || len(e.codes) < maxCodes {
		e.codes[answer.Code]++
	}
}

// sweep closes the intervals that have ended, writing their aggregated
// records, and drops idle entries. It returns when no source is tracked or
// stop is closed.

// sweep closes the intervals that have ended, writing their aggregated
// records, and drops idle entries and buckets. It returns when nothing is
// tracked or stop is closed.
func (l *Limiter) sweep(stop, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(min(time.Second, l.cfg.Interval/4))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		recs, more := l.collect(false)
		l.write(recs)
		if !more {
			return
		}
	}
}

// sweepEvery is how often the sweeper visits every bucket (at most a
// tenth of Retention): with many sources tracked a visit takes a
// millisecond or two, under mu.
const sweepEvery = 10 * time.Second

// collect takes the aggregated records of the intervals that have ended
// (of every open interval when all is set) and drops closed entries; at
// most every sweepEvery, it drops the buckets that are full and hold
// nothing more to remember: no verified failure within Retention, no
// lookup spacing pending. more reports whether anything remains tracked;
// when nothing does, the sweeper is marked stopped.
func (l *Limiter) collect(all bool) (recs []*audit.Event, more bool) {
	now := l.now()
	t := l.at(now)
	l.mu.Lock()
	defer l.unlock()
	visit := func(e *entry) (drop bool) {
		if e.open && (all || !now.Before(e.end)) {
			if e.count > 0 {
				recs = append(recs, e.aggregate())
			}
			*e = entry{overflow: e.overflow}
		}
		return !e.open
	}
	for k, e := range l.entries {
		if visit(e) {
			delete(l.entries, k)
		}
	}
	if l.overflow != nil && visit(l.overflow) {
		l.overflow = nil
	}
	l.refillLookups(t)
	if t >= l.nextSweep {
		l.nextSweep = t + int64(min(sweepEvery, l.cfg.Retention/10))
		idle := func(b *bucket) bool {
			l.refill(b, t)
			return b.tokens >= float64(l.cfg.Burst) && t >= b.next &&
				(!b.failed || t-b.seen >= int64(l.cfg.Retention))
		}
		for k, b := range l.buckets {
			was := b.limited
			if idle(&b) {
				delete(l.buckets, k)
			} else if b.limited != was {
				// Only the flag must be kept: the tokens refill the
				// same from the old time.
				l.buckets[k] = b
			}
		}
		if l.overUsed && idle(&l.over) {
			l.overUsed = false
			l.over = l.newBucket(t)
		}
	}
	more = len(l.entries) > 0 || l.overflow != nil || len(l.buckets) > 0 || l.overUsed || l.lookups.flooding
	if !more && !all {
		l.sweeping = false
	}
	return recs, more
}

func (l *Limiter) write(recs []*audit.Event) {
	for _, r := range recs {
		l.aggregated.Add(1)
		if l.audit == nil {
			continue
		}
		if err := l.audit.Append(context.Background(), r); err != nil {
			l.log.Error("aggregated record of failed requests not written", "source", r.SourceIPAddress, "err", err)
		}
	}
}

// Close writes the aggregated records of every open interval and stops the
// sweeper. Failures reported after Close are still limited and answered;
// their later aggregates are not written.
func (l *Limiter) Close() {
	l.mu.Lock()
	l.closed = true
	stop, swept := l.stop, l.swept
	running := l.sweeping
	l.sweeping = false
	l.mu.Unlock()
	if running {
		close(stop)
		<-swept
	}
	recs, _ := l.collect(true)
	l.write(recs)
}

// Stats returns the Limiter's counters.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	n := len(l.buckets)
	flooding := l.lookups.flooding
	l.mu.Unlock()
	return Stats{Failures: l.failures.Load(), Throttled: l.throttled.Load(), Aggregated: l.aggregated.Load(),
		UnknownKeys: l.unknownKeys.Load(), LookupsRefused: l.refused.Load(), Floods: l.floods.Load(),
		Sources: n, Flooding: flooding}
}

func cut(f *Failure) {
	f.Source = strings.Clone(clip(f.Source, MaxSource))
	f.EventName = strings.Clone(clip(f.EventName, MaxEventName))
	f.AccessKeyID = strings.Clone(clip(f.AccessKeyID, MaxAccessKeyID))
	f.UserAgent = strings.Clone(clip(f.UserAgent, MaxUserAgent))
	f.Host = strings.Clone(clip(f.Host, MaxHost))
	f.RequestID = strings.Clone(clip(f.RequestID, MaxRequestID))
}

// clip returns s as valid UTF-8 that takes at most n bytes in the record,
// as its JSON encoder writes it: '<' is written as \u003c, a control
// character as \u0001, so a client could otherwise make a field six times
// its size. A cut string ends with "…" so that a reader sees it was cut.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s)*maxEscape <= n {
		return s // within n however it is escaped
	}
	const mark = "…"
	size, cut := 0, -1
	for i, r := range s {
		if cut < 0 && size+encodedLen(r) > n-len(mark) {
			cut = i
		}
		if size += encodedLen(r); size > n {
			return s[:cut] + mark
		}
	}
	return s
}

// maxEscape is the most bytes the record's encoder writes per byte of a
// string: \u003c for '<'.
const maxEscape = 6

// encodedLen is the length of rune r in a JSON string as encoding/json
// and goccy/go-json write it, HTML-safe (the audit trail's encoder).
func encodedLen(r rune) int {
	switch {
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return maxEscape
	}
	return utf8.RuneLen(r)
}

const timeFormat = "2006-01-02T15:04:05Z"

// event is the record of one failed request: what CloudTrail keeps for a
// failed call, never its parameters.
func event(f *Failure, answer *awserr.Error, overflow bool) *audit.Event {
	ev := &audit.Event{
		EventVersion:    audit.EventVersion,
		EventTime:       f.Time.UTC().Format(timeFormat),
		EventSource:     f.EventSource,
		EventName:       f.EventName,
		AWSRegion:       f.Region,
		SourceIPAddress: f.Source,
		UserAgent:       f.UserAgent,
		ErrorCode:       answer.Code,
		ErrorMessage:    clip(answer.Message, MaxErrorMessage),
		RequestID:       f.RequestID,
		EventID:         audit.NewEventID(),
		ReadOnly:        f.ReadOnly,
		EventType:       audit.EventTypeAPICall,
		ManagementEvent: true,
		EventCategory:   audit.EventCategory,
	}
	if f.AccessKeyID != "" {
		ev.UserIdentity = &audit.UserIdentity{AccessKeyID: f.AccessKeyID}
	}
	if f.TLS {
		ev.TLSDetails = &audit.TLSDetails{ClientProvidedHostHeader: f.Host}
	}
	if overflow {
		ev.AdditionalEventData = map[string]any{"sourceOverflow": true}
	}
	return ev
}

// aggregate is the record summarizing the failures of e's interval after
// the first: the latest one's fields, with the counts in
// additionalEventData.
func (e *entry) aggregate() *audit.Event {
	last := e.lastFail
	ev := event(&last, &awserr.Error{Code: e.lastCode, Message: e.lastMsg}, false)
	codes := make(map[string]any, len(e.codes))
	for c, n := range e.codes {
		codes[c] = n
	}
	ev.AdditionalEventData = map[string]any{
		"aggregated":     true,
		"count":          e.count,
		"throttledCount": e.throttled,
		"firstEventTime": e.first.UTC().Format(timeFormat),
		"lastEventTime":  e.latest.UTC().Format(timeFormat),
		"errorCodes":     codes,
	}
	if e.overflow {
		ev.AdditionalEventData["sourceOverflow"] = true
	}
	return ev
}
