package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// Reopen opens again the database behind a store that the suite has closed,
// and returns a new store over the same data.
type Reopen func(t *testing.T) store.Store

// Opener creates a fresh, empty database for one test and returns a store
// over it together with a Reopen for the same database. The Opener removes
// the database in a t.Cleanup of its own; the suite closes the stores.
type Opener func(t *testing.T) (store.Store, Reopen)

// Run runs the conformance suite against the backend that open creates.
// Every sub-test gets its own fresh database.
func Run(t *testing.T, open Opener) {
	t.Helper()
	fresh := func(t *testing.T) (store.Store, Reopen) {
		s, reopen := open(t)
		return closeOnCleanup(t, s), func(t *testing.T) store.Store { return closeOnCleanup(t, reopen(t)) }
	}
	t.Run("get", func(t *testing.T) { testGet(t, fresh) })
	t.Run("list", func(t *testing.T) { testList(t, fresh) })
	t.Run("apply", func(t *testing.T) { testApply(t, fresh) })
	t.Run("feed", func(t *testing.T) { testFeed(t, fresh) })
	t.Run("concurrency", func(t *testing.T) { testConcurrency(t, fresh) })
	t.Run("update", func(t *testing.T) { testUpdate(t, fresh) })
	t.Run("lease", func(t *testing.T) { testLease(t, fresh) })
	t.Run("durability", func(t *testing.T) { testDurability(t, fresh) })
	t.Run("large", func(t *testing.T) { testLarge(t, fresh) })
	t.Run("context", func(t *testing.T) { testContext(t, fresh) })
	t.Run("snapshot", func(t *testing.T) { testSnapshot(t, fresh) })
}

// closer makes Close idempotent so that a test may close a store early and
// the cleanup still runs safely.
type closer struct {
	store.Store
	once sync.Once
	err  error
}

func (c *closer) Close() error {
	c.once.Do(func() { c.err = c.Store.Close() })
	return c.err
}

func closeOnCleanup(t *testing.T, s store.Store) store.Store {
	c := &closer{Store: s}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustApply(t *testing.T, s store.Store, ops ...store.Op) {
	t.Helper()
	if err := s.Apply(ctx(t), ops...); err != nil {
		t.Fatalf("Apply(%d ops): %v", len(ops), err)
	}
}

func mustGet(t *testing.T, s store.Store, kind, id string) store.Record {
	t.Helper()
	r, err := s.Get(ctx(t), kind, id)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", kind, id, err)
	}
	return r
}

func assertMissing(t *testing.T, s store.Store, kind, id string) {
	t.Helper()
	if r, err := s.Get(ctx(t), kind, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q, %q) = version %d, %v; want ErrNotFound", kind, id, r.Version, err)
	}
}

func allChanges(t *testing.T, s store.Store, since int64) []store.Change {
	t.Helper()
	var out []store.Change
	for {
		cs, err := s.Changes(ctx(t), since, 1000)
		if err != nil {
			t.Fatalf("Changes(%d): %v", since, err)
		}
		if len(cs) == 0 {
			return out
		}
		out = append(out, cs...)
		since = cs[len(cs)-1].Seq
	}
}

func put(kind, id, data string) store.Op {
	return store.Op{Kind: kind, ID: id, Data: []byte(data)}
}

