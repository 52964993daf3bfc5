/*
 * logd_path.c - file names of chorus-logd: patterns with strftime
 * conversions, %g (the group) and %n (the node), and the check that a
 * node name is safe to use as a path component.
 *
 * A node name comes from the network (the node field of a chorus-log
 * batch, or the first token of a plain line as spreadlogd's VhostDir
 * takes it), so it is validated, never transformed: a name that fails
 * logd_node_ok() does not become a file name at all, and its lines go to
 * the quarantine file, counted. Transforming bad names ("a/b" to "a_b")
 * would let two nodes write into one file unnoticed.
 *
 * Only a conservative set of strftime conversions is allowed: numeric
 * fields and the C locale's day and month names, none that can produce a
 * '/' or a blank. %g and %n are ours, so strftime's ISO-year %g and its
 * newline %n are not available. Pure functions: no I/O, no globals.
 */
#include "log/logd.h"

#include <stdio.h>
#include <string.h>

/* strftime conversions a pattern may use (see chorus-logd.conf(5)). */
static const char time_convs[] = "YyCmdejHIMSpaAbBhuwUWVGzsFT";

int logd_pattern_check(const char *pat, int allow_node, char *err, size_t errlen)
{
	size_t len = strlen(pat);

	if (len == 0) {
		snprintf(err, errlen, "empty file name");
		return -1;
	}
	for (const char *p = pat; *p; p++) {
		if (*p != '%')
			continue;
		p++;
		if (*p == '%' || *p == 'g')
			continue;
		if (*p == 'n') {
			if (allow_node)
				continue;
			snprintf(err, errlen, "%%n (the node) is not allowed here");
			return -1;
		}
		if (*p && strchr(time_convs, *p))
			continue;
		if (!*p) {
			snprintf(err, errlen, "a lone %% at the end");
		} else {
			snprintf(err, errlen, "%%%c is not a conversion chorus-logd allows "
				 "(%%%%, %%g, %%n and %%%s)", *p, "[YyCmdejHIMSpaAbBhuwUWVGzsFT]");
		}
		return -1;
	}
	if (pat[len - 1] == '/') {
		snprintf(err, errlen, "names a directory, not a file");
		return -1;
	}
	return 0;
}

/* 1 if pat has the conversion c (not one of its %% escapes). */
static int has_conv(const char *pat, const char *convs)
{
	for (const char *p = pat; *p; p++) {
		if (*p != '%')
			continue;
		p++;
		if (!*p)
			return 0;
		if (strchr(convs, *p))
			return 1;
	}
	return 0;
}

int logd_pattern_has_node(const char *pat)
{
	return has_conv(pat, "n");
}

int logd_pattern_has_time(const char *pat)
{
	return has_conv(pat, time_convs);
}

int logd_pattern_has_group(const char *pat)
{
	return has_conv(pat, "g");
}

int logd_pattern_ends_in_node(const char *pat)
{
	size_t n = strlen(pat), pct = 0;

	if (n < 2 || pat[n - 1] != 'n' || pat[n - 2] != '%')
		return 0;
	/* "%%n" is a literal "%n": count the '%' before the 'n'. */
	for (size_t i = n - 1; i > 0 && pat[i - 1] == '%'; i--)
		pct++;
	return pct % 2 == 1;
}

/* 1 if name (len bytes) ends in suffix. */
static int ends_with(const char *name, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(name + len - n, suffix, n) == 0;
}

int logd_node_aliases(const char *name, size_t len)
{
	size_t i = len;

	if (ends_with(name, len, ".gz") || ends_with(name, len, ".zst") ||
	    ends_with(name, len, ".part"))
		return 1;
	while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
		i--;
	if (i == len)
		return 0;
	return ends_with(name, i, ".") || ends_with(name, i, ".late");
}

int logd_node_ok_for(const char *pat, const char *name, size_t len)
{
	return logd_node_ok(name, len) &&
	       !(logd_pattern_ends_in_node(pat) && logd_node_aliases(name, len));
}

/* The expansion of pat at t into out; 0, or -1. */
static int expand_at(const char *pat, const char *group, const char *node, int64_t t,
		     char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm))
		return -1;
	return logd_pattern_expand(pat, group, node, &tm, out, cap) < 0 ? -1 : 0;
}

int64_t logd_pattern_period_end(const char *pat, const char *group, const char *node,
				int64_t t)
{
	char at[LOGD_PATH_MAX], probe[LOGD_PATH_MAX];
	int64_t lo = t, hi, step = 1;

	if (!logd_pattern_has_time(pat) || expand_at(pat, group, node, t, at, sizeof(at)))
		return -1;
	/* Double the step until the name changes; then halve the interval
	 * between the last step with the same name and the first without. */
	for (;;) {
		hi = t + step;
		if (expand_at(pat, group, node, hi, probe, sizeof(probe)) != 0)
			return -1;
		if (strcmp(probe, at) != 0)
			break;
		lo = hi;
		if (step > 2 * 366 * 86400)
			return -1;
		step *= 2;
	}
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (expand_at(pat, group, node, mid, probe, sizeof(probe)) != 0)
			return -1;
		if (strcmp(probe, at) == 0)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

int logd_node_ok(const char *name, size_t len)
{
	if (len == 0 || len > LOGD_NODE_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Appends n bytes of s to out (cap bytes) at *o; 0, or -1 if full. */
static int put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
	if (n >= cap - *o)
		return -1;
	memcpy(out + *o, s, n);
	*o += n;
	return 0;
}

int logd_pattern_expand(const char *pat, const char *group, const char *node,
			const struct tm *tm, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return -1;
	for (const char *p = pat; *p; p++) {
		char conv[3] = { '%', 0, 0 }, tbuf[64];
		size_t n;

		if (*p != '%') {
			if (put(out, cap, &o, p, 1) != 0)
				return -1;
			continue;
		}
		p++;
		switch (*p) {
		case '%':
			if (put(out, cap, &o, "%", 1) != 0)
				return -1;
			break;
		case 'g':
			/* A group name may hold '/' for Spread; here it must
			 * be a safe component like a node name. */
			if (!logd_node_ok(group, strlen(group)) ||
			    put(out, cap, &o, group, strlen(group)) != 0)
				return -1;
			break;
		case 'n':
			if (!node || !logd_node_ok(node, strlen(node)) ||
			    put(out, cap, &o, node, strlen(node)) != 0)
				return -1;
			break;
		case 0:
			return -1;
		default:
			if (!strchr(time_convs, *p))
				return -1;
			conv[1] = *p;
			n = strftime(tbuf, sizeof(tbuf), conv, tm);
			if (n == 0 || put(out, cap, &o, tbuf, n) != 0)
				return -1;
			break;
		}
	}
	if (o == 0)
		return -1;
	out[o] = 0;
	return (int)o;
}
