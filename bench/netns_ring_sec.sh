#!/bin/sh
# bench/netns_ring_sec.sh [BUILD_DIR] - what sealing ring datagrams costs:
# three chorusd daemons in network namespaces (tests/netns/lib.sh), one
# sender on d1 and one receiver on d2, AGREED messages as fast as a window
# allows (bench/netns_lat), with the ring's datagrams in clear, then
# authenticated (RingKeyFile), then encrypted with AES-256-GCM and with
# ChaCha20-Poly1305 (RingEncryption). Each round runs every mode once, the
# order turned by one mode a round so that no mode always runs first or
# last; each sealed mode's throughput is taken as a share of the clear run
# of the same round, and the figure per mode is the median of those
# per-round shares (the machine is shared and noisy: one lucky or unlucky
# clear run would otherwise move every share). The best run per mode and
# every run are printed too, with the CPU the three daemons used per client
# message. Figures only; nothing here is a pass/fail test.
#
# Messages are 1300 bytes by default (BENCH_BYTES): sealing takes 44 bytes
# of every datagram, so a message that just fits the clear ring's payload
# (1400 bytes with its headers) takes two datagrams when sealed; 1300
# fits both, and the figures compare the cryptography, not the split.
# Environment: BENCH_MESSAGES (default 60000), BENCH_BYTES, BENCH_WINDOW
# (400), BENCH_ROUNDS (7), BENCH_MODES (a subset of "clear authenticated
# aes-256-gcm chacha20-poly1305"; clear is always run), BENCH_BASELINE (the
# path of another chorusd, e.g. an older build: every mode then also runs
# with it, as MODE@base, its shares taken against clear@base of the same
# round).
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
ROUNDS=${BENCH_ROUNDS:-7}
BASE=${BENCH_BASELINE:-}
LAT=$B/bench/netns_lat
HZ=$(getconf CLK_TCK)

if ! why=$(nsh_usable); then
	echo "netns_ring_sec: skipped: $why"
	exit 0
fi
if [ -n "$BASE" ] && [ ! -x "$BASE" ]; then
	echo "netns_ring_sec: BENCH_BASELINE=$BASE is not an executable" >&2
	exit 1
fi
if [ ! -x "$LAT" ]; then
	echo "netns_ring_sec: skipped: $LAT not built (make bench)"
	exit 0
fi

KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

# run MODE-LINES CHORUSD: one saturated flood; prints
# "MB/s msg/s cpu_us_per_msg".
run() {
	local i c0=0 c1=0 p
	CHORUSD=$2
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
MODES="clear"
for l in ${BENCH_MODES:-authenticated aes-256-gcm chacha20-poly1305}; do
	case $l in
	clear) ;;
	authenticated|aes-256-gcm|chacha20-poly1305) MODES="$MODES $l" ;;
	*) echo "netns_ring_sec: unknown mode $l" >&2; exit 1 ;;
	esac
done
LABELS=$MODES
if [ -n "$BASE" ]; then
	for l in $MODES; do
		LABELS="$LABELS $l@base"
	done
fi
conf_of() {
	case ${1%@base} in
	clear) echo "AcceleratedRing = yes" ;;
	authenticated) echo "AcceleratedRing = yes|$KEYLINE" ;;
	*) echo "AcceleratedRing = yes|$KEYLINE|RingEncryption = ${1%@base}" ;;
	esac
}
bin_of() {
	case $1 in
	*@base) echo "$BASE" ;;
	*) echo "$B/chorusd" ;;
	esac
}
# rotate K WORDS...: the words from the K-th (counting from 0) on, then
# the ones before it.
rotate() {
	local k=$1
	shift
	echo "$@" | awk -v k="$k" '{ n = NF; for (i = 0; i < n; i++)
		printf "%s%s", $((i + k) % n + 1), i + 1 < n ? " " : "\n" }'
}

echo "3 daemons in network namespaces (accelerated ring), 1 sender on d1, 1 receiver on d2,"
echo "$M AGREED messages of $BYTES bytes, window $WIN; $ROUNDS rounds, each mode once a round"
[ -n "$BASE" ] && echo "MODE@base: the same with $BASE"
res=$(mktemp /tmp/chorus-ringsec-XXXXXX)
n_labels=$(echo "$LABELS" | wc -w)
for r in $(seq 1 "$ROUNDS"); do
	for l in $(rotate $(((r - 1) % n_labels)) $LABELS); do
		echo "$r $l $(run "$(conf_of "$l")" "$(bin_of "$l")")" >> "$res"
	done
done
printf '%-24s %9s %9s %9s %9s %9s\n' "ring datagrams" "median" "best" "best" \
	"best" "median"
printf '%-24s %9s %9s %9s %9s %9s\n' "" "of clear" "MB/s" "msg/s" \
	"of clear" "cpu us/msg"
# Fields: round mode MB/s msg/s cpu. A mode's share in a round is against
# the clear run of that round and binary; the median of a mode's shares
# and CPU figures is the middle one (the mean of the two middle ones).
awk -v labels="$LABELS" '
	function ref(l) { return l ~ /@base$/ ? "clear@base" : "clear" }
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ mbs[$1, $2] = $3 + 0; cpu[$1, $2] = $5 + 0; rounds[$1] = 1
	  if (!($2 in best) || $3 + 0 > best[$2]) { best[$2] = $3 + 0; msgs[$2] = $4 } }
	END {
		nl = split(labels, name, " ")
		for (i = 1; i <= nl; i++) {
			l = name[i]; ns = 0; nc = 0
			delete sh; delete cp
			for (r in rounds) {
				if ((r, l) in cpu && cpu[r, l] > 0)
					cp[++nc] = cpu[r, l]
				if ((r, l) in mbs && mbs[r, ref(l)] > 0)
					sh[++ns] = mbs[r, l] / mbs[r, ref(l)]
			}
			med = ns ? sprintf("%.0f%%", 100 * median(sh, ns)) : "?"
			bs = best[ref(l)] > 0 ? sprintf("%.0f%%", 100 * best[l] / best[ref(l)]) : "?"
			mc = nc ? sprintf("%.1f", median(cp, nc)) : "?"
			printf "%-24s %9s %9.1f %9s %9s %9s\n", l, med, best[l], msgs[l], bs, mc
		}
	}' "$res"
echo "every run (round mode MB/s msg/s cpu-us/msg), in the order run:"
sed 's/^/  /' "$res"
rm -f "$res"
