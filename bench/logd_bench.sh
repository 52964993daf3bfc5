#!/bin/sh
# bench/logd_bench.sh BUILD_DIR - chorus-logd figures (never assertions):
# sustained lines/s and MB/s that chorus-logd writes and acknowledges with
# Fsync = 100ms, fed through chorusd by bench/logd_feed (LOGD_BENCH_STREAMS
# chorus-log streams, default 8, of LOGD_BENCH_LINES lines each, default
# 500000, ~170-byte combined lines), next to `dd` sequential write
# throughput of as many bytes (1 MiB blocks, fdatasync at the end) to the
# same directory in the same run, and the ratio of the two MB/s. A
# virtual disk's speed varies from run to run, so LOGD_BENCH_ROUNDS
# (default 5) rounds run both, taking turns at going first; the figure
# is the median of the rounds' ratios (and the medians of each MB/s).
# LOGD_BENCH_DIR picks the directory (default: a new one under /tmp).
# LOGD_BENCH_WINDOW_KB (default 6144), LOGD_BENCH_FSYNC (default 100ms)
# and LOGD_BENCH_COMMIT (the writer's CommitSize, default its own: 2M)
# change the window of a stream and the writer's commit rule. The writer
# acknowledges only at a commit; with CommitSize = 0 it commits only
# every Fsync interval, so the figure is at most STREAMS * WINDOW per
# cycle (~48 MiB / ~0.11 s = ~450 MB/s); with CommitSize it commits as
# soon as a stream has that much waiting or the input pauses.
# Each stream keeps at most 6 MiB unacknowledged (chorus-log keeps 32
# batches, 4 MiB), and all of them together must stay below chorusd's
# 64 MiB output queue of the writer's session, or the daemon drops the
# writer. The feeder and the writer use chorusd's Unix socket
# (LOGD_BENCH_TCP=1: TCP on loopback, which costs more CPU).
# With a fast disk dd is bound by the CPU copying into the page cache;
# chorus-logd does that copy too, after three more copies through the
# sockets and chorusd, on the same cores.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B="$top/$B"
S=${LOGD_BENCH_STREAMS:-8}
N=${LOGD_BENCH_LINES:-500000}
R=${LOGD_BENCH_ROUNDS:-5}
W=${LOGD_BENCH_WINDOW_KB:-6144}
F=${LOGD_BENCH_FSYNC:-100ms}
C=${LOGD_BENCH_COMMIT:+CommitSize = $LOGD_BENCH_COMMIT}
run=$(mktemp -d "${LOGD_BENCH_DIR:-/tmp}/chorus-logdbench-XXXXXX")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$run"' EXIT
. "$top/bench/lib.sh"
bench_start_chorusd
# The feeder and the writer reach chorusd by its Unix socket, as programs
# on the daemon's host do (LOGD_BENCH_TCP=1: by TCP on loopback).
if [ -n "$LOGD_BENCH_TCP" ]; then addr=$port@127.0.0.1; else addr=$run/$port; fi

cat > "$run/logd.conf" <<CONF
WriterId = bench
StateDir = $run/state
Fsync = $F
$C
StatusInterval = 0
Spread {
	Port = $addr
	Log {
		Group = bench
		File = $run/logs/%g/%n.log
	}
}
CONF
"$B/chorus-logd" -c "$run/logd.conf" 2>"$run/logd.err" &
pids="$pids $!"
logd=$!
i=0
until grep -q "joined bench" "$run/logd.err" 2>/dev/null || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done

