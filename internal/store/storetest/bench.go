package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trentkms/trent/internal/store"
)

// Bench runs the storage benchmarks every backend reports: parallel Get,
// Apply with 1 and 64 concurrent writers, and Changes reading 100 changes a
// call. open returns a fresh, empty store; Bench closes it.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	fresh := func(b *testing.B) store.Store {
		s := open(b)
		b.Cleanup(func() { s.Close() })
		return s
	}
	b.Run("Get", func(b *testing.B) { benchGet(b, fresh(b)) })
	for _, conc := range []int{1, 64} {
		b.Run(fmt.Sprintf("Apply/concurrency=%d", conc), func(b *testing.B) { benchApply(b, fresh(b), conc) })
	}
	b.Run("Changes", func(b *testing.B) { benchChanges(b, fresh(b)) })
}

func benchGet(b *testing.B, s store.Store) {
	ctx := context.Background()
	for i := 0; i < 1000; i++ {
		if err := s.Apply(ctx, store.Op{Kind: "key", ID: strconv.Itoa(i), Data: make([]byte, 512)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Get(ctx, "key", strconv.Itoa(i%1000)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func benchApply(b *testing.B, s store.Store, conc int) {
	ctx := context.Background()
	var next atomic.Int64
	data := make([]byte, 512)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / conc
	for g := 0; g < conc; g++ {
		n := per
		if g == 0 {
			n += b.N % conc
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n; j++ {
				id := strconv.FormatInt(next.Add(1), 10)
				if err := s.Apply(ctx, store.Op{Kind: "key", ID: id, Data: data, Create: true}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func benchChanges(b *testing.B, s store.Store) {
	ctx := context.Background()
	ops := make([]store.Op, 100)
	for i := 0; i < 10; i++ {
		for j := range ops {
			ops[j] = store.Op{Kind: "key", ID: fmt.Sprint(i, "-", j), Data: []byte("x")}
		}
		if err := s.Apply(ctx, ops...); err != nil {
			b.Fatal(err)
		}
	}
	// Sequence numbers need not start at 1 (a shared PostgreSQL sequence).
	first, err := s.Changes(ctx, 0, 1)
	if err != nil || len(first) == 0 {
		b.Fatal(len(first), err)
	}
	base := first[0].Seq - 1
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cs, err := s.Changes(ctx, base+int64(i%900), 100)
		if err != nil || len(cs) != 100 {
			b.Fatal(len(cs), err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
