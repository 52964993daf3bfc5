# tests/netns/lib.sh - network-namespace harness of the multi-daemon tests
# and benchmarks (sourced by tests/netns/test_*.sh and bench/netns_*.sh).
#
# Topology of one run, all of it inside namespaces the run creates:
#   ${NSH_P}br          a bridge br0 (and a spare bridge br1 for splits)
#   ${NSH_P}d1 .. dN    one daemon each, interface eth0 = 10.77.0.I/24,
#                       the peer pI of its veth pair a port of br0
# NSH_P is "chn<pid of the script>-" so parallel runs never collide. Nothing
# is created in, or changed on, the namespace the script runs in; the veth
# pairs are created inside the bridge namespace. nsh_cleanup (installed on
# EXIT and on signals by nsh_init) kills what the run started, by PID, and
# deletes the namespaces, whatever happened before.
#
# Functions (I is a daemon number, 1..N):
#   nsh_usable                  0 if root and `ip netns add` works, else
#                               prints the reason to stdout and returns 1
#   nsh_init N [conf lines]     namespaces, links, addresses, spread.conf
#                               (plus the lines of $NETNS_CONF, separated
#                               by '|')
#   nsh_start_daemon I          chorusd -n dI in its namespace
#   nsh_kill_daemon I / nsh_term_daemon I
#   nsh_pause_daemon I / nsh_resume_daemon I   SIGSTOP / SIGCONT
#   nsh_cut I / nsh_restore I   bridge port of dI down / up
#   nsh_split "I J.." / nsh_unsplit   move those ports to br1 and back:
#                               a partition with several daemons a side
#   nsh_loss_on / nsh_loss_off  5% loss and 10 ms jitter: tc netem on
#                               every eth0; where the kernel has no netem,
#                               chorusd's test impairment of its ring input
#                               (5% dropped, each datagram held a random
#                               0..10 ms, seeded: src/daemon/net_impair.h),
#                               switched by a control file per daemon
#                               ($NSH_RUN/impair.dI, named to the daemon in
#                               CHORUS_TEST_IMPAIR); NSH_LOSS_HOW says which
#   nsh_asym_on I J / nsh_asym_off I   dI drops every UDP datagram from dJ
#   nsh_start_client I K PREFIX LOG [evclient options]
#   nsh_stop_clients [timeout s]      SIGTERM, wait (SIGKILL past timeout)
#   nsh_views GROUP             "log gid members" for each client's
#                               current view of GROUP (- if none)
#   nsh_wait_merged GROUP N TIMEOUT_S [per-daemon]
#   nsh_now_us                  CLOCK_REALTIME in microseconds
# NSH_DAEMON_ARGS (environment): extra chorusd options, e.g. "-d membership".
# Variables: NSH_RUN (the run's directory), NSH_N, NSH_CLIENT_LOGS,
# NSH_NETEM (1 when tc netem works), NSH_LOSS_HOW, NSH_LOSS_SEED (seed of
# the test impairment, default the script's pid), CHORUSD, EVCLIENT.

# The sourcing script sets NSH_TOP, the top of the source tree.
: "${NSH_TOP:?set NSH_TOP before sourcing lib.sh}"
NSH_B=${CHORUS_BUILD:-$NSH_TOP/build}
CHORUSD=${CHORUSD:-$NSH_B/chorusd}
EVCLIENT=${EVCLIENT:-$NSH_B/tests/netns/evclient}
NSH_P="chn$$-"
NSH_NET=10.77.0
NSH_PORT=4803
NSH_N=0
NSH_RUN=
NSH_CLIENT_PIDS=
NSH_CLIENT_LOGS=
NSH_OTHER_PIDS=
NSH_NSLIST=
NSH_NETEM=0
NSH_LOSS_HOW=
NSH_LOSS_SEED=${NSH_LOSS_SEED:-$$}
NSH_KEEP=${NSH_KEEP:-0}

nsh_now_us() { date +%s%6N; }

# Runs a command inside the namespace of daemon I (or "br").
nsh_in() {
	local n=$1
	shift
	ip netns exec "${NSH_P}$n" "$@"
}

