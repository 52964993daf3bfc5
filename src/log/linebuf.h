/*
 * linebuf.h - the overlong-line rule of chorus-log (issue 3, item 7), as
 * a plan of moves on input that stays where it is until it is stored.
 *
 * chorus-log never holds input only in memory: it looks at what waits in
 * the pipe (tee(2)) and then moves exactly the bytes the rule allows from
 * the pipe into the spool (splice(2)), or consumes bytes the rule drops.
 * Either step is one system call that stores and consumes together, so a
 * process killed at any point loses nothing and stores nothing twice. This
 * module decides the steps; it is pure (no I/O, no clock, no allocation);
 * spool.c carries them out.
 *
 * The rule: a line of at most max_line bytes (without its '\n') is kept
 * whole; a longer one keeps its first max_line - LB_MARKER_MAX bytes (the
 * "keep" length), followed by a visible marker, e.g.
 *
 *     GET /very/long... [chorus-log: line cut, 3145728 bytes]
 *
 * and is counted as cut. A cut line is at most max_line bytes long, never
 * split and never joined to another.
 *
 * How the spool's last unfinished line (its "tail") records where the
 * rule stands, so that the next process on the same pipe continues
 * exactly (lb_resume()):
 *   - LB_LINE: the start of a line. Bytes of a line beyond the keep
 *     length are stored only once its '\n' is in sight within max_line
 *     (until then they wait in the pipe, at most LB_MARKER_MAX of them),
 *     so a tail longer than keep belongs to a line that fits.
 *   - LB_CUT: the kept start followed by LB_CUT_OPEN (written at the keep
 *     offset, then the file truncated after it): the line is overlong;
 *     its rest is consumed and dropped up to its '\n'.
 *   - LB_CUT_DONE: ... followed by the end of the marker (", N bytes]",
 *     or "]" when the process that ends it did not see the whole line, a
 *     restart in between): consume up to the '\n', then store the '\n'.
 * And, from the state file, a line lost to a write failure (counted):
 *   - LB_SKIP: consume through its '\n'; LB_SKIP_NL: its '\n' may still
 *     wait: a '\n' right at the start is consumed.
 */
#ifndef CHORUS_LINEBUF_H
#define CHORUS_LINEBUF_H

#include <stddef.h>
#include <stdint.h>

/* Bytes reserved at the end of a cut line for the marker. */
#define LB_MARKER_MAX 64
#define LB_MAX_LINE_MIN 256
#define LB_MAX_LINE_MAX (16u * 1024 * 1024)
#define LB_CUT_OPEN " [chorus-log: line cut"
#define LB_CUT_OPEN_LEN (sizeof(LB_CUT_OPEN) - 1)
/* The longest end of a marker: ", <20 digits> bytes]". */
#define LB_CUT_END_MAX 32

enum lb_mode { LB_LINE, LB_CUT, LB_CUT_DONE, LB_SKIP, LB_SKIP_NL };

struct linebuf {
	size_t max_line;   /* longest line kept whole, without its '\n' */
	enum lb_mode mode;
	uint64_t stored;   /* bytes of the current line in the spool (the tail) */
	uint64_t total;    /* a cut line's length in the input so far */
	int total_known;   /* total counts the whole line (not resumed) */
};

/* What to do next with the input bytes in sight. */
enum lb_step_kind {
	LB_WAIT,       /* nothing until more input comes */
	LB_TAKE,       /* store the first n bytes (completing `lines` lines) */
	LB_DROP,       /* consume the first n bytes without storing them */
	LB_OPEN,       /* write text at tail offset `at`, truncate after it */
	LB_CLOSE,      /* append text to the tail */
	LB_END_LOST,   /* record that the lost line ends (state), then drop 1 */
};

struct lb_step {
	enum lb_step_kind kind;
	size_t n;
	uint32_t lines;
	uint64_t at;
	char text[LB_CUT_END_MAX + LB_CUT_OPEN_LEN + 2];
	size_t tlen;
};

/* Prepares lb for lines of at most max_line bytes (LB_MAX_LINE_MIN ..
 * LB_MAX_LINE_MAX). Returns 0, or -1 (bad size). */
int lb_init(struct linebuf *lb, size_t max_line);

/* The first max_line - LB_MARKER_MAX bytes of a cut line are kept. */
size_t lb_keep(const struct linebuf *lb);

/* After a restart: the spool's tail is tail_len bytes, of which `from`
 * (at most LB_CUT_OPEN_LEN + LB_CUT_END_MAX bytes from offset lb_keep(),
 * flen of them; nothing when tail_len <= lb_keep()) says whether a cut was
 * under way; skip and skip_nl come from the state. Sets the mode; returns
 * the length the tail must be truncated to (a marker torn by the kill),
 * or tail_len. When the result is lb_keep() + 1 .. and `*rewrite_open`
 * is set, LB_CUT_OPEN must first be written again at lb_keep(). */
uint64_t lb_resume(struct linebuf *lb, uint64_t tail_len, const char *from,
		   size_t flen, int skip, int skip_nl, int *rewrite_open);

/* Decides the next step for the len bytes in sight (in; len > 0). `final`
 * says no more input will follow them; `room` is how many bytes the
 * segment takes before it should change (a step stops at the first line
 * end past it). May change lb's mode when that needs no I/O. */
void lb_plan(struct linebuf *lb, const char *in, size_t len, int final,
	     uint64_t room, struct lb_step *st);

/* The step was carried out: for LB_TAKE and LB_DROP, n of its bytes (in,
 * possibly fewer than asked); for the others, n is ignored. Adds the
 * lines completed to *lines and the cut ones to *cut. */
void lb_done(struct linebuf *lb, const struct lb_step *st, const char *in,
	     size_t n, uint32_t *lines, uint32_t *cut);

/* The current line cannot be stored (a write failed for good): its
 * stored start goes and the rest of it is skipped (LB_SKIP). */
void lb_lose(struct linebuf *lb);

/* At end of input: what ends the last line (written at the end of the
 * tail): "\n", the end of a marker and "\n", or nothing. Writes it into
 * out (LB_CUT_END_MAX + 2 bytes), returns its length, and counts the
 * line into *lines and *cut. */
size_t lb_finish(struct linebuf *lb, char *out, uint32_t *lines, uint32_t *cut);

#endif /* CHORUS_LINEBUF_H */
