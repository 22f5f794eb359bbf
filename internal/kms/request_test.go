package kms_test

import (
	"context"
	"testing"

	"github.com/trentkms/trent/internal/kms"
)

type otherKey struct{}

// kms.RequestContext must answer exactly as WithTrace(WithCaller(ctx, c), t) does.
func TestRequestContext(t *testing.T) {
	parent := context.WithValue(context.Background(), otherKey{}, "x")
	c, tr := &kms.Caller{Account: "111122223333"}, &kms.Trace{}
	r := &kms.RequestContext{Context: parent, Caller: c, Trace: tr}
	if kms.CallerFrom(r) != c || kms.TraceFrom(r) != tr || r.Value(otherKey{}) != "x" {
		t.Fatalf("Request does not carry its caller, trace and parent values")
	}
	// A nil field falls through to the parent, as a missing layer would.
	inner := kms.WithCaller(context.Background(), c)
	r = &kms.RequestContext{Context: inner}
	if kms.CallerFrom(r) != c || kms.TraceFrom(r) != nil {
		t.Fatalf("nil fields must defer to the parent context")
	}
}
