// Package recovery holds the black-box recovery drill and migration checks
// of issue 23: real `trent serve`, `trent backup`, `trent restore` and
// `trent migrate` child processes on 127.0.0.1, driven through
// aws-sdk-go-v2.
//
// The drill creates keys of every kind (symmetric, RSA, ECC, HMAC, ML-DSA,
// imported, rotated several times), aliases, grants and users; takes a
// backup while a load generator runs Encrypt and CreateKey against the
// server; checks that the backup holds no secret in the clear (the root
// key, the imported key material, the administrator's secret key, the
// plaintexts: raw, hex or base64); destroys the data directory and the
// root key file; rebuilds the root key from 3 of the 5 escrow shares made
// after the first start with `trent root-key escrow` (each age-encrypted
// to a custodian, post-quantum hybrid or X25519) with `trent root-key
// recover`; restores from the backup; and checks that every ciphertext made
// before the backup decrypts, every signature and MAC verifies, every
// write acknowledged before the backup began is present, and `trent audit
// verify` passes across the restore and names it. A damaged backup (one
// byte changed, a file missing) is refused by `trent backup verify` and by
// `trent restore`, which then write nothing.
//
// The migration check moves the same population from SQLite to
// PostgreSQL, serves it from two nodes, runs the same checks, and moves it
// back. It skips unless TRENT_TEST_POSTGRES_URL is set, and fails instead
// when TRENT_TEST_REQUIRE names postgres (internal/testenv), as the full
// run does.
package recovery
