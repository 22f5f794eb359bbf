// Package bench_test drives "trent bench" (internal/bench) end to end against
// the ideal server, in process.
package bench_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/bench"
	"github.com/trentkms/trent/internal/sigv4"
	"github.com/trentkms/trent/test/bench/ideal"
)

const (
	akid   = "AKIDBENCHTEST"
	secret = "benchSecretKeyEXAMPLEbenchSecretKeyEXAMP"
)

// verifying wraps h with SigV4 verification, so that a run with zero errors
// also proves every request the bench signed verifies.
func verifying(h http.Handler) http.Handler {
	v := &sigv4.Verifier{Source: sigv4.StaticCredentials{akid: {Key: []byte(secret)}}, Region: "us-east-1"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := v.Verify(r.Context(), r, body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			code := strings.SplitN(err.Error(), ":", 2)[0]
			io.WriteString(w, `{"__type":"`+code+`"}`)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		h.ServeHTTP(w, r)
	})
}

func TestRunIdealServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(verifying(ideal.Handler()))
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		mix     string
		key     string
		secret  string
		wantErr string // setup error substring
		errName string // expected error name counted during load
		netHTTP bool   // send load through net/http instead of raw connections
	}{
		{name: "ok/net-http-transport", mix: "Encrypt=1,GenerateDataKey=1", key: "alias/bench", netHTTP: true},
		{name: "ok/mix", mix: "Encrypt=5,Decrypt=5,GenerateDataKey=1", key: "alias/bench"},
		{name: "ok/decrypt-only", mix: "Decrypt", key: ideal.KeyARN},
		{name: "fail/unsupported-op-counted", mix: "Encrypt=1,DescribeKey=1", key: "alias/bench", errName: "UnknownOperationException"},
		{name: "fail/create-key-refused", mix: "Encrypt", wantErr: "CreateKey failed: UnknownOperationException"},
		{name: "fail/wrong-secret", mix: "Encrypt", key: "alias/bench", secret: "wrong", errName: "InvalidSignatureException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := bench.ParseMix(tc.mix)
			if err != nil {
				t.Fatal(err)
			}
			sec := secret
			if tc.secret != "" {
				sec = tc.secret
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cfg := bench.Config{
				Endpoint: srv.URL, AccessKeyID: akid, SecretAccessKey: sec,
				Mix: m, Concurrency: 8, Requests: 200, Size: 1024, KeyID: tc.key,
			}
			if tc.netHTTP {
				cfg.Transport = &http.Transport{}
			}
			res, err := bench.Run(ctx, cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 200 {
				t.Fatalf("requests = %d, want 200", res.Requests)
			}
			var perOp uint64
			for _, n := range res.PerOp {
				perOp += n
			}
			if perOp != 200 {
				t.Fatalf("per-op counts sum to %d: %v", perOp, res.PerOp)
			}
			if tc.errName == "" {
				if len(res.Errors) != 0 || res.Succeeded != 200 {
					t.Fatalf("errors = %v, succeeded %d", res.Errors, res.Succeeded)
				}
			} else if res.Errors[tc.errName] == 0 || len(res.Errors) != 1 {
				t.Fatalf("errors = %v, want only %s", res.Errors, tc.errName)
			}
			l := res.Latency
			if !(l.Min > 0 && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Fatalf("latency not monotone: %+v", l)
			}
			if res.RequestsPerSecond <= 0 || res.DurationSeconds <= 0 {
				t.Fatalf("rate %v over %v s", res.RequestsPerSecond, res.DurationSeconds)
			}
		})
	}
}

// TestRunDuration checks that a timed run stops on time, without counting
// the requests cut off at the end as errors.
func TestRunDuration(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(verifying(ideal.Handler()))
	t.Cleanup(srv.Close)
	m, _ := bench.ParseMix("Encrypt")
	var progress strings.Builder
	start := time.Now()
	res, err := bench.Run(context.Background(), bench.Config{
		Endpoint: srv.URL, AccessKeyID: akid, SecretAccessKey: secret, Mix: m,
		Concurrency: 4, Duration: 1200 * time.Millisecond, Warmup: 200 * time.Millisecond, KeyID: "k",
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("run took %v", el)
	}
	if res.Requests == 0 || len(res.Errors) != 0 {
		t.Fatalf("requests %d, errors %v", res.Requests, res.Errors)
	}
	if !strings.Contains(progress.String(), "req/s") {
		t.Fatalf("no progress line: %q", progress.String())
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	m, _ := bench.ParseMix("Encrypt")
	good := bench.Config{Endpoint: "http://127.0.0.1:1", AccessKeyID: "a", SecretAccessKey: "s", Mix: m, Requests: 1}
	tests := []struct {
		name   string
		mutate func(c *bench.Config)
	}{
		{"fail/no-endpoint", func(c *bench.Config) { c.Endpoint = "" }},
		{"fail/bad-scheme", func(c *bench.Config) { c.Endpoint = "ftp://127.0.0.1" }},
		{"fail/no-credentials", func(c *bench.Config) { c.SecretAccessKey = "" }},
		{"fail/no-mix", func(c *bench.Config) { c.Mix = nil }},
		{"fail/no-length", func(c *bench.Config) { c.Requests = 0 }},
		{"fail/unreachable", func(c *bench.Config) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tc.mutate(&c)
			if _, err := bench.Run(context.Background(), c); err == nil {
				t.Fatal("Run succeeded")
			} else if strings.Contains(err.Error(), "s\"") {
				t.Fatalf("error may echo the secret: %v", err)
			}
		})
	}
}
