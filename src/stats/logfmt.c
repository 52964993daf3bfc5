/*
 * logfmt.c - compiles Apache LogFormat strings and splits access-log
 * lines by them (see logfmt.h). The scanner walks the line once: each
 * field ends where the next literal of the format begins (memchr on its
 * first byte); a field between double quotes ends at a quote that is not
 * escaped by a backslash and is followed by the rest of the literal, so a
 * stray quote inside a request does not end it early.
 */
#include "stats/logfmt.h"

#include <stdio.h>
#include <string.h>

static const char *const reason_names[LF_R__COUNT] = {
	"ok", "empty", "too_long", "bad_field", "bad_time", "bad_request",
	"bad_status", "bad_size", "bad_address", "truncated", "future_time", "too_old",
};

const char *lf_reason_name(int reason)
{
	if (reason < 0 || reason >= LF_R__COUNT)
		return "unknown";
	return reason_names[reason];
}

int32_t lf_days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int32_t)doe - 719468;
}

int32_t lf_date_of_day(int32_t z)
{
	z += 719468;
	int32_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int32_t y = (int32_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	int32_t d = (int32_t)(doy - (153 * mp + 2) / 5 + 1);
	int32_t m = (int32_t)(mp < 10 ? mp + 3 : mp - 9);

	return (y + (m <= 2)) * 10000 + m * 100 + d;
}

static int add_lit(struct lf_format *f, char c, char *err, size_t errlen)
{
	struct lf_item *it;

	if (f->n > 0 && f->item[f->n - 1].kind == LF_LIT && f->item[f->n - 1].len < LF_LIT_MAX) {
		it = &f->item[f->n - 1];
	} else {
		if (f->n >= LF_ITEMS_MAX) {
			snprintf(err, errlen, "log format has too many parts (at most %d)", LF_ITEMS_MAX);
			return -1;
		}
		it = &f->item[f->n++];
		memset(it, 0, sizeof(*it));
		it->kind = LF_LIT;
	}
	it->lit[it->len++] = c;
	return 0;
}

static int add_field(struct lf_format *f, int kind, char dir, int numeric, char *err,
		     size_t errlen)
{
	if (f->n >= LF_ITEMS_MAX) {
		snprintf(err, errlen, "log format has too many parts (at most %d)", LF_ITEMS_MAX);
		return -1;
	}
	if (f->n > 0 && f->item[f->n - 1].kind != LF_LIT) {
		struct lf_item *prev = &f->item[f->n - 1];
		/* Fields that never hold a '?'. */
		const unsigned no_qmark = (1u << LF_PATH) | (1u << LF_METHOD) | (1u << LF_HOST) |
					  (1u << LF_VHOST) | (1u << LF_STATUS) | (1u << LF_BYTES);

		if (kind == LF_QUERY && !prev->split && ((no_qmark >> prev->kind) & 1)) {
			prev->split = LF_SPLIT_QMARK;
		} else if (prev->numeric && !numeric && !prev->split) {
			prev->split = LF_SPLIT_DIGITS;
		} else {
			snprintf(err, errlen, "log format: %%%c directly after %%%c (part %d): "
					      "nothing tells where one ends; put a literal between "
					      "them (only %%q after %%U, %%m or %%h, or a field after "
					      "a number, may touch)", dir, prev->dir, f->n + 1);
			return -1;
		}
	}
	memset(&f->item[f->n], 0, sizeof(f->item[0]));
	f->item[f->n].kind = (uint8_t)kind;
	f->item[f->n].dir = dir;
	f->item[f->n].numeric = (uint8_t)numeric;
	f->have |= 1u << kind;
	f->n++;
	return 0;
}

static int header_kind(const char *name, size_t len, char type)
{
	if (type == 'i' && len == 7 && strncasecmp(name, "Referer", 7) == 0)
		return LF_REFERER;
	if (type == 'i' && len == 10 && strncasecmp(name, "User-Agent", 10) == 0)
		return LF_AGENT;
	return LF_OTHER;
}

int lf_compile(struct lf_format *f, const char *fmt, char *err, size_t errlen)
{
	if (strcmp(fmt, "combined") == 0)
		fmt = "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"";
	else if (strcmp(fmt, "common") == 0)
		fmt = "%h %l %u %t \"%r\" %>s %b";
	else if (strcmp(fmt, "vhost_combined") == 0)
		fmt = "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"";
	memset(f, 0, sizeof(*f));
	for (const char *p = fmt; *p; p++) {
		if (*p == '\\' && p[1]) {
			char c = p[1] == 't' ? '\t' : p[1] == 'n' ? '\n' : p[1];

			p++;
			if (add_lit(f, c, err, errlen) != 0)
				return -1;
			continue;
		}
		if (*p != '%') {
			if (add_lit(f, *p, err, errlen) != 0)
				return -1;
			continue;
		}
		p++;
		if (*p == '%') {
			if (add_lit(f, '%', err, errlen) != 0)
				return -1;
			continue;
		}
		/* Modifiers: <, >, status lists like !200,304 */
		while (*p == '<' || *p == '>' || *p == '!' || *p == ',' || (*p >= '0' && *p <= '9'))
			p++;
		const char *arg = NULL;
		size_t arglen = 0;
		if (*p == '{') {
			const char *e = strchr(p, '}');

			if (!e) {
				snprintf(err, errlen, "log format: %%{ without }");
				return -1;
			}
			arg = p + 1;
			arglen = (size_t)(e - arg);
			p = e + 1;
		}
		int kind;
		switch (*p) {
		case 'h': case 'a': kind = LF_HOST; break;
		case 'v': case 'V': kind = LF_VHOST; break;
		case 't': kind = arg ? LF_OTHER : LF_TIME; break;
		case 'r': kind = LF_REQUEST; break;
		case 'm': kind = LF_METHOD; break;
		case 'U': kind = LF_PATH; break;
		case 'q': kind = LF_QUERY; break;
		case 's': kind = LF_STATUS; break;
		case 'b': case 'B': case 'O': kind = LF_BYTES; break;
		case 'i': kind = arg ? header_kind(arg, arglen, 'i') : LF_OTHER; break;
		case 'A': case 'l': case 'u': case 'p': case 'P': case 'D': case 'T': case 'I':
		case 'S': case 'k': case 'L': case 'R': case 'X': case 'f': case 'H': case 'o':
		case 'e': case 'n': case 'C': case '^':
			kind = LF_OTHER;
			if (*p == '^' && p[1] && p[2])
				p += 2;
			break;
		case 0:
			snprintf(err, errlen, "log format ends in %%");
			return -1;
		default:
			snprintf(err, errlen, "log format: unknown directive %%%c", *p);
			return -1;
		}
		/* Directives that write a number (or "-"). */
		int numeric = *p && strchr("sbBOISDTpPk", *p) != NULL;
		if (add_field(f, kind, *p, numeric, err, errlen) != 0)
			return -1;
	}
	if (!(f->have & (1u << LF_TIME))) {
		snprintf(err, errlen, "log format has no time (%%t)");
		return -1;
	}
	if (!(f->have & ((1u << LF_REQUEST) | (1u << LF_PATH)))) {
		snprintf(err, errlen, "log format has no request (%%r or %%U)");
		return -1;
	}
	for (int i = 0; i < f->n; i++) {
		struct lf_item *it = &f->item[i];

		if (it->kind == LF_LIT || i == 0 || i + 1 >= f->n)
			continue;
		const struct lf_item *a = &f->item[i - 1], *b = &f->item[i + 1];
		if (a->kind == LF_LIT && b->kind == LF_LIT && a->lit[a->len - 1] == '"' &&
		    b->lit[0] == '"')
			it->quoted = 1;
	}
	return 0;
}

static int month_of(const char *m)
{
	switch (m[0]) {
	case 'J':
		if (m[1] == 'a' && m[2] == 'n') return 1;
		if (m[1] == 'u' && m[2] == 'n') return 6;
		if (m[1] == 'u' && m[2] == 'l') return 7;
		return 0;
	case 'F': return m[1] == 'e' && m[2] == 'b' ? 2 : 0;
	case 'M':
		if (m[1] == 'a' && m[2] == 'r') return 3;
		if (m[1] == 'a' && m[2] == 'y') return 5;
		return 0;
	case 'A':
		if (m[1] == 'p' && m[2] == 'r') return 4;
		if (m[1] == 'u' && m[2] == 'g') return 8;
		return 0;
	case 'S': return m[1] == 'e' && m[2] == 'p' ? 9 : 0;
	case 'O': return m[1] == 'c' && m[2] == 't' ? 10 : 0;
	case 'N': return m[1] == 'o' && m[2] == 'v' ? 11 : 0;
	case 'D': return m[1] == 'e' && m[2] == 'c' ? 12 : 0;
	}
	return 0;
}

/* memcmp() for the short literals of a format. */
static inline int lit_eq(const char *p, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != lit[i])
			return 0;
	return 1;
}

