#!/bin/sh
# bench/ring_failover.sh BUILD_DIR [ROUNDS] - failover and merge times of
# three chorusd on loopback (127.0.0.1..3, the ring in unicast mode, the
# default LAN timeouts): SIGKILL of one daemon to the regular
# configuration of the other two at both of them, and the restart of the
# killed daemon to the configuration of three at all three. The times
# come from chorus-monitor -W, which polls every daemon's status every
# 10 ms and starts right after the kill (or the restart), so they are a
# poll and a process start late at most. Figures only; no pass/fail.
# (The network-namespace version, with link cuts, belongs to tests/netns.)
B=${1:-build}
R=${2:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B="$top/$B"
run=$(mktemp -d /tmp/chorus-failover-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=""
for i in 1 2 3; do
	mkdir -p "$run/d$i"
	{
		printf 'Spread_Segment 127.0.0.255:%s {\n' "$port"
		for k in 1 2 3; do
			printf '\td%s 127.0.0.%s { C 127.0.0.%s D 127.0.0.%s }\n' $k $k $k $k
		done
		printf '}\nRingTransport = unicast\nUnixSocketDir = "%s"\nRuntimeDir = "%s"\nEventPreciseTimeStamp\n' \
			"$run/d$i" "$run/d$i"
	} > "$run/d$i/spread.conf"
done
start() { # i
	"$B/chorusd" -c "$run/d$1/spread.conf" -n "d$1" >>"$run/d$1/log" 2>&1 &
	eval "pid$1=$!"
}
cleanup() {
	for i in 1 2 3; do
		eval "p=\$pid$i"
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -n "$KEEP" ] && echo "logs in $run" || rm -rf "$run"
}
trap cleanup EXIT
wait_together() { # members daemons...: prints the ms chorus-monitor -W took
	want=$1
	shift
	args=""
	for i in "$@"; do args="$args -s 127.0.0.$i:$port"; done
	"$B/chorus-monitor" -W "$want" -t 100 $args | sed -n 's/^together after \([0-9]*\) ms.*/\1/p;s/^not together.*/timeout/p'
}
for i in 1 2 3; do start $i; done
w=$(wait_together 3 1 2 3)
echo "three daemons on 127.0.0.1..3, port $port, unicast; ring of three after $w ms"
echo "default timeouts: token 1250 ms (failover target: token timeout + 1 s = 2250 ms)"
printf '%-6s %14s %14s\n' round "failover(ms)" "merge(ms)"
fails=""
merges=""
for r in $(seq 1 "$R"); do
	kill -9 "$pid3"
	wait "$pid3" 2>/dev/null
	pid3=""
	f=$(wait_together 2 1 2)
	start 3
	m=$(wait_together 3 1 2 3)
	printf '%-6s %14s %14s\n' "$r" "$f" "$m"
	fails="$fails $f"
	merges="$merges $m"
done
med() { echo "$@" | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
echo "median failover $(med $fails) ms, median merge $(med $merges) ms (merge counted from the restart, daemon start-up included)"
