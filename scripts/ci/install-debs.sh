#!/usr/bin/env bash
# Installs the Debian packages Trent's tests use, if missing: the AWS CLI and
# boto3 (client tests), PostgreSQL (cluster mode and storage conformance),
# SoftHSM2 (PKCS#11), OpenSSL (interoperability tests), iproute2 (loopback-only
# network namespaces for client tests), Prometheus (a real server scrapes
# trent's metrics; promtool checks them), Chromium (the web console's browser
# tests, test/console). Idempotent; needs root to install, and
# fails when something is missing and cannot be installed.
set -euo pipefail
pkgs=(awscli python3-boto3 postgresql softhsm2 opensc openssl iproute2 ca-certificates prometheus chromium)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "install-debs: all present (${pkgs[*]})"
	exit 0
fi
if [[ $(id -u) != 0 ]]; then
	echo "install-debs: missing ${missing[*]} and not root: install them, or run scripts/test-all.sh --quick" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-debs: installing ${missing[*]}"
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "install-debs: done"
