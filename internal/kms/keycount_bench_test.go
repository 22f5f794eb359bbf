package kms_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/wire"
)

// BenchmarkEncryptHotKeys measures Encrypt over 10 hot keys while the
// service has cached keys=N keys in all (issue 10: "100,000 keys loaded, the
// hot path as fast as with 10 keys"). What a large key set can cost the hot
// path shows here: lookups in the larger cache and usage maps, and garbage
// collections that mark every cached key. With -short only 10 and 1,000
// keys are loaded; creating 100,000 takes about a minute.
func BenchmarkEncryptHotKeys(b *testing.B) {
	counts := []int{10, 100_000}
	if testing.Short() {
		counts = []int{10, 1_000}
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			svc, ctx := kmstest.NewBenchNode(b)
			ids := make([]string, n)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := w; i < n; i += 8 {
						out, err := svc.CreateKey(ctx, &wire.CreateKeyInput{})
						if err == nil {
							ids[i] = out.KeyMetadata.Arn
							// Load the key into the cache, as traffic would.
							_, err = svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &ids[i], Plaintext: []byte{1}})
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			hot := ids[:10]
			pt := make([]byte, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &hot[i%len(hot)], Plaintext: pt}); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkEncryptCachedKey measures the hot path with the coherence
// machinery running (feed follower and watchdog at the default interval).
func BenchmarkEncryptCachedKey(b *testing.B) {
	svc, ctx := kmstest.NewBenchNode(b)
	svc.Jobs.Start()
	out, err := svc.CreateKey(ctx, &wire.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	in := &wire.EncryptInput{KeyID: &out.KeyMetadata.KeyID, Plaintext: make([]byte, 32)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Encrypt(ctx, in); err != nil {
			b.Fatal(errors.Unwrap(err))
		}
	}
}
