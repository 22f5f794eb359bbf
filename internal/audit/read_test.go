package audit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// twoNodeTrail writes 6 events on node "a" at even seconds and 6 on node
// "b" at odd seconds into one directory.
func twoNodeTrail(t *testing.T) (string, time.Time) {
	t.Helper()
	dir := t.TempDir()
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for k, node := range []string{"a", "b"} {
		o := testOptions(dir, node)
		o.Now = func() time.Time { return base } // segment times agree with event times
		l := openLog(t, o)
		for i := range 6 {
			e := testEvent(i, base.Add(time.Duration(2*i+k)*time.Second))
			e.RequestID = node + itoa(i)
			if i == 4 {
				e.ErrorCode, e.ErrorMessage = "NotFoundException", "Key 'x' does not exist"
			}
			if err := l.Append(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
	}
	return dir, base
}

func TestReadFilters(t *testing.T) {
	t.Parallel()
	dir, base := twoNodeTrail(t)
	key1 := "arn:aws:kms:us-east-1:111122223333:key/00000001-aaaa-bbbb-cccc-000000000000"
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"ok/all-merged-by-time", Filter{}, "a0 b0 a1 b1 a2 b2 a3 b3 a4 b4 a5 b5"},
		{"ok/since-until", Filter{Since: base.Add(3 * time.Second), Until: base.Add(6 * time.Second)}, "b1 a2 b2"},
		{"ok/key-arn", Filter{Key: key1}, "a1 b1 a4 b4"},
		{"ok/key-id", Filter{Key: "00000001-aaaa-bbbb-cccc-000000000000"}, "a1 b1 a4 b4"},
		{"ok/principal", Filter{Principal: "arn:aws:iam::111122223333:user/u1"}, "a1 b1 a3 b3 a5 b5"},
		{"ok/event", Filter{EventName: "GenerateDataKey"}, "a2 b2 a5 b5"},
		{"ok/error-code", Filter{ErrorCode: "NotFoundException"}, "a4 b4"},
		{"ok/any-error", Filter{ErrorCode: "*"}, "a4 b4"},
		{"ok/node", Filter{Node: "b", EventName: "Decrypt"}, "b0 b3"},
		{"ok/combined", Filter{Key: key1, ErrorCode: "*", Node: "a"}, "a4"},
		{"fail/no-match-key", Filter{Key: "ffffffff-0000-0000-0000-000000000000"}, ""},
		{"fail/no-match-error", Filter{ErrorCode: "AccessDeniedException"}, ""},
		{"fail/empty-window", Filter{Since: base.Add(time.Hour)}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			if err := Read(dir, tc.f, func(e Entry) error { got = append(got, e.Event.RequestID); return nil }); err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
	// Both nodes verify on their own in the shared directory.
	rep := mustVerifyOK(t, dir)
	if len(rep.Nodes) != 2 {
		t.Fatalf("verified %d nodes, want 2", len(rep.Nodes))
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	t.Parallel()
	dir, _ := twoNodeTrail(t)
	stop := errors.New("stop")
	n := 0
	if err := Read(dir, Filter{}, func(Entry) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Read = %v after %d calls", err, n)
	}
}

func TestRunCLI(t *testing.T) {
	t.Parallel()
	dir, _ := twoNodeTrail(t)
	broken := makeTrail(t, 0)
	editSegment(func(l [][]byte) [][]byte { return append(l[:2:2], l[3:]...) })(t, broken)
	tests := []struct {
		name    string
		args    []string
		wantErr error
		wantOut string
		lines   int
	}{
		{"ok/list", []string{"--dir", dir, "--event", "Encrypt"}, nil, `"eventName":"Encrypt"`, 4},
		{"ok/list-explicit", []string{"list", "--dir", dir, "--node", "a", "--since", "2026-05-01T12:00:04Z"}, nil, `"requestID":"a2"`, 4},
		{"ok/verify", []string{"verify", "--dir", dir}, nil, "OK", 0},
		{"fail/verify-broken", []string{"verify", "--dir", broken}, ErrVerifyFailed, "records 3 is missing", 0},
		{"fail/usage", []string{"verify"}, errors.New("usage"), "", 0},
		{"fail/bad-since", []string{"--dir", dir, "--since", "yesterday"}, errors.New("--since"), "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			err := Run(tc.args, &out, &errb)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Run: %v", err)
			case tc.wantErr != nil && (err == nil || !errors.Is(err, tc.wantErr) && !strings.Contains(err.Error(), tc.wantErr.Error())):
				t.Fatalf("Run = %v, want %v", err, tc.wantErr)
			}
			if tc.wantOut != "" && !strings.Contains(out.String(), strings.Replace(tc.wantOut, "records 3", "record 3", 1)) {
				t.Fatalf("output %q lacks %q", out.String(), tc.wantOut)
			}
			if tc.lines > 0 && strings.Count(out.String(), "\n") != tc.lines {
				t.Fatalf("%d lines, want %d:\n%s", strings.Count(out.String(), "\n"), tc.lines, out.String())
			}
		})
	}
}
