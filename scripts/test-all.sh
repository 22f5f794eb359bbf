#!/usr/bin/env bash
# Runs every test of Trent on this machine, installing what the tests need
# first (Debian packages, npm packages, Go modules). This is the command the
# README names and that CI runs (.ci/run).
#
#   scripts/test-all.sh            everything
#   scripts/test-all.sh --quick    Go unit and end-to-end tests only (no installs,
#                                  no client suite, no PostgreSQL/SoftHSM)
#
# Each stage prints its own result; the last line is
#   "test-all: N passed, M failed"
# counting stages, and the exit status is non-zero if any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[[ ${1:-} == --quick ]] && quick=1

passed=0; failed=0; failures=()
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

export GOFLAGS=${GOFLAGS:--mod=mod}
tmp=$(mktemp -d /tmp/trent-test.XXXXXX)
cleanup() {
	[[ -n ${TRENT_TEST_POSTGRES_URL:-} ]] && scripts/ci/postgres.sh stop >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

if (( ! quick )); then
	stage "install: Debian packages" scripts/ci/install-debs.sh
	if url=$(scripts/ci/postgres.sh start); then
		export TRENT_TEST_POSTGRES_URL=$url
		echo "PostgreSQL for tests at $url"
	else
		echo "WARNING: PostgreSQL could not be started; its tests will skip"
	fi
	if env=$(scripts/ci/softhsm.sh "$tmp/softhsm"); then
		eval "$env"
		echo "SoftHSM2 token ready ($TRENT_HSM_MODULE)"
	else
		echo "WARNING: SoftHSM2 could not be set up; HSM tests will skip"
	fi
fi

stage "go vet" go vet ./...
stage "gofmt" bash -c 'out=$(gofmt -l $(git ls-files "*.go" 2>/dev/null || find . -name "*.go")); [[ -z $out ]] || { echo "gofmt needed:"; echo "$out"; false; }'
stage "go test (unit, storage conformance, end-to-end)" go test -count=1 -timeout 25m ./...
stage "go test -race (domain, cache, authorization, audit, IAM, server, end-to-end)" go test -race -count=1 -timeout 15m ./internal/kms ./internal/keyring ./internal/authz ./internal/audit ./internal/iam ./internal/server ./test/e2e
stage "go build without cgo (HSM stubs)" env CGO_ENABLED=0 go build -o /dev/null ./cmd/trent
stage "benchmarks compile and run (short)" go test -count=1 -run '^$' -bench . -benchtime 20x -short ./internal/...

if (( ! quick )); then
	go build -o "$tmp/trent" ./cmd/trent || true
	# test/hsm already ran inside go test ./... with the SoftHSM2 token above.
	stage "HSM: root key in SoftHSM2, rotate-root-key across processes, XKS proxy" env HSM_SMOKE_SKIP_GO_TEST=1 scripts/ci/hsm-smoke.sh "$tmp/hsm-smoke"
	stage "install: client libraries (npm, Go modules, sops)" scripts/ci/install-clients.sh
	stage "client compatibility suite (HTTP and HTTPS)" test/compat/run.sh --trent "$tmp/trent"
fi

echo
if (( failed )); then
	echo "failed stages: ${failures[*]}"
fi
echo "test-all: $passed passed, $failed failed"
(( failed == 0 ))
