#!/bin/sh
# test_stats.sh - chorus-stats end to end on files: the JSON document of
# a small log against its golden file (tests/stats/small.json; the
# generation time is masked), gzip and zstd inputs give the same counts,
# incremental runs with a state file equal one run over the concatenation
# (also when the file is compressed between runs), filters, and refusals.
B=${CHORUS_BUILD:-build}
S="$B/chorus-stats"
d=$(mktemp -d /tmp/chorus-statst-XXXXXX)
trap 'rm -rf "$d"' EXIT
pass() { echo "PASS test_stats.$1"; }
fail() { echo "FAIL test_stats.$1: $2"; }
norm() { sed -e 's/"generated":"[^"]*"/"generated":"-"/' -e 's/"files":[0-9]*/"files":-/' \
	-e 's/"state":\(true\|false\)/"state":-/' "$1"; }

# 1. Golden JSON.
if "$S" -q --json "$d/g.json" tests/stats/small.log && norm "$d/g.json" > "$d/g.norm" &&
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
	"$S" -q --json "$d/c.json" "$f" && norm "$d/c.json" > "$d/c.norm" &&
		sed 's#[^"]*/s\.log\.\(gz\|zst\):#tests/stats/small.log:#' "$d/c.norm" |
		cmp -s - tests/stats/small.json || ok=0
done
[ $ok = 1 ] && pass compressed_inputs || fail compressed_inputs "gz or zst counts differ"

# 3. Incremental: node dirs, a file that grows, then is compressed.
mkdir -p "$d/logs/n1" "$d/logs/n2"
"$B/bench/stats_gen" -n 6000 -s 11 -d 3 -N 2 -o "$d/all" > /dev/null
for n in node1 node2; do mkdir -p "$d/inc/$n"; done
# One run over everything.
"$S" -q --json "$d/one.json" "$d"/all/node*/access-*.log
# Runs with state: first the first half of each file, then the whole
# file, then the files compressed (nothing new), then nothing.
for f in "$d"/all/node*/access-*.log; do
	rel=${f#"$d"/all/}
	head -c $(( $(wc -c < "$f") / 2 )) "$f" > "$d/inc/$rel"
done
"$S" -q --state "$d/st" --json "$d/r1.json" "$d"/inc/node*/access-*.log
for f in "$d"/all/node*/access-*.log; do cp "$f" "$d/inc/${f#"$d"/all/}"; done
"$S" -q --state "$d/st" --json "$d/r2.json" "$d"/inc/node*/access-*.log
for f in "$d"/inc/node*/access-*.log; do zstd -q --rm "$f"; done
"$S" -q --state "$d/st" --json "$d/r3.json" "$d"/inc/node*/access-*.log.zst
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
if ! "$S" -q --state "$d/bad" "$d"/inc/node*/access-*.log.zst 2> "$d/err" && grep -q checksum "$d/err"; then
	pass state_damaged
else
	fail state_damaged "a damaged state was accepted"
fi
if ! "$S" -q --state "$d/st" --status 404 "$d"/inc/node*/access-*.log.zst 2> "$d/err" &&
	grep -q "other options" "$d/err"; then
	pass state_options
else
	fail state_options "a state of other options was accepted"
fi

# 5. Filters: --node and --from/--to and --status against the per-node
# and per-day figures of the unfiltered report.
"$S" -q --json "$d/f.json" --node node2 --from 2026-11-02 --to 2026-11-02 --status 2xx \
	"$d"/all/node*/access-*.log
want=$(python3 -c "
import json,sys
d=json.load(open('$d/one.json'))
n=[x for x in d['nodes'] if x['node']=='node2'][0]
print([x for x in n['days'] if x['date']=='2026-11-02'][0]['s2xx'])")
got=$(python3 -c "import json; print(json.load(open('$d/f.json'))['totals']['requests'])")
[ "$want" = "$got" ] && [ "$got" -gt 0 ] && pass filters || fail filters "got $got, expected $want"

# 6. Bad input is refused with a message; --html says it is not built
# when the report module is absent.
"$S" -q --from 2026-13-01 - < /dev/null 2> "$d/err"; rc=$?
[ $rc = 2 ] && grep -q "expected a date" "$d/err" && pass bad_option || fail bad_option "rc $rc"
printf 'not gzip\037\213garbage' > "$d/x.gz"
printf '\037\213\010\000garbage' > "$d/y.gz"
if ! "$S" -q "$d/y.gz" 2> "$d/err" > /dev/null && grep -q "gzip" "$d/err"; then
	pass corrupt_input
else
	fail corrupt_input "a corrupt gzip file was not reported"
fi

# 7. An output that is not a regular file (a FIFO) is written in place,
# never replaced by a rename; a state path that is one is refused.
mkfifo "$d/fifo"
cat "$d/fifo" > "$d/fifo.out" &
cat_pid=$!
"$S" -q --json "$d/fifo" tests/stats/small.log
wait $cat_pid
if [ -p "$d/fifo" ] && grep -q '"schema":"chorus-stats"' "$d/fifo.out" &&
	! "$S" -q --state "$d/fifo" tests/stats/small.log > "$d/out" 2> "$d/err" &&
	grep -q "not a regular file" "$d/err"; then
	pass special_files
else
	fail special_files "a FIFO output was replaced or a FIFO state accepted"
fi
