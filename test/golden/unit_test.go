package golden

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestParseCase(t *testing.T) {
	tests := []struct {
		name, text string
		wantErr    string
		check      func(t *testing.T, c *goldenCase)
	}{
		{name: "ok/full", text: "# c\ntarget: Encrypt\nauth: skewed\nmethod: GET\nneeds: key.a.id key.b.id\nheader: X-Test: 1\nnormalize: generic-ids\n---- request\n{}\n---- response\nstatus: 200\n",
			check: func(t *testing.T, c *goldenCase) {
				if c.target != "TrentService.Encrypt" || c.auth != "skewed" || c.method != "GET" || len(c.needs) != 2 ||
					c.headers[0] != [2]string{"X-Test", "1"} || !c.genericID || c.request != "{}" || c.response != "status: 200\n" {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "ok/no-response-yet", text: "target: Other.Op\n---- request\n{\n}\n",
			check: func(t *testing.T, c *goldenCase) {
				if c.target != "Other.Op" || c.request != "{\n}" || c.response != "" || c.auth != "admin" || c.method != "POST" {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "ok/no-target-header", text: "target: -\n---- request\n---- response\n",
			check: func(t *testing.T, c *goldenCase) {
				if c.target != "" || c.request != "" {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "fail/no-request-marker", text: "target: Encrypt\n", wantErr: "no \"---- request\" line"},
		{name: "fail/no-target", text: "auth: none\n---- request\n", wantErr: "no \"target:\" line"},
		{name: "fail/unknown-field", text: "target: X\nbogus: 1\n---- request\n", wantErr: "unknown field"},
		{name: "fail/not-name-value", text: "target: X\njunk\n---- request\n", wantErr: "want \"name: value\""},
		{name: "fail/bad-normalize", text: "target: X\nnormalize: all\n---- request\n", wantErr: "generic-ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCase(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
			// format then parse gives back the same case.
			again, err := parseCase(c.format(c.response))
			if err != nil || again.request != c.request || again.response != c.response || again.head != c.head {
				t.Errorf("round trip: %+v, %v", again, err)
			}
		})
	}
}

func FuzzParseCase(f *testing.F) {
	f.Add("target: Encrypt\n---- request\n{}\n---- response\nstatus: 200\n")
	f.Add("# x\ntarget: -\nheader: A: b\n---- request\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := parseCase(text)
		if err != nil {
			return
		}
		// A parsed case formats to text that parses to the same case.
		again, err := parseCase(c.format(c.response))
		if err != nil {
			t.Fatalf("formatted case does not parse: %v", err)
		}
		if again.target != c.target || again.auth != c.auth || again.response != c.response {
			t.Fatalf("round trip changed the case: %+v vs %+v", again, c)
		}
	})
}

const testARN = "arn:aws:kms:us-east-1:111122223333:key/0b7fd6f0-3f8f-4a1c-8d4a-5e4b6f7a8c9d"

func TestNormalize(t *testing.T) {
	hdr := http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Requestid": {"3f0e1c2a-1b2c-4d3e-8f4a-5b6c7d8e9f0a"}}
	tests := []struct {
		name    string
		known   map[string]string
		generic bool
		body    string
		want    string
	}{
		{name: "ok/known-arn-in-message", known: map[string]string{testARN: "{{key.symmetric.arn}}", "0b7fd6f0-3f8f-4a1c-8d4a-5e4b6f7a8c9d": "{{key.symmetric.id}}"},
			body: `{"__type":"DisabledException","message":"` + testARN + ` is disabled."}`,
			want: "\"message\": \"{{key.symmetric.arn}} is disabled.\""},
		{name: "ok/generic-arn", generic: true, known: map[string]string{testARN: "{{key.symmetric.arn}}"},
			body: `{"KeyId":"` + testARN + `"}`, want: `"KeyId": "<key-arn>"`},
		{name: "ok/unknown-id", body: `{"KeyId":"0b7fd6f0-3f8f-4a1c-8d4a-5e4b6f7a8c9d"}`, want: `"KeyId": "<key-id>"`},
		{name: "ok/timestamp", body: `{"CreationDate":1.7e9}`, want: `"CreationDate": "<timestamp>"`},
		{name: "ok/nested-timestamp", body: `{"KeyMetadata":{"DeletionDate":1700000000}}`, want: `"DeletionDate": "<timestamp>"`},
		{name: "ok/blob-length", body: `{"Plaintext":"AAAA"}`, want: `"Plaintext": "<blob:3 bytes>"`},
		{name: "ok/variable-blob", body: `{"Signature":"AAAA"}`, want: `"Signature": "<blob>"`},
		{name: "ok/marker", body: `{"NextMarker":"abc"}`, want: `"NextMarker": "<marker>"`},
		{name: "ok/amz-date", body: `{"message":"Signature expired: 20250101T000000Z is now earlier"}`, want: "<amz-date> is now earlier"},
		{name: "fail/timestamp-string", body: `{"CreationDate":"2025-01-01T00:00:00Z"}`, want: "<bad timestamp: string 2025-01-01T00:00:00Z>"},
		{name: "fail/timestamp-millis", body: `{"CreationDate":1700000000000}`, want: "<bad timestamp: 1700000000000>"},
		{name: "fail/blob-not-base64", body: `{"CiphertextBlob":"!!"}`, want: "<bad base64>"},
		{name: "fail/not-json", body: `oops`, want: `raw: "oops"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := normalizer{known: tt.known, generic: tt.generic}
			got := n.response(400, hdr, []byte(tt.body))
			if !strings.Contains(got, tt.want) {
				t.Errorf("got\n%s\nwant it to contain %q", got, tt.want)
			}
			if !strings.HasPrefix(got, "status: 400\ncontent-type: application/x-amz-json-1.1\nx-amzn-requestid: <request-id>\n") {
				t.Errorf("header lines: %q", got)
			}
		})
	}
}

func TestNormalizeDeterministic(t *testing.T) {
	body := `{"b":1,"a":{"z":2,"y":[` + strings.Repeat(`{"KeyId":"x"},`, 20) + `{"KeyId":"x"}]}}`
	n := normalizer{}
	want := n.body([]byte(body))
	for range 20 {
		if got := n.body([]byte(body)); got != want {
			t.Fatalf("normalization is not deterministic:\n%s\n%s", got, want)
		}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(want), &m); err != nil {
		t.Fatalf("normalized body is not JSON: %v", err)
	}
}

func BenchmarkNormalize(b *testing.B) {
	known := map[string]string{testARN: "{{key.symmetric.arn}}"}
	body := []byte(`{"KeyMetadata":{"AWSAccountId":"111122223333","Arn":"` + testARN + `","CreationDate":1.7e9,"Enabled":true,"KeyId":"0b7fd6f0-3f8f-4a1c-8d4a-5e4b6f7a8c9d","EncryptionAlgorithms":["SYMMETRIC_DEFAULT"]}}`)
	h := http.Header{"Content-Type": {"application/x-amz-json-1.1"}}
	for b.Loop() {
		n := normalizer{known: known}
		n.response(200, h, body)
	}
}
