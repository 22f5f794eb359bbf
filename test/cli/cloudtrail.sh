#!/usr/bin/env bash
# cloudtrail.sh TRENT_BINARY: starts its own trent on a free loopback port
# with a temporary data directory and drives its CloudTrail LookupEvents API
# with the AWS CLI ($AWS_CLI, else Debian's /usr/bin/aws, else aws on PATH)
# and, if $PYTHON is set, with boto3's CloudTrail client under that Python
# (test/cli/cloudtrail_boto3.py). Every call passes --endpoint-url: no
# request can reach the real AWS.
# Prints PASS/FAIL lines and "cloudtrail: N passed, M failed"; exits
# non-zero on any failure, 2 if it cannot run at all.
set -u

TRENT="${1:?usage: cloudtrail.sh TRENT_BINARY}"
AWS_BIN="${AWS_CLI:-}"
if [ -z "$AWS_BIN" ]; then
	if [ -x /usr/bin/aws ]; then AWS_BIN=/usr/bin/aws; else AWS_BIN="$(command -v aws || true)"; fi
fi
if [ -z "$AWS_BIN" ]; then
	echo "cloudtrail: no aws CLI installed" >&2
	exit 2
fi
HERE="$(cd "$(dirname "$0")" && pwd)"

T="$(mktemp -d)"
PID=""
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
	rm -rf "$T"
}
trap cleanup EXIT

export TRENT_ACCESS_KEY_ID="AKIACT$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
export TRENT_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
ADMIN_KEY="$TRENT_ACCESS_KEY_ID" ADMIN_SECRET="$TRENT_SECRET_ACCESS_KEY"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KMS AWS_ENDPOINT_URL_CLOUDTRAIL

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
	echo "cloudtrail: trent did not start: $(tr '\n' ' ' <"$T/trent.err")" >&2
	exit 2
	;;
esac

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
oneline() { tr '\n' ' ' | cut -c1-400; }

# as KEY SECRET SERVICE ARGS...: one CLI call signed with that access key.
as() {
	local k="$1" s="$2"; shift 2
	AWS_ACCESS_KEY_ID="$k" AWS_SECRET_ACCESS_KEY="$s" "$AWS_BIN" --endpoint-url "$ENDPOINT" --region us-east-1 \
		--cli-read-timeout 30 --cli-connect-timeout 10 "$@"
}
admin() { as "$ADMIN_KEY" "$ADMIN_SECRET" "$@"; }

