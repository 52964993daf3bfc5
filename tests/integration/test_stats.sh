#!/bin/sh
# test_stats.sh - chorus-stats end to end on files: the JSON document of
# a small log against its golden file (tests/stats/small.json; the
# generation time is masked), gzip and zstd inputs give the same counts,
# incremental runs with a state file equal one run over the concatenation
# (also when the file is compressed between runs), filters, and refusals.
B=${CHORUS_BUILD:-build}
S="$B/chorus-stats"
# The generated logs are of November 2026: "now" is fixed, so the date
# bounds (--max-age) do not depend on the day the test runs.
cs() { "$S" --now 2026-12-01 "$@"; }
d=$(mktemp -d /tmp/chorus-statst-XXXXXX)
trap 'rm -rf "$d"' EXIT
pass() { echo "PASS test_stats.$1"; }
fail() { echo "FAIL test_stats.$1: $2"; }
norm() { sed -e 's/"generated":"[^"]*"/"generated":"-"/' -e 's/"files":[0-9]*/"files":-/' \
	-e 's/"state":\(true\|false\)/"state":-/' "$1"; }

# 1. Golden JSON.
if cs -q --json "$d/g.json" tests/stats/small.log && norm "$d/g.json" > "$d/g.norm" &&
	diff -u tests/stats/small.json "$d/g.norm" > "$d/g.diff"; then
	pass golden_json
else
	fail golden_json "differs from tests/stats/small.json: $(head -c 600 "$d/g.diff")"
fi

# 2. Compressed inputs read the same lines.
gzip -c tests/stats/small.log > "$d/s.log.gz"
zstd -q -c tests/stats/small.log > "$d/s.log.zst"
ok=1
for f in "$d/s.log.gz" "$d/s.log.zst"; do
	cs -q --json "$d/c.json" "$f" && norm "$d/c.json" > "$d/c.norm" &&
		sed 's#[^"]*/s\.log\.\(gz\|zst\):#tests/stats/small.log:#' "$d/c.norm" |
		cmp -s - tests/stats/small.json || ok=0
done
[ $ok = 1 ] && pass compressed_inputs || fail compressed_inputs "gz or zst counts differ"

