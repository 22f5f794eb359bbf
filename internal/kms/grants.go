package kms

import "context"

// grantAllows reports whether a grant on lk authorizes action for the caller
// with the request's conditions and grant tokens. (Grants are being built.)
func (s *Service) grantAllows(ctx context.Context, lk *loadedKey, action string, conds map[string][]string, tokens []string) (bool, error) {
	return false, nil
}
