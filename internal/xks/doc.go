// Package xks speaks AWS's External Key Store (XKS) Proxy API, version 1
// (aws/aws-kms-xksproxy-api-spec), in both directions:
//
//   - Proxy is an XKS proxy server (an http.Handler) backed by AES-256 keys
//     in a PKCS#11 token through package hsm, so that Trent can serve as the
//     external key store of AWS KMS or of another Trent.
//   - Client is what Trent's EXTERNAL_KEY_STORE custom key stores use to
//     call a proxy: SigV4-signed with service kms-xks-proxy, 250 ms per call,
//     responses checked (lengths, CDIV) before they are believed.
//
// # Invariants
//
//   - Every proxy request is authenticated with SigV4 (service
//     kms-xks-proxy, the configured Region, one of up to several credential
//     sets so that credentials can rotate) before its body is parsed; a
//     failure is 401 AuthenticationFailedException and nothing else leaks.
//     Signing and verifying are package sigv4's: the signature must cover
//     Host, X-Amz-Date, the path and the body, and no more, since that is
//     what AWS KMS signs (sigv4.SignHostAndDate); the client signs
//     Content-Type and Content-Length as well.
//   - AES-GCM runs inside the HSM under a key that cannot leave it. IVs are
//     12 random bytes. The AAD given to the HSM is, as the spec requires,
//     len16(aad) | aad | len8(ciphertextMetadata) | ciphertextMetadata, so
//     neither field can be moved into the other.
//   - Plaintext, key material and secret access keys never appear in
//     errors, error replies or logs.
//   - Errors go out as {"errorName","errorMessage"} with the spec's HTTP
//     status; the client turns them into *Error, and ToAWS turns any client
//     error into the AWS KMS exception and message KMS uses for it.
package xks
