package grant

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/trentkms/trent/internal/store"
)

// PutGrantsForTest writes n grants on keyID straight to the store, in
// batches, as CreateGrant would store them: grant i gives grantee(i) the
// operations ops. Benchmarks use it to build a key with tens of thousands
// of grants in seconds; it bypasses the per-key grant counter, which
// CreateGrant then rebuilds by counting.
func (s *Service) PutGrantsForTest(ctx context.Context, keyID, account string, n int, grantee func(i int) string, ops ...string) error {
	const batch = 500
	for i := 0; i < n; i += batch {
		var b []store.Op
		for j := i; j < min(n, i+batch); j++ {
			d := grantDoc{ID: fmt.Sprintf("%064x", j+1), KeyID: keyID, KeyAccount: account, Created: s.kms.Now().UTC(),
				Grantee: grantee(j), Operations: ops, IssuingAccount: "arn:aws:iam::" + account + ":root"}
			data, err := json.Marshal(&d)
			if err != nil {
				return err
			}
			b = append(b, store.Op{Kind: kindGrant, ID: grantRecordID(keyID, d.ID), Data: data, Create: true})
		}
		if err := s.store.Apply(ctx, b...); err != nil {
			return err
		}
	}
	return nil
}

// GrantCountForTest is readGrantCount for tests.
func (s *Service) GrantCountForTest(ctx context.Context, keyID string) (int, error) {
	n, _, err := s.readGrantCount(ctx, keyID)
	return n, err
}
