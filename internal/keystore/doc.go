// Package keystore implements custom key stores: the operations
// (CreateCustomKeyStore, DescribeCustomKeyStores, UpdateCustomKeyStore,
// DeleteCustomKeyStore, ConnectCustomKeyStore, DisconnectCustomKeyStore),
// their connection state, and, for the core (package kms), the creation
// and cryptography of the keys whose material lives in a store
// (kms.KeyStores). A Service is built over a *kms.Service and registers
// with it. Behind it are two backends (conn.go): an AWS_CLOUDHSM-type store
// is a PKCS#11 token (cloudhsm.go, package hsm; cgo), an EXTERNAL_KEY_STORE
// store an XKS proxy reached over HTTPS (xks.go, package xks). The core
// imports neither.
//
// # Invariants
//
//   - A store's secret (the token PIN, the XKS secret access key) is stored
//     only sealed by the root key, bound to the store ID, and never appears
//     in an error, a log or the audit trail; HSM failures reach clients as
//     the sentinel's text only (safeHSMError).
//   - Ciphertexts of store-backed keys keep Trent's blob format, so that
//     Decrypt finds their key from the blob: a CloudHSM key's body is
//     AES-256-GCM computed in the token under a non-extractable key; an
//     external key's is Trent's own ciphertext encrypted again by the
//     proxy (double encryption, as AWS does it).
//   - A connection is opened lazily and dropped whenever the store's record
//     changes, on this node or (through the change feed) on another; an
//     HSM session is closed a few seconds after it is dropped, so that
//     operations in flight finish.
//   - Every change of a store's record is conditioned on its version: a
//     concurrent change makes the operation fail with
//     CustomKeyStoreInvalidStateException instead of being lost.
//   - Disconnecting a store makes its Enabled and Disabled keys
//     Unavailable; connecting it again gives them back their states.
package keystore
