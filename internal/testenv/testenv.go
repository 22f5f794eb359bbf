// Package testenv decides what a test does when a real part it needs is
// missing on this machine (PostgreSQL, SoftHSM2, the AWS CLI, OpenSSL): a
// developer's quick run skips the test and says how to get the part; the full
// run (scripts/test-all.sh), which sets the parts up first and names them in
// TRENT_TEST_REQUIRE, fails it instead, so that a set-up that broke can never
// pass as a run of fewer tests.
//
// It is imported by tests only.
package testenv

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// RequireEnv names the environment variable listing the parts the run
// requires, comma-separated: "postgres,softhsm,awscli,openssl,root", or "all".
const RequireEnv = "TRENT_TEST_REQUIRE"

// Parts a test can need.
const (
	Postgres = "postgres"
	SoftHSM  = "softhsm"
	AWSCLI   = "awscli"
	OpenSSL  = "openssl"
	// Root is the privilege to mount file systems (a small tmpfs for the
	// full-volume tests).
	Root = "root"
	// Prometheus is the Prometheus server and promtool (Debian
	// prometheus), which scrape and check the metrics.
	Prometheus = "prometheus"
)

// Required reports whether the run requires part.
func Required(part string) bool {
	list := strings.Split(os.Getenv(RequireEnv), ",")
	return slices.Contains(list, part) || slices.Contains(list, "all")
}

// Missing ends tb because part is missing: it fails tb when the run requires
// part and skips it otherwise. why says what is missing and how to get it.
func Missing(tb testing.TB, part, why string) {
	tb.Helper()
	if Required(part) {
		tb.Fatalf("%s is required by this run (%s=%s) but missing: %s", part, RequireEnv, os.Getenv(RequireEnv), why)
	}
	tb.Skip(why)
}

// Main runs a package's tests with XDG_CONFIG_HOME pointing at a temporary
// directory, removed afterwards, so that the root key files and credential
// files of the servers the tests start (config.DefaultRootKeyFile) never
// land in the home directory of whoever runs them. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "trent-test-config-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Setenv("XDG_CONFIG_HOME", dir)
	return m.Run()
}
