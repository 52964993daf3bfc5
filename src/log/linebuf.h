/*
 * linebuf.h - splits chorus-log's standard input into lines and applies
 * the overlong-line rule (issue 3, item 7).
 *
 * Input arrives in arbitrary chunks; a line may span many of them. Every
 * complete line is copied to the caller's output with its '\n'. A line
 * longer than max_line bytes (without its '\n') is never split and never
 * dropped: its first bytes are kept, followed by a visible marker that
 * gives the original length, e.g.
 *
 *     GET /very/long... [chorus-log: line cut, 3145728 bytes]
 *
 * and it is counted. The rest of an overlong line is skipped as it
 * arrives, so a line of megabytes costs no more memory than max_line.
 * Pure: no I/O, no clock; one allocation (the carry buffer) at init.
 */
#ifndef CHORUS_LINEBUF_H
#define CHORUS_LINEBUF_H

#include <stddef.h>
#include <stdint.h>

/* Bytes reserved at the end of a cut line for the marker. */
#define LB_MARKER_MAX 64
#define LB_MAX_LINE_MIN 256
#define LB_MAX_LINE_MAX (16u * 1024 * 1024)

struct linebuf {
	size_t max_line;   /* longest line kept whole, without its '\n' */
	char *carry;       /* the partial line (max_line bytes), owned */
	size_t carry_len;
	int cutting;       /* inside an overlong line; carry holds its prefix */
	uint64_t cut_len;  /* length so far of the overlong line */
	uint64_t lines;    /* complete lines emitted */
	uint64_t cut;      /* of which cut */
};

/* Prepares lb for lines of at most max_line bytes (LB_MAX_LINE_MIN ..
 * LB_MAX_LINE_MAX). Returns 0, or -1 (bad size, errno EINVAL; or out of
 * memory). lb_free() releases it. */
int lb_init(struct linebuf *lb, size_t max_line);
void lb_free(struct linebuf *lb);

/* The most bytes lb_feed() or lb_finish() can write for len input bytes:
 * the caller's output buffer must hold that many. */
size_t lb_out_max(const struct linebuf *lb, size_t len);

/* Splits len bytes of input. Complete lines (cut ones with their marker)
 * are written to out, each ending in '\n'; returns the number of bytes
 * written, and adds the lines written to *nlines and the cut ones among
 * them to *ncut. A partial line stays in lb. */
size_t lb_feed(struct linebuf *lb, const char *in, size_t len, char *out,
	       uint32_t *nlines, uint32_t *ncut);

/* At end of input: writes a final unterminated line, if any, with a '\n'
 * added (cut if it was overlong). Returns the bytes written (0 if none),
 * counting into *nlines and *ncut like lb_feed(). */
size_t lb_finish(struct linebuf *lb, char *out, uint32_t *nlines,
		 uint32_t *ncut);

#endif /* CHORUS_LINEBUF_H */
