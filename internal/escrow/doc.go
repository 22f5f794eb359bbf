// Package escrow splits the file provider's root keys into shares that
// custodians keep, and rebuilds them: Shamir's secret sharing (package
// shamir) with a share format that names what it rebuilds and detects
// damage, each share optionally encrypted to one custodian's age
// recipient (X25519, or the ML-KEM-768 + X25519 hybrid).
//
// # What is split
//
// The secret is every root key of a key file, in file order (the last is
// current), 32 bytes each; every share names the root key IDs it rebuilds.
// A root key's ID is a hash of the key (rootkey.ID), so [Recover] checks
// the rebuilt keys against the IDs: shares that were altered, even with a
// recomputed checksum, or mixed from two escrows of one key, rebuild keys
// with other IDs and are refused instead of written.
//
// # Share format (version 1)
//
// A share file is text: comment lines starting with "#" that say what the
// share is for people (never trusted), and one line
//
//	trent-root-key-share:BASE64URL(share)
//
// where share is
//
//	version (1) = 0x01 | set (16) | threshold K (1) | shares N (1) | index X (1) |
//	key count M (1) | M × (ID length (1) | ID) | Y (32·M) | checksum (16)
//
// The set is random and the same in every share of one escrow, so that
// shares of different escrows are told apart before anything is combined.
// The checksum is the first 16 bytes of SHA-256 over everything before it:
// it catches a damaged share (a transcription error, a bad sector), not a
// forged one; the ID check catches those. 2 <= K <= N <= 255, 1 <= X <= N.
//
// An encrypted share file is the same text encrypted with age to one
// recipient, ASCII-armored ("-----BEGIN AGE ENCRYPTED FILE-----"), so that
// it can be printed, mailed or pasted.
//
// # Invariants
//
//   - Parse accepts exactly what Marshal writes (up to comments, blank
//     lines and line endings) and nothing else; share bytes never appear in
//     errors.
//   - Recover writes nothing; it returns keys only if every share agrees on
//     the set, threshold, count and IDs, their indices differ, at least K
//     are given, and every rebuilt key has the ID the shares name.
package escrow
