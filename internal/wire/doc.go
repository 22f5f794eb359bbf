// Package wire holds the request and response shapes of the AWS KMS API as
// the wire carries them: AWS JSON 1.1, member names as in the API model
// (the JSON tags), blobs as base64, timestamps as epoch seconds
// (Timestamp). The domain (package kms and its concerns: grant, keyimport,
// keystore, job) implements the API in these terms; package api only moves
// them between HTTP and the domain.
//
// # Invariants
//
//   - Shapes only: no behaviour beyond encoding (Timestamp) and the
//     AuditParameters methods, and no import of any other Trent package.
//   - Request members are pointers (or nil slices and maps) so that an
//     absent member is told from an empty one, as AWS's validation
//     messages require; response members are values, omitted where AWS
//     omits them.
//   - AuditParameters (the CloudTrail requestParameters of the hot-path and
//     custom key store requests) never returns a plaintext, ciphertext,
//     grant token, password, secret access key or any other blob.
package wire
