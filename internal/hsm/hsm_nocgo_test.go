//go:build !cgo

package hsm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/hsm"
)

func TestNoCgoStub(t *testing.T) {
	_, err := hsm.Open(hsm.Config{Module: "/x.so", TokenLabel: "t", PIN: "1"})
	if !errors.Is(err, hsm.ErrUnavailable) || !strings.Contains(err.Error(), "cgo") {
		t.Fatalf("Open without cgo = %v, want ErrUnavailable mentioning cgo", err)
	}
	if hsm.Available {
		t.Fatal("Available is true in a build without cgo")
	}
}
