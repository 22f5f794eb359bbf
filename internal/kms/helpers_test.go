package kms_test

import (
	"context"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/wire"
)

// The principals and fixture of the policy tests (kmstest.PolicyEnv).
var gRoot, gRootB, gBob, gAlice, gCarol = kmstest.AccountRoot, kmstest.AccountBRoot, kmstest.Bob, kmstest.Alice, kmstest.Carol

func newGrantEnv(t testing.TB) *kmstest.PolicyEnv { return kmstest.NewPolicyEnv(t) }

func encrypt(svc *kmstest.Node, ctx context.Context, keyID string, ec map[string]string, tokens ...string) error {
	_, err := svc.Encrypt(ctx, &wire.EncryptInput{KeyID: &keyID, Plaintext: []byte("hello"), EncryptionContext: ec, GrantTokens: tokens})
	return err
}

func sp(s string) *string { return &s }

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if got := awserr.CodeOf(err); got != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}
