#!/bin/sh
# bench/netns_throughput.sh [BUILD_DIR] - three chorusd daemons in network
# namespaces (tests/netns/lib.sh), one sender on d1 and one receiver on d2:
# AGREED messages of 1350 bytes, as fast as a window of 800 allows and then
# paced at 1000 msg/s, with throughput and latency percentiles; next to the
# raw UDP goodput from d1 to d2 over the same veth path and bridge, measured
# in the same run (best of four short blasts, before and after the daemons
# run), plain and with UDP segmentation offload. Once with the classic ring,
# once with the accelerated ring. Under each ring's line, what explains
# the saturated figure (bench/netns_ring_stats.py): token rotations per
# second, ring messages per rotation, ring messages and datagrams (all
# daemons, tokens included) per client message, retransmissions, and the
# CPU each daemon and client used, as a share of one core. All daemons,
# clients and the kernel's veth and bridge work share the machine's cores
# (two on the project's test machine, shared with other work): when the
# shares add up to what the machine has, the path is CPU-bound there.
# Figures only: nothing here is a pass/fail test.
#
# Environment: BENCH_MESSAGES (default 100000), BENCH_BYTES (1350),
# BENCH_WINDOW (800: messages the sender keeps unacknowledged; the
# receiver acknowledges every quarter window through the ring, so the
# window covers about three and a half token rotations: at 400 the sender's
# daemon had about 100 messages waiting at each token visit where the ring
# allows 160, at 800 about 145; at most 900, under the daemon's 1000
# queued messages per session),
# CLASSIC_CONF and ACCEL_CONF (the spread.conf line that selects each ring,
# default "AcceleratedRing = no" / "AcceleratedRing = yes"; several lines
# separated by '|'), BENCH_RINGS (the rings to run: "classic accelerated"),
# BENCH_ROUNDS (3: saturated floods per ring; the best is reported, as the
# raw figure is the best of its blasts, and each round's MB/s is listed:
# on a shared machine single runs vary by half).
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
case "$B" in /*) ;; *) B="$top/$B" ;; esac
CHORUS_BUILD=$B
NSH_TOP=$top
. "$top/tests/netns/lib.sh"
M=${BENCH_MESSAGES:-100000}
BYTES=${BENCH_BYTES:-1350}
WIN=${BENCH_WINDOW:-800}
CLASSIC_CONF=${CLASSIC_CONF:-AcceleratedRing = no}
ACCEL_CONF=${ACCEL_CONF:-AcceleratedRing = yes}
RINGS=${BENCH_RINGS:-classic accelerated}
ROUNDS=${BENCH_ROUNDS:-3}
LAT=$B/bench/netns_lat
UDP=$B/bench/netns_udp
HZ=$(getconf CLK_TCK)

if ! why=$(nsh_usable); then
	echo "netns_throughput: skipped: $why"
	exit 0
fi
if [ ! -x "$LAT" ] || [ ! -x "$UDP" ]; then
	echo "netns_throughput: skipped: $LAT or $UDP not built (make bench)"
	exit 0
fi

field() { # NAME: the number after NAME in the line on stdin
	sed -n "s/.* $1 \([0-9.]*\).*/\1/p"
}

