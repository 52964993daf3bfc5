#!/bin/sh
# tests/run.sh BUILD_DIR - runs every test program and prints the totals.
# Each program prints PASS/FAIL/SKIP lines (tests/t.h); shell tests in
# tests/*/test_*.sh print the same lines.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
export CHORUS_BUILD="$top/$B"
log="$B/test-log.txt"
: > "$log"
for t in "$B"/tests/unit/test_* "$B"/tests/fuzz/*-replay "$B"/tests/integration/test_* \
	 tests/integration/test_*.sh tests/netns/test_*.sh; do
	[ -e "$t" ] || continue
	case "$t" in *.d|*.o) continue ;; esac
	case "$t" in
	*-replay) set -- "$t" tests/fuzz/corpus/"$(basename "$t" -replay)" ;;
	*.sh) set -- sh "$t" ;;
	*) set -- "$t" ;;
	esac
	# A whole program may take at most 10 minutes.
	out="$B/test-out.txt"
	timeout -k 5 600 "$@" >"$out" 2>>"$log"
	rc=$?
	cat "$out" >> "$log"
	grep -E '^(FAIL|SKIP)' "$out"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
		echo "FAIL $(basename "$t"): exited with status $rc" | tee -a "$log"
	fi
done
pass=$(grep -c '^PASS ' "$log")
fail=$(grep -c '^FAIL ' "$log")
skip=$(grep -c '^SKIP ' "$log")
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
