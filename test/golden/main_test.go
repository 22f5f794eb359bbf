package golden

import (
	"fmt"
	"os"
	"testing"
)

// TestMain points XDG_CONFIG_HOME at a temporary directory, so that the
// root key files of the test servers (config.DefaultRootKeyFile) never
// land in the home directory of whoever runs the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trent-test-config-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
