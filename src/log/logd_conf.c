/*
 * logd_conf.c - chorus-logd's configuration: spreadlogd 2.0's file format
 * plus chorus-logd's own keywords, parsed into a struct logd_conf, and the
 * canonical printer behind `chorus-logd -n`.
 *
 * The lexical rules are spreadlogd's (its config_gram.l): '#' starts a
 * comment to the end of the line; a token is "{", "}", a quoted string
 * ('...' or "...") or a run of characters other than blanks, newlines,
 * '#', '{' and '}'; a run that is exactly "=" is the equals sign. The
 * grammar (its config_gram.y): global settings, then Spread { ... }
 * blocks, each with Port and Host settings and Log { ... } blocks.
 *
 * Deviations, all on the side of refusing what spreadlogd would silently
 * misread (chorus-logd.conf(5) lists them for users): keywords are
 * matched without regard to case; a quoted string must close on its own
 * line and no value may hold a control character; global settings may
 * also follow a Spread block; unknown keywords and values out of range
 * are errors naming their line. spreadlogd's module, Perl and Python
 * hooks (ModuleDir, LoadModule, ModuleLog, PerlLib, PerlUse, PerlLog,
 * PerlHup, PythonLib, PythonImport, PythonLog) are skipped with a
 * warning, and a File starting with '|' (a pipe) is an error.
 *
 * Parsing is pure: no I/O, no globals; every read is bounded by the
 * length given (tests/fuzz/fuzz_logd_conf.c). logd_conf_load() alone
 * reads a file.
 */
#include "log/logd.h"
#include "util/privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_STATE_DIR "/var/lib/chorus-logd"
#define DEFAULT_QUARANTINE "/var/log/chorus/quarantine-%g.log"
#define DEFAULT_FSYNC_MS 100
#define DEFAULT_COMMIT_SIZE (2u << 20)
#define COMMIT_SIZE_MIN 4096
#define COMMIT_SIZE_MAX (1u << 30)
#define DEFAULT_STATUS_S 300
#define DEFAULT_MAX_OPEN 256
#define DEFAULT_BUFFER 8192
#define DEFAULT_PORT "4803"

enum tok { T_EOF, T_LBRACE, T_RBRACE, T_EQUALS, T_STRING, T_ERROR };

struct lexer {
	const char *p, *end;
	int line;
	int tok_line;                  /* line of the current token */
	enum tok tok;
	char val[LOGD_VALUE_MAX];      /* T_STRING: the value, NUL-terminated */
	int quoted;
	char *err;
	size_t errlen;
	char *warn;
	size_t warnlen;
};