nsh_usable() {
	if [ "$(id -u)" != 0 ]; then
		echo "not root: network namespaces need root"
		return 1
	fi
	if ! command -v ip >/dev/null 2>&1; then
		echo "no ip command (iproute2)"
		return 1
	fi
	if ! ip netns add "${NSH_P}probe" 2>/dev/null; then
		echo "ip netns add fails here (no namespace support or no privilege)"
		return 1
	fi
	ip netns del "${NSH_P}probe"
	if [ ! -x "$CHORUSD" ] || [ ! -x "$EVCLIENT" ]; then
		echo "$CHORUSD or $EVCLIENT not built"
		return 1
	fi
	return 0
}

nsh_cleanup() {
	local p n
	trap - EXIT INT TERM HUP
	for p in $NSH_CLIENT_PIDS $NSH_OTHER_PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	for n in $(seq 1 "$NSH_N"); do
		[ -f "$NSH_RUN/pid.d$n" ] || continue
		p=$(cat "$NSH_RUN/pid.d$n")
		kill -KILL "$p" 2>/dev/null
	done
	for p in $NSH_CLIENT_PIDS $NSH_OTHER_PIDS; do
		wait "$p" 2>/dev/null
	done
	for n in $NSH_NSLIST; do
		ip netns del "${NSH_P}$n" 2>/dev/null
	done
	NSH_NSLIST=
	if [ -n "$NSH_RUN" ] && [ "$NSH_KEEP" != 1 ]; then
		rm -rf "$NSH_RUN"
	elif [ -n "$NSH_RUN" ]; then
		echo "kept $NSH_RUN" >&2
	fi
	NSH_RUN=
}

nsh_add_ns() {
	ip netns add "${NSH_P}$1" || return 1
	NSH_NSLIST="$1 $NSH_NSLIST"
	nsh_in "$1" ip link set lo up
}

# nsh_init N [extra spread.conf lines...]
nsh_init() {
	local n=$1 i
	shift
	NSH_N=$n
	NSH_RUN=$(mktemp -d /tmp/chorus-netns-XXXXXX)
	trap nsh_cleanup EXIT
	trap 'nsh_cleanup; exit 1' INT TERM HUP
	nsh_add_ns br || return 1
	nsh_in br ip link add br0 type bridge || return 1
	nsh_in br ip link add br1 type bridge || return 1
	# No STP and no forwarding delay: ports forward as soon as they are up.
	nsh_in br ip link set br0 type bridge stp_state 0 forward_delay 0
	nsh_in br ip link set br1 type bridge stp_state 0 forward_delay 0
	nsh_in br ip link set br0 up
	nsh_in br ip link set br1 up
	{
		echo "Spread_Segment $NSH_NET.255:$NSH_PORT {"
		for i in $(seq 1 "$n"); do
			echo "	d$i $NSH_NET.$i"
		done
		echo "}"
		echo 'UnixSocketDir = ""'
		echo "RuntimeDir = $NSH_RUN"
		for i in "$@"; do
			echo "$i"
		done
		[ -z "$NETNS_CONF" ] || echo "$NETNS_CONF" | tr '|' '\n'
	} > "$NSH_RUN/spread.conf"
	for i in $(seq 1 "$n"); do
		nsh_add_ns "d$i" || return 1
		nsh_in br ip link add "p$i" type veth peer name eth0 \
			netns "${NSH_P}d$i" || return 1
		nsh_in br ip link set "p$i" master br0 || return 1
		nsh_in br ip link set "p$i" up || return 1
		nsh_in "d$i" ip addr add "$NSH_NET.$i/24" brd "$NSH_NET.255" dev eth0 || return 1
		nsh_in "d$i" ip link set eth0 up || return 1
	done
	if nsh_in d1 tc qdisc add dev eth0 root netem delay 1ms 2>/dev/null; then
		nsh_in d1 tc qdisc del dev eth0 root 2>/dev/null
		NSH_NETEM=1
		NSH_LOSS_HOW="tc netem: 5% loss, delay 10 ms +- 10 ms"
	else
		NSH_LOSS_HOW="chorusd test impairment (no netem in this kernel): 5% loss, each datagram delayed 0..10 ms, seeds from $NSH_LOSS_SEED"
	fi
	return 0
}

