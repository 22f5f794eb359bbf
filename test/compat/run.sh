#!/usr/bin/env bash
# run.sh: the client compatibility suite. Drives an AWS-KMS-compatible
# endpoint with the real AWS clients (AWS CLI v2 and v1, boto3, AWS SDK for
# JavaScript v3, AWS Encryption SDK for JavaScript, aws-sdk-go-v2, Tink,
# the Vault/OpenBao awskms seal, sops).
#
# Usage:
#   run.sh                  target from the environment: COMPAT_ENDPOINT,
#                           AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#                           AWS_REGION (default us-east-1), COMPAT_CA (CA
#                           bundle for https, empty for http)
#   run.sh --trent BIN      start `BIN serve` twice (HTTP and HTTPS with a
#                           fresh openssl CA) and run the suite against both
#   run.sh --moto           start moto_server (HTTP only) and run the suite
# Options:
#   --only LIST             comma-separated clients: awscli, boto3, js, esdk,
#                           go, sops (default: all)
#   --no-netns              do not use a network namespace
#
# Each check prints one line "PASS <client>: <what>" or "FAIL <client>:
# <reason>" (optional clients that are not installed print SKIP); the last
# line is "compat: N passed, M failed[, K skipped]" and the exit status is
# non-zero if anything failed.
#
# With --trent/--moto and root, the servers and clients run inside a fresh
# network namespace that has only `lo`, so no client can reach the real AWS
# even if it ignored its endpoint; the namespace is removed on exit.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
MODE=env BIN="" ONLY="" NETNS=auto INSIDE="" OWNWORK=""
while [ $# -gt 0 ]; do
	case "$1" in
	--trent) MODE=trent BIN="$(realpath "$2")"; shift 2 ;;
	--moto) MODE=moto; shift ;;
	--only) ONLY="$2"; shift 2 ;;
	--no-netns) NETNS=no; shift ;;
	--inside-netns) INSIDE=1; shift ;; # internal: re-executed inside the namespace
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
export AWS_REGION="${AWS_REGION:-us-east-1}"
TOOLS="${TRENT_TOOLS_DIR:-$HOME/.cache/trent-tools}"
WORK="${COMPAT_WORK:-}"

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# --- stage 1 (outside any namespace): build what needs the network ------------
if [ -z "$INSIDE" ]; then
	WORK="$(mktemp -d "${TMPDIR:-/tmp}/trent-compat.XXXXXX")"
	export COMPAT_WORK="$WORK"
	if want go; then
		(cd "$HERE/go" && go build -o "$WORK/compat-go" .) >"$WORK/build-go.log" 2>&1 ||
			echo "run.sh: building test/compat/go failed; see below" >&2
	fi
	if { want js || want esdk; } && [ ! -d "$HERE/js/node_modules/@aws-crypto/client-node" ]; then
		(cd "$HERE/js" && npm ci --no-audit --no-fund) >"$WORK/npm.log" 2>&1
	fi
	if want sops && [ ! -x "$TOOLS/sops" ] && ! command -v sops >/dev/null; then
		mkdir -p "$TOOLS"
		GOBIN="$TOOLS" go install github.com/getsops/sops/v3/cmd/sops@v3.13.3 >"$WORK/sops-install.log" 2>&1
	fi
	if [ "$MODE" != env ] && [ "$NETNS" = auto ]; then
		NS="trent-compat-$$"
		if ip netns add "$NS" 2>/dev/null; then
			trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
			ip netns exec "$NS" ip link set lo up
			echo "run.sh: running servers and clients in network namespace $NS (loopback only)"
			args=(--inside-netns)
			[ "$MODE" = trent ] && args+=(--trent "$BIN")
			[ "$MODE" = moto ] && args+=(--moto)
			[ -n "$ONLY" ] && args+=(--only "$ONLY")
			ip netns exec "$NS" "$0" "${args[@]}"
			exit $?
		fi
		echo "run.sh: network namespaces unavailable (not root?); running on plain loopback with explicit endpoints"
	elif [ "$MODE" != env ]; then
		echo "run.sh: --no-netns: running on plain loopback with explicit endpoints"
	fi
	OWNWORK=1
fi

# --- running the clients ------------------------------------------------------
PASSED=0 FAILED=0 SKIPPED=0
SUFFIX=""

