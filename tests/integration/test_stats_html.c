/*
 * test_stats_html.c - the HTML report in a real browser: writes the
 * report of a statistics document with report_html_write() and has
 * tests/stats_html/report_check.py open it in Debian's headless Chromium
 * from file:// (no console error, a table sorts on a header click, the
 * date filter gives the document's sums, hostile log strings stay text;
 * a screenshot is saved), and the page chorus-stats --html writes for a
 * generated log. The page and the screenshot are kept in
 * $CHORUS_BUILD/test-out/stats_html/ (build/ when unset). Skips with the
 * reason when Chromium cannot be started.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "stats/report_html.h"
#include "t.h"

/* The build directory of the programs under test. */
static const char *build_dir(void)
{
	const char *b = getenv("CHORUS_BUILD");

	return b && *b ? b : "build";
}

/* The output directory (created), in a static buffer. */
static const char *out_dir(void)
{
	static char dir[512];
	const char *b = build_dir();
	char sub[400];

	T_ASSERT(strlen(b) < 300);
	snprintf(sub, sizeof(sub), "%s/test-out", b);
	snprintf(dir, sizeof(dir), "%s/stats_html", sub);
	if ((mkdir(sub, 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0755) < 0 && errno != EEXIST))
		t_fail(__FILE__, __LINE__, "mkdir %s: %s", dir, strerror(errno));
	return dir;
}

/* Runs the browser check on the page at html, made from the document at
 * doc_path, with the given extra arguments; the screenshot is DIR/name.png. */
static void run_check(const char *html, const char *doc_path, const char *name,
		      const char *extra)
{
	char cmd[2048], line[1024], skip[1024] = "";
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "python3 tests/stats_html/report_check.py --html '%s' "
		 "--data '%s' --out '%s' --name '%s' %s", html, doc_path, out_dir(), name, extra);
	p = popen(cmd, "r");
	T_ASSERT(p);
	while (fgets(line, sizeof(line), p)) {
		fputs(line, stderr); /* the figures and the screenshot's path, for the log */
		if (strncmp(line, "skip: ", 6) == 0)
			snprintf(skip, sizeof(skip), "%s", line + 6);
	}
	st = pclose(p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		skip[strcspn(skip, "\n")] = 0;
		t_skip("%s", skip);
	}
	T_ASSERTF(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the browser check failed (status %d); its reason is in the test log", st);
}

/* Writes the report of the document at doc_path to DIR/name.html with
 * report_html_write() and runs the browser check on it. */
static void browser_check(const char *doc_path, const char *name, const char *extra)
{
	char html[600], err[256];
	size_t len;
	unsigned char *doc = t_read_file(doc_path, &len);
	FILE *f;

	snprintf(html, sizeof(html), "%s/%s.html", out_dir(), name);
	f = fopen(html, "w");
	T_ASSERTF(f, "%s: %s", html, strerror(errno));
	T_ASSERTF(report_html_write(f, (const char *)doc, len, err, sizeof(err)) == 0, "%s", err);
	T_EQ(fclose(f), 0);
	free(doc);
	run_check(html, doc_path, name, extra);
}

static void sample_report(void)
{
	browser_check("tests/stats_html/sample.json", "report", "");
}

/* The strings of tests/stats_html/hostile.json that must show as text. */
static void hostile_report(void)
{
	browser_check("tests/stats_html/hostile.json", "hostile",
		      "--hostile '/</script><script>alert(1)</script>' "
		      "--hostile 'http://evil.example/</script><script>alert(2)</script>' "
		      "--hostile '</script><script>alert(3)</script> Mozilla/5.0' "
		      "--hostile 'node<img src=x onerror=alert(4)>' "
		      "--hostile '<!--<script>window.pwned=true</script>-->'");
}

/* A report of nothing (every line filtered out or malformed): no days,
 * no nodes, no tables. */
static void empty_report(void)
{
	browser_check("tests/stats_html/empty.json", "empty", "--load-only");
}

/* chorus-stats itself: a generated mirror log of three nodes over five
 * days, --json and --html from one run, the page checked against that
 * document. */
static void engine_report(void)
{
	char dir[] = "/tmp/chorus-statshtml-XXXXXX", cmd[2048], html[600], doc[600];
	const char *b = build_dir();

	T_ASSERT(mkdtemp(dir));
	snprintf(html, sizeof(html), "%s/engine.html", out_dir());
	snprintf(doc, sizeof(doc), "%s/engine.json", dir);
	snprintf(cmd, sizeof(cmd), "'%s/bench/stats_gen' -n 6000 -s 5 -d 5 -N 3 -o '%s/logs' >/dev/null && "
		 "'%s/chorus-stats' -q --now 2026-12-01 --title 'Mirror network' --json '%s' --html '%s' '%s'/logs/*/access-*.log",
		 b, dir, b, doc, html, dir);
	T_ASSERTF(system(cmd) == 0, "%s failed", cmd);
	run_check(html, doc, "engine", "");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	T_EQ(system(cmd), 0);
}

static const struct t_case cases[] = {
	T_CASE_TIMEOUT(sample_report, 180),
	T_CASE_TIMEOUT(hostile_report, 180),
	T_CASE_TIMEOUT(empty_report, 180),
	T_CASE_TIMEOUT(engine_report, 180),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
