#!/usr/bin/env bash
# install-clients.sh: installs every client that test/compat/run.sh drives,
# on a fresh Debian machine, from Debian packages, npm and the Go module
# proxy only. Idempotent: what is already there is not fetched again.
#
#   Debian: awscli (AWS CLI v2), python3-boto3, openssl, iproute2
#           (and nodejs/npm if node is missing)
#   npm:    test/compat/js (npm ci from the committed package-lock.json)
#   Go:     sops v3.13.3 into $TRENT_TOOLS_DIR (default ~/.cache/trent-tools);
#           the modules of test/compat/go (go mod download)
#
# The AWS CLI v1 and boto3 1.43 of the image's pyenv Python are used when
# present and are not installed here.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TOOLS="${TRENT_TOOLS_DIR:-$HOME/.cache/trent-tools}"
log() { echo "install-clients.sh: $*" >&2; }

sudo=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi

pkgs=(awscli python3-boto3 openssl iproute2)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q >&2
	$sudo apt-get install -y -q "${missing[@]}" >&2
fi

js="$ROOT/test/compat/js"
if [ ! -f "$js/node_modules/.package-lock.json" ] || ! cmp -s "$js/package-lock.json" "$js/.installed-lock" 2>/dev/null; then
	log "npm ci in test/compat/js"
	(cd "$js" && npm ci --no-audit --no-fund >&2 && cp package-lock.json .installed-lock)
fi

if ! { [ -x "$TOOLS/sops" ] && "$TOOLS/sops" --disable-version-check --version 2>/dev/null | grep -q '3\.13\.3'; }; then
	log "go install sops v3.13.3 into $TOOLS"
	mkdir -p "$TOOLS"
	GOBIN="$TOOLS" go install github.com/getsops/sops/v3/cmd/sops@v3.13.3 >&2
fi

log "go mod download in test/compat/go"
(cd "$ROOT/test/compat/go" && go mod download >&2)
log "done"
