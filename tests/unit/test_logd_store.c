/*
 * test_logd_store.c - chorus-logd's durable store (src/log/logd_store.c)
 * and compression worker (logd_rotate.c): commit and recovery, a writer
 * process killed with SIGKILL at random moments (every acknowledged line
 * exactly once, no torn line, in order), rollback after a failed write
 * (also of a large append written without the buffer),
 * torn journal records, size rotation with zstd and gzip compression,
 * and recovery of an interrupted rotation.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "log/logd_io.h"
#include "log/logd_rotate.h"
#include "log/logd_store.h"
#include "t.h"

static char dir[64], state[96], logpath[96];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/chorus-store-XXXXXX");
	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(logpath, sizeof(logpath), "%s/logs/a/access.log", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	T_EQ(system(cmd), 0);
}

static struct store *reopen(enum logd_fsync policy)
{
	struct store_cfg cfg = { state, policy, 16 };
	struct store *s = NULL;
	char err[256];

	T_ASSERTF(store_open(&s, &cfg, err, sizeof(err)) == 0, "store_open: %s", err);
	return s;
}

/* Appends lines "line <seq>\n" for seq in [from, to] to f. */
static void put_lines(struct store *s, struct store_file *f, uint64_t from, uint64_t to)
{
	char buf[64];

	for (uint64_t q = from; q <= to; q++) {
		int n = snprintf(buf, sizeof(buf), "line %" PRIu64 "\n", q);

		T_EQ(store_append(s, f, buf, (size_t)n), 0);
	}
}

/* Checks that path holds exactly "line 1" .. "line n", in order. */
static void check_lines(const char *path, uint64_t n)
{
	FILE *fp = fopen(path, "r");
	char line[128];
	uint64_t want = 1;

	if (!fp) {
		T_ASSERTF(n == 0, "%s missing, expected %" PRIu64 " lines", path, n);
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		char expect[64];

		snprintf(expect, sizeof(expect), "line %" PRIu64 "\n", want);
		T_ASSERTF(strcmp(line, expect) == 0, "%s: line %" PRIu64 " is \"%s\"", path,
			  want, line);
		want++;
	}
	fclose(fp);
	T_ASSERTF(want - 1 == n, "%s has %" PRIu64 " lines, expected %" PRIu64, path,
		  want - 1, n);
}

static void store_commit_recover(void)
{
	struct store *s;
	struct store_stream *st;
	struct store_file *f;
	pid_t pid;
	int status;

	setup();
	s = reopen(LOGD_FSYNC_BATCH);
	st = store_stream(s, 0xabc, 1);
	T_ASSERT(st != NULL);
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 100);
	st->rx.hwm = 100;
	store_stream_touch(s, st);
	T_EQ(store_commit(s, 1), 0);
	/* A child writes more and dies before committing. */
	pid = fork();
	if (pid == 0) {
		put_lines(s, f, 101, 150);
		st->rx.hwm = 150;
		store_stream_touch(s, st);
		/* Out of the buffer into the file, but no journal record. */
		for (uint32_t i = 0; i < s->nfiles; i++) {
			struct store_file *g = s->files[i];

			if (g->buffered && pwrite(g->fd, g->buf, g->buffered,
						  (off_t)(g->size - g->buffered)) < 0)
				_exit(3);
		}
		/* A torn half line, as a kill in mid-write leaves it. */
		if (pwrite(f->fd, "line 15", 7, (off_t)f->size) != 7)
			_exit(3);
		kill(getpid(), SIGKILL);
	}
	T_EQ(waitpid(pid, &status, 0), pid);
	/* Drop our copy without committing: as if we were the dead one. */
	for (uint32_t i = 0; i < s->nfiles; i++) {
		s->files[i]->buffered = 0;
		s->files[i]->size = s->files[i]->committed;
	}
	close(s->jfd);
	s->jfd = -1;
	store_close(s);
	s = reopen(LOGD_FSYNC_BATCH);
	st = store_stream(s, 0xabc, 0);
	T_ASSERT(st != NULL);
	T_EQ(st->rx.hwm, 100);
	T_EQ(s->st.truncated_bytes, 50 * 9 + 7);
	check_lines(logpath, 100);
	store_close(s);
	teardown();
}

/* The writer of the kill test: continues the stream from the recovered
 * high-water mark, commits every few batches, and reports each commit's
 * high-water mark on fd (the "acknowledgement"). Never returns. */
static size_t chunk_lines(char *out, size_t cap, uint64_t from, uint64_t to);

