package kms_test

import (
	"errors"
	"testing"

	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/wire"
)

// BenchmarkEncryptKeyRef measures Encrypt of 32 bytes with the key named
// in each form a KeyId takes: key resolution on the hot path.
func BenchmarkEncryptKeyRef(b *testing.B) {
	svc, ctx := kmstest.NewBenchNode(b)
	out, err := svc.CreateKey(ctx, &wire.CreateKeyInput{})
	if err != nil {
		b.Fatal(err)
	}
	keyID := out.KeyMetadata.KeyID
	if _, err := svc.CreateAlias(ctx, &wire.AliasInput{AliasName: sp("alias/bench"), TargetKeyID: &keyID}); err != nil {
		b.Fatal(err)
	}
	aliasARN := "arn:aws:kms:us-east-1:111122223333:alias/bench"
	for _, ref := range []struct{ name, ref string }{
		{"id", keyID}, {"arn", out.KeyMetadata.Arn}, {"alias", "alias/bench"}, {"alias-arn", aliasARN},
	} {
		b.Run(ref.name, func(b *testing.B) {
			in := &wire.EncryptInput{KeyID: &ref.ref, Plaintext: make([]byte, 32)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Encrypt(ctx, in); err != nil {
					b.Fatal(errors.Unwrap(err))
				}
			}
		})
	}
}
