// Package ciphertext defines Trent's symmetric ciphertext blob and the
// authenticated encryption that produces it. It is the hot path of Encrypt,
// Decrypt, ReEncrypt and the GenerateDataKey family: every CiphertextBlob of
// a SYMMETRIC_DEFAULT key is made by [Seal] and opened by [Open].
//
// # Format
//
// A version 1 blob is
//
//	0x01 | key-ID type (1) | key ID (16) | material ID (32) | N (16) | IV (12) | AES-256-GCM ciphertext | tag (16)
//
// The first 78 bytes are the header. The header is self-describing: it names
// the KMS key (a UUID key ID, type 0, or a "mrk-" multi-Region key ID, type 1)
// and the key-material version, so Decrypt finds the material by ID and never
// by trial. docs/ciphertext.md has the full specification and rationale.
//
// # Construction
//
// For every message a fresh 128-bit nonce N and 96-bit IV are drawn from the
// caller's random source. The per-message key is
//
//	K = KBKDF-CTR-HMAC-SHA256(material, Label = "trent symmetric v1", Context = header, L = 256)
//
// (NIST SP 800-108r1 counter mode, 32-bit counter before the fixed input,
// 0x00 separator, 32-bit L), and the body is AES-256-GCM(K, IV, plaintext,
// AAD = header || EncodeContext(ec)).
//
// # Invariants
//
//   - Parse accepts exactly the byte strings Marshal produces: every accepted
//     blob re-marshals to the same bytes (the encoding is canonical).
//   - Every header byte is bound twice: into K through the KDF context and
//     into the GCM tag as AAD. Changing any byte of a blob makes Parse or Open
//     fail.
//   - The encryption-context encoding is canonical and injective: nil and the
//     empty map encode alike, and two different maps never encode alike.
//   - Open fails with ErrAuth and nothing else for every authentication
//     failure (wrong material, wrong context, tampered header or body), so
//     callers cannot learn which part was wrong.
//   - No error message contains plaintext, key material, derived keys or
//     encryption-context values.
//   - Nothing here does I/O or reads a clock; randomness is injected.
package ciphertext
