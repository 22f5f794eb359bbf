package main

import (
	"os"
	"testing"

	"github.com/trentkms/trent/internal/testenv"
)

// TestMain keeps the files of the servers these tests start out of the
// home directory (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
