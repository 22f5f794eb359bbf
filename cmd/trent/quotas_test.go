package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/config"
)

// TestAdminQuotas drives `trent admin quotas` on a data directory's store:
// set, show, the presets, reset, and the refusals of bad input.
func TestAdminQuotas(t *testing.T) {
	dir := t.TempDir()
	var out0 bytes.Buffer
	if err := admin([]string{"quotas", "show", "--data-dir", dir, "--account-id", "111122223333"}, config.Env{}, &out0); err == nil ||
		!strings.Contains(err.Error(), "not initialized") {
		t.Fatalf("admin quotas on an uninitialized data directory: %v", err)
	}
	stop(t, startTestNode(t, dir))
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := admin(append([]string{"quotas"}, args...), config.Env{}, &out)
		return out.String(), err
	}
	acct := []string{"--data-dir", dir, "--account-id", "111122223333"}
	out, err := run(append([]string{"set", "--keys", "7", "--aliases-per-key", "3", "--rate", "CreateKey=2", "--rate", "symmetric=0"}, acct...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"keys              7       account", "aliasesPerKey     3       account", "grantsPerKey      50000   default",
		"CreateKey   2          account", "symmetric   unlimited  account"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("set output lacks %q:\n%s", want, out)
		}
	}
	out, err = run(append([]string{"set", "--rates", "aws"}, acct...)...)
	if err != nil || !strings.Contains(out, "GetParametersForImport") || !strings.Contains(out, "0.25") {
		t.Fatalf("--rates aws: %v\n%s", err, out)
	}
	out, err = run(append([]string{"set", "--reset"}, acct...)...)
	if err != nil || strings.Contains(out, "account\n") || !strings.Contains(out, "(none)") {
		t.Fatalf("--reset left account settings: %v\n%s", err, out)
	}
	out, err = run(append([]string{"show"}, acct...)...)
	if err != nil || !strings.Contains(out, "100000") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	for _, bad := range [][]string{
		append([]string{"set", "--rate", "Frobnicate=1"}, acct...),
		append([]string{"set", "--rate", "CreateKey=fast"}, acct...),
		append([]string{"set", "--rates", "some"}, acct...),
		{"set", "--keys", "5", "--account-id", "12", "--data-dir", dir},
		{"frobnicate"},
	} {
		if _, err := run(bad...); err == nil {
			t.Errorf("admin quotas %v: no error", bad)
		}
	}
	if out, err := run("classes"); err != nil || !strings.Contains(out, "GenerateDataKeyPair:RSA_4096") || !strings.Contains(out, "symmetric") {
		t.Fatalf("classes: %v\n%s", err, out)
	}
}