static int fail(struct lexer *lx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Writes "line N: why" into the error buffer; returns -1. */
static int fail(struct lexer *lx, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!lx->err || lx->errlen == 0)
		return -1;
	n = snprintf(lx->err, lx->errlen, "line %d: ", lx->tok_line);
	if (n < 0 || (size_t)n >= lx->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(lx->err + n, lx->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void warn(struct lexer *lx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends "line N: what\n" to the warnings, cut short when full. */
static void warn(struct lexer *lx, const char *fmt, ...)
{
	size_t used;
	va_list ap;
	int n;

	if (!lx->warn || lx->warnlen == 0)
		return;
	used = strnlen(lx->warn, lx->warnlen - 1);
	n = snprintf(lx->warn + used, lx->warnlen - used, "line %d: ", lx->tok_line);
	if (n < 0 || (size_t)n >= lx->warnlen - used)
		return;
	used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(lx->warn + used, lx->warnlen - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= lx->warnlen - used - 1)
		return;
	used += (size_t)n;
	lx->warn[used] = '\n';
	lx->warn[used + 1] = 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int is_word(char c)
{
	return !is_blank(c) && c != '\n' && c != '#' && c != '{' && c != '}';
}

/* Reads the next token into lx->tok (and lx->val). Returns 0 or -1. */
static int next(struct lexer *lx)
{
	const char *start;
	size_t n;

	lx->quoted = 0;
	for (;;) {
		while (lx->p < lx->end && is_blank(*lx->p))
			lx->p++;
		if (lx->p < lx->end && *lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (lx->p < lx->end && *lx->p == '\n') {
			lx->line++;
			lx->p++;
			continue;
		}
		break;
	}
	lx->tok_line = lx->line;
	if (lx->p >= lx->end) {
		lx->tok = T_EOF;
		return 0;
	}
	if (*lx->p == '{' || *lx->p == '}') {
		lx->tok = *lx->p == '{' ? T_LBRACE : T_RBRACE;
		lx->p++;
		return 0;
	}
	if (*lx->p == '"' || *lx->p == '\'') {
		char q = *lx->p;

		start = ++lx->p;
		while (lx->p < lx->end && *lx->p != q && *lx->p != '\n')
			lx->p++;
		if (lx->p >= lx->end || *lx->p != q) {
			lx->tok = T_ERROR;
			return fail(lx, "unterminated quoted string");
		}
		n = (size_t)(lx->p - start);
		lx->p++;
		lx->quoted = 1;
	} else {
		start = lx->p;
		while (lx->p < lx->end && is_word(*lx->p))
			lx->p++;
		n = (size_t)(lx->p - start);
		if (n == 1 && *start == '=') {
			lx->tok = T_EQUALS;
			return 0;
		}
	}
	if (n >= sizeof(lx->val)) {
		lx->tok = T_ERROR;
		return fail(lx, "value longer than %zu characters", sizeof(lx->val) - 1);
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)start[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f || c == 0) {
			lx->tok = T_ERROR;
			return fail(lx, "control character in a value");
		}
	}
	memcpy(lx->val, start, n);
	lx->val[n] = 0;
	lx->tok = T_STRING;
	return 0;
}

/* 1 if the current token is the (unquoted) keyword kw. */
static int is_kw(const struct lexer *lx, const char *kw)
{
	return lx->tok == T_STRING && !lx->quoted && strcasecmp(lx->val, kw) == 0;
}

/* Expects "= value" after a keyword; leaves the value in lx->val. */
static int equals_value(struct lexer *lx, const char *kw)
{
	if (next(lx) != 0)
		return -1;
	if (lx->tok != T_EQUALS)
		return fail(lx, "%s: expected '='", kw);
	if (next(lx) != 0)
		return -1;
	if (lx->tok != T_STRING)
		return fail(lx, "%s: expected a value after '='", kw);
	return 0;
}

/* Copies the current value into dst (cap bytes); an error if too long. */
static int take(struct lexer *lx, const char *kw, char *dst, size_t cap)
{
	size_t n = strlen(lx->val);

	if (n >= cap)
		return fail(lx, "%s: longer than %zu characters", kw, cap - 1);
	/* The whole field, so that a value given twice leaves no bytes of
	 * the first behind (configurations are compared with memcmp). */
	memset(dst, 0, cap);
	memcpy(dst, lx->val, n + 1);
	return 0;
}

/* Parses an unsigned number with an optional K, M or G suffix (powers of
 * 1024) when sizes is set, within [min, max]. */
static int number(struct lexer *lx, const char *kw, int sizes, uint64_t min,
		  uint64_t max, uint64_t *out)
{
	const char *s = lx->val;
	uint64_t v = 0;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return fail(lx, "%s: \"%s\" is not a number", kw, lx->val);
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return fail(lx, "%s: %s is too large", kw, lx->val);
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (sizes && *s && !s[1]) {
		switch (*s) {
		case 'k': case 'K': shift = 10; s++; break;
		case 'm': case 'M': shift = 20; s++; break;
		case 'g': case 'G': shift = 30; s++; break;
		}
	}
	if (*s)
		return fail(lx, "%s: \"%s\" is not a %s", kw, lx->val,
			    sizes ? "size (N, NK, NM or NG)" : "number");
	if (shift && v > (UINT64_MAX >> shift))
		return fail(lx, "%s: %s is too large", kw, lx->val);
	v <<= shift;
	if (v < min || v > max)
		return fail(lx, "%s: %s is outside %" PRIu64 "..%" PRIu64, kw,
			    lx->val, min, max);
	*out = v;
	return 0;
}

/* A Spread group name: 1..31 bytes in 0x24..0x7e, as the daemon takes. */
static int group_ok(const char *g)
{
	size_t n = strlen(g);

	if (n == 0 || n >= LOGD_GROUP_MAX)
		return 0;
	for (; *g; g++)
		if ((unsigned char)*g < 0x24 || (unsigned char)*g > 0x7e)
			return 0;
	return 1;
}

/* A writer id: 1..255 printable bytes, no spaces (docs/log-batch.md). */
static int writer_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LOGD_ID_MAX)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* Skips a spreadlogd hook we do not run: the keyword and its arguments,
 * which spreadlogd writes on the same line ("LoadModule foo bar",
 * "PerlLog mylogger::log"), with or without '='. */
static int skip_unsupported(struct lexer *lx, const char *kw)
{
	int line = lx->tok_line;

	warn(lx, "%s is a spreadlogd module hook that chorus-logd does not support; "
	     "ignored", kw);
	for (;;) {
		if (next(lx) != 0)
			return -1;
		if ((lx->tok != T_STRING && lx->tok != T_EQUALS) || lx->tok_line != line)
			return 1; /* the current token is the next statement */
	}
}

static const char *const unsupported[] = {
	"ModuleDir", "LoadModule", "ModuleLog", "PerlLib", "PerlUse", "PerlLog",
	"PerlHup", "PythonLib", "PythonImport", "PythonLog",
};

static const char *is_unsupported(const struct lexer *lx)
{
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (is_kw(lx, unsupported[i]))
			return unsupported[i];
	return NULL;
}

static int parse_compress(struct lexer *lx, enum logd_compress *out)
{
	if (strcasecmp(lx->val, "none") == 0)
		*out = LOGD_COMP_NONE;
	else if (strcasecmp(lx->val, "gzip") == 0)
		*out = LOGD_COMP_GZIP;
	else if (strcasecmp(lx->val, "zstd") == 0)
		*out = LOGD_COMP_ZSTD;
	else
		return fail(lx, "Compress: \"%s\" is not none, gzip or zstd", lx->val);
	return 0;
}

/* Parses the body of a Log block (after "{"); the rule's daemon is set.
 * On return the current token is the closing brace. */
static int parse_log(struct lexer *lx, struct logd_rule *r, int *has_file,
		     int *has_vhost)
{
	char vhost[LOGD_PATH_MAX] = "";
	const char *un;

	for (;;) {
		if (next(lx) != 0)
			return -1;
		if (lx->tok == T_RBRACE)
			break;
		while ((un = is_unsupported(lx)) != NULL) {
			int k = skip_unsupported(lx, un);

			if (k < 0)
				return -1;
		}
		if (lx->tok == T_RBRACE)
			break;
		if (lx->tok != T_STRING)
			return fail(lx, "expected a setting of the Log block or '}'");
		if (is_kw(lx, "Group")) {
			if (equals_value(lx, "Group") != 0 ||
			    take(lx, "Group", r->group, sizeof(r->group)) != 0)
				return -1;
			if (!group_ok(r->group))
				return fail(lx, "Group: \"%s\" is not a group name (1 to 31 "
					    "characters, no spaces or controls)", r->group);
		} else if (is_kw(lx, "File")) {
			if (equals_value(lx, "File") != 0 ||
			    take(lx, "File", r->file, sizeof(r->file)) != 0)
				return -1;
			if (r->file[0] == '|')
				return fail(lx, "File: piped logs (\"|command\") are not "
					    "supported");
			*has_file = 1;
		} else if (is_kw(lx, "VhostDir")) {
			if (equals_value(lx, "VhostDir") != 0 ||
			    take(lx, "VhostDir", vhost, sizeof(vhost)) != 0)
				return -1;
			if (!vhost[0])
				return fail(lx, "VhostDir: empty");
			*has_vhost = 1;
		} else if (is_kw(lx, "Match")) {
			if (equals_value(lx, "Match") != 0)
				return -1;
			if (r->nmatch == LOGD_MAX_MATCH)
				return fail(lx, "Match: at most %d per Log block", LOGD_MAX_MATCH);
			if (take(lx, "Match", r->match[r->nmatch], sizeof(r->match[0])) != 0)
				return -1;
			{
				regex_t re;
				char why[128];
				int e = regcomp(&re, r->match[r->nmatch], REG_EXTENDED | REG_NOSUB);

				if (e != 0) {
					regerror(e, &re, why, sizeof(why));
					return fail(lx, "Match: %s", why);
				}
				regfree(&re);
			}
			r->nmatch++;
		} else if (is_kw(lx, "RewriteTimestamp")) {
			if (equals_value(lx, "RewriteTimestamp") != 0)
				return -1;
			if (!lx->quoted && strcasecmp(lx->val, "CommonLogFormat") == 0) {
				r->rewrite = LOGD_RW_CLF;
				memset(r->rewrite_fmt, 0, sizeof(r->rewrite_fmt));
			} else if (!lx->quoted && strcasecmp(lx->val, "none") == 0) {
				r->rewrite = LOGD_RW_NONE;
				memset(r->rewrite_fmt, 0, sizeof(r->rewrite_fmt));
			} else {
				if (take(lx, "RewriteTimestamp", r->rewrite_fmt,
					 sizeof(r->rewrite_fmt)) != 0)
					return -1;
				if (!r->rewrite_fmt[0])
					return fail(lx, "RewriteTimestamp: empty format");
				r->rewrite = LOGD_RW_FORMAT;
			}
		} else if (is_kw(lx, "RewriteClock")) {
			if (equals_value(lx, "RewriteClock") != 0)
				return -1;
			if (strcasecmp(lx->val, "writer") == 0)
				r->clock = LOGD_CLOCK_WRITER;
			else if (strcasecmp(lx->val, "sender") == 0)
				r->clock = LOGD_CLOCK_SENDER;
			else
				return fail(lx, "RewriteClock: \"%s\" is not writer or sender",
					    lx->val);
		} else if (is_kw(lx, "RotateSize")) {
			if (equals_value(lx, "RotateSize") != 0 ||
			    number(lx, "RotateSize", 1, 0, UINT64_C(1) << 50,
				   &r->rotate_size) != 0)
				return -1;
			if (r->rotate_size && r->rotate_size < 4096)
				return fail(lx, "RotateSize: 0 (off) or at least 4K");
		} else if (is_kw(lx, "Compress")) {
			if (equals_value(lx, "Compress") != 0 ||
			    parse_compress(lx, &r->compress) != 0)
				return -1;
		} else {
			return fail(lx, "unknown setting \"%s\" in a Log block", lx->val);
		}
	}
	if (*has_vhost) {
		/* spreadlogd's VhostDir: one file per virtual host (the first
		 * token of each line) in that directory; File is then unused. */
		size_t o = 0;

		memset(r->file, 0, sizeof(r->file));
		for (const char *s = vhost; *s; s++) {
			if (o + 3 >= sizeof(r->file))
				return fail(lx, "VhostDir: too long");
			r->file[o++] = *s;
			if (*s == '%')
				r->file[o++] = '%';
		}
		if (o + 4 >= sizeof(r->file))
			return fail(lx, "VhostDir: too long");
		memcpy(r->file + o, "/%n", 4);
	}
	return 0;
}

/* Parses the body of a Spread block into daemon d and its rules. */
static int parse_spread(struct lexer *lx, struct logd_conf *c, int d)
{
	char port[LOGD_ADDR_MAX] = DEFAULT_PORT, host[LOGD_ADDR_MAX] = "";
	const char *un;
	int n;

	for (;;) {
		if (next(lx) != 0)
			return -1;
		while ((un = is_unsupported(lx)) != NULL)
			if (skip_unsupported(lx, un) < 0)
				return -1;
		if (lx->tok == T_RBRACE)
			break;
		if (lx->tok != T_STRING)
			return fail(lx, "expected Port, Host, Log or '}'");
		if (is_kw(lx, "Port")) {
			if (equals_value(lx, "Port") != 0 ||
			    take(lx, "Port", port, sizeof(port)) != 0)
				return -1;
			if (!port[0])
				return fail(lx, "Port: empty");
		} else if (is_kw(lx, "Host")) {
			if (equals_value(lx, "Host") != 0 ||
			    take(lx, "Host", host, sizeof(host)) != 0)
				return -1;
			if (!host[0] || strchr(host, '@') || strchr(host, ' '))
				return fail(lx, "Host: \"%s\" is not a host name", host);
		} else if (is_kw(lx, "Log")) {
			struct logd_rule *r;
			int has_file = 0, has_vhost = 0;

			if (c->nrules == LOGD_MAX_RULES)
				return fail(lx, "at most %d Log blocks", LOGD_MAX_RULES);
			if (next(lx) != 0)
				return -1;
			if (lx->tok != T_LBRACE)
				return fail(lx, "Log: expected '{'");
			r = &c->rules[c->nrules];
			memset(r, 0, sizeof(*r));
			r->daemon = d;
			if (parse_log(lx, r, &has_file, &has_vhost) != 0)
				return -1;
			if (!r->group[0])
				return fail(lx, "Log block without a Group");
			if (!has_file && !has_vhost)
				return fail(lx, "Log block for %s without File or VhostDir",
					    r->group);
			{
				char why[160];

				if (logd_pattern_check(r->file, 1, why, sizeof(why)) != 0)
					return fail(lx, "File of %s: %s", r->group, why);
			}
			if (r->rewrite != LOGD_RW_NONE && r->clock == LOGD_CLOCK_WRITER)
				warn(lx, "group %s: RewriteTimestamp with the writer's clock "
				     "(RewriteClock = writer, the default): replicas write "
				     "different lines; RewriteClock = sender makes them equal",
				     r->group);
			c->nrules++;
		} else {
			return fail(lx, "unknown setting \"%s\" in a Spread block", lx->val);
		}
	}
	/* Port may carry the host ("4913@gollum"); Host adds it otherwise. */
	if (host[0] && strchr(port, '@'))
		return fail(lx, "Spread block: Port %s already names a host; drop Host",
			    port);
	if (port[0] == '/' && host[0])
		return fail(lx, "Spread block: a socket path takes no Host");
	if (strncmp(port, "tls:", 4) == 0 && !host[0] && !strchr(port, '@'))
		return fail(lx, "Spread block: a TLS port (%s) needs the daemon's "
			    "host name, to check its certificate", port);
	if (port[0] != '/') {
		const char *p = port + (strncmp(port, "tls:", 4) == 0 ? 4 : 0);
		const char *start = p;

		for (; *p >= '0' && *p <= '9'; p++)
			;
		if (p == start || (*p && *p != '@') || (*p == '@' && !p[1]) ||
		    atol(start) < 1 || atol(start) > 65535 || p - start > 5)
			return fail(lx, "Port: \"%s\" is not PORT, PORT@HOST, "
				    "tls:PORT@HOST or a socket path", port);
	}
	n = snprintf(c->daemons[d].addr, sizeof(c->daemons[d].addr), "%s%s%s", port,
		     host[0] ? "@" : "", host);
	if (n < 0 || (size_t)n >= sizeof(c->daemons[d].addr))
		return fail(lx, "Spread block: daemon address too long");
	return 0;
}

static int parse_fsync(struct lexer *lx, struct logd_conf *c)
{
	uint64_t ms;
	size_t n = strlen(lx->val);

	if (strcasecmp(lx->val, "never") == 0) {
		c->fsync = LOGD_FSYNC_NEVER;
		c->fsync_ms = 0;
		return 0;
	}
	if (strcasecmp(lx->val, "batch") == 0) {
		c->fsync = LOGD_FSYNC_BATCH;
		c->fsync_ms = 0;
		return 0;
	}
	if (n > 2 && strcasecmp(lx->val + n - 2, "ms") == 0)
		lx->val[n - 2] = 0;
	if (number(lx, "Fsync", 0, 1, 60000, &ms) != 0)
		return fail(lx, "Fsync: never, batch, or an interval of 1ms..60000ms");
	c->fsync = LOGD_FSYNC_INTERVAL;
	c->fsync_ms = (int64_t)ms;
	return 0;
}

static void defaults(struct logd_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->buffer_size = DEFAULT_BUFFER;
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", DEFAULT_STATE_DIR);
	snprintf(c->quarantine, sizeof(c->quarantine), "%s", DEFAULT_QUARANTINE);
	c->fsync = LOGD_FSYNC_INTERVAL;
	c->fsync_ms = DEFAULT_FSYNC_MS;
	c->commit_size = DEFAULT_COMMIT_SIZE;
	c->status_s = DEFAULT_STATUS_S;
	c->max_open = DEFAULT_MAX_OPEN;
}

int logd_conf_parse(const char *text, size_t len, struct logd_conf *c,
		    char *err, size_t errlen, char *warnbuf, size_t warnlen)
{
	struct lexer lx;
	const char *un;
	uint64_t v;
	char why[160];

	defaults(c);
	memset(&lx, 0, sizeof(lx));
	lx.p = text;
	lx.end = text + len;
	lx.line = 1;
	lx.err = err;
	lx.errlen = errlen;
	lx.warn = warnbuf;
	lx.warnlen = warnlen;
	if (err && errlen)
		err[0] = 0;
	if (warnbuf && warnlen)
		warnbuf[0] = 0;
	if (next(&lx) != 0)
		return -1;
	while (lx.tok != T_EOF) {
		if ((un = is_unsupported(&lx)) != NULL) {
			if (skip_unsupported(&lx, un) < 0)
				return -1;
			continue;
		}
		if (lx.tok != T_STRING)
			return fail(&lx, "expected a setting or a Spread block");
		if (is_kw(&lx, "Spread")) {
			if (c->ndaemons == LOGD_MAX_DAEMONS)
				return fail(&lx, "at most %d Spread blocks", LOGD_MAX_DAEMONS);
			if (next(&lx) != 0)
				return -1;
			if (lx.tok != T_LBRACE)
				return fail(&lx, "Spread: expected '{'");
			if (parse_spread(&lx, c, c->ndaemons) != 0)
				return -1;
			c->ndaemons++;
		} else if (is_kw(&lx, "BufferSize")) {
			if (equals_value(&lx, "BufferSize") != 0 ||
			    number(&lx, "BufferSize", 1, 1, UINT32_MAX, &v) != 0)
				return -1;
			c->buffer_size = (uint32_t)v;
		} else if (is_kw(&lx, "WriterId")) {
			if (equals_value(&lx, "WriterId") != 0 ||
			    take(&lx, "WriterId", c->writer_id, sizeof(c->writer_id)) != 0)
				return -1;
			if (!writer_id_ok(c->writer_id))
				return fail(&lx, "WriterId: 1 to 255 printable characters, "
					    "no spaces");
		} else if (is_kw(&lx, "StateDir")) {
			if (equals_value(&lx, "StateDir") != 0 ||
			    take(&lx, "StateDir", c->state_dir, sizeof(c->state_dir)) != 0)
				return -1;
			if (!c->state_dir[0])
				return fail(&lx, "StateDir: empty");
		} else if (is_kw(&lx, "User")) {
			char u[PD_NAME_MAX], g[PD_NAME_MAX];

			if (equals_value(&lx, "User") != 0 ||
			    take(&lx, "User", c->user, sizeof(c->user)) != 0)
				return -1;
			if (pd_parse_spec(c->user, u, sizeof(u), g, sizeof(g), why,
					  sizeof(why)) != 0)
				return fail(&lx, "User: %s", why);
		} else if (is_kw(&lx, "Quarantine")) {
			if (equals_value(&lx, "Quarantine") != 0 ||
			    take(&lx, "Quarantine", c->quarantine, sizeof(c->quarantine)) != 0)
				return -1;
			if (logd_pattern_check(c->quarantine, 0, why, sizeof(why)) != 0)
				return fail(&lx, "Quarantine: %s", why);
		} else if (is_kw(&lx, "Fsync")) {
			if (equals_value(&lx, "Fsync") != 0 || parse_fsync(&lx, c) != 0)
				return -1;
		} else if (is_kw(&lx, "CommitSize")) {
			if (equals_value(&lx, "CommitSize") != 0 ||
			    number(&lx, "CommitSize", 1, 0, COMMIT_SIZE_MAX, &v) != 0)
				return -1;
			if (v && v < COMMIT_SIZE_MIN)
				return fail(&lx, "CommitSize: 0 (commit by Fsync only) or "
					    "at least 4K");
			c->commit_size = v;
		} else if (is_kw(&lx, "StatusInterval")) {
			if (equals_value(&lx, "StatusInterval") != 0 ||
			    number(&lx, "StatusInterval", 0, 0, 86400, &v) != 0)
				return -1;
			c->status_s = (int64_t)v;
		} else if (is_kw(&lx, "TlsCAFile") || is_kw(&lx, "TlsCertificateFile") ||
			   is_kw(&lx, "TlsKeyFile")) {
			char *f = is_kw(&lx, "TlsCAFile") ? c->tls_ca :
				  is_kw(&lx, "TlsKeyFile") ? c->tls_key : c->tls_cert;
			const char *kw = f == c->tls_ca ? "TlsCAFile" :
					 f == c->tls_key ? "TlsKeyFile" :
					 "TlsCertificateFile";

			if (equals_value(&lx, kw) != 0 ||
			    take(&lx, kw, f, LOGD_PATH_MAX) != 0)
				return -1;
			if (!f[0])
				return fail(&lx, "%s: empty", kw);
		} else if (is_kw(&lx, "MaxOpenFiles")) {
			if (equals_value(&lx, "MaxOpenFiles") != 0 ||
			    number(&lx, "MaxOpenFiles", 0, 4, 65536, &v) != 0)
				return -1;
			c->max_open = (uint32_t)v;
		} else {
			return fail(&lx, "unknown setting \"%s\"", lx.val);
		}
		if (next(&lx) != 0)
			return -1;
	}
	if (c->nrules == 0) {
		lx.tok_line = lx.line;
		return fail(&lx, "no Log block: nothing to write");
	}
	/* A group becomes a path component only if it is safe as one: the
	 * daemon takes names (such as "a/b") that are not. */
	for (int i = 0; i < c->nrules; i++) {
		const struct logd_rule *r = &c->rules[i];
		const char *which = logd_pattern_has_group(r->file) ? "File" :
				    logd_pattern_has_group(c->quarantine) ? "Quarantine" : NULL;

		if (which && !logd_node_ok(r->group, strlen(r->group))) {
			lx.tok_line = lx.line;
			return fail(&lx, "group \"%s\" is not safe as a file name component "
				    "([A-Za-z0-9._-], not starting with '.'), but %s uses %%g",
				    r->group, which);
		}
	}
	return 0;
}

int logd_conf_load(const char *path, struct logd_conf *c, char *err,
		   size_t errlen, char *warnbuf, size_t warnlen)
{
	char *text = NULL, dir[LOGD_PATH_MAX];
	struct stat st;
	ssize_t got = 0;
	int fd, ret = -1;
	const char *slash;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > LOGD_CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
			 LOGD_CONF_FILE_MAX);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)(st.st_size - got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: read: %s", path,
				 r < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += r;
	}
	{
		char inner[400];

		if (logd_conf_parse(text, (size_t)got, c, inner, sizeof(inner), warnbuf,
				    warnlen) != 0) {
			snprintf(err, errlen, "%s: %s", path, inner);
			goto out;
		}
	}
	/* Relative paths are taken relative to the file's directory, so that
	 * a daemon that changed its directory reads the same files. */
	slash = strrchr(path, '/');
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else if (!getcwd(dir, sizeof(dir)))
		snprintf(dir, sizeof(dir), ".");
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/");
	{
		char *paths[LOGD_MAX_RULES + 5];
		int n = 0;

		paths[n++] = c->state_dir;
		paths[n++] = c->quarantine;
		paths[n++] = c->tls_ca;
		paths[n++] = c->tls_cert;
		paths[n++] = c->tls_key;
		for (int i = 0; i < c->nrules; i++)
			paths[n++] = c->rules[i].file;
		for (int i = 0; i < n; i++) {
			char tmp[LOGD_PATH_MAX];
			int k;

			/* (The TLS files, paths 2 to 4, may be unset.) */
			if (paths[i][0] == '/' || (i >= 2 && i <= 4 && !paths[i][0]))
				continue;
			k = snprintf(tmp, sizeof(tmp), "%s/%s", dir, paths[i]);
			if (k < 0 || (size_t)k >= sizeof(tmp)) {
				snprintf(err, errlen, "%s: path %s/%s too long", path, dir,
					 paths[i]);
				goto out;
			}
			memcpy(paths[i], tmp, (size_t)k + 1);
		}
	}
	ret = 0;
out:
	free(text);
	if (fd >= 0)
		close(fd);
	return ret;
}

const char *logd_compress_name(enum logd_compress c)
{
	switch (c) {
	case LOGD_COMP_GZIP: return "gzip";
	case LOGD_COMP_ZSTD: return "zstd";
	case LOGD_COMP_NONE: break;
	}
	return "none";
}

/* Prints a value so that the lexer reads it back unchanged: bare when it
 * is one plain token, else in the quotes it does not contain (the lexer
 * never produces a value with a blank and both kinds of quote). */
static void print_value(FILE *fp, const char *v)
{
	int bare = v[0] && v[0] != '"' && v[0] != '\'' && strcmp(v, "=") != 0;

	for (const char *s = v; bare && *s; s++)
		bare = is_word(*s);
	if (bare)
		fputs(v, fp);
	else if (!strchr(v, '"'))
		fprintf(fp, "\"%s\"", v);
	else
		fprintf(fp, "'%s'", v);
}

/* A RewriteTimestamp format is printed quoted, so that a format that
 * reads "CommonLogFormat" or "none" stays a format; one holding both
 * kinds of quote was bare in the input (it cannot start with a quote). */
static void print_format(FILE *fp, const char *fmt)
{
	fputs("\t\tRewriteTimestamp = ", fp);
	if (!strchr(fmt, '"'))
		fprintf(fp, "\"%s\"\n", fmt);
	else if (!strchr(fmt, '\''))
		fprintf(fp, "'%s'\n", fmt);
	else
		fprintf(fp, "%s\n", fmt);
}

static void print_kv(FILE *fp, const char *indent, const char *kw, const char *v)
{
	fprintf(fp, "%s%s = ", indent, kw);
	print_value(fp, v);
	fputc('\n', fp);
}

void logd_conf_print(const struct logd_conf *c, FILE *fp)
{
	char num[32];

	fprintf(fp, "# chorus-logd configuration, canonical form (chorus-logd -n)\n");
	snprintf(num, sizeof(num), "%" PRIu32, c->buffer_size);
	print_kv(fp, "", "BufferSize", num);
	if (c->writer_id[0])
		print_kv(fp, "", "WriterId", c->writer_id);
	print_kv(fp, "", "StateDir", c->state_dir);
	if (c->user[0])
		print_kv(fp, "", "User", c->user);
	print_kv(fp, "", "Quarantine", c->quarantine);
	if (c->fsync == LOGD_FSYNC_NEVER)
		snprintf(num, sizeof(num), "never");
	else if (c->fsync == LOGD_FSYNC_BATCH)
		snprintf(num, sizeof(num), "batch");
	else
		snprintf(num, sizeof(num), "%" PRId64 "ms", c->fsync_ms);
	print_kv(fp, "", "Fsync", num);
	snprintf(num, sizeof(num), "%" PRIu64, c->commit_size);
	print_kv(fp, "", "CommitSize", num);
	snprintf(num, sizeof(num), "%" PRId64, c->status_s);
	print_kv(fp, "", "StatusInterval", num);
	snprintf(num, sizeof(num), "%" PRIu32, c->max_open);
	print_kv(fp, "", "MaxOpenFiles", num);
	if (c->tls_ca[0])
		print_kv(fp, "", "TlsCAFile", c->tls_ca);
	if (c->tls_cert[0])
		print_kv(fp, "", "TlsCertificateFile", c->tls_cert);
	if (c->tls_key[0])
		print_kv(fp, "", "TlsKeyFile", c->tls_key);
	for (int d = 0; d < c->ndaemons; d++) {
		fprintf(fp, "\nSpread {\n");
		print_kv(fp, "\t", "Port", c->daemons[d].addr);
		for (int i = 0; i < c->nrules; i++) {
			const struct logd_rule *r = &c->rules[i];

			if (r->daemon != d)
				continue;
			fprintf(fp, "\tLog {\n");
			print_kv(fp, "\t\t", "Group", r->group);
			print_kv(fp, "\t\t", "File", r->file);
			for (int m = 0; m < r->nmatch; m++)
				print_kv(fp, "\t\t", "Match", r->match[m]);
			if (r->rewrite == LOGD_RW_CLF)
				fprintf(fp, "\t\tRewriteTimestamp = CommonLogFormat\n");
			else if (r->rewrite == LOGD_RW_FORMAT)
				print_format(fp, r->rewrite_fmt);
			else
				fprintf(fp, "\t\tRewriteTimestamp = none\n");
			print_kv(fp, "\t\t", "RewriteClock",
				 r->clock == LOGD_CLOCK_SENDER ? "sender" : "writer");
			snprintf(num, sizeof(num), "%" PRIu64, r->rotate_size);
			print_kv(fp, "\t\t", "RotateSize", num);
			print_kv(fp, "\t\t", "Compress", logd_compress_name(r->compress));
			fprintf(fp, "\t}\n");
		}
		fprintf(fp, "}\n");
	}
}
