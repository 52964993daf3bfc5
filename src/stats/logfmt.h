/*
 * logfmt.h - Apache access-log formats: a LogFormat string (or one of the
 * nicknames combined, common, vhost_combined) is compiled once into a list
 * of literals and fields; each line is then split by a hand-written
 * scanner (no regular expressions) into a record whose strings point into
 * the line.
 *
 * Pure: no I/O, no globals. Ownership: lf_compile() fills a caller-owned
 * struct lf_format (fixed size, no allocation); lf_parse() writes a
 * caller-owned struct lf_rec whose pointers are valid while the line is.
 */
#ifndef CHORUS_STATS_LOGFMT_H
#define CHORUS_STATS_LOGFMT_H

#include <stddef.h>
#include <stdint.h>

#define LF_ITEMS_MAX 64
#define LF_LIT_MAX 32
/* Lines longer than this are counted as too long and not parsed. */
#define LF_LINE_MAX 65536

enum lf_field {
	LF_LIT = 0,   /* a literal (not a field) */
	LF_HOST,      /* %h %a %{c}a: the client */
	LF_VHOST,     /* %v %V */
	LF_TIME,      /* %t: [dd/Mon/yyyy:HH:MM:SS +zzzz] */
	LF_REQUEST,   /* %r: METHOD PATH PROTOCOL */
	LF_METHOD,    /* %m */
	LF_PATH,      /* %U */
	LF_QUERY,     /* %q */
	LF_STATUS,    /* %s %>s %<s */
	LF_BYTES,     /* %b %B %O */
	LF_REFERER,   /* %{Referer}i */
	LF_AGENT,     /* %{User-Agent}i */
	LF_OTHER      /* any other directive: skipped */
};

/* How a field followed directly by another field (no literal between
 * them) ends. */
enum { LF_SPLIT_NONE, LF_SPLIT_QMARK, LF_SPLIT_DIGITS };

struct lf_item {
	uint8_t kind;   /* enum lf_field */
	uint8_t quoted; /* a field between two '"' literals */
	uint8_t split;  /* LF_SPLIT_*: at the first '?' (a %q follows), or
			   after its digits or "-" (a number) */
	uint8_t numeric; /* the directive writes a number or "-" */
	char dir;       /* the directive's letter (messages) */
	uint8_t len;    /* literal length */
	char lit[LF_LIT_MAX];
};

struct lf_format {
	int n;
	unsigned have;  /* bit (1 << kind) for every field present */
	struct lf_item item[LF_ITEMS_MAX];
};

/* Why a line was refused; LF_OK is 0. */
enum lf_reason {
	LF_OK = 0,
	LF_R_EMPTY,
	LF_R_TOO_LONG,
	LF_R_BAD_FIELD,
	LF_R_BAD_TIME,
	LF_R_BAD_REQUEST,
	LF_R_BAD_STATUS,
	LF_R_BAD_SIZE,
	LF_R_BAD_ADDRESS,
	LF_R_TRUNCATED,
	LF_R_FUTURE,    /* dated after the run's "now" and its tolerance (feed.h) */
	LF_R_TOO_OLD,   /* dated before the run's oldest accepted day (feed.h) */
	LF_R__COUNT
};

/* The reason's name in the report ("bad_time", ...). */
const char *lf_reason_name(int reason);

struct lf_rec {
	const char *host;
	size_t host_len;
	const char *vhost;
	size_t vhost_len;
	int32_t date;     /* yyyymmdd, as written in the line */
	int32_t day;      /* days since 1970-01-01 of that date */
	uint8_t hour;
	const char *method;
	size_t method_len;
	const char *path; /* without the query string */
	size_t path_len;
	int status;       /* 0: missing ("-") */
	uint64_t bytes;
	const char *ref;  /* NULL when the format has none or it is "-" */
	size_t ref_len;
	const char *ua;   /* NULL when the format has none */
	size_t ua_len;
};

/* Compiles fmt (a nickname or a LogFormat string as written in Apache's
 * configuration, with \" \\ \t escapes). Returns 0, or -1 with a message
 * in err. The format must have a time (%t) and a request (%r, or %U).
 * Two fields may touch (no literal between them) only where the boundary
 * is known: a %q after a field that holds no '?' (%U%q: the query string
 * starts at the first '?'), or any field but a number after a number
 * (%D%U). Other pairs (%h%u, %b%D) are refused with a message. */
int lf_compile(struct lf_format *f, const char *fmt, char *err, size_t errlen);

/* Splits line (len bytes, no trailing newline) into r. Returns LF_OK or
 * an lf_reason. Trailing fields missing from a line that has at least
 * the time, request and status are tolerated (the common format in a
 * combined log): they read as absent. */
int lf_parse(const struct lf_format *f, const char *line, size_t len, struct lf_rec *r);

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int32_t lf_days_from_civil(int y, int m, int d);
/* yyyymmdd of a day number. */
int32_t lf_date_of_day(int32_t day);

#endif
