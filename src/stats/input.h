/*
 * input.h - reading access logs: plain, gzip or zstd files (recognised by
 * their first bytes, not their names) and standard input, split into
 * lines; the node name of a file from chorus-logd's layout
 * (<dir>/<node>/access-<date>.log...); and, for incremental runs, what
 * was already read of each file.
 *
 * A file is known by its content, not its name: the hash of its first
 * bytes (up to 4 KiB of uncompressed data) and its node. So when
 * chorus-logd compresses access-20261101.log into access-20261101.log.zst,
 * the compressed file is recognised as the same data and only what was
 * appended after the last run is read.
 *
 * Ownership: struct in_seen is owned by the caller (in_seen_free()).
 */
#ifndef CHORUS_STATS_INPUT_H
#define CHORUS_STATS_INPUT_H

#include <stddef.h>
#include <stdint.h>

#define IN_IDENT_MAX 4096

struct in_file {
	char node[65];
	uint32_t ident_len;
	uint64_t ident_hash;
	uint64_t consumed; /* uncompressed bytes read, up to a line end */
	uint64_t lines;
	char path[512];    /* last name it was seen under (for messages) */
};

struct in_seen {
	struct in_file *f;
	uint32_t n, alloc;
};

void in_seen_free(struct in_seen *s);
/* Adds a record (state loading); returns 0 or -1. */
int in_seen_add(struct in_seen *s, const struct in_file *f);

/* Called for every line, without its newline. Returns 0 to go on, or a
 * negative value to stop (returned by in_read_*). */
typedef int (*in_line_fn)(void *arg, const char *node, size_t node_len, const char *source,
			  uint64_t lineno, const char *line, size_t len);

/* The node of path by chorus-logd's layout: the directory name when the
 * file name begins with "access-"; else NULL. Writes into node[65]. */
const char *in_node_of_path(const char *path, char node[65]);

struct in_opts {
	const char *node;     /* node of lines whose file says none */
	struct in_seen *seen; /* NULL: read everything */
	in_line_fn fn;
	void *arg;
	uint64_t *bytes_in;   /* uncompressed bytes read, added to (progress) */
};

/* Reads the file at path (or standard input for "-"), skipping what seen
 * says was read, and records how far it got. A last line without a
 * newline is counted for standard input and compressed files, and left
 * for the next run for a plain file when seen is given (it may be half
 * written). Returns 0, 1 when the file was already read completely
 * (nothing new), or -1 with a message in err. */
int in_read_path(const char *path, const struct in_opts *o, char *err, size_t errlen);

/* Reads up to cap bytes of the start of path's data (uncompressed) into
 * buf, without recording anything: how the shell learns the first date
 * of a file before deciding the reading order. Returns the number of
 * bytes, or -1 with a message in err. Not for standard input. */
long in_peek_file(const char *path, uint8_t *buf, size_t cap, char *err, size_t errlen);

#endif
