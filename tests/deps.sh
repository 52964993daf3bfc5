#!/bin/sh
# Installs the Debian packages the build and the tests need, when missing.
# FUZZ=1 adds clang and libFuzzer's runtime.
need=""
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
# python3: small helpers of the tests and benchmarks; apache2 and
# apache2-utils (ab): the chorus-log tests with a real httpd; zlib1g-dev
# and libzstd-dev: chorus-logd compresses rotated files (LOG_LIBS); zstd:
# the tests decompress them; libssl-dev: libcrypto, for chorus-log's stream
# ids of several groups (LOG_LIBS), and libssl, for TLS client links
# (TLS_LIBS); openssl: the TLS tests make their certificates with it and
# check the daemon with s_client; iproute2 and nftables: the network-namespace
# tests (tests/netns/: veth, bridge, tc netem, drops in one namespace);
# chromium: the HTML report of chorus-stats is opened in it, headless.
for p in gcc make libc6-dev iproute2 procps python3 apache2 apache2-utils \
	zlib1g-dev libzstd-dev libssl-dev openssl zstd nftables chromium; do
	have "$p" || need="$need $p"
done
if [ "${FUZZ:-0}" = 1 ]; then
	for p in clang libclang-rt-14-dev; do have "$p" || need="$need $p"; done
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$need (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq $need >/dev/null
