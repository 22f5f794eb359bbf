#!/usr/bin/env bash
# Measures Trent against the ideal-server fixture and, when available, the
# emulators a user might pick instead, with the same load generator in the
# same run. Results go to stdout as one `trent bench` summary per target.
#
#   scripts/bench/compare.sh [OP] [DURATION] [CONCURRENCY]
#
#   OP           Encrypt (default), Decrypt, GenerateDataKey, ...
#   DURATION     per target (default 10s), after a 2s warm-up
#   CONCURRENCY  closed-loop workers (default 64)
#
# Environment:
#   LOCAL_KMS=/path/to/local-kms   a local-kms binary you built yourself
#                                  (it is not part of this repository)
#   MOTO=1                         also measure moto_server (python, if installed)
#   TRENT_BASELINE=/path/to/trent  also measure another trent binary (an earlier
#                                  commit's build), right after this tree's, so
#                                  that a change is compared in the same run
#   TRENT_BENCH_DATA=DIR           Trent's data dir (default: a fresh temp dir)
#
# Every server listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
op=${1:-Encrypt}; dur=${2:-10s}; conc=${3:-64}
tmp=$(mktemp -d /tmp/trent-compare.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/trent" ./cmd/trent
go build -o "$tmp/ideal" ./test/bench/idealserver
export AWS_ACCESS_KEY_ID=AKIABENCHBENCHBENCH1 AWS_SECRET_ACCESS_KEY=benchSecretbenchSecretbenchSecret00000000

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # run NAME URL SERVER_PID [extra bench flags]
	local name=$1 url=$2 pid=$3; shift 3
	echo "--- $name ($url)"
	# The warm-up runs first, so that the server CPU below covers exactly
	# the measured requests (utime + stime of the server process).
	"$tmp/trent" bench --endpoint "$url" --op "$op" --duration 2s --concurrency "$conc" --quiet "$@" >/dev/null
	local t0 t1
	t0=$(cpu_ticks "$pid")
	"$tmp/trent" bench --endpoint "$url" --op "$op" --duration "$dur" --concurrency "$conc" --quiet "$@" | tee "$tmp/out"
	t1=$(cpu_ticks "$pid")
	awk -v t=$((t1 - t0)) -v hz="$hz" '/^requests/ { if ($2 > 0) printf "server CPU   %.1f µs/request\n", t / hz * 1e6 / $2 }' "$tmp/out"
}

p=$(free_port); "$tmp/ideal" -listen 127.0.0.1:$p >/dev/null 2>&1 & pids+=($!); wait_port $p
run "ideal server (JSON + AES-GCM, nothing else)" http://127.0.0.1:$p "${pids[-1]}" --key ideal

# The root key comes from the environment, so that nothing is written
# outside the temporary directory.
export TRENT_ROOT_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
p=$(free_port)
TRENT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TRENT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
	"$tmp/trent" serve --listen 127.0.0.1:$p --data-dir "${TRENT_BENCH_DATA:-$tmp/trent-data}" >"$tmp/trent.log" 2>&1 & pids+=($!); wait_port $p
run "Trent (SigV4 + policy + durable audit)" http://127.0.0.1:$p "${pids[-1]}"

if [[ -n ${TRENT_BASELINE:-} ]]; then
	p=$(free_port)
	TRENT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TRENT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
		"$TRENT_BASELINE" serve --listen 127.0.0.1:$p --data-dir "$tmp/trent-baseline-data" >"$tmp/trent-baseline.log" 2>&1 & pids+=($!); wait_port $p
	run "Trent baseline ($TRENT_BASELINE)" http://127.0.0.1:$p "${pids[-1]}"
fi

if [[ -n ${LOCAL_KMS:-} ]]; then
	p=$(free_port)
	PORT=$p KMS_DATA_PATH=$tmp/local-kms "$LOCAL_KMS" >"$tmp/local-kms.log" 2>&1 & pids+=($!); wait_port $p
	run "local-kms (no signature check, no policy, no audit)" http://127.0.0.1:$p "${pids[-1]}"
fi
if [[ -n ${MOTO:-} ]] && command -v moto_server >/dev/null; then
	p=$(free_port)
	moto_server -H 127.0.0.1 -p $p >"$tmp/moto.log" 2>&1 & pids+=($!); wait_port $p
	run "moto (no signature check, no policy, no audit)" http://127.0.0.1:$p "${pids[-1]}"
fi