static void report(int fd, uint64_t hwm)
{
	if (write(fd, &hwm, sizeof(hwm)) != sizeof(hwm))
		_exit(4);
}

/* With async, commits run beside the appends (store_commit_begin): a
 * commit's mark is reported when it has ended, while the lines after it
 * are being written. */
static void writer(int fd, enum logd_fsync policy, unsigned seed, int async)
{
	struct store *s = reopen(policy);
	struct store_stream *st = store_stream(s, 0x5eed, 1);
	struct store_file *f;
	int sync = policy != LOGD_FSYNC_NEVER, busy = 0;
	uint64_t pending = 0;

	srand(seed);
	if (store_file_open(s, logpath, "k", &f) != 0)
		_exit(2);
	for (;;) {
		uint64_t from = st->rx.hwm + 1, to = from + (uint64_t)(rand() % 200);

		put_lines(s, f, from, to);
		st->rx.hwm = to;
		store_stream_touch(s, st);
		if (rand() % 3 != 0)
			continue;
		if (!async) {
			if (store_commit(s, sync) != 0)
				_exit(3);
			report(fd, st->rx.hwm);
			continue;
		}
		if (busy) {
			if (store_commit_end(s) != 0 || !store_commit_ok(s, store_commit_id(s)))
				_exit(3);
			if (st->committed_hwm != pending)
				_exit(5);
			report(fd, pending);
			busy = 0;
		}
		switch (store_commit_begin(s, sync)) {
		case 0:
			pending = st->rx.hwm;
			busy = 1;
			break;
		case 1:
			report(fd, st->rx.hwm);
			break;
		default:
			_exit(3);
		}
	}
}

static void kill_loop(enum logd_fsync policy, int rounds, int async)
{
	uint64_t acked = 0;

	setup();
	for (int r = 0; r < rounds; r++) {
		int fds[2];
		pid_t pid;
		struct timespec nap = { 0, (long)(1 + rand() % 30) * 1000000L };

		T_EQ(pipe(fds), 0);
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			writer(fds[1], policy, (unsigned)r, async);
		}
		close(fds[1]);
		nanosleep(&nap, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		{
			uint64_t v;

			while (read(fds[0], &v, sizeof(v)) == (ssize_t)sizeof(v))
				acked = v;
		}
		close(fds[0]);
		{
			struct store *s = reopen(policy);
			struct store_stream *st = store_stream(s, 0x5eed, 0);
			uint64_t hwm = st ? st->rx.hwm : 0;

			T_ASSERTF(hwm >= acked, "round %d: recovered %" PRIu64 " < acked %" PRIu64,
				  r, hwm, acked);
			store_close(s);
			check_lines(logpath, hwm);
		}
	}
	teardown();
}

static void store_kill9_batch(void)
{
	srand(1);
	kill_loop(LOGD_FSYNC_BATCH, 25, 0);
}

static void store_kill9_never(void)
{
	srand(2);
	kill_loop(LOGD_FSYNC_NEVER, 25, 0);
}

/* The same with commits beside the appends: a kill while a commit is
 * under way keeps either it or the one before, never a torn line. */
static void store_kill9_async(void)
{
	srand(3);
	kill_loop(LOGD_FSYNC_BATCH, 25, 1);
}

static void store_kill9_async_never(void)
{
	srand(4);
	kill_loop(LOGD_FSYNC_NEVER, 25, 1);
}

/* Bytes of "line <from>\n" .. "line <to>\n". */
static uint64_t lines_bytes(uint64_t from, uint64_t to)
{
	char buf[64];
	uint64_t n = 0;

	for (uint64_t q = from; q <= to; q++)
		n += (uint64_t)snprintf(buf, sizeof(buf), "line %" PRIu64 "\n", q);
	return n;
}

/* A commit beside the appends records the lengths and marks of the
 * moment it began; lines after it wait for the next. A rollback while
 * one is under way keeps it; a write that fails before it fails it. */
