package security

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Red team (rt-rest): nothing acts without its record when the trail's
// volume is full, including the service's own scheduled actions. A key
// whose deletion window ends while the trail cannot take the DeleteKey
// record must not be destroyed unrecorded: key deletion is irreversible,
// and the trail is the only evidence of who scheduled it and when it
// happened.

// TestScheduledDeletionOnFullVolume: a key is scheduled for deletion;
// the trail's volume fills (calls are refused) and then loses the space
// the reserve freed as well (another writer on the volume); the deletion
// window ends (the domain clock is moved 8 days ahead through the test
// hook). Once space is back, the key may be deleted only with its
// DeleteKey service record in the trail. IAM calls on the full volume are
// refused without acting, like KMS calls.
func TestScheduledDeletionOnFullVolume(t *testing.T) {
	t.Parallel()
	vol := auditVolumeTmpfs(t, 16<<20)
	data := t.TempDir()
	auditDir := filepath.Join(vol, "audit")
	clock := filepath.Join(t.TempDir(), "clock")
	if err := os.WriteFile(clock, []byte("0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := trailConfig(t, fmt.Sprintf("  dir: %s\n  digest_interval: 500ms\n  max_segment_mib: 1\n  min_free_mib: 4\n  min_free_percent: -1\n  reserve_mib: 1\n  space_check_interval: 100ms\n", auditDir))
	s := Start(t, Opts{DataDir: data, Args: []string{"--config", cfg},
		Env: []string{"TRENT_TEST_CLOCK_FILE=" + clock, "TRENT_TEST_SCHEDULER_INTERVAL=100ms"}})
	pub := trustedPublicKey(t, auditDir)
	victim := s.CreateKey(t, Admin, nil)
	if r := s.Call(t, Admin, "ScheduleKeyDeletion", map[string]any{"KeyId": victim, "PendingWindowInDays": 7}); r.Status != http.StatusOK {
		t.Fatalf("ScheduleKeyDeletion: %d %s", r.Status, r.Body)
	}

	// Fill the volume until calls are refused.
	filler := filepath.Join(vol, "filler")
	auditVolumeFill(t, filler, 0)
	for i := 0; ; i++ {
		if i == 2000 {
			t.Fatal("2000 calls answered on a full volume")
		}
		r := s.Call(t, Admin, "CreateKey", map[string]any{"Description": bigDescription})
		if r.Status != http.StatusOK {
			if r.ErrorType != "KMSInternalException" {
				t.Fatalf("call on a full volume: %d %s %s", r.Status, r.ErrorType, r.Message)
			}
			break
		}
	}
	// Another writer takes the space the reserve freed.
	auditVolumeFill(t, filepath.Join(vol, "filler2"), 0)

	// IAM refuses without acting.
	if status, body := s.Query(t, Admin, "iam", "Action", "CreateUser", "UserName", "made-while-full"); status == http.StatusOK {
		t.Errorf("CreateUser answered on a full volume: %s", body)
	}

	// The deletion window ends while the trail cannot record anything.
	if err := os.WriteFile(clock, []byte("192h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // twenty scheduler ticks

	// Space is back: the node records its recovery and serves again.
	os.Remove(filler)
	os.Remove(filepath.Join(vol, "filler2"))
	WaitFor(t, 15*time.Second, func() error {
		if r := s.Call(t, Admin, "ListKeys", nil); r.Status != http.StatusOK {
			return fmt.Errorf("ListKeys after freeing space: %d %s", r.Status, r.ErrorType)
		}
		return nil
	})
	if status, _ := s.Query(t, Admin, "iam", "Action", "GetUser", "UserName", "made-while-full"); status == http.StatusOK {
		t.Error("the CreateUser refused on the full volume created the user")
	}
	// The deletion happens now if it did not before; either way its
	// record must be in the trail.
	WaitFor(t, 10*time.Second, func() error {
		if r := s.Call(t, Admin, "DescribeKey", map[string]any{"KeyId": victim}); r.ErrorType != "NotFoundException" {
			return fmt.Errorf("DescribeKey of the victim: %d %s %s", r.Status, r.ErrorType, r.Body)
		}
		return nil
	})
	s.Stop(t)
	out, err := Trent(t, nil, "audit", "list", "--config", cfg, "--data-dir", data, "--event", "DeleteKey")
	if err != nil {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
	if !strings.Contains(out, victim) || !strings.Contains(out, `"AwsServiceEvent"`) {
		t.Errorf("key %s was deleted by the scheduler but the trail has no DeleteKey service record for it:\n%s\nserver output:\n%s", victim, out, s.Output())
	}
	if out, err := Trent(t, nil, "audit", "verify", "--config", cfg, "--data-dir", data, "--public-key", pub, "--require-digests"); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}
