// Package sigv4 verifies and creates AWS Signature Version 4 request
// signatures (the header form, "Authorization: AWS4-HMAC-SHA256 ...").
// It knows nothing about KMS: the caller supplies the region, the accepted
// signing services and a CredentialSource that maps access key IDs to
// secrets.
//
// # Verification
//
// Verifier.Verify recomputes the signature the way aws-sdk-go-v2, botocore
// and the JavaScript SDK v3 compute it and returns *awserr.Error values with
// the exception names and messages AWS uses, checking in AWS's order:
// presence and shape of the Authorization header, the request date and clock
// skew, that Host is signed, the algorithm, the credential scope, that the
// headers that must be signed are, the access key, the signature and finally
// the session token and its expiry.
// Verifier.VerifyRequest does the same for a request of any HTTP server,
// read through the Request interface (HTTPRequest adapts net/http).
//
// # Invariants
//
//   - The signature covers the operation: Host, and Content-Type and every
//     X-Amz-* header present on the request (X-Amz-Target, X-Amz-Date,
//     X-Amz-Security-Token, X-Amz-Content-Sha256, ...), must be among the
//     signed headers, as every AWS SDK and the AWS CLI sign them. A
//     signature over fewer headers cannot be replayed with another
//     X-Amz-Target, and no X-Amz-* header can be added to a signed request.
//     A verifier of XKS proxy requests relaxes this to Host and X-Amz-Date
//     (Verifier.MustSign, SignHostAndDate): that is what AWS KMS signs when
//     it calls an external key store proxy, whose path names the operation.
//   - The payload hash is always computed from the body handed to Verify; an
//     X-Amz-Content-Sha256 header that does not match the body fails, so a
//     tampered body can never verify (UNSIGNED-PAYLOAD is not accepted).
//   - Signatures are compared with hmac.Equal and session tokens with
//     crypto/subtle.
//   - Derived signing keys are cached per (access key, date, region,
//     service); an entry remembers the secret it was derived from and is used
//     only if the looked-up secret is identical, so a rotated secret never
//     reuses a stale key. The cache is bounded.
//   - Secret keys never appear in errors. Errors echo only what the client
//     sent (the Authorization header, dates, scope elements).
package sigv4