static void store_async_commit(void)
{
	static char big[1 << 20];
	struct store *s;
	struct store_stream *st;
	struct store_file *f;
	struct rlimit rl;
	struct stat sb;
	uint64_t id;
	size_t n;
	int ret;

	setup();
	s = reopen(LOGD_FSYNC_BATCH);
	st = store_stream(s, 0x77, 1);
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 100);
	st->rx.hwm = 100;
	store_stream_touch(s, st);
	T_EQ(store_commit_begin(s, 1), 0);
	id = store_commit_id(s);
	put_lines(s, f, 101, 200);
	st->rx.hwm = 200;
	store_stream_touch(s, st);
	T_EQ(store_commit_end(s), 0);
	T_ASSERT(store_commit_ok(s, id));
	T_EQ(f->committed, lines_bytes(1, 100));
	T_EQ(st->committed_hwm, 100);
	T_EQ(store_uncommitted(s), 1);
	/* Nothing new: done at once. */
	T_EQ(store_commit(s, 1), 0);
	T_EQ(st->committed_hwm, 200);
	T_EQ(store_commit_begin(s, 1), 1);

	/* A rollback while a commit is under way: that commit stands. */
	put_lines(s, f, 201, 300);
	st->rx.hwm = 300;
	store_stream_touch(s, st);
	T_EQ(store_commit_begin(s, 1), 0);
	id = store_commit_id(s);
	put_lines(s, f, 301, 400);
	st->rx.hwm = 400;
	store_stream_touch(s, st);
	store_rollback(s);
	T_ASSERT(store_commit_ok(s, id));
	T_EQ(st->rx.hwm, 300);
	T_EQ(st->committed_hwm, 300);
	T_EQ(stat(logpath, &sb), 0);
	T_EQ((uint64_t)sb.st_size, lines_bytes(1, 300));

	/* A write that fails before the commit fails it, and the ones
	 * after it until the rollback. */
	T_EQ(getrlimit(RLIMIT_FSIZE, &rl), 0);
	signal(SIGXFSZ, SIG_IGN);
	n = chunk_lines(big, sizeof(big), 301, 80000);
	rl.rlim_cur = (rlim_t)sb.st_size + n / 2;
	T_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ret = store_append(s, f, big, n);
	st->rx.hwm = 80000;
	store_stream_touch(s, st);
	if (ret == 0)
		ret = store_commit_begin(s, 1);
	if (ret == 0) {
		id = store_commit_id(s);
		ret = store_commit_end(s);
		T_ASSERT(!store_commit_ok(s, id));
	}
	T_EQ(ret, -EFBIG);
	T_EQ(store_commit(s, 1), -EFBIG);
	store_rollback(s);
	T_EQ(st->rx.hwm, 300);
	T_EQ(stat(logpath, &sb), 0);
	T_EQ((uint64_t)sb.st_size, lines_bytes(1, 300));
	/* The same with a write small enough to stay in the buffer until
	 * the commit queues it: the commit itself fails, and the rollback
	 * takes the marks of its record back too. */
	rl.rlim_cur = (rlim_t)sb.st_size + 600;
	T_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	put_lines(s, f, 301, 400);
	st->rx.hwm = 400;
	store_stream_touch(s, st);
	T_EQ(store_commit_begin(s, 1), 0);
	id = store_commit_id(s);
	T_EQ(store_commit_end(s), -EFBIG);
	T_ASSERT(!store_commit_ok(s, id));
	store_rollback(s);
	T_EQ(st->rx.hwm, 300);
	T_EQ(st->committed_hwm, 300);
	T_EQ(stat(logpath, &sb), 0);
	T_EQ((uint64_t)sb.st_size, lines_bytes(1, 300));
	rl.rlim_cur = rl.rlim_max;
	T_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	T_EQ(store_append(s, f, big, n), 0);
	st->rx.hwm = 80000;
	store_stream_touch(s, st);
	T_EQ(store_commit_begin(s, 1), 0);
	store_close(s);
	check_lines(logpath, 80000);
	teardown();
}

/* A failed write rolls back to the last commit. */
static void store_rollback_case(void)
{
	struct store *s;
	struct store_stream *st;
	struct store_file *f;

	setup();
	s = reopen(LOGD_FSYNC_NEVER);
	st = store_stream(s, 7, 1);
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 10);
	st->rx.hwm = 10;
	store_stream_touch(s, st);
	T_EQ(store_commit(s, 0), 0);
	put_lines(s, f, 11, 20);
	st->rx.hwm = 20;
	store_stream_touch(s, st);
	T_EQ(store_uncommitted(s), 1);
	store_rollback(s);
	T_EQ(st->rx.hwm, 10);
	T_EQ(store_uncommitted(s), 0);
	put_lines(s, f, 11, 12);
	st->rx.hwm = 12;
	store_stream_touch(s, st);
	store_close(s);
	check_lines(logpath, 12);
	teardown();
}

