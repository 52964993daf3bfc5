/*
 * html_assets.h - the files of src/stats/html/ (the report page's
 * template, style sheet and script), compiled in as byte arrays by
 * scripts/embed.sh at build time. Each array has a NUL after its _len
 * bytes of content.
 */
#ifndef CHORUS_STATS_HTML_ASSETS_H
#define CHORUS_STATS_HTML_ASSETS_H

#include <stddef.h>

extern const unsigned char rh_report_html[];
extern const size_t rh_report_html_len;
extern const unsigned char rh_report_css[];
extern const size_t rh_report_css_len;
extern const unsigned char rh_report_js[];
extern const size_t rh_report_js_len;

#endif
