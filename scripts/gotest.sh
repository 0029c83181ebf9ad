#!/usr/bin/env bash
# The Go tests as make test runs them: every test binary is built once, all of them in
# parallel, then run from its package's directory, the packages named in $GO_TEST_PARALLEL two
# at a time and every other one alone (they measure latency on real servers, see the Makefile).
#
# Why not `go test -p 1 ./...` after a compile-only pass: Go caches compiled packages but never
# a linked test binary, so -p 1 linked every test binary a second time, one after another,
# each link waiting for the previous package's tests.
#
# Usage: GO_TEST_PARALLEL="./a ./b" scripts/gotest.sh [-timeout D] [PACKAGES...] (default ./...)
# Prints go test's lines (ok PKG TIME, ? PKG [no test files], a failing package's output then
# FAIL PKG); exit status 1 when a package failed or did not build.
set -uo pipefail
GO=${GO:-go}
timeout=30m
if [ "${1:-}" = -timeout ]; then
	timeout=$2
	shift 2
fi
[ $# -gt 0 ] || set -- ./...

work=$(mktemp -d "${TMPDIR:-/tmp}/faultline-gotest-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
# Stopped (Ctrl-C, a CI timeout, kill): stop the test binary that runs too, so its Cleanup
# tears down what it started, rather than leave it running from a deleted directory.
trap 'pkill -INT -f "^$work/bin" 2>/dev/null; sleep 2; pkill -KILL -f "^$work/bin" 2>/dev/null; exit 130' INT TERM

# One line per package: import path, directory, package name, has tests (1/0).
if ! $GO list -f '{{.ImportPath}} {{.Dir}} {{.Name}} {{if or .TestGoFiles .XTestGoFiles}}1{{else}}0{{end}}' "$@" >"$work/pkgs"; then
	echo "FAIL	go list $*" >&2
	exit 1
fi
parallel=" "
if [ -n "${GO_TEST_PARALLEL:-}" ]; then
	# shellcheck disable=SC2086 # a list of packages
	parallel=" $($GO list $GO_TEST_PARALLEL | tr '\n' ' ')" || exit 1
fi

# Build: go test -c -o DIR/ names each binary NAME.test, so two packages of one name (say
# reports/explore and scenarios/explore) go into batches of their own. -s -w: no debug
# information, as go test links the binaries it runs (a link with DWARF took 1.6 times as long).
declare -A batchOf bin
nbatch=0
while read -r path dir name tests; do
	[ "$tests" = 1 ] || continue
	[ "$name" != main ] || name=${path##*/} # a command's test binary is named after its directory
	b=0
	while [ -n "${batchOf[$b/$name]:-}" ]; do b=$((b + 1)); done
	batchOf[$b/$name]=$path
	[ $b -lt $nbatch ] || nbatch=$((b + 1))
	mkdir -p "$work/bin$b"
	bin[$path]=$work/bin$b/$name.test
	echo "$path" >>"$work/batch$b"
done <"$work/pkgs"
failed=0
for ((b = 0; b < nbatch; b++)); do
	# shellcheck disable=SC2046 # a list of packages
	if ! $GO test -c -ldflags="-s -w" -o "$work/bin$b/" $(cat "$work/batch$b"); then
		failed=1 # the packages whose binary is missing are reported FAIL below
	fi
done

# runone PATH DIR: run one package's tests, print its result at once (atomically enough for two
# writers: one printf of the whole output).
runone() {
	local path=$1 dir=$2 b=${bin[$1]} out start rc
	if [ ! -x "$b" ]; then
		printf 'FAIL\t%s [build failed]\n' "$path"
		return 1
	fi
	start=${EPOCHREALTIME/[.,]/}
	out=$(cd "$dir" && "$b" -test.count=1 -test.timeout="$timeout" -test.paniconexit0 2>&1)
	rc=$?
	local us=$((${EPOCHREALTIME/[.,]/} - start)) secs
	printf -v secs '%d.%06d' $((us / 1000000)) $((us % 1000000))
	if [ $rc -eq 0 ]; then
		printf 'ok  \t%s\t%.3fs\n' "$path" "$secs"
		return 0
	fi
	printf '%s\nFAIL\t%s\t%.3fs\n' "$out" "$path" "$secs"
	return 1
}

# The parallel packages first, two at a time; then the others, one at a time.
declare -a alone=()
running=0
while read -r path dir name tests; do
	if [ "$tests" != 1 ]; then
		printf '?   \t%s\t[no test files]\n' "$path"
		continue
	fi
	if [[ "$parallel" != *" $path "* ]]; then
		alone+=("$path $dir")
		continue
	fi
	if [ $running -ge 2 ]; then
		wait -n || failed=1
		running=$((running - 1))
	fi
	runone "$path" "$dir" &
	running=$((running + 1))
done <"$work/pkgs"
for ((; running > 0; running--)); do wait -n || failed=1; done
for a in "${alone[@]}"; do
	# In the background and waited for, so a signal's trap runs at once, not after the package.
	runone ${a% *} "${a#* }" &
	wait $! || failed=1
done
exit $failed