static inline int dig(char c)
{
	return c >= '0' && c <= '9';
}

/* [dd/Mon/yyyy:HH:MM:SS +zzzz] */
static int parse_time(const char *s, size_t n, struct lf_rec *r)
{
	if (n == 0 || s[0] != '[')
		return LF_R_BAD_FIELD;
	if (n < 22 || s[n - 1] != ']' || s[3] != '/' || s[7] != '/' ||
	    s[12] != ':' || s[15] != ':' || s[18] != ':')
		return LF_R_BAD_TIME;
	if (!dig(s[1]) || !dig(s[2]) || !dig(s[8]) || !dig(s[9]) || !dig(s[10]) || !dig(s[11]) ||
	    !dig(s[13]) || !dig(s[14]) || !dig(s[16]) || !dig(s[17]) || !dig(s[19]) || !dig(s[20]))
		return LF_R_BAD_TIME;
	int d = (s[1] - '0') * 10 + s[2] - '0';
	int m = month_of(s + 4);
	int y = (s[8] - '0') * 1000 + (s[9] - '0') * 100 + (s[10] - '0') * 10 + s[11] - '0';
	int h = (s[13] - '0') * 10 + s[14] - '0';
	int mi = (s[16] - '0') * 10 + s[17] - '0';
	int se = (s[19] - '0') * 10 + s[20] - '0';
	static const uint8_t mdays[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 0 || d < 1 || d > mdays[m] || h > 23 || mi > 59 || se > 60 || y < 1970)
		return LF_R_BAD_TIME;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return LF_R_BAD_TIME;
	r->date = y * 10000 + m * 100 + d;
	r->day = lf_days_from_civil(y, m, d);
	r->hour = (uint8_t)h;
	return LF_OK;
}