func testGet(t *testing.T, open Opener) {
	tests := []struct {
		name     string
		kind, id string
		data     []byte
	}{
		{"ok/plain", "key", "1234abcd-12ab-34cd-56ef-1234567890ab", []byte(`{"state":"Enabled"}`)},
		{"ok/binary-id", "k\x00ind", "\x00\xff\xfe\x80id\x00", []byte{0, 1, 2, 255}},
		{"ok/invalid-utf8-id", "key", "\xc3\x28\xa0\xa1", []byte("x")},
		{"ok/empty-data", "key", "empty", nil},
		{"ok/unicode", "alias", "alias/日本語", []byte("ü")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := open(t)
			mustApply(t, s, store.Op{Kind: tc.kind, ID: tc.id, Data: tc.data, Create: true})
			r := mustGet(t, s, tc.kind, tc.id)
			if r.Kind != tc.kind || r.ID != tc.id || r.Version != 1 || !bytes.Equal(r.Data, tc.data) {
				t.Fatalf("Get = %+v; want kind %q id %q version 1 data %x", r, tc.kind, tc.id, tc.data)
			}
		})
	}
	t.Run("fail/missing", func(t *testing.T) {
		s, _ := open(t)
		mustApply(t, s, put("key", "a", "1"))
		assertMissing(t, s, "key", "b")
		assertMissing(t, s, "other", "a")
		assertMissing(t, s, "key", "a\x00")
		assertMissing(t, s, "key", "")
	})
	t.Run("ok/data-not-aliased", func(t *testing.T) {
		s, _ := open(t)
		data := []byte("original")
		mustApply(t, s, store.Op{Kind: "key", ID: "a", Data: data})
		data[0] = 'X'
		r := mustGet(t, s, "key", "a")
		if string(r.Data) != "original" {
			t.Fatalf("stored data changed with the caller's slice: %q", r.Data)
		}
	})
}

func testList(t *testing.T, open Opener) {
	s, _ := open(t)
	ids := []string{"b", "a", "a\x00", "ab", "abc", "ac", "\xff", "\xff\xff", "\xff\x00", "b\xff", "c", ""}
	var ops []store.Op
	for _, id := range ids {
		ops = append(ops, put("key", id, "d:"+id))
	}
	ops = append(ops, put("alias", "a", "other kind"), put("ke", "ya", "prefix of kind"), put("keyx", "a", "longer kind"))
	mustApply(t, s, ops...)

	tests := []struct {
		name                string
		kind, prefix, after string
		limit               int
		want                []string
	}{
		{"ok/all", "key", "", "", 0, []string{"", "a", "a\x00", "ab", "abc", "ac", "b", "b\xff", "c", "\xff", "\xff\x00", "\xff\xff"}},
		{"ok/negative-limit", "key", "", "", -1, []string{"", "a", "a\x00", "ab", "abc", "ac", "b", "b\xff", "c", "\xff", "\xff\x00", "\xff\xff"}},
		{"ok/prefix", "key", "a", "", 0, []string{"a", "a\x00", "ab", "abc", "ac"}},
		{"ok/prefix-longer", "key", "ab", "", 0, []string{"ab", "abc"}},
		{"ok/prefix-ff", "key", "\xff", "", 0, []string{"\xff", "\xff\x00", "\xff\xff"}},
		{"ok/prefix-ffff", "key", "\xff\xff", "", 0, []string{"\xff\xff"}},
		{"ok/prefix-b", "key", "b", "", 0, []string{"b", "b\xff"}},
		{"ok/after", "key", "", "ab", 0, []string{"abc", "ac", "b", "b\xff", "c", "\xff", "\xff\x00", "\xff\xff"}},
		{"ok/after-not-stored", "key", "", "aa", 3, []string{"ab", "abc", "ac"}},
		{"ok/prefix-after-limit", "key", "a", "a", 2, []string{"a\x00", "ab"}},
		{"ok/limit", "key", "", "", 2, []string{"", "a"}},
		{"ok/after-before-prefix", "key", "b", "a", 0, []string{"b", "b\xff"}},
		{"ok/after-past-end", "key", "", "\xff\xff", 0, nil},
		{"ok/no-match", "key", "zz", "", 0, nil},
		{"ok/other-kind", "alias", "", "", 0, []string{"a"}},
		{"ok/kind-exact", "ke", "", "", 0, []string{"ya"}},
		{"ok/missing-kind", "nothing", "", "", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := s.List(ctx(t), tc.kind, tc.prefix, tc.after, tc.limit)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.ID)
				if r.Kind != tc.kind || r.Version != 1 {
					t.Errorf("record %q: kind %q version %d", r.ID, r.Kind, r.Version)
				}
				if tc.kind == "key" && string(r.Data) != "d:"+r.ID {
					t.Errorf("record %q: data %q", r.ID, r.Data)
				}
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Fatalf("List(%q, %q, %q, %d) = %q; want %q", tc.kind, tc.prefix, tc.after, tc.limit, got, tc.want)
			}
		})
	}
}

