package kms

import (
	"context"

	"github.com/trentkms/trent/internal/awserr"
)

// grantAllows reports whether a grant on lk authorizes action. Grants are
// not implemented yet.
func (s *Service) grantAllows(ctx context.Context, lk *loadedKey, action string, conds map[string][]string, tokens []string) (bool, error) {
	return false, nil
}

func (s *Service) createInCustomKeyStore(ctx context.Context, d *keyDoc, in *CreateKeyInput) error {
	id := ""
	if in.CustomKeyStoreID != nil {
		id = *in.CustomKeyStoreID
	}
	return awserr.Newf(awserr.CustomKeyStoreNotFound, "Custom key store %s does not exist.", id)
}

func (s *Service) generateRandomInStore(ctx context.Context, id string, n int) (*GenerateRandomOutput, error) {
	return nil, awserr.Newf(awserr.CustomKeyStoreNotFound, "Custom key store %s does not exist.", id)
}
