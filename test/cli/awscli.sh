#!/usr/bin/env bash
# awscli.sh TRENT_BINARY: starts its own trent on a free loopback port with a
# temporary data directory and drives it with the AWS CLI (Debian's awscli v2
# at /usr/bin/aws if installed, else the aws on PATH, or $AWS_CLI). Every
# call passes --endpoint-url: no request can reach the real AWS.
# Prints PASS/FAIL lines and "awscli: N passed, M failed"; exits non-zero on
# any failure, 2 if it cannot run at all.
set -u

TRENT="${1:?usage: awscli.sh TRENT_BINARY}"
AWS_BIN="${AWS_CLI:-}"
if [ -z "$AWS_BIN" ]; then
	if [ -x /usr/bin/aws ]; then AWS_BIN=/usr/bin/aws; else AWS_BIN="$(command -v aws || true)"; fi
fi
if [ -z "$AWS_BIN" ]; then
	echo "awscli: no aws CLI installed" >&2
	exit 2
fi

T="$(mktemp -d)"
PID=""
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
	rm -rf "$T"
}
trap cleanup EXIT

# A fresh credential for this run only; the CLI reads no config or
# credentials file of the machine.
export TRENT_ACCESS_KEY_ID="AKIACLI$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
export TRENT_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export AWS_ACCESS_KEY_ID="$TRENT_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$TRENT_SECRET_ACCESS_KEY"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS

# The server's root key file goes beside its data directory, not into the
# home directory of whoever runs this.
export XDG_CONFIG_HOME="$T/config"
"$TRENT" serve --listen 127.0.0.1:0 --data-dir "$T/data" >"$T/trent.out" 2>"$T/trent.err" &
PID=$!
ENDPOINT=""
for _ in $(seq 1 150); do
	ENDPOINT="$(awk '$1 == "endpoint:" { print $2; exit }' "$T/trent.out")"
	[ -n "$ENDPOINT" ] && break
	if ! kill -0 "$PID" 2>/dev/null; then break; fi
	sleep 0.1
done
case "$ENDPOINT" in
http://127.0.0.1:*) ;;
*)
	echo "awscli: trent did not start: $(tr '\n' ' ' <"$T/trent.err")" >&2
	exit 2
	;;
esac

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
oneline() { tr '\n' ' ' | cut -c1-300; }

kms() { "$AWS_BIN" kms --endpoint-url "$ENDPOINT" --region us-east-1 --cli-read-timeout 30 --cli-connect-timeout 10 "$@"; }
# q QUERY ARGS...: one field of a call's output as text; stderr to $T/err.
q() {
	local query="$1"; shift
	kms "$@" --query "$query" --output text 2>"$T/err"
}
# wanterr CODE ARGS...: the call must fail with exception CODE.
wanterr() {
	local code="$1"; shift
	if kms "$@" >"$T/out" 2>"$T/err"; then
		return 1
	fi
	grep -q "($code)" "$T/err"
}

# --- create-key ---------------------------------------------------------
ARN="$(q KeyMetadata.Arn create-key --description "awscli e2e")"
if [[ "$ARN" =~ ^arn:aws:kms:us-east-1:[0-9]{12}:key/[0-9a-f-]{36}$ ]]; then
	pass "create-key returns a key ARN"
else
	fail "create-key: got '$ARN' $(oneline <"$T/err")"
	echo "awscli: $PASSED passed, $FAILED failed"
	exit 1
fi
KEY_ID="${ARN##*/}"

# --- encrypt/decrypt a file with an encryption context (fileb://) --------
head -c 3000 /dev/urandom >"$T/plain"
CTX='purpose=e2e,file=plain'
if q CiphertextBlob encrypt --key-id "$KEY_ID" --plaintext "fileb://$T/plain" --encryption-context "$CTX" >"$T/ct.b64" &&
	base64 -d "$T/ct.b64" >"$T/ct"; then
	pass "encrypt 3000 random bytes from fileb:// with an encryption context"
else
	fail "encrypt: $(oneline <"$T/err")"
