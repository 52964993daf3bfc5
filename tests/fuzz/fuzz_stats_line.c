/*
 * fuzz_stats_line.c - libFuzzer target for chorus-stats' line parser and
 * aggregator: the first byte picks a log format (combined, common,
 * vhost_combined, or a LogFormat string taken from the input up to a
 * newline); every following line is parsed and counted. A parsed record's
 * strings must lie inside the line; any crash or out-of-bounds access
 * aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "stats/agg.h"
#include "stats/feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *line, size_t len, const char *p, size_t n)
{
	if (p && (p < line || p + n > line + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const nick[] = { "combined", "common", "vhost_combined" };
	struct lf_format f;
	char err[200], fmt[256];
	const char *p = (const char *)data, *end = p + size;

	if (size == 0)
		return 0;
	unsigned sel = data[0] % 4;
	p++;
	if (sel < 3) {
		strcpy(fmt, nick[sel]);
	} else {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n >= sizeof(fmt))
			n = sizeof(fmt) - 1;
		memcpy(fmt, p, n);
		fmt[n] = 0;
		if (strlen(fmt) != n)
			return 0;
		p += n + (nl ? 1 : 0);
	}
	if (lf_compile(&f, fmt, err, sizeof(err)) != 0)
		return 0;
	struct agg a;
	struct agg_limits lim;
	struct rl_set rel;
	struct flt flt;
	agg_default_limits(&lim);
	lim.capacity = lim.day_capacity = lim.node_capacity = 64;
	lim.top = lim.day_top = lim.node_top = 8;
	lim.agents_max = 64;
	lim.hosts_max = 64;
	lim.nodes_max = 4;
	rl_defaults(&rel);
	memset(&flt, 0, sizeof(flt));
	if (agg_init(&a, &lim, &rel, f.have) != 0)
		return 0;
	struct feed fd = { .fmt = &f, .flt = &flt, .agg = &a, .node_token = data[0] >= 128 };
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct lf_rec r;

		if (lf_parse(&f, p, n, &r) == LF_OK) {
			inside(p, n, r.host, r.host_len);
			inside(p, n, r.path, r.path_len);
			inside(p, n, r.ref, r.ref_len);
			if (r.ua && strcmp(r.ua, "-") != 0)
				inside(p, n, r.ua, r.ua_len);
			if (r.hour > 23 || r.status > 999)
				abort();
		}
		if (feed_line(&fd, "node", 4, "fuzz", 1, p, n) != 0)
			abort();
		p += n + (nl ? 1 : 0);
	}
	agg_free(&a);
	return 0;
}
