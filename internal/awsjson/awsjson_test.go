package awsjson

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
)

type input struct {
	KeyID     *string           `json:"KeyId"`
	Plaintext []byte            `json:"Plaintext"`
	N         *int64            `json:"NumberOfBytes"`
	EC        map[string]string `json:"EncryptionContext"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		code       string
		check      func(*input) bool
	}{
		{"ok/empty", ``, "", func(in *input) bool { return in.KeyID == nil }},
		{"ok/blob", `{"KeyId":"k","Plaintext":"aGVsbG8="}`, "", func(in *input) bool { return *in.KeyID == "k" && string(in.Plaintext) == "hello" }},
		{"ok/unknown-member-ignored", `{"KeyId":"k","Future":{"x":1}}`, "", func(in *input) bool { return *in.KeyID == "k" }},
		{"ok/context", `{"EncryptionContext":{"a":"b"}}`, "", func(in *input) bool { return in.EC["a"] == "b" }},
		{"fail/not-an-object", `[1]`, awserr.Serialization, nil},
		{"fail/syntax", `{"KeyId":`, awserr.Serialization, nil},
		{"fail/type", `{"NumberOfBytes":"ten"}`, awserr.Serialization, nil},
		{"fail/bad-base64", `{"Plaintext":"***"}`, awserr.Serialization, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var in input
			err := Decode([]byte(tc.body), &in)
			if tc.code != "" {
				if awserr.CodeOf(err) != tc.code {
					t.Fatalf("Decode(%s) = %v, want %s", tc.body, err, tc.code)
				}
				return
			}
			if err != nil || !tc.check(&in) {
				t.Fatalf("Decode(%s) = %v, %+v", tc.body, err, in)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	if op, err := ParseTarget("TrentService.Encrypt", "TrentService"); err != nil || op != "Encrypt" {
		t.Fatalf("got %q, %v", op, err)
	}
	for _, bad := range []string{"", "TrentService", "TrentService.", "Other.Encrypt"} {
		if _, err := ParseTarget(bad, "TrentService"); awserr.CodeOf(err) != awserr.UnknownOperation {
			t.Errorf("ParseTarget(%q) = %v, want UnknownOperationException", bad, err)
		}
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	WriteError(w, awserr.New(awserr.NotFound, "Key 'x' does not exist"))
	if w.Code != 400 || w.Header().Get("Content-Type") != ContentType {
		t.Fatalf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	if got := w.Body.String(); got != `{"__type":"NotFoundException","message":"Key 'x' does not exist"}` {
		t.Fatalf("body %s", got)
	}
	w = httptest.NewRecorder()
	WriteError(w, awserr.Internal())
	if w.Code != 500 {
		t.Fatalf("internal error status %d", w.Code)
	}
}

func TestReadBodyLimit(t *testing.T) {
	t.Parallel()
	b, err := ReadBody(strings.NewReader("abc"), 3)
	if err != nil || string(b) != "abc" {
		t.Fatalf("got %q, %v", b, err)
	}
	if _, err := ReadBody(strings.NewReader("abcd"), 3); awserr.CodeOf(err) != awserr.RequestEntityTooLarge {
		t.Fatalf("oversized body: %v", err)
	}
}

func BenchmarkDecodeEncrypt(b *testing.B) {
	body := []byte(`{"KeyId":"alias/bench","Plaintext":"` + strings.Repeat("QUFB", 340) + `","EncryptionContext":{"a":"b"}}`)
	b.ReportAllocs()
	for b.Loop() {
		var in input
		if err := Decode(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}
