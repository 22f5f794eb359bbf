package kms_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
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

func TestConcurrentKeyMutations(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	nodes := [2]*kmstest.Node{e.Node, e.NewNode()}
	root := kms.WithCaller(context.Background(), gRoot)
	codes := kmstest.Race(t, nodes, 100, func(svc *kmstest.Node, i int) error {
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
	tags, err := e.NewNode().ListResourceTags(root, &wire.ListResourceTagsInput{KeyID: &id})
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
	id := e.Key("")
	root := kms.WithCaller(context.Background(), gRoot)
	var tags []wire.Tag
	for i := 0; i < 40; i++ {
		tags = append(tags, wire.Tag{TagKey: sp(fmt.Sprint("base", i)), TagValue: sp("v")})
	}
	if _, err := e.Node.TagResource(root, &wire.TagResourceInput{KeyID: &id, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	codes := kmstest.Race(t, [2]*kmstest.Node{e.Node, e.NewNode()}, 32, func(svc *kmstest.Node, i int) error {
		_, err := svc.TagResource(root, &wire.TagResourceInput{KeyID: &id, Tags: []wire.Tag{{TagKey: sp(fmt.Sprint("new", i)), TagValue: sp("v")}}})
		return err
	})
	if codes[""] != 10 || codes[awserr.Tag] != 22 {
		t.Fatalf("outcomes %v; want 10 successes and 22 TagException", codes)
	}
	e.Node.Jobs.SyncChanges(context.Background()) // the other node's writes
	out, err := e.Node.ListResourceTags(root, &wire.ListResourceTagsInput{KeyID: &id})
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
	id, other := e.Key(""), e.Key("")
	root := kms.WithCaller(context.Background(), gRoot)
	for i := 0; i < 40; i++ {
		if _, err := e.Node.CreateAlias(root, &wire.AliasInput{AliasName: sp(fmt.Sprint("alias/base-", i)), TargetKeyID: &id}); err != nil {
			t.Fatal(err)
		}
	}
	// Aliases of the other key race to move onto id as new ones are
	// created for it: only 10 more fit, whichever way they come.
	for i := 0; i < 8; i++ {
		if _, err := e.Node.CreateAlias(root, &wire.AliasInput{AliasName: sp(fmt.Sprint("alias/move-", i)), TargetKeyID: &other}); err != nil {
			t.Fatal(err)
		}
	}
	nodes := [2]*kmstest.Node{e.Node, e.NewNode()}
	var moved atomic.Int32
	codes := kmstest.Race(t, nodes, 32, func(svc *kmstest.Node, i int) error {
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
		out, err := e.Node.ListAliases(root, &wire.ListAliasesInput{KeyID: &key, Limit: ptr(int64(100))})
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
	codes = kmstest.Race(t, nodes, 100, func(svc *kmstest.Node, i int) error {
		_, err := svc.CreateAlias(root, &wire.AliasInput{AliasName: sp("alias/one"), TargetKeyID: &other})
		return err
	})
	if codes[""] != 1 || codes[awserr.AlreadyExists] != 99 {
		t.Fatalf("CreateAlias outcomes %v; want 1 success and 99 AlreadyExistsException", codes)
	}
	third := e.Key("")
	codes = kmstest.Race(t, nodes, 100, func(svc *kmstest.Node, i int) error {
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
	fs := &failingStore{Store: e.Store, kind: "keyaliases"}
	e.Store = fs
	e.Node = e.NewNode()
	kp := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"` + gBob.ARN + `"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"ForAnyValue:StringLike":{"kms:ResourceAliases":"alias/secret-*"}}}]}`
	id := e.Key(kp)
	fs.fail.Store(true)
	err := encrypt(e.Node, e.As(gBob), id, nil)
	if code := awserr.CodeOf(err); code != awserr.DependencyTimeout {
		t.Fatalf("aliases unreadable: Encrypt = %v; want DependencyTimeoutException", err)
	}
	fs.fail.Store(false)
	wantCode(t, encrypt(e.Node, e.As(gBob), id, nil), "")
	if _, err := e.Node.CreateAlias(e.As(gRoot), &wire.AliasInput{AliasName: sp("alias/secret-1"), TargetKeyID: &id}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, encrypt(e.Node, e.As(gBob), id, nil), awserr.AccessDenied)
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
	id := e.Key(kp)
	// Turn the store into one of an earlier version: aliases without the
	// index, and no mark of the conversion.
	ctx := context.Background()
	ops := []store.Op{{Kind: "kmsmeta", ID: "keyaliases-v1", Delete: true}}
	for i := 0; i < 48; i++ {
		name := fmt.Sprintf("alias/app-%02d", i)
		ops = append(ops, store.Op{Kind: "alias", ID: "111122223333/" + name, Create: true,
			Data: fmt.Appendf(nil, `{"account":"111122223333","name":%q,"keyId":%q}`, name, id)})
	}
	if err := e.Store.Apply(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Get(ctx, "keyaliases", id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("index record before migration: %v", err)
	}
	svc := e.NewNode()
	wantCode(t, encrypt(svc, e.As(gBob), id, nil), "")
	root := e.As(gRoot)
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
