package bench

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []int64
	}{
		{"ok/single", []int64{1234567}},
		{"ok/small-exact", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"ok/uniform", uniform(100000, 50_000, 50_000_000)},
		{"ok/long-tail", append(uniform(9990, 100_000, 200_000), uniform(10, 1e9, 2e9)...)},
		{"ok/zero-and-huge", []int64{0, 0, 0, 1 << 50}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h Histogram
			for _, v := range tc.values {
				h.Record(time.Duration(v))
			}
			sorted := append([]int64(nil), tc.values...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
			if h.Count() != uint64(len(sorted)) {
				t.Fatalf("Count = %d", h.Count())
			}
			if h.Max() != time.Duration(sorted[len(sorted)-1]) || h.Min() != time.Duration(sorted[0]) {
				t.Fatalf("Min/Max = %v/%v", h.Min(), h.Max())
			}
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
				rank := int(q*float64(len(sorted)) + 0.999999999)
				if rank < 1 {
					rank = 1
				}
				exact := sorted[rank-1]
				got := int64(h.Quantile(q))
				if got < exact || float64(got-exact) > float64(exact)/64+1 {
					t.Errorf("Quantile(%v) = %d, exact %d", q, got, exact)
				}
			}
		})
	}
}

func TestHistogramEmpty(t *testing.T) {
	t.Parallel()
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram reports non-zero values")
	}
}

func TestHistogramMerge(t *testing.T) {
	t.Parallel()
	var a, b, all Histogram
	for i, v := range uniform(10000, 1000, 10_000_000) {
		all.Record(time.Duration(v))
		if i%3 == 0 {
			a.Record(time.Duration(v))
		} else {
			b.Record(time.Duration(v))
		}
	}
	a.Merge(&b)
	if a.counts != all.counts || a.n != all.n || a.min != all.min || a.max != all.max {
		t.Fatal("merged histogram differs from the combined one")
	}
}

// TestBuckets checks that every value lands in a bucket whose bounds hold it.
func TestBuckets(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 100000; i++ {
		v := int64(r.Uint64() >> (1 + r.IntN(63)))
		if v >= 1<<47 {
			continue
		}
		b := bucketOf(v)
		if b < 0 || b >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, b)
		}
		if bucketMax(b) < v || (b > 0 && bucketMax(b-1) >= v) {
			t.Fatalf("value %d in bucket %d with bounds (%d, %d]", v, b, bucketMax(b-1), bucketMax(b))
		}
	}
}

func uniform(n int, lo, hi int64) []int64 {
	r := rand.New(rand.NewPCG(uint64(n), uint64(lo)))
	out := make([]int64, n)
	for i := range out {
		out[i] = lo + r.Int64N(hi-lo)
	}
	return out
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	d := time.Duration(1)
	for b.Loop() {
		h.Record(d)
		d = (d*7 + 13) % (100 * time.Millisecond)
	}
}
