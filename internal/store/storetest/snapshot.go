package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// snapshotter returns the store.Snapshotter behind s, if the backend has
// one; the suite's wrapper hides it from a plain type assertion.
func snapshotter(s store.Store) (store.Snapshotter, bool) {
	if c, ok := s.(*closer); ok {
		s = c.Store
	}
	sn, ok := s.(store.Snapshotter)
	return sn, ok
}

func testSnapshot(t *testing.T, open Opener) {
	fresh := func(t *testing.T) (store.Store, store.Snapshotter) {
		s, _ := open(t)
		sn, ok := snapshotter(s)
		if !ok {
			t.Skip("the backend is not a store.Snapshotter")
		}
		return s, sn
	}
	t.Run("ok/every-record-in-order", func(t *testing.T) {
		s, sn := fresh(t)
		mustApply(t, s, put("b", "2", "b2"), put("a", "z", "az"), put("b", "1", "b1"),
			store.Op{Kind: "a", ID: "\x00\xff", Data: []byte{0, 1, 0xff}}, put("c", "", ""))
		mustApply(t, s, put("b", "1", "b1 again"))
		mustApply(t, s, store.Op{Kind: "c", ID: "", Delete: true})
		var got []store.Record
		info, err := sn.Snapshot(ctx(t), func(r store.Record) error { got = append(got, r); return nil })
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		rec := func(kind, id string, v int64, data []byte) store.Record {
			return store.Record{Kind: kind, ID: id, Version: v, Data: data}
		}
		want := []store.Record{rec("a", "\x00\xff", 1, []byte{0, 1, 0xff}), rec("a", "z", 1, []byte("az")),
			rec("b", "1", 2, []byte("b1 again")), rec("b", "2", 1, []byte("b2"))}
		if len(got) != len(want) {
			t.Fatalf("Snapshot gave %d records, want %d: %v", len(got), len(want), got)
		}
		for i := range want {
			if got[i].Kind != want[i].Kind || got[i].ID != want[i].ID || got[i].Version != want[i].Version || !bytes.Equal(got[i].Data, want[i].Data) {
				t.Errorf("record %d = %q %q v%d %q, want %q %q v%d %q", i, got[i].Kind, got[i].ID, got[i].Version, got[i].Data, want[i].Kind, want[i].ID, want[i].Version, want[i].Data)
			}
		}
		last, err := s.LastSeq(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if info.LastSeq != last || info.Schema < 1 {
			t.Errorf("SnapshotInfo = %+v, want LastSeq %d and a schema version", info, last)
		}
		var c store.Census
		for _, r := range got {
			if err := c.Add(r); err != nil {
				t.Fatalf("Census.Add: %v", err)
			}
		}
		if sums := c.Sums(); len(sums) != 2 || sums["a"].Count != 2 || sums["b"].Count != 2 {
			t.Errorf("census = %v", sums)
		}
	})
	t.Run("ok/empty", func(t *testing.T) {
		_, sn := fresh(t)
		n := 0
		info, err := sn.Snapshot(ctx(t), func(store.Record) error { n++; return nil })
		if err != nil || n != 0 || info.LastSeq != 0 {
			t.Fatalf("Snapshot of an empty store: %d records, %+v, %v", n, info, err)
		}
	})
	t.Run("fail/callback-error", func(t *testing.T) {
		s, sn := fresh(t)
		mustApply(t, s, put("k", "1", "x"), put("k", "2", "y"))
		stop := errors.New("stop here")
		n := 0
		_, err := sn.Snapshot(ctx(t), func(store.Record) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("Snapshot with a failing callback: %d calls, %v; want 1 call and the callback's error", n, err)
		}
		// The store still serves after an aborted snapshot.
		mustApply(t, s, put("k", "3", "z"))
	})
	// One moment: a writer commits batches that each set every "acct"
	// record to the batch's generation and create its "log" record. A
	// snapshot that pauses after its first record, while the writer
	// commits more batches, must still see one generation throughout and
	// exactly that many log records; and the writer must not wait for it.
	t.Run("ok/one-moment-while-writing", func(t *testing.T) {
		s, sn := fresh(t)
		const accts = 8
		batch := func(gen int) []store.Op {
			ops := []store.Op{{Kind: "log", ID: fmt.Sprintf("%06d", gen), Data: []byte("x"), Create: true}}
			for i := range accts {
				ops = append(ops, put("acct", strconv.Itoa(i), strconv.Itoa(gen)))
			}
			return ops
		}
		mustApply(t, s, batch(1)...)
		var gen atomic.Int64
		gen.Store(1)
		stop := make(chan struct{})
		werr := make(chan error, 1)
		go func() {
			for g := 2; ; g++ {
				select {
				case <-stop:
					werr <- nil
					return
				default:
				}
				if err := s.Apply(ctx(t), batch(g)...); err != nil {
					werr <- err
					return
				}
				gen.Store(int64(g))
			}
		}()
		seen := map[string]string{}
		logs := 0
		first := true
		_, err := sn.Snapshot(ctx(t), func(r store.Record) error {
			if first {
				first = false
				at := gen.Load()
				deadline := time.Now().Add(20 * time.Second)
				for gen.Load() < at+3 {
					if time.Now().After(deadline) {
						return fmt.Errorf("the writer committed nothing for 20 s while a snapshot was open (generation %d)", gen.Load())
					}
					time.Sleep(time.Millisecond)
				}
			}
			switch r.Kind {
			case "acct":
				seen[r.ID] = string(r.Data)
			case "log":
				logs++
			}
			return nil
		})
		close(stop)
		if err := <-werr; err != nil {
			t.Fatalf("writer: %v", err)
		}
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if len(seen) != accts {
			t.Fatalf("snapshot saw %d acct records, want %d", len(seen), accts)
		}
		for id, g := range seen {
			if g != seen["0"] {
				t.Fatalf("snapshot is not one moment: acct 0 at generation %s, acct %s at %s", seen["0"], id, g)
			}
		}
		if strconv.Itoa(logs) != seen["0"] {
			t.Fatalf("snapshot is not one moment: %d log records, but the accts are at generation %s", logs, seen["0"])
		}
	})
}
