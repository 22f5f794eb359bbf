package security

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trentkms/trent/internal/testenv"
)

// A full audit volume (issue 15.3). Every call is refused when its record
// cannot be written (fail closed); the volume filling must be foreseen
// (/readyz not ready below a watermark, logged), the server must record its
// own "volume full" event from a reserve, refuse calls without acting on
// them, and serve again once space is freed, without a restart.

// auditVolumeTmpfs mounts a tmpfs of size bytes for the trail. CI runs as
// root and can; elsewhere the test skips (fails, in the full run: package
// testenv).
func auditVolumeTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		testenv.Missing(t, testenv.Root, fmt.Sprintf("cannot mount a %d-byte tmpfs for the full-volume attack: %v; run as root", size, err))
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// auditVolumeFree is the free space of the volume holding dir.
func auditVolumeFree(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// auditVolumeFill grows the file at path until the volume has at most
// leave bytes free (leave 0: until it is full).
func auditVolumeFill(t *testing.T, path string, leave int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{1}, 4096)
	for auditVolumeFree(t, filepath.Dir(path)) > leave {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// readyz returns the status and body of GET /readyz.
func readyz(t *testing.T, s *Server) (int, string) {
	t.Helper()
	resp, err := rawHTTP.Get(s.Endpoint + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAuditVolumeFull(t *testing.T) {
	t.Parallel()
	vol := auditVolumeTmpfs(t, 16<<20)
	data := t.TempDir() // the store stays on the disk
	auditDir := filepath.Join(vol, "audit")
	cfg := trailConfig(t, fmt.Sprintf("  dir: %s\n  digest_interval: 500ms\n  max_segment_mib: 1\n  min_free_mib: 4\n  min_free_percent: -1\n  reserve_mib: 1\n  space_check_interval: 100ms\n", auditDir))
	s := Start(t, Opts{DataDir: data, Args: []string{"--config", cfg}})
	pub := trustedPublicKey(t, auditDir)
	if code, body := readyz(t, s); code != http.StatusOK {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	keys := 0 // keys created by answered calls
	var answered []string
	create := func() Response {
		r := s.Call(t, Admin, "CreateKey", map[string]any{"Description": bigDescription})
		if r.Status == http.StatusOK {
			keys++
			answered = append(answered, r.Header.Get("X-Amzn-Requestid"))
		}
		return r
	}
	for range 5 {
		if r := create(); r.Status != http.StatusOK {
			t.Fatalf("CreateKey: %d %s", r.Status, r.Body)
		}
	}

	// Below the watermark: not ready, logged, but still serving.
	filler := filepath.Join(vol, "filler")
	auditVolumeFill(t, filler, 3<<20)
	WaitFor(t, 10*time.Second, func() error {
		if code, body := readyz(t, s); code != http.StatusServiceUnavailable || !strings.Contains(body, "watermark") {
			return fmt.Errorf("/readyz = %d %q with 3 MiB free, want 503 (watermark)", code, body)
		}
		return nil
	})
	if !strings.Contains(s.Output(), "below its free-space watermark") {
		t.Fatalf("no error logged at the watermark:\n%s", s.Output())
	}
	if r := create(); r.Status != http.StatusOK {
		t.Fatalf("CreateKey below the watermark: %d %s", r.Status, r.Body)
	}

	// Full: calls fail closed with KMSInternalException.
	auditVolumeFill(t, filler, 0)
	var refused Response
	for i := 0; ; i++ {
		if i == 2000 {
			t.Fatal("2000 calls answered on a full volume")
		}
		if r := create(); r.Status != http.StatusOK {
			refused = r
			break
		}
	}
	if refused.Status != http.StatusInternalServerError || refused.ErrorType != "KMSInternalException" {
		t.Fatalf("call on a full volume: %d %s %s", refused.Status, refused.ErrorType, refused.Message)
	}
	for range 5 {
		if r := create(); r.Status != http.StatusInternalServerError || r.ErrorType != "KMSInternalException" {
			t.Fatalf("call while full: %d %s", r.Status, r.ErrorType)
		}
	}
	if code, body := readyz(t, s); code != http.StatusServiceUnavailable || !strings.Contains(body, "full") {
		t.Fatalf("/readyz while full = %d %q", code, body)
	}
	if _, err := os.Stat(filepath.Join(auditDir, "reserve-node1")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the reserve was not used: %v", err)
	}

	// Recovery: free the space; no restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 15*time.Second, func() error {
		if r := s.Call(t, Admin, "ListKeys", map[string]any{"Limit": 1000}); r.Status != http.StatusOK {
			return fmt.Errorf("ListKeys after freeing space: %d %s", r.Status, r.ErrorType)
		}
		return nil
	})
	WaitFor(t, 10*time.Second, func() error {
		if code, body := readyz(t, s); code != http.StatusOK {
			return fmt.Errorf("/readyz after freeing space = %d %q", code, body)
		}
		return nil
	})
	// Refused calls did not act: exactly the answered CreateKeys made keys.
	r := s.Call(t, Admin, "ListKeys", map[string]any{"Limit": 1000})
	var lk struct{ Keys []struct{ KeyId string } }
	if err := json.Unmarshal(r.Body, &lk); err != nil || len(lk.Keys) != keys {
		t.Fatalf("%d keys exist, %d CreateKey calls were answered (%v)", len(lk.Keys), keys, err)
	}
	s.Stop(t)

	list := func(event string) []string {
		out, err := Trent(t, nil, "audit", "list", "--config", cfg, "--data-dir", data, "--event", event)
		if err != nil {
			t.Fatalf("audit list: %v\n%s", err, out)
		}
		if out = strings.TrimSpace(out); out == "" {
			return nil
		}
		return strings.Split(out, "\n")
	}
	if n := len(list("AuditVolumeFull")); n != 1 {
		t.Fatalf("%d AuditVolumeFull records, want 1", n)
	}
	if n := len(list("AuditVolumeRecovered")); n != 1 {
		t.Fatalf("%d AuditVolumeRecovered records, want 1", n)
	}
	if n := len(list("AuditVolumeLow")); n < 1 {
		t.Fatal("no AuditVolumeLow record")
	}
	// No answer without its record.
	out, err := Trent(t, nil, "audit", "list", "--config", cfg, "--data-dir", data, "--event", "CreateKey")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range answered {
		if !strings.Contains(out, `"requestID":"`+id+`"`) {
			t.Fatalf("answered call %s has no record", id)
		}
	}
	out, err = Trent(t, nil, "audit", "verify", "--config", cfg, "--data-dir", data, "--public-key", pub, "--require-digests")
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}
