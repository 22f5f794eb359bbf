#!/usr/bin/env bash
# Runs every test of Trent on this machine, installing what the tests need
# first (Debian packages, npm packages, Go modules). This is the command the
# README names and that CI runs (.ci/run).
#
#   scripts/test-all.sh            everything
#   scripts/test-all.sh --quick    Go unit, end-to-end and attack tests only (no
#                                  installs, no client suite, no PostgreSQL or
#                                  SoftHSM2 unless already set up, no fuzzing);
#                                  it ends with the list of what it skipped
#
# Each stage prints its own result; the last line is
#   "test-all: N passed, M failed"
# counting stages, and the exit status is non-zero if any stage failed.
#
# The full run requires its real parts: a PostgreSQL or SoftHSM2 that cannot
# be set up fails its stage, and TRENT_TEST_REQUIRE makes every test that
# needs a missing part fail instead of skipping (internal/testenv).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# What tests keep for people to look at (the console tests' screenshots):
# .ci/artifacts/ in the tree unless the caller says where.
export TRENT_TEST_ARTIFACTS=${TRENT_TEST_ARTIFACTS:-$root/.ci/artifacts}
mkdir -p "$TRENT_TEST_ARTIFACTS"
quick=0
[[ ${1:-} == --quick ]] && quick=1

passed=0; failed=0; failures=(); skipped=()
stage() { # stage NAME CMD...
	local name=$1; shift
	echo
	echo "=== stage: $name"
	local start=$SECONDS
	if "$@"; then
		passed=$((passed+1)); echo "=== PASS $name ($((SECONDS-start))s)"
	else
		failed=$((failed+1)); failures+=("$name"); echo "=== FAIL $name ($((SECONDS-start))s)"
	fi
}
skip() { skipped+=("$*"); }