/* Garbage and torn records at the end of the journal are dropped; a
 * wrong checksum stops the replay there. */
static void store_torn_journal(void)
{
	static const char *const tails[] = {
		"S 0000000000000007 99 0\n",               /* no C line */
		"S 0000000000000007 99 0\nC 0000000000000000\n", /* bad sum */
		"S 00000000000000",                         /* torn line */
		"\n\n\nxx",
	};

	for (size_t i = 0; i < T_COUNT(tails); i++) {
		struct store *s;
		struct store_stream *st;
		char jpath[128];
		FILE *fp;

		setup();
		s = reopen(LOGD_FSYNC_NEVER);
		st = store_stream(s, 7, 1);
		st->rx.hwm = 5;
		store_stream_touch(s, st);
		T_EQ(store_commit(s, 0), 0);
		store_close(s);
		snprintf(jpath, sizeof(jpath), "%s/journal", state);
		fp = fopen(jpath, "a");
		T_ASSERT(fp != NULL);
		fputs(tails[i], fp);
		fclose(fp);
		s = reopen(LOGD_FSYNC_NEVER);
		st = store_stream(s, 7, 0);
		T_ASSERT(st != NULL);
		T_EQ(st->rx.hwm, 5);
		store_close(s);
		teardown();
	}
	/* Not a journal at all: a clear error. */
	{
		struct store_cfg cfg = { NULL, LOGD_FSYNC_NEVER, 16 };
		struct store *s = NULL;
		char jpath[128], err[256];
		FILE *fp;

		setup();
		cfg.state_dir = state;
		mkdir(state, 0755);
		snprintf(jpath, sizeof(jpath), "%s/journal", state);
		fp = fopen(jpath, "w");
		fputs("hello\n", fp);
		fclose(fp);
		T_ASSERT(store_open(&s, &cfg, err, sizeof(err)) != 0);
		T_ASSERTF(strstr(err, "not a chorus-logd journal") != NULL, "%s", err);
		teardown();
	}
}

/* A second store on the same state directory is refused. */
static void store_lock(void)
{
	struct store_cfg cfg = { NULL, LOGD_FSYNC_NEVER, 16 };
	struct store *s, *s2 = NULL;
	char err[256];

	setup();
	cfg.state_dir = state;
	s = reopen(LOGD_FSYNC_NEVER);
	T_ASSERT(store_open(&s2, &cfg, err, sizeof(err)) != 0);
	T_ASSERTF(strstr(err, "in use") != NULL, "%s", err);
	store_close(s);
	teardown();
}

/* Reads a whole compressed file back. */
static char *decompress(const char *path, size_t *len)
{
	size_t n = strlen(path);
	char *out = malloc(1 << 20);

	*len = 0;
	if (n > 4 && strcmp(path + n - 4, ".zst") == 0) {
		size_t clen;
		unsigned char *c = t_read_file(path, &clen);
		size_t r = ZSTD_decompress(out, 1 << 20, c, clen);

		T_ASSERTF(!ZSTD_isError(r), "zstd: %s", ZSTD_getErrorName(r));
		*len = r;
		free(c);
	} else {
		gzFile gz = gzopen(path, "rb");
		int r;

		T_ASSERT(gz != NULL);
		while ((r = gzread(gz, out + *len, (unsigned)((1 << 20) - *len))) > 0)
			*len += (size_t)r;
		gzclose(gz);
	}
	return out;
}

