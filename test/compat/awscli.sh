#!/usr/bin/env bash
# awscli.sh AWS_BINARY LABEL: exercises one AWS CLI (v1 or v2) against the
# target in COMPAT_ENDPOINT. Every call passes --endpoint-url explicitly
# because the Debian CLI v2 ignores AWS_ENDPOINT_URL_KMS.
set -u
AWS_BIN="$1"
CLIENT="$2"
. "$(dirname "$0")/lib.sh"

T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT

kms() {
	"$AWS_BIN" kms --endpoint-url "$COMPAT_ENDPOINT" --region "$AWS_REGION" \
		${COMPAT_CA:+--ca-bundle "$COMPAT_CA"} --cli-read-timeout 30 --cli-connect-timeout 10 "$@"
}
# q runs a kms call and prints one queried field as text; errors go to $T/err.
q() {
	local query="$1"; shift
	kms "$@" --query "$query" --output text 2>"$T/err"
}

# --- create-key -------------------------------------------------------------
ARN="$(q KeyMetadata.Arn create-key --description "compat $CLIENT")"
if [[ "$ARN" =~ ^arn:aws:kms:${AWS_REGION}:[0-9]{12}:key/[0-9a-f-]{36}$ ]]; then
	pass "create-key returns a key ARN"
else
	fail "create-key: got '$ARN' $(oneline <"$T/err")"
	exit 0 # nothing below can run without a key
fi

# --- encrypt/decrypt with an encryption context, raw bytes via fileb:// ------
head -c 1000 /dev/urandom >"$T/plain"
CTX='purpose=compat,client=cli'
if q CiphertextBlob encrypt --key-id "$ARN" --plaintext "fileb://$T/plain" \
	--encryption-context "$CTX" >"$T/ct.b64" && base64 -d "$T/ct.b64" >"$T/ct" &&
	q Plaintext decrypt --ciphertext-blob "fileb://$T/ct" --encryption-context "$CTX" >"$T/pt.b64" &&
	base64 -d "$T/pt.b64" >"$T/pt" && cmp -s "$T/plain" "$T/pt"; then
	pass "encrypt/decrypt 1000 random bytes with an encryption context"
else
	fail "encrypt/decrypt round trip: $(oneline <"$T/err")"
fi

KID="$(q KeyId decrypt --ciphertext-blob "fileb://$T/ct" --encryption-context "$CTX")"
if [ "$KID" = "$ARN" ]; then
	pass "decrypt returns the key ARN as KeyId"
else
	fail "decrypt KeyId: got '$KID', want '$ARN'"
fi

if q Plaintext decrypt --ciphertext-blob "fileb://$T/ct" --encryption-context 'purpose=other,client=cli' >/dev/null; then
	fail "decrypt with a wrong encryption context succeeded"
elif grep -q InvalidCiphertextException "$T/err"; then
	pass "decrypt with a wrong encryption context fails with InvalidCiphertextException"
else
	fail "decrypt with a wrong context: unexpected error: $(oneline <"$T/err")"
fi

# --- generate-data-key --------------------------------------------------------
if kms generate-data-key --key-id "$ARN" --key-spec AES_256 --encryption-context "$CTX" \
	--output json >"$T/dk.json" 2>"$T/err"; then
	# Both CLIs print blobs as base64 in JSON output.
	python3 - "$T" <<'PY' && q Plaintext decrypt --ciphertext-blob "fileb://$T/dk.ct" --encryption-context "$CTX" >"$T/dk2.b64" &&
import base64, json, sys
t = sys.argv[1]
d = json.load(open(t + "/dk.json"))
open(t + "/dk.pt", "wb").write(base64.b64decode(d["Plaintext"]))
open(t + "/dk.ct", "wb").write(base64.b64decode(d["CiphertextBlob"]))
assert len(base64.b64decode(d["Plaintext"])) == 32
PY
		base64 -d "$T/dk2.b64" >"$T/dk2.pt" && cmp -s "$T/dk.pt" "$T/dk2.pt" &&
		pass "generate-data-key AES_256 gives a 32-byte key that decrypt returns" ||
		fail "generate-data-key: data key did not round-trip $(oneline <"$T/err")"
