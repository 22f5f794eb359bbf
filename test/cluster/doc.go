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
// TRENT_TEST_POSTGRES_URL says that PostgreSQL is installed and running.
// The test then starts a PostgreSQL server of its own with
// scripts/ci/postgres.sh (TRENT_PG_DIR in a fresh temporary directory), so
// that stopping and starting it mid-load disturbs no other test; if that
// fails it uses the shared server and skips the restart step, saying so.
package cluster
