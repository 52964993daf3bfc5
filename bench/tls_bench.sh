#!/bin/sh
# bench/tls_bench.sh BUILD_DIR - throughput of client links over TLS 1.3
# next to plain TCP, in the same run and through the same chorusd: one
# chorus-flood sender and one receiver, both on the TLS port or both on
# the plain port, at 100, 1000 and 10000 bytes. The certificates are made
# now with the openssl command (tests/integration/tls_certs.sh), in a
# temporary directory. Figures only; nothing here is a pass/fail test.
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B="$top/$B"
M=${BENCH_MESSAGES:-200000}
run=$(mktemp -d /tmp/chorus-tlsbench-XXXXXX)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$run"' EXIT
. "$top/bench/lib.sh"
. "$top/tests/integration/tls_certs.sh"
if ! command -v openssl >/dev/null 2>&1 || ! tls_make_certs "$run"; then
	echo "tls_bench: needs the openssl command to make test certificates"
	exit 1
fi
port=$(bench_free_port)
tport=$(bench_free_port)
cat > "$run/spread.conf" <<EOC
Spread_Segment 127.0.0.255:$port {
	localhost 127.0.0.1
}
UnixSocketDir = "$run"
TlsPort = $tport
TlsCertificateFile = "$run/server.pem"
TlsKeyFile = "$run/server.key"
EOC
"$B/chorusd" -c "$run/spread.conf" -n localhost 2>"$run/chorusd.log" &
pids="$pids $!"
i=0
until [ -S "$run/$port" ] || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
# chorus-flood takes the CA from the environment (libchorus(3)).
export CHORUS_TLS_CA="$run/ca.pem"

# Prints the receiver's msg/s of one flood run.
flood() { # address bytes send-buffer
	"$B/chorus-flood" -ro -s "$1" -u rcv -m "$M" -b "$2" -T 120 > "$run/r.out" 2>&1 &
	r=$!
	"$B/chorus-flood" -wo -r 1 -s "$1" -u snd -m "$M" -b "$2" -B "$3" -T 120 > "$run/s.out" 2>&1
	wait $r
	v=$(sed -n 's/.*: \([0-9]*\) msg\/s.*/\1/p' "$run/r.out")
	echo "${v:-0}"
}
ratio() { awk "BEGIN{ if ($2 > 0) printf \"%.2f\", $1/$2; else print \"-\" }"; }
mbs() { awk "BEGIN{printf \"%.1f\", $1*$2/1e6}"; }

echo "chorus-flood through chorusd over TLS 1.3 and plain TCP, 1 sender + 1 receiver,"
echo "$M messages each; coalesced = 64 KiB send coalescing (the default),"
echo "one-send = every message its own write (-B 0). msg/s (MB/s of payload)"
printf '%-6s %-9s %18s %18s %9s\n' bytes sending plain-tcp tls tls/plain
for b in 100 1000 10000; do
	for mode in coalesced one-send; do
		buf=65536
		[ "$mode" = one-send ] && buf=0
		p=$(flood "$port@127.0.0.1" "$b" "$buf")
		t=$(flood "tls:$tport@127.0.0.1" "$b" "$buf")
		printf '%-6s %-9s %9s (%6s) %9s (%6s) %9s\n' "$b" "$mode" "$p" "$(mbs "$p" "$b")" \
			"$t" "$(mbs "$t" "$b")" "$(ratio "$t" "$p")"
	done
done
cs=$(echo | openssl s_client -connect "127.0.0.1:$tport" -CAfile "$run/ca.pem" -brief 2>&1 |
	sed -n 's/^Ciphersuite: //p')
echo "TLS 1.3 cipher suite: ${cs:-?}; the daemon decrypts every message from the"
echo "sender and encrypts it again for the receiver, on the same 2-core machine"
