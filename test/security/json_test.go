package security

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/audit"
)

// jsonRecord returns the audit record of the request with ID reqID.
func jsonRecord(t *testing.T, s *Server, reqID string) *audit.Event {
	t.Helper()
	var found *audit.Event
	err := audit.Read(filepath.Join(s.DataDir, "audit"), audit.Filter{}, func(e audit.Entry) error {
		if e.Event.RequestID == reqID {
			found = e.Event
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read trail: %v", err)
	}
	if found == nil {
		t.Fatalf("no audit record for request %s", reqID)
	}
	return found
}

// jsonWantSerialization checks that r is a SerializationException in JSON.
func jsonWantSerialization(t *testing.T, what string, r Response) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.ErrorType != "SerializationException" {
		t.Fatalf("%s: %d %s %q, want 400 SerializationException", what, r.Status, r.ErrorType, r.Message)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
}

// TestJSONDuplicateAndCaseVariantMembers sends DisableKey bodies that name
// two keys. A repeated member name, in the request or in a map, is refused
// and no key is touched. A case variant of KeyId is an unknown member, as
// AWS treats it: the call acts on KeyId alone, the key named only by the
// variant is not touched, and the audit record names the key that was
// acted on. Before the fix the variant won and the record named the other
// key.
func TestJSONDuplicateAndCaseVariantMembers(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	a := s.CreateKey(t, Admin, nil)
	b := s.CreateKey(t, Admin, nil)

	for _, body := range []string{
		`{"KeyId":"` + a + `","KeyId":"` + b + `"}`,
		`{"KeyId":"` + b + `","Ke\u0079Id":"` + a + `"}`,
		`{"KeyId":"` + a + `","GrantTokens":[],"GrantTokens":[]}`,
	} {
		jsonWantSerialization(t, "DisableKey "+body, s.Call(t, Admin, "DisableKey", body))
	}
	ct := `{"KeyId":"` + a + `","Plaintext":"aGVsbG8=","EncryptionContext":{"tenant":"a","tenant":"b"}}`
	jsonWantSerialization(t, "Encrypt with a repeated context key", s.Call(t, Admin, "Encrypt", ct))
	for _, id := range []string{a, b} {
		if st := sigKeyState(t, s, id); st != "Enabled" {
			t.Fatalf("key %s is %s after refused requests", id, st)
		}
	}

	// Alone, a case variant is no KeyId at all.
	r := s.Call(t, Admin, "DisableKey", `{"keyid":"`+b+`"}`)
	if r.Status != http.StatusBadRequest || r.ErrorType != "ValidationException" ||
		r.Message != "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null" {
		t.Fatalf("DisableKey with keyid only: %d %s %q", r.Status, r.ErrorType, r.Message)
	}

	// Beside KeyId, it is ignored: a is disabled, b is not, and the
	// record says a.
	r = s.Call(t, Admin, "DisableKey", `{"KeyId":"`+a+`","KEYID":"`+b+`"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("DisableKey with a case variant: %d %s %q", r.Status, r.ErrorType, r.Message)
	}
	if st := sigKeyState(t, s, a); st != "Disabled" {
		t.Fatalf("key named by KeyId is %s, want Disabled", st)
	}
	if st := sigKeyState(t, s, b); st != "Enabled" {
		t.Fatalf("key named only by KEYID is %s, want Enabled", st)
	}
	ev := jsonRecord(t, s, r.Header.Get("X-Amzn-Requestid"))
	if got := ev.RequestParameters["keyId"]; got != a {
		t.Fatalf("audit record keyId = %v, want %s (the key acted on)", got, a)
	}
	if len(ev.Resources) != 1 || !strings.HasSuffix(ev.Resources[0].ARN, "/"+a) {
		t.Fatalf("audit record resources = %+v, want key %s", ev.Resources, a)
	}
	for k := range ev.RequestParameters {
		if strings.EqualFold(k, "keyid") && k != "keyId" {
			t.Fatalf("audit record has the unknown member %s: %v", k, ev.RequestParameters)
		}
	}
}

// TestJSONInvalidUTF8 sends descriptions holding invalid UTF-8 (an overlong
// encoding of '/', an encoded surrogate, a lone surrogate escape): each is
// refused with SerializationException and nothing reaches the store or
// the trail. Before the fix the bytes were stored.
func TestJSONInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	id := s.CreateKey(t, Admin, map[string]any{"Description": "clean"})
	for i, bad := range []string{"\xc0\xaf", "\xed\xa0\x80", `\ud800`, "\xff"} {
		marker := "utf8-marker-" + string(rune('a'+i))
		desc := marker + bad
		jsonWantSerialization(t, "UpdateKeyDescription", s.Call(t, Admin, "UpdateKeyDescription",
			`{"KeyId":"`+id+`","Description":"`+desc+`"}`))
		jsonWantSerialization(t, "CreateKey", s.Call(t, Admin, "CreateKey", `{"Description":"`+desc+`"}`))
		jsonWantSerialization(t, "TagResource", s.Call(t, Admin, "TagResource",
			`{"KeyId":"`+id+`","Tags":[{"TagKey":"k","TagValue":"`+desc+`"}]}`))
	}
	r := s.Call(t, Admin, "DescribeKey", map[string]any{"KeyId": id})
	if !bytes.Contains(r.Body, []byte(`"Description":"clean"`)) {
		t.Fatalf("description changed: %s", r.Body)
	}
	r = s.Call(t, Admin, "ListKeys", nil)
	if n := bytes.Count(r.Body, []byte(`"KeyId"`)); n != 1 {
		t.Fatalf("ListKeys lists %d keys, want 1: %s", n, r.Body)
	}
	// No byte of the refused requests is on disk: not in the store, not
	// in the trail (a request that was not decoded has no parameters).
	err := filepath.WalkDir(s.DataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("utf8-marker-")) {
			t.Errorf("%s holds a refused description", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestJSONDeepNesting sends bodies nested 10,000 deep: each gets a 400
// with a JSON error, never a 500 (before the fix the audit encoder failed
// on the record of a 10,000-deep ListKeys and the call got a 500), and the
// server keeps serving.
func TestJSONDeepNesting(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	nest := func(open, close string, depth int) string {
		return strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth)
	}
	// 9,999 levels inside the request object: deep, yet within what
	// encoding/json parses (10,000), as the old audit path did.
	arrays, objects := nest("[", "]", 9999), nest(`{"a":`, "}", 9999)
	for _, tc := range []struct{ op, body string }{
		{"CreateKey", `{"Future":` + arrays + `}`},
		{"CreateKey", `{"Future":` + objects + `}`},
		{"CreateKey", `{"Tags":` + arrays + `}`},
		{"CreateKey", `{"Future":` + nest("[", "]", 100000) + `}`},
		{"ListKeys", `{"Limit":` + arrays + `}`},
		{"ListKeys", `{"Future":` + objects + `}`},
		{"ListKeys", `{"Future":` + arrays + `}`},
		{"ListKeys", `{"Future":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`},
	} {
		r := s.Call(t, Admin, tc.op, tc.body)
		// ListKeys may refuse the body's size first (413), which is fine:
		// what must never happen is a 500 or a non-JSON answer.
		switch {
		case r.Status == http.StatusBadRequest && r.ErrorType == "SerializationException":
		case r.Status == http.StatusRequestEntityTooLarge && tc.op == "ListKeys" && len(tc.body) > 1024:
		default:
			t.Fatalf("%s %d bytes deep: %d %s %q, want 400 SerializationException", tc.op, len(tc.body), r.Status, r.ErrorType, r.Message)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Fatalf("%s: Content-Type %q", tc.op, ct)
		}
	}
	r := s.Call(t, Admin, "ListKeys", nil)
	if r.Status != http.StatusOK || bytes.Count(r.Body, []byte(`"KeyId"`)) != 0 {
		t.Fatalf("ListKeys after deep bodies: %d %s", r.Status, r.Body)
	}
}

// TestJSONMissingTarget sends JSON 1.1 requests without an X-Amz-Target
// header, or with an empty one: each gets AWS's JSON error body, not the
// IAM/STS handler's XML (before the fix they fell to the query API), while
// form-encoded IAM and STS requests keep working.
func TestJSONMissingTarget(t *testing.T) {
	t.Parallel()
	s := Start(t, Opts{})
	body := []byte(`{}`)
	for _, tc := range []struct {
		name   string
		target *string
		ct     string
		signed bool
	}{
		{"missing", nil, "application/x-amz-json-1.1", true},
		{"missing-unsigned", nil, "application/x-amz-json-1.1", false},
		{"empty", new(string), "application/x-amz-json-1.1", true},
		{"missing-json-1.0", nil, "application/x-amz-json-1.0", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := s.NewKMSRequest(t, "", body)
			req.Header.Set("Content-Type", tc.ct)
			if tc.target != nil {
				req.Header["X-Amz-Target"] = []string{*tc.target}
			}
			if tc.signed {
				Sign(t, req, body, Admin, "kms")
			}
			r := Do(t, req)
			if r.Status != http.StatusBadRequest || r.ErrorType != "UnknownOperationException" {
				t.Fatalf("%d %s %q %s, want 400 UnknownOperationException", r.Status, r.ErrorType, r.Message, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" || bytes.HasPrefix(bytes.TrimSpace(r.Body), []byte("<")) {
				t.Fatalf("Content-Type %q, body %s: want AWS's JSON error", ct, r.Body)
			}
		})
	}
	if out := s.MustQuery(t, Admin, "iam", "Action", "ListUsers"); !bytes.Contains(out, []byte("<ListUsersResponse")) {
		t.Fatalf("IAM ListUsers: %s", out)
	}
	if out := s.MustQuery(t, Admin, "sts", "Action", "GetCallerIdentity"); !bytes.Contains(out, []byte("<GetCallerIdentityResponse")) {
		t.Fatalf("STS GetCallerIdentity: %s", out)
	}
}