static void rotate_with(const char *ext)
{
	struct store *s;
	struct store_stream *st;
	struct store_file *f;
	struct zq *q;
	struct zq_result r;
	char rotated[LOGD_PATH_MAX], dst[LOGD_PATH_MAX + 32];
	size_t plain_len, zlen;
	char *plain, *z;

	setup();
	s = reopen(LOGD_FSYNC_BATCH);
	st = store_stream(s, 9, 1);
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 1000);
	st->rx.hwm = 1000;
	store_stream_touch(s, st);
	T_EQ(store_rotate(s, f, ext, rotated, sizeof(rotated)), 0);
	snprintf(dst, sizeof(dst), "%s.1", logpath);
	T_STREQ(rotated, dst);
	T_EQ(s->nzips, 1);
	T_ASSERT(access(logpath, F_OK) != 0);
	plain = (char *)t_read_file(rotated, &plain_len);
	/* The compression runs in the worker; the store finishes it. */
	T_EQ(zq_start(&q), 0);
	snprintf(dst, sizeof(dst), "%s%s", s->zips[0].src, s->zips[0].suffix);
	T_EQ(zq_push(q, s->zips[0].src, dst, s->zips[0].gen), 0);
	for (int i = 0; i < 500 && !zq_collect(q, &r); i++)
		usleep(10000);
	T_ASSERT(r.ok);
	T_EQ(r.in_bytes, plain_len);
	T_EQ(store_zip_done(s, r.src, r.gen, r.tmp, r.ok), 0);
	zq_stop(q);
	T_EQ(s->nzips, 0);
	T_ASSERT(access(rotated, F_OK) != 0);
	z = decompress(dst, &zlen);
	T_EQ(zlen, plain_len);
	T_MEMEQ(z, plain, zlen);
	/* The next lines go to a new file; a second rotation takes .2. */
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 3);
	T_EQ(store_rotate(s, f, ext, rotated, sizeof(rotated)), 0);
	snprintf(dst, sizeof(dst), "%s.2", logpath);
	T_STREQ(rotated, dst);
	store_close(s);
	/* Reopened with the compression still queued: it is still there. */
	s = reopen(LOGD_FSYNC_BATCH);
	T_EQ(s->nzips, 1);
	T_STREQ(s->zips[0].src, dst);
	store_close(s);
	free(plain);
	free(z);
	teardown();
}

static void store_rotate_zstd(void)
{
	rotate_with(".zst");
}

static void store_rotate_gzip(void)
{
	rotate_with(".gz");
}

/* A rotation whose rename was recorded but not done is finished on
 * recovery; a file reopened while its compression was queued keeps its
 * lines and the compression is abandoned. */
/* Appends a record of one entry (`entry` then `path`) to the journal,
 * as a writer that died right after it would have left it. */
static void forge_record(const char *entry, const char *path)
{
	char rec[512], jpath[128];
	uint64_t h = 0xcbf29ce484222325ull;
	int n = snprintf(rec, sizeof(rec), "%s%s\n", entry, path);
	FILE *fp;

	for (int i = 0; i < n; i++) {
		h ^= (unsigned char)rec[i];
		h *= 0x100000001b3ull;
	}
	snprintf(jpath, sizeof(jpath), "%s/journal", state);
	fp = fopen(jpath, "a");
	T_ASSERT(fp != NULL);
	fprintf(fp, "%sC %016" PRIx64 "\n", rec, h);
	fclose(fp);
}

/* A compression queued for a file that is gone (removed by hand while
 * the writer was down): recovery abandons it and removes its unfinished
 * copy. */
static void store_recovery_part_left(void)
{
	struct store *s;
	char part[160], zst[160];
	FILE *fp;

	setup();
	s = reopen(LOGD_FSYNC_BATCH);
	store_close(s);
	forge_record("Z .zst ", logpath);
	snprintf(part, sizeof(part), "%s.zst.part", logpath);
	snprintf(zst, sizeof(zst), "%s.zst", logpath);
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "mkdir -p %s/logs/a", dir);
		T_EQ(system(cmd), 0);
	}
	fp = fopen(part, "w");
	T_ASSERT(fp != NULL);
	fputs("half a compression", fp);
	fclose(fp);
	s = reopen(LOGD_FSYNC_BATCH);
	T_EQ(s->nzips, 0);
	T_ASSERTF(access(part, F_OK) != 0, "%s left behind", part);
	T_ASSERT(access(zst, F_OK) != 0);
	store_close(s);
	teardown();
}

/* Cuts the journal right after the first record that begins at or after
 * offset `from` (a writer killed just after writing it); returns how many
 * records followed it. */
static int cut_after_first_record(uint64_t from)
{
	char jpath[128];
	size_t len, pos = (size_t)from, end = 0;
	char *text;
	int after = 0;

	snprintf(jpath, sizeof(jpath), "%s/journal", state);
	text = (char *)t_read_file(jpath, &len);
	T_ASSERT(text != NULL && from <= len);
	while (pos < len) {
		char *nl = memchr(text + pos, '\n', len - pos);

		T_ASSERT(nl != NULL);
		if (text[pos] == 'C' && nl - (text + pos) == 18) {
			if (!end)
				end = (size_t)(nl - text) + 1;
			else
				after++;
		}
		pos = (size_t)(nl - text) + 1;
	}
	T_ASSERTF(end > 0, "no record after offset %llu", (unsigned long long)from);
	T_EQ(truncate(jpath, (off_t)end), 0);
	free(text);
	return after;
}

/* Runs `step` on a store in a child that then dies without closing it,
 * as a kill -9 right after the step's journal records. */