func testApply(t *testing.T, open Opener) {
	tests := []struct {
		name    string
		setup   [][]store.Op // each applied and required to succeed
		ops     []store.Op
		wantErr error
		// want maps id -> expected version (0: absent) and data, kind "key".
		want map[string]struct {
			version int64
			data    string
		}
	}{
		{
			name: "ok/create", ops: []store.Op{{Kind: "key", ID: "a", Data: []byte("1"), Create: true}},
			want: map[string]struct {
				version int64
				data    string
			}{"a": {1, "1"}},
		},
		{
			name: "fail/create-exists", setup: [][]store.Op{{put("key", "a", "1")}},
			ops: []store.Op{{Kind: "key", ID: "a", Data: []byte("2"), Create: true}}, wantErr: store.ErrExists,
			want: map[string]struct {
				version int64
				data    string
			}{"a": {1, "1"}},
		},
		{
			name: "ok/put-increments", setup: [][]store.Op{{put("key", "a", "1")}, {put("key", "a", "2")}},
			ops: []store.Op{put("key", "a", "3")},
			want: map[string]struct {
				version int64
				data    string
			}{"a": {3, "3"}},
		},
		{
			name: "ok/if-version", setup: [][]store.Op{{put("key", "a", "1")}, {put("key", "a", "2")}},
			ops: []store.Op{{Kind: "key", ID: "a", Data: []byte("3"), IfVersion: 2}},
			want: map[string]struct {
				version int64
				data    string
			}{"a": {3, "3"}},
		},
		{
			name: "fail/if-version-stale", setup: [][]store.Op{{put("key", "a", "1")}, {put("key", "a", "2")}},
			ops: []store.Op{{Kind: "key", ID: "a", Data: []byte("3"), IfVersion: 1}}, wantErr: store.ErrConflict,
			want: map[string]struct {
				version int64
				data    string
			}{"a": {2, "2"}},
		},
		{
			name: "fail/if-version-missing",
			ops:  []store.Op{{Kind: "key", ID: "a", Data: []byte("3"), IfVersion: 1}}, wantErr: store.ErrConflict,
			want: map[string]struct {
				version int64
				data    string
			}{"a": {}},
		},
		{
			name:  "fail/batch-atomic-conflict",
			setup: [][]store.Op{{put("key", "b", "1")}},
			ops: []store.Op{
				{Kind: "key", ID: "a", Data: []byte("new"), Create: true},
				{Kind: "key", ID: "c", Data: []byte("new")},
				{Kind: "key", ID: "b", Data: []byte("new"), IfVersion: 7},
			},
			wantErr: store.ErrConflict,
			want: map[string]struct {
				version int64
				data    string
			}{"a": {}, "b": {1, "1"}, "c": {}},
		},
		{
			name:  "fail/batch-atomic-exists",
			setup: [][]store.Op{{put("key", "b", "1")}, {put("key", "d", "1")}},
			ops: []store.Op{
				{Kind: "key", ID: "d", Delete: true},
				{Kind: "key", ID: "a", Data: []byte("new")},
				{Kind: "key", ID: "b", Data: []byte("new"), Create: true},
			},
			wantErr: store.ErrExists,
			want: map[string]struct {
				version int64
				data    string
			}{"a": {}, "b": {1, "1"}, "d": {1, "1"}},
		},
		{
			name:  "ok/batch",
			setup: [][]store.Op{{put("key", "b", "1")}, {put("key", "d", "1")}},
			ops: []store.Op{
				{Kind: "key", ID: "a", Data: []byte("A"), Create: true},
				{Kind: "key", ID: "b", Data: []byte("B"), IfVersion: 1},
				{Kind: "key", ID: "d", Delete: true, IfVersion: 1},
				{Kind: "alias", ID: "a", Data: []byte("alias")},
			},
			want: map[string]struct {
				version int64
				data    string
			}{"a": {1, "A"}, "b": {2, "B"}, "d": {}},
		},
		{
			name: "ok/delete", setup: [][]store.Op{{put("key", "a", "1")}},
			ops: []store.Op{{Kind: "key", ID: "a", Delete: true}},
			want: map[string]struct {
				version int64
				data    string
			}{"a": {}},
		},
		{
			name: "ok/delete-missing",
			ops:  []store.Op{{Kind: "key", ID: "a", Delete: true}},
			want: map[string]struct {
				version int64
				data    string
			}{"a": {}},
		},
		{
			name: "ok/delete-if-version", setup: [][]store.Op{{put("key", "a", "1")}, {put("key", "a", "2")}},
			ops: []store.Op{{Kind: "key", ID: "a", Delete: true, IfVersion: 2}},
			want: map[string]struct {
				version int64
				data    string
			}{"a": {}},
		},
		{
			name: "fail/delete-if-version-stale", setup: [][]store.Op{{put("key", "a", "1")}, {put("key", "a", "2")}},
			ops: []store.Op{{Kind: "key", ID: "a", Delete: true, IfVersion: 1}}, wantErr: store.ErrConflict,
			want: map[string]struct {
				version int64
				data    string
			}{"a": {2, "2"}},
		},
		{
			name: "fail/delete-if-version-missing",
			ops:  []store.Op{{Kind: "key", ID: "a", Delete: true, IfVersion: 1}}, wantErr: store.ErrConflict,
			want: map[string]struct {
				version int64
				data    string
			}{"a": {}},
		},
		{
			name:  "ok/recreate-after-delete",
			setup: [][]store.Op{{put("key", "a", "1")}, {put("key", "a", "2")}, {{Kind: "key", ID: "a", Delete: true}}},
			ops:   []store.Op{{Kind: "key", ID: "a", Data: []byte("again"), Create: true}},
			want: map[string]struct {
				version int64
				data    string
			}{"a": {1, "again"}},
		},
		{
			name: "ok/empty-batch",
			ops:  nil,
			want: map[string]struct {
				version int64
				data    string
			}{"a": {}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := open(t)
			for _, ops := range tc.setup {
				mustApply(t, s, ops...)
			}
			before, err := s.LastSeq(ctx(t))
			if err != nil {
				t.Fatalf("LastSeq: %v", err)
			}
			err = s.Apply(ctx(t), tc.ops...)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Apply = %v; want %v", err, tc.wantErr)
			}
			for id, w := range tc.want {
				if w.version == 0 {
					assertMissing(t, s, "key", id)
					continue
				}
				r := mustGet(t, s, "key", id)
				if r.Version != w.version || string(r.Data) != w.data {
					t.Errorf("record %q = version %d data %q; want %d %q", id, r.Version, r.Data, w.version, w.data)
				}
			}
			if tc.wantErr != nil {
				if cs := allChanges(t, s, before); len(cs) != 0 {
					t.Fatalf("failed Apply left changes in the feed: %+v", cs)
				}
			}
		})
	}
}

