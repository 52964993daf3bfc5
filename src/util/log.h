/*
 * log.h - the small logging API of our daemons, in the style of OpenBSD's
 * log.c: warnings with and without errno, info, debug by subsystem bits,
 * fatal. Foreground processes write to stderr (or a file), detached ones
 * to syslog. The log is process-wide state, set once at startup.
 */
#ifndef CHORUS_LOG_H
#define CHORUS_LOG_H

#include <stdint.h>
#include <stdio.h>

/* Debug subsystems; the values are Spread's DebugFlags masks so that a
 * spread.conf DebugFlags line means the same thing to chorusd. */
#define DBG_DATA_LINK 0x00000010u
#define DBG_NETWORK 0x00000020u
#define DBG_PROTOCOL 0x00000040u
#define DBG_SESSION 0x00000080u
#define DBG_CONFIGURATION 0x00000100u
#define DBG_MEMBERSHIP 0x00000200u
#define DBG_FLOW_CONTROL 0x00000400u
#define DBG_STATUS 0x00000800u
#define DBG_EVENTS 0x00001000u
#define DBG_GROUPS 0x00002000u
#define DBG_MEMORY 0x00010000u
#define DBG_ACM 0x00400000u
#define DBG_SECURITY 0x00800000u

/* Priorities, lowest first (Spread's EventPriority scale). */
enum log_prio { LOGP_DEBUG = 1, LOGP_INFO, LOGP_WARNING, LOGP_ERROR };

/* Starts logging as `ident`. foreground: to stderr; else to syslog. */
void log_init(const char *ident, int foreground);
/* Sends foreground output to fp instead of stderr (NULL: back to stderr).
 * The caller keeps ownership of fp. */
void log_set_file(FILE *fp);
void log_set_debug(uint32_t mask);
uint32_t log_get_debug(void);
void log_set_min_prio(enum log_prio prio);
/* strftime format for a timestamp prefix in foreground output, or NULL. */
void log_set_timestamp(const char *fmt);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(uint32_t subsys, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#define log_debug_on(subsys) ((log_get_debug() & (subsys)) != 0)

#endif /* CHORUS_LOG_H */
