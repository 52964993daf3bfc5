/*
 * test_report_html.c - the HTML report writer (src/stats/report_html.c)
 * and the JSON check it relies on (src/stats/json_check.c): a table of
 * well-formed and broken JSON texts; a report's page holds the style
 * sheet, the script and the document, which reads back byte for byte;
 * hostile strings of a log (a path, a referrer, a user agent that close
 * the script element) stay inside the data block; a broken document or
 * an unwritable output is a clear error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/html_assets.h"
#include "stats/json_check.h"
#include "stats/report_html.h"
#include "t.h"

static const char *const good_json[] = {
	"{}", "[]", " \t\r\n{ } \n", "0", "-0", "12.5e-3", "1E+9", "-7.25",
	"\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"",
	"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "true", "false", "null",
	"{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", "[[[[[[[[[[]]]]]]]]]]",
};

static const struct {
	const char *text;
	size_t at;        /* the byte the error names */
	const char *what; /* a part of the message */
} bad_json[] = {
	{ "", 0, "end of input" },
	{ "   ", 3, "end of input" },
	{ "{", 1, "member name" },
	{ "{\"a\"}", 4, "':'" },
	{ "{\"a\":1,}", 7, "member name" },
	{ "[1,]", 3, "unexpected character" },
	{ "[1 2]", 3, "',' or ']'" },
	{ "{\"a\":1 \"b\":2}", 7, "',' or '}'" },
	{ "01", 1, "after the JSON value" },
	{ "1.", 2, "digit" },
	{ "1e", 2, "digit" },
	{ "-", 1, "digit" },
	{ "+1", 0, "unexpected character" },
	{ ".5", 0, "unexpected character" },
	{ "tru", 0, "unexpected character" },
	{ "nul", 0, "unexpected character" },
	{ "\"abc", 4, "unterminated" },
	{ "\"a\nb\"", 2, "control character" },
	{ "\"\\x\"", 2, "invalid escape" },
	{ "\"\\u12g4\"", 5, "hex digits" },
	{ "\"\xff\"", 1, "UTF-8" },
	{ "\"\xc0\xaf\"", 1, "UTF-8" },         /* overlong '/' */
	{ "\"\xed\xa0\x80\"", 1, "UTF-8" },     /* a surrogate */
	{ "\"\xf4\x90\x80\x80\"", 1, "UTF-8" }, /* above U+10FFFF */
	{ "\"\xe2\x82\"", 1, "UTF-8" },         /* cut short */
	{ "{} {}", 3, "after the JSON value" },
	{ "'a'", 0, "unexpected character" },
	{ "[1]\0", 3, "after the JSON value" },
};

static void json_check_table(void)
{
	char err[128];

	for (size_t i = 0; i < T_COUNT(good_json); i++)
		T_ASSERTF(jsonc_check(good_json[i], strlen(good_json[i]), err, sizeof(err)) == 0,
			  "good_json[%zu] refused: %s", i, err);
	for (size_t i = 0; i < T_COUNT(bad_json); i++) {
		char want[32];
		/* The NUL of the last case is part of the input. */
		size_t len = strlen(bad_json[i].text) + (i == T_COUNT(bad_json) - 1);

		T_ASSERTF(jsonc_check(bad_json[i].text, len, err, sizeof(err)) == -1,
			  "bad_json[%zu] accepted", i);
		snprintf(want, sizeof(want), "byte %zu: ", bad_json[i].at);
		T_ASSERTF(strncmp(err, want, strlen(want)) == 0 && strstr(err, bad_json[i].what),
			  "bad_json[%zu]: \"%s\", expected \"%s...%s\"", i, err, want,
			  bad_json[i].what);
	}
}

static void json_check_depth(void)
{
	char doc[2 * JSONC_DEPTH_MAX + 2], err[128];
	size_t n = JSONC_DEPTH_MAX;

	memset(doc, '[', n);
	memset(doc + n, ']', n);
	T_EQ(jsonc_check(doc, 2 * n, err, sizeof(err)), 0);
	memset(doc, '[', n + 1);
	memset(doc + n + 1, ']', n + 1);
	T_EQ(jsonc_check(doc, 2 * n + 2, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "nested too deeply"), "%s", err);
}

/* Writes the report of doc to memory; returns the page (caller frees). */
static char *page_of(const char *doc, size_t len, int *rc, char *err, size_t errlen)
{
	char *page = NULL;
	size_t plen = 0;
	FILE *f = open_memstream(&page, &plen);

	T_ASSERT(f);
	*rc = report_html_write(f, doc, len, err, errlen);
	T_EQ(fclose(f), 0);
	T_EQ(strlen(page), plen);
	return page;
}

static size_t count_ci(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strcasestr(p, needle)); p++)
		n++;
	return n;
}

/* The content of the data block, with the writer's escapes undone. */
static char *data_of(const char *page)
{
	static const char open[] = "<script type=\"application/json\" id=\"stats-data\">";
	const char *a = strstr(page, open), *b;
	char *out, *o;

	T_ASSERT(a);
	a += strlen(open);
	b = strstr(a, "</script>");
	T_ASSERT(b);
	out = o = malloc((size_t)(b - a) + 1);
	while (a < b) {
		static const struct { const char *esc, *raw; } un[] = {
			{ "\\u003c", "<" }, { "\\u003e", ">" }, { "\\u0026", "&" },
			{ "\\u2028", "\xe2\x80\xa8" }, { "\\u2029", "\xe2\x80\xa9" },
		};
		size_t k;

		for (k = 0; k < T_COUNT(un); k++)
			if (strncmp(a, un[k].esc, 6) == 0)
				break;
		if (k < T_COUNT(un)) {
			o = stpcpy(o, un[k].raw);
			a += 6;
		} else if (a[0] == '\\' && a[1]) { /* an escape of the document */
			*o++ = *a++;
			*o++ = *a++;
		} else {
			*o++ = *a++;
		}
	}
	*o = 0;
	return out;
}