func testFeed(t *testing.T, open Opener) {
	t.Run("ok/empty", func(t *testing.T) {
		s, _ := open(t)
		seq, err := s.LastSeq(ctx(t))
		if err != nil || seq != 0 {
			t.Fatalf("LastSeq on empty store = %d, %v; want 0, nil", seq, err)
		}
		if cs := allChanges(t, s, 0); len(cs) != 0 {
			t.Fatalf("Changes on empty store = %+v", cs)
		}
	})
	t.Run("ok/every-change-once", func(t *testing.T) {
		s, _ := open(t)
		type kc struct {
			kind, id string
			del      bool
		}
		var want []kc
		step := func(ops ...store.Op) {
			mustApply(t, s, ops...)
			for _, op := range ops {
				want = append(want, kc{op.Kind, op.ID, op.Delete})
			}
		}
		step(put("key", "a", "1"))
		step(put("key", "a", "2"), put("alias", "\x00x", "1"))
		step(store.Op{Kind: "key", ID: "b", Data: []byte("1"), Create: true})
		step(store.Op{Kind: "key", ID: "a", Delete: true})
		step(store.Op{Kind: "key", ID: "b", Data: []byte("2"), IfVersion: 1})
		// No-op and failed writes add nothing.
		mustApply(t, s, store.Op{Kind: "key", ID: "missing", Delete: true})
		if err := s.Apply(ctx(t), put("key", "c", "1"), store.Op{Kind: "key", ID: "b", IfVersion: 9}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Apply = %v; want ErrConflict", err)
		}
		cs := allChanges(t, s, 0)
		if len(cs) != len(want) {
			t.Fatalf("feed has %d changes; want %d: %+v", len(cs), len(want), cs)
		}
		// Changes within one batch share no order guarantee; compare as
		// multisets per batch by sorting is overkill: batches above put ops
		// in distinct records, so compare the sets and the order of batches.
		got := map[kc]int{}
		var last int64
		for i, c := range cs {
			if c.Seq <= last {
				t.Fatalf("change %d: Seq %d not above %d", i, c.Seq, last)
			}
			last = c.Seq
			got[kc{c.Kind, c.ID, c.Deleted}]++
		}
		wantSet := map[kc]int{}
		for _, w := range want {
			wantSet[w]++
		}
		if fmt.Sprint(got) != fmt.Sprint(wantSet) {
			t.Fatalf("feed = %v; want %v", got, wantSet)
		}
		if cs[0].Kind != "key" || cs[0].ID != "a" || cs[len(cs)-1].ID != "b" || cs[len(cs)-2].ID != "a" || !cs[len(cs)-2].Deleted {
			t.Fatalf("feed order wrong: %+v", cs)
		}
		seq, err := s.LastSeq(ctx(t))
		if err != nil || seq != last {
			t.Fatalf("LastSeq = %d, %v; want %d", seq, err, last)
		}
		// since and limit.
		part, err := s.Changes(ctx(t), cs[1].Seq, 2)
		if err != nil || len(part) != 2 || part[0] != cs[2] || part[1] != cs[3] {
			t.Fatalf("Changes(%d, 2) = %+v, %v; want %+v", cs[1].Seq, part, err, cs[2:4])
		}
		if rest, err := s.Changes(ctx(t), last, 10); err != nil || len(rest) != 0 {
			t.Fatalf("Changes(LastSeq) = %+v, %v; want none", rest, err)
		}
	})
}

