#!/bin/sh
# tests/netns/episodes.sh - scripted fault episodes against chorusd daemons
# in network namespaces, checked with evcheck.py.
#
#   episodes.sh --daemons N --clients K --name NAME EPISODE...
#   episodes.sh --daemons N --clients K --soak COUNT [--seed S]
#
# EPISODE is one of
#   cut:I          the bridge port of dI goes down, later up again
#   split:I,J..    those daemons' ports move to a second bridge and back
#                  (a partition with several daemons on the small side)
#   kill:I         SIGKILL of dI, restarted later (its clients reconnect)
#   pause:I        SIGSTOP of dI past the token timeout, then SIGCONT
#   loss           5% loss and 10 ms jitter on every link: tc netem, or
#                  where the kernel has no netem, chorusd's test impairment
#                  of its ring input (5% dropped, the rest delayed 0..10 ms,
#                  so reordered; lib.sh, docs/netns-tests.md). The PASS
#                  line says which, and with the impairment how many
#                  datagrams it dropped and delayed (an episode where it
#                  did not act fails).
#   asym:I:J       dI drops every datagram from dJ (nftables in dI only)
#
# Each episode: K clients per daemon (evclient) join the groups and send at
# a bounded rate; once all are in one view the fault is applied, held for
# HOLD seconds and repaired; once all are in one view again the clients
# drain and stop, and evcheck.py checks their logs: the generic promises,
# one final merged view, and for cut, split, kill and pause that the
# daemons on each side formed a view without the other side. One PASS or
# FAIL line per episode.
#
# First the daemons must form one configuration (one view of a probe
# group with a client on each daemon, within PROBE seconds). If they do
# not, chorusd still runs each daemon on its own: then two episodes (kill
# and pause) run against the single daemons, checked per daemon, and the
# multi-daemon episodes print one SKIP line with the reason.
#
# Environment: CHORUS_BUILD (binaries), NETNS_CONF (extra spread.conf
# lines, separated by '|'), HOLD (default 3.5 s), LOAD (1 s), PROBE (10 s),
# CHURN_MS (1200: the churning client leaves and joins again every that
# many ms), CHURN_ALL=1 (every client is in b$EP and churns there),
# NSH_KEEP=1 keeps the run directory. A failed episode's directory is
# copied to $CHORUS_BUILD/netns-failed/.
top=$(cd "$(dirname "$0")/../.." && pwd)
NSH_TOP=$top
. "$top/tests/netns/lib.sh"

N=3
K=1
NAME=netns
SOAK=0
SEED=$(date +%s)
while [ $# -gt 0 ]; do
	case "$1" in
	--daemons) N=$2; shift 2 ;;
	--clients) K=$2; shift 2 ;;
	--name) NAME=$2; shift 2 ;;
	--soak) SOAK=$2; shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "episodes.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
HOLD=${HOLD:-3.5}
LOAD=${LOAD:-1}
PROBE=${PROBE:-10}
RATE=${RATE:-40}
CHURN_MS=${CHURN_MS:-1200}
CHURN_ALL=${CHURN_ALL:-0}
EVCHECK="python3 $top/tests/netns/evcheck.py"

if ! why=$(nsh_usable); then
	echo "SKIP $NAME: $why"
	exit 0
fi
if ! command -v nft >/dev/null 2>&1; then
	echo "SKIP $NAME: no nft command (nftables): run tests/deps.sh"
	exit 0
fi

setup() {
	if ! nsh_init "$N"; then
		echo "FAIL $NAME.setup: could not create the namespaces"
		exit 1
	fi
	for i in $(seq 1 "$N"); do
		nsh_start_daemon "$i"
	done
}

# Checks the daemons are alive and their logs free of sanitizer reports.
daemons_healthy() {
	local i bad=
	for i in $(seq 1 "$N"); do
		if ! kill -0 "$(nsh_daemon_pid "$i")" 2>/dev/null; then
			bad="$bad d$i-exited"
		elif grep -q -E 'AddressSanitizer|runtime error:|LeakSanitizer' \
			"$NSH_RUN/d$i.log" 2>/dev/null; then
			bad="$bad d$i-sanitizer"
		fi
	done
	[ -z "$bad" ] && return 0
	echo "$bad"
	return 1
}

restart_daemons() {
	local i
	for i in $(seq 1 "$N"); do
		nsh_term_daemon "$i"
	done
	for i in $(seq 1 "$N"); do
		nsh_start_daemon "$i"
	done
}

