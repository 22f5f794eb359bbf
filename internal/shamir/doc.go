// Package shamir is Shamir's secret sharing over GF(2^8), byte by byte.
//
// [Split] turns a secret into n shares, any k of which rebuild it with
// [Combine]; fewer than k reveal nothing about it: for every byte of the
// secret a polynomial of degree k-1 is drawn whose constant term is that
// byte and whose other k-1 coefficients are uniformly random (zero
// included, which is what makes any k-1 points uniformly distributed
// whatever the secret), and share x holds its values at x = 1..n. The
// point x = 0, where the polynomial is the secret, is never a share.
//
// # Field
//
// GF(2^8) is the field of AES (FIPS-197, section 4): bytes are polynomials
// over GF(2) modulo x^8 + x^4 + x^3 + x + 1 (0x11b); addition is XOR. The
// arithmetic runs in constant time, without tables indexed by secret bytes
// (a table lookup leaks its index through the cache), since both the
// secret and the shares pass through it.
//
// # What it does not do
//
// A share carries no integrity: a wrong or altered share rebuilds a wrong
// secret, silently. Callers give shares a format with a checksum and check
// the rebuilt secret against a commitment (package escrow does both).
// Randomness comes from the caller, as an io.Reader (crypto/rand.Reader
// in production, a fixed stream in known-answer tests).
package shamir
