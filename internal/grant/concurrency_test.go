package grant_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/grant"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/wire"
)

// TestGrantLimitExact races CreateGrant on two nodes at a key 10 grants
// short of its quota. The quota is lowered to 1,000 (TestGrantLimit checks
// AWS's 50,000) so that the test stays quick under the race detector; the
// 990 grants already there were stored without a count, as an earlier
// version stored them, so the count is also built under the race.
func TestGrantLimitExact(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	root := kms.WithCaller(context.Background(), gRoot)
	const limit, existing = 1_000, 990
	if err := e.Node.Grants.PutGrantsForTest(root, id, "111122223333", existing, func(i int) string { return gCarol.ARN }, "Encrypt"); err != nil {
		t.Fatal(err)
	}
	nodes := [2]*kmstest.Node{e.NewNodeWith(kmstest.Config{Grant: grant.Config{PerKey: limit}}), e.NewNodeWith(kmstest.Config{Grant: grant.Config{PerKey: limit}})}
	var ids sync.Map
	codes := kmstest.Race(t, nodes, 32, func(svc *kmstest.Node, i int) error {
		out, err := svc.Grants.CreateGrant(root, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
		if err == nil {
			ids.Store(out.GrantID, true)
		}
		return err
	})
	if codes[""] != 10 || codes[awserr.LimitExceeded] != 22 {
		t.Fatalf("outcomes %v; want 10 successes and 22 LimitExceededException", codes)
	}
	n := 0
	var one string
	for marker := ""; ; {
		in := &wire.ListGrantsInput{KeyID: &id, Limit: ptr(int64(1000))}
		if marker != "" {
			in.Marker = &marker
		}
		out, err := e.Node.Grants.ListGrants(root, in)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Grants)
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if n != limit {
		t.Fatalf("%d grants stored; want %d", n, limit)
	}
	// Retiring one makes room for exactly one.
	ids.Range(func(k, _ any) bool { one = k.(string); return false })
	if _, err := nodes[1].Grants.RevokeGrant(root, &wire.RevokeGrantInput{KeyID: &id, GrantID: &one}); err != nil {
		t.Fatal(err)
	}
	codes = kmstest.Race(t, nodes, 4, func(svc *kmstest.Node, i int) error {
		_, err := svc.Grants.CreateGrant(root, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
		return err
	})
	if codes[""] != 1 || codes[awserr.LimitExceeded] != 3 {
		t.Fatalf("after a revoke: outcomes %v; want 1 success and 3 LimitExceededException", codes)
	}
}

// TestGrantCacheFollowsChanges: grants created and revoked on one node
// while another node loads and uses the key's grants end up exactly as
// stored on both, once the second node has read the change feed.
func TestGrantCacheFollowsChanges(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	a, b := e.Node, e.NewNode()
	root := kms.WithCaller(context.Background(), gRoot)
	user := func(i int) *kms.Caller {
		return &kms.Caller{Account: "111122223333", ARN: fmt.Sprintf("arn:aws:iam::111122223333:user/u%d", i), Type: "IAMUser", PrincipalID: fmt.Sprint("AIDAU", i)}
	}
	const n = 60
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // node b uses and follows the grants meanwhile
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			encrypt(b, kms.WithCaller(context.Background(), user(i%n)), id, nil)
			b.Jobs.SyncChanges(context.Background())
		}
	}()
	var live sync.Map
	codes := kmstest.Race(t, [2]*kmstest.Node{a, a}, n, func(svc *kmstest.Node, i int) error {
		g, err := svc.Grants.CreateGrant(root, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(user(i).ARN), Operations: []string{"Encrypt"}})
		if err != nil || i%3 != 0 {
			if err == nil {
				live.Store(i, true)
			}
			return err
		}
		_, err = svc.Grants.RevokeGrant(root, &wire.RevokeGrantInput{KeyID: &id, GrantID: &g.GrantID})
		return err
	})
	stop.Store(true)
	wg.Wait()
	if codes[""] != n {
		t.Fatalf("outcomes %v", codes)
	}
	b.Jobs.SyncChanges(context.Background())
	for _, svc := range []*kmstest.Node{a, b} {
		for i := 0; i < n; i++ {
			_, want := live.Load(i)
			err := encrypt(svc, kms.WithCaller(context.Background(), user(i)), id, nil)
			if (err == nil) != want {
				t.Errorf("user %d: Encrypt = %v; want allowed %v", i, err, want)
			}
		}
	}
}
