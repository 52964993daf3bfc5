/*
 * test_spool.c - chorus-log's spool (src/log/spool.c): append, read,
 * acknowledge and reopen; overflow drops the oldest and counts; torn
 * tails; two processes on one spool and the adoption of a left-over
 * stream; and SIGKILL at random points during writes, after which every
 * line that was appended is found exactly once and in order.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log/spool.h"
#include "t.h"

static char root[64];

/* Options of a test stream: boot 1, no input identity unless given. */
static const struct spool_opts *opts(uint64_t max)
{
	static struct spool_opts o;

	memset(&o, 0, sizeof(o));
	o.max_bytes = max;
	o.max_line = 64 * 1024;
	o.boot_id = 1;
	return &o;
}

static int sp_open(struct spool *sp, const char *gdir, uint64_t max, char *err,
		   size_t errlen)
{
	return spool_open(sp, gdir, opts(max), err, errlen);
}

static uint64_t app(struct spool *sp, const char *buf, size_t len)
{
	struct spool_io io;

	T_EQ(spool_append(sp, buf, len, &io), 0);
	return io.dropped;
}

static void mkroot(void)
{
	snprintf(root, sizeof(root), "/tmp/chorus-spool-XXXXXX");
	T_ASSERT(mkdtemp(root) != NULL);
}

static void rmroot(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	T_EQ(system(cmd), 0);
}

/* Appends lines "<seq> <pad>\n" for seq in [from, to). */
static void put_lines(struct spool *sp, uint64_t from, uint64_t to, int pad)
{
	char buf[65536];
	size_t o = 0;

	for (uint64_t s = from; s < to; s++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%llu %.*s\n",
				      (unsigned long long)s, pad,
				      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		if (o > sizeof(buf) - 200 || s + 1 == to) {
			app(sp, buf, o);
			o = 0;
		}
	}
}

/* Reads every line from seq on and checks they are from..to-1. */
static void check_lines(struct spool *sp, uint64_t from, uint64_t to)
{
	struct spool_cursor cur;
	static char buf[200000];
	uint64_t expect = from;

	T_EQ(spool_seek(sp, &cur, from, NULL), 0);
	for (;;) {
		uint64_t first;
		uint32_t lines;
		ssize_t r = spool_read(sp, &cur, buf, sizeof(buf), &first, &lines);
		char *p = buf;

		T_ASSERTF(r >= 0, "spool_read: %s", strerror((int)-r));
		if (r == 0)
			break;
		T_EQ(first, expect);
		for (uint32_t i = 0; i < lines; i++) {
			T_EQ(strtoull(p, &p, 10), expect);
			p = strchr(p, '\n') + 1;
			expect++;
		}
		T_EQ(p - buf, r);
	}
	T_EQ(expect, to);
}

static void spool_group_dir_table(void)
{
	static const struct { const char *g, *n, *out; } cases[] = {
		{ "jigdo", "node1.example.org", "/r/jigdo@node1.example.org" },
		{ "a/b", "..", "/r/a%2Fb@%2E." },
		{ "x y", "n@m", "/r/x%20y@n%40m" },
	};
	char out[128];

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		T_EQ(spool_group_dir("/r", cases[i].g, cases[i].n, out, sizeof(out)), 0);
		T_STREQ(out, cases[i].out);
	}
	T_EQ(spool_group_dir("/r", "abcdefgh", "n", out, 10), -1);
}

/* spool_dir_group() reads back exactly the names spool_group_dir()
 * makes for its node, and nothing else. */
static void spool_dir_group_table(void)
{
	static const struct { const char *name, *node, *group; } cases[] = {
		{ "jigdo@node1.example.org", "node1.example.org", "jigdo" },
		{ "a%2Fb@%2E.", "..", "a/b" },
		{ "x%20y@n%40m", "n@m", "x y" },
		{ "%E2%82%AC@n", "n", "\xe2\x82\xac" },
		{ "jigdo@node2", "node1", NULL },        /* another node */
		{ "jigdo@node1.x", "node1", NULL },
		{ "jigdo", "node1", NULL },              /* no '@' */
		{ "@node1", "node1", NULL },             /* no group */
		{ "a%2fb@n", "n", NULL },                /* not as it is made */
		{ "a%2@n", "n", NULL },                  /* cut escape */
		{ "a%00b@n", "n", NULL },                /* a NUL byte */
		{ "a b@n", "n", NULL },                  /* should be escaped */
		{ ".a@n", "n", NULL },                   /* leading dot */
	};
	char group[SPOOL_GROUP_NAME_MAX + 1], dir[SPOOL_PATH_MAX], node[256];

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		int r = spool_dir_group(cases[i].name, cases[i].node, group, sizeof(group));

		T_ASSERTF(r == (cases[i].group != NULL), "case %zu (%s): %d", i, cases[i].name, r);
		if (cases[i].group)
			T_STREQ(group, cases[i].group);
	}
	/* Too small a buffer is a refusal, not a cut name. */
	T_EQ(spool_dir_group("jigdo@n", "n", group, 5), 0);
	T_EQ(spool_dir_group("jigdo@n", "n", group, 6), 1);
	/* A name shortened in its node part still names its group; one
	 * shortened in its group part cannot be read back. */
	memset(node, 'n', 255);
	node[255] = 0;
	T_EQ(spool_group_dir("/r", "jigdo", node, dir, sizeof(dir)), 0);
	T_ASSERT(strchr(dir, '~') != NULL);
	T_EQ(spool_dir_group(dir + 3, node, group, sizeof(group)), 1);
	T_STREQ(group, "jigdo");
	node[250] = 0;
	T_EQ(spool_group_dir("/r", node, "n", dir, sizeof(dir)), 0);
	T_ASSERT(strchr(dir, '~') != NULL);
	T_EQ(spool_dir_group(dir + 3, "n", group, sizeof(group)), 0);
}

static void spool_append_read_ack(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], gdir[128];
	uint64_t id;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	T_ASSERTF(sp_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_ASSERT(st.stream_id != 0);
	T_EQ(st.next_seq, 1);
	id = st.stream_id;
	put_lines(&sp, 1, 20001, 40);
	check_lines(&sp, 1, 20001);
	check_lines(&sp, 12345, 20001);
	spool_stats(&sp, &st);
	T_EQ(st.unacked, 20000);
	T_ASSERT(sp.nsegs > 3);
	T_EQ(spool_ack(&sp, 0, 15000), 0);
	spool_stats(&sp, &st);
	T_EQ(st.unacked, 5000);
	T_EQ(st.dropped, 0);
	T_ASSERT(st.base > 1 && st.base <= 15001);
	/* Reading below the base lands on it. */
	spool_close(&sp);

	T_ASSERTF(sp_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.stream_id, id);
	T_EQ(st.acked, 15000);
	T_EQ(st.next_seq, 20001);
	check_lines(&sp, 15001, 20001);
	put_lines(&sp, 20001, 20101, 10);
	check_lines(&sp, 15001, 20101);
	/* Acks beyond what exists are clamped; acking all keeps the last
	 * segment, so numbering continues after a restart. */
	T_EQ(spool_ack(&sp, 0, 999999), 0);
	spool_stats(&sp, &st);
	T_EQ(st.acked, 20100);
	T_EQ(st.unacked, 0);
	T_EQ(sp.nsegs, 1);
	spool_close(&sp);
	T_ASSERTF(sp_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.next_seq, 20101);
	spool_close(&sp);
	rmroot();
}

/* A 1 MiB spool given 3 MiB: the oldest segments go, counted, and the
 * count survives a restart. */
