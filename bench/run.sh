#!/bin/sh
# bench/run.sh BUILD_DIR - throughput of chorus-flood through chorusd, one
# sender and one receiver, at 100, 1000 and 10000 bytes, over TCP and the
# Unix socket, next to the raw loopback TCP ceiling measured in the same
# run (one send() per message, as libchorus does). Figures only; nothing
# here is a pass/fail test.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B="$top/$B"
M=${BENCH_MESSAGES:-300000}
run=$(mktemp -d /tmp/chorus-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'Spread_Segment 127.0.0.255:%s {\n\tlocalhost 127.0.0.1\n}\nUnixSocketDir = "%s"\n' \
	"$port" "$run" > "$run/spread.conf"
"$B/chorusd" -c "$run/spread.conf" -n localhost 2>"$run/chorusd.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$run"' EXIT
i=0
until [ -S "$run/$port" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done

# Prints the receiver's msg/s of one flood run.
flood() { # address bytes send-buffer
	"$B/chorus-flood" -ro -s "$1" -u rcv -m "$M" -b "$2" -T 120 > "$run/r.out" 2>&1 &
	r=$!
	"$B/chorus-flood" -wo -r 1 -s "$1" -u snd -m "$M" -b "$2" -B "$3" -T 120 > "$run/s.out" 2>&1
	wait $r
	sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' "$run/r.out"
}
rate() { sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p'; }

echo "chorus-flood through chorusd, 1 sender + 1 receiver, $M messages each (msg/s)"
echo "  one-send: every message its own send() (-B 0), as a Spread client sends"
echo "  coalesced: chorus-flood's default, 64 KiB send coalescing (chorus_set_send_buffer)"
printf '%-6s %9s %9s | %9s %9s %9s %9s | %6s %6s\n' bytes tcp-raw relay \
	tcp-one unix-one tcp-coal unix-coal one/raw coal/raw
for b in 100 1000 10000; do
	raw=$("$B/bench/tcp_baseline" -b "$b" -m "$M" | rate)
	rel=$("$B/bench/tcp_baseline" -r -b "$b" -m "$M" | rate)
	t1=$(flood "$port@127.0.0.1" "$b" 0)
	u1=$(flood "$run/$port" "$b" 0)
	tc=$(flood "$port@127.0.0.1" "$b" 65536)
	uc=$(flood "$run/$port" "$b" 65536)
	printf '%-6s %9s %9s | %9s %9s %9s %9s | %6s %6s\n' "$b" "$raw" "$rel" \
		"$t1" "$u1" "$tc" "$uc" \
		"$(awk "BEGIN{printf \"%.2f\", $t1/$raw}")" "$(awk "BEGIN{printf \"%.2f\", $tc/$raw}")"
done
echo "raw = one process sending to another over loopback TCP, one send() per message;"
echo "relay = the same through a process that forwards the bytes; ratios are TCP against raw"
