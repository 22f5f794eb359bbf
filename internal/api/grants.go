package api

import "github.com/trentkms/trent/internal/grant"

// grantOps are the grant operations.
var grantOps = []*Operation{
	{Name: "CreateGrant", Action: "kms:CreateGrant", Handler: on(grants, (*grant.Service).CreateGrant),
		SecretRequest: []string{"GrantTokens"}, SecretResponse: []string{"GrantToken"}},
	{Name: "ListGrants", Action: "kms:ListGrants", ReadOnly: true, Handler: on(grants, (*grant.Service).ListGrants)},
	{Name: "ListRetirableGrants", Action: "kms:ListRetirableGrants", ReadOnly: true, Handler: on(grants, (*grant.Service).ListRetirableGrants)},
	{Name: "RetireGrant", Action: "kms:RetireGrant", Handler: on(grants, (*grant.Service).RetireGrant),
		SecretRequest: []string{"GrantToken"}},
	{Name: "RevokeGrant", Action: "kms:RevokeGrant", Handler: on(grants, (*grant.Service).RevokeGrant)},
}
