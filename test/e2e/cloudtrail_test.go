package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/testenv"
)

// TestCloudTrailLookupEvents runs test/cli/cloudtrail.sh against a freshly
// built trent with AWS CLI v2 (Debian's) and v1 (the aws on PATH that
// reports aws-cli/1), each with a boto3: Debian's under /usr/bin/python3
// with v2, the python3 on PATH with v1. Each finds an Encrypt by EventName,
// Username and ResourceName, pages, and is refused without
// cloudtrail:LookupEvents.
func TestCloudTrailLookupEvents(t *testing.T) {
	t.Parallel()
	clis := map[string]string{}
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		clis["v2"] = "/usr/bin/aws"
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "aws")
		if out, err := exec.Command(p, "--version").CombinedOutput(); err == nil && strings.HasPrefix(string(out), "aws-cli/1.") {
			clis["v1"] = p
			break
		}
	}
	pythons := map[string]string{"v2": "/usr/bin/python3", "v1": "python3"}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "cli", "cloudtrail.sh")
	bin := trentBinary(t)
	for _, v := range []string{"v2", "v1"} {
		t.Run("awscli-"+v, func(t *testing.T) {
			t.Parallel()
			cli := clis[v]
			if cli == "" {
				testenv.Missing(t, testenv.AWSCLI, "no AWS CLI "+v+" installed (v2: Debian awscli at /usr/bin/aws; v1: pip awscli on PATH)")
			}
			cmd := exec.Command("bash", script, bin)
			cmd.Env = append(os.Environ(), "AWS_CLI="+cli)
			if exec.Command(pythons[v], "-c", "import boto3").Run() == nil {
				cmd.Env = append(cmd.Env, "PYTHON="+pythons[v])
			} else {
				t.Logf("no boto3 under %s: the CLI alone is tested", pythons[v])
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			t.Logf("%s (%s)\n%s", script, cli, out.String())
			if err != nil {
				t.Fatalf("cloudtrail.sh: %v", err)
			}
			m := regexp.MustCompile(`(?m)^cloudtrail: (\d+) passed, 0 failed$`).FindSubmatch(out.Bytes())
			if m == nil || string(m[1]) == "0" {
				t.Fatal("cloudtrail.sh did not report a clean summary")
			}
		})
	}
}