# user NAME POLICY_JSON: a user with that inline policy; prints "KEY SECRET".
user() {
	admin iam create-user --user-name "$1" >/dev/null 2>>"$T/setup.err" || return 1
	admin iam put-user-policy --user-name "$1" --policy-name p --policy-document "$2" >/dev/null 2>>"$T/setup.err" || return 1
	admin iam create-access-key --user-name "$1" --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text 2>>"$T/setup.err"
}
allow() { printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":%s,"Resource":"*"}]}' "$1"; }

read -r APP_KEY APP_SECRET <<<"$(user app "$(allow '"kms:*"')")"
read -r AUD_KEY AUD_SECRET <<<"$(user auditor "$(allow '["cloudtrail:LookupEvents"]')")"
read -r NOB_KEY NOB_SECRET <<<"$(user nobody "$(allow '["kms:*","cloudtrail:CreateTrail"]')")"
if [ -z "$APP_SECRET" ] || [ -z "$AUD_SECRET" ] || [ -z "$NOB_SECRET" ]; then
	echo "cloudtrail: could not create the users: $(oneline <"$T/setup.err")" >&2
	exit 2
fi
ARN="$(as "$APP_KEY" "$APP_SECRET" kms create-key --query KeyMetadata.Arn --output text 2>"$T/err")"
printf 'hello' >"$T/plain"
for i in 1 2 3; do
	as "$APP_KEY" "$APP_SECRET" kms encrypt --key-id "$ARN" --plaintext "fileb://$T/plain" --query KeyId --output text >/dev/null 2>>"$T/err" ||
		fail "encrypt $i: $(oneline <"$T/err")"
done

ct() { as "$AUD_KEY" "$AUD_SECRET" cloudtrail lookup-events "$@"; }
attr() { printf 'AttributeKey=%s,AttributeValue=%s' "$1" "$2"; }

# --- by EventName --------------------------------------------------------
out="$(ct --lookup-attributes "$(attr EventName Encrypt)" --query 'Events[].[EventName,Username,Resources[0].ResourceName,ReadOnly]' --output text 2>"$T/err")"
if [ "$(grep -c . <<<"$out")" = 3 ] && [ "$(sort -u <<<"$out")" = "$(printf 'Encrypt\tapp\t%s\ttrue' "$ARN")" ]; then
	pass "lookup-events EventName=Encrypt: 3 Encrypts by app on the key"
else
	fail "lookup-events EventName=Encrypt: $(oneline <<<"$out") $(oneline <"$T/err")"
fi

# --- by Username ---------------------------------------------------------
out="$(ct --lookup-attributes "$(attr Username app)" --query 'Events[].[Username,EventName]' --output text 2>"$T/err")"
if [ "$(cut -f1 <<<"$out" | sort -u)" = app ] && [ "$(grep -c Encrypt <<<"$out")" = 3 ] && grep -q CreateKey <<<"$out"; then
	pass "lookup-events Username=app: its CreateKey and 3 Encrypts, nobody else's"
else
	fail "lookup-events Username=app: $(oneline <<<"$out") $(oneline <"$T/err")"
fi

# --- by ResourceName, and the CloudTrailEvent --------------------------------
out="$(ct --lookup-attributes "$(attr ResourceName "$ARN")" --max-items 1 --output json 2>"$T/err")"
if python3 -c '
import json, sys
e = json.loads(json.loads(sys.argv[1])["Events"][0]["CloudTrailEvent"])
assert e["eventName"] == "Encrypt", e["eventName"]
assert e["eventSource"] == "kms.amazonaws.com"
assert e["resources"][0]["ARN"] == sys.argv[2]
assert e["userIdentity"]["userName"] == "app"
assert "plaintext" not in json.dumps(e).lower()
' "$out" "$ARN" 2>"$T/py.err"; then
	pass "lookup-events ResourceName=ARN: newest is an Encrypt, CloudTrailEvent is its record"
else
	fail "lookup-events ResourceName=ARN: $(oneline <"$T/py.err") $(oneline <<<"$out") $(oneline <"$T/err")"
fi

# --- paging ----------------------------------------------------------------
ids=()
tok=""
for page in 1 2 3 4; do
	args=(--lookup-attributes "$(attr EventName Encrypt)" --page-size 1 --max-items 1 --output json)
	[ -n "$tok" ] && args+=(--starting-token "$tok")
	ct "${args[@]}" >"$T/page" 2>"$T/err" || { fail "page $page: $(oneline <"$T/err")"; break; }
	ids+=("$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join(e["EventId"] for e in d["Events"]))' "$T/page")")
	tok="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("NextToken",""))' "$T/page")"
	[ -z "$tok" ] && break
done
all="$(ct --lookup-attributes "$(attr EventName Encrypt)" --query 'join(`,`, Events[].EventId)' --output text 2>/dev/null)"
if [ "${#ids[@]}" = 3 ] && [ "$(IFS=,; echo "${ids[*]}")" = "$all" ] && [ -z "$tok" ]; then
	pass "paging one event a page: 3 pages, the same events in the same order, then no token"
else
	fail "paging: pages ${ids[*]} token '$tok' vs all $all"
fi

# --- time range --------------------------------------------------------------
n="$(ct --lookup-attributes "$(attr EventName Encrypt)" --start-time 2001-01-01T00:00:00Z --end-time 2001-01-02T00:00:00Z --query 'length(Events)' --output text 2>"$T/err")"
if [ "$n" = 0 ]; then pass "lookup-events in a past day: nothing"; else fail "time range: $n $(oneline <"$T/err")"; fi

# --- refusals and validation ---------------------------------------------------
wanterr() {
	local code="$1"; shift
	if "$@" >"$T/out" 2>"$T/err"; then return 1; fi
	grep -q "($code)" "$T/err"
}
if wanterr AccessDeniedException as "$NOB_KEY" "$NOB_SECRET" cloudtrail lookup-events --lookup-attributes "$(attr EventName Encrypt)" &&
	grep -q 'is not authorized to perform: cloudtrail:LookupEvents' "$T/err"; then
	pass "without cloudtrail:LookupEvents: AccessDeniedException"
else
	fail "refusal: $(oneline <"$T/err")"
fi
if wanterr InvalidLookupAttributesException ct --lookup-attributes "$(attr EventName Encrypt)" "$(attr Username app)"; then
	pass "two lookup attributes: InvalidLookupAttributesException"
else
	fail "two attributes: $(oneline <"$T/err")"
fi
if wanterr InvalidTimeRangeException ct --start-time 2026-01-02T00:00:00Z --end-time 2026-01-01T00:00:00Z; then
	pass "start after end: InvalidTimeRangeException"
else
	fail "time range: $(oneline <"$T/err")"
fi

# --- the lookups are audited --------------------------------------------------------
out="$(ct --lookup-attributes "$(attr EventName LookupEvents)" --query 'Events[].[EventSource,Username,ReadOnly]' --output text 2>"$T/err")"
if grep -q "$(printf 'cloudtrail.amazonaws.com\tauditor\ttrue')" <<<"$out" && grep -q "$(printf 'cloudtrail.amazonaws.com\tnobody\ttrue')" <<<"$out"; then
	pass "lookups are in the trail, the refused one too"
else
	fail "audited lookups: $(oneline <<<"$out") $(oneline <"$T/err")"
fi

# --- boto3 ------------------------------------------------------------------------
if [ -n "${PYTHON:-}" ]; then
	if ENDPOINT="$ENDPOINT" KEY_ARN="$ARN" AUD_KEY="$AUD_KEY" AUD_SECRET="$AUD_SECRET" NOB_KEY="$NOB_KEY" NOB_SECRET="$NOB_SECRET" \
		"$PYTHON" "$HERE/cloudtrail_boto3.py" >"$T/boto3.out" 2>&1; then
		pass "boto3 $("$PYTHON" -c 'import boto3; print(boto3.__version__)'): $(tail -1 "$T/boto3.out")"
	else
		fail "boto3: $(oneline <"$T/boto3.out")"
	fi
fi

echo "cloudtrail: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
