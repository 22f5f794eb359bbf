package golden

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/iam"
	"github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/sigv4"
)

var update = flag.Bool("update", false, "rewrite the recorded responses of the golden cases")

// caseFiles returns the case files under testdata, in lexical order.
func caseFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".txt") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// startNode starts a Trent on a random loopback port with a fresh data
// directory and returns its harness.
func startNode(t *testing.T) *harness {
	t.Helper()
	secret := make([]byte, 20)
	rand.Read(secret)
	secretHex := "golden-" + hex.EncodeToString(secret)
	n, err := node.Start(&config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Peers: goldenPeers(t)},
		node.Options{Env: config.Env{AccessKeyID: adminAKID, SecretAccessKey: secretHex}})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	// The roles grant cases name: grants may only name principals that
	// exist, as in AWS.
	for _, role := range []string{"golden", "golden-retirer"} {
		_, err := n.Directory.CreateRole(context.Background(), iam.RoleInput{Account: account, Name: role,
			TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + account + `"},"Action":"sts:AssumeRole"}]}`})
		if err != nil {
			t.Fatalf("create role %s: %v", role, err)
		}
	}
	return newHarness(n.Endpoint, []byte(secretHex))
}

// TestGolden sends every case under testdata to a real Trent and compares
// the normalized response with the recorded one (-update rewrites it).
func TestGolden(t *testing.T) {
	h := startNode(t)
	files := caseFiles(t)
	if len(files) == 0 {
		t.Fatal("no cases under testdata")
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.ToSlash(strings.TrimPrefix(path, "testdata"+string(filepath.Separator))), ".txt")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseCase(string(data))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			got, err := h.run(c)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if c.wantType != "" && !strings.Contains(got, `"__type": "`+c.wantType+`"`) {
				t.Errorf("%s: AWS answers %s here; Trent answered:\n%s", path, c.wantType, got)
			}
			if *update {
				if got != c.response {
					if err := os.WriteFile(path, []byte(c.format(got)), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return
			}
			if c.response == "" {
				t.Fatalf("%s has no recorded response; run go test ./test/golden -update and review the diff", path)
			}
			if got != c.response {
				t.Errorf("%s: response differs\n--- got\n%s--- want\n%s", path, got, c.response)
			}
		})
	}
}

// run sends case c and returns its normalized response.
func (h *harness) run(c *goldenCase) (string, error) {
	clear(h.caseValues)
	for _, n := range c.needs {
		if _, err := h.resolve(n); err != nil {
			return "", err
		}
	}
	body, err := h.expand(c.request)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(c.method, h.endpoint+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if c.target != "" {
		req.Header.Set("X-Amz-Target", c.target)
	}
	for _, hv := range c.headers {
		if hv[1] == "" {
			req.Header.Del(hv[0])
		} else {
			req.Header.Set(hv[0], hv[1])
		}
	}
	if err := h.sign(req, []byte(body), c.auth); err != nil {
		return "", err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	n := normalizer{known: h.known(), generic: c.genericID}
	return n.response(resp.StatusCode, resp.Header, data), nil
}

// sign signs r according to mode:
//
//	admin               the administrator's credential, now (the default)
//	none                no signature at all
//	unknown-access-key  a well-formed access key ID Trent does not know
//	wrong-secret        the administrator's key ID, another secret
//	skewed / future     signed 20 minutes in the past / in the future
//	wrong-region        credential scope us-west-2
//	wrong-service       credential scope service s3
//	no-date             signed, then X-Amz-Date removed
//	tampered-body       signed over a different body
//	raw VALUE           Authorization: VALUE, X-Amz-Date now
//	sign-without NAME   the administrator's signature over the request
//	                    without header NAME, which is then put back
func (h *harness) sign(r *http.Request, body []byte, mode string) error {
	now := time.Now()
	akid, secret, reg, svc := adminAKID, h.secret, region, "kms"
	switch mode {
	case "admin":
	case "none":
		return nil
	case "unknown-access-key":
		akid = "AKIAGOLDENUNKNOWN001"
	case "wrong-secret":
		secret = []byte("not-the-administrator-secret")
	case "skewed":
		now = now.Add(-20 * time.Minute)
	case "future":
		now = now.Add(20 * time.Minute)
	case "wrong-region":
		reg = "us-west-2"
	case "wrong-service":
		svc = "s3"
	case "no-date":
		sigv4.Sign(r, body, akid, secret, "", reg, svc, now)
		r.Header.Del("X-Amz-Date")
		return nil
	case "tampered-body":
		sigv4.Sign(r, append([]byte(" "), body...), akid, secret, "", reg, svc, now)
		return nil
	default:
		if name, ok := strings.CutPrefix(mode, "sign-without "); ok {
			vals := r.Header.Values(name)
			r.Header.Del(name)
			sigv4.Sign(r, body, akid, secret, "", reg, svc, now)
			r.Header[http.CanonicalHeaderKey(name)] = vals
			return nil
		}
		v, ok := strings.CutPrefix(mode, "raw ")
		if !ok {
			return fmt.Errorf("unknown auth mode %q", mode)
		}
		r.Header.Set("X-Amz-Date", now.UTC().Format(sigv4.TimeFormat))
		r.Header.Set("Authorization", v)
		return nil
	}
	sigv4.Sign(r, body, akid, secret, "", reg, svc, now)
	return nil
}
