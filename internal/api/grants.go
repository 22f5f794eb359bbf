package api

// grantOps are the grant operations.
var grantOps = []*Operation{}
