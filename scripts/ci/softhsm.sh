#!/usr/bin/env bash
# softhsm.sh DIR [LABEL] — install SoftHSM2 if missing, create a SoftHSM2
# configuration and token directory under DIR, initialise a token LABEL
# (default "trent") and print the environment to use it.
#
# Idempotent: a second run with the same DIR and LABEL reuses the token.
# PINs come from TRENT_HSM_SO_PIN / TRENT_HSM_PIN (defaults are for CI only).
#
# Use:  eval "$(scripts/ci/softhsm.sh /tmp/trent-hsm)"
# Prints (to stdout, nothing else goes there):
#   export SOFTHSM2_CONF=... TRENT_HSM_MODULE=... TRENT_HSM_TOKEN=... TRENT_HSM_PIN=...
set -euo pipefail

dir=${1:?usage: softhsm.sh DIR [LABEL]}
label=${2:-trent}
so_pin=${TRENT_HSM_SO_PIN:-12345678}
pin=${TRENT_HSM_PIN:-1234}

log() { echo "softhsm.sh: $*" >&2; }

if ! command -v softhsm2-util >/dev/null 2>&1; then
	log "installing softhsm2"
	export DEBIAN_FRONTEND=noninteractive
	sudo=""
	if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi
	if ! $sudo apt-get install -y softhsm2 >&2; then
		$sudo apt-get update >&2
		$sudo apt-get install -y softhsm2 >&2
	fi
fi

module=""
for m in $(dpkg -L libsofthsm2 softhsm2 2>/dev/null | grep 'libsofthsm2\.so$' || true) \
	/usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
	/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so; do
	if [ -f "$m" ]; then module=$m; break; fi
done
if [ -z "$module" ]; then
	log "libsofthsm2.so not found after install"
	exit 1
fi

mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
chmod 700 "$dir" "$dir/tokens"
conf="$dir/softhsm2.conf"
cat >"$conf" <<EOF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF=$conf

if softhsm2-util --show-slots 2>/dev/null | grep -Eq "^[[:space:]]*Label:[[:space:]]+$label[[:space:]]*$"; then
	log "token '$label' already initialised in $dir"
else
	softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$pin" >&2
fi

printf 'export SOFTHSM2_CONF=%q\n' "$conf"
printf 'export TRENT_HSM_MODULE=%q\n' "$module"
printf 'export TRENT_HSM_TOKEN=%q\n' "$label"
printf 'export TRENT_HSM_PIN=%q\n' "$pin"
