/*
 * intake.h - where chorus-log's input comes from, looked at before it is
 * taken (issue 3, item 2: a kill loses nothing that was read).
 *
 * Three kinds of source:
 *   - a pipe (Apache's case): in_peek() copies what waits in it with
 *     tee(2) into a scratch pipe and reads that copy, so the data stays
 *     in the input pipe; in_move() then moves bytes from the input pipe
 *     into a file with splice(2), and in_drop() consumes bytes; each is one
 *     system call that consumes exactly what it stores (or drops), so a
 *     kill never loses nor duplicates. On a file system that cannot
 *     splice, in_move() writes the looked-at copy and then consumes it: a
 *     kill between the two stores that chunk twice.
 *   - anything else (a file, a terminal, a socket): in_peek() read(2)s
 *     into the source's buffer, and the bytes are stored from there; a kill
 *     loses what was read and not yet stored (for a file, the data is
 *     still in the file).
 *   - memory (in_feed()): the bytes the caller gives, for the spools of
 *     the second and later groups, which get a copy of what the first
 *     group's spool took.
 * Owned by its creator: in_open()/in_open_mem(), released by in_close().
 */
#ifndef CHORUS_INTAKE_H
#define CHORUS_INTAKE_H

#include <stddef.h>
#include <sys/types.h>

enum in_kind { IN_PIPE, IN_READ, IN_MEM };

struct intake {
	enum in_kind kind;
	int fd;
	int peek[2];          /* IN_PIPE: the scratch pipe */
	int no_splice;        /* IN_PIPE: the spool's file system cannot */
	char *buf;            /* what was looked at (cap bytes) */
	size_t cap;
	size_t off, len;      /* buf[off, len): looked at and not consumed */
	int eof;              /* no more input after buf */
	int want_more;        /* the last look was not enough */
};

/* A source reading fd (a pipe or not), looking at up to cap bytes at a
 * time. Returns 0, or -errno. */
int in_open(struct intake *in, int fd, size_t cap);

/* A memory source of up to cap bytes at a time. Returns 0 or -errno. */
int in_open_mem(struct intake *in, size_t cap);

void in_close(struct intake *in);

/* Appends len bytes to a memory source (at most its free room); returns
 * the bytes taken. */
size_t in_feed(struct intake *in, const char *data, size_t len);

/* Looks at the input: sets *data to the bytes waiting (not consumed)
 * and returns how many; 0 at the end of input (or, for memory, when
 * nothing is fed); -EAGAIN if nothing waits; another -errno on error.
 * `more` asks for more than the last look gave. */
ssize_t in_peek(struct intake *in, const char **data, int more);

/* Stores the first n bytes looked at into file descriptor ofd at offset
 * off and consumes them. Returns the bytes stored (maybe fewer), or
 * -errno (nothing consumed). */
ssize_t in_move(struct intake *in, int ofd, off_t off, size_t n);

/* Consumes the first n bytes looked at without storing them. Returns the
 * bytes consumed (maybe fewer), or -errno. */
ssize_t in_drop(struct intake *in, size_t n);

#endif /* CHORUS_INTAKE_H */
