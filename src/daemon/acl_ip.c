/*
 * acl_ip.c - the address list of the IP authentication method
 * (spread.access_ip; see conf.h, spec section 9.6, docs/config.md).
 *
 * One rule a line: `unix` (Unix-socket clients, kept as 0/32), `local`
 * (127.0.0.0/8), `a.b.c.d` (one host) or `a.b.c.d/p` (a network). `#`
 * starts a comment, at the start of a line or after a rule. Anything not
 * allowed by a rule is denied.
 *
 * Deliberate differences from Spread 4.4: a blank line is skipped instead
 * of ending the list; a line that is not one of the forms above is an
 * error naming its line, never a silent end of the list; a prefix of 0 is
 * handled without shifting a 32-bit value by 32 (spec 11.1 D7); a rule
 * word must be exactly `unix` or `local`, not merely start with it.
 *
 * Parsing is a pure function of the text; acl_ip_load() reads the file.
 */
#include "conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ACL_FILE_MAX (1024 * 1024)

/* Records "line N: <message>" in err (if given) and returns -1. */
static int acl_fail(char *err, size_t errlen, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int acl_fail(char *err, size_t errlen, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return -1;
	n = snprintf(err, errlen, "line %d: ", line);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Reads 1..3 decimal digits at s[*i] (before end) into *v, at most 255,
 * or 1..2 digits at most 32 when `prefix` is set. Returns 0 or -1. */
static int acl_num(const char *s, size_t end, size_t *i, int prefix,
		   uint32_t *v)
{
	int n = 0, max_digits = prefix ? 2 : 3;

	*v = 0;
	while (*i < end && s[*i] >= '0' && s[*i] <= '9' && n < max_digits) {
		*v = *v * 10 + (uint32_t)(s[*i] - '0');
		(*i)++;
		n++;
	}
	return n > 0 && *v <= (prefix ? 32u : 255u) ? 0 : -1;
}

/* Parses `a.b.c.d` or `a.b.c.d/p` filling exactly s[0..end). Returns 0
 * with the network and mask, or -1. */
static int acl_rule(const char *s, size_t end, uint32_t *net, uint32_t *mask)
{
	uint32_t addr = 0, v, p = 32;
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		if (k > 0 && (i >= end || s[i++] != '.'))
			return -1;
		if (acl_num(s, end, &i, 0, &v))
			return -1;
		addr = (addr << 8) | v;
	}
	if (i < end && s[i] == '/') {
		i++;
		if (acl_num(s, end, &i, 1, &p))
			return -1;
	}
	if (i != end)
		return -1;
	/* /0 is spelled out: shifting a 32-bit value by 32 is undefined. */
	*mask = p == 0 ? 0 : 0xffffffffu << (32 - p);
	/* Host bits below the prefix are dropped: 10.1.2.3/8 means 10/8. */
	*net = addr & *mask;
	return 0;
}

/* Parses access_ip text line by line (conf.h); a holds the rules read
 * so far even on error. */
int acl_ip_parse(const char *text, size_t len, struct acl_ip *a, char *err,
		 size_t errlen)
{
	size_t pos = 0;
	int line = 0;

	memset(a, 0, sizeof(*a));
	if (err && errlen)
		err[0] = 0;
	if (!text)
		len = 0;
	while (pos < len) {
		size_t start = pos, end, nl;
		uint32_t net, mask;

		line++;
		while (pos < len && text[pos] != '\n')
			pos++;
		nl = pos;
		pos = nl < len ? nl + 1 : nl;
		/* Trim blanks and a trailing comment; what is left is the rule. */
		end = start;
		while (end < nl && text[end] != '#')
			end++;
		while (start < end && (text[start] == ' ' || text[start] == '\t' ||
				       text[start] == '\r'))
			start++;
		while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t' ||
				       text[end - 1] == '\r'))
			end--;
		if (start == end)
			continue;
		if (end - start == 4 && memcmp(text + start, "unix", 4) == 0) {
			net = 0;
			mask = 0xffffffffu;
		} else if (end - start == 5 && memcmp(text + start, "local", 5) == 0) {
			net = 0x7f000000u;
			mask = 0xff000000u;
		} else if (acl_rule(text + start, end - start, &net, &mask)) {
			char shown[48];
			size_t n = end - start < sizeof(shown) - 1 ? end - start :
				   sizeof(shown) - 1;

			for (size_t i = 0; i < n; i++) {
				unsigned char ch = (unsigned char)text[start + i];

				shown[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
			}
			shown[n] = 0;
			return acl_fail(err, errlen, line,
					"malformed rule '%s': expected unix, local, a.b.c.d or a.b.c.d/prefix (prefix 0..32)",
					shown);
		}
		if (a->n_rules == ACL_IP_MAX_RULES)
			return acl_fail(err, errlen, line, "too many rules (at most %d)",
					ACL_IP_MAX_RULES);
		a->rules[a->n_rules].net = net;
		a->rules[a->n_rules].mask = mask;
		a->n_rules++;
	}
	return 0;
}

/* Reads a file of at most 1 MiB and parses it; errors are prefixed with
 * the path (conf.h). */
int acl_ip_load(const char *path, struct acl_ip *a, char *err, size_t errlen)
{
	char msg[200], *buf;
	size_t n;
	FILE *fp;
	int rc;

	memset(a, 0, sizeof(*a));
	fp = fopen(path, "rb");
	if (!fp) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(ACL_FILE_MAX + 1);
	if (!buf) {
		fclose(fp);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = fread(buf, 1, ACL_FILE_MAX + 1, fp);
	if (ferror(fp) || n > ACL_FILE_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path,
				 n > ACL_FILE_MAX ? "file too large" : "read error");
		rc = -1;
	} else {
		rc = acl_ip_parse(buf, n, a, msg, sizeof(msg));
		if (rc && err && errlen)
			snprintf(err, errlen, "%s: %s", path, msg);
	}
	fclose(fp);
	free(buf);
	return rc;
}

/* 1 if any rule covers addr (conf.h). */
int acl_ip_allows(const struct acl_ip *a, uint32_t addr)
{
	for (int i = 0; i < a->n_rules && i < ACL_IP_MAX_RULES; i++)
		if ((addr & a->rules[i].mask) == a->rules[i].net)
			return 1;
	return 0;
}
