package store

import (
	"strings"
	"testing"
)

func TestCensus(t *testing.T) {
	sums := func(recs ...Record) map[string]KindSum {
		t.Helper()
		var c Census
		for _, r := range recs {
			if err := c.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		return c.Sums()
	}
	r := func(kind, id, data string) Record { return Record{Kind: kind, ID: id, Data: []byte(data)} }
	base := sums(r("a", "1", "x"), r("a", "2", "y"), r("b", "1", "z"))
	tests := []struct {
		name string
		got  map[string]KindSum
		diff string // a substring of the first difference; "" for none
	}{
		{"ok/same", sums(r("a", "1", "x"), r("a", "2", "y"), r("b", "1", "z")), ""},
		{"ok/version-ignored", sums(Record{Kind: "a", ID: "1", Version: 7, Data: []byte("x")}, r("a", "2", "y"), r("b", "1", "z")), ""},
		{"fail/data", sums(r("a", "1", "x"), r("a", "2", "Y"), r("b", "1", "z")), `kind "a": 2 records as expected, but their content differs`},
		{"fail/boundary-moved", sums(r("a", "1", "x"), r("a", "2y", ""), r("b", "1", "z")), `kind "a"`},
		{"fail/missing", sums(r("a", "1", "x"), r("b", "1", "z")), `kind "a": 1 records, want 2`},
		{"fail/extra-kind", sums(r("a", "1", "x"), r("a", "2", "y"), r("b", "1", "z"), r("c", "1", "")), `kind "c": 1 records, want 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DiffSums(base, tc.got)
			switch {
			case tc.diff == "" && len(d) != 0:
				t.Fatalf("DiffSums = %q, want none", d)
			case tc.diff != "" && (len(d) == 0 || !strings.Contains(d[0], tc.diff)):
				t.Fatalf("DiffSums = %q, want %q", d, tc.diff)
			}
		})
	}
	t.Run("fail/out-of-order", func(t *testing.T) {
		var c Census
		c.Add(r("b", "1", ""))
		if err := c.Add(r("a", "9", "")); err == nil {
			t.Fatal("Census accepted a record out of order")
		}
		if err := c.Add(r("b", "1", "")); err == nil {
			t.Fatal("Census accepted a record twice")
		}
	})
}
