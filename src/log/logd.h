/*
 * logd.h - the parts of chorus-logd, the central log writer (issue 4):
 * its configuration (logd_conf.c), file-name patterns and node names
 * (logd_path.c), Match filters and RewriteTimestamp (logd_match.c), the
 * durable store (logd_store.c) and background compression
 * (logd_rotate.c). main_logd.c is the shell: daemon connections, the
 * poll loop, signals, acknowledgements.
 *
 * The configuration is spreadlogd 2.0's file format (every spreadlogd.conf
 * is a chorus-logd configuration) plus keywords of our own; see
 * chorus-logd.conf(5). The durability design and the file layout are in
 * docs/logd.md.
 *
 * Ownership: struct logd_conf is a plain value with fixed arrays; the
 * caller owns it and nothing inside needs freeing. The other objects
 * (struct logd_match, struct store, struct zq) are created and destroyed
 * by the init/free pairs of their modules.
 */
#ifndef CHORUS_LOGD_H
#define CHORUS_LOGD_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define LOGD_MAX_DAEMONS 8
#define LOGD_MAX_RULES 64
#define LOGD_MAX_MATCH 16
#define LOGD_PATH_MAX 512
#define LOGD_VALUE_MAX 512    /* longest value of any keyword */
#define LOGD_FMT_MAX 128
#define LOGD_ADDR_MAX 128
#define LOGD_GROUP_MAX 32     /* with the NUL, as Spread's MAX_GROUP_NAME */
#define LOGD_ID_MAX 255       /* writer id, as BATCH_NAME_MAX */
#define LOGD_NODE_MAX 64      /* longest node name used in a path */
#define LOGD_CONF_FILE_MAX (1024 * 1024)
#define LOGD_USER_MAX 128     /* "user:group", with the NUL */

enum logd_fsync { LOGD_FSYNC_NEVER, LOGD_FSYNC_INTERVAL, LOGD_FSYNC_BATCH };
enum logd_rewrite { LOGD_RW_NONE, LOGD_RW_CLF, LOGD_RW_FORMAT };
enum logd_clock { LOGD_CLOCK_WRITER, LOGD_CLOCK_SENDER };
enum logd_compress { LOGD_COMP_NONE, LOGD_COMP_GZIP, LOGD_COMP_ZSTD };

/* One Log block: the lines of a group that go to one file pattern. */
struct logd_rule {
	int daemon;                          /* index into conf.daemons */
	char group[LOGD_GROUP_MAX];
	char file[LOGD_PATH_MAX];            /* pattern (logd_path.c) */
	int nmatch;                          /* 0: every line */
	char match[LOGD_MAX_MATCH][LOGD_VALUE_MAX];
	enum logd_rewrite rewrite;
	char rewrite_fmt[LOGD_FMT_MAX];      /* LOGD_RW_FORMAT */
	enum logd_clock clock;               /* whose time RewriteTimestamp uses */
	uint64_t rotate_size;                /* bytes; 0: no size rotation */
	enum logd_compress compress;         /* of rotated files */
};

struct logd_daemon_conf {
	char addr[LOGD_ADDR_MAX];            /* Spread form: 4803, 4803@host, /path */
};

struct logd_conf {
	uint32_t buffer_size;                /* spreadlogd's; accepted, no effect */
	char writer_id[LOGD_ID_MAX + 1];     /* "": host name + state dir hash */
	char state_dir[LOGD_PATH_MAX];
	char user[LOGD_USER_MAX];            /* User: "user[:group]"; "": none */
	char quarantine[LOGD_PATH_MAX];      /* pattern without %n */
	enum logd_fsync fsync;
	int64_t fsync_ms;                    /* LOGD_FSYNC_INTERVAL */
	uint64_t commit_size;                /* early commit (bytes a stream); 0: off */
	int64_t status_s;                    /* periodic status line; 0: none */
	uint32_t max_open;                   /* open log files at most */
	/* TLS for "tls:" daemon addresses (chorus_set_tls; "": the
	 * CHORUS_TLS_* environment variables, else none / the system CAs). */
	char tls_ca[LOGD_PATH_MAX], tls_cert[LOGD_PATH_MAX], tls_key[LOGD_PATH_MAX];
	int ndaemons;
	struct logd_daemon_conf daemons[LOGD_MAX_DAEMONS];
	int nrules;
	struct logd_rule rules[LOGD_MAX_RULES];
};

/* ---- logd_conf.c ---- */

/* Parses len bytes of configuration text into c (zeroed first, then
 * defaults). Options of spreadlogd that chorus-logd does not support are
 * skipped with one line each in warn (NUL-terminated, may be cut short;
 * warn may be NULL). Returns 0, or -1 with "line N: why" in err. Pure: no
 * I/O, no globals. */
