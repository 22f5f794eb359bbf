package awsjson

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

// TestReadPost: only POST, at most max bytes (max itself is allowed).
func TestReadPost(t *testing.T) {
	for _, c := range []struct {
		method, body string
		code         string
	}{
		{"POST", "", ""},
		{"POST", "{}", ""},
		{"POST", strings.Repeat("x", 8), ""},
		{"POST", strings.Repeat("x", 9), awserr.RequestEntityTooLarge},
		{"GET", "{}", awserr.UnknownOperation},
		{"PUT", "{}", awserr.UnknownOperation},
	} {
		r := httptest.NewRequest(c.method, "/", strings.NewReader(c.body))
		got, err := ReadPost(r, 8)
		switch {
		case c.code == "" && (err != nil || string(got) != c.body):
			t.Errorf("%s %d bytes: %q, %v", c.method, len(c.body), got, err)
		case c.code != "" && (err == nil || err.Code != c.code):
			t.Errorf("%s %d bytes: %v; want %s", c.method, len(c.body), err, c.code)
		}
	}
	if Operation("P.Op", "P") != "Op" || Operation("Q.Op", "P") != "Q.Op" || Operation("POp", "P") != "POp" {
		t.Error("Operation")
	}
}
