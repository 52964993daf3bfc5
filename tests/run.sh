#!/bin/sh
# tests/run.sh BUILD_DIR... - runs every test program of each build and
# prints the totals. Each program prints PASS/FAIL/SKIP lines (tests/t.h);
# shell tests tests/*/test_*.sh print the same lines.
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
[ $# -eq 0 ] && set -- build
log="$top/test-log.txt"
: > "$log"
for B in "$@"; do
	export CHORUS_BUILD="$top/$B"
	echo "== $B"
	for t in "$B"/tests/unit/test_* "$B"/tests/fuzz/*-replay "$B"/tests/integration/test_* \
		 tests/integration/test_*.sh tests/netns/test_*.sh; do
		[ -e "$t" ] || continue
		case "$t" in *.d|*.o) continue ;; esac
		case "$t" in
		*-replay) set -- "$t" tests/fuzz/corpus/"$(basename "$t" -replay)" ;;
		*.sh) set -- sh "$t" ;;
		*) set -- "$t" ;;
		esac
		out="$B/test-out.txt"
		# A whole program may take at most 10 minutes.
		timeout -k 5 600 "$@" >"$out" 2>>"$log"
		rc=$?
		sed "s/^\(PASS\|FAIL\|SKIP\) /\1 [$B] /" "$out" >> "$log"
		grep -E '^(FAIL|SKIP)' "$out" | sed "s/^/[$B] /"
		if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
			echo "FAIL [$B] $(basename "$t"): exited with status $rc" | tee -a "$log"
		fi
	done
done
pass=$(grep -c '^PASS ' "$log")
fail=$(grep -c '^FAIL ' "$log")
skip=$(grep -c '^SKIP ' "$log")
echo "test log: $log"
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