else
	fail "generate-data-key: $(oneline <"$T/err")"
fi

# --- create-alias and encrypt by alias ---------------------------------------
ALIAS="alias/compat-${CLIENT}-$$-$RANDOM"
if kms create-alias --alias-name "$ALIAS" --target-key-id "$ARN" 2>"$T/err" &&
	q CiphertextBlob encrypt --key-id "$ALIAS" --plaintext "fileb://$T/plain" >"$T/ca.b64" &&
	base64 -d "$T/ca.b64" >"$T/ca" &&
	q Plaintext decrypt --ciphertext-blob "fileb://$T/ca" >"$T/cap.b64" &&
	base64 -d "$T/cap.b64" >"$T/cap" && cmp -s "$T/plain" "$T/cap"; then
	pass "create-alias, encrypt by alias name, decrypt"
else
	fail "alias: $(oneline <"$T/err")"
fi
GOT="$(q "Aliases[?AliasName=='$ALIAS'].TargetKeyId | [0]" list-aliases --key-id "$ARN")"
if [ "$GOT" = "${ARN##*/}" ]; then
	pass "list-aliases shows the alias on the key"
else
	fail "list-aliases: got '$GOT' $(oneline <"$T/err")"
fi

# --- key rotation status ------------------------------------------------------
R1="$(q KeyRotationEnabled get-key-rotation-status --key-id "$ARN")"
kms enable-key-rotation --key-id "$ARN" 2>>"$T/err"
R2="$(q KeyRotationEnabled get-key-rotation-status --key-id "$ARN")"
if [ "$R1" = "False" ] && [ "$R2" = "True" ]; then
	pass "get-key-rotation-status False, then True after enable-key-rotation"
else
	fail "rotation status: before='$R1' after='$R2' $(oneline <"$T/err")"
fi

# --- sign/verify with an RSA and an ECC key ----------------------------------
printf 'compat message signed by %s' "$CLIENT" >"$T/msg"
printf 'tampered message' >"$T/bad"
signverify() { # SPEC ALG
	local spec="$1" alg="$2" kid
	kid="$(q KeyMetadata.KeyId create-key --key-spec "$spec" --key-usage SIGN_VERIFY)"
	if [ -z "$kid" ]; then
		fail "create-key $spec: $(oneline <"$T/err")"
		return
	fi
	if ! q Signature sign --key-id "$kid" --message "fileb://$T/msg" --message-type RAW \
		--signing-algorithm "$alg" >"$T/sig.b64" || ! base64 -d "$T/sig.b64" >"$T/sig"; then
		fail "sign $spec $alg: $(oneline <"$T/err")"
		return
	fi
	local ok
	ok="$(q SignatureValid verify --key-id "$kid" --message "fileb://$T/msg" --message-type RAW \
		--signing-algorithm "$alg" --signature "fileb://$T/sig")"
	if [ "$ok" != "True" ]; then
		fail "verify $spec $alg: got '$ok' $(oneline <"$T/err")"
		return
	fi
	if ok="$(q SignatureValid verify --key-id "$kid" --message "fileb://$T/bad" --message-type RAW \
		--signing-algorithm "$alg" --signature "fileb://$T/sig")"; then
		fail "verify $spec $alg of a tampered message returned SignatureValid=$ok, want KMSInvalidSignatureException"
	elif grep -q KMSInvalidSignatureException "$T/err"; then
		pass "sign/verify $spec $alg; tampered message gives KMSInvalidSignatureException"
	else
		fail "verify tampered $spec: unexpected error: $(oneline <"$T/err")"
	fi
}
signverify RSA_2048 RSASSA_PSS_SHA_256
signverify ECC_NIST_P256 ECDSA_SHA_256