static void spool_overflow(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], gdir[128];

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	T_ASSERTF(sp_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	put_lines(&sp, 1, 30001, 90);
	spool_stats(&sp, &st);
	T_ASSERT(st.bytes <= 1 << 20);
	T_ASSERT(st.dropped > 15000);
	T_EQ(st.base, st.dropped + 1);
	T_EQ(st.unacked + st.dropped, 30000);
	/* Reading from 1 starts at the base. */
	check_lines(&sp, st.base, 30001);
	spool_close(&sp);
	T_ASSERTF(sp_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	{
		struct spool_stats st2;

		spool_stats(&sp, &st2);
		T_EQ(st2.dropped, st.dropped);
		T_EQ(st2.base, st.base);
	}
	spool_close(&sp);
	rmroot();
}

/* Two processes: the second gets a stream of its own; when the first
 * closes with lines left, the second adopts them, drains and removes
 * the stream. */
static void spool_two_and_adopt(void)
{
	struct spool a, b, c;
	struct spool_stats sa, sb;
	char err[256], gdir[128];
	int fds[2], status;
	pid_t pid;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	T_ASSERTF(sp_open(&a, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	put_lines(&a, 1, 101, 5);
	T_EQ(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		/* Another process: it must not get a's stream. */
		if (sp_open(&b, gdir, 1 << 20, err, sizeof(err)) != 0)
			_exit(1);
		spool_stats(&b, &sb);
		if (write(fds[1], &sb, sizeof(sb)) != (ssize_t)sizeof(sb))
			_exit(2);
		put_lines(&b, 1, 51, 5);
		spool_close(&b);
		_exit(0);
	}
	T_EQ(read(fds[0], &sb, sizeof(sb)), sizeof(sb));
	waitpid(pid, &status, 0);
	T_EQ(status, 0);
	spool_stats(&a, &sa);
	T_ASSERT(sa.stream_id != sb.stream_id);
	/* a adopts b's left-over stream (never its own). */
	T_EQ(spool_adopt(&c, gdir, "g", sa.stream_id, 10, 65536, err, sizeof(err)), 1);
	spool_stats(&c, &sb);
	T_EQ(sb.unacked, 50);
	check_lines(&c, 1, 51);
	{
		struct spool_io io;

		T_EQ(spool_append(&c, "x\n", 2, &io), -EBADF);
	}
	T_EQ(spool_ack(&c, 0, 50), 0);
	T_EQ(spool_remove(&c), 0);
	T_EQ(spool_adopt(&c, gdir, "g", sa.stream_id, 10, 65536, err, sizeof(err)), 0);
	spool_close(&a);
	/* Now a's stream is free: the next open takes it up again. */
	T_ASSERTF(sp_open(&a, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&a, &sb);
	T_EQ(sb.stream_id, sa.stream_id);
	T_EQ(sb.next_seq, 101);
	spool_close(&a);
	rmroot();
}

/* Line seq of the kill tests: "<seq> " and a letter repeated a length
 * that depends on seq only, so any process can write any part of it. */
static size_t kline(uint64_t seq, char *out)
{
	size_t pad = (size_t)((seq * 2654435761u) % 400), o;

	o = (size_t)sprintf(out, "%llu ", (unsigned long long)seq);
	memset(out + o, 'a' + (int)(seq % 26), pad);
	o += pad;
	out[o++] = '\n';
	return o;
}

/* Reads every line from `from` and checks that line k is kline(k), for
 * k up to (not including) to; returns the lines read. */
static uint64_t check_klines(struct spool *sp, uint64_t from, uint64_t to)
{
	struct spool_cursor cur;
	static char buf[400000];
	char want[512];
	uint64_t expect = from, n = 0;

	T_EQ(spool_seek(sp, &cur, from, NULL), 0);
	for (;;) {
		uint64_t first;
		uint32_t lines;
		ssize_t r = spool_read(sp, &cur, buf, sizeof(buf), &first, &lines);
		char *p = buf;

		T_ASSERTF(r >= 0, "spool_read: %s", strerror((int)-r));
		if (r == 0)
			break;
		T_ASSERTF(first == expect, "first %llu, expected %llu",
			  (unsigned long long)first, (unsigned long long)expect);
		for (uint32_t i = 0; i < lines; i++) {
			size_t l = kline(expect, want);

			T_ASSERTF(memcmp(p, want, l) == 0, "line %llu: %.40s",
				  (unsigned long long)expect, p);
			p += l;
			expect++;
			n++;
		}
		T_EQ(p - buf, r);
	}
	T_EQ(expect, to);
	return n;
}

/* Like check_klines, but lines [gap_lo, gap_hi) are expected to be
 * missing (0, 0: none). Returns the lines read. */
static uint64_t check_klines_gap(struct spool *sp, uint64_t from, uint64_t to,
				 uint64_t gap_lo, uint64_t gap_hi)
{
	struct spool_cursor cur;
	static char buf[400000];
	char want[512];
	uint64_t expect = from, n = 0;

	T_EQ(spool_seek(sp, &cur, from, NULL), 0);
	for (int reads = 0;; reads++) {
		uint64_t first;
		uint32_t lines;
		ssize_t r = spool_read(sp, &cur, buf, sizeof(buf), &first, &lines);
		char *p = buf;

		T_ASSERT(reads < 100000);
		T_ASSERTF(r >= 0, "spool_read: %s", strerror((int)-r));
		if (r == 0)
			break;
		if (expect == gap_lo)
			expect = gap_hi;
		T_ASSERTF(first == expect, "first %llu, expected %llu",
			  (unsigned long long)first, (unsigned long long)expect);
		for (uint32_t i = 0; i < lines; i++) {
			size_t l = kline(expect, want);

			T_ASSERTF(memcmp(p, want, l) == 0, "line %llu: %.40s",
				  (unsigned long long)expect, p);
			p += l;
			expect++;
			n++;
		}
	}
	T_EQ(expect, to);
	return n;
}

/* The writer of spool_kill9: continues the stream exactly where the spool
 * ends (the start of an unfinished line included, as the next process on
 * the same pipe does), appends chunks cut at random bytes, sometimes
 * acknowledges (so segments are trimmed), and reports after each call
 * returns: the lines it completed and what it acknowledged. */
static void kill_writer(const char *gdir, int fd, unsigned seed)
{
	static char buf[300000];
	struct spool sp;
	struct spool_stats st;
	struct spool_opts o = *opts(64 << 20);
	char err[256], line[512];
	uint64_t seq, rep[2];
	size_t skip;

	o.input_ino = 42;
	if (spool_open(&sp, gdir, &o, err, sizeof(err)) != 0)
		_exit(3);
	spool_stats(&sp, &st);
	seq = st.next_seq;
	skip = (size_t)st.tail;
	rep[1] = st.acked;
	for (;;) {
		size_t n = 0, want = 1 + (size_t)(rand_r(&seed) % 60000);
		struct spool_io io;

		while (n < want) {
			size_t l = kline(seq, line) - skip;

			if (n + l > want) {
				/* Stop inside this line. */
				memcpy(buf + n, line + skip, want - n);
				skip += want - n;
				n = want;
				break;
			}
			memcpy(buf + n, line + skip, l);
			n += l;
			skip = 0;
			seq++;
		}
		if (spool_append(&sp, buf, n, &io) != 0)
			_exit(4);
		rep[0] = seq;
		if (rand_r(&seed) % 8 == 0 && seq > 2000) {
			rep[1] = seq - 1 - (uint64_t)(rand_r(&seed) % 2000);
			spool_ack(&sp, 0, rep[1]);
		}
		if (write(fd, rep, sizeof(rep)) != (ssize_t)sizeof(rep))
			_exit(5);
	}
}

/* SIGKILL at random points while appending (partial lines included) and
 * trimming: the next process finds every line whose append returned,
 * once, in order, intact, continues the unfinished one, and never finds
 * lines missing below what the state says is acknowledged. */
static void spool_kill9(void)
{
	char err[256], gdir[128];
	unsigned seed = (unsigned)time(NULL);
	uint64_t reported = 1, acked = 0;
	struct spool_opts o = *opts(64 << 20);

	(void)acked;

	o.input_ino = 42;
	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	printf("seed %u\n", seed);
	for (int round = 0; round < 30; round++) {
		struct spool sp;
		struct spool_stats st;
		struct timespec ts = { 0, 1000000 + (long)(rand_r(&seed) % 30000000) };
		int fds[2], status;
		uint64_t v[2], id0 = 0;
		pid_t pid;

		T_EQ(pipe(fds), 0);
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			kill_writer(gdir, fds[1], seed + (unsigned)round);
		}
		close(fds[1]);
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		T_ASSERT(WIFSIGNALED(status));
		while (read(fds[0], v, sizeof(v)) == (ssize_t)sizeof(v)) {
			reported = v[0];
			acked = v[1];
		}
		close(fds[0]);
		T_ASSERTF(spool_open(&sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
		spool_stats(&sp, &st);
		if (round == 0)
			id0 = st.stream_id;
		T_ASSERTF(id0 == 0 || st.stream_id == id0, "round %d: a new stream", round);
		T_ASSERTF(st.next_seq >= reported, "round %d: next %llu < reported %llu",
			  round, (unsigned long long)st.next_seq,
			  (unsigned long long)reported);
		T_EQ(st.dropped, 0);
		/* Trimmed lines were acknowledged on disk first. */
		T_ASSERTF(st.base <= st.acked + 1, "round %d: base %llu, acked %llu", round,
			  (unsigned long long)st.base, (unsigned long long)st.acked);
		check_klines(&sp, st.base, st.next_seq);
		spool_close(&sp);
	}
	T_ASSERT(reported > 1000);
	rmroot();
}

/* The adopter of spool_kill9_adopt: adopts left-over streams, checks and
 * acknowledges their lines, removes them. */
static void kill_adopter(const char *gdir)
{
	char err[256];

	for (;;) {
		struct spool sp;
		struct spool_stats st;
		int r = spool_adopt(&sp, gdir, "g", 0, 10, 65536, err, sizeof(err));

		if (r < 0)
			_exit(3);
		if (r == 0)
			_exit(0);
		spool_stats(&sp, &st);
		spool_ack(&sp, 0, st.next_seq - 1);
		if (spool_remove(&sp) != 0)
			_exit(4);
	}
}

/* SIGKILL at random points while streams are adopted, acknowledged and
 * removed: what is left is always whole streams that open and read
 * correctly, never a half-removed one. */
static void spool_kill9_adopt(void)
{
	char err[256], gdir[128], cmd[300];
	unsigned seed = (unsigned)time(NULL) ^ 77;
	struct spool s[12];
	int left = 12;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	printf("seed %u\n", seed);
	for (int i = 0; i < 12; i++) {
		T_ASSERTF(sp_open(&s[i], gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
		for (uint64_t k = 1; k <= 3000; k += 100) {
			char buf[60000];
			size_t n = 0;

			for (uint64_t j = k; j < k + 100; j++)
				n += kline(j, buf + n);
			app(&s[i], buf, n);
		}
	}
	for (int i = 0; i < 12; i++)
		spool_close(&s[i]);
	for (int round = 0; round < 200 && left > 0; round++) {
		struct timespec ts = { 0, (long)(rand_r(&seed) % 3000000) };
		int status, n = 0;
		pid_t pid = fork();
		FILE *fp;

		if (pid == 0)
			kill_adopter(gdir);
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		/* Every stream left adopts and reads whole. */
		for (;;) {
			struct spool a[12];
			int k = 0, r;

			while (k < 12 && (r = spool_adopt(&a[k], gdir, "g", 0, 10, 65536, err,
							  sizeof(err))) == 1) {
				struct spool_stats st;

				spool_stats(&a[k], &st);
				check_klines(&a[k], st.base, st.next_seq);
				k++;
			}
			T_ASSERTF(r >= 0, "%s", err);
			n = k;
			for (int j = 0; j < k; j++)
				spool_close(&a[j]);
			break;
		}
		T_ASSERT(n <= left);
		left = n;
		snprintf(cmd, sizeof(cmd), "ls -A %s | grep -v '^s-\\|^\\.del-' | wc -l", gdir);
		fp = popen(cmd, "r");
		T_ASSERT(fp && fscanf(fp, "%d", &n) == 1);
		pclose(fp);
		T_EQ(n, 0);
	}
	T_EQ(left, 0);
	rmroot();
}

/* ---- kill -9 on the pipe path, with overlong lines ---- */

#define PK_MAX 1024

/* Line k of spool_kill9_pipe: mostly short, some a little over
 * PK_MAX, a few far over it. Returns its length (with '\n'). */
static size_t pk_line(uint64_t k, char *out)
{
	unsigned h = (unsigned)(k * 2654435761u) >> 8;
	size_t len = h % 20 == 3 ? 900 + h % 2500 : h % 97 == 5 ? 20000 + h % 60000 : 60 + h % 150;
	int m = sprintf(out, "L%llu ", (unsigned long long)k);

	for (size_t i = (size_t)m; i < len; i++)
		out[i] = (char)('a' + (k + i) % 26);
	out[len] = '\n';
	return len + 1;
}

/* The child of spool_kill9_pipe: takes from the pipe until killed, or
 * until its end (then finishes and exits 0). */
static void pipe_taker(const char *gdir, int fd)
{
	struct spool_opts o = *opts(64 << 20);
	struct spool sp;
	struct intake in;
	char err[256];

	o.max_line = PK_MAX;
	o.input_ino = 43;
	if (spool_open(&sp, gdir, &o, err, sizeof(err)) != 0 ||
	    in_open(&in, fd, SPOOL_CHUNK_MAX) != 0)
		_exit(3);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		struct spool_io io;
		const char *t;
		ssize_t r;

		poll(&p, 1, 5);
		r = spool_take(&sp, &in, (p.revents & POLLHUP) != 0, &t, &io);
		if (r == 0)
			break;
		if (r < 0 && r != -EAGAIN)
			_exit(4);
	}
	spool_finish(&sp, &(struct spool_io){ 0 });
	spool_close(&sp);
	_exit(0);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t start_taker(const char *gdir, int fd, int wfd)
{
	pid_t pid = fork();

	if (pid == 0) {
		close(wfd);
		pipe_taker(gdir, fd);
	}
	T_ASSERT(pid > 0);
	return pid;
}

/* SIGKILL at random points while lines, some overlong, are spliced from
 * a pipe that outlives the processes (as Apache keeps it): every line
 * comes out once, in order, whole or cut with its marker; none is lost,
 * joined or left uncut. */
static void spool_kill9_pipe(void)
{
	static char line[100000];
	char err[256], gdir[128], *buf, *rd;
	unsigned seed = (unsigned)time(NULL);
	size_t len = 0, pos = 0, keep = PK_MAX - LB_MARKER_MAX;
	uint64_t count = 6000, k, unknown = 0, cut = 0;
	int fds[2], kills = 0, status;
	struct spool_opts o = *opts(64 << 20);
	struct spool sp;
	struct spool_cursor cur;
	int64_t next_kill;
	pid_t pid;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	printf("seed %u\n", seed);
	for (k = 0; k < count; k++)
		len += pk_line(k, line);
	buf = malloc(len);
	T_ASSERT(buf != NULL);
	for (k = 0, len = 0; k < count; k++)
		len += pk_line(k, buf + len);
	T_EQ(pipe(fds), 0);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	pid = start_taker(gdir, fds[0], fds[1]);
	next_kill = mono_ms() + 5 + rand_r(&seed) % 40;
	while (pos < len) {
		size_t n = 1 + (size_t)rand_r(&seed) % 30000;
		ssize_t w = write(fds[1], buf + pos, n < len - pos ? n : len - pos);

		if (w > 0)
			pos += (size_t)w;
		usleep(w > 0 ? 3000 : 300);
		if (mono_ms() >= next_kill) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			kills++;
			pid = start_taker(gdir, fds[0], fds[1]);
			next_kill = mono_ms() + 5 + rand_r(&seed) % 40;
		}
	}
	close(fds[1]);
	T_EQ(waitpid(pid, &status, 0), pid);
	T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	close(fds[0]);
	T_ASSERT(kills >= 5);
	/* Everything, in order. */
	o.max_line = PK_MAX;
	o.input_ino = 43;
	T_ASSERTF(spool_open(&sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	T_EQ(spool_seek(&sp, &cur, 1, NULL), 0);
	rd = malloc(SPOOL_CHUNK_MAX);
	k = 0;
	for (;;) {
		uint64_t first;
		uint32_t lines;
		ssize_t r = spool_read(&sp, &cur, rd, SPOOL_CHUNK_MAX, &first, &lines);
		char *p = rd;

		T_ASSERT(r >= 0);
		if (r == 0)
			break;
		for (uint32_t i = 0; i < lines; i++, k++) {
			size_t l = pk_line(k, line) - 1;
			char *nl = memchr(p, '\n', (size_t)(rd + r - p));
			size_t ol = (size_t)(nl - p);

			T_ASSERTF(k < count, "more lines than written");
			if (l <= PK_MAX) {
				T_ASSERTF(ol == l && memcmp(p, line, l) == 0,
					  "line %llu changed (%zu, %zu): %.60s", (unsigned long long)k,
					  l, ol, p);
			} else {
				char want[80];
				int m = snprintf(want, sizeof(want), " [chorus-log: line cut, %zu bytes]", l);

				T_ASSERTF(ol <= PK_MAX && memcmp(p, line, keep) == 0,
					  "line %llu: not its start (%zu bytes): %.60s",
					  (unsigned long long)k, ol, p);
				if (ol == keep + (size_t)m && memcmp(p + keep, want, (size_t)m) == 0) {
					cut++;
				} else {
					T_ASSERTF(ol == keep + 23 && memcmp(p + keep,
						  " [chorus-log: line cut]", 23) == 0,
						  "line %llu: bad marker %.*s", (unsigned long long)k,
						  (int)(ol - keep), p + keep);
					unknown++;
				}
			}
			p = nl + 1;
		}
	}
	fprintf(stderr, "spool_kill9_pipe: %d kills, %llu lines, %llu cut with their length, %llu after a restart\n", kills,
	       (unsigned long long)k, (unsigned long long)cut, (unsigned long long)unknown);
	T_EQ(k, count);
	{
		struct spool_stats st;

		spool_stats(&sp, &st);
		T_EQ(st.dropped, 0);
	}
	free(rd);
	free(buf);
	spool_close(&sp);
	rmroot();
}

/* A stored line longer than any message (written by hand): spool_read()
 * refuses it, spool_read_cut() gives it cut with its marker and counts
 * it once, and the lines after it follow. */
static void spool_read_long(void)
{
	static char big[300002], buf[150000];
	struct spool_opts o = *opts(64 << 20);
	struct spool sp;
	struct spool_stats st;
	struct spool_cursor cur, again;
	char err[256], gdir[128], mark[64];
	uint64_t first;
	uint32_t lines;
	ssize_t r;
	int m;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	o.max_line = LB_MAX_LINE_MAX;
	T_ASSERTF(spool_open(&sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	app(&sp, "a\n", 2);
	memset(big, 'x', 300000);
	big[300000] = '\n';
	app(&sp, big, 300001);
	app(&sp, "b\nc\n", 4);
	T_EQ(spool_seek(&sp, &cur, 1, NULL), 0);
	T_EQ(spool_read(&sp, &cur, buf, sizeof(buf), &first, &lines), 2);
	T_EQ(spool_read(&sp, &cur, buf, sizeof(buf), &first, &lines), -EMSGSIZE);
	again = cur;
	spool_stats(&sp, &st);
	T_EQ(st.cut, 0);
	for (int i = 0; i < 2; i++) {
		struct spool_cursor *c = i ? &again : &cur;

		r = spool_read_cut(&sp, c, buf, sizeof(buf), &first, &lines);
		m = snprintf(mark, sizeof(mark), " [chorus-log: line cut, 300000 bytes]\n");
		T_EQ(r, (ssize_t)(sizeof(buf) - LB_MARKER_MAX) + m);
		T_EQ(first, 2);
		T_EQ(lines, 1);
		T_EQ(memcmp(buf + sizeof(buf) - LB_MARKER_MAX, mark, (size_t)m), 0);
	}
	spool_stats(&sp, &st);
	T_EQ(st.cut, 1);
	T_EQ(spool_read(&sp, &cur, buf, sizeof(buf), &first, &lines), 4);
	T_EQ(first, 3);
	T_EQ(lines, 2);
	spool_close(&sp);
	rmroot();
}

/* Path of segment i of an open stream. */
static void segfile(const struct spool *sp, size_t i, char *out, size_t len)
{
	snprintf(out, len, "%s/%020llu%s.seg", sp->dir,
		 (unsigned long long)sp->segs[i].first_seq, sp->segs[i].after_hole ? "h" : "");
}

/* Appends kline(from .. to-1). */
static void put_klines(struct spool *sp, uint64_t from, uint64_t to)
{
	static char buf[SPOOL_CHUNK_MAX];
	size_t n = 0;

	for (uint64_t k = from; k < to; k++) {
		n += kline(k, buf + n);
		if (n > sizeof(buf) - 600 || k + 1 == to) {
			app(sp, buf, n);
			n = 0;
		}
	}
}

/* An unfinished line survives a restart and is completed by the next
 * process on the same input; a process on another input leaves it alone
 * (a new stream), and an adopter ends it visibly once it is stale. */
static void spool_partial_line(void)
{
	struct spool a, b;
	struct spool_stats st;
	struct spool_opts o = *opts(1 << 20);
	char err[256], gdir[128];
	static char buf[1000];
	struct spool_cursor cur;
	uint64_t first, id;
	uint32_t lines;
	ssize_t r;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	o.input_ino = 7;
	T_ASSERTF(spool_open(&a, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	app(&a, "one\ntw", 6);
	spool_stats(&a, &st);
	T_EQ(st.next_seq, 2);
	T_EQ(st.tail, 2);
	T_EQ(st.last_held, 1);
	id = st.stream_id;
	/* Only whole lines are read. */
	T_EQ(spool_seek(&a, &cur, 1, NULL), 0);
	r = spool_read(&a, &cur, buf, sizeof(buf), &first, &lines);
	T_EQ(r, 4);
	T_EQ(spool_read(&a, &cur, buf, sizeof(buf), &first, &lines), 0);
	spool_close(&a);
	/* Another input: a stream of its own. */
	o.input_ino = 8;
	T_ASSERTF(spool_open(&b, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&b, &st);
	T_ASSERT(st.stream_id != id);
	/* The same input: the same stream, line 2 completed. */
	o.input_ino = 7;
	T_ASSERTF(spool_open(&a, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&a, &st);
	T_EQ(st.stream_id, id);
	app(&a, "o\nthree\n", 8);
	r = spool_read(&a, &cur, buf, sizeof(buf), &first, &lines);
	T_EQ(r, 10);
	T_EQ(first, 2);
	T_EQ(lines, 2);
	T_MEMEQ(buf, "two\nthree\n", 10);
	/* End of input ends an unfinished line. */
	app(&a, "four", 4);
	{
		struct spool_io io;

		T_EQ(spool_finish(&a, &io), 0);
		T_EQ(io.lines, 1);
	}
	r = spool_read(&a, &cur, buf, sizeof(buf), &first, &lines);
	T_EQ(r, 5);
	T_MEMEQ(buf, "four\n", 5);
	app(&a, "fi", 2);
	spool_close(&a);
	spool_close(&b);
	/* A stale unfinished line: an adopter ends it with a marker (grace
	 * 0 here), counted as cut. */
	T_EQ(spool_adopt(&a, gdir, "g", 0, 0, 65536, err, sizeof(err)), 1);
	spool_stats(&a, &st);
	if (st.stream_id != id) {
		spool_close(&a);
		T_EQ(spool_adopt(&a, gdir, "g", st.stream_id, 0, 65536, err, sizeof(err)), 1);
		spool_stats(&a, &st);
	}
	T_EQ(st.stream_id, id);
	T_EQ(st.cut, 1);
	T_EQ(st.tail, 0);
	T_EQ(spool_seek(&a, &cur, 5, NULL), 0);
	r = spool_read(&a, &cur, buf, sizeof(buf), &first, &lines);
	T_EQ(first, 5);
	buf[r] = 0;
	T_STREQ(buf, "fi [chorus-log: line incomplete]\n");
	spool_close(&a);
	rmroot();
}

/* Writes lines 1..6000 into a stream of 64 KiB segments and closes it;
 * returns the segment count and the first line of segment k in *first. */
static size_t make_segments(const char *gdir, size_t k, uint64_t *first,
			    uint64_t *second)
{
	struct spool sp;
	char err[256];
	size_t n;

	T_ASSERTF(sp_open(&sp, gdir, 2 << 20, err, sizeof(err)) == 0, "%s", err);
	put_klines(&sp, 1, 6001);
	n = sp.nsegs;
	T_ASSERT(n > k + 2);
	*first = sp.segs[k].first_seq;
	*second = sp.segs[k + 1].first_seq;
	spool_close(&sp);
	return n;
}

/* A middle segment is missing: nothing is mislabelled, reading jumps the
 * hole (counted as dropped, once), the run base after it is its first
 * line, and the numbering goes on. */
static void spool_missing_middle(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], gdir[128], path[1200];
	uint64_t lo, hi, n;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	make_segments(gdir, 2, &lo, &hi);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	segfile(&sp, 2, path, sizeof(path));
	spool_close(&sp);
	T_EQ(unlink(path), 0);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.next_seq, 6001);
	/* Segment 1 now seems to run to hi: reading finds it short. */
	n = check_klines_gap(&sp, 1, 6001, lo, hi);
	T_EQ(n, 6000 - (hi - lo));
	spool_stats(&sp, &st);
	T_EQ(st.dropped, hi - lo);
	T_EQ(spool_run_base(&sp, hi + 5), hi);
	T_EQ(spool_run_base(&sp, 3), 1);
	put_klines(&sp, 6001, 6101);
	check_klines_gap(&sp, hi, 6101, 0, 0);
	spool_close(&sp);
	/* The count survives, and is not made twice. */
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	check_klines_gap(&sp, 1, 6101, lo, hi);
	spool_stats(&sp, &st);
	T_EQ(st.dropped, hi - lo);
	spool_close(&sp);
	rmroot();
}

/* The last segment is missing (and the state numbered its lines): the
 * numbers are not reused; the hole is counted; new lines follow it. */
static void spool_missing_last(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], gdir[128], path[1200];
	uint64_t lo, hi;
	size_t nsegs;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	nsegs = make_segments(gdir, 0, &lo, &hi);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	segfile(&sp, nsegs - 1, path, sizeof(path));
	lo = sp.segs[nsegs - 1].first_seq;
	spool_close(&sp);
	T_EQ(unlink(path), 0);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.next_seq, 6001);
	T_EQ(st.dropped, 6001 - lo);
	T_EQ(st.last_held, lo - 1);
	check_klines(&sp, 1, lo);
	put_klines(&sp, 6001, 6101);
	check_klines_gap(&sp, 1, 6101, lo, 6001);
	T_EQ(spool_run_base(&sp, 6050), 6001);
	spool_close(&sp);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.dropped, 6001 - lo);
	check_klines_gap(&sp, 1, 6101, lo, 6001);
	spool_close(&sp);
	rmroot();
}

/* A segment before a hole the spool made: after a restart its
 * successor's name implies that it holds the hole's lines too, but they
 * were counted when the hole was made. Dropping it for room counts only
 * the lines it holds, so every line below the base is counted once. */
static void spool_drop_before_hole(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], gdir[128], path[1200];
	uint64_t lo, hi;
	size_t nsegs;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	nsegs = make_segments(gdir, 0, &lo, &hi);
	T_ASSERTF(sp_open(&sp, gdir, 2 << 20, err, sizeof(err)) == 0, "%s", err);
	segfile(&sp, nsegs - 1, path, sizeof(path));
	lo = sp.segs[nsegs - 1].first_seq;
	spool_close(&sp);
	T_EQ(unlink(path), 0);
	/* The hole lo .. 6000, counted; the next segment starts after it. */
	T_ASSERTF(sp_open(&sp, gdir, 2 << 20, err, sizeof(err)) == 0, "%s", err);
	put_klines(&sp, 6001, 6101);
	spool_stats(&sp, &st);
	T_EQ(st.dropped, 6001 - lo);
	spool_close(&sp);
	/* Another process: enough lines to drop every segment before the
	 * hole for room. */
	T_ASSERTF(sp_open(&sp, gdir, 2 << 20, err, sizeof(err)) == 0, "%s", err);
	put_klines(&sp, 6101, 16001);
	spool_stats(&sp, &st);
	T_ASSERTF(st.base >= 6001, "base %llu", (unsigned long long)st.base);
	T_EQ(st.dropped, st.base - 1);
	T_EQ(st.unacked + st.dropped, 16000);
	check_klines(&sp, st.base, 16001);
	spool_close(&sp);
	rmroot();
}

/* A segment also holds lines of the next one (a copy left by a crash):
 * they are read once, from the next one. */
static void spool_overlap(void)
{
	struct spool sp;
	char err[256], gdir[128], path[1200];
	uint64_t lo, hi;
	char buf[6000];
	size_t n = 0;
	int fd;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	make_segments(gdir, 1, &lo, &hi);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	segfile(&sp, 1, path, sizeof(path));
	spool_close(&sp);
	for (uint64_t k = hi; k < hi + 10; k++)
		n += kline(k, buf + n);
	fd = open(path, O_WRONLY | O_APPEND);
	T_ASSERT(fd >= 0);
	T_EQ(write(fd, buf, n), (ssize_t)n);
	close(fd);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	check_klines(&sp, 1, 6001);
	check_klines(&sp, hi - 3, 6001);
	spool_close(&sp);
	rmroot();
}

/* A torn state slot: the other one is used. Both torn: the stream is
 * not continued (its numbering is unknown) but adopted, lines intact. */
static void spool_corrupt_state(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], gdir[128], path[1200];
	uint64_t id, lo, hi;
	uint8_t junk[16] = "garbage garbage";
	int fd;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	make_segments(gdir, 0, &lo, &hi);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_ack(&sp, 0, 10);
	spool_save_state(&sp);
	spool_close(&sp);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	id = st.stream_id;
	T_EQ(st.acked, 10);
	snprintf(path, sizeof(path), "%s/state", sp.dir);
	spool_close(&sp);
	fd = open(path, O_WRONLY);
	T_ASSERT(fd >= 0);
	/* One slot torn: the other serves; same stream, numbering intact. */
	T_EQ(pwrite(fd, junk, sizeof(junk), 40), (ssize_t)sizeof(junk));
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.stream_id, id);
	T_EQ(st.next_seq, 6001);
	spool_close(&sp);
	/* Both torn (the close just wrote one of them again): a new stream,
	 * numbered from 1. */
	T_EQ(pwrite(fd, junk, sizeof(junk), 40), (ssize_t)sizeof(junk));
	T_EQ(pwrite(fd, junk, sizeof(junk), 128 + 40), (ssize_t)sizeof(junk));
	close(fd);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_ASSERT(st.stream_id != id);
	T_EQ(st.next_seq, 1);
	spool_close(&sp);
	/* The old stream drains from its first line. */
	{
		struct spool a;
		int found = 0;

		while (spool_adopt(&a, gdir, "g", 0, 10, 65536, err, sizeof(err)) == 1) {
			spool_stats(&a, &st);
			if (st.stream_id == id) {
				found = 1;
				T_EQ(st.acked, 0);
				check_klines(&a, 1, 6001);
			}
			spool_remove(&a);
		}
		T_ASSERT(found);
	}
	rmroot();
}

/* A machine crash: the spool rolls back to an older copy (unsynced data
 * lost) and the boot id changes. The stream that was being written is not
 * continued (its numbers may have been sent with other lines): new lines
 * go to a new stream; the old one is adopted with what it kept. A process
 * kill (same boot) continues the stream. */
static void spool_rollback(void)
{
	struct spool sp;
	struct spool_stats st;
	struct spool_opts o = *opts(1 << 20);
	char err[256], gdir[128], cmd[500];
	uint64_t id;
	pid_t pid;
	int status;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	o.input_ino = 5;
	T_ASSERTF(spool_open(&sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	put_klines(&sp, 1, 901);
	spool_stats(&sp, &st);
	id = st.stream_id;
	spool_close(&sp);
	/* A run that dies without closing, after a copy of its spool was
	 * taken mid-way (what a crash may leave on disk). */
	pid = fork();
	if (pid == 0) {
		char c2[400];

		if (spool_open(&sp, gdir, &o, err, sizeof(err)) != 0)
			_exit(1);
		put_klines(&sp, 901, 951);
		snprintf(c2, sizeof(c2), "cp -a %s %s.bak", gdir, gdir);
		if (system(c2) != 0)
			_exit(2);
		put_klines(&sp, 951, 1001);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	T_EQ(status, 0);
	/* Same boot (a kill): continued, nothing lost. */
	T_ASSERTF(spool_open(&sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.stream_id, id);
	T_EQ(st.next_seq, 1001);
	spool_close(&sp);
	/* The crash: the older copy, and another boot. */
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mv %s.bak %s", gdir, gdir, gdir);
	T_EQ(system(cmd), 0);
	o.boot_id = 2;
	T_ASSERTF(spool_open(&sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_ASSERT(st.stream_id != id);
	T_EQ(st.next_seq, 1);
	put_klines(&sp, 1, 11);
	{
		struct spool a;
		struct spool_stats sa;

		T_EQ(spool_adopt(&a, gdir, "g", st.stream_id, 10, 65536, err, sizeof(err)), 1);
		spool_stats(&a, &sa);
		T_EQ(sa.stream_id, id);
		T_EQ(sa.next_seq, 951);
		check_klines(&a, 1, 951);
		spool_close(&a);
	}
	spool_close(&sp);
	/* A clean close in the new boot: the next open continues it. */
	T_ASSERTF(spool_open(&sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	{
		struct spool_stats s2;

		spool_stats(&sp, &s2);
		T_ASSERT(s2.stream_id == st.stream_id || s2.stream_id == id);
	}
	spool_close(&sp);
	rmroot();
}

/* The fallback spool root must be private: mode, owner, no symlink. */
static void spool_private(void)
{
	char err[256], d[128], l[128];

	mkroot();
	snprintf(d, sizeof(d), "%s/p", root);
	T_ASSERTF(spool_private_dir(d, getuid(), err, sizeof(err)) == 0, "%s", err);
	T_ASSERTF(spool_private_dir(d, getuid(), err, sizeof(err)) == 0, "%s", err);
	T_EQ(chmod(d, 0755), 0);
	T_EQ(spool_private_dir(d, getuid(), err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "mode 755") != NULL);
	T_EQ(chmod(d, 0700), 0);
	T_EQ(spool_private_dir(d, getuid() + 1, err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "belongs to uid") != NULL);
	if (getuid() == 0) {
		T_EQ(chown(d, 65534, 65534), 0);
		T_EQ(spool_private_dir(d, 0, err, sizeof(err)), -1);
		T_EQ(chown(d, 0, 0), 0);
	}
	snprintf(l, sizeof(l), "%s/link", root);
	T_EQ(symlink(d, l), 0);
	T_EQ(spool_private_dir(l, getuid(), err, sizeof(err)), -1);
	T_ASSERT(strstr(err, "not a directory") != NULL);
	rmroot();
}

/* Long node names: a path that fits, unique per name. */
static void spool_group_dir_long(void)
{
	char a[SPOOL_PATH_MAX], b[SPOOL_PATH_MAX], node[256];
	const char *base;

	memset(node, '~', 255);
	node[255] = 0;
	T_EQ(spool_group_dir("/var/spool/chorus-log", "jigdo", node, a, sizeof(a)), 0);
	base = strrchr(a, '/') + 1;
	T_ASSERT(strlen(base) <= 200);
	node[254] = 'x';
	T_EQ(spool_group_dir("/var/spool/chorus-log", "jigdo", node, b, sizeof(b)), 0);
	T_ASSERT(strcmp(a, b) != 0);
	T_EQ(spool_group_dir("/r", "jigdo", "short", a, sizeof(a)), 0);
	T_STREQ(a, "/r/jigdo@short");
}

/* Reads every line held and checks that each is kline(its number);
 * returns how many there are. */
static uint64_t check_held(struct spool *sp)
{
	struct spool_cursor cur;
	static char buf[400000];
	char want[512];
	uint64_t n = 0, last = 0;

	T_EQ(spool_seek(sp, &cur, 1, NULL), 0);
	for (;;) {
		uint64_t first;
		uint32_t lines;
		ssize_t r = spool_read(sp, &cur, buf, sizeof(buf), &first, &lines);
		char *p = buf;

		T_ASSERT(r >= 0);
		if (r == 0)
			break;
		T_ASSERT(first > last);
		for (uint32_t i = 0; i < lines; i++) {
			size_t l = kline(first + i, want);

			T_ASSERTF(memcmp(p, want, l) == 0, "line %llu: %.40s",
				  (unsigned long long)(first + i), p);
			p += l;
			n++;
		}
		last = first + lines - 1;
	}
	return n;
}

/* A full file system (a 512 KiB tmpfs under a stream allowed 64 MiB):
 * the oldest lines go first; when not even that makes room, the lines
 * that cannot be written get their numbers and are counted, so writers
 * see the hole; nothing is mislabelled; a reopen counts nothing twice. */
static void spool_disk_full(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], mnt[128], gdir[200], blocker[200];
	uint64_t held, dropped;
	int fd;

	if (getuid() != 0)
		t_skip("mounting a small tmpfs needs root");
	mkroot();
	snprintf(mnt, sizeof(mnt), "%s/full", root);
	T_EQ(mkdir(mnt, 0700), 0);
	/* In a mount namespace of this case's own, so that the mount goes
	 * with it even if the case fails half-way. */
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount("chorus-test", mnt, "tmpfs", 0, "size=512k") != 0)
		t_skip("cannot mount a tmpfs: %s", strerror(errno));
	snprintf(gdir, sizeof(gdir), "%s/g@n", mnt);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	put_klines(&sp, 1, 5001);
	spool_stats(&sp, &st);
	held = check_held(&sp);
	/* Only the oldest went. */
	T_ASSERT(st.dropped > 0);
	T_EQ(st.base, st.dropped + 1);
	T_EQ(held, 5000 - st.dropped);
	/* Now fill the disk with something else, so that nothing can be
	 * made room for: its blocks, and its inodes (a new segment to move
	 * the last lines aside needs one). */
	spool_ack(&sp, 0, 5000);
	{
		struct statvfs vfs;
		char opt[64];

		T_EQ(statvfs(mnt, &vfs), 0);
		snprintf(opt, sizeof(opt), "size=512k,nr_inodes=%llu",
			 (unsigned long long)(vfs.f_files - vfs.f_ffree + 1));
		T_EQ(mount("chorus-test", mnt, "tmpfs", MS_REMOUNT, opt), 0);
	}
	snprintf(blocker, sizeof(blocker), "%s/blocker", mnt);
	fd = open(blocker, O_WRONLY | O_CREAT, 0600);
	T_ASSERT(fd >= 0);
	{
		static char junk[4096];

		while (write(fd, junk, sizeof(junk)) > 0)
			;
		while (write(fd, junk, 1) > 0)
			;
	}
	close(fd);
	dropped = st.dropped;
	held = check_held(&sp);
	{
		char buf[60000];
		size_t n = 0;
		struct spool_io io;
		uint64_t stored;

		for (uint64_t k = 5001; k < 5101; k++)
			n += kline(k, buf + n);
		spool_append(&sp, buf, n, &io);
		T_ASSERT(io.err < 0);
		/* What fits in the last page is stored, intact; every other
		 * line is numbered and counted. */
		stored = check_held(&sp) - held;
		T_ASSERTF(io.dropped >= 50 && io.dropped + stored == 100,
			  "dropped %llu, stored %llu", (unsigned long long)io.dropped,
			  (unsigned long long)stored);
		dropped += io.dropped;
	}
	spool_stats(&sp, &st);
	T_EQ(st.next_seq, 5101);
	T_EQ(st.dropped, dropped);
	/* Room again: new lines after the hole, correctly numbered. */
	T_EQ(unlink(blocker), 0);
	put_klines(&sp, 5101, 5201);
	spool_stats(&sp, &st);
	T_EQ(st.next_seq, 5201);
	held = check_held(&sp);
	T_ASSERT(held >= 100);
	/* The hole is seen: the run holding 5150 starts after it. */
	T_EQ(spool_run_base(&sp, 5150), 5101);
	dropped = st.dropped;
	spool_close(&sp);
	T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
	check_held(&sp);
	spool_stats(&sp, &st);
	T_EQ(st.dropped, dropped);
	T_EQ(st.next_seq, 5201);
	spool_close(&sp);
	T_EQ(umount(mnt), 0);
	rmroot();
}

/* The step of a rotation for space at which spool_rotate_kill's writer
 * ends (as a kill would), and the blocker that fills its disk. */
static const char *rk_step;
static char rk_blocker[200];

static void rk_hook(const char *step)
{
	/* Room again for the tail, for the steps after its copy. */
	if (strcmp(step, "rotate:lost") == 0 && strcmp(rk_step, "rotate:lost") != 0 &&
	    strcmp(rk_step, "rotate:new") != 0)
		unlink(rk_blocker);
	if (strcmp(step, rk_step) == 0)
		_exit(0);
}

/* Fills the file system of path with the file path, to the last byte. */
static void rk_fill(const char *path)
{
	static char junk[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	T_ASSERT(fd >= 0);
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	while (write(fd, junk, 1) > 0)
		;
	close(fd);
}

/* Takes the pipe fd into the stream of gdir until it is empty (or, with
 * a hook, until the hook ends the process); fd -1: only makes the
 * stream. */
static void rk_take(const char *gdir, int fd, void (*hook)(const char *))
{
	struct spool_opts o = *opts(64 << 20);
	struct spool sp;
	struct intake in;
	struct spool_io io;
	const char *t;
	char err[256];

	o.input_ino = 42;
	o.step_hook = hook;
	T_ASSERTF(spool_open(&sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
	if (fd < 0) {
		spool_close(&sp);
		return;
	}
	T_EQ(in_open(&in, fd, SPOOL_CHUNK_MAX), 0);
	while (spool_take(&sp, &in, 0, &t, &io) > 0)
		;
	spool_finish(&sp, &io);
	in_close(&in);
	spool_close(&sp);
}

/* A kill at each step of a rotation for space (the disk full, only the
 * segment being written, with the start of a line as its tail): after a
 * restart on the same input every line k is stored whole as sequence k,
 * or counted as dropped; none is lost uncounted, none split in two. */
static void spool_rotate_kill(void)
{
	static const char *const steps[] = {
		"rotate:lost", "rotate:new", "rotate:tail", "rotate:trimmed", "rotate:counted",
	};
	static char input[1 << 20];
	char mnt[128];
	size_t len = 0;
	uint64_t count = 0;

	if (getuid() != 0)
		t_skip("mounting a small tmpfs needs root");
	mkroot();
	snprintf(mnt, sizeof(mnt), "%s/full", root);
	T_EQ(mkdir(mnt, 0700), 0);
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount("chorus-test", mnt, "tmpfs", 0, "size=256k") != 0)
		t_skip("cannot mount a tmpfs: %s", strerror(errno));
	while (len < 200 * 1024)
		len += kline(++count, input + len);
	snprintf(rk_blocker, sizeof(rk_blocker), "%s/blocker", mnt);
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct spool sp;
		struct spool_stats st;
		struct spool_cursor cur;
		static char buf[400000];
		char gdir[200], err[256], want[512], cmd[300];
		uint64_t held = 0, expect;
		int fds[2], status;
		pid_t pid;

		snprintf(gdir, sizeof(gdir), "%s/g%zu@n", mnt, k);
		/* The stream made, then the disk nearly full: 64 KiB left. */
		rk_take(gdir, -1, NULL);
		rk_fill(rk_blocker);
		{
			struct stat sb;

			T_EQ(stat(rk_blocker, &sb), 0);
			T_EQ(truncate(rk_blocker, sb.st_size > 65536 ? sb.st_size - 65536 : 0), 0);
		}
		T_EQ(pipe(fds), 0);
		fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
		T_EQ(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
		T_EQ(write(fds[1], input, len), (ssize_t)len);
		rk_step = steps[k];
		pid = fork();
		if (pid == 0) {
			close(fds[1]);
			rk_take(gdir, fds[0], rk_hook);
			_exit(2);
		}
		T_ASSERT(pid > 0);
		T_EQ(waitpid(pid, &status, 0), pid);
		T_ASSERTF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "%s: the writer did not reach the step (status %d)", steps[k], status);
		/* Room again, the rest of the input by the next process. */
		unlink(rk_blocker);
		close(fds[1]);
		rk_take(gdir, fds[0], NULL);
		close(fds[0]);
		T_ASSERTF(sp_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0, "%s", err);
		spool_stats(&sp, &st);
		T_EQ(st.next_seq, count + 1);
		T_EQ(spool_seek(&sp, &cur, st.base, NULL), 0);
		for (;;) {
			uint64_t first;
			uint32_t lines;
			ssize_t r = spool_read(&sp, &cur, buf, sizeof(buf), &first, &lines);
			char *p = buf;

			T_ASSERTF(r >= 0, "spool_read: %s", strerror((int)-r));
			if (r == 0)
				break;
			expect = first;
			for (uint32_t i = 0; i < lines; i++) {
				size_t l = kline(expect, want);

				T_ASSERTF(memcmp(p, want, l) == 0, "%s: sequence %llu: %.40s",
					  steps[k], (unsigned long long)expect, p);
				p += l;
				expect++;
				held++;
			}
		}
		printf("%s: %llu lines stored, %llu dropped\n", steps[k],
		       (unsigned long long)held, (unsigned long long)st.dropped);
		T_EQ(held + st.dropped, count);
		spool_close(&sp);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", gdir);
		T_EQ(system(cmd), 0);
	}
	T_EQ(umount(mnt), 0);
	rmroot();
}

/* ---- A stream of several groups ---- */

static const char *const two_groups[] = { "a", "b" };

/* Opens the writing stream of groups a and b in gdir. */
static void open_two(struct spool *sp, const char *gdir, uint64_t max)
{
	struct spool_opts o = *opts(max);
	char err[256];

	o.groups = two_groups;
	o.ngroups = 2;
	T_ASSERTF(spool_open(sp, gdir, &o, err, sizeof(err)) == 0, "%s", err);
}

/* Segment files of the stream of sp. */
static int count_segs(const struct spool *sp)
{
	char cmd[1200];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '[.]seg$'", sp->dir);
	p = popen(cmd, "r");
	T_ASSERT(p != NULL);
	T_EQ(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* The stream id of each group: a keyed hash of the stream's id and the
 * group name (fixed values, so that the documented rule is the rule). */
static void spool_groups_stream_ids(void)
{
	struct spool sp;
	struct spool_stats a, b, all;
	char gdir[128];

	T_EQ(spool_stream_id_for(0x0123456789abcdefull, "jigdo"), 0xf61719e9a5372b6bull);
	T_EQ(spool_stream_id_for(0x0123456789abcdefull, "logs"), 0x034d78fb91ab76faull);
	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/a@n", root);
	open_two(&sp, gdir, 1 << 20);
	T_EQ(spool_ngroups(&sp), 2);
	T_STREQ(spool_group_name(&sp, 0), "a");
	T_STREQ(spool_group_name(&sp, 1), "b");
	spool_stats(&sp, &all);
	spool_group_stats(&sp, 0, &a);
	spool_group_stats(&sp, 1, &b);
	T_EQ(a.stream_id, spool_stream_id_for(all.stream_id, "a"));
	T_EQ(b.stream_id, spool_stream_id_for(all.stream_id, "b"));
	T_ASSERT(a.stream_id != b.stream_id && a.stream_id != all.stream_id);
	{
		char cmd[1200];

		snprintf(cmd, sizeof(cmd), "printf 'chorus-log groups 1\\na\\nb\\n' | cmp -s - %s/groups",
			 sp.dir);
		T_EQ(system(cmd), 0);
	}
	spool_close(&sp);
	rmroot();
}

/* A segment goes only when every group has acknowledged its lines; each
 * group has its own acknowledged line and unacknowledged count. */
static void spool_groups_trim_at_minimum(void)
{
	struct spool sp;
	struct spool_stats a, b, all;
	char gdir[128];
	int segs;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/a@n", root);
	open_two(&sp, gdir, 4 << 20);     /* 256 KiB segments */
	put_lines(&sp, 1, 20001, 60);     /* ~1.3 MB: several segments */
	segs = count_segs(&sp);
	T_ASSERT(segs >= 4);
	/* Group a has everything: nothing can go, b has nothing. */
	T_EQ(spool_ack(&sp, 0, 20000), 0);
	spool_group_stats(&sp, 0, &a);
	spool_group_stats(&sp, 1, &b);
	spool_stats(&sp, &all);
	T_EQ(a.acked, 20000);
	T_EQ(a.unacked, 0);
	T_EQ(b.acked, 0);
	T_EQ(b.unacked, 20000);
	T_EQ(all.acked, 0);
	T_EQ(all.unacked, 20000);
	T_EQ(all.base, 1);
	T_EQ(count_segs(&sp), segs);
	/* Group b reaches 10000: trimmed to the segment that holds 10001. */
	T_EQ(spool_ack(&sp, 1, 10000), 0);
	spool_stats(&sp, &all);
	T_EQ(all.acked, 10000);
	T_ASSERT(all.base > 1 && all.base <= 10001);
	T_ASSERT(count_segs(&sp) < segs);
	check_lines(&sp, all.base, 20001);
	/* A lower value for a group changes nothing; no group past the end. */
	T_EQ(spool_ack(&sp, 1, 5000), 0);
	T_EQ(spool_ack(&sp, 1, 999999), 0);
	spool_group_stats(&sp, 1, &b);
	T_EQ(b.acked, 20000);
	T_EQ(spool_ack(&sp, 2, 1), -EINVAL);
	spool_stats(&sp, &all);
	T_EQ(all.acked, 20000);
	T_EQ(count_segs(&sp), 1);
	spool_close(&sp);
	rmroot();
}

/* What each group had acknowledged survives a restart; the stream is
 * continued only by a writer of the same groups, and adopted (with its
 * groups) by any other. */
static void spool_groups_restart(void)
{
	struct spool sp, one, ad;
	struct spool_stats a, b, all, st;
	char gdir[128], err[256];
	uint64_t id;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/a@n", root);
	open_two(&sp, gdir, 1 << 20);
	put_lines(&sp, 1, 3001, 20);
	T_EQ(spool_ack(&sp, 0, 2500), 0);
	T_EQ(spool_ack(&sp, 1, 700), 0);
	spool_stats(&sp, &all);
	id = all.stream_id;
	spool_close(&sp);
	/* The same groups continue it: same id, each group where it was. */
	open_two(&sp, gdir, 1 << 20);
	spool_stats(&sp, &all);
	spool_group_stats(&sp, 0, &a);
	spool_group_stats(&sp, 1, &b);
	T_EQ(all.stream_id, id);
	T_EQ(a.acked, 2500);
	T_EQ(b.acked, 700);
	T_EQ(all.next_seq, 3001);
	T_EQ(a.unacked, 500);
	T_EQ(b.unacked, 2300);
	check_lines(&sp, 701, 3001);
	put_lines(&sp, 3001, 3101, 20);
	T_EQ(spool_ack(&sp, 1, 800), 0);
	T_EQ(spool_save_state(&sp), 0);
	spool_close(&sp);
	/* A writer of group a alone (or of other groups) makes its own. */
	T_ASSERTF(sp_open(&one, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&one, &st);
	T_ASSERT(st.stream_id != id);
	T_EQ(spool_ngroups(&one), 1);
	/* ... and adopts the stream of a and b, for a and b. */
	T_EQ(spool_adopt(&ad, gdir, "a", st.stream_id, 10, 65536, err, sizeof(err)), 1);
	T_EQ(spool_ngroups(&ad), 2);
	T_STREQ(spool_group_name(&ad, 1), "b");
	spool_stats(&ad, &all);
	spool_group_stats(&ad, 0, &a);
	spool_group_stats(&ad, 1, &b);
	T_EQ(all.stream_id, id);
	T_EQ(a.stream_id, spool_stream_id_for(id, "a"));
	T_EQ(a.acked, 2500);
	T_EQ(b.acked, 800);
	T_EQ(all.next_seq, 3101);
	T_EQ(spool_ack(&ad, 0, 3100), 0);
	T_EQ(spool_ack(&ad, 1, 3100), 0);
	T_EQ(spool_remove(&ad), 0);
	spool_close(&one);
	rmroot();
}

/* A full spool drops the oldest segment once, and each group counts the
 * lines of it that it had not acknowledged. */
static void spool_groups_overflow(void)
{
	struct spool sp;
	struct spool_stats a, b, all;
	char gdir[128];
	uint64_t dropped = 0;
	char buf[65536];
	size_t o = 0;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/a@n", root);
	open_two(&sp, gdir, 1 << 20);
	put_lines(&sp, 1, 5001, 60);
	T_EQ(spool_ack(&sp, 0, 5000), 0);
	for (uint64_t s = 5001; s < 30001; s++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%llu %.60s\n",
				      (unsigned long long)s,
				      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		if (o > sizeof(buf) - 200 || s == 30000) {
			dropped += app(&sp, buf, o);
			o = 0;
		}
	}
	spool_stats(&sp, &all);
	spool_group_stats(&sp, 0, &a);
	spool_group_stats(&sp, 1, &b);
	T_ASSERT(all.bytes <= 1 << 20);
	/* b had nothing: it lost every line below the base; a only those
	 * above 5000. */
	T_EQ(b.dropped, all.base - 1);
	T_EQ(a.dropped, all.base - 1 - 5000);
	T_EQ(all.dropped, a.dropped + b.dropped);
	T_EQ(dropped, all.dropped);
	T_EQ(b.unacked + b.dropped, 30000);
	T_EQ(a.unacked + a.dropped, 25000);
	spool_close(&sp);
	/* The counts are kept per group across a restart. */
	open_two(&sp, gdir, 1 << 20);
	spool_group_stats(&sp, 0, &a);
	spool_group_stats(&sp, 1, &b);
	T_EQ(b.dropped, all.base - 1);
	T_EQ(a.dropped, all.base - 1 - 5000);
	T_EQ(a.dropped_open, a.dropped);
	spool_close(&sp);
	rmroot();
}

/* A damaged groups file: the stream is not continued, and an adopter
 * sends it at least to the group of its directory. */
static void spool_groups_bad_file(void)
{
	struct spool sp, ad;
	struct spool_stats all, st;
	char gdir[128], err[256], cmd[1200];
	uint64_t id;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/a@n", root);
	open_two(&sp, gdir, 1 << 20);
	put_lines(&sp, 1, 101, 20);
	spool_stats(&sp, &all);
	id = all.stream_id;
	snprintf(cmd, sizeof(cmd), "printf 'chorus-log groups 1\\na\\na\\n' > %s/groups", sp.dir);
	spool_close(&sp);
	T_EQ(system(cmd), 0);
	open_two(&sp, gdir, 1 << 20);
	spool_stats(&sp, &st);
	T_ASSERT(st.stream_id != id);
	T_EQ(spool_adopt(&ad, gdir, "a", st.stream_id, 10, 65536, err, sizeof(err)), 1);
	T_EQ(spool_ngroups(&ad), 1);
	T_STREQ(spool_group_name(&ad, 0), "a");
	spool_stats(&ad, &all);
	T_EQ(all.stream_id, id);
	check_lines(&ad, 1, 101);
	spool_close(&ad);
	spool_close(&sp);
	rmroot();
}

static const struct t_case cases[] = {
	T_CASE(spool_group_dir_table),
	T_CASE(spool_dir_group_table),
	T_CASE(spool_group_dir_long),
	T_CASE(spool_private),
	T_CASE(spool_append_read_ack),
	T_CASE(spool_overflow),
	T_CASE(spool_partial_line),
	T_CASE(spool_two_and_adopt),
	T_CASE(spool_missing_middle),
	T_CASE(spool_missing_last),
	T_CASE(spool_drop_before_hole),
	T_CASE(spool_overlap),
	T_CASE(spool_corrupt_state),
	T_CASE(spool_rollback),
	T_CASE(spool_disk_full),
	T_CASE(spool_rotate_kill),
	T_CASE_TIMEOUT(spool_kill9, 120),
	T_CASE_TIMEOUT(spool_kill9_adopt, 120),
	T_CASE_TIMEOUT(spool_kill9_pipe, 120),
	T_CASE(spool_read_long),
	T_CASE(spool_groups_stream_ids),
	T_CASE(spool_groups_trim_at_minimum),
	T_CASE(spool_groups_restart),
	T_CASE(spool_groups_overflow),
	T_CASE(spool_groups_bad_file),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