static void page_holds_assets_and_data(void)
{
	const char *doc = "{\"nodes\":[\"ftp1\",\"ftp2\"],\"totals\":{\"requests\":1234,"
			  "\"bytes\":987654321},\"note\":\"caf\xc3\xa9 \\\"quoted\\\"\"}";
	char err[256], *page, *data;
	int rc;

	page = page_of(doc, strlen(doc), &rc, err, sizeof(err));
	T_EQ(rc, 0);
	T_ASSERT(strncmp(page, "<!DOCTYPE html>", 15) == 0);
	T_ASSERT(strstr(page, (const char *)rh_report_css));
	T_ASSERT(strstr(page, (const char *)rh_report_js));
	T_ASSERT(!strstr(page, "@DATA@") && !strstr(page, "@JS@") && !strstr(page, "@CSS@"));
	T_ASSERT(strstr(page, "\"requests\":1234"));
	data = data_of(page);
	T_STREQ(data, doc);
	T_ASSERT(strstr(page, "</html>"));
	free(data);
	free(page);
}

/* A document as the engine writes it, with strings a client controls. */
static void hostile_strings_stay_data(void)
{
	static const char *const hostile[] = {
		"</script><script>alert(1)</script>",
		"</SCRIPT ><img src=x onerror=alert(2)>",
		"<!--<script>alert(3)//",
		"]]><svg onload=alert(4)>",
		"&lt;b&gt; \xe2\x80\xa8 \xe2\x80\xa9 '\\\"",
	};
	char doc[4096], err[256], *page, *data;
	size_t n = 0;
	int rc;

	n += (size_t)snprintf(doc + n, sizeof(doc) - n, "{\"paths\":[");
	for (size_t i = 0; i < T_COUNT(hostile); i++)
		n += (size_t)snprintf(doc + n, sizeof(doc) - n,
				      "%s{\"path\":\"/%s\",\"referrer\":\"http://x/%s\","
				      "\"user_agent\":\"%s\",\"requests\":%zu}",
				      i ? "," : "", hostile[i], hostile[i], hostile[i], i + 1);
	n += (size_t)snprintf(doc + n, sizeof(doc) - n, "],\"%s\":1}", hostile[0]);
	T_ASSERT(n < sizeof(doc));
	page = page_of(doc, n, &rc, err, sizeof(err));
	T_EQ(rc, 0);
	/* The page's own two script elements, and nothing else. */
	T_EQ(count_ci(page, "<script"), 2);
	T_EQ(count_ci(page, "</script"), 2);
	T_EQ(count_ci(page, "<!--"), 0);
	T_EQ(count_ci(page, "<img"), 0);
	T_EQ(count_ci(page, "<svg"), 0);
	T_EQ(count_ci(page, "\xe2\x80\xa8"), 0);
	data = data_of(page);
	T_STREQ(data, doc);
	free(data);
	free(page);
}

static void bad_document_is_an_error(void)
{
	static const char *const docs[] = {
		"", "{\"requests\":12", "{\"path\":\"</script>\"", "<html>", "{} trailing",
	};
	char err[256], *page;
	int rc;

	for (size_t i = 0; i < T_COUNT(docs); i++) {
		err[0] = 0;
		page = page_of(docs[i], strlen(docs[i]), &rc, err, sizeof(err));
		T_EQ(rc, -1);
		T_ASSERTF(strstr(err, "not valid JSON: byte "), "docs[%zu]: %s", i, err);
		T_EQ(strlen(page), 0); /* checked before anything is written */
		free(page);
	}
	/* A short error buffer is cut, not overrun. */
	T_EQ(report_html_write(stdout, "[", 1, err, 8), -1);
	T_EQ(strlen(err), 7);
}

static void write_error_is_an_error(void)
{
	FILE *f = fopen("/dev/full", "w");
	char err[256];

	if (!f)
		t_skip("no /dev/full");
	T_EQ(report_html_write(f, "{}", 2, err, sizeof(err)), -1);
	T_ASSERTF(strstr(err, "cannot write the HTML report"), "%s", err);
	fclose(f);
}

/* The page's own files must not end their elements early either. */
static void assets_are_closed_once(void)
{
	T_EQ(count_ci((const char *)rh_report_css, "</style"), 0);
	T_EQ(count_ci((const char *)rh_report_js, "</script"), 0);
	T_EQ(count_ci((const char *)rh_report_js, "<!--"), 0);
	T_EQ(strlen((const char *)rh_report_js), rh_report_js_len);
	T_EQ(count_ci((const char *)rh_report_html, "@CSS@"), 1);
	T_EQ(count_ci((const char *)rh_report_html, "@JS@"), 1);
	T_EQ(count_ci((const char *)rh_report_html, "@DATA@"), 1);
}

static const struct t_case cases[] = {
	T_CASE(json_check_table),
	T_CASE(json_check_depth),
	T_CASE(page_holds_assets_and_data),
	T_CASE(hostile_strings_stay_data),
	T_CASE(bad_document_is_an_error),
	T_CASE(write_error_is_an_error),
	T_CASE(assets_are_closed_once),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
