#!/bin/sh
# bench/log_bench.sh BUILD_DIR - chorus-log figures (never assertions):
#  1. lines/s from standard input (a file, then a pipe) into the spool
#     alone (daemon unreachable);
#  2. lines/s from standard input through chorusd to an acknowledging
#     writer (bench/log_sink), all lines acknowledged, with ~200-byte
#     combined lines;
#  3. Apache (event MPM, ab -c 16, keep-alive off) requests/s with
#     chorus-log piped to chorusd and the sink, against `cat >> file`
#     piped logging, in the same run; prints the ratio.
# LOG_BENCH_LINES (default 1000000) and LOG_BENCH_REQUESTS (50000).
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
B="$top/$B"
N=${LOG_BENCH_LINES:-1000000}
R=${LOG_BENCH_REQUESTS:-50000}
run=$(mktemp -d /tmp/chorus-logbench-XXXXXX)
chmod 755 "$run"
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$run"' EXIT
. "$top/bench/lib.sh"
bench_start_chorusd

awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
	printf "192.0.2.%d - - [01/Jan/2025:00:00:%02d +0000] \"GET /debian/pool/main/p/pkg/pkg_%d_amd64.deb HTTP/1.1\" 200 %d \"-\" \"http://mirror.example.org/debian/dists/bookworm/main/\" \"Debian APT-HTTP/1.3 (2.6.1) non-interactive\"\n", i % 250, i % 60, i, 1000 + i % 90000 }' \
	> "$run/lines"
bytes=$(wc -c < "$run/lines")
echo "log_bench: $N lines, $((bytes / N)) bytes each on average"

now() { date +%s.%N; }

# 1. Into the spool only.
t0=$(now)
"$B/chorus-log" -g bench -h node1 -s 1@127.0.0.1 -d "$run/spool1" -T 0 -i 0 \
	< "$run/lines" 2> "$run/log1.err"
t1=$(now)
awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN { printf "log_bench: stdin -> spool (daemon unreachable): %.0f lines/s\n", n / (b - a) }'

# 1b. Into the spool from a pipe (as from Apache: moved with splice).
t0=$(now)
cat "$run/lines" | "$B/chorus-log" -g bench -h node1 -s 1@127.0.0.1 -d "$run/spool1b" -T 0 -i 0 \
	2> "$run/log1b.err"
t1=$(now)
awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN { printf "log_bench: stdin pipe -> spool (daemon unreachable): %.0f lines/s\n", n / (b - a) }'

# 2. Through the daemon to an acknowledging writer.
"$B/bench/log_sink" "$port@127.0.0.1" bench "$N" 120 > "$run/sink.out" &
sink=$!
pids="$pids $sink"
i=0
until grep -q ready "$run/sink.out" 2>/dev/null || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
t0=$(now)
"$B/chorus-log" -g bench -h node1 -s "$port@127.0.0.1" -d "$run/spool2" -T 60000 -i 0 \
	< "$run/lines" 2> "$run/log2.err"
t1=$(now)
wait $sink
awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN { printf "log_bench: stdin -> spool -> chorusd -> writer, all acknowledged: %.0f lines/s\n", n / (b - a) }'
grep -h "end of input" "$run/log2.err" | sed 's/^/log_bench: /'

# 3. Apache.
if [ ! -x /usr/sbin/apache2 ] || [ ! -x /usr/bin/ab ]; then
	echo "log_bench: apache2 or ab missing; Apache figures skipped"
	exit 0
fi
M=/usr/lib/apache2/modules
hport=$(bench_free_port)
mkdir -p "$run/htdocs"
echo '<html><body>chorus</body></html>' > "$run/htdocs/index.html"
user=""
[ "$(id -u)" = 0 ] && user="User www-data
Group www-data"
apache_rate() { # customlog-target
	cat > "$run/httpd.conf" <<CONF
ServerRoot "$run"
ServerName 127.0.0.1
Listen 127.0.0.1:$hport
PidFile $run/httpd.pid
ErrorLog $run/error.log
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule dir_module $M/mod_dir.so
LoadModule mime_module $M/mod_mime.so
TypesConfig /dev/null
$user
DocumentRoot "$run/htdocs"
<Directory "$run/htdocs">
  Require all granted
</Directory>
DirectoryIndex index.html
KeepAlive Off
CustomLog "$1" combined
LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined
CONF
	/usr/sbin/apache2 -f "$run/httpd.conf" -DFOREGROUND &
	ap=$!
	i=0
	until ab -q -n 1 "http://127.0.0.1:$hport/" >/dev/null 2>&1 || [ $i -gt 300 ]; do
		sleep 0.05; i=$((i + 1)); done
	ab -q -n "$R" -c 16 "http://127.0.0.1:$hport/" 2>/dev/null |
		sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p'
	kill $ap; wait $ap 2>/dev/null
}
"$B/bench/log_sink" "$port@127.0.0.1" apache 100000000 600 > "$run/sink2.out" &
pids="$pids $!"
best_cat=0; best_log=0
for round in 1 2 3; do
	c=$(apache_rate "|/bin/sh -c 'cat >> $run/cat.log'")
	l=$(apache_rate "|$B/chorus-log -g apache -h node1 -s $port@127.0.0.1 -d $run/spool3 -i 0")
	echo "log_bench: round $round: Apache with cat >> file $c req/s, with chorus-log $l req/s"
	best_cat=$(awk -v a="$best_cat" -v b="$c" 'BEGIN { print (b > a) ? b : a }')
	best_log=$(awk -v a="$best_log" -v b="$l" 'BEGIN { print (b > a) ? b : a }')
done
awk -v c="$best_cat" -v l="$best_log" 'BEGIN { printf "log_bench: Apache best of 3: cat %.0f req/s, chorus-log %.0f req/s, ratio %.3f\n", c, l, l / c }'