nsh_start_daemon() {
	local i=$1
	local impair=
	# Without netem, loss and jitter come from the daemon's test
	# impairment, off until nsh_loss_on writes its control file.
	[ "$NSH_NETEM" = 1 ] || impair="$NSH_RUN/impair.d$i"
	(cd "$NSH_RUN" && exec env CHORUS_TEST_IMPAIR="$impair" ip netns exec \
		"${NSH_P}d$i" "$CHORUSD" -c "$NSH_RUN/spread.conf" -n "d$i" \
		$NSH_DAEMON_ARGS >>"$NSH_RUN/d$i.log" 2>&1) &
	echo $! > "$NSH_RUN/pid.d$i"
}

nsh_daemon_pid() { cat "$NSH_RUN/pid.d$1"; }

nsh_kill_daemon() {
	local p
	p=$(nsh_daemon_pid "$1")
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	echo "== SIGKILL" >> "$NSH_RUN/d$1.log"
}

nsh_term_daemon() {
	local p
	p=$(nsh_daemon_pid "$1")
	kill -CONT "$p" 2>/dev/null
	kill -TERM "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

nsh_pause_daemon() { kill -STOP "$(nsh_daemon_pid "$1")"; }
nsh_resume_daemon() { kill -CONT "$(nsh_daemon_pid "$1")"; }

nsh_cut() { nsh_in br ip link set "p$1" down; }
nsh_restore() { nsh_in br ip link set "p$1" up; }

nsh_split() {
	local i
	for i in $1; do
		nsh_in br ip link set "p$i" master br1
	done
	NSH_SPLIT=$1
}

nsh_unsplit() {
	local i
	for i in $NSH_SPLIT; do
		nsh_in br ip link set "p$i" master br0
	done
	NSH_SPLIT=
}

nsh_nft_table() { # I: a table "chaos" with an input chain, in dI
	nsh_in "d$1" nft add table inet chaos &&
		nsh_in "d$1" nft add chain inet chaos in \
			'{ type filter hook input priority 0; policy accept; }'
}

nsh_loss_on() {
	local i
	for i in $(seq 1 "$NSH_N"); do
		if [ "$NSH_NETEM" = 1 ]; then
			nsh_in "d$i" tc qdisc add dev eth0 root netem loss 5% \
				delay 10ms 10ms || return 1
		else
			# Read by dI within 200 ms; the seed differs per
			# episode (the daemon mixes in its own id).
			NSH_LOSS_SEED=$((NSH_LOSS_SEED + 1))
			echo "loss=5 jitter=10 seed=$NSH_LOSS_SEED" \
				> "$NSH_RUN/impair.d$i.tmp" &&
				mv "$NSH_RUN/impair.d$i.tmp" "$NSH_RUN/impair.d$i" ||
				return 1
		fi
	done
	[ "$NSH_NETEM" = 1 ] || sleep 0.3
}

nsh_loss_off() {
	local i
	for i in $(seq 1 "$NSH_N"); do
		if [ "$NSH_NETEM" = 1 ]; then
			nsh_in "d$i" tc qdisc del dev eth0 root 2>/dev/null
		else
			rm -f "$NSH_RUN/impair.d$i"
		fi
	done
	[ "$NSH_NETEM" = 1 ] || sleep 0.3
	return 0
}

# nsh_impair_report: with the test impairment, what the daemons' logs say it
# did the last time it was on ("in N dropped N delayed N", summed over
# the daemons), or "none" if a daemon never switched it on
# and off; with netem, "netem".
nsh_impair_report() {
	local i
	if [ "$NSH_NETEM" = 1 ]; then
		echo netem
		return 0
	fi
	for i in $(seq 1 "$NSH_N"); do
		grep -q "test impairment on: loss 5%, delay 0..10 ms" "$NSH_RUN/d$i.log" &&
			grep -q "test impairment off:" "$NSH_RUN/d$i.log" || {
			echo none
			return 1
		}
	done
	for i in $(seq 1 "$NSH_N"); do
		grep "test impairment off:" "$NSH_RUN/d$i.log" | tail -1
	done | awk '{ for (k = 1; k <= NF; k++) {
			if ($(k+1) == "datagrams") a += $k
			if ($(k+1) == "dropped,") b += $k
			if ($(k+1) == "delayed,") c += $k } }
		END { printf "in %d dropped %d delayed %d\n", a, b, c }'
}

