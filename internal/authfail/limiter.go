package authfail

import (
	"context"
	"log/slog"
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
	// disables throttling.
	Rate float64
	// Burst is the bucket's size (default DefaultBurst).
	Burst int
	// Interval is the aggregation interval (default DefaultInterval).
	Interval time.Duration
	// MaxSources bounds the sources tracked (default DefaultMaxSources).
	MaxSources int
	Logger     *slog.Logger
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
}

// Stats are a Limiter's counters since it started.
type Stats struct {
	// Failures counts every failure reported to Fail.
	Failures uint64
	// Throttled counts failures answered with the throttling error.
	Throttled uint64
	// Aggregated counts aggregated records written.
	Aggregated uint64
	// Sources is the number of sources tracked now.
	Sources int
}

// Limiter rate-limits and records failed requests per source address. It
// is safe for concurrent use.
type Limiter struct {
	cfg   Config
	audit *audit.Log
	log   *slog.Logger
	now   func() time.Time

	// limited counts entries whose bucket was last seen empty: while it
	// is zero, Limited answers without taking mu.
	limited atomic.Int64

	mu       sync.Mutex
	entries  map[netip.Addr]*entry
	overflow *entry
	sweeping bool
	closed   bool
	stop     chan struct{}
	swept    chan struct{}

	failures, throttled, aggregated atomic.Uint64
}

// entry is one source's bucket and its open aggregation interval.
type entry struct {
	tokens  float64
	last    time.Time // of the last refill
	limited bool      // counted in Limiter.limited
	lookup  time.Time // of the last AllowLookup granted
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, audit: cfg.Audit, log: cfg.Logger, now: cfg.Now,
		entries: map[netip.Addr]*entry{}}
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

// Limited reports whether source has spent its failure budget: the caller
// then answers with the throttling error without authenticating the
// request, unless it names an access key the server has in use or
// AllowLookup says yes. It costs one atomic load while no source is
// limited.
func (l *Limiter) Limited(source string) bool {
	if l.limited.Load() == 0 || l.cfg.Rate < 0 {
		return false
	}
	key := parseSource(source)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil {
		// Untracked sources (never failed, or in the overflow entry)
		// are verified: the overflow's state must not throttle a
		// legitimate client that never failed.
		return false
	}
	l.refill(e, now)
	return e.tokens < 1
}

// lookupEvery is how often a limited source may have a request naming an
// access key that is not in use verified (which costs a store lookup): a
// legitimate client whose key dropped out of the cache gets in again, a
// flood of made-up keys costs one lookup a second.
const lookupEvery = time.Second

// AllowLookup reports whether a request from a limited source that names
// an access key not in use may be verified anyway; it says yes at most
// once per lookupEvery per source.
func (l *Limiter) AllowLookup(source string) bool {
	key := parseSource(source)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entries[key]
	if e == nil {
		return true
	}
	if now.Sub(e.lookup) < lookupEvery {
		return false
	}
	e.lookup = now
	return true
}

// refill adds the tokens earned since e.last and keeps Limiter.limited in
// step with e. It runs under mu.
func (l *Limiter) refill(e *entry, now time.Time) {
	if l.cfg.Rate < 0 {
		e.tokens = float64(l.cfg.Burst)
	} else if d := now.Sub(e.last); d > 0 {
		e.tokens = min(float64(l.cfg.Burst), e.tokens+d.Seconds()*l.cfg.Rate)
		e.last = now
	}
	if lim := e.tokens < 1; lim != e.limited {
		e.limited = lim
		if lim {
			l.limited.Add(1)
		} else {
			l.limited.Add(-1)
		}
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
	l.mu.Lock()
	e := l.entries[key]
	if e == nil {
		e = &entry{tokens: float64(l.cfg.Burst), last: f.Time}
		if len(l.entries) < l.cfg.MaxSources {
			l.entries[key] = e
		} else {
			if l.overflow == nil {
				l.overflow = &entry{tokens: float64(l.cfg.Burst), last: f.Time, overflow: true}
			}
			e = l.overflow
		}
	}
	l.refill(e, f.Time)
	answer := f.Err
	if l.cfg.Rate >= 0 && !f.Fault {
		if e.tokens >= 1 {
			e.tokens--
		} else {
			answer = throttle
		}
		l.refill(e, f.Time) // keep limited in step with the token taken
	}
	// The caller may have answered with throttle before verifying.
	throttled := answer.Code == throttle.Code
	if throttled {
		l.throttled.Add(1)
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
	l.mu.Unlock()
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

// collect takes the aggregated records of the intervals that have ended
// (of every open interval when all is set) and drops entries that are idle
// with a full bucket. more reports whether entries remain; when none do,
// the sweeper is marked stopped.
func (l *Limiter) collect(all bool) (recs []*audit.Event, more bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	visit := func(e *entry) (drop bool) {
		l.refill(e, now)
		if e.open && (all || !now.Before(e.end)) {
			if e.count > 0 {
				recs = append(recs, e.aggregate())
			}
			*e = entry{tokens: e.tokens, last: e.last, limited: e.limited, lookup: e.lookup, overflow: e.overflow}
		}
		return !e.open && !e.limited && e.tokens >= float64(l.cfg.Burst)
	}
	for k, e := range l.entries {
		if visit(e) {
			delete(l.entries, k)
		}
	}
	if l.overflow != nil && visit(l.overflow) {
		l.overflow = nil
	}
	more = len(l.entries) > 0 || l.overflow != nil
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
	n := len(l.entries)
	l.mu.Unlock()
	return Stats{Failures: l.failures.Load(), Throttled: l.throttled.Load(), Aggregated: l.aggregated.Load(), Sources: n}
}

// cut bounds f's client-chosen strings, and copies them: a caller's
// strings may alias its HTTP server's reusable buffers, and the latest
// failure of an interval is kept until the interval ends.
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
