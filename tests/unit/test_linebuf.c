/*
 * test_linebuf.c - the overlong-line rule as a plan of moves
 * (src/log/linebuf.c), run against a model of the pipe and the spool:
 * input that arrives in random pieces, steps carried out partly (short
 * splices), and kills between any two system calls (a marker's start
 * written but the file not yet truncated included), after which a new
 * plan resumes from what the spool holds. Every line must come out whole
 * or cut with its marker, never split, joined or lost; and nothing is
 * taken from the pipe that the plan did not store or drop by the rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/linebuf.h"
#include "t.h"

/* The model: input in[0, len) of which `arrived` bytes are in the pipe
 * and `pos` consumed; the spool's bytes out[0, o), its tail starting at
 * line_start. */
struct model {
	const char *in;
	size_t len, arrived, pos;
	char *out;
	size_t o, line_start;
	uint32_t lines, cut;
	unsigned seed;
	int restarts;
};

static unsigned rnd(struct model *m, unsigned n)
{
	return (unsigned)rand_r(&m->seed) % n;
}

static void resume(struct model *m, struct linebuf *lb, size_t max)
{
	uint64_t tail = m->o - m->line_start, keep, len;
	size_t flen = 0;
	int rewrite;

	T_EQ(lb_init(lb, max), 0);
	keep = lb_keep(lb);
	if (tail > keep)
		flen = tail - keep < LB_CUT_OPEN_LEN + LB_CUT_END_MAX ?
		       (size_t)(tail - keep) : LB_CUT_OPEN_LEN + LB_CUT_END_MAX;
	len = lb_resume(lb, tail, m->out + m->line_start + keep, flen, 0, 0, &rewrite);
	if (rewrite)
		memcpy(m->out + m->line_start + keep, LB_CUT_OPEN, LB_CUT_OPEN_LEN);
	m->o = m->line_start + (size_t)len;
	T_EQ(lb->stored, len);
	m->restarts++;
}

/* Runs the whole input through plans, with kills every `kill` steps on
 * average (0: never) and short steps when `short_steps`. */
static void run(struct model *m, size_t max, int kill, int short_steps)
{
	struct linebuf lb;

	T_EQ(lb_init(&lb, max), 0);
	m->o = m->line_start = m->pos = m->arrived = 0;
	m->lines = m->cut = 0;
	for (;;) {
		struct lb_step st;
		size_t vis, n;

		if (m->arrived < m->len && (m->arrived == m->pos || rnd(m, 3) == 0)) {
			m->arrived += 1 + rnd(m, 3000);
			if (m->arrived > m->len)
				m->arrived = m->len;
		}
		vis = m->arrived - m->pos;
		if (vis == 0 && m->arrived == m->len)
			break;
		if (vis == 0)
			continue;
		if (kill && rnd(m, (unsigned)kill) == 0)
			resume(m, &lb, max);
		lb_plan(&lb, m->in + m->pos, vis, m->arrived == m->len, UINT64_MAX, &st);
		switch (st.kind) {
		case LB_WAIT:
			/* Only the end of a line that may still fit waits. */
			T_ASSERT(vis <= LB_MARKER_MAX);
			T_ASSERT(m->arrived < m->len);
			m->arrived = m->arrived + 1 + rnd(m, 100);
			if (m->arrived > m->len)
				m->arrived = m->len;
			continue;
		case LB_TAKE:
			n = short_steps && st.n > 1 && rnd(m, 4) == 0 ? 1 + rnd(m, (unsigned)st.n) : st.n;
			memcpy(m->out + m->o, m->in + m->pos, n);
			lb_done(&lb, &st, m->in + m->pos, n, &m->lines, &m->cut);
			m->o += n;
			m->pos += n;
			break;
		case LB_DROP:
			n = short_steps && st.n > 1 && rnd(m, 4) == 0 ? 1 + rnd(m, (unsigned)st.n) : st.n;
			lb_done(&lb, &st, m->in + m->pos, n, &m->lines, &m->cut);
			m->pos += n;
			break;
		case LB_OPEN:
			/* pwrite at `at`, then truncate: a kill may come in
			 * between. */
			T_ASSERT(m->o - m->line_start >= st.at);
			if (m->o - m->line_start < st.at + st.tlen)
				m->o = m->line_start + (size_t)st.at + st.tlen;
			memcpy(m->out + m->line_start + st.at, st.text, st.tlen);
			if (kill && rnd(m, 2) == 0) {
				resume(m, &lb, max);
				break;
			}
			m->o = m->line_start + (size_t)st.at + st.tlen;
			lb_done(&lb, &st, NULL, 0, &m->lines, &m->cut);
			break;
		case LB_CLOSE:
			memcpy(m->out + m->o, st.text, st.tlen);
			m->o += st.tlen;
			lb_done(&lb, &st, NULL, 0, &m->lines, &m->cut);
			break;
		case LB_END_LOST:
			t_fail(__FILE__, __LINE__, "no line was lost");
		}
		{
			char *nl = m->o ? memrchr(m->out, '\n', m->o) : NULL;

			m->line_start = nl ? (size_t)(nl - m->out) + 1 : 0;
		}
		T_EQ(lb.stored, m->o - m->line_start);
		T_ASSERT(lb.stored <= max);
	}
	m->o += lb_finish(&lb, m->out + m->o, &m->lines, &m->cut);
}