static void set_path(struct lf_rec *r, const char *p, size_t n)
{
	const char *q = memchr(p, '?', n);

	r->path = p;
	r->path_len = q ? (size_t)(q - p) : n;
}

static int parse_request(const char *s, size_t n, struct lf_rec *r)
{
	const char *sp = memchr(s, ' ', n);

	/* A connection that sent no request (Apache logs "-", status 408 or
	 * 400): a request all the same, of path "-" and no method. */
	if (n == 1 && s[0] == '-') {
		r->method = s;
		r->method_len = 0;
		r->path = s;
		r->path_len = 1;
		return LF_OK;
	}

	if (!sp || sp == s)
		return LF_R_BAD_REQUEST;
	r->method = s;
	r->method_len = (size_t)(sp - s);
	const char *p = sp + 1, *end = s + n;
	/* The protocol is the last word when it looks like one; a path with
	 * spaces (a broken client) keeps them. */
	const char *last = end;
	while (last > p && last[-1] != ' ')
		last--;
	const char *pe = end;
	if (last > p && end - last >= 5 && memcmp(last, "HTTP/", 5) == 0)
		pe = last - 1;
	if (pe <= p)
		return LF_R_BAD_REQUEST;
	set_path(r, p, (size_t)(pe - p));
	if (r->path_len == 0)
		return LF_R_BAD_REQUEST;
	return LF_OK;
}

static int parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (n == 1 && s[0] == '-') {
		*v = 0;
		return 0;
	}
	if (n == 0 || n > 19)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!dig(s[i]))
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* End of a quoted field starting at p: a '"' not escaped by a backslash
 * and followed by the literal next (which begins with the quote); when
 * that literal ends the format, also by the end of the line or a space
 * (extra fields some servers append). NULL when there is none. */
static const char *quoted_end(const char *p, const char *end, const struct lf_item *next,
			      int last_lit)
{
	const char *q = p;

	while (q < end) {
		q = memchr(q, '"', (size_t)(end - q));
		if (!q)
			return NULL;
		size_t bs = 0;
		while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (bs % 2 == 0) {
			size_t rest = (size_t)(end - q);

			if (rest >= next->len && lit_eq(q, next->lit, next->len) &&
			    (!last_lit || rest == next->len || q[next->len] == ' '))
				return q;
			/* A quote at the very end of a line whose remaining
			 * fields are missing. */
			if (rest < next->len && lit_eq(q, next->lit, rest))
				return q;
		}
		q++;
	}
	return NULL;
}