# emit prints one result line and counts it.
emit() {
	local kind="$1" client="$2" rest="$3"
	printf '%s %s%s: %s\n' "$kind" "$client" "$SUFFIX" "$rest"
	case "$kind" in
	PASS) PASSED=$((PASSED + 1)) ;;
	FAIL) FAILED=$((FAILED + 1)) ;;
	SKIP) SKIPPED=$((SKIPPED + 1)) ;;
	esac
}

# run_client NAME CMD...: runs one client test with a time limit, relays
# its PASS/FAIL lines and turns a crash without a FAIL line into one.
run_client() {
	local name="$1"; shift
	local out="$WORK/out.$name" err="$WORK/err.$name" rc line nfail=0
	timeout 600 "$@" >"$out" 2>"$err"
	rc=$?
	while IFS= read -r line; do
		if [[ "$line" =~ ^(PASS|FAIL|SKIP)\ ([^:]+):\ (.*)$ ]]; then
			emit "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
			[ "${BASH_REMATCH[1]}" = FAIL ] && nfail=$((nfail + 1))
		fi
	done <"$out"
	if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		emit FAIL "$name" "exited with status $rc: $(grep -v -i warning "$err" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
	fi
}

run_suite() {
	# The Python and Go clients read AWS_CA_BUNDLE, Node NODE_EXTRA_CA_CERTS
	# (both preset on the image to the system bundle).
	if [ -n "${COMPAT_CA:-}" ]; then
		export AWS_CA_BUNDLE="$COMPAT_CA" NODE_EXTRA_CA_CERTS="$COMPAT_CA"
	fi
	local p v seen=""

	if want awscli; then
		local found=0
		for p in /usr/bin/aws $(type -ap aws); do
			[ -x "$p" ] || continue
			v="$("$p" --version 2>&1 | awk '{print $1}')" # aws-cli/2.9.19
			[[ " $seen " == *" $v "* ]] && continue
			seen="$seen $v"
			found=1
			case "$v" in
			aws-cli/2.*) run_client awscli-v2 "$HERE/awscli.sh" "$p" "awscli-v2" ;;
			aws-cli/1.*) run_client awscli-v1 "$HERE/awscli.sh" "$p" "awscli-v1" ;;
			esac
		done
		[ "$found" = 1 ] || emit FAIL awscli "no AWS CLI installed (scripts/ci/install-clients.sh)"
		[[ "$seen" == *aws-cli/2.* ]] || emit SKIP awscli-v2 "not installed"
		[[ "$seen" == *aws-cli/1.* ]] || emit SKIP awscli-v1 "not installed"
	fi

	if want boto3; then
		local found=0 pys=""
		for p in $(type -ap python3) /usr/bin/python3; do
			p="$(realpath "$p" 2>/dev/null)" || continue
			[[ " $pys " == *" $p "* ]] && continue
			pys="$pys $p"
			v="$("$p" -c 'import boto3; print(boto3.__version__)' 2>/dev/null)" || continue
			[[ " $seen " == *" boto3-$v "* ]] && continue
			seen="$seen boto3-$v"
			found=1
			run_client "boto3-$v" "$p" "$HERE/boto3_compat.py" "boto3-$v"
		done
		[ "$found" = 1 ] || emit FAIL boto3 "no python3 with boto3 (scripts/ci/install-clients.sh)"
	fi

	if want js; then
		run_client js-sdk-v3 node --no-warnings "$HERE/js/kms.mjs"
	fi
	if want esdk; then
		run_client encryption-sdk-js node --no-warnings "$HERE/js/esdk.mjs"
	fi
	if want go; then
		if [ -x "$WORK/compat-go" ]; then
			run_client go "$WORK/compat-go"
		else
			emit FAIL go "test/compat/go did not build: $(tail -n 3 "$WORK/build-go.log" 2>/dev/null | tr '\n' ' ')"
		fi
	fi
	if want sops; then
		local s="$TOOLS/sops"
		[ -x "$s" ] || s="$(command -v sops || true)"
		if [ -n "$s" ] && "$s" --disable-version-check --version 2>/dev/null | grep -q '3\.13\.3'; then
			run_client sops "$HERE/sops.sh" "$s"
		else
			emit FAIL sops "sops v3.13.3 not installed (scripts/ci/install-clients.sh)"
		fi
	fi
}

