package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyTrail copies the files of a live trail directory, as a backup does.
func copyTrail(t *testing.T, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), segPrefix) && !strings.HasPrefix(e.Name(), digestPrefix) && !strings.HasPrefix(e.Name(), "pubkey-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoreBoundary: a trail copied from a running node (no shutdown
// digest at its end) and reopened hours later with Options.Restore
// verifies: the restore digest covers the copied records, the
// BackupRestored record follows them with its details, and Verify names
// the restore instead of a crash or a missing period.
func TestRestoreBoundary(t *testing.T) {
	for _, restore := range []bool{true, false} {
		name := "ok/restore"
		if !restore {
			name = "ok/plain-reopen-reports-a-crash"
		}
		t.Run(name, func(t *testing.T) {
			live, copied := t.TempDir(), t.TempDir()
			clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
			o := testOptions(live, "n1")
			o.Now, o.HeartbeatInterval = clock.Now, time.Hour
			l := openLog(t, o)
			appendN(t, l, 7)
			copyTrail(t, live, copied)
			l.Close()

			clock.Add(5 * time.Hour)
			o = testOptions(copied, "n1")
			o.Now, o.HeartbeatInterval = clock.Now, time.Hour
			if restore {
				o.Restore = map[string]any{"backupId": "b-1", "auditLastSeq": 7}
			}
			r := openLog(t, o)
			appendN(t, r, 2)
			r.Close()

			rep, err := Verify(copied, VerifyOptions{PublicKeys: pubKeys(), Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("Verify across the restore: %+v", rep.Nodes)
			}
			warn := strings.Join(rep.Nodes[0].Warnings, "\n")
			evs := eventsNamed(t, copied, EventBackupRestored)
			if !restore {
				if !strings.Contains(warn, "crashed or was killed") || len(evs) != 0 {
					t.Fatalf("plain reopen: warnings %q, %d restore events", warn, len(evs))
				}
				return
			}
			if !strings.Contains(warn, "restored from a backup at 2026-01-02T08:00:00Z (digest 2): records up to 7 are the backup's") || strings.Contains(warn, "crashed") {
				t.Fatalf("warnings = %q, want the restore named and no crash", warn)
			}
			if len(evs) != 1 || evs[0].Seq != 8 || evs[0].Event.ServiceEventDetails["backupId"] != "b-1" {
				t.Fatalf("restore events = %+v, want one at record 8 naming the backup", evs)
			}
		})
	}
}
