package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store"
)

// TestInRegion: a Region's view of a shared store keeps its regional kinds
// apart from the home Region's and another's, shares the other kinds,
// shows only its own changes under their kinds, and has leases of its own.
func TestInRegion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := openSQLite(t)
	regional := func(k string) bool { return k == "key" }
	eu := store.InRegion(raw, "eu-west-1", regional)
	ap := store.InRegion(raw, "ap-southeast-2", regional)
	if err := raw.Apply(ctx, store.Op{Kind: "key", ID: "k", Data: []byte("home")}, store.Op{Kind: "user", ID: "u", Data: []byte("shared")}); err != nil {
		t.Fatal(err)
	}
	since, _ := raw.LastSeq(ctx)
	if _, err := eu.Get(ctx, "key", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("eu-west-1 sees the home Region's key: %v", err)
	}
	if r, err := eu.Get(ctx, "user", "u"); err != nil || string(r.Data) != "shared" {
		t.Fatalf("eu-west-1 does not see the shared record: %v", err)
	}
	if err := eu.Apply(ctx, store.Op{Kind: "key", ID: "k", Data: []byte("eu"), Create: true}); err != nil {
		t.Fatal(err)
	}
	if err := ap.Apply(ctx, store.Op{Kind: "key", ID: "k", Data: []byte("ap"), Create: true}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		st   store.Store
		want string
	}{{raw, "home"}, {eu, "eu"}, {ap, "ap"}} {
		r, err := c.st.Get(ctx, "key", "k")
		if err != nil || string(r.Data) != c.want || r.Kind != "key" {
			t.Fatalf("Get = %q %q, %v; want %q", r.Kind, r.Data, err, c.want)
		}
		rs, err := c.st.List(ctx, "key", "", "", 0)
		if err != nil || len(rs) != 1 || string(rs[0].Data) != c.want {
			t.Fatalf("List = %v, %v", rs, err)
		}
	}
	cs, err := eu.Changes(ctx, since, 0)
	if err != nil {
		t.Fatal(err)
	}
	own := 0
	for _, c := range cs {
		if c.Kind == "key" {
			own++
		}
	}
	if own != 1 || len(cs) != 2 {
		t.Fatalf("eu-west-1's feed: %+v", cs)
	}
	hc, _ := raw.Changes(ctx, since, 0)
	for _, c := range hc {
		if c.Kind == "key" {
			t.Fatalf("the home Region's feed shows another Region's key as its own: %+v", hc)
		}
	}
	ok1, _ := eu.TryLease(ctx, "sched", "a", time.Minute)
	ok2, _ := ap.TryLease(ctx, "sched", "b", time.Minute)
	ok3, _ := raw.TryLease(ctx, "sched", "c", time.Minute)
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("leases are not each Region's own: %v %v %v", ok1, ok2, ok3)
	}
}
