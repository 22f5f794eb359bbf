// Package fips204 is a verbatim copy of the ML-DSA (FIPS 204) implementation
// from filippo.io/mldsa v1.0.0 (itself a copy of Go's
// crypto/internal/fips140/mldsa), BSD-licensed, see LICENSE.
//
// It is copied rather than imported because no module the Go proxy serves
// exports ML-DSA verification with an external μ (FIPS 204 §6.2/§6.3,
// RFC 9881 "ExternalMu"), which KMS's Verify with MessageType EXTERNAL_MU
// needs, and because signing must take its randomness from the caller's
// io.Reader. Delete this package when crypto/mldsa ships in the standard
// library (Go 1.27). The only edits are the package name, and the FIPS
// service-indicator and self-test hooks below, which are no-ops here.
package fips204

import "sync"

func recordApproved() {}

func fipsPCT(*PrivateKey) {}

var fipsSelfTest = sync.OnceFunc(func() {})
