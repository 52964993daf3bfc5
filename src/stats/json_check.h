/*
 * json_check.h - a strict syntax check of one JSON text (RFC 8259), for
 * documents a program is about to pass on (the HTML report embeds the
 * statistics document and must know it is well formed before it does).
 */
#ifndef CHORUS_STATS_JSON_CHECK_H
#define CHORUS_STATS_JSON_CHECK_H

#include <stddef.h>

/* Nesting deeper than this is refused (the check recurses). */
#define JSONC_DEPTH_MAX 64

/* Checks that buf[0..len) is exactly one JSON value, with optional white
 * space around it: strings in valid UTF-8 with no raw control characters,
 * escapes and numbers as the RFC writes them, nesting at most
 * JSONC_DEPTH_MAX. buf need not be NUL-terminated. Returns 0, or -1 with
 * "byte N: what is wrong" in err (errlen bytes, always terminated when
 * errlen > 0). */
int jsonc_check(const char *buf, size_t len, char *err, size_t errlen);

#endif
