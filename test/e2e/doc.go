// Package e2e holds Trent's end-to-end tests: black-box tests that start a
// real server (in-process with node.Start, or the trent binary as a child
// process) on a random loopback port and drive it only through real clients:
// aws-sdk-go-v2's KMS client, raw SigV4-signed HTTP requests for the cases
// the SDK cannot produce, and the AWS CLI (test/cli/awscli.sh).
//
// # What the suite pins
//
//   - every operation of the foundation (keys, crypto, aliases, tags,
//     policies), its success shape and its AWS exception name and message;
//   - the key deletion job, driven by a controlled clock;
//   - durability across a clean restart and a kill -9 right after
//     acknowledged writes;
//   - request authentication (SigV4) and protocol errors;
//   - that the data directory never holds plaintexts, data keys or the
//     administrator secret in the clear, and that key material is sealed by
//     the root key.
//
// # Invariants the tests keep
//
// No test reaches a network address other than 127.0.0.1, and every AWS
// client is given an explicit endpoint. Each test that needs its own state
// starts its own node in a t.TempDir data directory; the read-mostly tests
// share one node and create their own keys, so they can run in parallel.
package e2e