static void die_after(struct store *s, void (*step)(struct store *))
{
	pid_t pid = fork();
	int status;

	T_ASSERT(pid >= 0);
	if (pid == 0) {
		step(s);
		_exit(0);
	}
	T_EQ(waitpid(pid, &status, 0), pid);
	T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void rotate_step(struct store *s)
{
	char rotated[LOGD_PATH_MAX];

	if (store_rotate(s, store_find(s, logpath), ".zst", rotated, sizeof(rotated)) != 0)
		_exit(1);
}

static void close_step(struct store *s)
{
	int zip;

	if (store_tfile_close(s, "k", &zip) != 0 || zip < 0)
		_exit(1);
}

/* The parent's copy of the store, after the child did the work: freed
 * without a word to the journal (nothing is uncommitted in it). */
static void drop_copy(struct store *s)
{
	T_EQ(store_uncommitted(s), 0);
	store_close(s);
}

/* A writer killed right after the first journal record of a size
 * rotation (before the rename, or after it) or of a close by time:
 * recovery finishes the rename and the compression is still queued, so
 * no rotated or closed file stays uncompressed for good. */
static void store_kill_before_zip(void)
{
	char moved[160];

	for (int variant = 0; variant < 3; variant++) {
		struct store *s;
		struct store_file *f;
		uint64_t mark;
		int after;

		setup();
		s = reopen(LOGD_FSYNC_BATCH);
		if (variant == 2)
			T_EQ(store_tfile_set(s, "k", logpath, ".gz", 1000), 0);
		T_EQ(store_file_open(s, logpath, "k", &f), 0);
		put_lines(s, f, 1, 10);
		T_EQ(store_commit(s, 1), 0);
		mark = s->jsize;
		die_after(s, variant == 2 ? close_step : rotate_step);
		drop_copy(s);
		after = cut_after_first_record(mark);
		snprintf(moved, sizeof(moved), "%s.1", logpath);
		if (variant == 0) {
			/* Killed before the rename: it is not done yet. */
			T_ASSERTF(after >= 1, "the rotation wrote %d records", after + 1);
			T_EQ(rename(moved, logpath), 0);
		}
		s = reopen(LOGD_FSYNC_BATCH);
		T_ASSERTF(s->nzips == 1, "variant %d: %d compressions queued after recovery",
			  variant, s->nzips);
		if (variant == 2) {
			T_STREQ(s->zips[0].src, logpath);
			T_STREQ(s->zips[0].suffix, ".gz");
			T_ASSERT(store_tfile_find(s, "k") == NULL);
			check_lines(logpath, 10);
		} else {
			T_STREQ(s->zips[0].src, moved);
			T_STREQ(s->zips[0].suffix, ".zst");
			check_lines(moved, 10);
			T_ASSERT(access(logpath, F_OK) != 0);
		}
		store_close(s);
		teardown();
	}
}

/* The time files and compressions in memory, one line each, sorted. */
static void tables(struct store *s, char *out, size_t cap)
{
	char cmd[300], path[128];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/tables", dir);
	fp = fopen(path, "w");
	T_ASSERT(fp != NULL);
	for (uint32_t i = 0; i < s->ntfiles; i++)
		fprintf(fp, "T %s %s %s %lld\n", s->tfiles[i].key, s->tfiles[i].path,
			s->tfiles[i].ext, (long long)s->tfiles[i].end);
	for (int i = 0; i < s->nzips; i++)
		fprintf(fp, "Z %s %s\n", s->zips[i].src, s->zips[i].suffix);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "sort -o %s %s", path, path);
	T_EQ(system(cmd), 0);
	fp = fopen(path, "r");
	T_ASSERT(fp != NULL);
	n = fread(out, 1, cap - 1, fp);
	out[n] = 0;
	fclose(fp);
}

/* Makes the journal unwritable (1) or writable again (0). */
static void break_journal(struct store *s, int on)
{
	static int saved = -1;

	if (on) {
		int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);

		T_ASSERT(ro >= 0);
		saved = dup(s->jfd);
		T_EQ(dup2(ro, s->jfd), s->jfd);
		close(ro);
	} else {
		T_EQ(dup2(saved, s->jfd), s->jfd);
		close(saved);
	}
}

/* Failed commits (an unwritable journal, or one that may not grow) leave
 * the time-file and compression tables as the journal has them: a time
 * file set, a close by time with its compression, a reopened file whose
 * compression was queued, and a rotation with its compression are
 * undone; a compression that finished is recorded by the next commit.
 * Checked against a restart at the end. */