/* Checks the spool against the input line by line; returns how many
 * lines were cut. `unknown_ok`: a cut line may have the marker without
 * its length (a restart while it was cut). */
static uint32_t check(const struct model *m, size_t max, int unknown_ok)
{
	const char *p = m->in, *end = m->in + m->len, *q = m->out, *qe = m->out + m->o;
	size_t keep = max - LB_MARKER_MAX;
	uint32_t lines = 0, cut = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (size_t)((nl ? nl : end) - p);
		const char *ql = memchr(q, '\n', (size_t)(qe - q));
		size_t ol;

		T_ASSERTF(ql != NULL, "line %u missing", lines);
		ol = (size_t)(ql - q);
		if (l <= max) {
			T_ASSERTF(ol == l && memcmp(p, q, l) == 0, "line %u changed (%zu, %zu)",
				  lines, l, ol);
		} else {
			char want[80];
			int w = snprintf(want, sizeof(want), "%s, %zu bytes]", LB_CUT_OPEN, l);

			T_ASSERTF(ol <= max, "line %u: %zu bytes", lines, ol);
			T_ASSERTF(memcmp(p, q, keep) == 0, "line %u: kept start differs", lines);
			if (!(ol == keep + (size_t)w && memcmp(q + keep, want, (size_t)w) == 0))
				T_ASSERTF(unknown_ok && ol == keep + LB_CUT_OPEN_LEN + 1 &&
					  memcmp(q + keep, LB_CUT_OPEN "]", ol - keep) == 0,
					  "line %u: bad marker %.*s", lines, (int)(ol - keep),
					  q + keep);
			cut++;
		}
		lines++;
		p += l + 1;
		q = ql + 1;
	}
	T_ASSERTF(q == qe, "%zu bytes after the last line", (size_t)(qe - q));
	T_EQ(m->lines, lines);
	T_EQ(m->cut, cut);
	return cut;
}

/* Input of `n` lines: mostly short, some just around max, some far over
 * it; sometimes without a final '\n'. */
static char *gen(unsigned seed, size_t max, int n, size_t *len)
{
	size_t cap = (size_t)n * (max * 3 + 10) + 1, o = 0;
	char *in = malloc(cap);

	T_ASSERT(in != NULL);
	for (int i = 0; i < n; i++) {
		unsigned r = (unsigned)rand_r(&seed) % 20;
		size_t l = r < 10 ? (size_t)rand_r(&seed) % 300 :
			   r < 16 ? max - 80 + (size_t)rand_r(&seed) % 160 :
			   max + (size_t)rand_r(&seed) % (max * 2);

		for (size_t k = 0; k < l; k++)
			in[o++] = (char)('a' + (i + k) % 26);
		if (i + 1 < n || rand_r(&seed) % 2)
			in[o++] = '\n';
	}
	*len = o;
	return in;
}

