/*
 * test_stats.c - chorus-stats' modules: the log-format parser (a table of
 * lines in every format: escaped quotes, IPv6, missing fields, huge
 * lines, garbage), agent and release recognition, bounded tables and
 * their error bound, and the aggregator against counts worked out by
 * hand on small logs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/agg.h"
#include "stats/feed.h"
#include "stats/logfmt.h"
#include "t.h"

struct pcase {
	const char *fmt;
	const char *line;
	int rc;
	const char *host, *path, *ref, *ua, *vhost;
	int status;
	unsigned long long bytes;
	int date, hour;
};

#define CL "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""

static const struct pcase pcases[] = {
	{ "combined",
	  "192.0.2.1 - - [10/Oct/2026:13:55:36 -0700] \"GET /a/b.iso?x=1 HTTP/1.1\" 200 2326 "
	  "\"http://ex.org/\" \"Wget/1.21\"",
	  LF_OK, "192.0.2.1", "/a/b.iso", "http://ex.org/", "Wget/1.21", NULL, 200, 2326,
	  20261010, 13 },
	{ "combined",
	  "2001:db8::1 - frank [01/Jan/2027:00:00:00 +0000] \"HEAD / HTTP/1.0\" 304 - \"-\" \"-\"",
	  LF_OK, "2001:db8::1", "/", NULL, "-", NULL, 304, 0, 20270101, 0 },
	/* Escaped quotes inside the request and the agent. */
	{ "combined",
	  "10.0.0.1 - - [29/Feb/2028:23:10:00 +0100] \"GET /q\\\"x HTTP/1.1\" 404 12 \"-\" "
	  "\"Mozilla \\\"quoted\\\" agent\"",
	  LF_OK, "10.0.0.1", "/q\\\"x", NULL, "Mozilla \\\"quoted\\\" agent", NULL, 404, 12,
	  20280229, 23 },
	/* A stray unescaped quote in the request still ends at the right quote. */
	{ "combined",
	  "10.0.0.1 - - [01/Mar/2026:01:02:03 +0000] \"GET /a\"b HTTP/1.1\" 200 5 \"-\" \"c\"",
	  LF_OK, "10.0.0.1", "/a\"b", NULL, "c", NULL, 200, 5, 20260301, 1 },
	{ "common", "h - - [01/Mar/2026:01:02:03 +0000] \"GET /x HTTP/1.1\" 500 7", LF_OK, "h",
	  "/x", NULL, NULL, NULL, 500, 7, 20260301, 1 },
	/* A common line in a combined log: the missing fields are absent. */
	{ "combined", "h - - [01/Mar/2026:01:02:03 +0000] \"GET /x HTTP/1.1\" 200 7", LF_OK, "h",
	  "/x", NULL, "-", NULL, 200, 7, 20260301, 1 },
	{ "vhost_combined",
	  "www.example.org:443 ::1 - - [05/Nov/2026:10:00:00 +0000] \"GET /p HTTP/2.0\" 206 99 "
	  "\"-\" \"curl/8\"",
	  LF_OK, "::1", "/p", NULL, "curl/8", "www.example.org", 206, 99, 20261105, 10 },
	{ "%h %t %>s %b %U", "1.2.3.4 [05/Nov/2026:10:00:00 +0000] 200 1 /custom", LF_OK,
	  "1.2.3.4", "/custom", NULL, NULL, NULL, 200, 1, 20261105, 10 },
	{ "combined", "", LF_R_EMPTY, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "combined", "\\x16\\x03\\x01 garbage", LF_R_BAD_FIELD, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "combined", "h - - [32/Foo/2026:99:99:99 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
	  LF_R_BAD_TIME, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "combined", "h - - [29/Feb/2026:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
	  LF_R_BAD_TIME, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "combined", "h - - [01/Nov/2026:00:00:01 +0000] \"GET / HTTP/1.1\" abc 1 \"-\" \"-\"",
	  LF_R_BAD_STATUS, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "combined", "h - - [01/Nov/2026:00:00:01 +0000] \"GET / HTTP/1.1\" 200 1x \"-\" \"-\"",
	  LF_R_BAD_SIZE, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	/* A connection that sent no request: a request of path "-". */
	{ "combined", "h - - [01/Nov/2026:00:00:01 +0000] \"-\" 408 0 \"-\" \"-\"",
	  LF_OK, "h", "-", NULL, "-", NULL, 408, 0, 20261101, 0 },
	{ "combined", "h - - [01/Nov/2026:00:00:01 +0000] \"GET\" 400 0 \"-\" \"-\"",
	  LF_R_BAD_REQUEST, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	/* Fields that touch: %U%q (the query starts at '?'), a field after
	 * a number. */
	{ "%h %t \"%m %U%q %H\" %>s %b",
	  "1.2.3.4 [05/Nov/2026:10:00:00 +0000] \"GET /a/b.iso?x=1&y=? HTTP/1.1\" 200 3",
	  LF_OK, "1.2.3.4", "/a/b.iso", NULL, NULL, NULL, 200, 3, 20261105, 10 },
	{ "%h %t \"%m %U%q %H\" %>s %b",
	  "1.2.3.4 [05/Nov/2026:10:00:00 +0000] \"GET /plain HTTP/1.1\" 404 -",
	  LF_OK, "1.2.3.4", "/plain", NULL, NULL, NULL, 404, 0, 20261105, 10 },
	{ "%h %t %U%q %>s%{X}i", "::1 [05/Nov/2026:11:00:00 +0000] /x?q 200x", LF_OK, "::1",
	  "/x", NULL, NULL, NULL, 200, 0, 20261105, 11 },
	{ "%h %t %U%q %>s%{X}i", "::1 [05/Nov/2026:11:00:00 +0000] /x?q 2x", LF_R_BAD_STATUS,
	  0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "%h %t %D%U %>s", "::1 [05/Nov/2026:11:00:00 +0000] 1234/p/q 302", LF_OK, "::1",
	  "/p/q", NULL, NULL, NULL, 302, 0, 20261105, 11 },
	{ "combined", "- - - [01/Nov/2026:00:00:01 +0000] \"GET / HTTP/1.1\" 200 0 \"-\" \"-\"",
	  LF_R_BAD_ADDRESS, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "combined", "h - - [01/Nov/2026:00:00:01 +0000] \"GET / HTTP/1.1",
	  LF_R_TRUNCATED, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
};

static void check_str(const char *want, const char *got, size_t n, int i, const char *what)
{
	if (!want) {
		T_ASSERTF(got == NULL, "case %d: %s present, expected absent", i, what);
		return;
	}
	T_ASSERTF(got != NULL, "case %d: %s absent", i, what);
	T_ASSERTF(strlen(want) == n && memcmp(want, got, n) == 0,
		  "case %d: %s is \"%.*s\", expected \"%s\"", i, what, (int)n, got, want);
}

static void parser_table(void)
{
	for (size_t i = 0; i < T_COUNT(pcases); i++) {
		const struct pcase *c = &pcases[i];
		struct lf_format f;
		struct lf_rec r;
		char err[200];

		T_ASSERTF(lf_compile(&f, c->fmt, err, sizeof(err)) == 0, "%s", err);
		int rc = lf_parse(&f, c->line, strlen(c->line), &r);
		T_ASSERTF(rc == c->rc, "case %zu: %s, expected %s", i, lf_reason_name(rc),
			  lf_reason_name(c->rc));
		if (rc != LF_OK)
			continue;
		check_str(c->host, r.host, r.host_len, (int)i, "host");
		check_str(c->path, r.path, r.path_len, (int)i, "path");
		check_str(c->ref, r.ref, r.ref_len, (int)i, "referrer");
		check_str(c->ua, r.ua, r.ua_len, (int)i, "agent");
		if (c->vhost)
			check_str(c->vhost, r.vhost, r.vhost_len, (int)i, "vhost");
		T_EQ(r.status, c->status);
		T_EQ(r.bytes, c->bytes);
		T_EQ(r.date, c->date);
		T_EQ(r.hour, c->hour);
	}
}

static void parser_huge_line(void)
{
	struct lf_format f;
	char err[100];
	size_t n = LF_LINE_MAX + 10;
	char *line = malloc(n);
	struct lf_rec r;

	T_ASSERT(lf_compile(&f, "combined", err, sizeof(err)) == 0);
	memset(line, 'a', n);
	T_EQ(lf_parse(&f, line, n, &r), LF_R_TOO_LONG);
	/* A long but acceptable agent (60 KB) parses. */
	int k = snprintf(line, n, "h - - [01/Nov/2026:00:00:01 +0000] \"GET / HTTP/1.1\" 200 1 "
				  "\"-\" \"");
	memset(line + k, 'u', 60000);
	memcpy(line + k + 60000, "\"", 1);
	T_EQ(lf_parse(&f, line, (size_t)k + 60001, &r), LF_OK);
	T_EQ(r.ua_len, 60000);
	free(line);
}

static void format_errors(void)
{
	struct lf_format f;
	char err[200];

	T_ASSERT(lf_compile(&f, "%h %r", err, sizeof(err)) != 0); /* no time */
	T_ASSERT(strstr(err, "time") != NULL);
	T_ASSERT(lf_compile(&f, "%h%t %r", err, sizeof(err)) != 0); /* adjacent fields */
	T_ASSERT(strstr(err, "%t directly after %h") != NULL);
	T_ASSERT(lf_compile(&f, "%t %h%u %r", err, sizeof(err)) != 0);
	T_ASSERT(lf_compile(&f, "%t %r %b%D", err, sizeof(err)) != 0); /* two numbers */
	T_ASSERT(lf_compile(&f, "%t %{Referer}i%q %r", err, sizeof(err)) != 0);
	T_ASSERT(lf_compile(&f, "%t \"%m %U%q %H\" %>s", err, sizeof(err)) == 0);
	T_ASSERT(lf_compile(&f, "%t %D%U %>s", err, sizeof(err)) == 0);
	T_ASSERT(lf_compile(&f, "%t %r %", err, sizeof(err)) != 0);
	T_ASSERT(lf_compile(&f, "%t %r %{Referer", err, sizeof(err)) != 0);
	T_ASSERT(lf_compile(&f, "%t \\\"%r\\\" %>s", err, sizeof(err)) == 0);
}

static void agents(void)
{
	static const struct { const char *ua; int cls; const char *name, *os; } c[] = {
		{ "Debian APT-HTTP/1.3 (2.6.1)", AG_TOOL, "APT", "Linux" },
		{ "Wget/1.21.3", AG_TOOL, "Wget", NULL },
		{ "curl/8.5.0", AG_TOOL, "curl", NULL },
		{ "jigdo-file/0.8.1", AG_TOOL, "jigdo-file", NULL },
		{ "libdnf (Fedora Linux 39; server; Linux.x86_64)", AG_TOOL, "dnf", "Linux" },
		{ "urlgrabber/3.10 yum/3.4.3", AG_TOOL, "yum", "Linux" },
		{ "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
		  AG_BROWSER, "Firefox", "Linux" },
		{ "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
		  "Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0", AG_BROWSER, "Edge", "Windows" },
		{ "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		  AG_CRAWLER, "Googlebot", NULL },
		{ "SomeNewSpider/0.1", AG_CRAWLER, "Other crawler", NULL },
		{ "Mozilla/5.0 (compatible; PetitBot/0.3; +http://x.example/)", AG_CRAWLER,
		  "Other crawler", NULL },
		{ "Mozilla/5.0 (Linux; Android 9; CUBOT KINGKONG 3) AppleWebKit/537.36 (KHTML, "
		  "like Gecko) Chrome/120.0 Mobile Safari/537.36", AG_BROWSER, "Chrome", "Android" },
		{ "Abbott-Updater/2.0", AG_OTHER, NULL, NULL },
		{ "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
		  "HeadlessChrome/120.0.0.0 Safari/537.36", AG_CRAWLER, "Headless Chrome", "Linux" },
		{ "-", AG_OTHER, NULL, NULL },
	};
	for (size_t i = 0; i < T_COUNT(c); i++) {
		struct ag_info ai;

		ag_classify(c[i].ua, strlen(c[i].ua), &ai);
		T_ASSERTF(ai.cls == c[i].cls, "%s: class %d", c[i].ua, ai.cls);
		T_ASSERTF((!ai.name && !c[i].name) || (ai.name && c[i].name &&
			  strcmp(ai.name, c[i].name) == 0), "%s: name %s", c[i].ua,
			  ai.name ? ai.name : "(none)");
		T_ASSERTF((!ai.os && !c[i].os) || (ai.os && c[i].os && strcmp(ai.os, c[i].os) == 0),
			  "%s: os %s", c[i].ua, ai.os ? ai.os : "(none)");
	}
}

static void releases(void)
{
	struct rl_set s;
	struct rl_match m;
	char err[200];
	static const struct { const char *path, *rel, *img, *kind; } c[] = {
		{ "/debian-cd/templates/20261109/debian-12.8.0-amd64-DVD-1.template", "20261109",
		  "debian-12.8.0-amd64-DVD-1", "template" },
		{ "/x/templates/20261109/img.jigdo", "20261109", "img", "jigdo" },
		{ "/debian-cd/iso/20261116/debian-12.8.0-amd64-DVD-2.iso", "20261116",
		  "debian-12.8.0-amd64-DVD-2", "iso" },
		{ "/debian-cd/12.8.0/amd64/iso-dvd/debian-12.8.0-amd64-DVD-1.iso", "12.8.0",
		  "debian-12.8.0-amd64-DVD-1", "iso" },
		{ "/debian-cd/data/20261012/pool/main/b/bash/bash_1.deb", "20261012", "data",
		  "data" },
		{ "/debian-cd/12.8.0/amd64/jigdo-dvd/debian-12.8.0-amd64-DVD-1.jigdo", "12.8.0",
		  "debian-12.8.0-amd64-DVD-1", "jigdo" },
		{ "/cdimage/13.1.0/arm64/jigdo-bd/debian-13.1.0-arm64-BD-1.template", "13.1.0",
		  "debian-13.1.0-arm64-BD-1", "template" },
		{ "/debian/pool/main/b/bash/bash_1.deb", NULL, NULL, NULL },
		{ "/templates/20261109/", NULL, NULL, NULL },
	};
	rl_defaults(&s);
	T_ASSERT(s.n > 0);
	for (size_t i = 0; i < T_COUNT(c); i++) {
		int k = rl_match(&s, c[i].path, strlen(c[i].path), &m);

		T_ASSERTF(k == (c[i].rel != NULL), "%s: match %d", c[i].path, k);
		if (!k)
			continue;
		T_ASSERTF(m.release_len == strlen(c[i].rel) &&
			  memcmp(m.release, c[i].rel, m.release_len) == 0, "%s: release %.*s",
			  c[i].path, (int)m.release_len, m.release);
		T_ASSERTF(m.image_len == strlen(c[i].img) && memcmp(m.image, c[i].img,
			  m.image_len) == 0, "%s: image %.*s", c[i].path, (int)m.image_len, m.image);
		T_STREQ(m.kind, c[i].kind);
	}
	s.n = 0;
	T_ASSERT(rl_add(&s, "nokind", err, sizeof(err)) != 0);
	T_ASSERT(rl_add(&s, "k=/a/{image}", err, sizeof(err)) != 0); /* no {release} */
	T_ASSERT(rl_add(&s, "k=/r/{release}/{bad}", err, sizeof(err)) != 0);
	T_ASSERT(rl_add(&s, "deb=/pool/**/{image}_{release}_*.deb", err, sizeof(err)) == 0);
	T_ASSERT(rl_match(&s, "/pool/main/b/bash_5.2_amd64.deb", 31, &m) == 1);
	T_ASSERT(m.release_len == 3 && memcmp(m.release, "5.2", 3) == 0);
}

/* Lossy counting: true counts lie in [req, req + err] for every kept key. */
static void bounded_table(void)
{
	struct tab t;
	static uint64_t truth[1000];
	uint64_t seed = 7;

	tab_init(&t, 64);
	for (int i = 0; i < 200000; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		double u = (double)(seed >> 11) / 9007199254740992.0;
		unsigned k = (unsigned)(1000 * u * u * u);
		char key[16];
		int n = snprintf(key, sizeof(key), "k%u", k);

		truth[k]++;
		T_ASSERT(tab_add(&t, tab_hash(key, (size_t)n), key, (size_t)n, 1, 10, 0) == 0);
	}
	T_ASSERT(t.n <= 64);
	T_ASSERT(t.floor > 0);
	T_EQ(t.req, 200000);
	for (uint32_t i = 0; i < t.n; i++) {
		const struct tab_ent *e = &t.ent[i];
		unsigned k = (unsigned)atoi(tab_key(&t, e) + 1);

		T_ASSERTF(e->req <= truth[k] && truth[k] <= e->req + e->err,
			  "key %u: counted %llu err %llu, true %llu", k, (unsigned long long)e->req,
			  (unsigned long long)e->err, (unsigned long long)truth[k]);
		T_ASSERT(e->err <= t.floor);
	}
	/* The most frequent key is exact or within its bound, and first. */
	uint32_t idx[1];
	T_EQ(tab_top(&t, 1, idx), 1);
	T_EQ(t.ent[idx[0]].klen, 2);
	T_ASSERT(memcmp(tab_key(&t, &t.ent[idx[0]]), "k0", 2) == 0);
	tab_free(&t);
}

static struct agg *small_agg_lim(const char *const *lines, size_t n, const char *node_of_line,
				 const struct agg_limits *lim_in)
{
	static struct agg a;
	static struct lf_format f;
	static struct flt flt;
	struct agg_limits lim;
	struct rl_set rel;
	char err[100];

	agg_default_limits(&lim);
	lim.window_days = 2;
	if (lim_in)
		lim = *lim_in;
	rl_defaults(&rel);
	T_ASSERT(lf_compile(&f, "combined", err, sizeof(err)) == 0);
	T_ASSERT(agg_init(&a, &lim, &rel, f.have) == 0);
	struct feed fd = { .fmt = &f, .flt = &flt, .agg = &a };
	for (size_t i = 0; i < n; i++) {
		const char *node = node_of_line ? (node_of_line[i] == '1' ? "n1" : "n2") : "n1";

		T_ASSERT(feed_line(&fd, node, 2, "test", i + 1, lines[i], strlen(lines[i])) == 0);
	}
	return &a;
}

static struct agg *small_agg(const char *const *lines, size_t n, const char *node_of_line)
{
	return small_agg_lim(lines, n, node_of_line, NULL);
}

#define L(ip, day, h, path, st, b, ua) \
	ip " - - [" day "/Nov/2026:" h ":00:00 +0000] \"GET " path " HTTP/1.1\" " st " " b \
	" \"-\" \"" ua "\""

static void aggregate_by_hand(void)
{
	static const char *const lines[] = {
		L("1.1.1.1", "01", "10", "/a/x.deb", "200", "100", "Wget/1"),
		L("1.1.1.1", "01", "10", "/a/y.deb", "200", "50", "Wget/1"),   /* same visitor */
		L("1.1.1.1", "01", "11", "/a/", "200", "10", "curl/8"),        /* new agent */
		L("2.2.2.2", "01", "11", "/b/missing", "404", "5", "Wget/1"),
		L("1.1.1.1", "02", "00", "/a/x.deb", "304", "-", "Wget/1"),    /* new day */
		"garbage",
		L("::1", "02", "23", "/iso/r1/img.iso", "206", "1000", "jigdo-file/0.8"),
	};
	struct agg *a = small_agg(lines, T_COUNT(lines), "1112122");

	T_EQ(a->lines, 7);
	T_EQ(a->malformed, 1);
	T_EQ(a->reasons[LF_R_BAD_FIELD], 1);
	T_EQ(a->tot.requests, 6);
	T_EQ(a->tot.bytes, 1165);
	/* (1.1.1.1,01,Wget) (1.1.1.1,01,curl) (1.1.1.1,02,Wget) (::1,02,jigdo); not
	 * (2.2.2.2,01,Wget): its only line is a 404 (GoAccess's default). */
	T_EQ(a->tot.visitors, 4);
	T_EQ(a->hosts.n, 3);
	T_EQ(a->tot.not_found, 1);
	T_EQ(a->tot.s2, 4);
	T_EQ(a->tot.s3, 1);
	T_EQ(a->tot.pages, 2);   /* /a/ and /b/missing */
	T_EQ(a->tot.statics, 4);
	T_EQ(a->ndays, 2);
	T_EQ(a->days[0]->c.requests, 4);
	T_EQ(a->days[0]->c.visitors, 2);
	T_EQ(a->days[0]->hreq[10], 2);
	T_EQ(a->days[0]->hreq[11], 2);
	T_EQ(a->days[1]->c.visitors, 2);
	T_EQ(a->hours_vis[10], 1);
	T_EQ(a->status_req[404], 1);
	/* Nodes: n1 has lines 1,2,3,5; n2 has lines 4,7. */
	T_EQ(a->nnodes, 2);
	struct agg_node *n1 = agg_node_get(a, "n1", 2, 0), *n2 = agg_node_get(a, "n2", 2, 0);
	T_ASSERT(n1 && n2);
	T_EQ(n1->c.requests, 4);
	T_EQ(n1->c.visitors, 3);
	T_EQ(n2->c.requests, 2);
	T_EQ(n2->c.visitors, 1);
	T_EQ(n1->ndays, 2);
	/* Tables. */
	const struct tab *p = &a->tabs[T_PATHS];
	const struct tab_ent *e = tab_find(p, tab_hash("/a/x.deb", 8), "/a/x.deb", 8);
	T_ASSERT(e && e->req == 2 && e->bytes == 100);
	e = tab_find(&a->tabs[T_DIRS], tab_hash("/a/", 3), "/a/", 3);
	T_ASSERT(e && e->req == 4);
	e = tab_find(&a->tabs[T_TOOLS], tab_hash("Wget", 4), "Wget", 4);
	T_ASSERT(e && e->req == 4);
	T_EQ(a->tabs[T_NOTFOUND].req, 1);
	T_EQ(a->tabs[T_RELEASES].n, 1);
	e = &a->tabs[T_RELEASES].ent[0];
	T_ASSERT(e->req == 1 && e->ok == 1 && e->bytes == 1000);
	agg_free(a);
}

/* With --4xx-to-unique-count, a 404 makes a visitor too. */
static void visitors_4xx(void)
{
	static const char *const lines[] = {
		L("1.1.1.1", "01", "10", "/a", "200", "1", "A"),
		L("2.2.2.2", "01", "11", "/b", "404", "1", "A"),
		L("2.2.2.2", "01", "12", "/c", "403", "1", "B"),
		L("1.1.1.1", "01", "13", "/d", "404", "1", "B"),
	};
	struct agg_limits lim;

	agg_default_limits(&lim);
	struct agg *a = small_agg(lines, T_COUNT(lines), NULL);
	T_EQ(a->tot.visitors, 1);
	T_EQ(a->hosts.n, 2); /* every client's address */
	T_EQ(a->hours_vis[10], 1);
	agg_free(a);
	lim.visitors_4xx = 1;
	a = small_agg_lim(lines, T_COUNT(lines), NULL, &lim);
	T_EQ(a->tot.visitors, 4);
	T_EQ(a->hosts.n, 2);
	agg_free(a);
}

/* Three nodes' months read node by node: with the horizon the shell
 * sets (the next input's first day), no day closes before the inputs
 * that hold it are read, and visitors equal those of reading by date.
 * Without a horizon the early days of the later nodes are lost. */
static void order_horizon(void)
{
	enum { NODES = 3, DAYS = 30, PER = 4 };
	static char buf[NODES * DAYS * PER][200];
	struct lf_format f;
	struct flt flt;
	struct agg_limits lim;
	struct rl_set rel;
	char err[100];
	uint64_t vis[3], late[3];

	memset(&flt, 0, sizeof(flt));
	agg_default_limits(&lim);
	lim.window_days = 2;
	rl_defaults(&rel);
	T_ASSERT(lf_compile(&f, "combined", err, sizeof(err)) == 0);
	int k = 0;
	for (int n = 0; n < NODES; n++)
		for (int d = 1; d <= DAYS; d++)
			for (int i = 0; i < PER; i++)
				snprintf(buf[k++], sizeof(buf[0]),
					 "10.0.%d.%d - - [%02d/Nov/2026:%02d:00:00 +0000] \"GET / "
					 "HTTP/1.1\" 200 1 \"-\" \"ua%d\"", n % 2, i, d, i, (d + n) % 3);
	for (int mode = 0; mode < 3; mode++) {
		struct agg a;

		T_ASSERT(agg_init(&a, &lim, &rel, f.have) == 0);
		struct feed fd = { .fmt = &f, .flt = &flt, .agg = &a };
		if (mode == 2) {
			/* By date: every node's lines of a day together. */
			for (int d = 0; d < DAYS; d++)
				for (int n = 0; n < NODES; n++)
					for (int i = 0; i < PER; i++) {
						const char *l = buf[(n * DAYS + d) * PER + i];
						char node[8];

						snprintf(node, sizeof(node), "n%d", n);
						T_ASSERT(feed_line(&fd, node, 2, "t", 1, l, strlen(l)) == 0);
					}
		} else {
			for (int n = 0; n < NODES; n++) {
				char node[8];

				snprintf(node, sizeof(node), "n%d", n);
				/* Every node's input starts on Nov 1. */
				if (mode == 1)
					T_ASSERT(agg_set_horizon(&a, n + 1 < NODES ?
							 lf_days_from_civil(2026, 11, 1) : INT32_MAX) == 0);
				for (int j = 0; j < DAYS * PER; j++) {
					const char *l = buf[n * DAYS * PER + j];

					T_ASSERT(feed_line(&fd, node, 2, "t", 1, l, strlen(l)) == 0);
				}
			}
		}
		vis[mode] = a.tot.visitors;
		late[mode] = a.late_lines;
		agg_free(&a);
	}
	/* By hand: per day, addresses 10.0.{0,1}.{0..3} with agents
	 * ua((d+n)%3): nodes 0 and 2 share 10.0.0.x but not their agent, so
	 * every (node, line index) is a visitor: 3 x 4 per day. */
	T_EQ(vis[2], (uint64_t)DAYS * NODES * PER);
	T_EQ(late[2], 0);
	T_EQ(vis[1], vis[2]);
	T_EQ(late[1], 0);
	T_ASSERT(late[0] > 0 && vis[0] < vis[2]);
}

/* Lines dated after the run's "now" (and its tolerance) or before its
 * oldest day are refused with their reason, make no day and do not move
 * the visitor window. */
static void date_bounds(void)
{
	static const char *const lines[] = {
		L("1.1.1.1", "01", "10", "/a", "200", "1", "A"),
		"9.9.9.9 - - [01/Jan/2031:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
		"9.9.9.9 - - [01/Jan/1999:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
		L("2.2.2.2", "01", "11", "/a", "200", "1", "A"),
	};
	struct lf_format f;
	struct flt flt;
	struct agg_limits lim;
	struct rl_set rel;
	struct agg a;
	char err[100];

	memset(&flt, 0, sizeof(flt));
	agg_default_limits(&lim);
	rl_defaults(&rel);
	T_ASSERT(lf_compile(&f, "combined", err, sizeof(err)) == 0);
	T_ASSERT(agg_init(&a, &lim, &rel, f.have) == 0);
	struct feed fd = { .fmt = &f, .flt = &flt, .agg = &a };
	fd.max_day = lf_days_from_civil(2026, 11, 2);
	fd.min_day = lf_days_from_civil(2020, 1, 1);
	for (size_t i = 0; i < T_COUNT(lines); i++)
		T_ASSERT(feed_line(&fd, "n", 1, "t", i + 1, lines[i], strlen(lines[i])) == 0);
	T_EQ(a.tot.requests, 2);
	T_EQ(a.tot.visitors, 2);
	T_EQ(a.late_lines, 0);
	T_EQ(a.ndays, 1);
	T_EQ(a.reasons[LF_R_FUTURE], 1);
	T_EQ(a.reasons[LF_R_TOO_OLD], 1);
	T_EQ(a.nex, 2);
	T_EQ(a.ex[0].reason, LF_R_FUTURE);
	T_ASSERT(strcmp(lf_reason_name(LF_R_FUTURE), "future_time") == 0);
	agg_free(&a);
}

/* At most open_days_max days keep their visitor sets, whatever the
 * dates. */
static void open_days_cap(void)
{
	static const char *const lines[] = {
		L("1.1.1.1", "01", "10", "/a", "200", "1", "A"),
		L("1.1.1.1", "09", "10", "/a", "200", "1", "A"),
		L("1.1.1.1", "05", "10", "/a", "200", "1", "A"),
		L("1.1.1.1", "03", "10", "/a", "200", "1", "A"),
		L("1.1.1.1", "07", "10", "/a", "200", "1", "A"),
	};
	struct agg_limits lim;

	agg_default_limits(&lim);
	lim.window_days = 30;
	lim.open_days_max = 3;
	struct agg *a = small_agg_lim(lines, T_COUNT(lines), NULL, &lim);
	T_EQ(a->ndays, 5);
	T_EQ(a->nopen, 3);
	uint32_t open = 0;
	for (uint32_t i = 0; i < a->ndays; i++)
		open += !a->days[i]->closed;
	T_EQ(open, 3);
	T_ASSERT(a->days[0]->closed && a->days[1]->closed);
	T_EQ(a->tot.visitors, 5);
	agg_free(a);
}

/* Days older than the window are closed: late lines count but add no
 * visitors; tables of closed days keep day_top rows. */
static void visitor_window(void)
{
	static const char *const lines[] = {
		L("1.1.1.1", "01", "10", "/a", "200", "1", "A"),
		L("1.1.1.1", "05", "10", "/a", "200", "1", "A"),
		L("3.3.3.3", "01", "10", "/a", "200", "1", "A"), /* late: day 01 is closed */
		L("3.3.3.3", "05", "10", "/a", "200", "1", "A"),
	};
	struct agg *a = small_agg(lines, T_COUNT(lines), NULL);

	T_EQ(a->tot.requests, 4);
	T_EQ(a->late_lines, 1);
	T_EQ(a->tot.visitors, 3);
	T_EQ(a->days[0]->c.requests, 2);
	T_EQ(a->days[0]->c.visitors, 1);
	T_ASSERT(a->days[0]->closed);
	agg_free(a);
}

static void filters(void)
{
	struct flt f;
	char err[100];
	int32_t d;

	memset(&f, 0, sizeof(f));
	T_ASSERT(flt_parse_date("2026-11-02", &d) == 0 && d == 20261102);
	T_ASSERT(flt_parse_date("2026-02-30", &d) != 0);
	T_ASSERT(flt_parse_date("2026-1-1", &d) != 0);
	f.from = 20261102;
	T_ASSERT(flt_add(&f, "status", "4xx", err, sizeof(err)) == 0);
	T_ASSERT(flt_add(&f, "status", "200", err, sizeof(err)) == 0);
	T_ASSERT(flt_add(&f, "status", "abc", err, sizeof(err)) != 0);
	T_ASSERT(flt_add(&f, "path-prefix", "/debian/", err, sizeof(err)) == 0);
	T_ASSERT(flt_pass(&f, 20261102, 404, "n", 1, "/debian/x", 9));
	T_ASSERT(flt_pass(&f, 20261102, 200, "n", 1, "/debian/x", 9));
	T_ASSERT(!flt_pass(&f, 20261101, 404, "n", 1, "/debian/x", 9));
	T_ASSERT(!flt_pass(&f, 20261102, 500, "n", 1, "/debian/x", 9));
	T_ASSERT(!flt_pass(&f, 20261102, 404, "n", 1, "/other", 6));
	T_ASSERT(flt_add(&f, "node", "n1", err, sizeof(err)) == 0);
	T_ASSERT(!flt_pass(&f, 20261102, 404, "n", 1, "/debian/x", 9));
	T_ASSERT(flt_pass(&f, 20261102, 404, "n1", 2, "/debian/x", 9));
}

static void addresses(void)
{
	uint8_t a[16], b[16];

	T_EQ(vs_addr("192.0.2.1", 9, a), 0);
	T_ASSERT(a[10] == 0xff && a[11] == 0xff && a[12] == 192 && a[15] == 1);
	T_EQ(vs_addr("::ffff:192.0.2.1", 16, b), 0);
	T_MEMEQ(a, b, 16);
	T_EQ(vs_addr("2001:db8::1", 11, a), 0);
	T_ASSERT(a[0] == 0x20 && a[1] == 0x01 && a[15] == 1);
	T_EQ(vs_addr("host.example", 12, a), 0);
	T_ASSERT(a[0] == 0xfe && memcmp(a + 1, "host.example", 12) == 0);
	T_EQ(vs_addr("a-very-long-host-name.example.org", 33, a), 1);
	T_EQ(vs_addr("256.1.1.1", 9, a), 0); /* not an IPv4 address: a name */
	T_ASSERT(a[0] == 0xfe);
}

struct walk { unsigned n, first, v4, v6, nm; };
struct walk_ctx { struct walk *w; const uint8_t *v4, *v6, *nm; };

static void walk_fn(const uint8_t ip[16], const struct vs_ent *e, void *arg)
{
	struct walk_ctx *c = arg;

	c->w->n++;
	c->w->first += (e->flags & VS_FIRST) != 0;
	c->w->v4 += memcmp(ip, c->v4, 16) == 0;
	c->w->v6 += memcmp(ip, c->v6, 16) == 0;
	c->w->nm += memcmp(ip, c->nm, 16) == 0;
}

/* One day's visitor set: new to the node, new to the day, on IPv4, IPv6
 * and name addresses, through many growths; every entry comes back with
 * its full address. */
static void visitor_set(void)
{
	struct vset s;
	uint8_t v4[16], v6[16], nm[16];

	vs_init(&s);
	T_EQ(vs_addr("192.0.2.1", 9, v4), 0);
	T_EQ(vs_addr("2001:db8::1", 11, v6), 0);
	T_EQ(vs_addr("host.example", 12, nm), 0);
	T_EQ(vs_visit(&s, v4, 7, 0), VS_NEW_NODE | VS_NEW_DAY);
	T_EQ(vs_visit(&s, v4, 7, 0), 0);
	T_EQ(vs_visit(&s, v4, 7, 3), VS_NEW_NODE);  /* same visitor, another node */
	T_EQ(vs_visit(&s, v4, 7, 3), 0);
	T_EQ(vs_visit(&s, v4, 8, 3), VS_NEW_NODE | VS_NEW_DAY); /* another agent */
	T_EQ(vs_visit(&s, v6, 7, 0), VS_NEW_NODE | VS_NEW_DAY);
	T_EQ(vs_visit(&s, v6, 7, 0), 0);
	T_EQ(vs_visit(&s, nm, 7, 1), VS_NEW_NODE | VS_NEW_DAY);
	T_EQ(vs_visit(&s, nm, 7, 0), VS_NEW_NODE);
	/* The number of a long address must not meet an IPv4 address of the
	 * same value: 0.0.0.0 and the first long address (number 0). */
	uint8_t zero4[16];
	T_EQ(vs_addr("0.0.0.0", 7, zero4), 0);
	T_EQ(vs_visit(&s, zero4, 7, 0), VS_NEW_NODE | VS_NEW_DAY);
	T_EQ(s.n, 7);
	/* Many visitors: every answer as a plain list would give it. */
	for (unsigned i = 0; i < 20000; i++) {
		char a[64];
		uint8_t ip[16];
		int n = i % 2 ? snprintf(a, sizeof(a), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255)
			      : snprintf(a, sizeof(a), "2001:db8::%x", i);

		T_EQ(vs_addr(a, (size_t)n, ip), 0);
		T_EQ(vs_visit(&s, ip, i % 5, i % 3), VS_NEW_NODE | VS_NEW_DAY);
		T_EQ(vs_visit(&s, ip, i % 5, i % 3), 0);
		T_EQ(vs_visit(&s, ip, i % 5, 3), VS_NEW_NODE);
	}
	T_EQ(s.n, 7 + 40000);
	T_EQ(vs_visit(&s, v4, 7, 3), 0);
	T_EQ(vs_visit(&s, nm, 7, 1), 0);
	/* Walk: the addresses come back whole. */
	struct walk w = { 0, 0, 0, 0, 0 };
	struct walk_ctx c = { &w, v4, v6, nm };
	vs_each(&s, walk_fn, &c);
	T_EQ(w.n, s.n);
	T_EQ(w.first, 5 + 20000);
	T_EQ(w.v4, 3);
	T_EQ(w.v6, 1);
	T_EQ(w.nm, 2);
	vs_free(&s);
}


static void address_set(void)
{
	struct hset s;
	uint8_t a[16], z[16];

	hs_init(&s);
	memset(z, 0, 16);
	T_EQ(hs_add(&s, z), 1); /* "::" is an address too */
	T_EQ(hs_add(&s, z), 0);
	T_ASSERT(hs_has(&s, z));
	for (unsigned i = 1; i <= 5000; i++) {
		memset(a, 0, 16);
		memcpy(a + 12, &i, 4);
		T_ASSERT(!hs_has(&s, a));
		T_EQ(hs_add(&s, a), 1);
		T_EQ(hs_add(&s, a), 0);
	}
	T_EQ(s.n, 5001);
	for (unsigned i = 1; i <= 5000; i++) {
		memset(a, 0, 16);
		memcpy(a + 12, &i, 4);
		T_ASSERT(hs_has(&s, a));
	}
	hs_free(&s);
}

/* A remembered position counts the entry it was taken for, and is void
 * after the table moved its entries (a prune), never counting another. */
static void table_refs(void)
{
	struct tab t;
	struct tab_ref r[40];
	uint32_t gens = 0;
	char key[16];

	memset(r, 0, sizeof(r));
	tab_init(&t, 16);
	tab_enable_refs(&t, &gens);
	for (int round = 0; round < 5; round++)
		for (int i = 0; i < 40; i++) {
			int n = snprintf(key, sizeof(key), "k%d", i);

			/* k0..k7 often, the rest once a round: prunes keep k0..k7 */
			for (int k = 0; k < (i < 8 ? 10 : 1); k++)
				T_ASSERT(tab_add_ref(&t, &r[i], tab_hash(key, (size_t)n), key, (size_t)n,
						     1, 1, 0) == 0);
			T_ASSERT(tab_ref_valid(&t, &r[i]));
			T_ASSERT(memcmp(tab_key(&t, &t.ent[r[i].idx]), key, (size_t)n) == 0);
		}
	T_ASSERT(t.floor > 0); /* pruned */
	for (int i = 0; i < 8; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		const struct tab_ent *e = tab_find(&t, tab_hash(key, (size_t)n), key, (size_t)n);

		T_ASSERT(e && e->req == 50 && e->err == 0);
	}
	T_EQ(t.req, 5 * (8 * 10 + 32));
	/* A table without refs never accepts one. */
	struct tab u;
	struct tab_ref z = { 0, 0 };
	tab_init(&u, 16);
	T_ASSERT(!tab_ref_valid(&u, &z));
	T_ASSERT(tab_add_ref(&u, &z, tab_hash("a", 1), "a", 1, 1, 0, 0) == 0);
	T_ASSERT(!tab_ref_valid(&u, &z));
	T_ASSERT(tab_add_ref(&u, &z, tab_hash("b", 1), "b", 1, 1, 0, 0) == 0);
	T_EQ(u.n, 2);
	tab_free(&u);
	tab_free(&t);
}

/* Two paths that share a slot of the path cache, alternating, with a
 * release path and a long uncached path among them: each is counted as
 * itself in every table. */
static void path_cache(void)
{
	char p1[32], p2[32];
	int n1 = snprintf(p1, sizeof(p1), "/a/x0.deb"), n2 = 0;
	uint64_t slot = tab_hash(p1, (size_t)n1) & (AGG_PCACHE - 1);

	for (int i = 1; i < 1000000 && !n2; i++) {
		int n = snprintf(p2, sizeof(p2), "/b/x%d.html", i);

		if ((tab_hash(p2, (size_t)n) & (AGG_PCACHE - 1)) == slot)
			n2 = n;
	}
	T_ASSERT(n2 > 0);
	char lines[6][2000];
	static char longp[1500];
	memset(longp, 'l', sizeof(longp) - 1);
	longp[0] = '/';
	const char *paths[6] = { p1, p2, p1, "/iso/r1/img.iso", longp, p2 };
	const char *lp[6];
	for (int i = 0; i < 6; i++) {
		snprintf(lines[i], sizeof(lines[i]),
			 "1.1.1.%d - - [01/Nov/2026:10:00:00 +0000] \"GET %s HTTP/1.1\" 200 10 \"-\" "
			 "\"Wget/1\"", i, paths[i]);
		lp[i] = lines[i];
	}
	struct agg *a = small_agg(lp, 6, NULL);
	const struct tab *t = &a->tabs[T_PATHS];
	const struct tab_ent *e = tab_find(t, tab_hash(p1, (size_t)n1), p1, (size_t)n1);
	T_ASSERT(e && e->req == 2);
	e = tab_find(t, tab_hash(p2, (size_t)n2), p2, (size_t)n2);
	T_ASSERT(e && e->req == 2);
	e = tab_find(&a->tabs[T_PAGES], tab_hash(p2, (size_t)n2), p2, (size_t)n2);
	T_ASSERT(e && e->req == 2);
	e = tab_find(&a->tabs[T_STATIC], tab_hash(p1, (size_t)n1), p1, (size_t)n1);
	T_ASSERT(e && e->req == 2);
	e = tab_find(&a->tabs[T_DIRS], tab_hash("/b/", 3), "/b/", 3);
	T_ASSERT(e && e->req == 2);
	e = tab_find(&a->days[0]->tabs[T_PATHS], tab_hash(p2, (size_t)n2), p2, (size_t)n2);
	T_ASSERT(e && e->req == 2);
	T_EQ(a->tabs[T_PATHS].n, 4);
	T_EQ(a->tabs[T_RELEASES].n, 1);
	T_EQ(a->tabs[T_RELEASES].req, 1);
	T_EQ(a->tot.pages, 3); /* p2 twice, and the long path (no extension) */
	T_EQ(a->tot.visitors, 6);
	agg_free(a);
}

static const struct t_case cases[] = {
	T_CASE(parser_table), T_CASE(parser_huge_line), T_CASE(format_errors), T_CASE(agents),
	T_CASE(releases), T_CASE(bounded_table), T_CASE(aggregate_by_hand),
	T_CASE(visitor_window), T_CASE(filters), T_CASE(addresses), T_CASE(visitor_set),
	T_CASE(address_set), T_CASE(table_refs), T_CASE(path_cache), T_CASE(visitors_4xx),
	T_CASE(order_horizon), T_CASE(date_bounds), T_CASE(open_days_cap),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
