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
		{"fail/base64-without-padding", `{"Plaintext":"aGVsbG8"}`, awserr.Serialization, nil},
		{"fail/base64-url-alphabet", `{"Plaintext":"-_-_"}`, awserr.Serialization, nil},
		// Member names are case-sensitive: a case variant is an unknown
		// member, ignored, and never acts in place of the real one.
		{"ok/case-variant-ignored", `{"KeyId":"a","KEYID":"b"}`, "", func(in *input) bool { return *in.KeyID == "a" }},
		{"ok/case-variant-first-ignored", `{"KEYID":"b","KeyId":"a"}`, "", func(in *input) bool { return *in.KeyID == "a" }},
		{"ok/lower-case-name-unknown", `{"keyId":"b"}`, "", func(in *input) bool { return in.KeyID == nil }},
		{"ok/escaped-name", `{"Ke\u0079Id":"a"}`, "", func(in *input) bool { return *in.KeyID == "a" }},
		{"ok/nulls", `{"KeyId":null,"Plaintext":null,"NumberOfBytes":null,"EncryptionContext":null}`, "", func(in *input) bool {
			return in.KeyID == nil && in.Plaintext == nil && in.N == nil && in.EC == nil
		}},
		{"ok/context-keys-case-sensitive", `{"EncryptionContext":{"a":"b","A":"c"}}`, "", func(in *input) bool { return len(in.EC) == 2 }},
		{"ok/whitespace-around", " \r\n\t{\"KeyId\":\"k\"} \n", "", func(in *input) bool { return *in.KeyID == "k" }},
		{"ok/depth-at-limit", `{"Future":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`, "", func(in *input) bool { return true }},
		{"ok/brackets-in-strings", `{"KeyId":"` + strings.Repeat("[{", 100) + `\"]"}`, "", func(in *input) bool { return len(*in.KeyID) == 202 }},
		{"fail/duplicate", `{"KeyId":"a","KeyId":"b"}`, awserr.Serialization, nil},
		{"fail/duplicate-escaped", `{"KeyId":"a","Ke\u0079Id":"b"}`, awserr.Serialization, nil},
		{"fail/duplicate-unknown", `{"Future":1,"Future":2}`, awserr.Serialization, nil},
		{"fail/duplicate-context-key", `{"EncryptionContext":{"a":"b","a":"c"}}`, awserr.Serialization, nil},
		{"fail/invalid-utf8-overlong", "{\"KeyId\":\"\xc0\xaf\"}", awserr.Serialization, nil},
		{"fail/invalid-utf8-surrogate", "{\"KeyId\":\"\xed\xa0\x80\"}", awserr.Serialization, nil},
		{"fail/invalid-utf8-in-name", "{\"\xff\":1}", awserr.Serialization, nil},
		{"fail/lone-surrogate-escape", `{"KeyId":"\ud800"}`, awserr.Serialization, nil},
		{"fail/too-deep", `{"Future":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`, awserr.Serialization, nil},
		{"fail/10000-deep", strings.Repeat("{\"a\":", 10000) + "1" + strings.Repeat("}", 10000), awserr.Serialization, nil},
		{"fail/trailing-garbage", `{"KeyId":"a"} x`, awserr.Serialization, nil},
		{"fail/two-objects", `{}{}`, awserr.Serialization, nil},
		{"fail/bom", "\xef\xbb\xbf{}", awserr.Serialization, nil},
		{"fail/null-body", `null`, awserr.Serialization, nil},
		{"fail/number-exponent", `{"NumberOfBytes":1e3}`, awserr.Serialization, nil},
		{"fail/number-fraction", `{"NumberOfBytes":1.0}`, awserr.Serialization, nil},
		{"fail/number-huge", `{"NumberOfBytes":99999999999999999999}`, awserr.Serialization, nil},
		{"fail/number-as-string", `{"NumberOfBytes":"32"}`, awserr.Serialization, nil},
		{"fail/context-value-not-string", `{"EncryptionContext":{"a":1}}`, awserr.Serialization, nil},
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

