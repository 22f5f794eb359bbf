package kms_test

import (
	"errors"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms/kmstest"
)

// newEnv returns the fixture of the key lifecycle tests.
func newEnv(t testing.TB) *kmstest.Env { return kmstest.NewEnv(t) }

func ptr[T any](v T) *T { return &v }

// must returns v, failing t if err is not nil: must(f())(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantErr fails unless err is an *awserr.Error with code and, if msg is not
// "*", exactly that message.
func wantErr(t testing.TB, err error, code, msg string) {
	t.Helper()
	var e *awserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if e.Code != code || (msg != "*" && e.Message != msg) {
		t.Fatalf("error = %s: %q, want %s: %q", e.Code, e.Message, code, msg)
	}
}