func testConcurrency(t *testing.T, open Opener) {
	const workers = 16
	t.Run("ok/one-winner-per-version", func(t *testing.T) {
		s, _ := open(t)
		mustApply(t, s, put("key", "a", "0"))
		for v := int64(1); v <= 3; v++ {
			var wins, conflicts atomic.Int32
			var wg sync.WaitGroup
			for g := 0; g < workers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.Apply(context.Background(), store.Op{Kind: "key", ID: "a", Data: []byte(fmt.Sprint(g)), IfVersion: v})
					switch {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, store.ErrConflict):
						conflicts.Add(1)
					default:
						t.Errorf("Apply: %v", err)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 || conflicts.Load() != workers-1 {
				t.Fatalf("version %d: %d winners, %d conflicts; want 1, %d", v, wins.Load(), conflicts.Load(), workers-1)
			}
		}
		if r := mustGet(t, s, "key", "a"); r.Version != 4 {
			t.Fatalf("version = %d; want 4", r.Version)
		}
	})
	t.Run("ok/one-create-wins", func(t *testing.T) {
		s, _ := open(t)
		var wins, exists atomic.Int32
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.Apply(context.Background(), store.Op{Kind: "key", ID: "a", Data: []byte("x"), Create: true})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrExists):
					exists.Add(1)
				default:
					t.Errorf("Apply: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || exists.Load() != workers-1 {
			t.Fatalf("%d creates won, %d ErrExists; want 1, %d", wins.Load(), exists.Load(), workers-1)
		}
	})
	t.Run("ok/counter", func(t *testing.T) {
		s, _ := open(t)
		const perWorker = 10
		mustApply(t, s, put("counter", "c", "0"))
		var wg sync.WaitGroup
		var retries atomic.Int64
		for g := 0; g < workers/2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWorker; i++ {
					for {
						r, err := s.Get(context.Background(), "counter", "c")
						if err != nil {
							t.Errorf("Get: %v", err)
							return
						}
						var n int
						fmt.Sscan(string(r.Data), &n)
						err = s.Apply(context.Background(), store.Op{Kind: "counter", ID: "c", Data: []byte(fmt.Sprint(n + 1)), IfVersion: r.Version})
						if err == nil {
							break
						}
						if !errors.Is(err, store.ErrConflict) {
							t.Errorf("Apply: %v", err)
							return
						}
						retries.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		r := mustGet(t, s, "counter", "c")
		want := workers / 2 * perWorker
		if string(r.Data) != fmt.Sprint(want) || r.Version != int64(want+1) {
			t.Fatalf("counter = %q version %d; want %d version %d (%d retries)", r.Data, r.Version, want, want+1, retries.Load())
		}
	})
	t.Run("ok/feed-never-skips", func(t *testing.T) {
		// A reader tailing the feed while writers commit concurrently must
		// end up with exactly the feed that exists afterwards: a change
		// that appeared below a Seq the reader already passed is a skip.
		s, _ := open(t)
		const perWorker = 25
		done := make(chan struct{})
		var seen []store.Change
		readerErr := make(chan error, 1)
		go func() {
			var since int64
			for {
				select {
				case <-done:
					readerErr <- nil
					return
				default:
				}
				cs, err := s.Changes(context.Background(), since, 7)
				if err != nil {
					readerErr <- err
					return
				}
				for _, c := range cs {
					if c.Seq <= since {
						readerErr <- fmt.Errorf("Seq %d after %d", c.Seq, since)
						return
					}
					since = c.Seq
					seen = append(seen, c)
				}
			}
		}()
		var wg sync.WaitGroup
		for g := 0; g < workers/2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWorker; i++ {
					if err := s.Apply(context.Background(), put("key", fmt.Sprintf("w%d-%d", g, i), "x")); err != nil {
						t.Errorf("Apply: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(done)
		if err := <-readerErr; err != nil {
			t.Fatalf("reader: %v", err)
		}
		all := allChanges(t, s, 0)
		if len(all) != workers/2*perWorker {
			t.Fatalf("feed has %d changes; want %d", len(all), workers/2*perWorker)
		}
		var since int64
		if len(seen) > 0 {
			since = seen[len(seen)-1].Seq
		}
		seen = append(seen, allChanges(t, s, since)...)
		if len(seen) != len(all) {
			t.Fatalf("tailing reader saw %d changes; feed has %d (a change was skipped)", len(seen), len(all))
		}
		for i := range all {
			if seen[i] != all[i] {
				t.Fatalf("change %d: reader saw %+v; feed has %+v", i, seen[i], all[i])
			}
		}
	})
}

func testLease(t *testing.T, open Opener) {
	s, _ := open(t)
	try := func(t *testing.T, name, holder string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := s.TryLease(ctx(t), name, holder, ttl)
		if err != nil || got != want {
			t.Fatalf("TryLease(%q, %q) = %v, %v; want %v", name, holder, got, err, want)
		}
	}
	release := func(t *testing.T, name, holder string) {
		t.Helper()
		if err := s.ReleaseLease(ctx(t), name, holder); err != nil {
			t.Fatalf("ReleaseLease(%q, %q): %v", name, holder, err)
		}
	}
	t.Run("ok/acquire-renew", func(t *testing.T) {
		try(t, "rotate", "node-1", time.Minute, true)
		try(t, "rotate", "node-1", time.Minute, true)
	})
	t.Run("fail/other-holder", func(t *testing.T) {
		try(t, "rotate", "node-2", time.Minute, false)
	})
	t.Run("ok/independent-names", func(t *testing.T) {
		try(t, "delete", "node-2", time.Minute, true)
		try(t, "delete", "node-1", time.Minute, false)
	})
	t.Run("ok/release-by-other-is-noop", func(t *testing.T) {
		release(t, "rotate", "node-2")
		try(t, "rotate", "node-2", time.Minute, false)
	})
	t.Run("ok/release", func(t *testing.T) {
		release(t, "rotate", "node-1")
		try(t, "rotate", "node-2", time.Minute, true)
		try(t, "rotate", "node-1", time.Minute, false)
		release(t, "never-held", "node-1")
	})
	t.Run("ok/expiry", func(t *testing.T) {
		try(t, "short", "node-1", 300*time.Millisecond, true)
		try(t, "short", "node-2", time.Minute, false)
		time.Sleep(600 * time.Millisecond)
		try(t, "short", "node-2", time.Minute, true)
		try(t, "short", "node-1", time.Minute, false)
	})
	t.Run("ok/one-winner", func(t *testing.T) {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := s.TryLease(context.Background(), "race", fmt.Sprintf("node-%d", g), time.Minute)
				if err != nil {
					t.Errorf("TryLease: %v", err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d holders of one lease; want 1", wins.Load())
		}
	})
}

func testDurability(t *testing.T, open Opener) {
	t.Run("ok/reopen", func(t *testing.T) {
		s, reopen := open(t)
		mustApply(t, s, put("key", "a", "1"), put("key", "\x00b", "2"))
		mustApply(t, s, put("key", "a", "3"))
		mustApply(t, s, put("key", "gone", "x"))
		mustApply(t, s, store.Op{Kind: "key", ID: "gone", Delete: true})
		if ok, err := s.TryLease(ctx(t), "l", "node-1", time.Hour); err != nil || !ok {
			t.Fatalf("TryLease = %v, %v", ok, err)
		}
		last, err := s.LastSeq(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		before := allChanges(t, s, 0)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s2 := reopen(t)
		if r := mustGet(t, s2, "key", "a"); r.Version != 2 || string(r.Data) != "3" {
			t.Fatalf("after reopen: %+v", r)
		}
		if r := mustGet(t, s2, "key", "\x00b"); r.Version != 1 || string(r.Data) != "2" {
			t.Fatalf("after reopen: %+v", r)
		}
		assertMissing(t, s2, "key", "gone")
		if got, err := s2.LastSeq(ctx(t)); err != nil || got != last {
			t.Fatalf("LastSeq after reopen = %d, %v; want %d", got, err, last)
		}
		after := allChanges(t, s2, 0)
		if fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("feed after reopen = %+v; want %+v", after, before)
		}
		if ok, err := s2.TryLease(ctx(t), "l", "node-2", time.Hour); err != nil || ok {
			t.Fatalf("lease lost on reopen: TryLease = %v, %v", ok, err)
		}
		mustApply(t, s2, put("key", "new", "1"))
		cs := allChanges(t, s2, last)
		if len(cs) != 1 || cs[0].Seq <= last || cs[0].ID != "new" {
			t.Fatalf("first change after reopen = %+v; want one with Seq > %d", cs, last)
		}
	})
}

func testLarge(t *testing.T, open Opener) {
	s, _ := open(t)
	for _, size := range []int{1 << 20, 4 << 20} {
		t.Run(fmt.Sprintf("ok/%dKiB", size>>10), func(t *testing.T) {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(i*7 + i>>11)
			}
			id := fmt.Sprint("big", size)
			mustApply(t, s, store.Op{Kind: "blob", ID: id, Data: data})
			r := mustGet(t, s, "blob", id)
			if !bytes.Equal(r.Data, data) {
				t.Fatalf("read back %d bytes, differ from the %d written", len(r.Data), len(data))
			}
			rs, err := s.List(ctx(t), "blob", id, "", 0)
			if err != nil || len(rs) != 1 || !bytes.Equal(rs[0].Data, data) {
				t.Fatalf("List = %d records, %v", len(rs), err)
			}
		})
	}
}

func testContext(t *testing.T, open Opener) {
	s, _ := open(t)
	mustApply(t, s, put("key", "a", "1"))
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"get", func(c context.Context) error { _, err := s.Get(c, "key", "a"); return err }},
		{"list", func(c context.Context) error { _, err := s.List(c, "key", "", "", 0); return err }},
		{"apply", func(c context.Context) error { return s.Apply(c, put("key", "ctx", "1")) }},
		{"changes", func(c context.Context) error { _, err := s.Changes(c, 0, 10); return err }},
		{"last-seq", func(c context.Context) error { _, err := s.LastSeq(c); return err }},
		{"try-lease", func(c context.Context) error { _, err := s.TryLease(c, "ctx", "n", time.Minute); return err }},
		{"release-lease", func(c context.Context) error { return s.ReleaseLease(c, "ctx", "n") }},
	}
	for _, c := range calls {
		t.Run("fail/canceled-"+c.name, func(t *testing.T) {
			if err := c.call(canceled); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v; want context.Canceled", err)
			}
		})
		t.Run("fail/deadline-"+c.name, func(t *testing.T) {
			if err := c.call(expired); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v; want context.DeadlineExceeded", err)
			}
		})
	}
	t.Run("ok/nothing-written", func(t *testing.T) {
		assertMissing(t, s, "key", "ctx")
		if ok, err := s.TryLease(ctx(t), "ctx", "other", time.Minute); err != nil || !ok {
			t.Fatalf("lease taken by a canceled call: %v, %v", ok, err)
		}
	})
}

