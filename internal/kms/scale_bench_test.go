package kms_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/authz"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/wire"
)

// Issue 15, item 7: what a caller can create (aliases in its account,
// grants on a key) must not slow the hot path. These benchmarks compare the
// empty case with a large one; each large case should stay within 1.2 times
// its empty case. With -short the large cases are small, so CI only checks
// that they run.

// scaleBob is the caller whose requests the benchmarks authorize through a
// key policy condition or a grant, never through the account root.
var scaleBob = &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:user/bob", Type: "IAMUser", UserName: "bob", PrincipalID: "AIDABOB"}

// BenchmarkEncryptResourceAliases measures Encrypt by a user whom the key
// policy allows only through kms:ResourceAliases, with aliases=N other
// aliases in the account (issue 15 measured 1.6 ms with none and 58 ms with
// 3,000 before aliases were indexed by key).
func BenchmarkEncryptResourceAliases(b *testing.B) {
	counts := []int{0, 10_000}
	if testing.Short() {
		counts = []int{0, 500}
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("aliases=%d", n), func(b *testing.B) {
			svc, root := kmstest.NewBenchNode(b)
			svc.SetAuthorizer(authz.New(authz.Config{}))
			kp := `{"Version":"2012-10-17","Statement":[
				{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
				{"Sid":"bob","Effect":"Allow","Principal":{"AWS":"` + scaleBob.ARN + `"},"Action":"kms:Encrypt","Resource":"*",
				 "Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}}]}`
			out, err := svc.CreateKey(root, &wire.CreateKeyInput{Policy: &kp})
			if err != nil {
				b.Fatal(err)
			}
			keyID := out.KeyMetadata.KeyID
			if _, err := svc.CreateAlias(root, &wire.AliasInput{AliasName: sp("alias/app-hot"), TargetKeyID: &keyID}); err != nil {
				b.Fatal(err)
			}
			// The other aliases point at keys of their own, 50 to a key
			// (AWS's quota of aliases per key).
			var targets []string
			for i := 0; i < (n+49)/50; i++ {
				o, err := svc.CreateKey(root, &wire.CreateKeyInput{})
				if err != nil {
					b.Fatal(err)
				}
				targets = append(targets, o.KeyMetadata.KeyID)
			}
			parallelN(b, n, func(i int) error {
				_, err := svc.CreateAlias(root, &wire.AliasInput{AliasName: sp(fmt.Sprintf("alias/other-%06d", i)), TargetKeyID: &targets[i/50]})
				return err
			})
			ctx := kms.WithCaller(context.Background(), scaleBob)
			pt := make([]byte, 1024)
			if _, err := svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &keyID, Plaintext: pt}); err != nil {
				b.Fatal(err)
			}
			kmstest.ServerGC(b)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &keyID, Plaintext: pt}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// parallelN runs f(0..n-1) on 8 goroutines and fails b on the first error.
func parallelN(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if err := f(i); err != nil {
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
}
