package iam

import (
	"context"

	"github.com/trentkms/trent/internal/kms"
)

// IdentityPolicies returns the IAM policy documents that apply to caller:
// the inline policies of an IAM user, or of the role behind an assumed-role
// session. The account root has none (it needs none: key policies name it).
// (Users, roles and their policies are being built.)
func (d *Directory) IdentityPolicies(ctx context.Context, caller *kms.Caller) ([]string, error) {
	return nil, nil
}
