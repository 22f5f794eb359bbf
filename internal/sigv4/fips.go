package sigv4

import "crypto/fips140"

// # FIPS 140-3 mode
//
// Under Go's FIPS 140-3 module in fips140=only mode, crypto/hmac refuses
// (panics on) keys shorter than 112 bits. The first key of SigV4's chain
// is "AWS4" + the secret access key, so a secret shorter than 10 bytes
// cannot be used there: AWS's secrets have 40 characters, but one declared
// by hand (TRENT_SECRET_ACCESS_KEY, a principals file) may be shorter. In
// FIPS mode such a secret never verifies (SignatureDoesNotMatch) and never
// signs, instead of crashing the process.

// minFIPSSecret is the shortest secret whose first SigV4 key, "AWS4" +
// secret, is 112 bits long.
const minFIPSSecret = 14 - len("AWS4")

// shortSecret reports whether secret cannot key SigV4 in FIPS mode.
func shortSecret(secret []byte) bool {
	return len(secret) < minFIPSSecret && fips140.Enabled()
}