static void store_failed_commit_tables(void)
{
	struct store *s;
	struct store_file *f;
	char before[4096], after[4096], rotated[LOGD_PATH_MAX], other[160], zipped[200];
	struct rlimit rl, fsize;
	int zip;

	setup();
	signal(SIGXFSZ, SIG_IGN);
	snprintf(other, sizeof(other), "%s/logs/a/other.log", dir);
	s = reopen(LOGD_FSYNC_BATCH);
	T_EQ(store_tfile_set(s, "k", logpath, ".gz", 1000), 0);
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 10);
	T_EQ(store_close_file(s, f, 1), 0);
	T_EQ(store_file_open(s, other, "o", &f), 0);
	put_lines(s, f, 1, 10);
	T_EQ(store_close_file(s, f, 1), 0);
	T_ASSERT(store_zip_queue(s, other, ".zst") >= 0);
	tables(s, before, sizeof(before));
	break_journal(s, 1);
	T_EQ(store_tfile_set(s, "k2", other, "", 2000), 0);
	T_ASSERT(store_tfile_close(s, "k", &zip) < 0);
	T_EQ(zip, -1);
	tables(s, after, sizeof(after));
	T_STREQ(after, before);
	T_ASSERT(store_file_open(s, other, "o", &f) < 0);
	tables(s, after, sizeof(after));
	T_STREQ(after, before);
	/* The compression of `other` finishes while the journal fails: it
	 * is done on disk, so its end is recorded by the next commit. */
	{
		char tmp[200];
		FILE *fp;

		snprintf(tmp, sizeof(tmp), "%s.zst.tmp", other);
		fp = fopen(tmp, "w");
		T_ASSERT(fp != NULL);
		fputs("compressed", fp);
		fclose(fp);
		T_ASSERT(store_zip_done(s, other, s->zips[0].gen, tmp, 1) < 0);
	}
	T_EQ(s->nzips, 0);
	snprintf(zipped, sizeof(zipped), "%s.zst", other);
	T_EQ(access(zipped, F_OK), 0);
	T_ASSERT(access(other, F_OK) != 0);
	T_EQ(store_uncommitted(s), 1);
	break_journal(s, 0);
	T_EQ(store_commit(s, 1), 0);
	/* A rotation whose first commit passes and whose intent record (the
	 * rename and the compression) does not fit under the file size
	 * limit. */
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 11, 12);
	tables(s, before, sizeof(before));
	T_EQ(getrlimit(RLIMIT_FSIZE, &rl), 0);
	fsize = rl;
	fsize.rlim_cur = s->jsize + strlen(logpath) + 40;
	T_EQ(setrlimit(RLIMIT_FSIZE, &fsize), 0);
	T_ASSERT(store_rotate(s, f, ".zst", rotated, sizeof(rotated)) < 0);
	T_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	T_ASSERT(store_find(s, logpath) == f);
	T_EQ(f->committed, f->size);
	tables(s, after, sizeof(after));
	T_STREQ(after, before);
	T_EQ(s->nzips, 0);
	store_close(s);
	s = reopen(LOGD_FSYNC_BATCH);
	tables(s, after, sizeof(after));
	T_STREQ(after, before);
	T_ASSERT(store_tfile_find(s, "k") != NULL);
	T_ASSERT(store_tfile_find(s, "k2") == NULL);
	store_close(s);
	check_lines(logpath, 12);
	teardown();
}

static void store_rotate_recovery(void)
{
	struct store *s;
	struct store_file *f;
	char moved[160];

	setup();
	s = reopen(LOGD_FSYNC_NEVER);
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 10);
	T_EQ(store_commit(s, 0), 0);
	store_close(s);
	/* Forge the intent record of a rotation that died before rename. */
	forge_record("R .1 ", logpath);
	s = reopen(LOGD_FSYNC_NEVER);
	snprintf(moved, sizeof(moved), "%s.1", logpath);
	check_lines(moved, 10);
	T_ASSERT(access(logpath, F_OK) != 0);
	/* Time rotation: queue a compression, then late lines reopen it. */
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 5);
	T_EQ(store_close_file(s, f, 0), 0);
	T_ASSERT(store_zip_queue(s, logpath, ".zst") >= 0);
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	T_EQ(s->nzips, 0);
	put_lines(s, f, 6, 7);
	T_EQ(store_zip_done(s, logpath, 99, NULL, 1), 0);
	store_close(s);
	check_lines(logpath, 7);
	teardown();
}

