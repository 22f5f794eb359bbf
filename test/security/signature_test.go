package security

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// sigKeyState returns the KeyState of key id, as DescribeKey reports it.
func sigKeyState(t *testing.T, s *Server, id string) string {
	t.Helper()
	r := s.Call(t, Admin, "DescribeKey", map[string]any{"KeyId": id})
	if r.Status != http.StatusOK {
		t.Fatalf("DescribeKey: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	var out struct{ KeyMetadata struct{ KeyState string } }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata.KeyState
}

// sigWant checks that r is the JSON error typ whose message contains msg.
func sigWant(t *testing.T, what string, r Response, status int, typ, msg string) {
	t.Helper()
	if r.Status != status || r.ErrorType != typ || !strings.Contains(r.Message, msg) {
		t.Fatalf("%s: %d %s %q, want %d %s containing %q", what, r.Status, r.ErrorType, r.Message, status, typ, msg)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Fatalf("%s: Content-Type %q, want the JSON error of AWS", what, ct)
	}
}

// TestSignatureScopeSwap replays a DescribeKey signed over host and
// x-amz-date only (as a client that does not sign X-Amz-Target sends it)
// with the operation changed to DisableKey and ScheduleKeyDeletion: both
// are refused and the key stays Enabled. Before the fix the replay
// disabled the key.
func TestSignatureScopeSwap(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	id := s.CreateKey(t, Admin, nil)
	body := []byte(`{"KeyId":"` + id + `"}`)

	for _, op := range []string{"DisableKey", "ScheduleKeyDeletion"} {
		// The captured request: signed without X-Amz-Target and
		// Content-Type, so its SignedHeaders are host and x-amz-date.
		req := s.NewKMSRequest(t, "DescribeKey", body)
		req.Header.Del("X-Amz-Target")
		req.Header.Del("Content-Type")
		Sign(t, req, body, Admin, "kms")
		if a := req.Header.Get("Authorization"); !strings.Contains(a, "SignedHeaders=content-length;host;x-amz-date,") &&
			!strings.Contains(a, "SignedHeaders=host;x-amz-date,") {
			t.Fatalf("the replayed signature covers more than host and date: %s", a)
		}
		// The replay, with the operation of the attacker's choice.
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "TrentService."+op)
		r := Do(t, req)
		sigWant(t, "replayed as "+op, r, http.StatusBadRequest, "InvalidSignatureException", "must be a 'SignedHeader' in the AWS Authorization.")
	}
	if st := sigKeyState(t, s, id); st != "Enabled" {
		t.Fatalf("key state after the replays: %s, want Enabled", st)
	}

	// The same request with every header signed is served.
	req := s.NewKMSRequest(t, "DisableKey", body)
	Sign(t, req, body, Admin, "kms")
	if r := Do(t, req); r.Status != http.StatusOK {
		t.Fatalf("signed DisableKey: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	if st := sigKeyState(t, s, id); st != "Disabled" {
		t.Fatalf("key state after a signed DisableKey: %s", st)
	}
}

// TestSignatureUnsignedAmzHeader adds X-Amz-* headers that the signature
// does not cover to correctly signed requests: each is refused, while
// headers outside X-Amz-* that SDKs and proxies leave unsigned are not.
func TestSignatureUnsignedAmzHeader(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	id := s.CreateKey(t, Admin, nil)
	body := []byte(`{"KeyId":"` + id + `"}`)
	for _, tc := range []struct {
		name, header, value string
		refused             bool
	}{
		{"fail/x-amz-meta", "X-Amz-Meta-Extra", "1", true},
		{"fail/session-token", "X-Amz-Security-Token", "FwoGZXIvYXdzEXAMPLE", true},
		{"fail/content-sha256", "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD", true},
		{"fail/lower-case-name", "x-amz-meta-lower", "1", true},
		{"ok/trace-id", "X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793", false},
		{"ok/sdk-invocation-id", "Amz-Sdk-Invocation-Id", "4b3c2a1e-0000-4000-8000-000000000000", false},
		{"ok/forwarded-for", "X-Forwarded-For", "192.0.2.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := s.NewKMSRequest(t, "DescribeKey", body)
			Sign(t, req, body, Admin, "kms")
			req.Header[tc.header] = append(req.Header[tc.header], tc.value) // the name as given, on the wire
			r := Do(t, req)
			if !tc.refused {
				if r.Status != http.StatusOK {
					t.Fatalf("unsigned %s refused: %d %s %s", tc.header, r.Status, r.ErrorType, r.Message)
				}
				return
			}
			sigWant(t, "unsigned "+tc.header, r, http.StatusBadRequest, "InvalidSignatureException", "must be a 'SignedHeader' in the AWS Authorization.")
		})
	}
	if st := sigKeyState(t, s, id); st != "Enabled" {
		t.Fatalf("key state: %s, want Enabled", st)
	}
	// The SDK, which signs every header it sends, is unaffected.
	if _, err := s.KMS(Admin).ListKeys(t.Context(), nil); err != nil {
		t.Fatalf("aws-sdk-go-v2 ListKeys: %v", err)
	}
}
