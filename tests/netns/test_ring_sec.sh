#!/bin/sh
# tests/netns/test_ring_sec.sh - sealed ring datagrams (RingKeyFile,
# RingEncryption = yes) between daemons in network namespaces
# (tests/netns/lib.sh), with an attacker namespace on the same bridge
# (10.77.0.99, tests/netns/ring_inject.c):
#   wrong_key_kept_out  d1..d3 share a key, d4 has another under the same
#                       id: d1..d3 form a ring of three, d4 stays alone,
#                       and both sides log "... failed authentication;
#                       wrong key?"
#   replay_and_forgery  while clients on d1..d3 exchange messages, the
#                       attacker captures a sealed datagram of d3 and
#                       sends it again 200 times, then 300 forgeries
#                       (random bytes, one byte changed, a real header
#                       with junk after): each daemon counts the replays
#                       and the forgeries (chorus-monitor), the
#                       configuration does not change, and the clients'
#                       logs pass evcheck.py (nothing lost or altered)
#   stale_incarnation   d3 restarts; the datagram captured from its
#                       previous run, sent again, is stale at d1 and d2
#   key_rotation        with clients running: key 2 added to every key
#                       file, SIGHUP one by one; key 2 made current, SIGHUP
#                       one by one; key 1 removed, SIGHUP one by one. No
#                       datagram fails authentication, the configuration
#                       never changes, every daemon seals with key 2, the
#                       clients' logs pass evcheck.py; then d2 restarts
#                       with key 2 alone and rejoins.
# Skips, with the reason, where namespaces cannot be made.
top=$(cd "$(dirname "$0")/../.." && pwd)
NSH_TOP=$top
. "$top/tests/netns/lib.sh"
T=netns.ring_sec
INJ=$NSH_B/tests/netns/ring_inject
MON=$NSH_B/chorus-monitor
EVCHECK="python3 $top/tests/netns/evcheck.py"

if ! why=$(nsh_usable); then
	echo "SKIP $T: $why"
	exit 0
fi
if [ ! -x "$INJ" ]; then
	echo "SKIP $T: $INJ not built"
	exit 0
fi

newkey() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
K1=$(newkey)
K2=$(newkey)
KBAD=$(newkey)
FAILS=0

