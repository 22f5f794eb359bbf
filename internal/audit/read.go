package audit

import (
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Filter selects events for Read. Zero fields match everything.
type Filter struct {
	// Since (inclusive) and Until (exclusive) bound eventTime.
	Since, Until time.Time
	// Key matches a key ID or key ARN against the record's resources and
	// its keyId request parameter; an ID matches an ARN ending in
	// "key/<ID>" and an alias name matches "alias/<name>" the same way.
	Key string
	// Principal matches userIdentity.arn or userIdentity.principalId, or
	// the session issuer's ARN of an assumed role.
	Principal string
	// EventName matches eventName exactly (e.g. "Decrypt").
	EventName string
	// ErrorCode matches errorCode exactly; "*" matches every failed call.
	ErrorCode string
	// Node restricts to one node's trail.
	Node string
}

// Match reports whether e passes every criterion of f. t is e's parsed
// eventTime.
func (f *Filter) Match(e *Event, t time.Time) bool {
	if !f.Since.IsZero() && t.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !t.Before(f.Until) {
		return false
	}
	if f.EventName != "" && e.EventName != f.EventName {
		return false
	}
	if f.ErrorCode != "" && !(f.ErrorCode == "*" && e.ErrorCode != "" || e.ErrorCode == f.ErrorCode) {
		return false
	}
	if f.Principal != "" {
		u := e.UserIdentity
		if u == nil {
			return false
		}
		ok := u.ARN == f.Principal || u.PrincipalID == f.Principal
		if !ok && u.SessionContext != nil && u.SessionContext.SessionIssuer != nil {
			ok = u.SessionContext.SessionIssuer.ARN == f.Principal
		}
		if !ok {
			return false
		}
	}
	if f.Key != "" {
		ok := false
		for _, r := range e.Resources {
			ok = ok || keyMatch(r.ARN, f.Key)
		}
		if s, _ := e.RequestParameters["keyId"].(string); !ok && s != "" {
			ok = keyMatch(s, f.Key)
		}
		if d, _ := e.ServiceEventDetails["keyId"].(string); !ok && d != "" {
			ok = keyMatch(d, f.Key)
		}
		if !ok {
			return false
		}
	}
	return true
}

func keyMatch(have, want string) bool {
	return have == want || strings.HasSuffix(have, "/"+want) || strings.HasSuffix(want, "/"+have)
}

// Entry is one record passed to Read's callback.
type Entry struct {
	Node  string
	Seq   uint64
	Time  time.Time
	Event *Event
	Raw   []byte // the event's JSON exactly as stored
}

// Read calls fn for every event in dir's trails that matches f, in order
// of eventTime, merging the trails of all nodes (ties are broken by node
// and then sequence number). Within a node, records are read in sequence
// order; an event whose time is earlier than its predecessor's (clock
// step) is delivered when reached. Lines that are not well-formed records
// are skipped: use Verify to check integrity. Read stops and returns fn's
// error if fn returns one.
func Read(dir string, f Filter, fn func(Entry) error) error {
	all, err := listSegments(dir, f.Node)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	h := &entryHeap{}
	var its []*segLines
	defer func() {
		for _, it := range its {
			it.close()
		}
	}()
	for node, segs := range all {
		segs = pruneByTime(segs, f)
		it := &segLines{segs: segs}
		its = append(its, it)
		c := &cursor{node: node, it: it}
		if c.advance() {
			heap.Push(h, c)
		}
		if it.err != nil {
			return fmt.Errorf("audit: reading trail of %s: %w", node, it.err)
		}
	}
	for h.Len() > 0 {
		c := (*h)[0]
		ent := c.cur
		if f.Match(ent.Event, ent.Time) {
			if err := fn(ent); err != nil {
				return err
			}
		}
		if c.advance() {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
		if c.it.err != nil {
			return fmt.Errorf("audit: reading trail of %s: %w", c.node, c.it.err)
		}
	}
	return nil
}

// clockSlack allows for events stamped slightly before their segment was
// created (the server stamps eventTime when the request arrives).
const clockSlack = 5 * time.Minute

// pruneByTime drops segments that cannot hold events in [Since, Until):
// all records of segment i precede the start of segment i+1.
func pruneByTime(segs []segment, f Filter) []segment {
	var out []segment
	for i, s := range segs {
		if !f.Since.IsZero() && i+1 < len(segs) && segs[i+1].Start.Add(clockSlack).Before(f.Since) {
			continue
		}
		if !f.Until.IsZero() && s.Start.After(f.Until.Add(clockSlack)) {
			continue
		}
		out = append(out, s)
	}
	return out
}

type cursor struct {
	node string
	it   *segLines
	cur  Entry
}

// advance loads the next decodable record; it returns false at the end.
func (c *cursor) advance() bool {
	for {
		l := c.it.next()
		if l == nil {
			return false
		}
		if l.torn {
			continue
		}
		r, err := parseRecord(l.data)
		if err != nil && !errors.Is(err, errBadHash) {
			continue
		}
		var e Event
		if json.Unmarshal(r.Event, &e) != nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, e.EventTime)
		if err != nil {
			continue
		}
		c.cur = Entry{Node: c.node, Seq: r.Seq, Time: t, Event: &e, Raw: r.Event}
		return true
	}
}

type entryHeap []*cursor

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	a, b := h[i].cur, h[j].cur
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if a.Node != b.Node {
		return a.Node < b.Node
	}
	return a.Seq < b.Seq
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *entryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
