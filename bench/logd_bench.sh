#!/bin/sh
# bench/logd_bench.sh BUILD_DIR - chorus-logd figures (never assertions):
# sustained lines/s and MB/s that chorus-logd writes and acknowledges with
# Fsync = 100ms, fed through chorusd by bench/logd_feed (LOGD_BENCH_STREAMS
# chorus-log streams, default 8, of LOGD_BENCH_LINES lines each, default
# 250000, ~230-byte combined lines), next to `dd` sequential write
# throughput (1 MiB blocks, fdatasync at the end) to the same directory in
# the same run, and the ratio of the two MB/s. LOGD_BENCH_DIR picks the
# directory (default: a new one under /tmp).
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B="$top/$B"
S=${LOGD_BENCH_STREAMS:-8}
N=${LOGD_BENCH_LINES:-250000}
run=$(mktemp -d "${LOGD_BENCH_DIR:-/tmp}/chorus-logdbench-XXXXXX")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$run"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'Spread_Segment 127.0.0.255:%s {\n\tlocalhost 127.0.0.1\n}\nUnixSocketDir = "%s"\n' \
	"$port" "$run" > "$run/spread.conf"
"$B/chorusd" -c "$run/spread.conf" -n localhost 2>"$run/chorusd.log" &
pids="$pids $!"
i=0
until [ -S "$run/$port" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done

cat > "$run/logd.conf" <<CONF
WriterId = bench
StateDir = $run/state
Fsync = 100ms
StatusInterval = 0
Spread {
	Port = $port@127.0.0.1
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

out=$("$B/bench/logd_feed" "$port@127.0.0.1" bench "$S" "$N" 8192 300) || {
	echo "logd_bench: the feeder failed: $out"; cat "$run/logd.err"; exit 1; }
lines=$(echo "$out" | awk '{ print $2 }')
bytes=$(echo "$out" | awk '{ print $4 }')
secs=$(echo "$out" | awk '{ print $6 }')
written=$(cat "$run"/logs/bench/*.log | wc -c)
kill -USR1 $logd
sleep 0.3
echo "logd_bench: $lines lines in $S streams, $((bytes / lines)) bytes each, Fsync = 100ms"
awk -v l="$lines" -v b="$bytes" -v s="$secs" 'BEGIN {
	printf "logd_bench: chorus-logd: %.0f lines/s, %.1f MB/s written and acknowledged\n", l / s, b / s / 1e6 }'
[ "$written" = "$bytes" ] || echo "logd_bench: WARNING: $written bytes on disk, $bytes sent"
grep -h "fsync latency" "$run/logd.err" | sed 's/^chorus-logd: /logd_bench: /'
rm -rf "$run/logs" "$run/state"

# dd to the same directory, the same amount, with one fdatasync at the end.
mb=$(( (bytes + 1048575) / 1048576 ))
ddout=$(dd if=/dev/zero of="$run/dd.out" bs=1M count=$mb conv=fdatasync 2>&1 | tail -1)
ddsecs=$(echo "$ddout" | sed -n 's/.*copied, \([0-9.]*\) s.*/\1/p')
rm -f "$run/dd.out"
awk -v b="$bytes" -v s="$secs" -v m="$mb" -v d="$ddsecs" 'BEGIN {
	dd = m * 1048576 / d / 1e6; me = b / s / 1e6;
	printf "logd_bench: dd bs=1M conv=fdatasync to the same directory: %.1f MB/s\n", dd;
	printf "logd_bench: chorus-logd / dd = %.2f (target >= 0.90)\n", me / dd }'
