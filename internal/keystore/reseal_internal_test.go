package keystore

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// TestResealAll: after the root key changes, ResealAll seals every custom
// key store's secret under the new root key, each store once, the secret
// unchanged; a second pass rewrites nothing.
func TestResealAll(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	service := func(root rootkey.Provider) *Service {
		svc, err := kms.New(kms.Config{Store: st, Root: root})
		if err != nil {
			t.Fatal(err)
		}
		return New(svc, Config{})
	}
	before := service(kmstest.RootKeys(t, "a-old"))
	secrets := map[string][]byte{}
	for i := range 3 {
		d := &keyStoreDoc{ID: fmt.Sprintf("cks-%017d", i), Account: "111122223333", Name: fmt.Sprint("s", i),
			Type: StoreTypeExternal, Created: time.Unix(0, 0).UTC(), State: ConnDisconnected}
		secret := bytes.Repeat([]byte{byte('0' + i)}, 43)
		if d.SealedSecret, err = before.root.Seal(secret, keyStoreSecretAAD(d.ID)); err != nil {
			t.Fatal(err)
		}
		if err := before.putKeyStore(ctx, d, 0); err != nil {
			t.Fatal(err)
		}
		secrets[d.ID] = secret
	}

	after := service(kmstest.RootKeys(t, "a-old", "b-new"))
	var progress []int
	if n, err := after.ResealAll(ctx, func(n int) { progress = append(progress, n) }); err != nil || n != 3 || fmt.Sprint(progress) != "[1 2 3]" {
		t.Fatalf("ResealAll = %d, %v (progress %v), want 3", n, err, progress)
	}
	if n, err := after.ResealAll(ctx, nil); err != nil || n != 0 {
		t.Fatalf("second ResealAll = %d, %v, want 0", n, err)
	}
	only := service(kmstest.RootKeys(t, "b-new"))
	for id, secret := range secrets {
		d, _, err := only.getKeyStore(ctx, "111122223333", id)
		if err != nil {
			t.Fatal(err)
		}
		if by, _ := rootkey.SealedBy(d.SealedSecret); by != "b-new" {
			t.Fatalf("key store %s sealed by %q, want b-new", id, by)
		}
		got, err := only.root.Open(d.SealedSecret, keyStoreSecretAAD(id))
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("key store %s secret after ResealAll: %v (same: %v)", id, err, bytes.Equal(got, secret))
		}
	}
}