export GOFLAGS=${GOFLAGS:--mod=mod}
tmp=$(mktemp -d /tmp/trent-test.XXXXXX)
pg_started=0
cleanup() {
	(( pg_started )) && scripts/ci/postgres.sh stop >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

start_postgres() {
	local url
	url=$(scripts/ci/postgres.sh start) || return 1
	export TRENT_TEST_POSTGRES_URL=$url
	pg_started=1
	echo "PostgreSQL for tests at $url"
}
setup_softhsm() {
	local env
	env=$(scripts/ci/softhsm.sh "$tmp/softhsm") || return 1
	eval "$env"
	echo "SoftHSM2 token ready ($TRENT_HSM_MODULE)"
}
# gotest runs go test with JSON output through testsummary, which prints a
# plain go test's output followed by every skipped test and its reason.
gotest() {
	go build -o "$tmp/testsummary" ./scripts/ci/testsummary || return 1
	go test -json "$@" 2>&1 | "$tmp/testsummary"
}

if (( quick )); then
	[[ -n ${TRENT_TEST_POSTGRES_URL:-} ]] || skip "PostgreSQL storage conformance, cluster and PostgreSQL attack tests (TRENT_TEST_POSTGRES_URL is unset)"
	[[ -n ${TRENT_HSM_MODULE:-} ]] || skip "PKCS#11 tests with SoftHSM2 (no token set up; scripts/ci/softhsm.sh)"
	skip "installs (Debian packages, npm packages, Go modules)"
	skip "fuzzing (scripts/ci/fuzz.sh)"
	skip "HSM smoke test across processes (scripts/ci/hsm-smoke.sh)"
	skip "client compatibility suite (test/compat/run.sh)"
	skip "README walkthrough with AWS CLI v2 and v1 (test/readme TestREADME)"
else
	stage "install: Debian packages" scripts/ci/install-debs.sh
	stage "PostgreSQL: throwaway server" start_postgres
	stage "SoftHSM2: token" setup_softhsm
	export TRENT_TEST_REQUIRE=postgres,softhsm,awscli,openssl,root,prometheus
fi

stage "go vet" go vet ./...
stage "go vet (trenttest build: the test-only hooks)" go vet -tags trenttest ./internal/node ./cmd/trent
stage "gofmt" bash -c 'out=$(gofmt -l $(git ls-files "*.go" 2>/dev/null || find . -name "*.go")); [[ -z $out ]] || { echo "gofmt needed:"; echo "$out"; false; }'
# The README walkthrough has a stage of its own (below).
stage "go test (unit, storage conformance, end-to-end, attacks)" gotest -count=1 -timeout 30m -skip '^TestREADME$' ./...
# FIPS 140-3 mode (docs/fips.md): the end-to-end suite, whose servers run in the test process, under the module in "only" mode; refused specs skip after asserting their refusal (TestFIPSRefusals asserts each).
stage "FIPS 140-3 mode (GODEBUG=fips140=only): end-to-end suite, ciphertext, SigV4" env GODEBUG=fips140=only go test -count=1 -timeout 15m ./test/e2e ./internal/ciphertext ./internal/sigv4
# test/k8s is a module of its own (k8s.io/apiserver stays out of Trent's).
k8s_tests() { (cd test/k8s && go vet ./... && go test -count=1 -timeout 15m ./... && go test -count=1 -run '^$' -bench DEKGeneration -benchtime 50x ./...); }
stage "Kubernetes KMS v2 plugin with kube-apiserver's envelope code (test/k8s)" k8s_tests
# test/console is a module of its own (chromedp stays out of Trent's); it
# fails without Chromium. Screenshots go to $TRENT_TEST_ARTIFACTS/console.
console_tests() { command -v chromium >/dev/null || [[ -n ${TRENT_TEST_CHROMIUM:-} ]] || { echo "chromium is missing (scripts/ci/install-debs.sh)"; return 1; }; (cd test/console && go vet ./... && go test -count=1 -timeout 10m ./...); }
if (( quick )) && ! command -v chromium >/dev/null && [[ -z ${TRENT_TEST_CHROMIUM:-} ]]; then
	skip "web console browser tests (test/console: no chromium)"
else
	stage "web console in headless Chromium (test/console)" console_tests
fi
stage "go test -race (domain and its concerns, cache, authorization, audit, IAM, pipeline, server, node, end-to-end)" go test -race -count=1 -timeout 15m ./internal/kms ./internal/grant ./internal/keyimport ./internal/keystore ./internal/job ./internal/keyring ./internal/authz ./internal/audit ./internal/iam ./internal/iamapi ./internal/pipeline ./internal/server ./internal/node ./test/e2e
stage "go test (trenttest build: the test-only hooks)" go test -tags trenttest -count=1 -run TestTestHooks ./internal/node
stage "go build without cgo (HSM stubs)" env CGO_ENABLED=0 go build -o /dev/null ./cmd/trent
stage "benchmarks compile and run (short)" go test -count=1 -run '^$' -bench . -benchtime 20x -short ./internal/...

if (( ! quick )); then
	# Every shell block of README.md, in order, against a fresh server,
	# with AWS CLI v2 and with v1; fails if either CLI (or root, for its
	# network namespace) is missing.
	stage "README walkthrough (AWS CLI v2 and v1)" gotest -count=1 -timeout 20m -run '^TestREADME$' ./test/readme
	stage "fuzzing: every fuzz target, ${FUZZTIME:-10s} each" scripts/ci/fuzz.sh
	go build -o "$tmp/trent" ./cmd/trent || true
	# test/hsm already ran inside go test ./... with the SoftHSM2 token above.
	stage "HSM: root key in SoftHSM2, rotate-root-key across processes, XKS proxy" env HSM_SMOKE_SKIP_GO_TEST=1 scripts/ci/hsm-smoke.sh "$tmp/hsm-smoke"
	stage "install: client libraries (npm, Go modules, sops)" scripts/ci/install-clients.sh
	stage "client compatibility suite (HTTP and HTTPS)" test/compat/run.sh --trent "$tmp/trent"
fi

echo
if (( ${#skipped[@]} )); then
	echo "not run by --quick:"
	printf '  %s\n' "${skipped[@]}"
	echo "(skipped tests are listed after the go test stage)"
fi
if (( failed )); then
	echo "failed stages: ${failures[*]}"
fi
echo "test-all: $passed passed, $failed failed"
(( failed == 0 ))
