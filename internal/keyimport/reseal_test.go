package keyimport_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
	"github.com/trentkms/trent/internal/wire"
)

// TestResealAll: after the root key changes, the core's ResealAll seals
// every key material and the import concern's ResealAll every pending
// import's wrapping key under the new root key, each record once; a node
// that holds only the new root key then decrypts what the old one
// protected, and a second pass rewrites nothing.
func TestResealAll(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "trent.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := kms.WithCaller(context.Background(), kmstest.AccountRoot)
	node := func(root rootkey.Provider) *kmstest.Node {
		return kmstest.New(t, kmstest.Config{KMS: kms.Config{Store: st, Root: root}})
	}

	before := node(kmstest.RootKeys(t, "a-old"))
	var blobs [][]byte
	for range 2 {
		k, err := before.CreateKey(ctx, &wire.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := before.Encrypt(ctx, &wire.EncryptInput{KeyID: &k.KeyMetadata.KeyID, Plaintext: []byte("secret")})
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, out.CiphertextBlob)
	}
	ext, err := before.CreateKey(ctx, &wire.CreateKeyInput{Origin: ptr("EXTERNAL")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := before.Imports.GetParametersForImport(ctx, &wire.GetParametersForImportInput{KeyID: &ext.KeyMetadata.KeyID,
		WrappingAlgorithm: ptr("RSAES_OAEP_SHA_256"), WrappingKeySpec: ptr("RSA_2048")}); err != nil {
		t.Fatal(err)
	}

	after := node(kmstest.RootKeys(t, "a-old", "b-new"))
	var progress []int
	if n, err := after.ResealAll(ctx, func(n int) { progress = append(progress, n) }); err != nil || n != 2 || fmt.Sprint(progress) != "[1 2]" {
		t.Fatalf("kms ResealAll = %d, %v (progress %v), want 2", n, err, progress)
	}
	progress = nil
	if n, err := after.Imports.ResealAll(ctx, func(n int) { progress = append(progress, n) }); err != nil || n != 1 || fmt.Sprint(progress) != "[1]" {
		t.Fatalf("keyimport ResealAll = %d, %v (progress %v), want 1", n, err, progress)
	}
	if n, err := after.ResealAll(ctx, nil); err != nil || n != 0 {
		t.Fatalf("second kms ResealAll = %d, %v, want 0", n, err)
	}
	if n, err := after.Imports.ResealAll(ctx, nil); err != nil || n != 0 {
		t.Fatalf("second keyimport ResealAll = %d, %v, want 0", n, err)
	}

	only := node(kmstest.RootKeys(t, "b-new"))
	for _, blob := range blobs {
		out, err := only.Decrypt(ctx, &wire.DecryptInput{CiphertextBlob: blob})
		if err != nil || string(out.Plaintext) != "secret" {
			t.Fatalf("Decrypt with only the new root key: %v", err)
		}
	}
	recs, err := st.List(ctx, "importparams", "", "", 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("import parameters: %d records, %v", len(recs), err)
	}
	var d struct {
		SealedPrivate []byte `json:"sealedPrivate"`
	}
	if err := json.Unmarshal(recs[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if id, err := rootkey.SealedBy(d.SealedPrivate); err != nil || id != "b-new" {
		t.Fatalf("import parameters sealed by %q (%v), want b-new", id, err)
	}
}
