/*
 * logd_match.c - spreadlogd's per-Log filters and timestamp rewriting.
 *
 * Match: POSIX extended regular expressions (spreadlogd compiles them with
 * REG_EXTENDED); a line is written when the Log block has none or when
 * at least one matches anywhere in it. spreadlogd allows 10 per block, we
 * allow LOGD_MAX_MATCH. It matches on the line as it will be written (for
 * a per-node file, after the node token of a plain line is removed).
 *
 * RewriteTimestamp: spreadlogd replaces the first "[...]" of a line with
 * the central logger's local time, either in Common Log Format
 * ("[10/Oct/2000:13:55:36 -0700]", brackets included, English month
 * names) or as strftime(format) without added brackets. We do the same;
 * the time is passed in (the writer's clock, or with RewriteClock =
 * sender the time chorus-log stamped on the batch, which replicas share).
 * Unlike spreadlogd, a line that would outgrow the buffer is never cut:
 * the caller keeps the original line.
 */
#include "log/logd.h"

#include <stdio.h>
#include <string.h>

int logd_match_init(struct logd_match *m, const struct logd_rule *r,
		    char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < r->nmatch; i++) {
		int e = regcomp(&m->re[i], r->match[i], REG_EXTENDED | REG_NOSUB);

		if (e != 0) {
			char why[128];

			regerror(e, &m->re[i], why, sizeof(why));
			snprintf(err, errlen, "Match \"%s\": %s", r->match[i], why);
			logd_match_free(m);
			return -1;
		}
		m->n = i + 1;
	}
	return 0;
}

void logd_match_free(struct logd_match *m)
{
	for (int i = 0; i < m->n; i++)
		regfree(&m->re[i]);
	m->n = 0;
}

int logd_match_line(const struct logd_match *m, const char *line, size_t len)
{
	regmatch_t pm[1];

	if (m->n == 0)
		return 1;
	/* REG_STARTEND lets the line be matched in place, without a copy
	 * and without stopping at a NUL byte inside it. */
	for (int i = 0; i < m->n; i++) {
		pm[0].rm_so = 0;
		pm[0].rm_eo = (regoff_t)len;
		if (regexec(&m->re[i], line, 1, pm, REG_STARTEND) == 0)
			return 1;
	}
	return 0;
}

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

long logd_rewrite_time(enum logd_rewrite how, const char *fmt, time_t t,
		       const char *line, size_t len, char *out, size_t cap)
{
	const char *open = memchr(line, '[', len), *close;
	char ts[LOGD_FMT_MAX * 2];
	size_t tlen, head, tail;
	struct tm tm;

	if (how == LOGD_RW_NONE || !open ||
	    !(close = memchr(open, ']', len - (size_t)(open - line)))) {
		if (len > cap)
			return -1;
		memcpy(out, line, len);
		return (long)len;
	}
	close++;
	if (!localtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	if (how == LOGD_RW_CLF) {
		long off = tm.tm_gmtoff / 60;
		char sign = off < 0 ? '-' : '+';

		if (off < 0)
			off = -off;
		snprintf(ts, sizeof(ts), "[%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld]",
			 tm.tm_mday, month_names[tm.tm_mon % 12], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60 % 100, off % 60);
		tlen = strlen(ts);
	} else {
		/* strftime returns 0 both for an empty result and for one that
		 * does not fit; either way the time part is empty. */
		tlen = strftime(ts, sizeof(ts), fmt, &tm);
	}
	head = (size_t)(open - line);
	tail = len - (size_t)(close - line);
	if (head + tlen + tail > cap)
		return -1;
	memcpy(out, line, head);
	memcpy(out + head, ts, tlen);
	memcpy(out + head + tlen, close, tail);
	return (long)(head + tlen + tail);
}
