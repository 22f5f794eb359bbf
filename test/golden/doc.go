// Package golden pins Trent's wire behaviour against AWS KMS with recorded
// request/response pairs ("golden files"), in the spirit of caddy's adapt
// tests.
//
// The package has no non-test code: TestGolden starts a real Trent on
// 127.0.0.1, creates the fixtures the cases ask for (keys of every kind, a
// disabled key, a key pending deletion, aliases, ciphertexts, signatures,
// ...), sends every case under testdata/ as a raw SigV4-signed HTTP request
// and compares the normalized response with the one recorded in the file.
// `go test ./test/golden -update` rewrites the recorded responses.
//
// # Invariants
//
//   - One case per file, testdata/<Operation>/<ok|fail>-<what>.txt; adding a
//     case is adding a file (see README.md for the format).
//   - Cases run sequentially in lexical path order against one server; a case
//     that changes state works on its own keys ({{new.KIND.arn}}), never on
//     the shared fixtures, so any subset (-run) gives the same answers.
//   - Normalization removes only what legitimately varies between runs (key
//     IDs, timestamps, blobs, request IDs, markers) and checks its format
//     while doing so: a timestamp must be an epoch-seconds number, a blob
//     valid base64, a request ID a UUID. Everything else is compared exactly.
//   - TestExceptionCoverage fails when an exception name used under
//     internal/ has no golden case and is not listed as unreachable.
package golden