fi
if q Plaintext decrypt --ciphertext-blob "fileb://$T/ct" --encryption-context "$CTX" >"$T/pt.b64" &&
	base64 -d "$T/pt.b64" >"$T/pt" && cmp -s "$T/plain" "$T/pt"; then
	pass "decrypt with the same encryption context returns the file"
else
	fail "decrypt round trip: $(oneline <"$T/err")"
fi
KID="$(q KeyId decrypt --ciphertext-blob "fileb://$T/ct" --encryption-context "$CTX")"
if [ "$KID" = "$ARN" ]; then pass "decrypt returns the key ARN"; else fail "decrypt KeyId '$KID', want '$ARN'"; fi
if wanterr InvalidCiphertextException decrypt --ciphertext-blob "fileb://$T/ct" --encryption-context 'purpose=e2e,file=other'; then
	pass "decrypt with a different encryption context: InvalidCiphertextException"
else
	fail "decrypt with a different context: $(oneline <"$T/err")"
fi
if wanterr InvalidCiphertextException decrypt --ciphertext-blob "fileb://$T/ct"; then
	pass "decrypt without the encryption context: InvalidCiphertextException"
else
	fail "decrypt without context: $(oneline <"$T/err")"
fi

# --- generate-data-key ----------------------------------------------------
if kms generate-data-key --key-id "$ARN" --key-spec AES_256 --output json >"$T/dk.json" 2>"$T/err" &&
	python3 -c 'import json,sys,base64; d=json.load(open(sys.argv[1])); open(sys.argv[2],"wb").write(base64.b64decode(d["Plaintext"])); open(sys.argv[3],"wb").write(base64.b64decode(d["CiphertextBlob"]))' \
		"$T/dk.json" "$T/dk.plain" "$T/dk.ct" 2>>"$T/err" &&
	[ "$(wc -c <"$T/dk.plain")" -eq 32 ] &&
	q Plaintext decrypt --ciphertext-blob "fileb://$T/dk.ct" | base64 -d | cmp -s - "$T/dk.plain"; then
	pass "generate-data-key AES_256: 32 bytes that decrypt back"
else
	fail "generate-data-key: $(oneline <"$T/err")"
fi

# --- alias ------------------------------------------------------------------
ALIAS="alias/awscli-e2e-$$"
if kms create-alias --alias-name "$ALIAS" --target-key-id "$KEY_ID" 2>"$T/err"; then
	pass "create-alias"
else
	fail "create-alias: $(oneline <"$T/err")"
fi
if q CiphertextBlob encrypt --key-id "$ALIAS" --plaintext "fileb://$T/plain" >"$T/ct2.b64" && base64 -d "$T/ct2.b64" >"$T/ct2" &&
	[ "$(q KeyId decrypt --ciphertext-blob "fileb://$T/ct2")" = "$ARN" ]; then
	pass "encrypt by alias name; decrypt names the key ARN"
else
	fail "encrypt by alias: $(oneline <"$T/err")"
fi
if [ "$(q 'Aliases[0].TargetKeyId' list-aliases --key-id "$KEY_ID")" = "$KEY_ID" ]; then
	pass "list-aliases --key-id shows the alias"
else
	fail "list-aliases: $(oneline <"$T/err")"
fi

# --- disable-key -------------------------------------------------------------
if kms disable-key --key-id "$KEY_ID" 2>"$T/err"; then pass "disable-key"; else fail "disable-key: $(oneline <"$T/err")"; fi
if wanterr DisabledException encrypt --key-id "$ALIAS" --plaintext "fileb://$T/plain"; then
	pass "encrypt with a disabled key: DisabledException"
else
	fail "encrypt with a disabled key: $(oneline <"$T/err")"
fi
if wanterr DisabledException decrypt --ciphertext-blob "fileb://$T/ct2"; then
	pass "decrypt with a disabled key: DisabledException"
else
	fail "decrypt with a disabled key: $(oneline <"$T/err")"
fi
if [ "$(q KeyMetadata.KeyState describe-key --key-id "$ALIAS")" = "Disabled" ]; then
	pass "describe-key by alias: Disabled"
else
	fail "describe-key state: $(oneline <"$T/err")"
fi

echo "awscli: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