nsh_asym_on() { # I J: dI no longer hears dJ (dJ still hears dI)
	nsh_nft_table "$1" &&
		nsh_in "d$1" nft add rule inet chaos in ip saddr "$NSH_NET.$2" \
			meta l4proto udp drop
}

nsh_asym_off() { nsh_in "d$1" nft delete table inet chaos 2>/dev/null; return 0; }

# nsh_start_client I K PREFIX LOG [evclient options]: client K of dI.
nsh_start_client() {
	local i=$1 k=$2 prefix=$3 log=$4
	shift 4
	ip netns exec "${NSH_P}d$i" "$EVCLIENT" -s "$NSH_PORT@$NSH_NET.$i" \
		-u "$prefix" -i "$k" -o "$log" "$@" 2>>"$log.err" &
	NSH_CLIENT_PIDS="$NSH_CLIENT_PIDS $!"
	NSH_CLIENT_LOGS="$NSH_CLIENT_LOGS $log"
}

# Asks every client to stop and waits; a client still there after the
# timeout (default 20 s) is killed. Returns 1 if any had to be killed.
# Clients started with -W first drain and log END, then wait for a second
# SIGTERM: it is sent once every log has its END (or its client exited).
nsh_stop_clients() {
	local t=${1:-20} p f left rc=0 i=0 phase=1
	for p in $NSH_CLIENT_PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	while [ $i -lt $((t * 10)) ]; do
		left=
		for p in $NSH_CLIENT_PIDS; do
			kill -0 "$p" 2>/dev/null && left="$left $p"
		done
		[ -z "$left" ] && break
		if [ $phase = 1 ]; then
			phase=2
			for f in $NSH_CLIENT_LOGS; do
				grep -q '^END ' "$f" 2>/dev/null || phase=1
			done
			if [ $phase = 2 ]; then
				for p in $NSH_CLIENT_PIDS; do
					kill -TERM "$p" 2>/dev/null
				done
			fi
		fi
		sleep 0.1
		i=$((i + 1))
	done
	for p in $NSH_CLIENT_PIDS; do
		if kill -0 "$p" 2>/dev/null; then
			kill -KILL "$p" 2>/dev/null
			rc=1
		fi
		wait "$p" 2>/dev/null
	done
	NSH_CLIENT_PIDS=
	return $rc
}

# For each client log: the log, then the gid and member count of the
# current session's current view of GROUP ("- 0" if it has none).
nsh_views() {
	local g=$1 f
	for f in $NSH_CLIENT_LOGS; do
		printf '%s ' "$f"
		awk -v g="g=$g" '
			/^CONN / { s = $2; gid = "-"; n = 0 }
			/^LOST / { gid = "-"; n = 0 }
			/^SELFLEAVE / && $3 == g { gid = "-"; n = 0 }
			/^REG / && $2 == s && $3 == g {
				gid = $5; sub(/^gid=/, "", gid)
				m = $7; sub(/^members=/, "", m); n = split(m, x, ",")
			}
			END { print gid, n }' "$f" 2>/dev/null || echo "- 0"
	done
}

# nsh_wait_merged GROUP N TIMEOUT_S [per-daemon]: waits until every client
# is in a view of GROUP with N members, all clients in one view (with
# "per-daemon": the clients of each daemon in one view). Returns 1 on
# timeout, after printing the views to stderr.
nsh_wait_merged() {
	local g=$1 n=$2 t=$3 mode=${4:-merged} i=0 v
	while [ $i -lt $((t * 10)) ]; do
		v=$(nsh_views "$g")
		if echo "$v" | awk -v n="$n" -v mode="$mode" '
			{
				if ($2 == "-" || $3 != n) bad = 1
				d = $1; sub(/.*\/d/, "", d); sub(/[^0-9].*/, "", d)
				key = mode == "merged" ? "all" : d
				if (key in gid && gid[key] != $2) bad = 1
				gid[key] = $2
			}
			END { exit bad }'; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "views of $g after ${t}s (want $n members, $mode):" >&2
	echo "$v" >&2
	return 1
}