static void linebuf_table(void)
{
	static const struct {
		const char *in;
		const char *out;
	} t[] = {
		{ "a\nb\n", "a\nb\n" },
		{ "abc", "abc\n" },
		{ "", "" },
		{ "\n\n", "\n\n" },
	};

	for (size_t i = 0; i < T_COUNT(t); i++) {
		struct model m;
		char out[64];

		memset(&m, 0, sizeof(m));
		m.in = t[i].in;
		m.len = strlen(t[i].in);
		m.out = out;
		m.seed = 1;
		run(&m, 256, 0, 0);
		T_ASSERTF(m.o == strlen(t[i].out) && memcmp(out, t[i].out, m.o) == 0,
			  "case %zu", i);
	}
}

/* A line of exactly max, max + 1, and a far longer one, cut where the
 * rule says and counted. */
static void linebuf_boundary(void)
{
	size_t max = 256, keep = max - LB_MARKER_MAX;
	static char in[4000], out[4000];
	struct model m;
	size_t o = 0;

	memset(in + o, 'x', max);
	o += max;
	in[o++] = '\n';
	memset(in + o, 'y', max + 1);
	o += max + 1;
	in[o++] = '\n';
	memset(in + o, 'z', 3000);
	o += 3000;
	in[o++] = '\n';
	memset(&m, 0, sizeof(m));
	m.in = in;
	m.len = o;
	m.out = out;
	m.seed = 7;
	run(&m, max, 0, 0);
	T_EQ(check(&m, max, 0), 2);
	T_EQ(memcmp(out + max + 1 + keep, " [chorus-log: line cut, 257 bytes]\n", 35), 0);
}

/* The tail a kill leaves, classified: a marker's start (whole or torn,
 * with the line's old bytes after it), a whole marker, or a line that
 * happens to fit. */
static void linebuf_resume(void)
{
	struct linebuf lb;
	char from[80];
	uint64_t keep, open_end, r;
	int rw;

	T_EQ(lb_init(&lb, 256), 0);
	keep = lb_keep(&lb);
	open_end = keep + LB_CUT_OPEN_LEN;
	/* A short line. */
	T_EQ(lb_resume(&lb, 10, NULL, 0, 0, 0, &rw), 10);
	T_EQ(lb.mode, LB_LINE);
	/* A line over keep that fits (its '\n' was in sight). */
	memset(from, 'q', sizeof(from));
	T_EQ(lb_resume(&lb, keep + 30, from, 30, 0, 0, &rw), keep + 30);
	T_EQ(lb.mode, LB_LINE);
	/* The marker's start, then the line's old bytes (no truncate). */
	memcpy(from, LB_CUT_OPEN "qqqqqq", LB_CUT_OPEN_LEN + 6);
	r = lb_resume(&lb, open_end + 6, from, LB_CUT_OPEN_LEN + 6, 0, 0, &rw);
	T_EQ(r, open_end);
	T_EQ(lb.mode, LB_CUT);
	T_EQ(rw, 0);
	/* Torn start of the marker. */
	r = lb_resume(&lb, keep + 5, LB_CUT_OPEN, 5, 0, 0, &rw);
	T_EQ(r, open_end);
	T_EQ(rw, 1);
	T_EQ(lb.mode, LB_CUT);
	/* The whole marker: only its '\n' is missing. */
	memcpy(from, LB_CUT_OPEN ", 1234 bytes]", LB_CUT_OPEN_LEN + 13);
	r = lb_resume(&lb, open_end + 13, from, LB_CUT_OPEN_LEN + 13, 0, 0, &rw);
	T_EQ(r, open_end + 13);
	T_EQ(lb.mode, LB_CUT_DONE);
	memcpy(from, LB_CUT_OPEN "]", LB_CUT_OPEN_LEN + 1);
	T_EQ(lb_resume(&lb, open_end + 1, from, LB_CUT_OPEN_LEN + 1, 0, 0, &rw), open_end + 1);
	T_EQ(lb.mode, LB_CUT_DONE);
	/* A torn end of the marker goes. */
	memcpy(from, LB_CUT_OPEN ", 12", LB_CUT_OPEN_LEN + 4);
	T_EQ(lb_resume(&lb, open_end + 4, from, LB_CUT_OPEN_LEN + 4, 0, 0, &rw), open_end);
	T_EQ(lb.mode, LB_CUT);
	/* A lost line: skipped, its start gone; then its '\n'. */
	T_EQ(lb_resume(&lb, 40, NULL, 0, 1, 0, &rw), 0);
	T_EQ(lb.mode, LB_SKIP);
	T_EQ(lb_resume(&lb, 0, NULL, 0, 0, 1, &rw), 0);
	T_EQ(lb.mode, LB_SKIP_NL);
}

