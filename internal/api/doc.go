// Package api declares Trent's AWS KMS API as a table: one Operation per
// operation name, with its handler, body limit and audit classification,
// bound to the domain service that serves it (Services: the core, package
// kms, and the concerns beside it: grant, keyimport, keystore, job). The
// server applies size limits, authentication, audit and encoding
// identically to every entry; a handler only decodes its input (package
// wire's shapes), calls its service and returns the output shape.
package api
