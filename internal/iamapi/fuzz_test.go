package iamapi_test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/iamapi"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
)

// FuzzHandler feeds arbitrary query strings, bodies and Authorization
// headers to the handler: it must never panic, and must always answer
// with a well-formed XML document (an ErrorResponse, since nothing the
// fuzzer sends is correctly signed).
func FuzzHandler(f *testing.F) {
	st, err := sqlite.Open(filepath.Join(f.TempDir(), "f.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	root, _ := rootkey.NewStatic(make([]byte, 32))
	h := iamapi.New(iamapi.Config{Directory: iam.New(st, root, "aws", nil), Region: "us-east-1"})
	f.Add("", "Action=CreateUser&UserName=a&Version=2010-05-08", "AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=00")
	f.Add("Action=GetCallerIdentity", "", "")
	f.Add("", "%zz&&==", "AWS4-HMAC-SHA256 Credential=")
	f.Fuzz(func(t *testing.T, q, body, auth string) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(body)))
		req.URL.RawQuery = q
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
			req.Header.Set("X-Amz-Date", "20250101T000000Z")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code < 400 || w.Code >= 500 {
			t.Fatalf("status %d for an unsigned request", w.Code)
		}
		var e struct {
			XMLName xml.Name `xml:"ErrorResponse"`
			Code    string   `xml:"Error>Code"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" {
			t.Fatalf("not an ErrorResponse (%v): %s", err, w.Body.String())
		}
	})
}
