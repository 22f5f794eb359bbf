package api

import "github.com/trentkms/trent/internal/kms"

// grantOps are the grant operations.
var grantOps = []*Operation{
	op("CreateGrant", false, false, (*kms.Service).CreateGrant),
	op("ListGrants", true, false, (*kms.Service).ListGrants),
	op("ListRetirableGrants", true, false, (*kms.Service).ListRetirableGrants),
	op("RetireGrant", false, false, (*kms.Service).RetireGrant),
	op("RevokeGrant", false, false, (*kms.Service).RevokeGrant),
}
