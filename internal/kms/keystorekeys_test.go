package kms_test

import (
	"slices"
	"testing"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/store"
	"github.com/trentkms/trent/internal/wire"
)

// TestCustomKeyStoreKeys: CustomKeyStoreKeys finds, over more than a page
// of the account's keys, the keys of that account in that custom key
// store, and no other account's.
func TestCustomKeyStoreKeys(t *testing.T) {
	t.Parallel()
	e := kmstest.NewEnv(t)
	ctxB := kms.WithCaller(e.Ctx, kmstest.AccountBRoot)
	inStore := func(id, storeID string) {
		t.Helper()
		if _, err := e.Node.UpdateKey(e.Ctx, id, func(d *kms.KeyDoc, _ int64) ([]store.Op, error) {
			d.CustomKeyStoreID = storeID
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 230 {
		k, err := e.Node.CreateKey(e.Ctx, &wire.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i%50 == 7:
			inStore(k.KeyMetadata.KeyID, "cks-1234567890abcdef1")
			want = append(want, k.KeyMetadata.KeyID)
		case i == 8:
			inStore(k.KeyMetadata.KeyID, "cks-1234567890abcdef2")
		}
	}
	other, err := e.Node.CreateKey(ctxB, &wire.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	inStore(other.KeyMetadata.KeyID, "cks-1234567890abcdef1")
	got, err := e.Node.CustomKeyStoreKeys(e.Ctx, "111122223333", "cks-1234567890abcdef1")
	slices.Sort(got)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("CustomKeyStoreKeys = %v, %v; want %v", got, err, want)
	}
}
