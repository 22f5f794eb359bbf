package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"github.com/trentkms/trent/internal/testenv"
)

// TestAWSCLI runs test/cli/awscli.sh against a freshly built trent.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	cli := os.Getenv("AWS_CLI")
	if cli == "" {
		if _, err := os.Stat("/usr/bin/aws"); err == nil {
			cli = "/usr/bin/aws"
		} else if p, err := exec.LookPath("aws"); err == nil {
			cli = p
		}
	}
	if cli == "" {
		testenv.Missing(t, testenv.AWSCLI, "no AWS CLI installed (neither /usr/bin/aws nor aws on PATH); install awscli to run test/cli/awscli.sh")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "cli", "awscli.sh")
	cmd := exec.Command("bash", script, trentBinary(t))
	cmd.Env = append(os.Environ(), "AWS_CLI="+cli)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s\n%s", script, out.String())
	if err != nil {
		t.Fatalf("awscli.sh: %v", err)
	}
	m := regexp.MustCompile(`(?m)^awscli: (\d+) passed, 0 failed$`).FindSubmatch(out.Bytes())
	if m == nil || string(m[1]) == "0" {
		t.Fatal("awscli.sh did not report a clean summary")
	}
	if bytes.Contains(out.Bytes(), []byte("\nFAIL ")) {
		t.Fatal("awscli.sh printed FAIL lines")
	}
}
