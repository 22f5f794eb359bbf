// Package kmstest builds the domain of a Trent node for tests: the core
// (package kms) and the concerns beside it (Node, New), wired as the server
// wires them (internal/node, newServices), and the fixtures the tests of
// the core and of its concerns share: Env (a controlled clock and the
// service events of the key lifecycle), PolicyEnv (the policy engine over
// an in-memory identity source, and the principals of the policy tests),
// Race, NewBenchNode and ServerGC.
//
// Custom key stores are left out: their tests (test/hsm) wire package
// keystore, and its PKCS#11 and XKS backends, themselves.
//
// # Invariants
//
//   - Only tests import it; it keeps no state between tests, and everything
//     it starts stops when the test ends (testing.TB.Cleanup).
//   - A Node is wired in the server's order: the job runner right after the
//     core, before anything is cached, then the concerns, each registering
//     with the core.
package kmstest
