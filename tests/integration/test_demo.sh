#!/bin/sh
# The README's first command, scripts/demo.sh, on a free port: it must run
# the demo exchange and stop cleanly.
top=$(cd "$(dirname "$0")/../.." && pwd)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp)
if timeout 120 sh "$top/scripts/demo.sh" --once --port "$port" >"$out" 2>&1 &&
	grep -q 'both clients received the same messages' "$out" &&
	[ "$(grep -c '^MSG' "$out")" -eq 4 ] && [ ! -e "/tmp/$port" ]; then
	echo "PASS test_demo.once"
else
	echo "FAIL test_demo.once: $(tail -5 "$out" | tr '\n' ' ')"
fi
rm -f "$out"