// testUpdate races writers through store.Update as two nodes would: each
// "node" has its own Locks (its goroutines queue), and the nodes meet only
// through IfVersion and Create, retrying with backoff.
func testUpdate(t *testing.T, open Opener) {
	const nodes, perNode = 2, 25
	t.Run("ok/every-writer-succeeds", func(t *testing.T) {
		s, _ := open(t)
		c := ctx(t)
		mustApply(t, s, put("counter", "c", "0"))
		var wg sync.WaitGroup
		var attempts atomic.Int64
		for n := 0; n < nodes; n++ {
			locks := &store.Locks{}
			for g := 0; g < perNode; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := store.Update(c, locks, []string{"counter/c"}, func() error {
						attempts.Add(1)
						r, err := s.Get(c, "counter", "c")
						if err != nil {
							return err
						}
						var v int
						fmt.Sscan(string(r.Data), &v)
						return s.Apply(c, store.Op{Kind: "counter", ID: "c", Data: []byte(fmt.Sprint(v + 1)), IfVersion: r.Version})
					})
					if err != nil {
						t.Errorf("Update: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		r := mustGet(t, s, "counter", "c")
		if want := nodes * perNode; string(r.Data) != fmt.Sprint(want) {
			t.Fatalf("counter = %s; want %d (%d attempts)", r.Data, want, attempts.Load())
		}
		t.Logf("%d writers, %d attempts", nodes*perNode, attempts.Load())
	})
	t.Run("ok/limit-exact", func(t *testing.T) {
		// Each writer creates an item and raises the count in one Apply,
		// refusing once the count reaches the limit: no interleaving may
		// create more items than the limit, and none may be refused
		// while the limit is not reached.
		s, _ := open(t)
		c := ctx(t)
		const limit = 10
		errLimit := errors.New("limit reached")
		var wg sync.WaitGroup
		var created, refused atomic.Int32
		for n := 0; n < nodes; n++ {
			locks := &store.Locks{}
			for g := 0; g < perNode; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					item := fmt.Sprintf("n%d-g%02d", n, g)
					err := store.Update(c, locks, []string{"count/c"}, func() error {
						count := store.Op{Kind: "count", ID: "c", Create: true}
						v := 0
						r, err := s.Get(c, "count", "c")
						switch {
						case err == nil:
							fmt.Sscan(string(r.Data), &v)
							count = store.Op{Kind: "count", ID: "c", IfVersion: r.Version}
						case !errors.Is(err, store.ErrNotFound):
							return err
						}
						if v >= limit {
							return errLimit
						}
						count.Data = []byte(fmt.Sprint(v + 1))
						err = s.Apply(c, count, store.Op{Kind: "item", ID: item, Data: []byte("x"), Create: true})
						if errors.Is(err, store.ErrExists) {
							return fmt.Errorf("%w: %w", store.ErrConflict, err) // another node created the count
						}
						return err
					})
					switch {
					case err == nil:
						created.Add(1)
					case errors.Is(err, errLimit):
						refused.Add(1)
					default:
						t.Errorf("Update: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		items, err := s.List(c, "item", "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if created.Load() != limit || len(items) != limit || refused.Load() != nodes*perNode-limit {
			t.Fatalf("%d created, %d items stored, %d refused; want %d, %d, %d", created.Load(), len(items), refused.Load(), limit, limit, nodes*perNode-limit)
		}
		if r := mustGet(t, s, "count", "c"); string(r.Data) != fmt.Sprint(limit) {
			t.Fatalf("count = %s; want %d", r.Data, limit)
		}
	})
}
