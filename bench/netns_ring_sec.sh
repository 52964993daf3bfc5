#!/bin/sh
# bench/netns_ring_sec.sh [BUILD_DIR] - what sealing ring datagrams costs:
# three chorusd daemons in network namespaces (tests/netns/lib.sh), one
# sender on d1 and one receiver on d2, AGREED messages as fast as a window
# allows (bench/netns_lat), with the ring's datagrams in clear, then
# authenticated (RingKeyFile), then encrypted with AES-256-GCM and with
# ChaCha20-Poly1305 (RingEncryption), each mode twice in turn in the same
# run (the best of the two counts: the machine is shared and noisy), and
# each sealed mode's throughput as a share of the clear one. Under each
# mode, the CPU the three daemons used per client message. Figures only;
# nothing here is a pass/fail test.
#
# Messages are 1300 bytes by default (BENCH_BYTES): sealing takes 44 bytes
# of every datagram, so a message that just fits the clear ring's payload
# (1400 bytes with its headers) takes two datagrams when sealed; 1300
# fits both, and the figures compare the cryptography, not the split.
# Environment: BENCH_MESSAGES (default 60000), BENCH_BYTES, BENCH_WINDOW
# (400), BENCH_ROUNDS (2).
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
case "$B" in /*) ;; *) B="$top/$B" ;; esac
CHORUS_BUILD=$B
NSH_TOP=$top
. "$top/tests/netns/lib.sh"
M=${BENCH_MESSAGES:-60000}
BYTES=${BENCH_BYTES:-1300}
WIN=${BENCH_WINDOW:-400}
ROUNDS=${BENCH_ROUNDS:-2}
LAT=$B/bench/netns_lat
HZ=$(getconf CLK_TCK)

if ! why=$(nsh_usable); then
	echo "netns_ring_sec: skipped: $why"
	exit 0
fi
if [ ! -x "$LAT" ]; then
	echo "netns_ring_sec: skipped: $LAT not built (make bench)"
	exit 0
fi

KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

# run MODE-LINES: one saturated flood; prints "MB/s msg/s cpu_us_per_msg".
run() {
	local i c0=0 c1=0 p
	NETNS_CONF=$1 nsh_init 3 || { echo "0 0 0"; return; }
	sed -i "s|@RUN@|$NSH_RUN|" "$NSH_RUN/spread.conf"
	for f in iptables ip6tables arptables; do
		nsh_in br sysctl -qw "net.bridge.bridge-nf-call-$f=0" 2>/dev/null
	done
	for i in 1 2 3; do
		(umask 077 && echo "1 $KEY" > "$NSH_RUN/d$i.keys")
		nsh_start_daemon "$i"
	done
	nsh_in d1 "$B/chorus-monitor" -c "$NSH_RUN/spread.conf" -W 3 > /dev/null 2>&1
	for i in 1 2 3; do
		p=$(nsh_daemon_pid "$i")
		c0=$((c0 + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	nsh_in d2 "$LAT" recv -s "$NSH_PORT@$NSH_NET.2" -g lat -T 120 > "$NSH_RUN/recv.out" 2>&1 &
	rp=$!
	nsh_in d1 "$LAT" send -s "$NSH_PORT@$NSH_NET.1" -g lat -b "$BYTES" -T 120 -n "$M" \
		-w "$WIN" > "$NSH_RUN/send.out" 2>&1
	wait $rp
	for i in 1 2 3; do
		p=$(nsh_daemon_pid "$i")
		c1=$((c1 + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	sed -n 's/.* \([0-9.]*\) MB\/s.*/\1/p' "$NSH_RUN/recv.out" | head -1 | tr '\n' ' '
	sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' "$NSH_RUN/recv.out" | head -1 | tr '\n' ' '
	awk -v d=$((c1 - c0)) -v hz="$HZ" -v m="$M" 'BEGIN { printf "%.1f\n", d / hz / m * 1e6 }'
	grep -q '^lat recv:' "$NSH_RUN/recv.out" ||
		echo "failed: $(cat "$NSH_RUN/recv.out" "$NSH_RUN/send.out" | tr '\n' ' ')" >&2
	nsh_cleanup
}

KEYLINE="RingKeyFile = @RUN@/%h.keys"
LABELS="clear authenticated aes-256-gcm chacha20-poly1305"
conf_of() {
	case $1 in
	clear) echo "AcceleratedRing = yes" ;;
	authenticated) echo "AcceleratedRing = yes|$KEYLINE" ;;
	*) echo "AcceleratedRing = yes|$KEYLINE|RingEncryption = $1" ;;
	esac
}

echo "3 daemons in network namespaces (accelerated ring), 1 sender on d1, 1 receiver on d2,"
echo "$M AGREED messages of $BYTES bytes, window $WIN; best of $ROUNDS rounds per mode"
res=$(mktemp /tmp/chorus-ringsec-XXXXXX)
for r in $(seq 1 "$ROUNDS"); do
	for l in $LABELS; do
		echo "$l $(run "$(conf_of "$l")")" >> "$res"
	done
done
printf '%-20s %9s %9s %9s %16s\n' "ring datagrams" "MB/s" "msg/s" "of clear" "daemon cpu us/msg"
awk '
	{ if (!($1 in best) || $2 + 0 > best[$1]) { best[$1] = $2 + 0; msgs[$1] = $3; cpu[$1] = $4 }
	  if (!($1 in order)) { order[$1] = ++n; name[n] = $1 } }
	END {
		for (i = 1; i <= n; i++) {
			l = name[i]
			share = best["clear"] > 0 ? sprintf("%.0f%%", 100 * best[l] / best["clear"]) : "?"
			printf "%-20s %9.1f %9s %9s %16s\n", l, best[l], msgs[l], share, cpu[l]
		}
	}' "$res"
echo "all rounds (mode MB/s msg/s cpu-us/msg):"
sed 's/^/  /' "$res"
rm -f "$res"
