// Package cluster holds the multi-node tests of Trent on PostgreSQL: three
// `trent serve --store postgres://...` child processes on 127.0.0.1 that
// share one database schema, one root key and one administrator credential,
// driven through aws-sdk-go-v2.
//
// The tests check what docs/cluster.md promises: a change made through one
// node (DisableKey) is refused by the others within one second; a node
// killed with SIGKILL and a PostgreSQL restart lose no acknowledged write,
// never hang a call (failures are DependencyTimeoutException or
// KMSInternalException) and need no node restart; scheduled jobs run exactly
// once across nodes, also when the node holding the scheduler lease dies;
// and every node's audit trail verifies.
//
// They skip unless TRENT_TEST_POSTGRES_URL is set:
//
//	export TRENT_TEST_POSTGRES_URL=$(scripts/ci/postgres.sh)
//	go test ./test/cluster/ -v
//
// The PostgreSQL restart step runs only when scripts/ci/postgres.sh manages
// the server at that URL (same TRENT_PG_DIR); otherwise it is skipped with
// a log line, so the test never stops a database it does not own. Each run
// uses a fresh schema, dropped at the end.
package cluster
