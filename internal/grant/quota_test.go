package grant_test

import (
	"context"
	"testing"

	"github.com/trentkms/trent/internal/awserr"
	"github.com/trentkms/trent/internal/kms"
	"github.com/trentkms/trent/internal/kms/kmstest"
	"github.com/trentkms/trent/internal/quota"
	"github.com/trentkms/trent/internal/wire"
)

// TestGrantQuotaPerAccount: an account's own quota of grants per key (set
// as `trent admin quotas set --grants-per-key` sets it) holds exactly
// under a race on two nodes.
func TestGrantQuotaPerAccount(t *testing.T) {
	t.Parallel()
	e := newGrantEnv(t)
	id := e.Key("")
	root := kms.WithCaller(context.Background(), gRoot)
	if _, err := quota.Update(context.Background(), e.Store, "111122223333", func(q *quota.Quotas) error {
		q.Resources.GrantsPerKey = 5
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	nodes := [2]*kmstest.Node{e.NewNodeWith(kmstest.Config{}), e.NewNodeWith(kmstest.Config{})}
	codes := kmstest.Race(t, nodes, 12, func(svc *kmstest.Node, i int) error {
		_, err := svc.Grants.CreateGrant(root, &wire.CreateGrantInput{KeyID: &id, GranteePrincipal: sp(gBob.ARN), Operations: []string{"Encrypt"}})
		return err
	})
	if codes[""] != 5 || codes[awserr.LimitExceeded] != 7 {
		t.Fatalf("outcomes %v; want 5 successes and 7 LimitExceededException", codes)
	}
}