EP=0
# start_clients DIR MODE: K clients on each daemon, in groups a$EP (all)
# and b$EP (every other client; one of them leaves and joins it again).
start_clients() {
	local dir=$1 i k c=0 groups churn
	NSH_CLIENT_LOGS=
	for i in $(seq 1 "$N"); do
		for k in $(seq 1 "$K"); do
			c=$((c + 1))
			groups="a$EP"
			churn=
			[ $((c % 2)) = 1 ] || [ "$CHURN_ALL" = 1 ] && groups="a$EP,b$EP"
			[ $c = 3 ] || [ "$CHURN_ALL" = 1 ] && churn="-L $CHURN_MS"
			# shellcheck disable=SC2086
			nsh_start_client "$i" "$c" "${EP}k$k" "$dir/d${i}c$k.log" \
				-g "$groups" -r "$RATE" -b 1200 -T 120 -D 15000 \
				-S "$SEED$EP" -W $churn
		done
	done
}

secs() { awk "BEGIN { printf \"%.1f\", $1 / 1000000 }"; }

# episode FAULT MODE(multi|single): one episode; prints PASS or FAIL.
episode() {
	local f=$1 mode=$2 dir kind a b expect="" t_fault t_heal why= tag
	local total want_mode hold=$HOLD how r
	EP=$((EP + 1))
	tag=$(echo "$f" | tr ':,' '--')
	dir="$NSH_RUN/ep$EP"
	mkdir -p "$dir"
	kind=${f%%:*}
	a=$(echo "$f" | cut -s -d: -f2)
	b=$(echo "$f" | cut -s -d: -f3)
	if [ "$mode" = multi ]; then
		total=$((N * K))
		want_mode=merged
	else
		total=$K
		want_mode=per-daemon
	fi
	start_clients "$dir"
	if ! nsh_wait_merged "a$EP" "$total" 20 "$want_mode" 2>"$dir/wait.txt"; then
		why="clients never in one view before the fault"
	fi
	[ -z "$why" ] && sleep "$LOAD"
	t_fault=$(nsh_now_us)
	if [ -z "$why" ]; then
		case "$kind" in
		cut) nsh_cut "$a"; expect="--split d$a --split-side" ;;
		split)
			nsh_split "$(echo "$a" | tr ',' ' ')"
			expect="--split $(echo "$a" | sed 's/\([0-9]\+\)/d\1/g') --split-side" ;;
		kill) nsh_kill_daemon "$a"; expect="--split d$a" ;;
		pause) nsh_pause_daemon "$a"; expect="--split d$a" ;;
		loss) nsh_loss_on || why="could not set up loss" ;;
		asym) nsh_asym_on "$a" "$b" || why="could not set up the drop" ;;
		*) why="unknown episode $f" ;;
		esac
		sleep "$hold"
		t_heal=$(nsh_now_us)
		case "$kind" in
		cut) nsh_restore "$a" ;;
		split) nsh_unsplit ;;
		kill) nsh_start_daemon "$a" ;;
		pause) nsh_resume_daemon "$a" ;;
		loss) nsh_loss_off ;;
		asym) nsh_asym_off "$a" ;;
		esac
	fi
	if [ -z "$why" ] &&
		! nsh_wait_merged "a$EP" "$total" 30 "$want_mode" 2>>"$dir/wait.txt"; then
		why="no merged view within 30 s of the repair"
	fi
	[ -z "$why" ] && sleep 0.5
	if ! nsh_stop_clients 25; then
		[ -z "$why" ] && why="a client did not stop (killed)"
	fi
	[ "$mode" = single ] && expect=
	# shellcheck disable=SC2086
	$EVCHECK --final "$want_mode" --final-group "a$EP" --group "a$EP" ${expect:+--fault-time $t_fault \
		--heal-time $t_heal} $expect $NSH_CLIENT_LOGS > "$dir/check.txt" 2>&1 ||
		why="${why:+$why; }checker: $(grep -v '^TIME' "$dir/check.txt" | head -3 | tr '\n' ' ')"
	if h=$(daemons_healthy); then :; else
		why="${why:+$why; }daemons:$h"
	fi
	how=
	if [ "$kind" = loss ] && [ -z "$why" ]; then
		if [ "$NSH_NETEM" = 1 ]; then
			how=" [loss: tc netem 5%, delay 10+-10 ms]"
		elif r=$(nsh_impair_report) && [ "$(echo "$r" | awk '{ print ($4 > 0 && $6 > 0) }')" = 1 ]; then
			how=" [loss: chorusd test impairment 5%, delay 0..10 ms: $r]"
		else
			why="the test impairment did not act ($r)"
		fi
	fi
	if [ -z "$why" ]; then
		times=$(awk '/^TIME split/ { if ($4 > s) s = $4 }
			/^TIME merge/ { if ($4 > m) m = $4 }
			END { if (s != "") printf " split<=%s ms", s
			      if (m != "") printf " merge<=%s ms", m }' "$dir/check.txt")
		echo "PASS $NAME.$EP.$tag: $(tail -1 "$dir/check.txt" | sed 's/^OK: //')$times$how"
		return 0
	fi
	keep="${CHORUS_BUILD:-$top/build}/netns-failed/$NAME.$EP.$tag.$$"
	mkdir -p "$keep" && cp -r "$dir/." "$keep/" &&
		cp "$NSH_RUN"/d*.log "$NSH_RUN/spread.conf" "$keep/" 2>/dev/null
	echo "FAIL $NAME.$EP.$tag: $why (logs in $keep)"
	# Start the next episode from fresh daemons.
	nsh_loss_off
	for i in $(seq 1 "$N"); do
		nsh_resume_daemon "$i" 2>/dev/null
		nsh_restore "$i"
		nsh_asym_off "$i"
	done
	[ -n "$NSH_SPLIT" ] && nsh_unsplit
	restart_daemons
	return 1
}

