package security

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trentkms/trent/internal/store/postgres/pgtest"
)

// Findings of red team C left for the lead: each test performs the attack
// and asserts the safe outcome, so it fails until the hole is closed.

// TestRedCFindingProductionNodeFollowsAdvancedStore: "a store whose clock
// was advanced is refused by trent serve without --dev" holds only at
// start. A node without --dev that already serves a PostgreSQL store keeps
// serving it with the wall clock after a --dev node of the same store
// advances the store's clock (nothing on it follows the clock's record):
// the cluster then runs on two clocks. Dates written by one node lie a
// month apart from the other's; whichever node holds the scheduler's lease
// decides when deletions, rotations and expiries fall due (the dev node's
// advance may delete the production node's keys, or do nothing at all); a
// role session issued by the dev node after the advance carries an expiry
// in the dev clock, which the production node compares with the wall clock
// as it is (no offset), so a 15-minute session is valid there for the
// whole offset (up to 100 years). The safe outcome asserted: once the
// store's clock is advanced, the production node stops serving it (it exits,
// or refuses calls), as it would refuse to start on it. Another acceptable
// fix would refuse --dev on a store that nodes without --dev serve; the
// lead decides.
func TestRedCFindingProductionNodeFollowsAdvancedStore(t *testing.T) {
	url := pgtest.FreshSchema(t, "")
	root := randHex(32)
	prod := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "prod", "--metrics-listen", "off"}})
	dev := Start(t, Opts{RootKeyHex: root, Args: []string{"--store", url, "--node-id", "dev", "--dev", "--metrics-listen", "off"}})
	ctx := context.Background()
	pc := prod.KMS(Admin)
	if _, err := pc.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	if r := devAdvance(t, dev, Admin, 31*86400); r.Status != http.StatusOK {
		t.Fatalf("AdvanceClock on the dev node: %d %s %s", r.Status, r.ErrorType, r.Message)
	}
	WaitFor(t, 10*time.Second, func() error {
		if !prod.Alive() {
			return nil
		}
		if _, err := pc.ListKeys(ctx, &kms.ListKeysInput{}); err != nil {
			return nil
		}
		return errors.New("the node without --dev still serves the store whose clock another node advanced by 31 days, with the wall clock")
	})
}
