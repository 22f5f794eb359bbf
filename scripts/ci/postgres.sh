#!/usr/bin/env bash
# Throwaway PostgreSQL for Trent's tests.
#
#   scripts/ci/postgres.sh [start]  install if missing, start a cluster on
#                                   127.0.0.1, print its URL (idempotent)
#   scripts/ci/postgres.sh url      print the URL of the running cluster
#   scripts/ci/postgres.sh stop     stop the cluster (idempotent)
#   scripts/ci/postgres.sh destroy  stop it and delete its directory
#
# Use:  export TRENT_TEST_POSTGRES_URL=$(scripts/ci/postgres.sh)
#
# The cluster lives in $TRENT_PG_DIR (default /tmp/trent-pg), listens only on
# 127.0.0.1 (and a Unix socket in that directory), trusts local connections
# and keeps fsync on so that durability figures mean something. Run as root
# (initdb then runs as the postgres OS user) or as an ordinary user.
set -euo pipefail

dir=${TRENT_PG_DIR:-/tmp/trent-pg}
data=$dir/data
db=${TRENT_PG_DB:-trent}
log() { echo "postgres.sh: $*" >&2; }

bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
	if [[ -z $d ]] && command -v pg_config >/dev/null; then d=$(pg_config --bindir); fi
	echo "$d"
}

install() {
	[[ -n $(bindir) && -x $(bindir)/initdb ]] && return
	[[ $(id -u) == 0 ]] || { log "PostgreSQL is not installed and I am not root"; exit 1; }
	log "installing PostgreSQL from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
	# Debian's package starts a system cluster; ours is separate and that one
	# is left alone.
	[[ -x $(bindir)/initdb ]] || { log "initdb not found after install"; exit 1; }
}

# as runs a command as the cluster's owner.
as() {
	if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
	local p
	for p in $(shuf -i 20000-60000 -n 50); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	log "no free port found"; exit 1
}

running() {
	[[ -f $data/postmaster.pid ]] && as "$(bindir)/pg_ctl" -D "$data" status >/dev/null 2>&1
}

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/$db?sslmode=disable"; }

start() {
	install
	local bin; bin=$(bindir)
	mkdir -p "$dir"
	if [[ $(id -u) == 0 ]]; then chown postgres: "$dir"; fi
	if [[ ! -f $data/PG_VERSION ]]; then
		rm -rf "$data"
		as "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			as "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	if ! running; then
		[[ -f $dir/port ]] || free_port >"$dir/port"
		local port; port=$(cat "$dir/port")
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then port=$(free_port); echo "$port" >"$dir/port"; fi
		as "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c shared_buffers=64MB" >/dev/null ||
			{ tail -n 20 "$dir/server.log" >&2; exit 1; }
	fi
	local port; port=$(cat "$dir/port")
	if ! as "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
		as "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
	fi
	url
}

stop() {
	[[ -d $data ]] || return 0
	if running; then as "$(bindir)/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi
}

case ${1:-start} in
start) start ;;
url) running || { log "not running"; exit 1; }; url ;;
stop) stop ;;
destroy) stop; rm -rf "$dir" ;;
*) log "usage: $0 [start|url|stop|destroy]"; exit 2 ;;
esac