pass() { echo "PASS $T.$1"; }
fail() {
	echo "FAIL $T.$1: $2"
	FAILS=$((FAILS + 1))
	keep="$NSH_B/netns-failed/$T.$1.$$"
	mkdir -p "$keep" && cp "$NSH_RUN"/*.log "$NSH_RUN"/*.json "$NSH_RUN/spread.conf" \
		"$keep/" 2>/dev/null
}

# keys I LINE...: daemon dI's key file, private from the start.
keys() {
	local i=$1
	shift
	(umask 077 && printf '%s\n' "$@" > "$NSH_RUN/d$i.keys.new" &&
		mv "$NSH_RUN/d$i.keys.new" "$NSH_RUN/d$i.keys")
}

# status FILE: chorus-monitor JSON of d1..d4 (asked from d1's namespace).
status() {
	nsh_in d1 "$MON" -s "$NSH_NET.1" -s "$NSH_NET.2" -s "$NSH_NET.3" \
		-s "$NSH_NET.4" -j -w 0 -t 500 > "$1" 2>/dev/null
}

# get FILE I WHAT: a counter of dI, or members (count), conf (id), key.
get() {
	python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
d = [x for x in json.load(open(sys.argv[1]))["daemons"]
     if x["address"].endswith("." + sys.argv[2])][0]
w = sys.argv[3]
if not d.get("answered"):
    print("none")
elif w == "members":
    print(len(d["members"]))
elif w == "conf":
    print(d["configuration"]["id"])
elif w == "key":
    print(d["ring_security"]["key_id"])
else:
    print(d["counters"][w])
EOF
}

# delta BEFORE AFTER I NAME...: the sum of the counters' growth at dI.
delta() {
	local b=$1 a=$2 i=$3 s=0 n
	shift 3
	for n in "$@"; do
		s=$((s + $(get "$a" "$i" "$n") - $(get "$b" "$i" "$n")))
	done
	echo "$s"
}

together3() {
	nsh_in d1 "$MON" -s "$NSH_NET.1" -s "$NSH_NET.2" -s "$NSH_NET.3" -W 3 \
		> "$NSH_RUN/together.out" 2>&1
}

# wait_log I PATTERN SECONDS: until dI's log has a line matching.
wait_log() {
	local k=0
	while [ $k -lt $(($3 * 10)) ]; do
		grep -q "$2" "$NSH_RUN/d$1.log" 2>/dev/null && return 0
		sleep 0.1
		k=$((k + 1))
	done
	return 1
}

# clients G: one evclient on each of d1..d3 in group G; waits for one view.
clients() {
	NSH_CLIENT_LOGS=
	for i in 1 2 3; do
		nsh_start_client "$i" "$i" "$1" "$NSH_RUN/$1.c$i.log" -g "$1" \
			-r 100 -b 1200 -T 120 -D 15000 -W
	done
	nsh_wait_merged "$1" 3 20 2>"$NSH_RUN/$1.wait.log"
}

# check_clients G: stops them (in this shell, which reaps them), runs
# evcheck.py over their logs; adds what failed to $why.
check_clients() {
	nsh_stop_clients 25 || why="${why:+$why; }a client had to be killed"
	$EVCHECK --final merged --final-group "$1" --group "$1" $NSH_CLIENT_LOGS \
		> "$NSH_RUN/$1.check.log" 2>&1 ||
		why="${why:+$why; }checker: $(grep -v '^TIME' "$NSH_RUN/$1.check.log" |
			head -3 | tr '\n' ' ')"
}

nsh_init 4 "RingKeyFile = @RUN@/%h.keys" "RingEncryption = yes" || {
	echo "FAIL $T.setup: could not create the namespaces"
	exit 0
}
sed -i "s|@RUN@|$NSH_RUN|" "$NSH_RUN/spread.conf"
nsh_add_ns x &&
	nsh_in br ip link add px type veth peer name eth0 netns "${NSH_P}x" &&
	nsh_in br ip link set px master br0 && nsh_in br ip link set px up &&
	nsh_in x ip addr add "$NSH_NET.99/24" brd "$NSH_NET.255" dev eth0 &&
	nsh_in x ip link set eth0 up || {
	echo "FAIL $T.setup: could not add the attacker's namespace"
	exit 0
}
for i in 1 2 3; do
	keys "$i" "1 $K1"
done
keys 4 "1 $KBAD"
for i in 1 2 3 4; do
	nsh_start_daemon "$i"
done

# ---- A daemon with the wrong key never joins, and says why.
why=
together3 || why="d1..d3 not together: $(cat "$NSH_RUN/together.out")"
if [ -z "$why" ]; then
	wait_log 4 "packets from $NSH_NET\.[123] failed authentication; wrong key?" 10 ||
		why="d4's log does not say why"
	wait_log 1 "packets from $NSH_NET\.4 failed authentication; wrong key?" 10 ||
		why="${why:+$why; }d1's log does not name d4"
	sleep 2
	status "$NSH_RUN/kept.json"
	m1=$(get "$NSH_RUN/kept.json" 1 members)
	m4=$(get "$NSH_RUN/kept.json" 4 members)
	f1=$(get "$NSH_RUN/kept.json" 1 ring_forged)
	[ "$m1" = 3 ] && [ "$m4" = 1 ] ||
		why="${why:+$why; }members: d1 $m1, d4 $m4 (want 3 and 1)"
	[ "$f1" -gt 0 ] 2>/dev/null || why="${why:+$why; }d1 counted no forged datagram ($f1)"
fi
[ -z "$why" ] && pass wrong_key_kept_out || fail wrong_key_kept_out "$why"

# ---- Replays and forgeries are dropped and counted; the ring delivers.
why=
clients a || why="clients never in one view"
status "$NSH_RUN/before.json"
conf0=$(get "$NSH_RUN/before.json" 1 conf)
if [ -z "$why" ]; then
	nsh_in x "$INJ" capture -a "$NSH_NET.255" -p "$NSH_PORT" -s "$NSH_NET.3" \
		-m 200 -o "$NSH_RUN/d3.cap" -t 10 > "$NSH_RUN/inject.log" 2>&1 ||
		why="no datagram of d3 captured: $(cat "$NSH_RUN/inject.log")"
fi
if [ -z "$why" ]; then
	t_inject=$(nsh_now_us)
	nsh_in x "$INJ" replay -a "$NSH_NET.255" -p "$NSH_PORT" -f "$NSH_RUN/d3.cap" \
		-n 200 >> "$NSH_RUN/inject.log" 2>&1
	nsh_in x "$INJ" junk -a "$NSH_NET.255" -p "$NSH_PORT" -f "$NSH_RUN/d3.cap" \
		-n 300 -S 7 >> "$NSH_RUN/inject.log" 2>&1
	sleep 2
	status "$NSH_RUN/after.json"
	for i in 1 2 3; do
		r=$(delta "$NSH_RUN/before.json" "$NSH_RUN/after.json" "$i" \
			ring_replayed ring_stale)
		f=$(delta "$NSH_RUN/before.json" "$NSH_RUN/after.json" "$i" ring_forged)
		echo "d$i: $r replayed or stale, $f forged" >> "$NSH_RUN/inject.log"
		# A changed copy whose counter was seen is a replay (the
		# window is checked before the tag), and every copy that
		# names d3 is one at d3 itself; random bytes are forged.
		[ $((r + f)) -ge 500 ] ||
			why="${why:+$why; }d$i counted $((r + f)) of 500 datagrams"
		[ "$r" -ge 200 ] || why="${why:+$why; }d$i counted $r of 200 replays"
		[ "$f" -ge 100 ] || why="${why:+$why; }d$i counted $f forgeries (at least 100 random)"
	done
	conf1=$(get "$NSH_RUN/after.json" 1 conf)
	[ "$conf0" = "$conf1" ] && [ "$(get "$NSH_RUN/after.json" 2 conf)" = "$conf0" ] ||
		why="${why:+$why; }the configuration changed: $conf0 -> $conf1"
	wait_log 1 "replayed or stale packets from $NSH_NET\.99 dropped" 12 ||
		why="${why:+$why; }d1 did not log the replays"
	late=$(cat $NSH_CLIENT_LOGS | awk -v t="$t_inject" '/^MSG /{
		for (i = 2; i <= NF; i++) if ($i ~ /^t=/) { v = substr($i, 3); if (v > t) n++ } }
		END { print n + 0 }')
	[ "$late" -gt 100 ] || why="${why:+$why; }only $late deliveries after the injection"
fi
check_clients a
[ -z "$why" ] && pass replay_and_forgery || fail replay_and_forgery "$why"

# ---- An old incarnation's datagram is stale.
why=
if [ -f "$NSH_RUN/d3.cap" ]; then
	nsh_term_daemon 3
	nsh_start_daemon 3
	together3 || why="d3 did not rejoin: $(cat "$NSH_RUN/together.out")"
	status "$NSH_RUN/before.json"
	nsh_in x "$INJ" replay -a "$NSH_NET.255" -p "$NSH_PORT" -f "$NSH_RUN/d3.cap" \
		-n 50 >> "$NSH_RUN/inject.log" 2>&1
	sleep 1
	status "$NSH_RUN/after.json"
	for i in 1 2; do
		s=$(delta "$NSH_RUN/before.json" "$NSH_RUN/after.json" "$i" ring_stale)
		[ "$s" -ge 50 ] || why="${why:+$why; }d$i counted $s of 50 stale"
	done
else
	why="no capture from the previous step"
fi
[ -z "$why" ] && pass stale_incarnation || fail stale_incarnation "$why"

# ---- Key rotation without downtime.
why=
nsh_term_daemon 4
clients r || why="clients never in one view"
status "$NSH_RUN/before.json"
conf0=$(get "$NSH_RUN/before.json" 1 conf)
# rotate STEP I: dI's key file at step 1 (key 2 added), 2 (key 2
# current), 3 (key 1 removed).
rotate() {
	case $1 in
	1) keys "$2" "1 $K1 current" "2 $K2" ;;
	2) keys "$2" "1 $K1" "2 $K2 current" ;;
	3) keys "$2" "2 $K2" ;;
	esac
}
for step in 1 2 3; do
	for i in 1 2 3; do
		n0=$(grep -c "ring keys reloaded" "$NSH_RUN/d$i.log")
		rotate "$step" "$i"
		kill -HUP "$(nsh_daemon_pid "$i")"
		k=0
		while [ "$(grep -c "ring keys reloaded" "$NSH_RUN/d$i.log")" = "$n0" ] &&
			[ $k -lt 50 ]; do
			sleep 0.1
			k=$((k + 1))
		done
		[ $k -lt 50 ] || why="${why:+$why; }d$i did not reload (step $step)"
		sleep 0.5
	done
done
sleep 1
status "$NSH_RUN/after.json"
for i in 1 2 3; do
	f=$(delta "$NSH_RUN/before.json" "$NSH_RUN/after.json" "$i" ring_forged)
	[ "$f" = 0 ] || why="${why:+$why; }d$i: $f datagrams failed authentication"
	[ "$(get "$NSH_RUN/after.json" "$i" key)" = 2 ] ||
		why="${why:+$why; }d$i does not seal with key 2"
	[ "$(get "$NSH_RUN/after.json" "$i" conf)" = "$conf0" ] ||
		why="${why:+$why; }d$i's configuration changed during the rotation"
done
grep -q "ring keys reloaded from .*: 2 (sending with 2)" "$NSH_RUN/d1.log" ||
	why="${why:+$why; }d1's log lacks the last reload"
check_clients r
nsh_term_daemon 2
nsh_start_daemon 2
together3 || why="${why:+$why; }d2 did not rejoin with key 2 alone"
[ -z "$why" ] && pass key_rotation || fail key_rotation "$why"

for i in 1 2 3; do
	grep -q "AddressSanitizer\|runtime error" "$NSH_RUN/d$i.log" &&
		fail sanitizer "d$i: $(grep -m1 "AddressSanitizer\|runtime error" "$NSH_RUN/d$i.log")"
done
exit 0
