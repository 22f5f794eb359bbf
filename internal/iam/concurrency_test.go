package iam_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/rootkey"
)

// TestConcurrentPrincipalMutations: writers of one user or role on two
// directories over one store (two nodes) all succeed, and the access-key
// quota holds exactly (issue 15, item 6).
func TestConcurrentPrincipalMutations(t *testing.T) {
	t.Parallel()
	d1, st := newDir(t)
	root, _ := rootkey.NewStatic(make([]byte, 32))
	dirs := [2]*iam.Directory{d1, iam.New(st, root, "aws", nil)}
	ctx := ctxT(t)
	if _, err := d1.CreateUser(ctx, acct, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := d1.CreateRole(ctx, iam.RoleInput{Account: acct, Name: "app", TrustPolicy: trustFor(acct)}); err != nil {
		t.Fatal(err)
	}
	run := func(n int, f func(d *iam.Directory, i int) error) map[string]int {
		var mu sync.Mutex
		codes := map[string]int{}
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := f(dirs[i%2], i)
				code := awserr.CodeOf(err)
				if err != nil && code == "" {
					code = err.Error()
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return codes
	}
	codes := run(60, func(d *iam.Directory, i int) error {
		switch i % 3 {
		case 0:
			return d.PutUserPolicy(context.Background(), acct, "bob", fmt.Sprint("p", i%6), allowKMS)
		case 1:
			return d.PutRolePolicy(context.Background(), acct, "app", fmt.Sprint("p", i%6), allowKMS)
		}
		return d.UpdateTrustPolicy(context.Background(), acct, "app", trustFor(acct))
	})
	if codes[""] != 60 {
		t.Fatalf("outcomes %v; want 60 successes", codes)
	}
	codes = run(16, func(d *iam.Directory, i int) error {
		_, _, err := d.CreateUserAccessKey(context.Background(), acct, "bob")
		return err
	})
	if codes[""] != iam.MaxAccessKeysPerUser || codes[iam.CodeLimitExceeded] != 16-iam.MaxAccessKeysPerUser {
		t.Fatalf("CreateAccessKey outcomes %v; want %d successes, the rest LimitExceeded", codes, iam.MaxAccessKeysPerUser)
	}
	keys, err := d1.ListAccessKeys(ctx, acct, "bob")
	if err != nil || len(keys) != iam.MaxAccessKeysPerUser {
		t.Fatalf("ListAccessKeys = %d keys, %v", len(keys), err)
	}
}
