package sigv4

import (
	"context"
	"crypto/fips140"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/awserr"
)

// TestFIPSShortSecret: in FIPS mode (the fips stage of scripts/test-all.sh
// runs this package under GODEBUG=fips140=only), a secret too short to key
// HMAC under the module fails verification with SignatureDoesNotMatch
// instead of panicking, and the signer leaves the request unsigned.
func TestFIPSShortSecret(t *testing.T) {
	if !fips140.Enabled() {
		t.Skip("not in FIPS mode")
	}
	r := httptest.NewRequest(http.MethodPost, "http://kms.us-east-1.amazonaws.com/", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.ListKeys")
	now := time.Now().UTC()
	r.Header.Set("X-Amz-Date", now.Format(TimeFormat))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+now.Format("20060102")+
		"/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="+strings.Repeat("0", 64))
	v := &Verifier{Source: StaticCredentials{"AKIDEXAMPLE": {Key: []byte("short")}}, Region: "us-east-1", Services: []string{"kms"}}
	_, err := v.Verify(context.Background(), r, []byte("{}"))
	if e := awserr.As(err); e == nil || e.Code != awserr.InvalidSignature {
		t.Fatalf("Verify with a 5-byte secret in FIPS mode = %v; want %s", err, awserr.InvalidSignature)
	}
	s := &Signer{AccessKeyID: "AKIDEXAMPLE", Secret: []byte("short"), Region: "us-east-1", Service: "kms"}
	s.Sign(r, []byte("{}"), now)
	if r.Header.Get("Authorization") != "" {
		t.Fatal("the signer signed with a secret the module refuses")
	}
}
