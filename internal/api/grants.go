package api

import "github.com/trentkms/trent/internal/kms"

// grantOps are the grant operations.
var grantOps = []*Operation{
	op("CreateGrant", false, false, core, (*kms.Service).CreateGrant),
	op("ListGrants", true, false, core, (*kms.Service).ListGrants),
	op("ListRetirableGrants", true, false, core, (*kms.Service).ListRetirableGrants),
	op("RetireGrant", false, false, core, (*kms.Service).RetireGrant),
	op("RevokeGrant", false, false, core, (*kms.Service).RevokeGrant),
}
