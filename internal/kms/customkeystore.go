package kms

import (
	"context"

	"github.com/trentkms/trent/internal/awserr"
)

// createInCustomKeyStore creates the backing key of a new KMS key in its
// custom key store. (Custom key stores are being built.)
func (s *Service) createInCustomKeyStore(ctx context.Context, d *keyDoc, in *CreateKeyInput) error {
	id := ""
	if in.CustomKeyStoreID != nil {
		id = *in.CustomKeyStoreID
	}
	return awserr.Newf(awserr.CustomKeyStoreNotFound, "Custom key store %s does not exist.", id)
}

// generateRandomInStore implements GenerateRandom with a CustomKeyStoreId.
func (s *Service) generateRandomInStore(ctx context.Context, id string, n int) (*GenerateRandomOutput, error) {
	return nil, awserr.Newf(awserr.CustomKeyStoreNotFound, "Custom key store %s does not exist.", id)
}
