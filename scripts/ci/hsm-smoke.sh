#!/usr/bin/env bash
# hsm-smoke.sh — HSM checks with SoftHSM2 (issue 9):
#   1. go test ./test/hsm: server with its root key in the token (restart;
#      the data directory copied elsewhere decrypts nothing), online
#      root-key rotation under load with zero failed requests, a CloudHSM-
#      type key store whose key is non-extractable, an external key store
#      served by Trent's XKS proxy, disconnect/reconnect semantics;
#   2. the real binary, cross-process: `trent serve` with the root key in
#      the token, `trent rotate-root-key` from a second process while it
#      runs, restart;
#   3. `trent xks-proxy` over HTTPS refuses an unsigned request (401) and
#      answers one signed by curl --aws-sigv4, the client the XKS proxy
#      API specification tests proxies with.
# Usage: scripts/ci/hsm-smoke.sh [WORKDIR]   (needs go, curl, openssl)
set -euo pipefail
work=${1:-$(mktemp -d /tmp/trent-hsm-smoke.XXXXXX)}
mkdir -p "$work"
root=$(cd "$(dirname "$0")/../.." && pwd)
log() { echo "hsm-smoke: $*" >&2; }

eval "$("$root/scripts/ci/softhsm.sh" "$work/hsm" trent)"
eval "$("$root/scripts/ci/softhsm.sh" "$work/hsm" trentxks)" # second token, same config
export TRENT_HSM_TOKEN=trent
(cd "$root" && go build -o "$work/trent" ./cmd/trent)
printf '%s\n' "$TRENT_HSM_PIN" >"$work/pin"
cat >"$work/trent.yaml" <<YAML
listen: 127.0.0.1:18931
data_dir: $work/data
root_key:
  provider: pkcs11
  pkcs11_module: $TRENT_HSM_MODULE
  pkcs11_token: trent
  pkcs11_pin_file: $work/pin
  pkcs11_key_label: trent-root
YAML

if [[ -z ${HSM_SMOKE_SKIP_GO_TEST:-} ]]; then
	log "go test ./test/hsm (server restart, copied data dir, rotation under load, CloudHSM and XKS stores)"
	(cd "$root" && go test -count=1 ./test/hsm/)
fi

log "rotate-root-key from a second process while trent bench loads the server"
export TRENT_ACCESS_KEY_ID=AKIAHSMSMOKEADMIN001 TRENT_SECRET_ACCESS_KEY=hsm-smoke-secret-0123456789
"$work/trent" serve --config "$work/trent.yaml" >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; kill ${xpid:-0} 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fsS http://127.0.0.1:18931/healthz >/dev/null 2>&1 && break; sleep 0.2; done
"$work/trent" bench --endpoint http://127.0.0.1:18931 --concurrency 4 --duration 8s --quiet --json \
	--mix Encrypt=5,Decrypt=5,GenerateDataKey=2,CreateKey=1 >"$work/bench.json" 2>"$work/bench.log" &
bpid=$!
sleep 2
"$work/trent" rotate-root-key --config "$work/trent.yaml" --settle 1s
wait $bpid || { cat "$work/bench.log"; exit 1; }
log "load during cross-process rotation: $(cat "$work/bench.json")"
grep -q '"errors":{}' "$work/bench.json" || { log "requests failed during rotation"; exit 1; }
kill $pid; wait $pid || true
"$work/trent" serve --config "$work/trent.yaml" >>"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -fsS http://127.0.0.1:18931/healthz >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS http://127.0.0.1:18931/healthz >/dev/null || { cat "$work/serve.log"; exit 1; }
log "server restarted after rotation"

log "xks-proxy over HTTPS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$work/xks.key" -out "$work/xks.crt" 2>/dev/null
TRENT_XKS_ACCESS_KEY_ID=XKSSMOKEACCESSKEY2345 TRENT_XKS_SECRET_ACCESS_KEY=c21va2Utc2VjcmV0LXNtb2tlLXNlY3JldC1zbW9rZS1zZWNyZXQ= \
	"$work/trent" xks-proxy --listen 127.0.0.1:18932 --tls-cert "$work/xks.crt" --tls-key "$work/xks.key" \
	--pkcs11-token trentxks --create-keys ext-1 >"$work/xks.log" 2>&1 &
xpid=$!
sleep 1
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/xks.crt" -X POST https://127.0.0.1:18932/kms/xks/v1/health -d '{}')
[ "$code" = 401 ] || { cat "$work/xks.log"; log "unsigned health check answered $code, want 401"; exit 1; }
out=$(curl -s --cacert "$work/xks.crt" --aws-sigv4 aws:amz:us-east-1:kms-xks-proxy \
	--user XKSSMOKEACCESSKEY2345:c21va2Utc2VjcmV0LXNtb2tlLXNlY3JldC1zbW9rZS1zZWNyZXQ= -X POST -H 'Content-Type: application/json' \
	--data '{"requestMetadata":{"kmsOperation":"KmsHealthCheck","kmsRequestId":"1124f4d6-db54-4af4-ae30-c55a22a8abcd"}}' \
	https://127.0.0.1:18932/kms/xks/v1/health)
[[ $out == *'"healthStatus":"ACTIVE"'* ]] || { cat "$work/xks.log"; log "health check signed by curl --aws-sigv4 answered: $out"; exit 1; }
log "ok ($work)"
