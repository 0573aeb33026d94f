#!/bin/bash
# run-tests.sh: run cmocka test programs, show their output, and close with one summary line
# ("tests: N passed, N failed, N skipped"). A program that crashes, is killed or exits non-zero
# without cmocka reporting a failure counts as one failed test, so nothing fails silently.
#
#   tests/run-tests.sh PROGRAM...
set -uo pipefail

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CMOCKA_MESSAGE_OUTPUT=stdout

passed=0 failed=0 skipped=0
failed_programs=()
for prog in "$@"; do
	name=${prog#"${PWD}/"}
	out=$(mktemp)
	echo "== $name"
	"$prog" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	rm -f "$out"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "run-tests: $name exited with status $rc without a cmocka failure: counted as failed"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$f" -gt 0 ] && failed_programs+=("$name")
done
echo
if [ ${#failed_programs[@]} -gt 0 ]; then
	echo "failed programs: ${failed_programs[*]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
