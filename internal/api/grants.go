package api

import "github.com/trentkms/trent/internal/grant"

// grantOps are the grant operations.
var grantOps = []*Operation{
	op("CreateGrant", false, false, grants, (*grant.Service).CreateGrant),
	op("ListGrants", true, false, grants, (*grant.Service).ListGrants),
	op("ListRetirableGrants", true, false, grants, (*grant.Service).ListRetirableGrants),
	op("RetireGrant", false, false, grants, (*grant.Service).RetireGrant),
	op("RevokeGrant", false, false, grants, (*grant.Service).RevokeGrant),
}
