/*
 * test_spool.c - chorus-log's spool (src/log/spool.c): append, read,
 * acknowledge and reopen; overflow drops the oldest and counts; torn
 * tails; two processes on one spool and the adoption of a left-over
 * stream; and SIGKILL at random points during writes, after which every
 * line that was appended is found exactly once and in order.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log/spool.h"
#include "t.h"

static char root[64];

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
	uint32_t n = 0;
	uint64_t dropped = 0;

	for (uint64_t s = from; s < to; s++) {
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%llu %.*s\n",
				      (unsigned long long)s, pad,
				      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		n++;
		if (o > sizeof(buf) - 200 || s + 1 == to) {
			T_EQ(spool_append(sp, buf, o, n, 0, &dropped), 0);
			o = 0;
			n = 0;
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

static void spool_append_read_ack(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], gdir[128];
	uint64_t id;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	T_ASSERTF(spool_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
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
	T_EQ(spool_ack(&sp, 15000), 0);
	spool_stats(&sp, &st);
	T_EQ(st.unacked, 5000);
	T_EQ(st.dropped, 0);
	T_ASSERT(st.base > 1 && st.base <= 15001);
	/* Reading below the base lands on it. */
	spool_close(&sp);

	T_ASSERTF(spool_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.stream_id, id);
	T_EQ(st.acked, 15000);
	T_EQ(st.next_seq, 20001);
	check_lines(&sp, 15001, 20001);
	put_lines(&sp, 20001, 20101, 10);
	check_lines(&sp, 15001, 20101);
	/* Acks beyond what exists are clamped; acking all keeps the last
	 * segment, so numbering continues after a restart. */
	T_EQ(spool_ack(&sp, 999999), 0);
	spool_stats(&sp, &st);
	T_EQ(st.acked, 20100);
	T_EQ(st.unacked, 0);
	T_EQ(sp.nsegs, 1);
	spool_close(&sp);
	T_ASSERTF(spool_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
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
	T_ASSERTF(spool_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	put_lines(&sp, 1, 30001, 90);
	spool_stats(&sp, &st);
	T_ASSERT(st.bytes <= 1 << 20);
	T_ASSERT(st.dropped > 15000);
	T_EQ(st.base, st.dropped + 1);
	T_EQ(st.unacked + st.dropped, 30000);
	/* Reading from 1 starts at the base. */
	check_lines(&sp, st.base, 30001);
	spool_close(&sp);
	T_ASSERTF(spool_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	{
		struct spool_stats st2;

		spool_stats(&sp, &st2);
		T_EQ(st2.dropped, st.dropped);
		T_EQ(st2.base, st.base);
	}
	spool_close(&sp);
	rmroot();
}

/* A torn last line (a write cut short) is cut away on open. */
static void spool_torn_tail(void)
{
	struct spool sp;
	struct spool_stats st;
	char err[256], gdir[128], path[700];
	FILE *fp;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	T_ASSERTF(spool_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	put_lines(&sp, 1, 11, 5);
	snprintf(path, sizeof(path), "%s/%020llu.seg", sp.dir, 1ull);
	spool_close(&sp);
	fp = fopen(path, "a");
	T_ASSERT(fp != NULL);
	fputs("11 partial li", fp);
	fclose(fp);
	T_ASSERTF(spool_open(&sp, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&sp, &st);
	T_EQ(st.next_seq, 11);
	put_lines(&sp, 11, 21, 5);
	check_lines(&sp, 1, 21);
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
	T_ASSERTF(spool_open(&a, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	put_lines(&a, 1, 101, 5);
	T_EQ(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		/* Another process: it must not get a's stream. */
		if (spool_open(&b, gdir, 1 << 20, err, sizeof(err)) != 0)
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
	T_EQ(spool_adopt(&c, gdir, sa.stream_id, err, sizeof(err)), 1);
	spool_stats(&c, &sb);
	T_EQ(sb.unacked, 50);
	check_lines(&c, 1, 51);
	{
		uint64_t d = 0;

		T_EQ(spool_append(&c, "x\n", 2, 1, 0, &d), -EBADF);
	}
	T_EQ(spool_ack(&c, 50), 0);
	T_EQ(spool_remove(&c), 0);
	T_EQ(spool_adopt(&c, gdir, sa.stream_id, err, sizeof(err)), 0);
	spool_close(&a);
	/* Now a's stream is free: the next open takes it up again. */
	T_ASSERTF(spool_open(&a, gdir, 1 << 20, err, sizeof(err)) == 0, "%s", err);
	spool_stats(&a, &sb);
	T_EQ(sb.stream_id, sa.stream_id);
	T_EQ(sb.next_seq, 101);
	spool_close(&a);
	rmroot();
}

/* The child appends numbered lines of random lengths in random chunks
 * and reports, after each append returns, the last number it wrote. It
 * continues the numbering of the spool it opens. */
static void kill_child(const char *gdir, int fd, unsigned seed)
{
	struct spool sp;
	struct spool_stats st;
	char err[256];
	static char buf[300000];
	uint64_t seq;

	if (spool_open(&sp, gdir, 64 << 20, err, sizeof(err)) != 0)
		_exit(3);
	spool_stats(&sp, &st);
	seq = st.next_seq;
	for (;;) {
		uint32_t n = 1 + (uint32_t)(rand_r(&seed) % 500);
		size_t o = 0;
		uint64_t d = 0;

		for (uint32_t i = 0; i < n; i++) {
			int pad = (int)(rand_r(&seed) % 400);

			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%llu ",
					      (unsigned long long)(seq + i));
			memset(buf + o, 'a' + (int)((seq + i) % 26), (size_t)pad);
			o += (size_t)pad;
			buf[o++] = '\n';
		}
		if (spool_append(&sp, buf, o, n, 0, &d) != 0)
			_exit(4);
		seq += n;
		if (write(fd, &seq, sizeof(seq)) != (ssize_t)sizeof(seq))
			_exit(5);
	}
}

static void spool_kill9(void)
{
	char err[256], gdir[128];
	unsigned seed = (unsigned)time(NULL);
	uint64_t reported = 1, acked = 0;

	mkroot();
	snprintf(gdir, sizeof(gdir), "%s/g@n", root);
	printf("seed %u\n", seed);
	for (int round = 0; round < 25; round++) {
		struct spool sp;
		struct spool_stats st;
		struct timespec ts = { 0, 1000000 + (long)(rand_r(&seed) % 30000000) };
		int fds[2], status;
		uint64_t v;
		pid_t pid;

		T_EQ(pipe(fds), 0);
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			kill_child(gdir, fds[1], seed + (unsigned)round);
		}
		close(fds[1]);
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		T_ASSERT(WIFSIGNALED(status));
		while (read(fds[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
			reported = v;
		close(fds[0]);
		/* Every line whose append returned is there, exactly once,
		 * in order, intact; a line being written may or may not be. */
		T_ASSERTF(spool_open(&sp, gdir, 64 << 20, err, sizeof(err)) == 0,
			  "%s", err);
		spool_stats(&sp, &st);
		T_ASSERTF(st.next_seq >= reported, "round %d: next %llu < reported %llu",
			  round, (unsigned long long)st.next_seq,
			  (unsigned long long)reported);
		{
			struct spool_cursor cur;
			static char buf[400000];
			uint64_t expect = acked + 1;

			T_EQ(st.acked, acked);
			T_EQ(st.dropped, 0);
			T_EQ(spool_seek(&sp, &cur, expect, NULL), 0);
			for (;;) {
				uint64_t first;
				uint32_t lines;
				ssize_t r = spool_read(&sp, &cur, buf, sizeof(buf),
						       &first, &lines);
				char *p = buf;

				T_ASSERT(r >= 0);
				if (r == 0)
					break;
				T_ASSERTF(first == expect, "round %d: first %llu, expected %llu, base %llu dropped %llu segs %zu",
					  round, (unsigned long long)first, (unsigned long long)expect,
					  (unsigned long long)st.base, (unsigned long long)st.dropped, sp.nsegs);
				for (uint32_t i = 0; i < lines; i++) {
					char *nl = strchr(p, '\n');

					T_EQ(strtoull(p, &p, 10), expect);
					T_ASSERT(*p == ' ');
					for (p++; p < nl; p++)
						T_ASSERT(*p == 'a' + (int)(expect % 26));
					p = nl + 1;
					expect++;
				}
			}
			T_EQ(expect, st.next_seq);
		}
		/* Acknowledge most of it, as the sender would, so that old
		 * segments go and the next round checks from there. */
		if (st.next_seq > 1000) {
			acked = st.next_seq - 1000;
			T_EQ(spool_ack(&sp, acked), 0);
		}
		spool_close(&sp);
	}
	T_ASSERT(reported > 1000);
	rmroot();
}

static const struct t_case cases[] = {
	T_CASE(spool_group_dir_table),
	T_CASE(spool_append_read_ack),
	T_CASE(spool_overflow),
	T_CASE(spool_torn_tail),
	T_CASE(spool_two_and_adopt),
	T_CASE_TIMEOUT(spool_kill9, 120),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
