#!/bin/sh
# test_stats_live.sh - chorus-stats live mode end to end: chorus-log ->
# chorusd -> chorus-stats -s -g. The lines go out in batches (sent again,
# since no writer acknowledges them); the report written by chorus-stats
# must count every line exactly once, under the node chorus-log names.
# Then, with --state, chorus-stats is stopped and started again while
# chorus-log still sends its unacknowledged batches again: the stream
# positions kept in the state make the totals still equal the lines sent.
B=${CHORUS_BUILD:-build}
case "$B" in /*) ;; *) B="$(pwd)/$B" ;; esac
run=$(mktemp -d /tmp/chorus-statslive-XXXXXX)
dpid=""; spid=""; lpid=""
cleanup() {
	[ -n "$lpid" ] && kill "$lpid" 2>/dev/null
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$run"
}
trap cleanup EXIT
fail() { echo "FAIL test_stats_live.$1: $2"; exit 0; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'Spread_Segment 127.0.0.255:%s {\n\tlocalhost 127.0.0.1\n}\nUnixSocketDir = "%s"\n' \
	"$port" "$run" > "$run/spread.conf"
"$B/chorusd" -c "$run/spread.conf" -n localhost 2> "$run/chorusd.log" &
dpid=$!
i=0
until [ -S "$run/$port" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$run/$port" ] || fail end_to_end "chorusd did not start: $(tail -3 "$run/chorusd.log")"
# start_stats TEST [OPTIONS]: chorus-stats in the background, joined.
start_stats() {
	t=$1; shift
	rm -f "$run/ready"
	CHORUS_STATS_READY="$run/ready" "$B/chorus-stats" -s "$port@127.0.0.1" -g weblog -i 1 \
		--now 2026-12-01 --json "$run/live.json" "$@" 2>> "$run/stats.err" &
	spid=$!
	i=0
	until [ -e "$run/ready" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
	[ -e "$run/ready" ] || fail "$t" "chorus-stats did not join: $(cat "$run/stats.err")"
}
start_stats end_to_end
"$B/bench/stats_gen" -n 2000 -s 5 -d 2 -m 0 > "$run/lines"
"$B/chorus-log" -g weblog -h webnode1 -s "$port@127.0.0.1" -d "$run/spool" < "$run/lines" \
	2> "$run/log.err"
count() {
	python3 -c "
import json,sys
try:
    d=json.load(open('$run/live.json'))
    print(d['inputs']['lines'], d['totals']['requests'], ','.join(n['node'] for n in d['nodes']))
except Exception:
    print('0 0 -')"
}
# The report is rewritten every second: wait until it has every line.
wait_all() {
	i=0
	while [ $i -lt 200 ]; do
		set -- $(count)
		[ "$1" -ge 2000 ] && break
		sleep 0.1; i=$((i + 1))
	done
}
wait_all
# A little longer: a line counted twice would show now.
sleep 1.5
kill "$spid"; wait "$spid"; rc=$?; spid=""
set -- $(count)
want=$(wc -l < "$run/lines")
[ "$rc" = 0 ] || fail end_to_end "chorus-stats exited with $rc: $(cat "$run/stats.err")"
[ "$1" = "$want" ] || fail end_to_end "report has $1 lines, $want were sent ($(cat "$run/log.err"))"
[ "$2" = "$want" ] || fail end_to_end "report counts $2 requests, $want lines were sent"
[ "$3" = webnode1 ] || fail end_to_end "nodes are $3, expected webnode1"
echo "PASS test_stats_live.end_to_end"

# 2. A restart of chorus-stats with --state while batches are resent.
rm -f "$run/live.json"
start_stats restart_state --state "$run/st"
"$B/bench/stats_gen" -n 2000 -s 6 -d 2 -m 0 > "$run/lines2"
# stdin stays open: chorus-log keeps sending unacknowledged batches again
# every second.
{ cat "$run/lines2"; sleep 8; } | "$B/chorus-log" -g weblog -h webnode4 -s "$port@127.0.0.1" \
	-d "$run/spool2" --ack-timeout 1000 2> "$run/log2.err" &
lpid=$!
wait_all
set -- $(count)
[ "$1" = 2000 ] || fail restart_state "first instance counted $1 lines of 2000"
kill "$spid"; wait "$spid"; spid=""
start_stats restart_state --state "$run/st"
# Resent batches arrive every second: give them three.
sleep 3.5
kill "$spid"; wait "$spid"; rc=$?; spid=""
set -- $(count)
[ "$rc" = 0 ] || fail restart_state "chorus-stats exited with $rc: $(cat "$run/stats.err")"
[ "$1" = 2000 ] || fail restart_state "after a restart the report has $1 lines, 2000 were sent"
[ "$2" = 2000 ] || fail restart_state "after a restart the report counts $2 requests, 2000 were sent"
echo "PASS test_stats_live.restart_state"