# probe: 1 if the daemons form one configuration (one view of the probe
# group), 0 if each runs alone (per-daemon views, no message crosses), 3
# if messages cross daemons but the views stay per daemon, 2 if not even
# single daemons serve their clients.
probe() {
	local dir="$NSH_RUN/probe" i f d x
	mkdir -p "$dir"
	NSH_CLIENT_LOGS=
	for i in $(seq 1 "$N"); do
		nsh_start_client "$i" "$i" "probe" "$dir/d${i}c1.log" -g p -r 10 -T 60 -W
	done
	if nsh_wait_merged p "$N" "$PROBE" merged 2>"$dir/wait.txt"; then
		nsh_stop_clients 10
		return 1
	fi
	if nsh_wait_merged p 1 5 per-daemon 2>>"$dir/wait.txt"; then
		sleep 1
		nsh_stop_clients 10
		for i in $(seq 1 "$N"); do
			x=$(grep '^MSG ' "$dir/d${i}c1.log" | grep -v -c "from=#[^ ]*#d$i ")
			[ "$x" -gt 0 ] && return 3
		done
		return 0
	fi
	nsh_stop_clients 10
	return 2
}

soak_list() { # COUNT: COUNT random episodes for N daemons
	awk -v n="$N" -v c="$1" -v seed="$SEED" 'BEGIN {
		srand(seed)
		for (e = 0; e < c; e++) {
			k = int(rand() * 6); i = 1 + int(rand() * n)
			j = 1 + (i + int(rand() * (n - 1))) % n
			if (k == 0) printf "cut:%d\n", i
			else if (k == 1) {
				m = 1 + int(rand() * int((n - 1) / 2)); s = ""
				for (x = 0; x < m; x++) s = s (x ? "," : "") (1 + (i + x - 1) % n)
				printf "split:%s\n", s
			}
			else if (k == 2) printf "kill:%d\n", i
			else if (k == 3) printf "pause:%d\n", i
			else if (k == 4) printf "loss\n"
			else printf "asym:%d:%d\n", i, j
		}
	}'
}

setup
probe
state=$?
if [ $state = 2 ]; then
	echo "FAIL $NAME.probe: the daemons do not even serve their own clients ($(tail -3 "$NSH_RUN/probe/wait.txt" | tr '\n' ' '))"
	exit 1
fi
if [ "$SOAK" -gt 0 ]; then
	set -- $(soak_list "$SOAK")
	echo "soak: $SOAK episodes on $N daemons, seed $SEED" >&2
fi
fails=0
if [ $state = 1 ]; then
	echo "note: loss episodes use $NSH_LOSS_HOW" >&2
	for f in "$@"; do
		episode "$f" multi || fails=$((fails + 1))
	done
elif [ $state = 3 ]; then
	echo "SKIP $NAME: $# multi-daemon episodes: chorusd does not form multi-daemon rings yet (messages cross daemons, but no common view of $N daemons within ${PROBE}s: groups are not shared)"
else
	echo "SKIP $NAME: $# multi-daemon episodes: chorusd does not form multi-daemon rings yet (no common view of $N daemons within ${PROBE}s)"
	# What runs now: the harness against single daemons.
	[ "$SOAK" -gt 0 ] || set -- kill:2 pause:1
	for f in "$@"; do
		case "$f" in
		kill:*|pause:*) episode "$f" single || fails=$((fails + 1)) ;;
		esac
	done
fi
[ $fails = 0 ]
