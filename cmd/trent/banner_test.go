package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
)

// TestBannerExport checks the banner's export line: both Region variables
// (AWS CLI v1 reads only AWS_DEFAULT_REGION), the credential file quoted
// for the shell, and never a secret. test/readme runs the line with both
// CLIs.
func TestBannerExport(t *testing.T) {
	t.Parallel()
	cfg := &config.File{Region: "eu-west-3"}
	for _, tc := range []struct {
		name string
		n    *node.Node
		want []string
	}{
		{"ok/file", &node.Node{Config: cfg, AdminAccessKeyID: "AKIAEXAMPLE", AdminCredentialsFile: "/home/a b/.config/trent/admin-credentials"},
			[]string{"AWS_SHARED_CREDENTIALS_FILE='/home/a b/.config/trent/admin-credentials'", "AWS_PROFILE=default"}},
		{"ok/env", &node.Node{Config: cfg, AdminAccessKeyID: "AKIAEXAMPLE"},
			[]string{"AWS_ACCESS_KEY_ID=AKIAEXAMPLE", `AWS_SECRET_ACCESS_KEY="$TRENT_SECRET_ACCESS_KEY"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := bannerExport(tc.n)
			for _, w := range append(tc.want, "export ", "AWS_DEFAULT_REGION=eu-west-3", "AWS_REGION=eu-west-3") {
				if !strings.Contains(line, w) {
					t.Errorf("%q lacks %q", line, w)
				}
			}
			// The shell reads it as the variables it names.
			out, err := exec.Command("bash", "-c", line+`; printf '%s|%s|%s' "$AWS_SHARED_CREDENTIALS_FILE" "$AWS_DEFAULT_REGION" "$AWS_ACCESS_KEY_ID"`).Output()
			if err != nil {
				t.Fatalf("bash: %v", err)
			}
			want := "|eu-west-3|AKIAEXAMPLE"
			if tc.n.AdminCredentialsFile != "" {
				want = tc.n.AdminCredentialsFile + "|eu-west-3|"
			}
			if string(out) != want {
				t.Errorf("the shell reads %q, want %q", out, want)
			}
		})
	}
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("shellQuote: %s", got)
	}
}
