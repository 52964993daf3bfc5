#!/bin/sh
# scripts/demo.sh - runs Chorus's main job on this machine: installs what
# the build needs, builds, starts chorusd with the single-daemon
# configuration etc/spread.conf, and runs a demo exchange between two
# clients. Then chorusd keeps running until Ctrl-C.
#
# usage: sh scripts/demo.sh [--once] [--port N]
#   --once    stop chorusd after the demo (used by the tests)
#   --port N  use port N instead of 4803 (Unix socket /tmp/N)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
once=0
port=4803
while [ $# -gt 0 ]; do
	case "$1" in
	--once) once=1 ;;
	--port) port=$2; shift ;;
	*) echo "usage: sh scripts/demo.sh [--once] [--port N]" >&2; exit 2 ;;
	esac
	shift
done

sh tests/deps.sh
make -s all
B="$top/build"

run=$(mktemp -d /tmp/chorus-demo-XXXXXX)
sed "s/127.0.0.255:4803/127.0.0.255:$port/" etc/spread.conf > "$run/spread.conf"
if [ -e "/tmp/$port" ] && "$B/chorus-user" -q -s "$port" </dev/null >/dev/null 2>&1; then
	echo "demo: a daemon already answers on /tmp/$port; stop it or use --port" >&2
	exit 1
fi

"$B/chorusd" -c "$run/spread.conf" -n localhost 2>"$run/chorusd.log" &
pid=$!
cleanup() {
	kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait (at most 5 s) until the daemon answers.
i=0
until "$B/chorus-user" -q -s "$port" </dev/null >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "demo: chorusd did not start:" >&2
		cat "$run/chorusd.log" >&2
		exit 1
	fi
	sleep 0.05
done
echo "chorusd is running: TCP port $port, Unix socket /tmp/$port"
echo

# Two clients: each joins "demo", waits for the other, says hello with an
# agreed message, and reads both hellos (the same order at both).
printf '%s\n' 'join demo' 'wait-memb demo 2 5000' \
	'send -t agreed demo hello from alice' 'recv 2 5000' 'quit' |
	"$B/chorus-user" -u alice -s "$port" > "$run/alice.out" &
a=$!
printf '%s\n' 'join demo' 'wait-memb demo 2 5000' \
	'send -t agreed demo hello from bob' 'recv 2 5000' 'quit' |
	"$B/chorus-user" -u bob -s "$port@127.0.0.1" > "$run/bob.out" &
b=$!
ok=0
wait $a || ok=1
wait $b || ok=1
echo "--- alice (Unix socket)"
cat "$run/alice.out"
echo "--- bob (TCP)"
cat "$run/bob.out"
if [ $ok -ne 0 ]; then
	echo "demo: a client failed; chorusd log:" >&2
	cat "$run/chorusd.log" >&2
	exit 1
fi
# Both saw the same two messages in the same order.
grep '^MSG' "$run/alice.out" | sed 's/ type=.*//' > "$run/a.msgs"
grep '^MSG' "$run/bob.out" | sed 's/ type=.*//' > "$run/b.msgs"
if ! cmp -s "$run/a.msgs" "$run/b.msgs" || [ "$(wc -l < "$run/a.msgs")" -ne 2 ]; then
	echo "demo: the clients did not see the same messages" >&2
	exit 1
fi
echo
echo "demo: both clients received the same messages in the same order."
if [ $once -eq 1 ]; then
	exit 0
fi
echo "chorusd keeps running; try: $B/chorus-user -s $port   (Ctrl-C here stops it)"
wait "$pid"
