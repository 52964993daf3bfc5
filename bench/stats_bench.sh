#!/bin/sh
# bench/stats_bench.sh BUILD_DIR - chorus-stats against GoAccess on the
# same generated log, in the same run (figures, never assertions):
# a seeded 2-million-line mirror-like combined log (bench/stats_gen),
# lines/s and peak RSS of each (GNU time), and the ratios.
# STATS_BENCH_LINES (default 2000000); GoAccess is Debian's goaccess.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
N=${STATS_BENCH_LINES:-2000000}
run=$(mktemp -d /tmp/chorus-statsbench-XXXXXX)
trap 'rm -rf "$run"' EXIT
[ -x /usr/bin/time ] || { echo "stats_bench: needs /usr/bin/time (Debian package time)"; exit 0; }
# The generator is built with the benchmarks, not by plain make.
if [ ! -x "$B/bench/stats_gen" ]; then
	make -s B="$B" "$B/bench/stats_gen" > /dev/null ||
		{ echo "stats_bench: cannot build $B/bench/stats_gen (run make bench)"; exit 1; }
fi
"$B/bench/stats_gen" -n "$N" -s 42 > "$run/access.log" || exit 1
echo "stats_bench: $N lines, $(($(wc -c < "$run/access.log") / 1000000)) MB"
measure() { # name, command...: prints "seconds kbytes"
	name=$1; shift
	/usr/bin/time -f '%e %M' -o "$run/$name.time" "$@" > /dev/null 2> "$run/$name.err" ||
		{ echo "stats_bench: $name failed: $(tail -3 "$run/$name.err")"; return 1; }
	cat "$run/$name.time"
}
cs=$(measure chorus-stats "$B/chorus-stats" -q --now 2027-01-01 --json "$run/report.json" "$run/access.log") || exit 1
set -- $cs; cs_s=$1; cs_kb=$2
echo "chorus-stats: $cs_s s, $(awk -v n="$N" -v s="$cs_s" 'BEGIN{printf "%.0f", n/s}') lines/s, peak RSS $((cs_kb / 1024)) MB"
if command -v goaccess > /dev/null; then
	ga=$(measure goaccess goaccess --log-format=COMBINED -o "$run/report.html" "$run/access.log") || exit 0
	set -- $ga; ga_s=$1; ga_kb=$2
	echo "goaccess:     $ga_s s, $(awk -v n="$N" -v s="$ga_s" 'BEGIN{printf "%.0f", n/s}') lines/s, peak RSS $((ga_kb / 1024)) MB"
	awk -v a="$cs_s" -v b="$ga_s" -v m="$cs_kb" -v g="$ga_kb" 'BEGIN {
		printf "ratio: chorus-stats %.1fx the lines/s of goaccess (target 20x), %.2f of its peak memory (target 0.25)\n", b / a, m / g }'
else
	echo "goaccess: not installed (apt-get install goaccess); no comparison"
fi
