/*
 * fuzz_report_html.c - libFuzzer target for the HTML report writer and
 * its JSON check: every input is offered as a statistics document. The
 * check must agree with the writer (it writes a page exactly when the
 * input is JSON), and a written page must hold the template's two script
 * elements and nothing that opens or closes another, whatever strings
 * the document carries. Any disagreement aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/json_check.h"
#include "stats/report_html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_ci(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, k = strlen(needle);

	for (size_t i = 0; i + k <= len; i++)
		if (strncasecmp(hay + i, needle, k) == 0)
			n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *page = NULL;
	size_t len = 0;
	int valid = jsonc_check((const char *)data, size, err, sizeof(err)) == 0;
	FILE *f = open_memstream(&page, &len);
	int rc;

	if (!f)
		abort();
	rc = report_html_write(f, (const char *)data, size, err, sizeof(err));
	fclose(f);
	if ((rc == 0) != valid)
		abort();
	if (rc == 0 && (count_ci(page, len, "<script") != 2 ||
			count_ci(page, len, "</script") != 2 ||
			count_ci(page, len, "<!--") != 0))
		abort();
	if (rc != 0 && len != 0)
		abort();
	free(page);
	return 0;
}
