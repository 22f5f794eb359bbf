package security

import (
	"net/http"
	"testing"
)

// TestHarness checks the harness itself: a child server answers a signed
// call and refuses an unsigned one.
func TestHarness(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	id := s.CreateKey(t, Admin, nil)
	if r := s.Call(t, Admin, "DescribeKey", map[string]any{"KeyId": id}); r.Status != http.StatusOK {
		t.Fatalf("DescribeKey: %d %s", r.Status, r.Body)
	}
	if r := s.Call(t, Creds{}, "DescribeKey", map[string]any{"KeyId": id}); r.Status != http.StatusBadRequest || r.ErrorType != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned DescribeKey: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
}
