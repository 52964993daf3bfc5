/*
 * fuzz_logd_conf.c - libFuzzer target for chorus-logd's configuration
 * parser (src/log/logd_conf.c) and the file-name patterns it checks
 * (logd_path.c).
 *
 * Any input must parse or fail cleanly with "line N: ...", never crash or
 * read out of bounds. An input that parses must survive the print round
 * trip: logd_conf_print() output parses back to an identical struct, and
 * every File pattern must expand without overflowing. A broken round trip
 * calls abort(), which libFuzzer and the corpus replay both report.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/logd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The structs are large (about 600 KB), so they live outside the stack. */
static struct logd_conf first, second;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], err2[256], warn[512], path[LOGD_PATH_MAX];
	char *out = NULL;
	size_t out_len = 0;
	struct tm tm;
	FILE *fp;

	if (logd_conf_parse((const char *)data, size, &first, err, sizeof(err), warn,
			    sizeof(warn)) != 0) {
		if (strncmp(err, "line ", 5) != 0)
			abort();
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 125;
	tm.tm_mday = 1;
	for (int i = 0; i < first.nrules; i++) {
		int n = logd_pattern_expand(first.rules[i].file, first.rules[i].group, "node",
					    &tm, path, sizeof(path));

		if (n >= (int)sizeof(path) || (n >= 0 && strlen(path) != (size_t)n))
			abort();
	}
	fp = open_memstream(&out, &out_len);
	if (!fp)
		return 0;
	logd_conf_print(&first, fp);
	fclose(fp);
	if (logd_conf_parse(out, out_len, &second, err2, sizeof(err2), NULL, 0) != 0) {
		fprintf(stderr, "round trip: reparse failed: %s\n--- printed:\n%s", err2, out);
		abort();
	}
	if (memcmp(&first, &second, sizeof(first)) != 0) {
		fprintf(stderr, "round trip: structs differ\n--- printed:\n%s", out);
		abort();
	}
	free(out);
	return 0;
}
