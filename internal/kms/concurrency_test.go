package kms_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// Issue 15, item 6: mutations of one key, alias or grant set all succeed
// under concurrency, in some order, and limits are exact. Two Services on
// one store stand for two nodes: their writers meet only in the store.

// race runs f(0..n-1) at once, half of them on each node, and returns the
// error codes by count ("" for success).
func race(t *testing.T, nodes [2]*kmstest.Node, n int, f func(svc *kmstest.Node, i int) error) map[string]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := f(nodes[i%2], i)
			code := awserr.CodeOf(err)
			if err != nil && code == "" {
				code = "untyped: " + err.Error()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

func TestConcurrentKeyMutations(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.key("")
	nodes := [2]*kmstest.Node{e.svc, e.node()}
	root := kms.WithCaller(context.Background(), gRoot)
	codes := race(t, nodes, 100, func(svc *kmstest.Node, i int) error {
		var err error
		switch i % 5 {
		case 0:
			_, err = svc.UpdateKeyDescription(root, &wire.UpdateKeyDescriptionInput{KeyID: &id, Description: sp(fmt.Sprint("d", i))})
		case 1:
			_, err = svc.TagResource(root, &wire.TagResourceInput{KeyID: &id, Tags: []wire.Tag{{TagKey: sp(fmt.Sprint("t", i)), TagValue: sp("v")}}})
		case 2:
			_, err = svc.DisableKey(root, &wire.KeyIDInput{KeyID: &id})
		case 3:
			_, err = svc.EnableKey(root, &wire.KeyIDInput{KeyID: &id})
		case 4:
			_, err = svc.PutKeyPolicy(root, &wire.KeyPolicyInput{KeyID: &id, PolicyName: sp("default"), Policy: sp(fmt.Sprintf(
				`{"Version":"2012-10-17","Id":"p%d","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`, i))})
		}
		return err
	})
	if codes[""] != 100 {
		t.Fatalf("outcomes %v; want 100 successes", codes)
	}
	// A fresh node reads the store: the racers' nodes poll the change
	// feed hourly here, so either may still hold a key it cached before
	// the other's last write.
	tags, err := e.node().ListResourceTags(root, &wire.ListResourceTagsInput{KeyID: &id})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 20 {
		t.Fatalf("%d tags; want the 20 written", len(tags.Tags))
	}
}

func TestTagLimitExact(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.key("")
	root := kms.WithCaller(context.Background(), gRoot)
	var tags []wire.Tag
	for i := 0; i < 40; i++ {
		tags = append(tags, wire.Tag{TagKey: sp(fmt.Sprint("base", i)), TagValue: sp("v")})
	}
	if _, err := e.svc.TagResource(root, &wire.TagResourceInput{KeyID: &id, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	codes := race(t, [2]*kmstest.Node{e.svc, e.node()}, 32, func(svc *kmstest.Node, i int) error {
		_, err := svc.TagResource(root, &wire.TagResourceInput{KeyID: &id, Tags: []wire.Tag{{TagKey: sp(fmt.Sprint("new", i)), TagValue: sp("v")}}})
		return err
	})
	if codes[""] != 10 || codes[awserr.Tag] != 22 {
		t.Fatalf("outcomes %v; want 10 successes and 22 TagException", codes)
	}
	e.svc.Jobs.SyncChanges(context.Background()) // the other node's writes
	out, err := e.svc.ListResourceTags(root, &wire.ListResourceTagsInput{KeyID: &id})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tags) != 50 {
		t.Fatalf("%d tags; want 50", len(out.Tags))
	}
}

func TestAliasLimitExact(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id, other := e.key(""), e.key("")
	root := kms.WithCaller(context.Background(), gRoot)
	for i := 0; i < 40; i++ {
		if _, err := e.svc.CreateAlias(root, &wire.AliasInput{AliasName: sp(fmt.Sprint("alias/base-", i)), TargetKeyID: &id}); err != nil {
			t.Fatal(err)
		}
	}
	// Aliases of the other key race to move onto id as new ones are
	// created for it: only 10 more fit, whichever way they come.
	for i := 0; i < 8; i++ {
		if _, err := e.svc.CreateAlias(root, &wire.AliasInput{AliasName: sp(fmt.Sprint("alias/move-", i)), TargetKeyID: &other}); err != nil {
			t.Fatal(err)
		}
	}
	nodes := [2]*kmstest.Node{e.svc, e.node()}
	var moved atomic.Int32
	codes := race(t, nodes, 32, func(svc *kmstest.Node, i int) error {
		if i < 8 {
			_, err := svc.UpdateAlias(root, &wire.AliasInput{AliasName: sp(fmt.Sprint("alias/move-", i)), TargetKeyID: &id})
			if err == nil {
				moved.Add(1)
			}
			return err
		}
		_, err := svc.CreateAlias(root, &wire.AliasInput{AliasName: sp(fmt.Sprint("alias/new-", i)), TargetKeyID: &id})
		return err
	})
	if codes[""] != 10 || codes[awserr.LimitExceeded] != 22 {
		t.Fatalf("outcomes %v; want 10 successes and 22 LimitExceededException", codes)
	}
	count := func(key string) int {
		out, err := e.svc.ListAliases(root, &wire.ListAliasesInput{KeyID: &key, Limit: ptr(int64(100))})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Aliases)
	}
	if n, m := count(id), count(other); n != 50 || m != 8-int(moved.Load()) {
		t.Fatalf("key has %d aliases, other %d (%d moved); want 50 and %d", n, m, moved.Load(), 8-moved.Load())
	}
	// 100 writers of one alias: one creates it, the others find it; then
	// 100 updates of it all succeed.
	codes = race(t, nodes, 100, func(svc *kmstest.Node, i int) error {
		_, err := svc.CreateAlias(root, &wire.AliasInput{AliasName: sp("alias/one"), TargetKeyID: &other})
		return err
	})
	if codes[""] != 1 || codes[awserr.AlreadyExists] != 99 {
		t.Fatalf("CreateAlias outcomes %v; want 1 success and 99 AlreadyExistsException", codes)
	}
	third := e.key("")
	codes = race(t, nodes, 100, func(svc *kmstest.Node, i int) error {
		target := []string{other, third}[i%2]
		_, err := svc.UpdateAlias(root, &wire.AliasInput{AliasName: sp("alias/one"), TargetKeyID: &target})
		return err
	})
	if codes[""] != 100 {
		t.Fatalf("UpdateAlias outcomes %v; want 100 successes", codes)
	}
	if a, b := count(other), count(third); a+b != 9-int(moved.Load()) {
		t.Fatalf("other has %d aliases, third %d; want %d in all (alias/one counted once)", a, b, 9-moved.Load())
	}
}

// TestGrantLimitExact races CreateGrant on two nodes at a key 10 grants
// short of its quota. The quota is lowered to 1,000 (TestGrantLimit checks
// AWS's 50,000) so that the test stays quick under the race detector; the
// 990 grants already there were stored without a count, as an earlier
// version stored them, so the count is also built under the race.
func TestGrantLimitExact(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.key("")
	root := kms.WithCaller(context.Background(), gRoot)
	const limit, existing = 1_000, 990
	if err := e.svc.PutGrantsForTest(root, id, "111122223333", existing, func(i int) string { return gCarol.ARN }, "Encrypt"); err != nil {
		t.Fatal(err)
	}
	nodes := [2]*kmstest.Node{e.nodeWith(kms.Config{GrantsPerKey: limit}), e.nodeWith(kms.Config{GrantsPerKey: limit})}
	var ids sync.Map
	codes := race(t, nodes, 32, func(svc *kmstest.Node, i int) error {
		out, err := svc.CreateGrant(root, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
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
		out, err := e.svc.ListGrants(root, in)
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
	if _, err := nodes[1].RevokeGrant(root, &wire.RevokeGrantInput{KeyID: &id, GrantID: &one}); err != nil {
		t.Fatal(err)
	}
	codes = race(t, nodes, 4, func(svc *kmstest.Node, i int) error {
		_, err := svc.CreateGrant(root, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
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
	id := e.key("")
	a, b := e.svc, e.node()
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
	codes := race(t, [2]*kmstest.Node{a, a}, n, func(svc *kmstest.Node, i int) error {
		g, err := svc.CreateGrant(root, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(user(i).ARN), Operations: []string{"Encrypt"}})
		if err != nil || i%3 != 0 {
			if err == nil {
				live.Store(i, true)
			}
			return err
		}
		_, err = svc.RevokeGrant(root, &wire.RevokeGrantInput{KeyID: &id, GrantID: &g.GrantID})
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

// failingStore fails the Gets of one record kind while fail is set.
type failingStore struct {
	store.Store
	kind string
	fail atomic.Bool
}

func (f *failingStore) Get(ctx context.Context, kind, id string) (store.Record, error) {
	if kind == f.kind && f.fail.Load() {
		return store.Record{}, fmt.Errorf("test: %w", store.ErrUnavailable)
	}
	return f.Store.Get(ctx, kind, id)
}

// TestUnreadableAliasesRefuse: when a key's aliases cannot be read for a
// policy that asks for kms:ResourceAliases, the request is refused; the
// Deny that names the aliases does not fall away.
func TestUnreadableAliasesRefuse(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	fs := &failingStore{Store: e.st, kind: "keyaliases"}
	e.st = fs
	e.svc = e.node()
	kp := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"` + gBob.ARN + `"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/secret-*"}}}]}`
	id := e.key(kp)
	fs.fail.Store(true)
	err := encrypt(e.svc, e.as(gBob), id, nil)
	if code := awserr.CodeOf(err); code != awserr.DependencyTimeout {
		t.Fatalf("aliases unreadable: Encrypt = %v; want DependencyTimeoutException", err)
	}
	fs.fail.Store(false)
	wantCode(t, encrypt(e.svc, e.as(gBob), id, nil), "")
	if _, err := e.svc.CreateAlias(e.as(gRoot), &wire.AliasInput{AliasName: sp("alias/secret-1"), TargetKeyID: &id}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, encrypt(e.svc, e.as(gBob), id, nil), awserr.AccessDenied)
}

// TestAliasIndexMigration: a store written before aliases were indexed by
// key gets its index when a node starts, so the quota and
// kms:ResourceAliases see the aliases it already had.
func TestAliasIndexMigration(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	kp := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"` + gBob.ARN + `"},"Action":"kms:Encrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/app-*"}}}]}`
	id := e.key(kp)
	// Turn the store into one of an earlier version: aliases without the
	// index, and no mark of the conversion.
	ctx := context.Background()
	ops := []store.Op{{Kind: "kmsmeta", ID: "keyaliases-v1", Delete: true}}
	for i := 0; i < 48; i++ {
		name := fmt.Sprintf("alias/app-%02d", i)
		ops = append(ops, store.Op{Kind: "alias", ID: "111122223333/" + name, Create: true,
			Data: fmt.Appendf(nil, `{"account":"111122223333","name":%q,"keyId":%q}`, name, id)})
	}
	if err := e.st.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Get(ctx, "keyaliases", id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("index record before migration: %v", err)
	}
	svc := e.node()
	wantCode(t, encrypt(svc, e.as(gBob), id, nil), "")
	root := e.as(gRoot)
	for i, want := range []string{"", "", awserr.LimitExceeded} {
		_, err := svc.CreateAlias(root, &wire.AliasInput{AliasName: sp(fmt.Sprint("alias/more-", i)), TargetKeyID: &id})
		wantCode(t, err, want)
	}
	out, err := svc.ListAliases(root, &wire.ListAliasesInput{KeyID: &id, Limit: ptr(int64(100))})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range out.Aliases {
		names = append(names, a.AliasName)
	}
	if !sort.StringsAreSorted(names) || len(names) != 50 {
		t.Fatalf("aliases after migration: %d %v", len(names), names)
	}
}