int lf_parse(const struct lf_format *f, const char *line, size_t len, struct lf_rec *r)
{
	const char *p = line, *end = line + len;
	unsigned seen = 0;
	const unsigned essential = (1u << LF_TIME) | (1u << LF_STATUS);

	memset(r, 0, sizeof(*r));
	if (len == 0)
		return LF_R_EMPTY;
	if (len > LF_LINE_MAX)
		return LF_R_TOO_LONG;
	for (int i = 0; i < f->n; i++) {
		const struct lf_item *it = &f->item[i];

		if (it->kind == LF_LIT) {
			size_t rest = (size_t)(end - p);

			if (rest >= it->len && lit_eq(p, it->lit, it->len)) {
				p += it->len;
				continue;
			}
			/* The line stops here: tolerated when the essentials
			 * are in (a shorter format in the same log). */
			if ((rest == 0 || (rest < it->len && lit_eq(p, it->lit, rest))) &&
			    (seen & essential) == (essential & f->have) &&
			    (seen & ((1u << LF_REQUEST) | (1u << LF_PATH))))
				goto done;
			return rest == 0 ? LF_R_TRUNCATED : LF_R_BAD_FIELD;
		}
		const struct lf_item *next = i + 1 < f->n ? &f->item[i + 1] : NULL;
		const char *e;
		if (it->split == LF_SPLIT_DIGITS) {
			e = p;
			if (e < end && *e == '-')
				e++;
			else
				while (e < end && dig(*e))
					e++;
		} else if (it->split == LF_SPLIT_QMARK) {
			/* The fields run to the next literal; the query string
			 * starts at the first '?' before it. */
			const char *stop = end;

			for (int j = i + 1; j < f->n; j++) {
				if (f->item[j].kind != LF_LIT)
					continue;
				const char *l = p < end ? memchr(p, f->item[j].lit[0],
								 (size_t)(end - p)) : NULL;
				if (l)
					stop = l;
				break;
			}
			e = p < stop ? memchr(p, '?', (size_t)(stop - p)) : NULL;
			if (!e)
				e = stop;
		} else if (it->kind == LF_TIME && p < end && *p == '[') {
			e = memchr(p, ']', (size_t)(end - p));
			if (!e)
				return LF_R_BAD_TIME;
			e++;
		} else if (it->quoted) {
			e = quoted_end(p, end, next, i + 2 >= f->n);
			if (!e)
				return LF_R_TRUNCATED;
		} else if (next) {
			size_t rest = p < end ? (size_t)(end - p) : 0;

			e = rest ? memchr(p, next->lit[0], rest) : NULL;
			/* The last field of a shorter line (a common line in a
			 * combined log) runs to the end of the line. */
			if (!e && rest && (seen & essential) == (essential & f->have) &&
			    (seen & ((1u << LF_REQUEST) | (1u << LF_PATH))))
				e = end;
			if (!e)
				return p == end ? LF_R_TRUNCATED : LF_R_BAD_FIELD;
		} else {
			e = end;
		}
		size_t n = (size_t)(e - p);
		int rc = LF_OK;
		switch (it->kind) {
		case LF_HOST:
			if (n == 0 || (n == 1 && *p == '-'))
				return LF_R_BAD_ADDRESS;
			r->host = p;
			r->host_len = n;
			break;
		case LF_VHOST:
			r->vhost = p;
			r->vhost_len = n;
			break;
		case LF_TIME:
			rc = parse_time(p, n, r);
			break;
		case LF_REQUEST:
			rc = parse_request(p, n, r);
			break;
		case LF_METHOD:
			r->method = p;
			r->method_len = n;
			break;
		case LF_PATH:
			if (n == 0)
				return LF_R_BAD_REQUEST;
			set_path(r, p, n);
			break;
		case LF_STATUS: {
			uint64_t v;

			if (parse_u64(p, n, &v) != 0 || v > 999 || (n != 3 && !(n == 1 && *p == '-')))
				return LF_R_BAD_STATUS;
			r->status = (int)v;
			break;
		}
		case LF_BYTES:
			if (parse_u64(p, n, &r->bytes) != 0)
				return LF_R_BAD_SIZE;
			break;
		case LF_REFERER:
			if (n > 0 && !(n == 1 && *p == '-')) {
				r->ref = p;
				r->ref_len = n;
			}
			break;
		case LF_AGENT:
			r->ua = p;
			r->ua_len = n;
			break;
		default:
			break;
		}
		if (rc != LF_OK)
			return rc;
		seen |= 1u << it->kind;
		p = e;
	}
done:
	if (!(seen & (1u << LF_TIME)))
		return LF_R_TRUNCATED;
	if (!(seen & ((1u << LF_REQUEST) | (1u << LF_PATH))))
		return LF_R_TRUNCATED;
	if ((f->have & (1u << LF_AGENT)) && !r->ua) {
		r->ua = "-";
		r->ua_len = 1;
	}
	return LF_OK;
}
