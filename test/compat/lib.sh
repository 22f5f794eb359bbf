# shellcheck shell=bash
# lib.sh: helpers shared by the shell client tests of the compat suite.
#
# Every check prints exactly one line, "PASS <client>: <what>" or
# "FAIL <client>: <reason>"; run.sh counts those lines. The target comes from
# the environment only: COMPAT_ENDPOINT, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY, AWS_REGION and COMPAT_CA (empty for HTTP).

: "${COMPAT_ENDPOINT:?COMPAT_ENDPOINT must be set (http:// or https:// URL)}"
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID must be set}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY must be set}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
COMPAT_CA="${COMPAT_CA:-}"

# Never read a developer's ~/.aws: a profile there could name another endpoint.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true

pass() { printf 'PASS %s: %s\n' "$CLIENT" "$*"; }
fail() { printf 'FAIL %s: %s\n' "$CLIENT" "$*"; }

# oneline squeezes a command's error output into one short line for a FAIL.
oneline() { tr '\n' ' ' | sed 's/  */ /g; s/^ //; s/ $//' | cut -c1-300; }
