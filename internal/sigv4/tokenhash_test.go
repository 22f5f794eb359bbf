package sigv4

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

// TestSessionTokenSHA256: a source that keeps only the hash of a session
// token accepts the token and nothing else.
func TestSessionTokenSHA256(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte(tempToken))
	v := testVerifier(testNow)
	v.Source = StaticCredentials{testAKID: {Key: []byte(testSecret), SessionTokenSHA256: sum[:]}}
	for _, tc := range []struct{ name, token, want string }{
		{"ok/token", tempToken, ""},
		{"fail/no-token", "", awserr.UnrecognizedClient},
		{"fail/other-token", tempToken + "x", awserr.UnrecognizedClient},
		{"fail/hash-as-token", string(sum[:]), awserr.UnrecognizedClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4599/", strings.NewReader(testBody))
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
			Sign(r, []byte(testBody), testAKID, []byte(testSecret), tc.token, "us-east-1", "kms", testNow)
			res, err := v.Verify(context.Background(), r, []byte(testBody))
			if tc.want == "" {
				if err != nil || res.SessionToken != tc.token {
					t.Fatalf("Verify: %v (token %q)", err, res.SessionToken)
				}
				return
			}
			if e := awserr.As(err); e == nil || e.Code != tc.want {
				t.Fatalf("Verify: %v, want %s", err, tc.want)
			}
		})
	}
}
