// Package trentproc runs the trent binary as a child process for the
// black-box tests under test/.
//
// Build compiles cmd/trent once per test binary (and once per set of build
// tags). Start runs it with the arguments and environment the caller gives,
// collects everything it prints, and by default waits for the
// "endpoint: URL" line `trent serve` prints when it accepts requests. The
// returned Process is stopped with SIGTERM (Stop, Terminate) or SIGKILL
// (Kill), and is always killed and reaped when the test ends.
//
// The package knows nothing about credentials, data directories or root
// keys: each harness decides those, so that what a test sets up stays
// visible in its own package. Environ helps it start from a clean
// environment.
package trentproc
