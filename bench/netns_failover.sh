#!/bin/sh
# bench/netns_failover.sh [BUILD_DIR] - failover and merge times of chorusd
# with the default LAN timeouts, three daemons in network namespaces
# (tests/netns/lib.sh), one logging client (evclient) on each:
#   kill     SIGKILL of d3 -> the regular membership without d3 at the
#            clients of d1 and d2; d3 restarted -> the merged membership
#   cut      d3's link cut -> the same; link restored -> merged membership
# Times are read from the clients' logs (evcheck.py --fault-time and
# --heal-time): the latest client of each side counts. Targets (issue 7):
# failover at most the token timeout plus one second, merge under 2 s.
# Figures only: nothing here is a pass/fail test.
#
# Environment: ROUNDS (default 3), HOLD (seconds a fault lasts, default 6),
# NETNS_CONF (extra spread.conf lines separated by '|').
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
case "$B" in /*) ;; *) B="$top/$B" ;; esac
CHORUS_BUILD=$B
NSH_TOP=$top
. "$top/tests/netns/lib.sh"
ROUNDS=${ROUNDS:-3}
HOLD=${HOLD:-6}
EVCHECK="python3 $top/tests/netns/evcheck.py"

if ! why=$(nsh_usable); then
	echo "netns_failover: skipped: $why"
	exit 0
fi
nsh_init 3 || { echo "netns_failover: could not create the namespaces"; exit 1; }
for i in 1 2 3; do
	nsh_start_daemon "$i"
done

# measure ROUND FAULT: prints "failover_ms merge_ms" or "fail: why".
measure() {
	local r=$1 f=$2 dir="$NSH_RUN/$1$2" g="f$1$2" i t_fault t_heal
	mkdir -p "$dir"
	NSH_CLIENT_LOGS=
	for i in 1 2 3; do
		nsh_start_client "$i" 1 "f$r" "$dir/d${i}c1.log" -g "$g" -r 20 -T 120 -W
	done
	if ! nsh_wait_merged "$g" 3 20 merged 2>"$dir/wait.txt"; then
		nsh_stop_clients 10
		echo "fail: the clients of the 3 daemons never shared a view"
		return
	fi
	sleep 1
	t_fault=$(nsh_now_us)
	if [ "$f" = kill ]; then nsh_kill_daemon 3; else nsh_cut 3; fi
	sleep "$HOLD"
	t_heal=$(nsh_now_us)
	if [ "$f" = kill ]; then nsh_start_daemon 3; else nsh_restore 3; fi
	nsh_wait_merged "$g" 3 30 merged 2>>"$dir/wait.txt"
	sleep 0.5
	nsh_stop_clients 20
	$EVCHECK --group "$g" --fault-time "$t_fault" --heal-time "$t_heal" \
		--split d3 $NSH_CLIENT_LOGS > "$dir/check.txt" 2>&1
	awk '/^TIME split/ { n++; if ($4 > s) s = $4 }
	     /^TIME merge/ { m_n++; if ($4 > m) m = $4 }
	     END {
		if (n < 2) { print "fail: no membership without d3 at the other clients"; exit }
		if (m_n < 3) { print "fail: no merged membership at every client"; exit }
		print s, m
	     }' "$dir/check.txt"
}

echo "failover and merge, 3 daemons, default LAN timeouts, d3 is the one hit;"
echo "times in ms at the clients (the latest client counts), $ROUNDS rounds, faults held ${HOLD}s"
printf '%-6s %14s %16s %14s %16s\n' round "kill->memb" "restart->merged" "cut->memb" "restore->merged"
r=1
while [ $r -le "$ROUNDS" ]; do
	k=$(measure "$r" kill)
	case "$k" in *"never shared"*)
		echo "netns_failover: skipped: chorusd does not form multi-daemon rings yet ($k)"
		exit 0 ;;
	esac
	c=$(measure "$r" cut)
	case "$k$c" in
	*fail*) echo "round $r: kill: $k; cut: $c" ;;
	*)
		echo "$r $k $c" >> "$NSH_RUN/times"
		# shellcheck disable=SC2086
		printf '%-6s %14s %16s %14s %16s\n' "$r" $k $c ;;
	esac
	r=$((r + 1))
done
[ -s "$NSH_RUN/times" ] && awk '
	{ for (i = 2; i <= 5; i++) { v[i, NR] = $i } n = NR }
	END {
		printf "%-6s", "median"
		for (i = 2; i <= 5; i++) {
			for (a = 1; a <= n; a++) x[a] = v[i, a]
			for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++)
				if (x[b] + 0 < x[a] + 0) { t = x[a]; x[a] = x[b]; x[b] = t }
			printf " %*s", i % 2 ? 16 : 14, x[int((n + 1) / 2)]
		}
		printf "\n"
	}' "$NSH_RUN/times"
echo "targets: failover <= token timeout + 1 s (2250 ms with the default 1250 ms); merge < 2000 ms"
