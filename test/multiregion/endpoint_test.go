package multiregion

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndpointRefusesUnauthenticated: the replication endpoint answers a
// message that no peer signed AccessDeniedException, records it in the
// trail as a failed authentication, and throttles a source that keeps
// trying; the deployment's data plane is unaffected.
func TestEndpointRefusesUnauthenticated(t *testing.T) {
	base := t.TempDir()
	us := newDeployment(t, base, "us-east-1", "", "", clockFile(t, base))
	eu := newDeployment(t, base, "eu-west-1", "", "", filepath.Join(base, "clock"))
	link(t, us, eu)
	post := func(from, sig string, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, eu.endpoint()+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "MultiRegionReplication_v1.Deliver")
		if from != "" {
			req.Header.Set("X-Trent-Replication-From", from)
		}
		if sig != "" {
			req.Header.Set("X-Trent-Replication-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	body := []byte(`{"v":1,"from":"us-east-1","to":"eu-west-1","time":"` + time.Now().UTC().Format(time.RFC3339) + `","nonce":"00000000000000000000000000000000","keyId":"mrk-00000000000000000000000000000000","account":"111122223333","deleted":true}`)
	for _, tc := range []struct{ name, from, sig string }{
		{"fail/unsigned", "us-east-1", ""},
		{"fail/bad-signature", "us-east-1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 64))},
		{"fail/unknown-peer", "sa-east-1", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 64))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(tc.from, tc.sig, body)
			if code != 400 || !strings.Contains(out, "AccessDeniedException") {
				t.Fatalf("answer %d %s", code, out)
			}
		})
	}
	// A flood is throttled.
	throttled := false
	for range 40 {
		if _, out := post("us-east-1", "", body); strings.Contains(out, "ThrottlingException") {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("40 unauthenticated messages in a row were never throttled")
	}
	// Recorded in eu-west-1's trail.
	waitFor(t, 10*time.Second, "the failed authentication in the trail", func() bool {
		files, _ := filepath.Glob(filepath.Join(eu.dir, "audit", "*.jsonl"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if bytes.Contains(b, []byte(`"ReplicationMessage"`)) && bytes.Contains(b, []byte("AccessDeniedException")) {
				return true
			}
		}
		return false
	})
	// The data plane still serves.
	if _, err := eu.client().ListKeys(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
}
