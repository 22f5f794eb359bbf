package node

import (
	"os"
	"testing"

	"github.com/trentkms/trent/internal/testenv"
)

// TestMain keeps the files of the nodes these tests start out of the home
// directory (testenv.Main).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// The administrator credential of the nodes these tests start.
const (
	benchAKID   = "AKIABENCHBENCHBENCH1"
	benchSecret = "benchSecretbenchSecretbenchSecret00000000"
)