# 3. Incremental: node dirs, a file that grows, then is compressed.
mkdir -p "$d/logs/n1" "$d/logs/n2"
"$B/bench/stats_gen" -n 6000 -s 11 -d 3 -N 2 -o "$d/all" > /dev/null
for n in node1 node2; do mkdir -p "$d/inc/$n"; done
# One run over everything.
cs -q --json "$d/one.json" "$d"/all/node*/access-*.log
# Runs with state: first the first half of each file, then the whole
# file, then the files compressed (nothing new), then nothing.
for f in "$d"/all/node*/access-*.log; do
	rel=${f#"$d"/all/}
	head -c $(( $(wc -c < "$f") / 2 )) "$f" > "$d/inc/$rel"
done
cs -q --state "$d/st" --json "$d/r1.json" "$d"/inc/node*/access-*.log
for f in "$d"/all/node*/access-*.log; do cp "$f" "$d/inc/${f#"$d"/all/}"; done
cs -q --state "$d/st" --json "$d/r2.json" "$d"/inc/node*/access-*.log
for f in "$d"/inc/node*/access-*.log; do zstd -q --rm "$f"; done
cs -q --state "$d/st" --json "$d/r3.json" "$d"/inc/node*/access-*.log.zst
# A visitor counts in the hour of its first line read, which depends on
# the order of reading (here not the order of one run): hours' visitors
# are masked; every other figure must be equal.
strip() { norm "$1" | sed -e 's#"source":"[^"]*"#"source":"-"#g' \
	-e 's/"bytes":[0-9]*,"filtered_out"/"bytes":-,"filtered_out"/' \
	-e '/^"hours"/s/"visitors":[0-9]*/"visitors":-/g'; }
if strip "$d/one.json" > "$d/one.n" && strip "$d/r2.json" > "$d/r2.n" &&
	strip "$d/r3.json" > "$d/r3.n" && cmp -s "$d/one.n" "$d/r2.n" && cmp -s "$d/one.n" "$d/r3.n"; then
	pass incremental_state
else
	fail incremental_state "two runs with a state differ from one run: $(diff "$d/one.n" "$d/r2.n" | head -c 600)"
fi
# A run whose first output is bigger than the half: the first state
# counted fewer lines.
l1=$(grep -o '"requests":[0-9]*' "$d/r1.json" | head -1 | cut -d: -f2)
l2=$(grep -o '"requests":[0-9]*' "$d/r2.json" | head -1 | cut -d: -f2)
[ "$l1" -lt "$l2" ] && [ "$l1" -gt 0 ] && pass incremental_grows || fail incremental_grows "$l1 vs $l2"

# 4. A damaged state is refused, other options are refused.
cp "$d/st" "$d/bad"
printf 'X' | dd of="$d/bad" bs=1 seek=100 conv=notrunc 2>/dev/null
if ! cs -q --state "$d/bad" "$d"/inc/node*/access-*.log.zst 2> "$d/err" && grep -q checksum "$d/err"; then
	pass state_damaged
else
	fail state_damaged "a damaged state was accepted"
fi
if ! cs -q --state "$d/st" --status 404 "$d"/inc/node*/access-*.log.zst 2> "$d/err" &&
	grep -q "other options" "$d/err"; then
	pass state_options
else
	fail state_options "a state of other options was accepted"
fi

# 5. Filters: --node and --from/--to and --status against the per-node
# and per-day figures of the unfiltered report.
cs -q --json "$d/f.json" --node node2 --from 2026-11-02 --to 2026-11-02 --status 2xx \
	"$d"/all/node*/access-*.log
want=$(python3 -c "
import json,sys
d=json.load(open('$d/one.json'))
n=[x for x in d['nodes'] if x['node']=='node2'][0]
print([x for x in n['days'] if x['date']=='2026-11-02'][0]['s2xx'])")
got=$(python3 -c "import json; print(json.load(open('$d/f.json'))['totals']['requests'])")
[ "$want" = "$got" ] && [ "$got" -gt 0 ] && pass filters || fail filters "got $got, expected $want"

# 6. Bad input is refused with a message.
cs -q --from 2026-13-01 - < /dev/null 2> "$d/err"; rc=$?
[ $rc = 2 ] && grep -q "expected a date" "$d/err" && pass bad_option || fail bad_option "rc $rc"
printf 'not gzip\037\213garbage' > "$d/x.gz"
printf '\037\213\010\000garbage' > "$d/y.gz"
if ! cs -q "$d/y.gz" 2> "$d/err" > /dev/null && grep -q "gzip" "$d/err"; then
	pass corrupt_input
else
	fail corrupt_input "a corrupt gzip file was not reported"
fi

# 7. An output that is not a regular file (a FIFO) is written in place,
# never replaced by a rename; a state path that is one is refused.
mkfifo "$d/fifo"
cat "$d/fifo" > "$d/fifo.out" &
cat_pid=$!
cs -q --json "$d/fifo" tests/stats/small.log
wait $cat_pid
if [ -p "$d/fifo" ] && grep -q '"schema":"chorus-stats"' "$d/fifo.out" &&
	! cs -q --state "$d/fifo" tests/stats/small.log > "$d/out" 2> "$d/err" &&
	grep -q "not a regular file" "$d/err"; then
	pass special_files
else
	fail special_files "a FIFO output was replaced or a FIFO state accepted"
fi

# 8. Visitors do not depend on the order of the files (the shell's glob
# gives node by node, a month each): glob order, date order, one file per
# node and month all equal an independent count of (address, day, agent)
# over the lines that are not 4xx.
"$B/bench/stats_gen" -n 60000 -s 3 -d 30 -N 3 -o "$d/mn" > /dev/null
for n in node1 node2 node3; do
	mkdir -p "$d/month/$n"
	cat "$d/mn/$n"/access-*.log > "$d/month/$n/access-202611.log"
done
cs -q --json "$d/o1.json" "$d"/mn/*/access-*.log
cs -q --json "$d/o2.json" $(ls "$d"/mn/*/access-*.log | sort -t/ -k"$(echo "$d/mn/x/y" | tr -cd / | wc -c)" -k1)
cs -q --json "$d/o3.json" "$d"/month/*/access-*.log
cs -q --json "$d/o4.json" "$d/month/node3/access-202611.log" "$d/month/node1/access-202611.log" \
	"$d/month/node2/access-202611.log"
res=$(python3 - "$d" <<'PY'
import ipaddress, json, re, sys, glob
d = sys.argv[1]
q = r'"((?:[^"\\]|\\.)*)"'
rx = re.compile(r'^(\S+) \S+ \S+ \[(\d\d/\w\w\w/\d{4}):[^\]]*\] ' + q +
                r' (\d{3}|-) (\d+|-)(?: ' + q + ' ' + q + ')?$')
MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()
tot, node = set(), {}
for f in glob.glob(d + '/mn/*/access-*.log'):
    n = f.split('/')[-2]
    for line in open(f, encoding='latin-1'):
        m = rx.match(line.rstrip('\n'))
        if not m or m.group(4)[0] == '4' or len(m.group(3).split(' ')) < 2 or \
                m.group(2)[3:6] not in MONTHS or not 1 <= int(m.group(2)[:2]) <= 31:
            continue
        try:  # one address however it is written (2001:db8:0:0::0 is 2001:db8::)
            ip = ipaddress.ip_address(m.group(1).strip('[]')).packed
        except ValueError:
            ip = m.group(1)
        k = (ip, m.group(2), m.group(7) if m.group(7) is not None else '-')
        tot.add(k)
        node.setdefault(n, set()).add(k)
want = (len(tot), sorted((n, len(v)) for n, v in node.items()))
bad = []
for o in ('o1', 'o2', 'o3', 'o4'):
    j = json.load(open(d + '/' + o + '.json'))
    got = (j['totals']['visitors'], sorted((x['node'], x['visitors']) for x in j['nodes']))
    if got != want or j['method']['visitors']['late_lines'] != 0:
        bad.append('%s: %s late %d' % (o, got, j['method']['visitors']['late_lines']))
print('ok %d' % want[0] if not bad else 'want %s; %s' % (want, '; '.join(bad)))
PY
)
case "$res" in ok*) pass order_independent ;; *) fail order_independent "$res" ;; esac