# --- starting a target --------------------------------------------------------
PIDS=()
stop_servers() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	PIDS=()
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID LOG: waits up to 60 s for a listener on 127.0.0.1:PORT.
wait_port() {
	local port="$1" pid="$2" log="$3" i
	for i in $(seq 1 300); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "run.sh: server exited before listening on port $port:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		sleep 0.2
	done
	echo "run.sh: nothing listens on port $port after 60 s" >&2
	return 1
}

make_certs() { # DIR: a CA and a server certificate for 127.0.0.1/localhost
	local d="$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=Trent compat test CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$d/ext.cnf" &&
		openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
}

finish() {
	stop_servers
	if [ "$FAILED" -gt 0 ] && [ -n "$WORK" ]; then
		local f
		for f in "$WORK"/server-*.log; do
			[ -s "$f" ] || continue
			echo "--- last lines of $(basename "$f")"
			tail -n 15 "$f"
		done
	fi
	if [ "$SKIPPED" -gt 0 ]; then
		echo "compat: $PASSED passed, $FAILED failed, $SKIPPED skipped"
	else
		echo "compat: $PASSED passed, $FAILED failed"
	fi
	[ "$FAILED" -eq 0 ]
	exit $?
}
cleanup() {
	stop_servers
	[ -n "${OWNWORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

case "$MODE" in
env)
	if [ -z "${COMPAT_ENDPOINT:-}" ] || [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
		echo "run.sh: set COMPAT_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --trent BIN / --moto" >&2
		exit 2
	fi
	export COMPAT_CA="${COMPAT_CA:-}"
	run_suite
	;;
moto)
	port="$(free_port)"
	moto_server -H 127.0.0.1 -p "$port" >"$WORK/server-moto.log" 2>&1 &
	PIDS+=($!)
	if wait_port "$port" "$!" "$WORK/server-moto.log"; then
		export COMPAT_ENDPOINT="http://127.0.0.1:$port" COMPAT_CA=""
		export AWS_ACCESS_KEY_ID=AKIACOMPATTEST000001 AWS_SECRET_ACCESS_KEY=compat-moto-secret-0000000000000000000000
		SUFFIX="/http" run_suite
	else
		emit FAIL moto "server did not start"
	fi
	;;
trent)
	# A fixed administrator credential for the servers this script starts;
	# it protects nothing but these throw-away data directories.
	export TRENT_ACCESS_KEY_ID=AKIACOMPATTEST000001
	export TRENT_SECRET_ACCESS_KEY=compatTestSecret/0000000000000000000000000
	export AWS_ACCESS_KEY_ID="$TRENT_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$TRENT_SECRET_ACCESS_KEY"
	# The servers' root key file goes into the work directory, not into the
	# home directory of whoever runs this.
	export XDG_CONFIG_HOME="$WORK/config"
	mkdir -p "$WORK/certs" "$WORK/data-http" "$WORK/data-https"
	if ! make_certs "$WORK/certs"; then
		emit FAIL trent "openssl could not make the test certificates"
		finish
	fi
	p1="$(free_port)"
	"$BIN" serve --listen "127.0.0.1:$p1" --data-dir "$WORK/data-http" >"$WORK/server-http.log" 2>&1 &
	PIDS+=($!)
	pid1=$!
	p2="$(free_port)"
	[ "$p2" = "$p1" ] && p2="$(free_port)"
	"$BIN" serve --listen "127.0.0.1:$p2" --data-dir "$WORK/data-https" \
		--tls-cert "$WORK/certs/server.pem" --tls-key "$WORK/certs/server.key" >"$WORK/server-https.log" 2>&1 &
	PIDS+=($!)
	pid2=$!
	if wait_port "$p1" "$pid1" "$WORK/server-http.log"; then
		COMPAT_ENDPOINT="http://127.0.0.1:$p1" COMPAT_CA="" SUFFIX="/http"
		export COMPAT_ENDPOINT COMPAT_CA
		run_suite
	else
		emit FAIL "trent/http" "server did not start"
	fi
	if wait_port "$p2" "$pid2" "$WORK/server-https.log"; then
		COMPAT_ENDPOINT="https://127.0.0.1:$p2" COMPAT_CA="$WORK/certs/ca.pem" SUFFIX="/https"
		export COMPAT_ENDPOINT COMPAT_CA
		run_suite
	else
		emit FAIL "trent/https" "server did not start"
	fi
	;;
esac
finish
