/*
 * json_check.c - a recursive-descent syntax check of one JSON text
 * (RFC 8259, sections 2 to 8). It builds nothing: it only says whether
 * the bytes are a JSON value and, if not, where the first fault is.
 */
#include <stdio.h>
#include <string.h>

#include "stats/json_check.h"

struct jsonc {
	const unsigned char *p;
	size_t len;
	size_t at;
	const char *what; /* the first fault; NULL while none */
};

static int jc_fail(struct jsonc *j, const char *what)
{
	if (!j->what)
		j->what = what;
	return -1;
}

static int jc_peek(const struct jsonc *j)
{
	return j->at < j->len ? j->p[j->at] : -1;
}

static void jc_space(struct jsonc *j)
{
	while (j->at < j->len && strchr(" \t\r\n", j->p[j->at]) && j->p[j->at])
		j->at++;
}

static int jc_literal(struct jsonc *j, const char *word)
{
	size_t n = strlen(word);

	if (j->len - j->at < n || memcmp(j->p + j->at, word, n) != 0)
		return jc_fail(j, "unexpected character");
	j->at += n;
	return 0;
}

static int jc_digits(struct jsonc *j)
{
	size_t start = j->at;

	while (j->at < j->len && j->p[j->at] >= '0' && j->p[j->at] <= '9')
		j->at++;
	return j->at > start ? 0 : jc_fail(j, "a digit expected in a number");
}

static int jc_number(struct jsonc *j)
{
	if (jc_peek(j) == '-')
		j->at++;
	if (jc_peek(j) == '0')
		j->at++; /* no leading zeros: "01" stops after the 0 */
	else if (jc_digits(j) < 0)
		return -1;
	if (jc_peek(j) == '.') {
		j->at++;
		if (jc_digits(j) < 0)
			return -1;
	}
	if (jc_peek(j) == 'e' || jc_peek(j) == 'E') {
		j->at++;
		if (jc_peek(j) == '+' || jc_peek(j) == '-')
			j->at++;
		if (jc_digits(j) < 0)
			return -1;
	}
	return 0;
}

static int jc_hex4(struct jsonc *j, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++, j->at++) {
		int c = jc_peek(j);

		if (c >= '0' && c <= '9')
			*v = *v << 4 | (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*v = *v << 4 | (unsigned)((c | 0x20) - 'a' + 10);
		else
			return jc_fail(j, "four hex digits expected after \\u");
	}
	return 0;
}

/* One UTF-8 sequence of 2 to 4 bytes starting at j->at (a lead byte
 * >= 0x80): no overlong forms, no surrogates, nothing above U+10FFFF. */
static int jc_utf8(struct jsonc *j)
{
	unsigned c = j->p[j->at], cp, min;
	int n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07, min = 0x10000;
	else
		return jc_fail(j, "invalid UTF-8 in a string");
	if (j->len - j->at <= (size_t)n)
		return jc_fail(j, "invalid UTF-8 in a string");
	for (int i = 1; i <= n; i++) {
		unsigned b = j->p[j->at + (size_t)i];

		if ((b & 0xc0) != 0x80)
			return jc_fail(j, "invalid UTF-8 in a string");
		cp = cp << 6 | (b & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return jc_fail(j, "invalid UTF-8 in a string");
	j->at += (size_t)n + 1;
	return 0;
}

static int jc_string(struct jsonc *j)
{
	j->at++; /* the opening quote */
	for (;;) {
		int c = jc_peek(j);
		unsigned u;

		if (c < 0)
			return jc_fail(j, "unterminated string");
		if (c == '"') {
			j->at++;
			return 0;
		}
		if (c < 0x20)
			return jc_fail(j, "raw control character in a string");
		if (c >= 0x80) {
			if (jc_utf8(j) < 0)
				return -1;
			continue;
		}
		j->at++;
		if (c != '\\')
			continue;
		c = jc_peek(j);
		if (c >= 0 && strchr("\"\\/bfnrt", c) && c) {
			j->at++;
			continue;
		}
		if (c != 'u')
			return jc_fail(j, "invalid escape in a string");
		j->at++;
		if (jc_hex4(j, &u) < 0)
			return -1;
		/* A lone surrogate escape is tolerated, as most parsers do:
		 * it cannot end the string or break out of it. */
	}
}

static int jc_value(struct jsonc *j, int depth);

static int jc_container(struct jsonc *j, int depth, int close)
{
	if (depth >= JSONC_DEPTH_MAX)
		return jc_fail(j, "nested too deeply");
	j->at++;
	jc_space(j);
	if (jc_peek(j) == close) {
		j->at++;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			if (jc_peek(j) != '"')
				return jc_fail(j, "a member name (string) expected");
			if (jc_string(j) < 0)
				return -1;
			jc_space(j);
			if (jc_peek(j) != ':')
				return jc_fail(j, "':' expected after a member name");
			j->at++;
		}
		if (jc_value(j, depth + 1) < 0)
			return -1;
		jc_space(j);
		if (jc_peek(j) == close) {
			j->at++;
			return 0;
		}
		if (jc_peek(j) != ',')
			return jc_fail(j, close == '}' ? "',' or '}' expected"
						       : "',' or ']' expected");
		j->at++;
		jc_space(j);
	}
}

static int jc_value(struct jsonc *j, int depth)
{
	int c;

	jc_space(j);
	c = jc_peek(j);
	switch (c) {
	case '{':
	case '[':
		return jc_container(j, depth, c == '{' ? '}' : ']');
	case '"':
		return jc_string(j);
	case 't':
		return jc_literal(j, "true");
	case 'f':
		return jc_literal(j, "false");
	case 'n':
		return jc_literal(j, "null");
	case -1:
		return jc_fail(j, "unexpected end of input");
	default:
		if (c == '-' || (c >= '0' && c <= '9'))
			return jc_number(j);
		return jc_fail(j, "unexpected character");
	}
}

int jsonc_check(const char *buf, size_t len, char *err, size_t errlen)
{
	struct jsonc j = { (const unsigned char *)buf, len, 0, NULL };

	if (jc_value(&j, 0) == 0) {
		jc_space(&j);
		if (j.at == j.len)
			return 0;
		jc_fail(&j, "text after the JSON value");
	}
	if (errlen > 0)
		snprintf(err, errlen, "byte %zu: %s", j.at, j.what);
	return -1;
}
