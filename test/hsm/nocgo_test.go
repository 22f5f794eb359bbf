//go:build !cgo

package hsm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/config"
	"github.com/trentkms/trent/internal/hsm"
	"github.com/trentkms/trent/internal/keystore"
	trentnode "github.com/trentkms/trent/internal/node"
	"github.com/trentkms/trent/internal/wire"
)

// TestWithoutCgo: a build without cgo starts no PKCS#11 root key and makes
// no CloudHSM-type store, and says why.
func TestWithoutCgo(t *testing.T) {
	cfg := &config.File{Listen: "127.0.0.1:0", DataDir: t.TempDir(), RootKey: config.RootKeyFile{
		Provider: "pkcs11", Module: "/usr/lib/softhsm/libsofthsm2.so", Token: "trent", KeyLabel: "root"}}
	_, err := trentnode.Start(cfg, trentnode.Options{Env: config.Env{HSM: config.HSMEnv{PIN: "1234"}}})
	if !errors.Is(err, hsm.ErrUnavailable) || !strings.Contains(err.Error(), "cgo") {
		t.Fatalf("trentnode.Start with pkcs11 = %v, want hsm.ErrUnavailable", err)
	}

	svc := newService(t, keystore.Config{PKCS11Module: "/usr/lib/softhsm/libsofthsm2.so"})
	_, err = svc.KeyStores.CreateCustomKeyStore(callerCtx(), &wire.CreateCustomKeyStoreInput{CustomKeyStoreName: sp("x"),
		CloudHsmClusterID: sp(cloudCluster), TrustAnchorCertificate: sp(trustAnchor), KeyStorePassword: sp(cloudPIN)})
	wantAWS(t, err, awserr.CloudHsmClusterInvalidConfiguration, "")
	if !strings.Contains(awserr.As(err).Message, "cgo") {
		t.Fatalf("message %q does not say that cgo is missing", awserr.As(err).Message)
	}
}
