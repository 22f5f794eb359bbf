// Package readme runs README.md as a new user would: every fenced shell
// block (sh, bash, shell), in order, in one shell, against a fresh server,
// once with AWS CLI v2 and once with v1 (TestREADME), so that the README
// cannot drift from what Trent does.
//
// A comment right before a block says how it is run:
//
//	<!-- readme-test: server -->         in the background, until the end; the
//	                                      script waits for the banner, then runs
//	                                      the banner's export line with the CLI
//	<!-- readme-test: expect TEXT -->    the block's output must contain TEXT
//	<!-- readme-test: skip REASON -->    not run, for the reason given
//
// A block without one is run and must succeed (bash -euo pipefail). The run
// has a fresh home directory, none of the machine's AWS or Trent variables,
// and a network namespace of its own with only loopback: the README's fixed
// port 127.0.0.1:4599 is free, and no command can reach the real AWS. It
// needs root (unshare --net) and both CLIs; scripts/test-all.sh requires
// them, so a missing one fails the run instead of skipping.
package readme