# raw [-g]: MB/s of UDP from d1 to d2, the best of two 1.5 s blasts of
# BYTES-byte datagrams (the sink loses what it cannot take, so a busy
# machine lowers single runs; the bench calls it before the daemons start
# and again after they stop, and keeps the best of both). -g: the blasts
# use UDP segmentation offload, as chorusd does for its runs.
raw_udp() {
	for k in 1 2; do
		nsh_in d2 "$UDP" sink -a "$NSH_NET.2" -p 5999 -t 10 > "$NSH_RUN/sink.out" 2>&1 &
		sp=$!
		i=0
		until grep -q ready "$NSH_RUN/sink.out" 2>/dev/null || [ $i -gt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		nsh_in d1 "$UDP" blast -a "$NSH_NET.2" -p 5999 -b "$BYTES" -t 1.5 "$@" \
			> "$NSH_RUN/blast.out" 2>&1
		wait $sp
		sed -n 's/.* \([0-9.]*\) MB\/s$/\1/p' "$NSH_RUN/sink.out"
	done | sort -n | tail -1
}

# best A B: the larger of two figures (either may be empty).
best() {
	printf '%s\n%s\n' "$1" "$2" | grep . | sort -n | tail -1
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# snapshot FILE: every daemon's ring counters (chorus-monitor JSON).
snapshot() {
	nsh_in d1 "$B/chorus-monitor" -c "$NSH_RUN/spread.conf" -j -w 0 -t 500 \
		> "$1" 2>/dev/null
}

# flood COUNT OPTIONS...: runs one receiver on d2 and one sender of COUNT
# messages on d1 (netns_lat send options); prints the
# receiver's line, then (in $NSH_RUN/explain.out) the ring's counters and
# the CPU use of every process over the flood.
flood() {
	local n=$1 i t0 t1 c0 c1 secs cpus
	shift
	snapshot "$NSH_RUN/before.json"
	c0=
	for i in 1 2 3; do
		c0="$c0 $(cpu_ticks "$(nsh_daemon_pid "$i")")"
	done
	t0=$(nsh_now_us)
	nsh_in d2 "$LAT" recv -s "$NSH_PORT@$NSH_NET.2" -g lat -T 120 > "$NSH_RUN/recv.out" 2>&1 &
	rp=$!
	nsh_in d1 "$LAT" send -s "$NSH_PORT@$NSH_NET.1" -g lat -b "$BYTES" -T 120 -n "$n" "$@" \
		> "$NSH_RUN/send.out" 2>&1
	wait $rp
	t1=$(nsh_now_us)
	c1=
	for i in 1 2 3; do
		c1="$c1 $(cpu_ticks "$(nsh_daemon_pid "$i")")"
	done
	snapshot "$NSH_RUN/after.json"
	secs=$(awk "BEGIN { printf \"%.3f\", ($t1 - $t0) / 1e6 }")
	cpus=$(echo "$c0 $c1" | awk -v hz="$HZ" '{ for (i = 1; i <= 3; i++)
		printf "d%d=%.2f ", i, ($(i + 3) - $i) / hz }')
	python3 "$top/bench/netns_ring_stats.py" "$NSH_RUN/before.json" \
		"$NSH_RUN/after.json" "$n" \
		"$secs" $cpus "sender=$(field cpu < "$NSH_RUN/send.out")" \
		"receiver=$(field cpu < "$NSH_RUN/recv.out")" > "$NSH_RUN/explain.out"
	if grep -q '^lat recv:' "$NSH_RUN/recv.out"; then
		cat "$NSH_RUN/recv.out"
	else
		echo "failed: $(cat "$NSH_RUN/recv.out" "$NSH_RUN/send.out" | tr '\n' ' ')"
	fi
}

pct() { # PART WHOLE: PART as a percentage of WHOLE
	awk "BEGIN { if (\"$2\" + 0 > 0) printf \"%.0f%%\", 100 * ($1 + 0) / $2; else print \"?\" }"
}

one_mode() { # LABEL CONF-LINES
	label=$1
	NETNS_CONF=$2 nsh_init 3 || { echo "$label: could not create the namespaces"; return; }
	# The bridge as a plain switch: where the host loaded br_netfilter,
	# bridged frames would otherwise pass iptables in the bridge's
	# namespace (a per-packet cost a LAN switch does not have; raw UDP
	# and the ring pay it alike).
	for f in iptables ip6tables arptables; do
		nsh_in br sysctl -qw "net.bridge.bridge-nf-call-$f=0" 2>/dev/null
	done
	raw=$(raw_udp)
	gso=$(raw_udp -g)
	for i in 1 2 3; do
		nsh_start_daemon "$i"
	done
	nsh_in d1 "$B/chorus-monitor" -c "$NSH_RUN/spread.conf" -W 3 > /dev/null 2>&1
	# The best of ROUNDS saturated floods, as the raw figure is the best
	# of its blasts; every round's figure is printed.
	sat=
	best=0
	rounds=
	for k in $(seq 1 "$ROUNDS"); do
		one=$(flood "$M" -w "$WIN")
		case "$one" in
		failed*) sat=$one; rounds="$rounds failed"; break ;;
		esac
		m=$(echo "$one" | sed -n 's/.* \([0-9.]*\) MB\/s.*/\1/p')
		rounds="$rounds ${m:-?}"
		if awk "BEGIN { exit !(${m:-0} > $best) }"; then
			best=$m
			sat=$one
			cp "$NSH_RUN/explain.out" "$NSH_RUN/explain.sat"
		fi
	done
	paced=$(flood 3000 -w "$WIN" -r 1000)
	explain=$(cat "$NSH_RUN/explain.sat" 2>/dev/null)
	for i in 1 2 3; do
		nsh_term_daemon "$i"
	done
	raw=$(best "$raw" "$(raw_udp)")
	gso=$(best "$gso" "$(raw_udp -g)")
	nsh_cleanup
	case "$sat" in failed*) echo "$label: flood $sat"; return ;; esac
	mbs=$(echo "$sat" | sed -n 's/.* \([0-9.]*\) MB\/s.*/\1/p')
	msgs=$(echo "$sat" | sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p')
	printf '%-12s %7s %7s %7s %7s %7s %7s | %6s %6s %6s | %6s %6s %6s\n' "$label" \
		"${raw:-?}" "${gso:-?}" "$mbs" "$msgs" "$(pct "$mbs" "$raw")" "$(pct "$mbs" "$gso")" \
		"$(echo "$sat" | field p50)" "$(echo "$sat" | field p99)" "$(echo "$sat" | field max)" \
		"$(echo "$paced" | field p50)" "$(echo "$paced" | field p99)" "$(echo "$paced" | field max)"
	echo "  rounds: MB/s$rounds (the best above)"
	echo "$explain"
	case "$paced" in failed*) echo "  paced run $paced" ;; esac
}

echo "3 daemons in network namespaces, 1 sender on d1, 1 receiver on d2, $BYTES-byte AGREED messages"
echo "raw = UDP goodput d1 -> d2 over the same veth path (MB/s), $BYTES-byte datagrams, sendmmsg and"
echo "recvmmsg; gso = the same with UDP segmentation offload on the sender (best of 4 blasts each,"
echo "before and after the daemons run); saturated: $M messages, window $WIN, best of $ROUNDS;"
echo "paced: 3000 messages at 1000 msg/s; latency in microseconds, sender to receiver"
printf '%-12s %7s %7s %7s %7s %7s %7s | %20s | %20s\n' "" "raw" "raw" "chorus" "" "of" "of" \
	"saturated latency" "paced latency"
printf '%-12s %7s %7s %7s %7s %7s %7s | %6s %6s %6s | %6s %6s %6s\n' ring "MB/s" "gso" "MB/s" \
	"msg/s" "raw" "gso" p50 p99 max p50 p99 max
for ring in $RINGS; do
	case $ring in
	classic) one_mode classic "$CLASSIC_CONF" ;;
	accelerated) one_mode accelerated "$ACCEL_CONF" ;;
	*) echo "netns_throughput: BENCH_RINGS: no ring named $ring (classic, accelerated)" ;;
	esac
done
