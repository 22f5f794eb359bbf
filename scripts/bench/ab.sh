#!/usr/bin/env bash
# Compares two trent binaries on one operation, interleaved: both servers
# start once, then short load runs alternate between them (A B B A A B ...),
# so that the machine's drift (on shared VMs, ±10–30% over minutes) falls on
# both alike. Prints each run's throughput and server CPU per request, then
# the medians and the ratio B ÷ A.
#
#   scripts/bench/ab.sh A_BINARY B_BINARY [OP] [ROUNDS] [DURATION] [CONCURRENCY]
#
#   OP           Encrypt (default), Decrypt, GenerateDataKey, ...
#   ROUNDS       pairs of runs (default 6)
#   DURATION     per run (default 5s), after one 2 s warm-up per server
#   CONCURRENCY  closed-loop workers (default 64)
#
# Both servers listen on 127.0.0.1 only, with fresh data directories and a
# root key from the environment, and are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
a=${1:?usage: ab.sh A_BINARY B_BINARY [OP] [ROUNDS] [DURATION] [CONCURRENCY]}
b=${2:?usage: ab.sh A_BINARY B_BINARY [OP] [ROUNDS] [DURATION] [CONCURRENCY]}
op=${3:-Encrypt}; rounds=${4:-6}; dur=${5:-5s}; conc=${6:-64}
tmp=$(mktemp -d /tmp/trent-ab.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/bench" ./cmd/trent # the load generator: this tree's trent bench
export AWS_ACCESS_KEY_ID=AKIABENCHBENCHBENCH1 AWS_SECRET_ACCESS_KEY=benchSecretbenchSecretbenchSecret00000000
export TRENT_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID TRENT_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
export TRENT_ROOT_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export XDG_CONFIG_HOME=$tmp/config

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A url pid
for side in A B; do
	bin=$a; [[ $side == B ]] && bin=$b
	p=$(free_port)
	"$bin" serve --listen 127.0.0.1:$p --data-dir "$tmp/data-$side" >"$tmp/$side.log" 2>&1 & pids+=($!)
	pid[$side]=$!; url[$side]=http://127.0.0.1:$p
	wait_port $p
	"$tmp/bench" bench --endpoint "${url[$side]}" --op "$op" --duration 2s --concurrency "$conc" --quiet >/dev/null
done

run() { # run SIDE: prints "SIDE req/s cpu-µs p99-ms"
	local side=$1 t0 t1
	t0=$(cpu_ticks "${pid[$side]}")
	"$tmp/bench" bench --endpoint "${url[$side]}" --op "$op" --duration "$dur" --concurrency "$conc" --quiet >"$tmp/out"
	t1=$(cpu_ticks "${pid[$side]}")
	awk -v side="$side" -v t=$((t1 - t0)) -v hz="$hz" '
		/^requests/ { split($0, f, ": "); rps = f[2] + 0; n = $2 }
		/^latency/ { for (i = 1; i <= NF; i++) if ($i == "p99") p99 = $(i+1) }
		/^errors/ && $2 != "none" { err = 1 }
		END { if (err) { print "errors in run of " side > "/dev/stderr"; exit 1 }
		      printf "%s %d %.1f %.2f\n", side, rps, t / hz * 1e6 / n, p99 }' "$tmp/out"
}

echo "op $op, $rounds rounds of $dur at concurrency $conc; A=$a B=$b"
echo "side req/s cpu-µs/req p99-ms"
for ((i = 0; i < rounds; i++)); do
	if (( i % 2 == 0 )); then run A; run B; else run B; run A; fi
done | tee "$tmp/runs"
awk '
	function median(arr, n,    i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
		return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
	}
	{ n[$1]++; r[$1, n[$1]] = $2; c[$1, n[$1]] = $3; p[$1, n[$1]] = $4 }
	END {
		for (s in n) {
			delete x; for (i = 1; i <= n[s]; i++) x[i] = r[s, i]; mr[s] = median(x, n[s])
			delete x; for (i = 1; i <= n[s]; i++) x[i] = c[s, i]; mc[s] = median(x, n[s])
			delete x; for (i = 1; i <= n[s]; i++) x[i] = p[s, i]; mp[s] = median(x, n[s])
		}
		printf "median A: %d req/s, %.1f µs CPU/req, p99 %.2f ms\n", mr["A"], mc["A"], mp["A"]
		printf "median B: %d req/s, %.1f µs CPU/req, p99 %.2f ms\n", mr["B"], mc["B"], mp["B"]
		printf "B ÷ A: throughput %.3f, CPU per request %.3f\n", mr["B"] / mr["A"], mc["B"] / mc["A"]
	}' "$tmp/runs"