/* Lines "line from".."line to" in one chunk for a single append (big
 * ones take the direct path). Returns its length; out holds cap bytes. */
static size_t chunk_lines(char *out, size_t cap, uint64_t from, uint64_t to)
{
	size_t n = 0;

	for (uint64_t q = from; q <= to; q++) {
		int k = snprintf(out + n, cap - n, "line %" PRIu64 "\n", q);

		T_ASSERT(k > 0 && (size_t)k < cap - n);
		n += (size_t)k;
	}
	return n;
}

/* Appends larger than a buffer go out through the write thread in
 * order; a write that fails part way (the file size limit) is reported
 * at the append or the commit, the rollback leaves no torn line, and
 * after it the same lines are written once. */
static void store_large_append(void)
{
	static char big[1 << 20];
	struct store *s;
	struct store_stream *st;
	struct store_file *f;
	struct rlimit rl;
	struct stat sb;
	size_t n;
	int ret;

	setup();
	s = reopen(LOGD_FSYNC_BATCH);
	st = store_stream(s, 9, 1);
	T_EQ(store_file_open(s, logpath, "k", &f), 0);
	put_lines(s, f, 1, 10);
	/* Larger than a buffer: spread over several, queued to the thread
	 * as they fill. */
	n = chunk_lines(big, sizeof(big), 11, 80000);
	T_ASSERT(n > 2 * STORE_BUF);
	T_EQ(store_append(s, f, big, n), 0);
	T_ASSERT(f->buffered < STORE_BUF);
	put_lines(s, f, 80001, 80005);
	st->rx.hwm = 80005;
	store_stream_touch(s, st);
	T_EQ(store_commit(s, 1), 0);
	check_lines(logpath, 80005);
	{
		struct lio_stats ls;

		/* Every byte went through the write thread. */
		lio_stats(s->io, &ls);
		T_EQ(ls.bytes, f->committed);
	}
	T_EQ(stat(logpath, &sb), 0);
	T_EQ((uint64_t)sb.st_size, f->committed);
	/* A write the size limit cuts part way through the big chunk: the
	 * failure shows at the append or at the commit at the latest, and
	 * the rollback cuts the file back to its committed length. */
	T_EQ(getrlimit(RLIMIT_FSIZE, &rl), 0);
	signal(SIGXFSZ, SIG_IGN);
	put_lines(s, f, 80006, 80010);
	n = chunk_lines(big, sizeof(big), 80011, 160000);
	st->rx.hwm = 160000;
	store_stream_touch(s, st);
	rl.rlim_cur = (rlim_t)sb.st_size + n / 2;
	T_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ret = store_append(s, f, big, n);
	if (ret == 0)
		ret = store_commit(s, 1);
	T_EQ(ret, -EFBIG);
	/* Still failed: nothing more is taken until the rollback. */
	T_EQ(store_append(s, f, "x\n", 2), -EFBIG);
	store_rollback(s);
	T_EQ(stat(logpath, &sb), 0);
	T_EQ((uint64_t)sb.st_size, f->committed);
	T_EQ(st->rx.hwm, 80005);
	rl.rlim_cur = rl.rlim_max;
	T_EQ(setrlimit(RLIMIT_FSIZE, &rl), 0);
	put_lines(s, f, 80006, 80010);
	T_EQ(store_append(s, f, big, n), 0);
	st->rx.hwm = 160000;
	store_stream_touch(s, st);
	T_EQ(store_commit(s, 1), 0);
	store_close(s);
	check_lines(logpath, 160000);
	teardown();
}

static const struct t_case cases[] = {
	T_CASE(store_commit_recover),
	T_CASE_TIMEOUT(store_kill9_batch, 60),
	T_CASE_TIMEOUT(store_kill9_never, 60),
	T_CASE(store_rollback_case),
	T_CASE_TIMEOUT(store_kill9_async, 60),
	T_CASE_TIMEOUT(store_kill9_async_never, 60),
	T_CASE(store_async_commit),
	T_CASE(store_large_append),
	T_CASE(store_torn_journal),
	T_CASE(store_lock),
	T_CASE(store_rotate_zstd),
	T_CASE(store_rotate_gzip),
	T_CASE(store_rotate_recovery),
	T_CASE(store_recovery_part_left),
	T_CASE(store_kill_before_zip),
	T_CASE(store_failed_commit_tables),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
