// Package api declares Trent's AWS KMS API as a table: one Operation per
// operation name, with its handler, body limit and audit classification.
// The server applies size limits, authentication, audit and encoding
// identically to every entry; a handler only decodes its input, calls the
// domain (package kms) and returns the output shape.
package api
