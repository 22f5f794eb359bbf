package reseal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// TestRecords: Records writes the records that rewrite changes, and only
// those, over more than a page, calling written before progress for each;
// it stops at rewrite's first error.
func TestRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var ops []store.Op
	for i := range 250 {
		data := "old"
		if i%2 == 1 {
			data = "new"
		}
		ops = append(ops, store.Op{Kind: "k", ID: fmt.Sprintf("%03d", i), Data: []byte(data)})
	}
	if err := st.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	var locks store.Locks
	rewrite := func(_ string, data []byte) ([]byte, bool, error) {
		if string(data) == "new" {
			return nil, false, nil
		}
		return []byte("new"), true, nil
	}
	var calls []string
	n, err := Records(ctx, st, &locks, "k", rewrite,
		func(id string) { calls = append(calls, "w"+id) }, func(n int) { calls = append(calls, fmt.Sprint("p", n)) })
	if err != nil || n != 125 || len(calls) != 250 || calls[0] != "w000" || calls[1] != "p1" || calls[249] != "p125" {
		t.Fatalf("Records = %d, %v; calls %d, first %v", n, err, len(calls), calls[:min(2, len(calls))])
	}
	recs, err := st.List(ctx, "k", "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if string(r.Data) != "new" {
			t.Fatalf("record %s holds %q", r.ID, r.Data)
		}
	}
	if n, err := Records(ctx, st, &locks, "k", rewrite, nil, nil); err != nil || n != 0 {
		t.Fatalf("second Records = %d, %v, want 0", n, err)
	}
	boom := errors.New("boom")
	if n, err := Records(ctx, st, &locks, "k", func(string, []byte) ([]byte, bool, error) { return nil, false, boom }, nil, nil); !errors.Is(err, boom) || n != 0 {
		t.Fatalf("Records with a failing rewrite = %d, %v", n, err)
	}
}
