// Package security holds Trent's attack tests: black-box tests that start
// real `trent serve` processes (the binary built from this tree) and perform
// the attacks of an adversarial review against them: connection and audit
// exhaustion, signature-scope swaps, hostile JSON, concurrent mutation
// races, privilege escalation through IAM paths, cross-account reads,
// encryption-context case games, trail truncation and a stolen data
// directory. Each test asserts the safe outcome, so a hole that reopens
// fails CI.
//
// # Invariants the tests keep
//
// Every server runs as a child process on a random 127.0.0.1 port with its
// own data directory, configuration directory and root key, and is killed
// when its test ends. No test reaches an address other than loopback. Load
// and attack loops are bounded in count and time. Tests that need the
// machine to themselves (file-descriptor exhaustion, audit floods with a
// latency budget) do not call t.Parallel.
package security
