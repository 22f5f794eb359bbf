package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// indexTrail writes n events alternately on nodes "a" and "b" of one
// directory, with small segments (many rotations), two accounts, several
// events per second, and a clock stepped back once on node "b". append
// writes the events [from, to).
type indexTrail struct {
	dir  string
	logs map[string]*Log
	base time.Time
}

func newIndexTrail(t *testing.T) *indexTrail {
	t.Helper()
	tr := &indexTrail{dir: t.TempDir(), logs: map[string]*Log{}, base: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	for _, node := range []string{"a", "b"} {
		o := testOptions(tr.dir, node)
		o.MaxSegmentBytes = 8 << 10
		tr.logs[node] = openLog(t, o)
	}
	t.Cleanup(func() {
		for _, l := range tr.logs {
			l.Close()
		}
	})
	return tr
}

func indexEvent(i int, base time.Time) *Event {
	sec := i / 3 // three events a second
	if i%41 == 40 {
		sec -= 5 // a clock stepped back
	}
	e := testEvent(i, base.Add(time.Duration(sec)*time.Second))
	e.EventID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	e.EventSource = EventSource
	e.ReadOnly = i%4 != 0
	e.UserIdentity.AccessKeyID = fmt.Sprintf("AKIA%04d", i%5)
	if i%7 == 0 {
		e.RecipientAccountID = "444455556666"
	}
	if i%11 == 0 {
		e.UserIdentity = &UserIdentity{Type: "AssumedRole", ARN: "arn:aws:sts::111122223333:assumed-role/app/sess-" + itoa(i%2),
			AccountID: "111122223333", AccessKeyID: "ASIA0001"}
	}
	if i%13 == 0 {
		e.Resources = append(e.Resources, Resource{Type: "AWS::KMS::Alias", ARN: "arn:aws:kms:us-east-1:111122223333:alias/x"})
	}
	return e
}

func (tr *indexTrail) append(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		node := "a"
		if i%2 == 1 {
			node = "b"
		}
		if err := tr.logs[node].Append(context.Background(), indexEvent(i, tr.base)); err != nil {
			t.Fatal(err)
		}
	}
}

// reference answers q by reading every record (Read), in Lookup's order.
func reference(t *testing.T, dir string, q Query) []string {
	t.Helper()
	return referenceIn(readAll(t, dir), q)
}

func readAll(t *testing.T, dir string) []Entry {
	t.Helper()
	var all []Entry
	if err := Read(dir, Filter{}, func(e Entry) error { all = append(all, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return all
}

// referenceIn answers q from all, the records of a trail, in Lookup's
// order.
func referenceIn(all []Entry, q Query) []string {
	all = slices.Clone(all)
	sort.Slice(all, func(i, j int) bool {
		if all[i].Node != all[j].Node {
			return all[i].Node < all[j].Node
		}
		return all[i].Seq < all[j].Seq
	})
	type keyed struct {
		Entry
		key int64
	}
	var ks []keyed
	// A node's key is the latest eventTime of its run; a record more
	// than runBreak behind it starts a new run.
	runKey := map[string]int64{}
	for _, e := range all {
		k, ok := runKey[e.Node]
		if !ok || e.Time.Unix()+runBreak < k {
			k = e.Time.Unix()
		}
		k = max(k, e.Time.Unix())
		runKey[e.Node] = k
		if !q.matches(e.Event) || (!q.Start.IsZero() && e.Time.Before(q.Start)) || (!q.End.IsZero() && e.Time.After(q.End)) {
			continue
		}
		ks = append(ks, keyed{e, k})
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.key != b.key {
			return a.key > b.key
		}
		if a.Node != b.Node {
			return a.Node > b.Node
		}
		return a.Seq > b.Seq
	})
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.Event.EventID)
	}
	return ids
}

