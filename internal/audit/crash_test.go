package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "TRENT_AUDIT_CRASH_CHILD_DIR"

// TestMain lets the test binary act as the crash-test child process.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild appends from 16 goroutines until killed and reports each
// acknowledged record's request ID on stdout, only after Append returned nil.
func crashChild(dir string) {
	o := testOptions(dir, "crash")
	o.DigestInterval = 20 * time.Millisecond
	o.MaxSegmentBytes = 128 << 10
	l, err := Open(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				e := testEvent(i, time.Now())
				e.RequestID = fmt.Sprintf("g%d-%d", g, i)
				if err := l.Append(context.Background(), e); err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(3)
				}
				mu.Lock()
				os.Stdout.WriteString(e.RequestID + "\n")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func TestCrashKill9KeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	for round := range 3 { // crash repeatedly on the same trail
		acked := runAndKill(t, dir, 1500+round*500)
		l := openLog(t, testOptions(dir, "crash"))
		rec := l.Recovery()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		present := map[string]bool{}
		if err := Read(dir, Filter{}, func(e Entry) error { present[e.Event.RequestID] = true; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, id := range acked {
			if !present[id] {
				t.Fatalf("round %d: acknowledged record %s missing after kill -9", round, id)
			}
		}
		rep := mustVerifyOK(t, dir)
		t.Logf("round %d: %d acknowledged, %d on disk, torn tail %d bytes, %d digests",
			round, len(acked), rep.Nodes[0].LastSeq, rec.TornBytes, rep.Nodes[0].Digests)
	}
}

// runAndKill starts the child, waits for n acknowledgements, kills it with
// SIGKILL while it is still appending, and returns every acknowledged ID.
func runAndKill(t *testing.T, dir string, n int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var acked []string
	killed := false
	for sc.Scan() {
		acked = append(acked, sc.Text())
		if !killed && len(acked) >= n {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child did not die by signal: %v; stderr: %s", err, stderr.String())
	}
	if len(acked) < n {
		t.Fatalf("child acknowledged only %d records; stderr: %s", len(acked), stderr.String())
	}
	return acked
}
