/*
 * report_html.c - writes the HTML report: the page template of
 * src/stats/html/report.html with its three slots filled, @CSS@ with the
 * style sheet, @JS@ with the script and @DATA@ with the statistics
 * document. Everything the page shows is drawn by the script from the
 * document, so this side only checks the document and embeds it safely.
 *
 * Embedding: the document goes into <script type="application/json">,
 * whose content ends at the first "</script" whatever the quoting, and
 * where "<!--" changes how the end is found. Since the document is
 * checked to be JSON first, '<', '>' and '&' can only occur inside its
 * strings, where "\u003c", "\u003e" and "\u0026" mean the same
 * characters to JSON.parse(); so they are written that way and the
 * content holds no markup at all. U+2028 and U+2029 are escaped too, for
 * readers that take the block as JavaScript.
 */
#include <errno.h>
#include <string.h>

#include "stats/html_assets.h"
#include "stats/json_check.h"
#include "stats/report_html.h"

/* Writes json[0..len) with the escapes described above. */
static void rh_write_data(FILE *out, const char *json, size_t len)
{
	size_t run = 0; /* start of the bytes not yet written */

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)json[i];
		const char *esc = NULL;
		size_t skip = 1;

		if (c == '<')
			esc = "\\u003c";
		else if (c == '>')
			esc = "\\u003e";
		else if (c == '&')
			esc = "\\u0026";
		else if (c == 0xe2 && len - i >= 3 && (unsigned char)json[i + 1] == 0x80 &&
			 ((unsigned char)json[i + 2] & 0xfe) == 0xa8) {
			esc = (unsigned char)json[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
			skip = 3;
		}
		if (!esc)
			continue;
		fwrite(json + run, 1, i - run, out);
		fputs(esc, out);
		i += skip - 1;
		run = i + 1;
	}
	fwrite(json + run, 1, len - run, out);
}

int report_html_write(FILE *out, const char *json, size_t len, char *err,
		      size_t errlen)
{
	static const struct {
		const char *mark;
		const unsigned char *text; /* NULL: the document */
		const size_t *len;
	} slots[] = {
		{ "@CSS@", rh_report_css, &rh_report_css_len },
		{ "@JS@", rh_report_js, &rh_report_js_len },
		{ "@DATA@", NULL, NULL },
	};
	const char *t = (const char *)rh_report_html;
	const char *end = t + rh_report_html_len;
	char why[128];

	if (jsonc_check(json, len, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "the statistics document is not valid JSON: %s", why);
		return -1;
	}
	while (t < end) {
		const char *at = memchr(t, '@', (size_t)(end - t));
		size_t k;

		if (!at) {
			fwrite(t, 1, (size_t)(end - t), out);
			break;
		}
		fwrite(t, 1, (size_t)(at - t), out);
		for (k = 0; k < sizeof(slots) / sizeof(slots[0]); k++)
			if (strncmp(at, slots[k].mark, strlen(slots[k].mark)) == 0)
				break;
		if (k == sizeof(slots) / sizeof(slots[0])) {
			fputc('@', out); /* an '@' of the page itself */
			t = at + 1;
			continue;
		}
		if (slots[k].text)
			fwrite(slots[k].text, 1, *slots[k].len, out);
		else
			rh_write_data(out, json, len);
		t = at + strlen(slots[k].mark);
	}
	if (fflush(out) != 0 || ferror(out)) {
		snprintf(err, errlen, "cannot write the HTML report: %s",
			 strerror(errno ? errno : EIO));
		return -1;
	}
	return 0;
}
