package quota

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/store/sqlite"
)

// fakeClock is a settable monotonic clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64              { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestBucket(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		rate  float64
		burst int           // requests allowed at once
		after time.Duration // then one more is allowed after this
	}{
		{"ok/5 per second", 5, 5, 200 * time.Millisecond},
		{"ok/one per four seconds", 0.25, 1, 4 * time.Second},
		{"ok/1000 per second", 1000, 1000, time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var clk fakeClock
			clk.advance(time.Hour)
			tb := New(Config{Rates: Rates{"CreateKey": tc.rate}, Now: clk.now}, nil, nil)
			c := Class("CreateKey")
			for i := range tc.burst {
				if !tb.Allow("111122223333", c) {
					t.Fatalf("request %d of the burst refused", i+1)
				}
			}
			if tb.Allow("111122223333", c) {
				t.Fatalf("request %d allowed past the burst", tc.burst+1)
			}
			if !tb.Allow("444455556666", c) {
				t.Fatal("another account's first request refused: buckets must be per account")
			}
			if !tb.Allow("111122223333", Class("DescribeKey")) {
				t.Fatal("an unlimited class refused")
			}
			clk.advance(tc.after - time.Nanosecond)
			if tb.Allow("111122223333", c) {
				t.Fatal("allowed before the interval passed")
			}
			clk.advance(time.Nanosecond)
			if !tb.Allow("111122223333", c) {
				t.Fatal("refused after the interval passed")
			}
		})
	}
}

// TestAllowExactUnderConcurrency: of many concurrent requests at one
// instant, exactly the burst is allowed.
func TestAllowExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	var clk fakeClock
	tb := New(Config{Rates: Rates{ClassSymmetric: 100}, Now: clk.now}, nil, nil)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if tb.Allow("111122223333", SpecClass("SYMMETRIC_DEFAULT")) {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 100 {
		t.Fatalf("allowed %d of 8000 concurrent requests, want exactly 100", n)
	}
}

func TestNodesShare(t *testing.T) {
	t.Parallel()
	var clk fakeClock
	tb := New(Config{Rates: Rates{"CreateKey": 10}, Nodes: 2, Now: clk.now}, nil, nil)
	n := 0
	for tb.Allow("111122223333", Class("CreateKey")) {
		n++
	}
	if n != 5 {
		t.Fatalf("one of 2 nodes allowed a burst of %d of a rate of 10/s, want 5", n)
	}
}

func TestSpecClass(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"SYMMETRIC_DEFAULT": ClassSymmetric, "HMAC_256": ClassSymmetric, "RSA_2048": ClassRSA,
		"ECC_NIST_P256": ClassECC, "ECC_SECG_P256K1": ClassECC, "SM2": ClassECC, "ECC_NIST_EDWARDS25519": ClassECC,
		"ML_DSA_65": ClassMLDSA, "ML_KEM_768": ClassMLKEM,
	} {
		if got := SpecClass(spec); got != Class(want) {
			t.Errorf("SpecClass(%s) = %d, want %s (%d)", spec, got, want, Class(want))
		}
	}
}

// TestAccountSettings: an account's stored settings override the defaults,
// a change reaches the table through Reload, and a deleted record brings
// the defaults back.
func TestAccountSettings(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const acct = "111122223333"
	if _, err := Update(ctx, st, acct, func(q *Quotas) error {
		q.Resources.Keys = 3
		q.Rates = Rates{"CreateKey": 1}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var clk fakeClock
	tb := New(Config{Resources: Resources{AliasesPerKey: 7}, Now: clk.now}, st, nil)
	if err := tb.Load(ctx); err != nil {
		t.Fatal(err)
	}
	r := tb.Resources(acct)
	if r.Keys != 3 || r.AliasesPerKey != 7 || r.GrantsPerKey != 50000 {
		t.Fatalf("resources = %+v, want keys 3 (account), aliases 7 (node), grants 50000 (AWS)", r)
	}
	if other := tb.Resources("444455556666"); other.Keys != 100000 {
		t.Fatalf("another account's key quota = %d, want AWS's 100000", other.Keys)
	}
	if !tb.Allow(acct, Class("CreateKey")) || tb.Allow(acct, Class("CreateKey")) {
		t.Fatal("the account's rate of 1/s is not applied")
	}
	if !tb.Allow("444455556666", Class("CreateKey")) || !tb.Allow("444455556666", Class("CreateKey")) {
		t.Fatal("an account without rates is throttled")
	}
	if _, err := Update(ctx, st, acct, func(q *Quotas) error { q.Rates["CreateKey"] = 0; q.Resources.Keys = 5; return nil }); err != nil {
		t.Fatal(err)
	}
	tb.Reload(acct)
	if tb.Resources(acct).Keys != 5 || !tb.Allow(acct, Class("CreateKey")) {
		t.Fatal("Reload did not apply the new settings")
	}
	if tb.limiting.Load() {
		t.Fatal("the table still limits with no rate anywhere")
	}
	if _, err := Update(ctx, st, acct, func(q *Quotas) error { *q = Quotas{}; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, Kind, acct); err == nil {
		t.Fatal("empty settings left a record")
	}
	tb.Reload(acct)
	if tb.Resources(acct).Keys != 100000 {
		t.Fatal("deleted settings did not bring the defaults back")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		q    Quotas
	}{
		{"fail/unknown class", Quotas{Rates: Rates{"Frobnicate": 1}}},
		{"fail/negative resource", Quotas{Resources: Resources{Keys: -1}}},
	} {
		if err := tc.q.Validate(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	var r Resources
	if err := r.Set("nope", 1); err == nil {
		t.Error("Set of an unknown resource quota succeeded")
	}
}

// BenchmarkAllow measures the throttling decision of the hot path: with no
// rate quota anywhere (the default), and with rates on, for one account
// and for many, from parallel goroutines.
func BenchmarkAllow(b *testing.B) {
	c := SpecClass("SYMMETRIC_DEFAULT")
	b.Run("off", func(b *testing.B) {
		tb := New(Config{}, nil, nil)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tb.Allow("111122223333", c)
			}
		})
	})
	b.Run("on", func(b *testing.B) {
		tb := New(Config{Rates: Rates{ClassSymmetric: 1e12}}, nil, nil)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tb.Allow("111122223333", c)
			}
		})
	})
	b.Run("on/1000 accounts", func(b *testing.B) {
		tb := New(Config{Rates: Rates{ClassSymmetric: 1e12}}, nil, nil)
		accts := make([]string, 1000)
		for i := range accts {
			accts[i] = time.Unix(int64(i), 0).Format("150405") + "000000"
		}
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				tb.Allow(accts[i%len(accts)], c)
				i++
			}
		})
	})
	b.Run("operation/on", func(b *testing.B) {
		tb := New(Config{Rates: Rates{ClassSymmetric: 1e12}}, nil, nil)
		for b.Loop() {
			tb.AllowOperation("111122223333", "Encrypt")
		}
	})
}
