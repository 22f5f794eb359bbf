package hsm_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/hsm/hsmtest"
	"github.com/trentkms/trent/internal/keystore"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/rootkey"
	"github.com/trentkms/trent/internal/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

// cloudToken is a token whose label fits AWS's CloudHsmClusterId pattern
// (cluster-[2-7a-zA-Z]{11,16}); it is initialised beside hsmtest's tokens
// before the module is loaded.
const (
	cloudToken   = "trentcloudhsm"
	cloudCluster = "cluster-" + cloudToken
	// cloudPIN is the token's user PIN: AWS's KeyStorePassword has 7 to 32
	// characters.
	cloudPIN = "kmsuser-pin"
)

var (
	extraOnce sync.Once
	extraErr  error
)

// hsmConfig returns a token configuration (and makes sure the extra token
// exists), or skips t when SoftHSM2 cannot run here.
func hsmConfig(t testing.TB, label string) hsm.Config {
	t.Helper()
	cfg := hsmtest.Config(t, hsmtest.TokenA)
	extraOnce.Do(func() {
		out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", cloudToken,
			"--so-pin", "12345678", "--pin", cloudPIN).CombinedOutput()
		if err != nil {
			extraErr = errors.New("softhsm2-util --init-token: " + err.Error() + ": " + string(out))
		}
	})
	if extraErr != nil {
		t.Fatal(extraErr)
	}
	cfg.TokenLabel = label
	return cfg
}

var rootCaller = &kms.Caller{Account: "111122223333", ARN: "arn:aws:iam::111122223333:root", Type: "Root"}

func callerCtx() context.Context { return kms.WithCaller(context.Background(), rootCaller) }

// node is the domain of a node with custom key stores: the core and the
// keystore concern.
type node struct {
	*kms.Service
	KeyStores *keystore.Service
}

// newService builds the domain over a real SQLite store and a static root
// key, with custom key stores on the SoftHSM2 module.
func newService(t testing.TB, ksCfg keystore.Config) *node {
	t.Helper()
	st, err := sqlite.Open(t.TempDir() + "/trent.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	root, err := rootkey.NewStatic(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kms.New(kms.Config{Store: st, Root: root, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{Service: svc, KeyStores: keystore.New(svc, ksCfg)}
	t.Cleanup(n.KeyStores.Close)
	return n
}

func sp(s string) *string { return &s }

// wantAWS fails t unless err is an *awserr.Error with code (and, if msg is
// not empty, that message).
func wantAWS(t testing.TB, err error, code, msg string) {
	t.Helper()
	e := awserr.As(err)
	if e == nil {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if e.Code != code || (msg != "" && e.Message != msg) {
		t.Fatalf("error = %s: %q, want %s: %q", e.Code, e.Message, code, msg)
	}
}

// must(f())(t) returns f's value or fails t with f's error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
