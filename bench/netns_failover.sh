#!/bin/sh
# bench/netns_failover.sh [BUILD_DIR] - failover and merge times of chorusd
# with the default LAN timeouts, 3 and then 5 daemons in network namespaces
# (tests/netns/lib.sh), one logging client (evclient) on each; the last
# daemon, dN, is the one hit:
#   kill     SIGKILL of dN -> the regular membership without dN at the
#            clients of the others; dN restarted -> the merged membership
#   cut      dN's link cut -> the membership without dN at the clients of
#            the others, and the membership of dN alone at dN's client;
#            link restored -> the merged membership
# Times are read from the clients' logs (evcheck.py --fault-time and
# --heal-time): the latest client of each side counts. Targets (issue 7):
# failover at most the token timeout plus one second, merge under 2 s.
# Figures only: nothing here is a pass/fail test.
#
# Environment: DAEMONS (default "3 5"), ROUNDS (default 3), HOLD (seconds
# a fault lasts, default 6), NETNS_CONF (extra spread.conf lines separated
# by '|').
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
case "$B" in /*) ;; *) B="$top/$B" ;; esac
CHORUS_BUILD=$B
NSH_TOP=$top
. "$top/tests/netns/lib.sh"
DAEMONS=${DAEMONS:-3 5}
ROUNDS=${ROUNDS:-3}
HOLD=${HOLD:-6}
EVCHECK="python3 $top/tests/netns/evcheck.py"

if ! why=$(nsh_usable); then
	echo "netns_failover: skipped: $why"
	exit 0
fi

# measure N ROUND FAULT: kill prints "failover_ms merge_ms", cut prints
# "others_ms cut_off_ms merge_ms"; or "fail: why".
measure() {
	local n=$1 r=$2 f=$3 dir="$NSH_RUN/$2$3" g="f$2$3" i t_fault t_heal side=
	mkdir -p "$dir"
	NSH_CLIENT_LOGS=
	for i in $(seq 1 "$n"); do
		nsh_start_client "$i" 1 "f$r" "$dir/d${i}c1.log" -g "$g" -r 20 -T 120 -W
	done
	if ! nsh_wait_merged "$g" "$n" 20 merged 2>"$dir/wait.txt"; then
		nsh_stop_clients 10
		echo "fail: the clients of the $n daemons never shared a view"
		return
	fi
	sleep 1
	t_fault=$(nsh_now_us)
	if [ "$f" = kill ]; then nsh_kill_daemon "$n"; else nsh_cut "$n"; side=--split-side; fi
	sleep "$HOLD"
	t_heal=$(nsh_now_us)
	if [ "$f" = kill ]; then nsh_start_daemon "$n"; else nsh_restore "$n"; fi
	nsh_wait_merged "$g" "$n" 30 merged 2>>"$dir/wait.txt"
	sleep 0.5
	nsh_stop_clients 20
	# shellcheck disable=SC2086
	$EVCHECK --group "$g" --fault-time "$t_fault" --heal-time "$t_heal" \
		--split "d$n" $side $NSH_CLIENT_LOGS > "$dir/check.txt" 2>&1
	awk -v n="$n" -v f="$f" '
	/^TIME split/ {
		if ($3 ~ ("#d" n "$")) { c_n++; c = $4 }
		else { s_n++; if ($4 > s) s = $4 }
	}
	/^TIME merge/ { m_n++; if ($4 > m) m = $4 }
	END {
		if (s_n < n - 1) { print "fail: no membership without d" n " at every other client"; exit }
		if (f == "cut" && c_n < 1) { print "fail: no membership of d" n " alone at its client"; exit }
		if (m_n < n) { print "fail: no merged membership at every client"; exit }
		if (f == "cut") print s, c, m
		else print s, m
	}' "$dir/check.txt"
}

# run N: ROUNDS rounds on N daemons, a line each and the medians.
run() {
	local n=$1 r=1 i k c times
	nsh_init "$n" || { echo "netns_failover: could not create the namespaces"; exit 1; }
	for i in $(seq 1 "$n"); do
		nsh_start_daemon "$i"
	done
	times="$NSH_RUN/times"
	while [ $r -le "$ROUNDS" ]; do
		k=$(measure "$n" "$r" kill)
		case "$k" in *"never shared"*)
			echo "netns_failover: $n daemons: $k"
			nsh_cleanup
			return 1 ;;
		esac
		c=$(measure "$n" "$r" cut)
		case "$k$c" in
		*fail*) echo "$n daemons, round $r: kill: $k; cut: $c" ;;
		*)
			echo "$r $k $c" >> "$times"
			# shellcheck disable=SC2086
			printf '%-7s %-6s %12s %15s %12s %13s %15s\n' "$n" "$r" $k $c ;;
		esac
		r=$((r + 1))
	done
	[ -s "$times" ] && awk -v n="$n" '
		{ for (i = 2; i <= 6; i++) { v[i, NR] = $i } rows = NR }
		END {
			split("12 15 12 13 15", w, " ")
			printf "%-7s %-6s", n, "median"
			for (i = 2; i <= 6; i++) {
				for (a = 1; a <= rows; a++) x[a] = v[i, a]
				for (a = 1; a <= rows; a++) for (b = a + 1; b <= rows; b++)
					if (x[b] + 0 < x[a] + 0) { t = x[a]; x[a] = x[b]; x[b] = t }
				printf " %*s", w[i - 1], x[int((rows + 1) / 2)]
			}
			printf "\n"
		}' "$times"
	nsh_cleanup
	return 0
}

echo "failover and merge, default LAN timeouts, the last daemon dN is the one hit;"
echo "times in ms at the clients (the latest client of each side counts), $ROUNDS rounds, faults held ${HOLD}s"
printf '%-7s %-6s %12s %15s %12s %13s %15s\n' daemons round "kill->others" \
	"restart->merged" "cut->others" "cut->cut-off" "restore->merged"
for n in $DAEMONS; do
	run "$n"
done
echo "targets: failover <= token timeout + 1 s (2250 ms with the default 1250 ms); merge < 2000 ms"
