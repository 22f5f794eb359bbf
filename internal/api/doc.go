// Package api declares Trent's AWS KMS API as a table, the API's contract:
// one Operation per operation name, with its IAM action, its audit
// classification (read-only, cryptographic), its body limit and deadline,
// the request and response members the audit trail never records, and its
// handler, bound to the domain service that serves it (Services: the core,
// package kms, and the concerns beside it: grant, keyimport, keystore,
// job). The server applies size limits, authentication, deadlines, audit
// and encoding identically to every entry; a handler only decodes its
// input (package wire's shapes), calls its service and returns the output
// shape. table_test.go holds the table's secret members to what the audit
// code redacts.
package api
