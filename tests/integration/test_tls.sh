#!/bin/sh
# test_tls.sh - TLS for client connections, end to end, with certificates
# made now by the openssl command (tls_certs.sh; no key is committed).
#
# One chorusd with a TLS port that requires client certificates signed by
# the test CA. Cases:
#   end_to_end        chorus-log -> chorusd (TLS) -> chorus-logd (TLS): the
#                     file chorus-logd writes has every line, in order
#   s_client          openssl s_client: TLS 1.3, the daemon's certificate,
#                     and the Spread handshake inside TLS; TLS 1.2 refused
#   principal         the client certificate's CN is the session principal
#   plaintext_refused a plaintext client on the TLS port is refused (code
#                     -8), logged, while a TLS client goes on working
#   server_untrusted  a daemon certificate from another CA, or for another
#                     name, is refused by the client (REJECT_AUTH, -9)
#   client_refused    no client certificate, one from another CA, and an
#                     expired one: each refused (-9) and logged
#   reload            SIGHUP: new connections get the new certificate; a
#                     bad file keeps the old one and says why
#   optional          a second chorusd with TlsClientVerify = optional:
#                     no certificate is let in without a principal, a
#                     valid one gives one, one of another CA is refused
#   hmac_binding      HMAC over TLS: accepted directly, refused through a
#                     relay that terminates TLS (channel binding), and
#                     refused by a client pinned to another daemon name
B=${CHORUS_BUILD:-build}
case "$B" in /*) ;; *) B="$(pwd)/$B" ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
T=test_tls
if ! command -v openssl >/dev/null 2>&1; then
	echo "SKIP $T: no openssl command (tests/deps.sh installs it)"
	exit 0
fi
run=$(mktemp -d /tmp/chorus-tls-XXXXXX)
dpid=""; wpid=""; upid=""; opid=""
cleanup() {
	for p in $upid $wpid $dpid $opid; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$KEEP" ] && return; rm -rf "$run"
}
trap cleanup EXIT
fail() { echo "FAIL $T.$1: $2"; }
pass() { echo "PASS $T.$1"; }
# wait_for COND: up to 10 s.
wait_for() {
	i=0
	until eval "$1" || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
	eval "$1"
}

. "$top/tests/integration/tls_certs.sh"
c="$run/certs"
mkdir -p "$c"
if ! tls_make_certs "$c"; then
	fail setup "openssl could not make the test certificates"
	exit 0
fi
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=$(free_port)
tport=$(free_port)
cp "$c/server.pem" "$run/live.pem"
cp "$c/server.key" "$run/live.key"
# daemon_conf FILE PORT TLSPORT CERT KEY [LINE...]: a one-daemon
# configuration with a TLS port and the extra lines.
daemon_conf() {
	f=$1; p=$2; tp=$3; crt=$4; k=$5
	shift 5
	{
		printf 'Spread_Segment 127.0.0.255:%s {\n\tlocalhost 127.0.0.1\n}\n' "$p"
		printf 'UnixSocketDir = "%s"\nTlsPort = %s\n' "$run" "$tp"
		printf 'TlsCertificateFile = "%s"\nTlsKeyFile = "%s"\n' "$crt" "$k"
		for l in "$@"; do printf '%s\n' "$l"; done
	} > "$f"
}
daemon_conf "$run/spread.conf" "$port" "$tport" "$run/live.pem" "$run/live.key" \
	"TlsClientCAFile = \"$c/ca.pem\"" "TlsClientVerify = required"
"$B/chorusd" -c "$run/spread.conf" -n localhost -d session,security 2> "$run/chorusd.log" &
dpid=$!
if ! wait_for '[ -S "$run/$port" ]'; then
	fail setup "chorusd did not start: $(tail -3 "$run/chorusd.log")"
	exit 0
fi
addr="tls:$tport@127.0.0.1"
CA="--tls-ca $c/ca.pem"
ME="--tls-cert $c/client.pem --tls-key $c/client.key"

# ---- end_to_end: chorus-log -> chorusd (TLS) -> chorus-logd ----------
cat > "$run/logd.conf" <<EOF
StateDir = "$run/state"
Fsync = batch
TlsCAFile = "$c/ca.pem"
TlsCertificateFile = "$c/client.pem"
TlsKeyFile = "$c/client.key"
Spread {
	Port = tls:$tport
	Host = 127.0.0.1
	Log {
		Group = weblog
		File = "$run/out/%n.log"
	}
}
EOF
"$B/chorus-logd" -n -c "$run/logd.conf" > "$run/logd.print" 2>&1
if ! grep -q "Port = \"tls:$tport@127.0.0.1\"\|Port = tls:$tport@127.0.0.1" "$run/logd.print"; then
	fail end_to_end "chorus-logd -n does not show the TLS port: $(cat "$run/logd.print")"
fi
"$B/chorus-logd" -c "$run/logd.conf" 2> "$run/logd.err" &
wpid=$!
if ! wait_for 'grep -q "joined weblog" "$run/logd.err"'; then
	fail end_to_end "chorus-logd did not join over TLS: $(tail -3 "$run/logd.err")"
else
	python3 -c '
for i in range(3000):
    print("10.0.%d.%d - - [26/Nov/2026:04:00:00 +0000] \"GET /tls/%d HTTP/1.1\" 200 %d \"-\" \"t\"" % (i // 250, i % 250, i, i * 7))
' > "$run/lines"
	# shellcheck disable=SC2086
	timeout 60 "$B/chorus-log" -g weblog -h node1 -s "$addr" -d "$run/spool" \
		$CA $ME < "$run/lines" 2> "$run/log.err"
	rc=$?
	wait_for '[ "$(wc -l < "$run/out/node1.log" 2>/dev/null)" = 3000 ]'
	if [ "$rc" != 0 ]; then
		fail end_to_end "chorus-log exited with $rc: $(tail -3 "$run/log.err")"
	elif ! cmp -s "$run/lines" "$run/out/node1.log"; then
		fail end_to_end "chorus-logd wrote $(wc -l < "$run/out/node1.log" 2>/dev/null) lines, not the 3000 sent, in order"
	else
		pass end_to_end
	fi
fi

# ---- s_client: protocol, certificate, Spread handshake inside TLS ----
# The connect request of a 4.4 client named "sc" with membership and the
# method choice NULL: the daemon answers with its method list, then the
# accept byte, its version and the private group name. Standard input
# stays open two seconds for the answer to arrive.
python3 -c '
import sys, time
sys.stdout.buffer.write(bytes([4, 4, 0, 1, 2]) + b"sc" + b"NULL".ljust(90, b"\0"))
sys.stdout.flush()
time.sleep(2)
' | timeout 20 openssl s_client -connect "127.0.0.1:$tport" -CAfile "$c/ca.pem" \
	-cert "$c/client.pem" -key "$c/client.key" -verify_return_error \
	-verify_hostname localhost > "$run/sc.out" 2> "$run/sc.err"
if ! grep -q "^New, TLSv1.3" "$run/sc.out"; then
	fail s_client "no TLS 1.3: $(cat "$run/sc.err" | head -5)"
elif ! grep -q "subject=CN *= *localhost" "$run/sc.out"; then
	fail s_client "not the daemon's certificate: $(grep -i subject "$run/sc.out")"
elif ! grep -q "Verify return code: 0 (ok)" "$run/sc.out"; then
	fail s_client "certificate not verified: $(grep -i verify "$run/sc.out")"
elif ! grep -aq "#sc#localhost" "$run/sc.out"; then
	fail s_client "no Spread accept inside TLS: $(tail -c 300 "$run/sc.out" | tr -c '[:print:]\n' .)"
elif echo | timeout 20 openssl s_client -connect "127.0.0.1:$tport" -tls1_2 \
	-CAfile "$c/ca.pem" -cert "$c/client.pem" -key "$c/client.key" \
	> "$run/sc12.out" 2>&1 || grep -q "^New, TLSv1.2" "$run/sc12.out"; then
	fail s_client "the daemon accepted TLS 1.2"
else
	pass s_client
fi

# ---- principal: the certificate's CN names the session ---------------
if grep -q "session #sc#localhost open (.*TLS, principal mirror1)" "$run/chorusd.log"; then
	pass principal
else
	fail principal "no session with principal mirror1: $(grep principal "$run/chorusd.log" | tail -2)"
fi

# ---- plaintext_refused: a plain client on the TLS port ---------------
mkfifo "$run/u.in"
# shellcheck disable=SC2086
"$B/chorus-user" -S -u tlsu -s "$addr" $CA $ME < "$run/u.in" > "$run/u.out" 2>&1 &
upid=$!
exec 7> "$run/u.in"
printf 'join room\nwait-memb room 1 10000\n' >&7
wait_for 'grep -q "^MEMB.*room" "$run/u.out"'
before=$(grep -c "TLS handshake with" "$run/chorusd.log")
printf 'quit\n' | timeout 10 "$B/chorus-user" -S -u plain -s "$tport@127.0.0.1" > "$run/p.out" 2>&1
prc=$?
printf 'send room still-here\nrecv 1 10000\n' >&7
wait_for 'grep -q "data=still-here" "$run/u.out"'
if [ "$prc" = 0 ] || ! grep -q "code=-8" "$run/p.out"; then
	fail plaintext_refused "plain client not refused with -8 (rc $prc): $(cat "$run/p.out")"
elif [ "$(grep -c "TLS handshake with" "$run/chorusd.log")" -le "$before" ]; then
	fail plaintext_refused "the refusal was not logged"
elif ! kill -0 "$dpid" 2>/dev/null; then
	fail plaintext_refused "chorusd died"
elif ! grep -q "data=still-here" "$run/u.out"; then
	fail plaintext_refused "the TLS client stopped working: $(tail -3 "$run/u.out")"
else
	pass plaintext_refused
fi
printf 'quit\n' >&7
exec 7>&-
wait "$upid" 2>/dev/null
upid=""

# try NAME CA-OPTION CERT-OPTIONS [ADDR]: a chorus-user connect attempt.
try() {
	n=$1; ca=$2; me=$3; a=${4:-$addr}
	# shellcheck disable=SC2086
	printf 'quit\n' | timeout 10 "$B/chorus-user" -S -u "$n" -s "$a" $ca $me \
		> "$run/$n.out" 2>&1
	echo $?
}

# ---- server_untrusted: the client checks the daemon ------------------
r1=$(try rogueca "--tls-ca $c/rogue-ca.pem" "$ME")
r2=$(try wrongname "$CA" "$ME" "tls:$tport@127.0.0.2")
r3=$(try good "$CA" "$ME")
if [ "$r1" = 0 ] || ! grep -q "code=-9.*daemon certificate refused" "$run/rogueca.out"; then
	fail server_untrusted "a daemon certificate of another CA was not refused: $(cat "$run/rogueca.out")"
elif [ "$r2" = 0 ] || ! grep -q "code=-9" "$run/wrongname.out"; then
	fail server_untrusted "a certificate for another address was not refused: $(cat "$run/wrongname.out")"
elif [ "$r3" != 0 ]; then
	fail server_untrusted "the right CA and name were refused: $(cat "$run/good.out")"
else
	pass server_untrusted
fi

# ---- client_refused: the daemon checks the client --------------------
r1=$(try nocert "$CA" "")
r2=$(try rogue "$CA" "--tls-cert $c/rogue.pem --tls-key $c/rogue.key")
r3=$(try expired "$CA" "--tls-cert $c/expired.pem --tls-key $c/expired.key")
if [ "$r1" = 0 ] || ! grep -q "code=-9" "$run/nocert.out"; then
	fail client_refused "no client certificate, not refused with -9: $(cat "$run/nocert.out")"
elif [ "$r2" = 0 ] || ! grep -q "code=-9" "$run/rogue.out"; then
	fail client_refused "a client certificate of another CA, not refused with -9: $(cat "$run/rogue.out")"
elif [ "$r3" = 0 ] || ! grep -q "code=-9" "$run/expired.out"; then
	fail client_refused "an expired client certificate, not refused with -9: $(cat "$run/expired.out")"
elif ! grep -q "client certificate refused: certificate has expired" "$run/chorusd.log"; then
	fail client_refused "the daemon did not log the expired certificate"
elif ! kill -0 "$dpid" 2>/dev/null; then
	fail client_refused "chorusd died"
else
	pass client_refused
fi

# ---- reload: SIGHUP loads the certificate and key again --------------
# fp: the fingerprint of the certificate the daemon shows now.
fp() {
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$tport" -CAfile "$c/ca.pem" \
		-cert "$c/client.pem" -key "$c/client.key" 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null
}
want1=$(openssl x509 -in "$c/server.pem" -noout -fingerprint -sha256)
want2=$(openssl x509 -in "$c/server2.pem" -noout -fingerprint -sha256)
got1=$(fp)
cp "$c/server2.pem" "$run/live.pem"
cp "$c/server2.key" "$run/live.key"
kill -HUP "$dpid"
wait_for 'grep -q "loaded again" "$run/chorusd.log"'
got2=$(fp)
echo "not a certificate" > "$run/live.pem"
kill -HUP "$dpid"
wait_for 'grep -q "TLS reload failed" "$run/chorusd.log"'
got3=$(fp)
r=$(try reloaded "$CA" "$ME")
if [ -z "$got1" ] || [ "$got1" != "$want1" ]; then
	fail reload "before SIGHUP the daemon showed '$got1', not the first certificate"
elif [ "$got2" != "$want2" ]; then
	fail reload "after SIGHUP the daemon showed '$got2', not the new certificate"
elif ! grep -q "TLS reload failed.*TlsCertificateFile $run/live.pem" "$run/chorusd.log"; then
	fail reload "a bad certificate file was not reported: $(grep -i reload "$run/chorusd.log")"
elif [ "$got3" != "$want2" ] || [ "$r" != 0 ]; then
	fail reload "after a bad file the daemon showed '$got3' (connect rc $r), not the last good certificate"
elif ! kill -0 "$dpid" 2>/dev/null; then
	fail reload "chorusd died"
else
	pass reload
fi

# ---- optional: client certificates asked for, not required -----------
oport=$(free_port)
otport=$(free_port)
daemon_conf "$run/optional.conf" "$oport" "$otport" "$c/server.pem" "$c/server.key" \
	"TlsClientCAFile = \"$c/ca.pem\"" "TlsClientVerify = optional"
"$B/chorusd" -c "$run/optional.conf" -n localhost -d session 2> "$run/optional.log" &
opid=$!
if ! wait_for '[ -S "$run/$oport" ]'; then
	fail optional "chorusd did not start: $(tail -3 "$run/optional.log")"
	exit 0
fi
r1=$(try anon "$CA" "" "tls:$otport@127.0.0.1")
r2=$(try named "$CA" "$ME" "tls:$otport@127.0.0.1")
r3=$(try rogue2 "$CA" "--tls-cert $c/rogue.pem --tls-key $c/rogue.key" "tls:$otport@127.0.0.1")
if [ "$r1" != 0 ] || ! grep -q "session #anon#localhost open (.*TLS)" "$run/optional.log"; then
	fail optional "a client without a certificate was not let in: $(cat "$run/anon.out")"
elif [ "$r2" != 0 ] || ! grep -q "session #named#localhost open (.*TLS, principal mirror1)" "$run/optional.log"; then
	fail optional "a valid client certificate gave no principal: $(cat "$run/named.out")"
elif [ "$r3" = 0 ] || ! grep -q "code=-9" "$run/rogue2.out"; then
	fail optional "a client certificate of another CA was not refused: $(cat "$run/rogue2.out")"
else
	pass optional
fi

# ---- hmac_binding: HMAC over TLS is bound to the TLS channel ---------
# A third chorusd allows HMAC only. Direct over TLS the client gets in; a
# relay that terminates the client's TLS (with a certificate the client
# trusts) and opens its own TLS link to the daemon passes the exchange
# through unchanged, and the daemon refuses it: the answer was made for
# the other channel. A client pinned to another daemon name refuses the
# challenge itself.
hport=$(free_port)
htport=$(free_port)
rport=$(free_port)
printf 'mirror-1 00112233445566778899aabbccddeeff\n' > "$run/hmac.secrets"
cp "$run/hmac.secrets" "$run/mirror.key"
chmod 0600 "$run/hmac.secrets" "$run/mirror.key"
daemon_conf "$run/hmac.conf" "$hport" "$htport" "$c/server.pem" "$c/server.key" \
	'AllowedAuthMethods = "HMAC"' "HmacSecretsFile = \"$run/hmac.secrets\""
"$B/chorusd" -c "$run/hmac.conf" -n localhost -d session,security 2> "$run/hmac.log" &
opid="$opid $!"
cat > "$run/relay.py" <<'PY'
import select, socket, ssl, sys
lport, dport, cert, key, ca, ready = sys.argv[1:]
srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
srv.load_cert_chain(cert, key)
cli = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cli.load_verify_locations(ca)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(lport)))
ls.listen(4)
open(ready, "w").close()
for _ in range(4):
    c, _ = ls.accept()
    c.settimeout(10)
    try:
        a = srv.wrap_socket(c, server_side=True)
        b = cli.wrap_socket(socket.create_connection(("127.0.0.1", int(dport)), 10),
                            server_hostname="localhost")
    except (OSError, ssl.SSLError):
        c.close()
        continue
    peer = {a: b, b: a}
    done = False
    while not done:
        r = [s for s in peer if s.pending()] or select.select(list(peer), [], [], 10)[0]
        if not r:
            break
        for s in r:
            try:
                d = s.recv(65536)
            except (OSError, ssl.SSLError):
                d = b""
            if not d:
                done = True
                break
            peer[s].sendall(d)
    a.close()
    b.close()
PY
python3 "$run/relay.py" "$rport" "$htport" "$c/server.pem" "$c/server.key" \
	"$c/ca.pem" "$run/relay.ready" 2> "$run/relay.err" &
opid="$opid $!"
if ! wait_for '[ -S "$run/$hport" ] && [ -e "$run/relay.ready" ]'; then
	fail hmac_binding "chorusd or the relay did not start: $(tail -n 3 "$run/hmac.log" "$run/relay.err")"
	exit 0
fi
export CHORUS_HMAC_KEY_FILE="$run/mirror.key"
r1=$(try hdirect "$CA" "" "tls:$htport@127.0.0.1")
r2=$(try hrelay "$CA" "" "tls:$rport@127.0.0.1")
r3=$(CHORUS_HMAC_DAEMON=elsewhere; export CHORUS_HMAC_DAEMON; try hpinned "$CA" "" "tls:$htport@127.0.0.1")
r4=$(CHORUS_HMAC_DAEMON=localhost; export CHORUS_HMAC_DAEMON; try hpinok "$CA" "" "tls:$htport@127.0.0.1")
unset CHORUS_HMAC_KEY_FILE
if [ "$r1" != 0 ]; then
	fail hmac_binding "HMAC over TLS was refused: $(cat "$run/hdirect.out")"
elif [ "$r2" = 0 ] || ! grep -q "code=-9" "$run/hrelay.out"; then
	fail hmac_binding "an exchange relayed over another TLS link was not refused: $(cat "$run/hrelay.out")"
elif ! grep -q "wrong secret for principal 'mirror-1'" "$run/hmac.log"; then
	fail hmac_binding "the daemon did not log the relayed answer: $(grep refused "$run/hmac.log" | tail -n 2)"
elif [ "$r3" = 0 ] || ! grep -q "code=-9" "$run/hpinned.out"; then
	fail hmac_binding "a client pinned to another daemon answered: $(cat "$run/hpinned.out")"
elif [ "$r4" != 0 ]; then
	fail hmac_binding "a client pinned to this daemon was refused: $(cat "$run/hpinok.out")"
else
	pass hmac_binding
fi
