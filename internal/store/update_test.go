package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestUpdate(t *testing.T) {
	t.Parallel()
	t.Run("ok/queues-in-process", func(t *testing.T) {
		// Writers of one name never run fn at the same time.
		t.Parallel()
		var l Locks
		var inside, maxInside, calls atomic.Int32
		var wg sync.WaitGroup
		for g := 0; g < 50; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := Update(context.Background(), &l, []string{"b", "a", "b"}, func() error {
					n := inside.Add(1)
					for m := maxInside.Load(); n > m && !maxInside.CompareAndSwap(m, n); m = maxInside.Load() {
					}
					calls.Add(1)
					time.Sleep(100 * time.Microsecond)
					inside.Add(-1)
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if maxInside.Load() != 1 || calls.Load() != 50 {
			t.Fatalf("max %d concurrent, %d calls; want 1, 50", maxInside.Load(), calls.Load())
		}
		if len(l.m) != 0 {
			t.Fatalf("%d lock entries left", len(l.m))
		}
	})
	t.Run("ok/retries-conflicts", func(t *testing.T) {
		t.Parallel()
		n := 0
		err := Update(context.Background(), nil, nil, func() error {
			if n++; n < 5 {
				return fmt.Errorf("apply: %w", ErrConflict)
			}
			return nil
		})
		if err != nil || n != 5 {
			t.Fatalf("Update = %v after %d calls; want nil after 5", err, n)
		}
	})
	t.Run("ok/other-errors-unchanged", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		n := 0
		if err := Update(context.Background(), nil, nil, func() error { n++; return boom }); err != boom || n != 1 {
			t.Fatalf("Update = %v after %d calls; want boom after 1", err, n)
		}
	})
	t.Run("fail/budget-exhausted", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := Update(ctx, nil, nil, func() error { return ErrConflict })
		if !errors.Is(err, ErrContended) || errors.Is(err, ErrConflict) {
			t.Fatalf("Update = %v; want ErrContended (and not ErrConflict)", err)
		}
	})
	t.Run("fail/lock-wait-exhausted", func(t *testing.T) {
		t.Parallel()
		var l Locks
		held, release := make(chan struct{}), make(chan struct{})
		go Update(context.Background(), &l, []string{"x"}, func() error { close(held); <-release; return nil })
		<-held
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := Update(ctx, &l, []string{"y", "x"}, func() error { t.Error("fn ran without the lock"); return nil })
		close(release)
		if !errors.Is(err, ErrContended) {
			t.Fatalf("Update = %v; want ErrContended", err)
		}
		// The lock of y, taken before x, was given back.
		if err := Update(context.Background(), &l, []string{"y"}, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
}
