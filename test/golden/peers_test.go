package golden

import (
	"crypto/ed25519"
	"encoding/base64"
	"testing"

	"filippo.io/age"

	"github.com/trentkms/trent/internal/config"
)

// goldenPeers are the peer deployments of the golden node: eu-west-1 and
// ap-southeast-2, at an address where nothing listens, so that ReplicateKey
// and UpdatePrimaryRegion answer as they would while their peers are down.
func goldenPeers(t *testing.T) []config.PeerFile {
	t.Helper()
	var out []config.PeerFile
	for _, r := range []string{"eu-west-1", "ap-southeast-2"} {
		kem, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, config.PeerFile{Region: r, Endpoint: "http://127.0.0.1:9", KEMPublicKey: kem.Recipient().String(),
			SigningPublicKey: "ed25519:" + base64.StdEncoding.EncodeToString(pub)})
	}
	return out
}
