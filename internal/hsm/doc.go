// Package hsm is a thin, safe wrapper over a PKCS#11 token (an HSM, or
// SoftHSM2 in tests) for the few things Trent asks of one: find or generate
// non-extractable AES-256 keys by label, AES-GCM encrypt and decrypt inside
// the token, random bytes, reading a key's attributes, and small data
// objects that record which root key is current.
//
// # Invariants
//
//   - Every key this package generates is a token object with
//     CKA_SENSITIVE=true and CKA_EXTRACTABLE=false: its value never leaves
//     the HSM, and nothing here ever asks for CKA_VALUE of a secret key
//     except KeyAttributes, which only reports whether the token refused.
//   - PKCS#11 sessions are not goroutine-safe, so a Token keeps a small pool
//     of sessions and hands each call its own; a Token itself is safe for
//     concurrent use.
//   - One PKCS#11 module is initialised once per process (C_Initialize may
//     only be called once); Tokens opened on the same module share it, and
//     the module is finalised when the last of them closes. Login state is
//     per application and token in PKCS#11, so two Tokens on the same token
//     in one process share one login.
//   - Errors never contain PINs, plaintext or key material. Failures map to
//     the sentinels below (ErrKeyNotFound, ErrDecrypt, ...), checked with
//     errors.Is.
//
// # Builds without cgo
//
// The real implementation needs cgo (github.com/miekg/pkcs11 loads the
// module with dlopen). A binary built with CGO_ENABLED=0 still compiles:
// Open then returns ErrUnavailable, whose message says why.
package hsm
