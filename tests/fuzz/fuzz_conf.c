/*
 * fuzz_conf.c - libFuzzer target for the spread.conf parser and the
 * access_ip parser (src/daemon/conf.c, src/daemon/acl_ip.c).
 *
 * Any input must parse or fail cleanly, never crash or read out of
 * bounds. An input that parses must survive the print round trip:
 * conf_print() output parses back to an identical struct (all but the
 * hash of the text). A broken round trip calls abort(), which libFuzzer
 * and the corpus replay both report as a failure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The structs are large (about 20 KB), so they live outside the stack. */
static struct conf first, second;
static struct acl_ip acl;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], err2[256];
	char *out = NULL;
	size_t out_len = 0;
	FILE *fp;

	if (acl_ip_parse((const char *)data, size, &acl, err, sizeof(err)) == 0) {
		/* Every rule must match its own network address. */
		for (int i = 0; i < acl.n_rules; i++)
			if (!acl_ip_allows(&acl, acl.rules[i].net))
				abort();
	} else if (strncmp(err, "line ", 5) != 0) {
		abort();
	}

	if (conf_parse((const char *)data, size, &first, err, sizeof(err)) != 0) {
		if (strncmp(err, "line ", 5) != 0)
			abort();
		return 0;
	}
	fp = open_memstream(&out, &out_len);
	if (!fp)
		return 0;
	conf_print(&first, fp);
	fclose(fp);
	if (conf_parse(out, out_len, &second, err2, sizeof(err2)) != 0) {
		fprintf(stderr, "round trip: reparse failed: %s\n--- printed:\n%s",
			err2, out);
		abort();
	}
	first.hash = second.hash = 0;
	if (memcmp(&first, &second, sizeof(first)) != 0) {
		fprintf(stderr, "round trip: structs differ\n--- printed:\n%s", out);
		abort();
	}
	free(out);
	return 0;
}