// TestDecodeMessages pins the SerializationException messages.
func TestDecodeMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, msg string }{
		{"{\"KeyId\": \n", "Malformed JSON at offset 9."},
		{`{"KeyId": 5}`, "Unexpected value type for member 'KeyId': number is not valid here."},
		{`{"Plaintext": "not base64!"}`, "Unexpected value type for member 'Plaintext': string is not valid here."},
		{`{"KeyId":"a","KeyId":"b"}`, "Duplicate member 'KeyId' at offset 13."},
		{`{"EncryptionContext":{"a":"b","a":"c"}}`, "Duplicate member name within member 'EncryptionContext' at offset 30."},
		{"{\"KeyId\":\"\xc0\xaf\"}", "Invalid UTF-8 in a string at offset 10."},
		{`{"KeyId":"\udc00"}`, "Invalid UTF-8 in a string at offset 10."},
		{`{} x`, "Malformed JSON at offset 3."},
		{`[1]`, "Start of structure or map found where not expected."},
		{`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "The request is nested deeper than 32 levels."},
		{`{"` + strings.Repeat("x", 100) + `":1,"` + strings.Repeat("x", 100) + `":2}`, "Duplicate member '" + strings.Repeat("x", 64) + "' at offset 106."},
	} {
		var in input
		err := Decode([]byte(tc.body), &in)
		if awserr.CodeOf(err) != awserr.Serialization || awserr.As(err).Message != tc.msg {
			t.Errorf("Decode(%q) = %v, want SerializationException %q", tc.body, err, tc.msg)
		}
	}
}

func TestIsJSONContentType(t *testing.T) {
	t.Parallel()
	for ct, want := range map[string]bool{
		"application/x-amz-json-1.1": true, "application/x-amz-json-1.0": true, "Application/X-Amz-Json-1.1; charset=utf-8": true,
		"application/json": true, " application/json ;x=y": true,
		"application/x-www-form-urlencoded; charset=utf-8": false, "": false, "text/plain": false, "application/x-amz-json-1.1x": false,
	} {
		if got := IsJSONContentType(ct); got != want {
			t.Errorf("IsJSONContentType(%q) = %v", ct, got)
		}
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

// The hot operations' input shapes (as in internal/kms, which this
// package does not import).
type (
	benchEncryptInput struct {
		KeyID               *string           `json:"KeyId"`
		Plaintext           []byte            `json:"Plaintext"`
		EncryptionContext   map[string]string `json:"EncryptionContext"`
		GrantTokens         []string          `json:"GrantTokens"`
		EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
		DryRun              *bool             `json:"DryRun"`
	}
	benchDecryptInput struct {
		CiphertextBlob      []byte            `json:"CiphertextBlob"`
		EncryptionContext   map[string]string `json:"EncryptionContext"`
		GrantTokens         []string          `json:"GrantTokens"`
		KeyID               *string           `json:"KeyId"`
		EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
		DryRun              *bool             `json:"DryRun"`
		DryRunModifiers     []string          `json:"DryRunModifiers"`
	}
	benchGenerateDataKeyInput struct {
		KeyID             *string           `json:"KeyId"`
		EncryptionContext map[string]string `json:"EncryptionContext"`
		NumberOfBytes     *int64            `json:"NumberOfBytes"`
		KeySpec           *string           `json:"KeySpec"`
		GrantTokens       []string          `json:"GrantTokens"`
		DryRun            *bool             `json:"DryRun"`
	}
)

const benchARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// BenchmarkDecode decodes the request bodies of the hot operations as the
// SDKs send them: Encrypt of 1 KiB, Decrypt of its ciphertext, and
// GenerateDataKey of 32 bytes with the Encryption SDK's context.
func BenchmarkDecode(b *testing.B) {
	run := func(b *testing.B, s string, newIn func() any) {
		body := []byte(s)
		b.ReportAllocs()
		for b.Loop() {
			if err := Decode(body, newIn()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("Encrypt", func(b *testing.B) {
		run(b, `{"KeyId":"`+benchARN+`","Plaintext":"`+strings.Repeat("QUFB", 342)+`","EncryptionContext":{"app":"bench"}}`,
			func() any { return new(benchEncryptInput) })
	})
	b.Run("Decrypt", func(b *testing.B) {
		run(b, `{"CiphertextBlob":"`+strings.Repeat("QUFB", 400)+`","KeyId":"`+benchARN+`","EncryptionContext":{"app":"bench"}}`,
			func() any { return new(benchDecryptInput) })
	})
	b.Run("GenerateDataKey", func(b *testing.B) {
		run(b, `{"KeyId":"`+benchARN+`","NumberOfBytes":32,"EncryptionContext":{"aws-crypto-public-key":"`+strings.Repeat("A", 88)+`"}}`,
			func() any { return new(benchGenerateDataKeyInput) })
	})
}
