/*
 * linebuf.h - the overlong-line rule of chorus-log (issue 3, item 7), as
 * a streaming filter that holds nothing back.
 *
 * chorus-log writes what it reads from standard input to the spool at
 * once, partial lines included, so that a process killed at any moment
 * loses nothing it has read (the next instance on the same pipe finds
 * the start of the line in the spool and completes it). This filter is
 * what stands between the input and the spool: it copies every byte
 * through, except that a line longer than max_line bytes (without its
 * '\n') is never split and never dropped: its first max_line -
 * LB_MARKER_MAX bytes are kept, followed by a visible marker with the
 * original length, e.g.
 *
 *     GET /very/long... [chorus-log: line cut, 3145728 bytes]
 *
 * and it is counted. A cut line is therefore at most max_line bytes
 * long, like every other line. The rest of an overlong line is skipped
 * as it arrives, so a line of megabytes costs neither memory nor spool.
 *
 * Because the start of the current line may already be stored when the
 * line turns out to be too long, lb_feed() may ask the caller to take
 * back the end of what it stored (*retract bytes) before it appends the
 * new output. Pure: no I/O, no clock, no allocation.
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
	uint64_t stored;   /* bytes of the current line already output */
	uint64_t total;    /* its length in the input so far */
	int cutting;       /* it is overlong: its rest is being skipped */
	uint64_t lines;    /* lines completed */
	uint64_t cut;      /* of which cut */
};

/* Prepares lb for lines of at most max_line bytes (LB_MAX_LINE_MIN ..
 * LB_MAX_LINE_MAX). Returns 0, or -1 (bad size). */
int lb_init(struct linebuf *lb, size_t max_line);

/* After a restart: the current line already has `stored` bytes in the
 * spool (its start, written by a process that was killed). */
void lb_resume(struct linebuf *lb, uint64_t stored);

/* The most bytes lb_feed() or lb_finish() can write for len input
 * bytes: the caller's output buffer must hold that many. */
size_t lb_out_max(size_t len);

/* Filters len bytes of input into out and returns the bytes written.
 * The caller first removes *retract bytes from the end of what it has
 * stored (always bytes of the current line's start), then appends out.
 * Adds the lines completed to *nlines and the cut ones among them to
 * *ncut. A line's unfinished end is output too (nothing is held). */
size_t lb_feed(struct linebuf *lb, const char *in, size_t len, char *out,
	       uint64_t *retract, uint32_t *nlines, uint32_t *ncut);

/* 1 if lb_feed() would output exactly the input (no line of it, with
 * what is stored of the current one, reaches over max_line), so a caller
 * that already stored the input may keep it; then lb_advance() records
 * it. 0 otherwise. */
int lb_fits(const struct linebuf *lb, const char *in, size_t len);
void lb_advance(struct linebuf *lb, const char *in, size_t len,
		uint32_t *nlines);

/* At end of input: ends a final unterminated line with '\n' (or the
 * marker and '\n' if it was overlong). Returns the bytes written (0 if
 * the last line was complete), counting into *nlines and *ncut. */
size_t lb_finish(struct linebuf *lb, char *out, uint32_t *nlines,
		 uint32_t *ncut);

#endif /* CHORUS_LINEBUF_H */
