// Package hsmtest gives tests a real SoftHSM2 token: it creates a private
// SoftHSM2 configuration with two fresh tokens in a temporary directory the
// first time a test asks, and skips the test with a clear message (fails it
// in the full run: package testenv) when this build has no cgo or SoftHSM2
// is not installed (scripts/ci/softhsm.sh installs it).
//
// SoftHSM2 reads SOFTHSM2_CONF once, when the module is initialised, so a
// test binary uses one configuration throughout: call Main from TestMain so
// the directory is removed afterwards.
package hsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/testenv"
)

// Labels of the two tokens every test binary gets, and their user PIN.
const (
	TokenA = "trent-test-a"
	TokenB = "trent-test-b"
	PIN    = "1234"
)

var (
	once    sync.Once
	dir     string
	module  string
	skipMsg string
	setErr  error
)

// Module returns the path of libsofthsm2.so, or "" if none is installed.
// TRENT_HSM_MODULE overrides the search.
func Module() string {
	if m := os.Getenv("TRENT_HSM_MODULE"); m != "" {
		return m
	}
	for _, m := range []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
	} {
		if _, err := os.Stat(m); err == nil {
			return m
		}
	}
	return ""
}

func setup() {
	if !hsm.Available {
		skipMsg = "PKCS#11 tests need a cgo build (CGO_ENABLED=1 and a C compiler)"
		return
	}
	module = Module()
	util, err := exec.LookPath("softhsm2-util")
	if module == "" || err != nil {
		skipMsg = "SoftHSM2 is not installed (libsofthsm2.so or softhsm2-util missing); run scripts/ci/softhsm.sh"
		return
	}
	dir, err = os.MkdirTemp("", "trent-softhsm-")
	if err != nil {
		setErr = err
		return
	}
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		setErr = err
		return
	}
	cfg := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		setErr = err
		return
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	for _, label := range []string{TokenA, TokenB} {
		out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", "12345678", "--pin", PIN).CombinedOutput()
		if err != nil {
			setErr = fmt.Errorf("softhsm2-util --init-token %s: %v: %s", label, err, out)
			return
		}
	}
}

// Config returns a configuration for the token labelled label (TokenA or
// TokenB), or skips tb (fails it, in the full run) when no SoftHSM2 can run
// here.
func Config(tb testing.TB, label string) hsm.Config {
	tb.Helper()
	once.Do(setup)
	if skipMsg != "" {
		testenv.Missing(tb, testenv.SoftHSM, skipMsg)
	}
	if setErr != nil {
		tb.Fatalf("hsmtest: %v", setErr)
	}
	return hsm.Config{Module: module, TokenLabel: label, PIN: PIN}
}

// Open opens the token labelled label and closes it when tb ends.
func Open(tb testing.TB, label string) *hsm.Token {
	tb.Helper()
	tok, err := hsm.Open(Config(tb, label))
	if err != nil {
		tb.Fatalf("hsm.Open(%s): %v", label, err)
	}
	tb.Cleanup(func() { tok.Close() })
	return tok
}

// Main runs the tests and removes the SoftHSM2 directory afterwards. Use it
// as os.Exit(hsmtest.Main(m)) in TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	return code
}