// pages answers q through Lookup, page by page.
func pages(t *testing.T, x *Index, q Query) []string {
	t.Helper()
	var ids []string
	for n := 0; ; n++ {
		if n > 1000 {
			t.Fatal("paging does not end")
		}
		found, next, err := x.Lookup(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > q.Limit {
			t.Fatalf("%d records for limit %d", len(found), q.Limit)
		}
		for _, f := range found {
			ids = append(ids, f.Event.EventID)
			if string(f.Raw) == "" || f.Event.EventID == "" {
				t.Fatalf("record without its raw event: %+v", f)
			}
		}
		if next == nil {
			return ids
		}
		q.After = next
	}
}

func TestIndexAgreesWithRead(t *testing.T) {
	t.Parallel()
	tr := newIndexTrail(t)
	x := NewIndex(tr.dir)
	tr.append(t, 0, 120)
	if err := x.Refresh(); err != nil {
		t.Fatal(err)
	}
	tr.append(t, 120, 300) // the index follows what comes after
	segs, _ := listSegments(tr.dir, "")
	if len(segs["a"]) < 3 || len(segs["b"]) < 3 {
		t.Fatalf("want several segments per node, have %d and %d", len(segs["a"]), len(segs["b"]))
	}
	acct := "111122223333"
	arnKey := "arn:aws:kms:us-east-1:111122223333:key/00000001-aaaa-bbbb-cccc-000000000000"
	queries := map[string]Query{
		"ok/all":              {Account: acct},
		"ok/other-account":    {Account: "444455556666"},
		"ok/no-account":       {Account: "999999999999"},
		"ok/event-name":       {Account: acct, Key: LookupEventName, Value: "Encrypt"},
		"ok/event-id":         {Account: acct, Key: LookupEventID, Value: "00000000-0000-4000-8000-000000000100"},
		"ok/event-id-foreign": {Account: acct, Key: LookupEventID, Value: "00000000-0000-4000-8000-000000000007"},
		"ok/read-only":        {Account: acct, Key: LookupReadOnly, Value: "false"},
		"ok/read-only-upper":  {Account: acct, Key: LookupReadOnly, Value: "FALSE"},
		"ok/username":         {Account: acct, Key: LookupUsername, Value: "u1"},
		"ok/session":          {Account: acct, Key: LookupUsername, Value: "sess-0"},
		"ok/resource-type":    {Account: acct, Key: LookupResourceType, Value: "AWS::KMS::Alias"},
		"ok/resource-name":    {Account: acct, Key: LookupResourceName, Value: arnKey},
		"ok/event-source":     {Account: acct, Key: LookupEventSource, Value: EventSource},
		"ok/access-key":       {Account: acct, Key: LookupAccessKeyID, Value: "AKIA0003"},
		"ok/window":           {Account: acct, Start: tr.base.Add(20 * time.Second), End: tr.base.Add(40 * time.Second)},
		"ok/window-frac":      {Account: acct, Key: LookupEventName, Value: "Decrypt", Start: tr.base.Add(20*time.Second + 1), End: tr.base.Add(40*time.Second + 999*time.Millisecond)},
		"ok/window-empty":     {Account: acct, Start: tr.base.Add(-time.Hour), End: tr.base.Add(-time.Minute)},
	}
	for name, q := range queries {
		for _, limit := range []int{1, 7, 50} {
			q.Limit = limit
			want := reference(t, tr.dir, q)
			got := pages(t, x, q)
			if !slices.Equal(got, want) {
				t.Errorf("%s limit %d: index found %d records, Read %d\nindex %v\nread  %v", name, limit, len(got), len(want), got, want)
			}
		}
	}
	if n := len(reference(t, tr.dir, queries["ok/event-name"])); n < 50 {
		t.Fatalf("reference finds only %d Encrypts: the test proves little", n)
	}
}

func TestIndexFollowsAWriter(t *testing.T) {
	t.Parallel()
	tr := newIndexTrail(t)
	x := NewIndex(tr.dir)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tr.append(t, 0, 400)
	}()
	for range 50 {
		if _, _, err := x.Lookup(Query{Account: "111122223333", Limit: 5}); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	q := Query{Account: "111122223333", Limit: 50}
	if got, want := pages(t, x, q), reference(t, tr.dir, q); !slices.Equal(got, want) {
		t.Errorf("after a concurrent writer: index %d records, Read %d", len(got), len(want))
	}
}

func TestIndexSkipsRemovedSegments(t *testing.T) {
	t.Parallel()
	tr := newIndexTrail(t)
	tr.append(t, 0, 200)
	x := NewIndex(tr.dir)
	q := Query{Account: "111122223333", Limit: 50}
	before := len(pages(t, x, q))
	segs, _ := listSegments(tr.dir, "a")
	for _, s := range segs["a"][:2] { // as retention does
		if err := os.Remove(filepath.Join(tr.dir, s.Name)); err != nil {
			t.Fatal(err)
		}
	}
	got, want := pages(t, x, q), reference(t, tr.dir, q)
	if !slices.Equal(got, want) || len(got) >= before {
		t.Errorf("after removing segments: index %d records, Read %d, before %d", len(got), len(want), before)
	}
}

func TestIndexCursorOfAnotherTrail(t *testing.T) {
	t.Parallel()
	tr := newIndexTrail(t)
	tr.append(t, 0, 30)
	x := NewIndex(tr.dir)
	for name, c := range map[string]Cursor{
		"unknown-node": {Key: 1 << 31, Node: "zzz", Seq: 5},
		"huge-seq":     {Key: 1<<32 - 1, Node: "a", Seq: 1<<64 - 1},
		"zero":         {},
	} {
		found, _, err := x.Lookup(Query{Account: "111122223333", Limit: 50, After: &c})
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, f := range found {
			if f.Event.RecipientAccountID != "111122223333" {
				t.Errorf("%s: a record of account %s", name, f.Event.RecipientAccountID)
			}
		}
	}
	if _, _, err := x.Lookup(Query{Account: "111122223333"}); err != ErrLookupLimit {
		t.Errorf("limit 0: %v", err)
	}
}

// steppedEvent is the record i of a trail whose node "a" clock runs 8 days
// ahead for records [60, 80) and whose node "b" clock is set back by 3
// minutes at record 100; one record in 9 of node "a" was written late (a
// call that ran up to 25 s).
func steppedEvent(i int, base time.Time) (string, *Event) {
	node := "a"
	if i%2 == 1 {
		node = "b"
	}
	at := base.Add(time.Duration(i) * time.Second)
	switch {
	case node == "a" && i >= 60 && i < 80:
		at = at.Add(8 * 24 * time.Hour)
	case node == "a" && i%9 == 0:
		at = at.Add(-time.Duration(i%26) * time.Second)
	case node == "b" && i >= 100:
		at = at.Add(-3 * time.Minute)
	}
	e := testEvent(i, at)
	e.EventID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	e.EventSource = EventSource
	return node, e
}

// TestIndexTimeRangeWhateverTheClock checks that StartTime and EndTime
// select exactly the records whose eventTime they bound, page by page, on
// a trail whose clocks were stepped ahead and back and whose records were
// written late: every window of a grid over the trail, with and without an
// attribute, agrees with a scan of every record.
func TestIndexTimeRangeWhateverTheClock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	logs := map[string]*Log{}
	for _, node := range []string{"a", "b"} {
		o := testOptions(dir, node)
		o.MaxSegmentBytes = 8 << 10
		logs[node] = openLog(t, o)
		defer logs[node].Close()
	}
	x := NewIndex(dir)
	for i := range 240 {
		if i == 120 {
			if err := x.Refresh(); err != nil { // the index follows the steps as they come
				t.Fatal(err)
			}
		}
		node, e := steppedEvent(i, base)
		if err := logs[node].Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	acct := "111122223333"
	var edges []time.Time
	for s := -200; s <= 260; s += 31 {
		edges = append(edges, base.Add(time.Duration(s)*time.Second))
	}
	ahead := base.Add(8 * 24 * time.Hour)
	edges = append(edges, ahead.Add(59*time.Second), ahead.Add(70*time.Second), ahead.Add(90*time.Second))
	all := readAll(t, dir)
	checked, nonEmpty := 0, 0
	check := func(q Query, limits ...int) {
		t.Helper()
		for _, limit := range limits {
			q.Limit = limit
			want := referenceIn(all, q)
			if got := pages(t, x, q); !slices.Equal(got, want) {
				t.Fatalf("[%v, %v] %v limit %d: index %d records, Read %d\nindex %v\nread  %v",
					q.Start, q.End, q.Value, limit, len(got), len(want), got, want)
			}
			checked++
			if len(want) > 0 {
				nonEmpty++
			}
		}
	}
	for i, s := range edges {
		check(Query{Account: acct, End: s}, 1, 50)
		check(Query{Account: acct, Start: s}, 50)
		for _, e := range edges[i:] {
			check(Query{Account: acct, Start: s, End: e}, 3, 50)
			check(Query{Account: acct, Key: LookupEventName, Value: "Encrypt", Start: s, End: e}, 50)
		}
	}
	// The clock-step case of the finding, in the index: a window after the
	// step back finds the records written in it.
	q := Query{Account: acct, Start: base.Add(150 * time.Second), End: base.Add(160 * time.Second), Limit: 50}
	found, _, err := x.Lookup(q)
	if err != nil || len(found) < 8 {
		t.Fatalf("window after the step back: %d records, %v", len(found), err)
	}
	if nonEmpty < checked/3 {
		t.Fatalf("only %d of %d windows hold records: the test proves little", nonEmpty, checked)
	}
	x.mu.RLock()
	runsA, runsB := len(x.nodes["a"].runs), len(x.nodes["b"].runs)
	x.mu.RUnlock()
	if runsA != 2 || runsB != 2 {
		t.Errorf("runs: node a %d, node b %d; want 2 each (one per step back, none for late records)", runsA, runsB)
	}
}
