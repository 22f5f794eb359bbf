#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time; fails if any fails.
#
#   scripts/ci/fuzz.sh                          every target, $FUZZTIME each
#   scripts/ci/fuzz.sh ./internal/sigv4 ./test/...   the targets of these packages
#   FUZZTIME=30s scripts/ci/fuzz.sh             longer runs (default 10s)
#   FUZZ_PARALLEL=1 scripts/ci/fuzz.sh          fuzzing workers per target
#                                               (default: GOMAXPROCS)
#   scripts/ci/fuzz.sh --list                   print the targets and exit
#
# Targets are discovered, not listed by hand: `go test -list '^Fuzz'` over
# every package that has tests, so a new Fuzz* function runs here without
# anyone adding it. Each target runs alone (`-run '^$' -fuzz '^Name$'`):
# first its seed corpus (f.Add and testdata/fuzz/<Name>/*), then new
# inputs until FUZZTIME.
#
# When a target fails, Go writes the input that broke it to
# <package>/testdata/fuzz/<Name>/<hash>; the summary names each file.
# Commit that file with the fix: every later `go test` of the package runs
# it as a regression case of the target (no -fuzz needed).
set -euo pipefail

cd "$(dirname "$0")/../.."

fuzztime=${FUZZTIME:-10s}
list_only=false
pkgs=()
for a in "$@"; do
	case $a in
	--list) list_only=true ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) pkgs+=("$a") ;;
	esac
done
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)

# Packages that have test files, then their fuzz targets. `go test -list`
# prints a package's matching names, then an "ok <import path>" line.
mapfile -t testpkgs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "${pkgs[@]}")
if [ ${#testpkgs[@]} -eq 0 ]; then
	echo "fuzz: no packages with tests in ${pkgs[*]}" >&2
	exit 1
fi
if ! listing=$(go test -list '^Fuzz' "${testpkgs[@]}"); then
	echo "fuzz: go test -list failed (see above)" >&2
	exit 1
fi
targets=() # "import/path Name"
names=()
while IFS= read -r line; do
	case $line in
	Fuzz*) names+=("$line") ;;
	"ok "*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in ${names[@]+"${names[@]}"}; do targets+=("$pkg $n"); done
		names=()
		;;
	"?"* | "") ;;
	*)
		echo "fuzz: unexpected output of go test -list: $line" >&2
		exit 1
		;;
	esac
done <<<"$listing"

if $list_only; then
	printf '%s\n' "${targets[@]}"
	exit 0
fi
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found in ${pkgs[*]}" >&2
	exit 1
fi

echo "fuzz: ${#targets[@]} targets, $fuzztime each"
parallel=()
[ -z "${FUZZ_PARALLEL:-}" ] || parallel=(-parallel "$FUZZ_PARALLEL")
failed=()
crashers=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	dir=$(go list -f '{{.Dir}}' "$pkg")
	start=$(date +%s)
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" ${parallel[@]+"${parallel[@]}"} "$pkg" >"$log" 2>&1; then
		echo "PASS $pkg $name ($(($(date +%s) - start))s)"
		continue
	fi
	# Go 1.26's fuzzing coordinator can report its own -fuzztime deadline
	# as a failure ("context deadline exceeded", no input written) when a
	# worker is mid-input as time runs out (go.dev/issue/75804, fixed in Go
	# 1.27). That is no finding: when it is the only complaint, the target
	# passes if its whole corpus replays cleanly.
	if grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log" &&
		! grep -q -E -e '^panic:' -e '\.go:[0-9]+: ' "$log" &&
		go test -count=1 -run "^${name}\$" "$pkg" >/dev/null 2>&1; then
		echo "PASS $pkg $name ($(($(date +%s) - start))s; the coordinator's end-of-time race, go.dev/issue/75804: no input failed, corpus replayed)"
		continue
	fi
	echo "FAIL $pkg $name"
	sed 's/^/    /' "$log"
	failed+=("$pkg $name")
	# "Failing input written to testdata/fuzz/<Name>/<hash>"
	while IFS= read -r f; do
		crashers+=("${dir#"$PWD"/}/$f")
	done < <(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$log")
done

if [ ${#failed[@]} -gt 0 ]; then
	echo
	echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed:"
	printf '  %s\n' "${failed[@]}"
	if [ ${#crashers[@]} -gt 0 ]; then
		echo "Inputs that failed (commit each with its fix; go test then replays it):"
		printf '  %s\n' "${crashers[@]}"
	fi
	exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed"
