package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/node"
)

var credRE = regexp.MustCompile(`aws_access_key_id = (\S+)\naws_secret_access_key = (\S+)\n`)

func startTestNode(t *testing.T, dir string) *node.Node {
	t.Helper()
	n, err := node.Start(&config.File{Listen: "127.0.0.1:0", DataDir: dir},
		node.Options{Env: config.Env{AccessKeyID: "AKIAADMINTESTADMIN01", SecretAccessKey: "admin-test-secret-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func stop(t *testing.T, n *node.Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Error(err)
	}
}

func callerARN(t *testing.T, endpoint, akid, secret string) string {
	t.Helper()
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: awshttp.NewBuildableClient(),
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""), Retryer: aws.NopRetryer{}})
	out, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	return aws.ToString(out.Arn)
}

func TestAdmin(t *testing.T) {
	dir := t.TempDir()
	// fail/uninitialized: a data directory no server has used.
	if err := admin([]string{"list-accounts", "--data-dir", t.TempDir()}, config.Env{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not initialized") {
		t.Fatalf("uninitialized data dir: %v", err)
	}
	stop(t, startTestNode(t, dir))

	// ok/offline: create an account while the server is stopped.
	var out bytes.Buffer
	if err := admin([]string{"create-account", "--data-dir", dir, "--account-id", "444455556666", "--name", "dev"}, config.Env{}, &out); err != nil {
		t.Fatal(err)
	}
	m := credRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no credential in output:\n%s", out.String())
	}
	tests := []struct {
		name string
		args []string
		want string // substring of the error; "" for success
	}{
		{"fail/duplicate-account", []string{"create-account", "--account-id", "444455556666"}, "already exists"},
		{"fail/bad-account", []string{"create-access-key", "--account-id", "12"}, "12 digits"},
		{"fail/unknown-user", []string{"create-access-key", "--account-id", "444455556666", "--user", "nobody"}, "cannot be found"},
		{"fail/unknown-subcommand", []string{"frobnicate"}, "unknown subcommand"},
		{"ok/list", []string{"list-accounts"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := admin(append(tc.args, "--data-dir", dir), config.Env{}, &b)
			if tc.want == "" {
				if err != nil || !strings.Contains(b.String(), "444455556666") {
					t.Fatalf("err %v, output:\n%s", err, b.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}

	// ok/online: the offline credential works once the server runs, and a
	// key created while it runs works at once.
	n := startTestNode(t, dir)
	defer stop(t, n)
	if got := callerARN(t, n.Endpoint, m[1], m[2]); got != "arn:aws:iam::444455556666:root" {
		t.Fatalf("caller = %s", got)
	}
	out.Reset()
	if err := admin([]string{"create-access-key", "--data-dir", dir, "--account-id", "444455556666"}, config.Env{}, &out); err != nil {
		t.Fatal(err)
	}
	m = credRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no credential in output:\n%s", out.String())
	}
	if got := callerARN(t, n.Endpoint, m[1], m[2]); got != "arn:aws:iam::444455556666:root" {
		t.Fatalf("caller = %s", got)
	}
}