/* A lost line is skipped through its '\n', whatever comes in one piece. */
static void linebuf_lost(void)
{
	struct linebuf lb;
	struct lb_step st;
	uint32_t lines = 0, cut = 0;

	T_EQ(lb_init(&lb, 256), 0);
	lb_lose(&lb);
	lb_plan(&lb, "abc", 3, 0, UINT64_MAX, &st);
	T_EQ(st.kind, LB_DROP);
	T_EQ(st.n, 3);
	lb_done(&lb, &st, "abc", 3, &lines, &cut);
	lb_plan(&lb, "de\nf\n", 5, 0, UINT64_MAX, &st);
	T_EQ(st.kind, LB_DROP);
	T_EQ(st.n, 2);
	lb_done(&lb, &st, "de", 2, &lines, &cut);
	lb_plan(&lb, "\nf\n", 3, 0, UINT64_MAX, &st);
	T_EQ(st.kind, LB_END_LOST);
	lb_done(&lb, &st, "\n", 1, &lines, &cut);
	lb_plan(&lb, "f\n", 2, 0, UINT64_MAX, &st);
	T_EQ(st.kind, LB_TAKE);
	T_EQ(st.n, 2);
	/* After a restart: a '\n' first is the lost line's own. */
	T_EQ(lb_init(&lb, 256), 0);
	lb.mode = LB_SKIP_NL;
	lb_plan(&lb, "\nf\n", 3, 0, UINT64_MAX, &st);
	T_EQ(st.kind, LB_DROP);
	T_EQ(st.n, 1);
	lb_plan(&lb, "f\n", 2, 0, UINT64_MAX, &st);
	T_EQ(st.kind, LB_TAKE);
}

/* Segments change only between lines: a step stops at the first line
 * end past the room. */
static void linebuf_room(void)
{
	struct linebuf lb;
	struct lb_step st;

	T_EQ(lb_init(&lb, 256), 0);
	lb_plan(&lb, "aaaa\nbbbb\ncc", 12, 0, 3, &st);
	T_EQ(st.kind, LB_TAKE);
	T_EQ(st.n, 5);
	T_EQ(st.lines, 1);
}

/* Random inputs, pieces, short steps and kills. */
static void linebuf_random(void)
{
	unsigned seed = (unsigned)time(NULL);

	printf("seed %u\n", seed);
	for (int round = 0; round < 300; round++) {
		size_t max = round % 3 ? 256 + (size_t)(round % 7) * 100 : 1024, len;
		char *in = gen(seed + (unsigned)round, max, 40, &len);
		struct model m;
		int kill = round % 2 ? 0 : 3 + round % 11;

		memset(&m, 0, sizeof(m));
		m.in = in;
		m.len = len;
		m.out = malloc(len + 1000);
		m.seed = seed ^ (unsigned)round;
		run(&m, max, kill, round % 4 == 1);
		check(&m, max, kill != 0);
		free(m.out);
		free(in);
	}
}

static const struct t_case cases[] = {
	T_CASE(linebuf_table),
	T_CASE(linebuf_boundary),
	T_CASE(linebuf_resume),
	T_CASE(linebuf_lost),
	T_CASE(linebuf_room),
	T_CASE(linebuf_random),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
