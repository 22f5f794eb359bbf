// Package keyimport implements imported key material (Origin EXTERNAL):
// GetParametersForImport, ImportKeyMaterial and DeleteImportedKeyMaterial,
// over the keys of the core (package kms). A Service is built over a
// *kms.Service and registers with it the job that purges the parameters of
// expired import tokens. The expiry of imported material itself (ValidTo)
// is a key-lifecycle job of the core, which ImportKeyMaterial schedules
// (kms.ExpiryJobOp). The RFC 5649 key wrap of the RSA_AES_KEY_WRAP
// algorithms is algo.KeyUnwrapPad.
//
// # Invariants
//
//   - A wrapping private key exists only sealed by the root key, in an
//     importparams record bound to its import token's ID; an import token
//     is its ID and its key, account and expiry sealed by the root key, so
//     only Trent makes one and it proves itself without a store read.
//   - Tokens and wrapping keys are good for 24 hours and for one key; the
//     record goes with a purge job at expiry.
//   - Material that does not unwrap is InvalidCiphertextException whatever
//     failed, so no padding oracle is exposed.
//   - Re-imported material is recognized by a fingerprint (an HMAC keyed by
//     the material's identity over the key ID), compared in constant time:
//     the same bits restore the material under its old ID, other bits are
//     IncorrectKeyMaterialException. The fingerprint reveals nothing to
//     whoever does not hold the material.
//   - Material is sealed by the root key before it is stored, as every key
//     material is (kms.Service.SealMaterial).
package keyimport
