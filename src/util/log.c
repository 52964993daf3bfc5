/*
 * log.c - process-wide logging (see log.h).
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static struct {
	int foreground;
	FILE *fp;
	uint32_t debug;
	enum log_prio min;
	char tsfmt[64];
	const char *ident;
} lg = { 1, NULL, 0, LOGP_INFO, "", "chorus" };

void log_init(const char *ident, int foreground)
{
	lg.ident = ident;
	lg.foreground = foreground;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_file(FILE *fp)
{
	lg.fp = fp;
}

void log_set_debug(uint32_t mask)
{
	lg.debug = mask;
}

uint32_t log_get_debug(void)
{
	return lg.debug;
}

void log_set_min_prio(enum log_prio prio)
{
	lg.min = prio;
}

void log_set_timestamp(const char *fmt)
{
	if (!fmt) {
		lg.tsfmt[0] = 0;
		return;
	}
	snprintf(lg.tsfmt, sizeof(lg.tsfmt), "%s", fmt);
}

static void vlog(int sysprio, const char *fmt, va_list ap, const char *err)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (lg.foreground) {
		FILE *fp = lg.fp ? lg.fp : stderr;
		char ts[96] = "";

		if (lg.tsfmt[0]) {
			time_t now = time(NULL);
			struct tm tm;
			size_t n = strftime(ts, sizeof(ts) - 1, lg.tsfmt,
					    localtime_r(&now, &tm));
			ts[n] = ' ';
			ts[n + 1] = 0;
		}
		if (err)
			fprintf(fp, "%s%s: %s: %s\n", ts, lg.ident, msg, err);
		else
			fprintf(fp, "%s%s: %s\n", ts, lg.ident, msg);
		fflush(fp);
	} else if (err) {
		syslog(sysprio, "%s: %s", msg, err);
	} else {
		syslog(sysprio, "%s", msg);
	}
}

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	if (lg.min > LOGP_WARNING)
		return;
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, err);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	if (lg.min > LOGP_WARNING)
		return;
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (lg.min > LOGP_INFO)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void log_debug(uint32_t subsys, const char *fmt, ...)
{
	va_list ap;

	if (!(lg.debug & subsys))
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
