#!/usr/bin/env bash
# sops.sh SOPS_BINARY: encrypts, decrypts and rotates a YAML file with sops
# using KMS keys on the target. sops honours only AWS_ENDPOINT_URL_KMS for the
# endpoint and takes the region from the key ARN; --disable-version-check
# keeps it from phoning home.
set -u
SOPS="$1"
CLIENT=sops
. "$(dirname "$0")/lib.sh"
export AWS_ENDPOINT_URL_KMS="$COMPAT_ENDPOINT"
[ -n "$COMPAT_CA" ] && export AWS_CA_BUNDLE="$COMPAT_CA"

T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
sops() { "$SOPS" --disable-version-check "$@"; }

# newkey prints the ARN of a new symmetric key, made with whichever AWS CLI
# is installed.
newkey() {
	local cli
	for cli in /usr/bin/aws "$(command -v aws)"; do
		[ -x "$cli" ] || continue
		"$cli" kms create-key --endpoint-url "$COMPAT_ENDPOINT" --region "$AWS_REGION" \
			${COMPAT_CA:+--ca-bundle "$COMPAT_CA"} --description "compat sops" \
			--query KeyMetadata.Arn --output text 2>>"$T/err"
		return
	done
	echo "no AWS CLI to create keys with" >>"$T/err"
}

ARN1="$(newkey)"
ARN2="$(newkey)"
if [ -z "$ARN1" ] || [ -z "$ARN2" ]; then
	fail "cannot create keys: $(oneline <"$T/err")"
	exit 0
fi

cat >"$T/secrets.yaml" <<'YAML'
database:
    user: app
    password: compat-Secret-Value-42
api_token: tok-0123456789abcdef
YAML

# --- encrypt with --kms and an encryption context ----------------------------
if sops encrypt --kms "$ARN1" --encryption-context 'purpose:compat,client:sops' \
	"$T/secrets.yaml" >"$T/enc.yaml" 2>"$T/err" &&
	grep -q 'ENC\[AES256_GCM' "$T/enc.yaml" && ! grep -q 'compat-Secret-Value-42' "$T/enc.yaml" &&
	grep -q "arn: $ARN1" "$T/enc.yaml" && grep -q 'purpose: compat' "$T/enc.yaml"; then
	pass "encrypt a YAML file with --kms ARN and --encryption-context"
else
	fail "encrypt: $(oneline <"$T/err")"
	exit 0
fi

# --- decrypt ---------------------------------------------------------------------
if sops decrypt "$T/enc.yaml" >"$T/dec.yaml" 2>"$T/err" && cmp -s "$T/secrets.yaml" "$T/dec.yaml"; then
	pass "decrypt gives the original file"
else
	fail "decrypt: $(oneline <"$T/err") $(diff "$T/secrets.yaml" "$T/dec.yaml" 2>&1 | oneline)"
fi

# --- rotate: a new data key, still decryptable -----------------------------------
cp "$T/enc.yaml" "$T/before.yaml"
if sops rotate -i "$T/enc.yaml" 2>"$T/err" && ! cmp -s "$T/before.yaml" "$T/enc.yaml" &&
	sops decrypt "$T/enc.yaml" >"$T/dec2.yaml" 2>>"$T/err" && cmp -s "$T/secrets.yaml" "$T/dec2.yaml"; then
	pass "rotate -i re-encrypts under a new data key; decrypt still works"
else
	fail "rotate: $(oneline <"$T/err")"
fi

# --- move to a second key: add it, remove the first, decrypt ----------------------
if sops rotate -i --encryption-context 'purpose:compat,client:sops' --add-kms "$ARN2" --rm-kms "$ARN1" "$T/enc.yaml" 2>"$T/err" &&
	grep -q "arn: $ARN2" "$T/enc.yaml" && ! grep -q "arn: $ARN1" "$T/enc.yaml" &&
	sops decrypt "$T/enc.yaml" >"$T/dec3.yaml" 2>>"$T/err" && cmp -s "$T/secrets.yaml" "$T/dec3.yaml"; then
	pass "rotate --add-kms/--rm-kms moves the file to a second key"
else
	fail "key change: $(oneline <"$T/err") (file names: $(grep -o 'arn: .*' "$T/enc.yaml" | oneline))"
fi
