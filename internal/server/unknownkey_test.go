package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/sigv4"
)

// Both APIs report a failure as UnknownKey to the failure limiter (which
// spends the node's lookup budget and remembers the key as missing) only
// when its access key was looked up and not found: not for a key the node
// has, however the request was wrong.
func TestUnknownKeyReported(t *testing.T) {
	n, err := node.Start(&config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir()},
		node.Options{Env: config.Env{AccessKeyID: benchAKID, SecretAccessKey: benchSecret}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	send := func(service, akid, secret, token string) string {
		t.Helper()
		body := []byte("{}")
		if service != "kms" {
			body = []byte(url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode())
		}
		r, _ := http.NewRequest(http.MethodPost, n.Endpoint+"/", bytes.NewReader(body))
		if service == "kms" {
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
		} else {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		}
		sigv4.Sign(r, body, akid, []byte(secret), token, "us-east-1", service, time.Now())
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	unknown := func() uint64 { return n.Server.Stats().FailedAuth.UnknownKeys }
	for _, tc := range []struct {
		service, akid, secret, token string
		want                         string // in the answer
		unknown                      bool
	}{
		{"kms", "AKIAMADEUPMADEUP0001", "x", "", "UnrecognizedClientException", true},
		{"kms", benchAKID, "wrong-secret", "", "InvalidSignatureException", false},
		{"kms", benchAKID, benchSecret, "unexpected-token", "UnrecognizedClientException", false},
		{"sts", "AKIAMADEUPMADEUP0002", "x", "", "InvalidClientTokenId", true},
		{"sts", benchAKID, benchSecret, "unexpected-token", "InvalidClientTokenId", false},
	} {
		before := unknown()
		if got := send(tc.service, tc.akid, tc.secret, tc.token); !strings.Contains(got, tc.want) {
			t.Fatalf("%s %s: answer %s, want %s", tc.service, tc.akid, got, tc.want)
		}
		if got := unknown() - before; got != map[bool]uint64{true: 1}[tc.unknown] {
			t.Errorf("%s %s (%s): %d failures reported as unknown keys, want unknown %v", tc.service, tc.akid, tc.want, got, tc.unknown)
		}
	}
}