int logd_conf_parse(const char *text, size_t len, struct logd_conf *c,
		    char *err, size_t errlen, char *warn, size_t warnlen);

/* Reads and parses a file (at most LOGD_CONF_FILE_MAX bytes); relative
 * paths in it are made relative to the file's directory. Returns 0 or -1
 * with a message in err. */
int logd_conf_load(const char *path, struct logd_conf *c, char *err,
		   size_t errlen, char *warn, size_t warnlen);

/* Prints c in canonical form: every setting explicit, one per line. The
 * output parses back into an identical struct. */
void logd_conf_print(const struct logd_conf *c, FILE *fp);

/* The names of the enums, for the printer and status lines. */
const char *logd_compress_name(enum logd_compress c);

/* ---- logd_path.c ---- */

/* Checks a file-name pattern: '%' sequences must be %%, %g, %n (only if
 * allow_node) or one of the strftime conversions listed in
 * chorus-logd.conf(5). Returns 0 or -1 with the reason in err. */
int logd_pattern_check(const char *pat, int allow_node, char *err, size_t errlen);

/* 1 if the pattern uses %n (one file per node). */
int logd_pattern_has_node(const char *pat);

/* 1 if the pattern has a strftime conversion (time rotation). */
int logd_pattern_has_time(const char *pat);

/* 1 if the pattern uses %g (the group names a path component). */
int logd_pattern_has_group(const char *pat);

/* 1 if the pattern ends in %n: the node name is the end of the file
 * name, where the writer's own endings go (".N" of size rotation, ".gz",
 * ".zst", ".part" of compression, ".lateN" of late lines). */
int logd_pattern_ends_in_node(const char *pat);

/* 1 if name (len bytes) ends like one of the writer's own file names:
 * ".<digits>", ".gz", ".zst", ".part" or ".late<digits>". Under a
 * pattern that ends in %n such a node would alias another node's
 * rotated, compressed or late file. */
int logd_node_aliases(const char *name, size_t len);

/* logd_node_ok(), and, for a pattern that ends in %n, not
 * logd_node_aliases(). */
int logd_node_ok_for(const char *pat, const char *name, size_t len);

/* The end of the period of a time pattern: the first second after t at
 * which its expansion for group and node (NULL: none) differs from the
 * one at t (local time), or -1 if it does not change within two years
 * (no time conversion) or does not expand. Exact for patterns whose
 * expansion, once changed, does not come back within the interval the
 * search doubles through (every pattern with the larger units of its
 * smallest one). */
int64_t logd_pattern_period_end(const char *pat, const char *group, const char *node,
				int64_t t);

/* 1 if name (len bytes) may become a path component: 1..LOGD_NODE_MAX
 * bytes of [A-Za-z0-9._-], not starting with '.' (so neither "." nor
 * ".." nor a hidden file). */
int logd_node_ok(const char *name, size_t len);

/* Expands a checked pattern for group, node (NULL when the pattern has
 * no %n) and broken-down time tm into out (cap bytes). Returns the
 * length, or -1 if the result does not fit or is empty. */
int logd_pattern_expand(const char *pat, const char *group, const char *node,
			const struct tm *tm, char *out, size_t cap);

/* ---- logd_match.c ---- */

/* The compiled Match filters of one rule. */
struct logd_match {
	int n;
	regex_t re[LOGD_MAX_MATCH];
};

/* Compiles the patterns of rule r (POSIX extended, as spreadlogd).
 * Returns 0, or -1 with the regerror() text in err (nothing to free).
 * The caller frees a successful result with logd_match_free(). */
int logd_match_init(struct logd_match *m, const struct logd_rule *r,
		    char *err, size_t errlen);
void logd_match_free(struct logd_match *m);

/* 1 if the line (len bytes, without its '\n') passes the filters: there
 * are none, or at least one matches. */
int logd_match_line(const struct logd_match *m, const char *line, size_t len);

/* RewriteTimestamp: copies the line (len bytes, without '\n') into out
 * (cap bytes) with its first "[...]" replaced by the time t formatted as
 * CLF ("[10/Oct/2000:13:55:36 -0700]", English month names, local time)
 * or by strftime(fmt). A line without brackets is copied unchanged.
 * Returns the new length, or -1 if it does not fit in cap. */
long logd_rewrite_time(enum logd_rewrite how, const char *fmt, time_t t,
		       const char *line, size_t len, char *out, size_t cap);

#endif /* CHORUS_LOGD_H */