# 9. A line dated in the future (a node with a bad clock) is counted as
# malformed (future_time) and changes no other figure, also across runs
# with a state; dates beyond --max-age are too_old, so bogus dates make
# no more days than the bounds allow.
"$B/bench/stats_gen" -n 30000 -s 9 -d 3 > "$d/all.log"
head -15000 "$d/all.log" > "$d/fa.log"
echo '10.9.9.9 - - [01/Jan/2031:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"' >> "$d/fa.log"
tail -n +15001 "$d/all.log" > "$d/fb.log"
cs -q --json "$d/ref.json" "$d/all.log"
cs -q --state "$d/fst" --json /dev/null "$d/fa.log"
cs -q --state "$d/fst" --json "$d/fut.json" "$d/fb.log"
python3 -c "
import random
r = random.Random(5)
mon = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()
for i in range(3000):
    print('10.1.%d.%d - - [%02d/%s/%d:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"' %
          (i // 250, i % 250, r.randint(1, 28), r.choice(mon), r.randint(1970, 2243)))" > "$d/dates.log"
cs -q --max-age 365 --json "$d/dates.json" "$d/dates.log"
res=$(python3 - "$d" <<'PY'
import json, sys
d = sys.argv[1]
ref, fut, dates = (json.load(open(d + '/' + n + '.json')) for n in ('ref', 'fut', 'dates'))
bad = []
for k in ('requests', 'visitors', 'bytes'):
    if ref['totals'][k] != fut['totals'][k]:
        bad.append('%s %d != %d' % (k, fut['totals'][k], ref['totals'][k]))
m = fut['malformed']
want = dict(ref['malformed']['reasons'], future_time=1)
if m['reasons'] != want or 'future_time' not in [x['reason'] for x in m['examples']]:
    bad.append('malformed %s' % m)
if fut['method']['visitors']['late_lines'] != 0:
    bad.append('late lines')
r = dates['malformed']['reasons']
if len(dates['days']) > 367 or r.get('too_old', 0) + r.get('future_time', 0) + dates['totals']['requests'] != 3000 \
        or not r.get('too_old') or not r.get('future_time'):
    bad.append('dates: %d days, %s' % (len(dates['days']), r))
print('ok' if not bad else '; '.join(bad))
PY
)
[ "$res" = ok ] && pass future_dates || fail future_dates "$res"

# 10. The text summary names the malformed lines' reasons; CSV cells a
# spreadsheet would run as formulas are quoted.
{ head -3 tests/stats/small.log; echo garbage
  echo '10.0.0.1 - - [01/Nov/2026:00:00:00 +0000] "GET /x HTTP/1.1" 200 1 "-" "=HYPERLINK(1)"'; } > "$d/t.log"
cs -q --text --csv "$d/csv" "$d/t.log" > "$d/t.txt"
if grep -q "malformed: bad_field 1" "$d/t.txt" && grep -q "garbage" "$d/t.txt" &&
	grep -q "\"'=HYPERLINK(1)\"" "$d/csv/user_agents.csv"; then
	pass text_and_csv
else
	fail text_and_csv "$(cat "$d/t.txt" | head -20; ls "$d/csv")"
fi
