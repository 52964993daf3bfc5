/*
 * report_html.h - the HTML report of chorus-stats: one self-contained
 * page (its style sheet, its script and the statistics document inline;
 * no network access, no third-party code) that draws its charts and
 * tables in the browser from the document (docs/stats-json.md).
 */
#ifndef CHORUS_STATS_REPORT_HTML_H
#define CHORUS_STATS_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

/* Writes the report page for the statistics document json[0..len) (need
 * not be NUL-terminated) to out. The document must be one well-formed
 * JSON text; it is embedded with every '<', '>' and '&' (which can only
 * stand inside its strings) written as \u escapes, so no string of a log
 * can end the script element it sits in. Returns 0, or -1 with a message
 * in err (errlen bytes) when the document is not JSON or out cannot be
 * written; the page may then be partly written. */
int report_html_write(FILE *out, const char *json, size_t len, char *err,
		      size_t errlen);

#endif
