/*
 * filter.c - command-line filters (see filter.h).
 */
#include "stats/filter.h"

#include <stdio.h>
#include <string.h>

#include "stats/logfmt.h"

int flt_parse_date(const char *s, int32_t *out)
{
	int y, m, d;
	char tail;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 ||
	    m > 12 || d < 1 || d > 31 || y < 1970)
		return -1;
	/* Refuses 2026-02-30 and the like: the day number must round-trip. */
	if (lf_date_of_day(lf_days_from_civil(y, m, d)) != y * 10000 + m * 100 + d)
		return -1;
	*out = y * 10000 + m * 100 + d;
	return 0;
}

int flt_add(struct flt *f, const char *what, const char *val, char *err, size_t errlen)
{
	size_t n = strlen(val);

	if (strcmp(what, "status") == 0) {
		int ok = n == 3 && val[0] >= '1' && val[0] <= '5' &&
			 ((val[1] >= '0' && val[1] <= '9' && val[2] >= '0' && val[2] <= '9') ||
			  (val[1] == 'x' && val[2] == 'x'));
		if (!ok) {
			snprintf(err, errlen, "--status %s: expected a code like 404 or a class "
					      "like 4xx", val);
			return -1;
		}
		if (f->nstatus >= FLT_MAX)
			goto many;
		memcpy(f->status[f->nstatus++], val, 4);
		return 0;
	}
	if (n == 0 || n >= FLT_STR_MAX) {
		snprintf(err, errlen, "--%s: value empty or longer than %d bytes", what,
			 FLT_STR_MAX - 1);
		return -1;
	}
	if (strcmp(what, "node") == 0) {
		if (f->nnode >= FLT_MAX)
			goto many;
		memcpy(f->node[f->nnode++], val, n + 1);
		return 0;
	}
	if (strcmp(what, "path-prefix") == 0) {
		if (f->nprefix >= FLT_MAX)
			goto many;
		memcpy(f->prefix[f->nprefix++], val, n + 1);
		return 0;
	}
	snprintf(err, errlen, "unknown filter %s", what);
	return -1;
many:
	snprintf(err, errlen, "--%s given more than %d times", what, FLT_MAX);
	return -1;
}

int flt_pass(const struct flt *f, int32_t date, int status, const char *node, size_t node_len,
	     const char *path, size_t path_len)
{
	if (f->from && date < f->from)
		return 0;
	if (f->to && date > f->to)
		return 0;
	if (f->nnode) {
		int ok = 0;

		for (int i = 0; i < f->nnode && !ok; i++)
			ok = strlen(f->node[i]) == node_len && memcmp(f->node[i], node, node_len) == 0;
		if (!ok)
			return 0;
	}
	if (f->nstatus) {
		int ok = 0;
		char s[4] = { (char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
			      (char)('0' + status % 10), 0 };

		for (int i = 0; i < f->nstatus && !ok; i++)
			ok = f->status[i][0] == s[0] &&
			     (f->status[i][1] == 'x' || memcmp(f->status[i], s, 3) == 0);
		if (!ok)
			return 0;
	}
	if (f->nprefix) {
		int ok = 0;

		for (int i = 0; i < f->nprefix && !ok; i++) {
			size_t n = strlen(f->prefix[i]);

			ok = path_len >= n && memcmp(path, f->prefix[i], n) == 0;
		}
		if (!ok)
			return 0;
	}
	return 1;
}