: > "$run/logd.mbs"
: > "$run/dd.mbs"
: > "$run/ratio"
started=1
# One round of each; the writer is started anew for the next.
# What a round wrote is deleted only after both of its runs, so that
# whichever goes first follows the same clean-up (deleting files frees
# and, with the discard mount option, trims their blocks in the
# background; 8 interleaved files cost more there than dd's one file),
# and the second follows the other's run; the order alternates.
settle() { sync; sleep 2; }
run_logd() {
	out=$("$B/bench/logd_feed" "$addr" bench "$S" "$N" "$W" 300) || {
		echo "logd_bench: the feeder failed: $out"; cat "$run/logd.err"; exit 1; }
	lines=$(echo "$out" | awk '{ print $2 }')
	bytes=$(echo "$out" | awk '{ print $4 }')
	secs=$(echo "$out" | awk '{ print $6 }')
	written=$(cat "$run"/logs/bench/*.log | wc -c)
	[ "$written" = "$bytes" ] || echo "logd_bench: WARNING: $written bytes on disk, $bytes sent"
	awk -v l="$lines" -v b="$bytes" -v s="$secs" -v r="$r" 'BEGIN {
		printf "logd_bench: round %d: chorus-logd %.0f lines/s, %.1f MB/s written and acknowledged\n", r, l / s, b / s / 1e6 }'
	lmb=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.3f\n", b / s / 1e6 }')
	echo "$lmb" >> "$run/logd.mbs"
	kill -USR1 $logd
	sleep 0.3
}
# The writer keeps its state; the next round's streams start anew.
clean_up() {
	kill $logd; wait $logd 2>/dev/null
	rm -rf "$run/logs" "$run/state" "$run/dd.out"
	"$B/chorus-logd" -c "$run/logd.conf" 2>>"$run/logd.err" &
	logd=$!
	pids="$pids $logd"
	started=$((started + 1))
	i=0
	until [ "$(grep -c "joined bench" "$run/logd.err")" -ge "$started" ] || [ $i -gt 200 ]; do
		sleep 0.05; i=$((i + 1)); done
	settle
}
# dd writes as many bytes as a round of the writer (the first round's
# size before the first writer round: the same each round).
mb=$(( (S * N * 167 + 1048575) / 1048576 ))
run_dd() {
	[ -n "$bytes" ] && mb=$(( (bytes + 1048575) / 1048576 ))
	ddout=$(dd if=/dev/zero of="$run/dd.out" bs=1M count=$mb conv=fdatasync 2>&1 | tail -1)
	ddsecs=$(echo "$ddout" | sed -n 's/.*copied, \([0-9.]*\) s.*/\1/p')
	awk -v m="$mb" -v d="$ddsecs" -v r="$r" 'BEGIN {
		printf "logd_bench: round %d: dd bs=1M conv=fdatasync, same directory: %.1f MB/s\n", r, m * 1048576 / d / 1e6 }'
	dmb=$(awk -v m="$mb" -v d="$ddsecs" 'BEGIN { printf "%.3f\n", m * 1048576 / d / 1e6 }')
	echo "$dmb" >> "$run/dd.mbs"
}
bytes=""
r=0
settle
while [ $r -lt "$R" ]; do
	r=$((r + 1))
	# The disk's speed drifts: the two take turns going first, and each
	# round's ratio compares neighbours in time.
	if [ $((r % 2)) -eq 1 ]; then run_logd; run_dd; else run_dd; run_logd; fi
	clean_up
	echo "$lmb $dmb" | awk '{ printf "%.4f\n", $1 / $2 }' >> "$run/ratio"
done
echo "logd_bench: $lines lines a round in $S streams, $((bytes / lines)) bytes each, window $W KiB a stream, Fsync = $F${C:+, $C}, daemon at ${LOGD_BENCH_TCP:+TCP }$addr"
grep -h "fsync latency" "$run/logd.err" | tail -1 | sed 's/^chorus-logd: /logd_bench: last round /'
grep -h "write thread" "$run/logd.err" | tail -1 | sed 's/^chorus-logd: /logd_bench: last round /'
med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
lm=$(med "$run/logd.mbs")
dm=$(med "$run/dd.mbs")
rm=$(med "$run/ratio")
awk -v a="$lm" -v b="$dm" -v q="$rm" -v r="$R" 'BEGIN {
	printf "logd_bench: medians of %d rounds: chorus-logd %.1f MB/s, dd %.1f MB/s; chorus-logd / dd per round: median %.2f (target >= 0.90)\n", r, a, b, q }'
printf "logd_bench: per-round ratios:"; sort -n "$run/ratio" | awk '{ printf " %.2f", $1 } END { print "" }'
