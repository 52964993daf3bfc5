/*
 * test_logd_conf.c - chorus-logd's configuration (src/log/logd_conf.c):
 * spreadlogd.conf samples as spreadlogd 2.0 ships and documents them, the
 * native keywords, a table of bad inputs each refused with its line, and
 * the canonical print round trip (parse, print, parse again: identical).
 * Also the file-name patterns and node names (logd_path.c) and the Match
 * and RewriteTimestamp tables (logd_match.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/logd.h"
#include "t.h"

static struct logd_conf c1, c2;

/* Parses text into c1, prints it, parses the print into c2, and checks
 * that the two are identical. */
static void roundtrip(const char *text)
{
	char err[256], warn[1024], *out = NULL;
	size_t len = 0;
	FILE *fp;

	T_ASSERTF(logd_conf_parse(text, strlen(text), &c1, err, sizeof(err), warn,
				  sizeof(warn)) == 0, "parse: %s", err);
	fp = open_memstream(&out, &len);
	T_ASSERT(fp != NULL);
	logd_conf_print(&c1, fp);
	fclose(fp);
	T_ASSERTF(logd_conf_parse(out, len, &c2, err, sizeof(err), NULL, 0) == 0,
		  "reparse: %s\n%s", err, out);
	T_ASSERTF(memcmp(&c1, &c2, sizeof(c1)) == 0, "round trip differs:\n%s", out);
	free(out);
}

/* spreadlogd 2.0.1's own sample, hooks and all. */
static const char sample_spreadlogd[] =
	"# This is a sample spreadlogd.conf file\n"
	"BufferSize = 65536\n"
	"ModuleDir = /tmp\n"
	"LoadModule foo bar\n"
	"\n"
	"PerlLib .\n"
	"PerlUse mylogger\n"
	"\n"
	"Spread {\n"
	"# Use the spread daemon on excalibur listening on port 3502\n"
	"\tPort = 4913@gollum.int.omniti.net\n"
	"\tLog {\n"
	"\t\tRewriteTimestamp = CommonLogFormat\n"
	"\t\tGroup = omniti\n"
	"                PerlLog mylogger::log\n"
	"                File = omniti.log\n"
	"\t}\n"
	"\tLog {\n"
	"\t\tRewriteTimestamp = CommonLogFormat\n"
	"\t\tGroup = taub-12\n"
	"\t\tFile = /tmp/foo\n"
	"\t\tModuleLog foo\n"
	"\t}\n"
	"}\n";

static void conf_spreadlogd_sample(void)
{
	char err[256], warn[2048];

	T_ASSERTF(logd_conf_parse(sample_spreadlogd, strlen(sample_spreadlogd), &c1, err,
				  sizeof(err), warn, sizeof(warn)) == 0, "%s", err);
	T_EQ(c1.buffer_size, 65536);
	T_EQ(c1.ndaemons, 1);
	T_STREQ(c1.daemons[0].addr, "4913@gollum.int.omniti.net");
	T_EQ(c1.nrules, 2);
	T_STREQ(c1.rules[0].group, "omniti");
	T_STREQ(c1.rules[0].file, "omniti.log");
	T_EQ(c1.rules[0].rewrite, LOGD_RW_CLF);
	T_STREQ(c1.rules[1].group, "taub-12");
	T_STREQ(c1.rules[1].file, "/tmp/foo");
	T_EQ(c1.rules[1].daemon, 0);
	/* Every hook is named in a warning with its line. */
	T_ASSERTF(strstr(warn, "line 3: ModuleDir") != NULL, "%s", warn);
	T_ASSERT(strstr(warn, "line 4: LoadModule") != NULL);
	T_ASSERT(strstr(warn, "line 6: PerlLib") != NULL);
	T_ASSERT(strstr(warn, "line 7: PerlUse") != NULL);
	T_ASSERT(strstr(warn, "line 15: PerlLog") != NULL);
	T_ASSERT(strstr(warn, "line 22: ModuleLog") != NULL);
	/* The writer's clock in rewritten lines makes replicas differ. */
	T_ASSERTF(strstr(warn, "group omniti: RewriteTimestamp with the writer's clock") != NULL,
		  "%s", warn);
	T_ASSERT(strstr(warn, "group taub-12: RewriteTimestamp") != NULL);
	/* Defaults of the native settings. */
	T_EQ(c1.fsync, LOGD_FSYNC_INTERVAL);
	T_EQ(c1.fsync_ms, 100);
	roundtrip(sample_spreadlogd);
}

/* The forms spreadlogd's grammar allows: Port and Host apart, VhostDir,
 * Match, a strftime RewriteTimestamp, quotes of both kinds, two Spread
 * blocks, no spaces needed around braces. */
static void conf_spreadlogd_forms(void)
{
	static const char text[] =
		"Spread {\n"
		"  Port = 4803\n  Host = logger.example.org\n"
		"  Log { Group = www\n VhostDir = /var/log/www\n File = unused.log }\n"
		"  Log {\n    Group = errors\n    File = '/var/log/errors.log'\n"
		"    Match = \" (4|5)[0-9][0-9] \"\n    Match = ^bad\n"
		"    RewriteTimestamp = \"[%d/%m/%Y %H:%M:%S]\"\n  }\n"
		"}\n"
		"Spread {\n  Port = /run/chorus/4803\n  Log{Group=x File=y}\n}\n";
	char err[256];

	/* "Group=x" without blanks is one token to spreadlogd too. */
	T_ASSERT(logd_conf_parse(text, strlen(text), &c1, err, sizeof(err), NULL, 0) != 0);
	T_ASSERTF(strstr(err, "line 17:") != NULL, "%s", err);
	{
		char fixed[sizeof(text) + 8];
		char *p;

		snprintf(fixed, sizeof(fixed), "%s", text);
		p = strstr(fixed, "Log{Group=x File=y}");
		memcpy(p, "Log{Group x File y}", 19);
		T_ASSERT(logd_conf_parse(fixed, strlen(fixed), &c1, err, sizeof(err), NULL,
					 0) != 0);
	}
	{
		static const char ok[] =
			"Spread {\n"
			"  Port = 4803\n  Host = logger.example.org\n"
			"  Log { Group = www\n VhostDir = /var/log/www\n File = unused.log }\n"
			"  Log {\n    Group = errors\n    File = '/var/log/errors.log'\n"
			"    Match = \" (4|5)[0-9][0-9] \"\n    Match = ^bad\n"
			"    RewriteTimestamp = \"[%d/%m/%Y %H:%M:%S]\"\n  }\n"
			"}\n"
			"Spread {\n  Port = /run/chorus/4803\n  Log{ Group = x File = y }\n}\n";

		T_ASSERTF(logd_conf_parse(ok, strlen(ok), &c1, err, sizeof(err), NULL, 0) == 0,
			  "%s", err);
		T_EQ(c1.ndaemons, 2);
		T_STREQ(c1.daemons[0].addr, "4803@logger.example.org");
		T_STREQ(c1.daemons[1].addr, "/run/chorus/4803");
		T_EQ(c1.nrules, 3);
		T_STREQ(c1.rules[0].file, "/var/log/www/%n");
		T_STREQ(c1.rules[1].file, "/var/log/errors.log");
		T_EQ(c1.rules[1].nmatch, 2);
		T_STREQ(c1.rules[1].match[0], " (4|5)[0-9][0-9] ");
		T_EQ(c1.rules[1].rewrite, LOGD_RW_FORMAT);
		T_STREQ(c1.rules[1].rewrite_fmt, "[%d/%m/%Y %H:%M:%S]");
		T_EQ(c1.rules[2].daemon, 1);
		roundtrip(ok);
	}
}

static const char native[] =
	"# native settings\n"
	"WriterId = logger1:a\n"
	"StateDir = /var/lib/chorus-logd/a\n"
	"User = chorus-log:adm\n"
	"Quarantine = \"/var/log/chorus/bad nodes/%g-%Y%m%d.log\"\n"
	"Fsync = 250ms\n"
	"CommitSize = 512K\n"
	"StatusInterval = 60\n"
	"MaxOpenFiles = 1024\n"
	"Spread {\n"
	"\tPort = 4803@127.0.0.1\n"
	"\tLog {\n"
	"\t\tGroup = jigdo\n"
	"\t\tFile = /var/log/chorus/%g/%n/access-%Y%m%d.log\n"
	"\t\tRotateSize = 512M\n"
	"\t\tCompress = zstd\n"
	"\t\tRewriteTimestamp = 'CommonLogFormat'\n"
	"\t\tRewriteClock = sender\n"
	"\t}\n"
	"}\n";

static void conf_native(void)
{
	char err[256];

	T_ASSERTF(logd_conf_parse(native, strlen(native), &c1, err, sizeof(err), NULL,
				  0) == 0, "%s", err);
	T_STREQ(c1.writer_id, "logger1:a");
	T_STREQ(c1.state_dir, "/var/lib/chorus-logd/a");
	T_STREQ(c1.user, "chorus-log:adm");
	T_STREQ(c1.quarantine, "/var/log/chorus/bad nodes/%g-%Y%m%d.log");
	T_EQ(c1.fsync, LOGD_FSYNC_INTERVAL);
	T_EQ(c1.fsync_ms, 250);
	T_EQ(c1.commit_size, 512u << 10);
	T_EQ(c1.status_s, 60);
	T_EQ(c1.max_open, 1024);
	T_EQ(c1.rules[0].rotate_size, 512ull << 20);
	T_EQ(c1.rules[0].compress, LOGD_COMP_ZSTD);
	/* A quoted CommonLogFormat is a strftime format, as in spreadlogd's
	 * lexer, where only the bare word is the keyword. */
	T_EQ(c1.rules[0].rewrite, LOGD_RW_FORMAT);
	T_EQ(c1.rules[0].clock, LOGD_CLOCK_SENDER);
	roundtrip(native);
	{
		static const char never[] = "Fsync = never\nSpread { Log { Group = g File = f } }\n";
		static const char batch[] = "fsync = BATCH\nSpread { Log { Group = g File = f } }\n";

		T_EQ(logd_conf_parse(never, strlen(never), &c1, err, sizeof(err), NULL, 0), 0);
		T_EQ(c1.fsync, LOGD_FSYNC_NEVER);
		T_EQ(c1.commit_size, 2u << 20); /* the default */
		T_STREQ(c1.daemons[0].addr, "4803");
		roundtrip(never);
		T_EQ(logd_conf_parse(batch, strlen(batch), &c1, err, sizeof(err), NULL, 0), 0);
		T_EQ(c1.fsync, LOGD_FSYNC_BATCH);
		roundtrip(batch);
	}
	{
		static const char off[] = "CommitSize = 0\nSpread { Log { Group = g File = f } }\n";

		T_EQ(logd_conf_parse(off, strlen(off), &c1, err, sizeof(err), NULL, 0), 0);
		T_EQ(c1.commit_size, 0);
		roundtrip(off);
	}
}

/* Bad configurations: each refused, naming the right line. */
static void conf_errors(void)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "", "line 1: no Log block" },
		{ "Spread { }\n", "no Log block" },
		{ "Bogus = 1\n", "line 1: unknown setting \"Bogus\"" },
		{ "Spread {\n Log {\n File = x\n }\n}\n", "line 4: Log block without a Group" },
		{ "Spread {\n Log {\n Group = g\n }\n}\n", "without File or VhostDir" },
		{ "Spread { Log { Group = g File = \"|/bin/cat\" } }", "piped logs" },
		{ "Spread { Log { Group = g File = 'x\n' } }", "line 1: unterminated" },
		{ "Spread { Log { Group = g File = x Match = ( } }", "Match:" },
		{ "Spread { Log { Group = \"a b\" File = x } }", "not a group name" },
		{ "Spread { Log { Group = g File = x%q } }", "%q is not a conversion" },
		{ "Spread { Log { Group = g File = x% } }", "lone %" },
		{ "Spread { Log { Group = g File = /var/log/ } }", "directory" },
		{ "Quarantine = /q/%n\nSpread { Log { Group = g File = x } }", "%n (the node)" },
		{ "Spread { Port = 0 Log { Group = g File = x } }", "not PORT" },
		{ "Spread { Port = 70000 Log { Group = g File = x } }", "not PORT" },
		{ "Spread { Port = 1@h Host = h Log { Group = g File = x } }", "drop Host" },
		{ "Spread { Port = 4803x Log { Group = g File = x } }", "not PORT" },
		{ "Spread { Port = tls:4804 Log { Group = g File = x } }",
		  "needs the daemon's host name" },
		{ "Spread { Port = tls:x@h Log { Group = g File = x } }", "tls:PORT@HOST" },
		{ "TlsCAFile = \"\"\nSpread { Log { Group = g File = x } }",
		  "line 1: TlsCAFile: empty" },
		{ "Fsync = 0\nSpread { Log { Group = g File = x } }", "line 1: Fsync" },
		{ "Fsync = sometimes\n", "Fsync" },
		{ "MaxOpenFiles = 2\n", "outside 4..65536" },
		{ "CommitSize = 100\n", "CommitSize: 0 (commit by Fsync only) or at least 4K" },
		{ "CommitSize = 2G\n", "outside 0..1073741824" },
		{ "CommitSize = lots\n", "CommitSize: \"lots\" is not a number" },
		{ "BufferSize = 99999999999\n", "outside" },
		{ "BufferSize = 12Q\n", "not a size" },
		{ "StatusInterval = -1\n", "not a number" },
		{ "WriterId = \"a b\"\n", "WriterId" },
		{ "User = :adm\n", "line 1: User: \":adm\": no user name" },
		{ "User = a:b:c\n", "User: \"a:b:c\": more than one ':'" },
		{ "Spread { Log { Group = g File = x RotateSize = 100 } }", "at least 4K" },
		{ "Spread { Log { Group = g File = x Compress = lz4 } }", "not none, gzip or zstd" },
		{ "Spread { Log { Group = g File = x RewriteClock = mine } }", "RewriteClock" },
		{ "Spread { Log { Group = g File = x RewriteTimestamp = '' } }", "empty format" },
		{ "Spread { Log { Group = g File = x Port = 1 } }", "unknown setting \"Port\" in a Log" },
		{ "Spread { Log { Group = g File = x }\n", "line 2: expected Port" },
		{ "Spread\n{\nPort 4803\n", "line 3: Port: expected '='" },
		{ "Spread { Log Group = g }", "Log: expected '{'" },
		{ "Spread { Log { Group = } }", "expected a value" },
		{ "}", "expected a setting" },
		{ "Spread { Log { Group = g File = \"a\x01\" } }", "control character" },
		{ "Spread { Log { Group = a/b File = /l/%g.log } }",
		  "group \"a/b\" is not safe as a file name component" },
		{ "Spread { Log { Group = web:x File = /l/x.log } }", "but Quarantine uses %g" },
		{ "Quarantine = /q/all.log\nSpread { Log { Group = .g File = /l/%g } }",
		  "but File uses %g" },
	};
	char err[256];

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		T_ASSERTF(logd_conf_parse(cases[i].text, strlen(cases[i].text), &c1, err,
					  sizeof(err), NULL, 0) != 0, "case %zu parsed", i);
		T_ASSERTF(strstr(err, cases[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"",
			  i, err, cases[i].want);
		T_ASSERTF(strncmp(err, "line ", 5) == 0, "case %zu: %s", i, err);
	}
	{
		/* A value one byte too long, and the longest that fits. */
		char text[2048], v[LOGD_VALUE_MAX + 2];

		memset(v, 'a', sizeof(v));
		v[LOGD_VALUE_MAX] = 0;
		snprintf(text, sizeof(text), "Spread { Log { Group = g File = %s } }", v);
		T_ASSERT(logd_conf_parse(text, strlen(text), &c1, err, sizeof(err), NULL, 0) != 0);
		T_ASSERTF(strstr(err, "longer than") != NULL, "%s", err);
	}
}

/* Odd but valid values survive the print round trip. */
static void conf_roundtrip_table(void)
{
	static const char *const cases[] = {
		"Spread { Log { Group = g File = \"a b'c\" } }",
		"Spread { Log { Group = g File = 'a b\"c' } }",
		"Spread { Log { Group = g File = a\"b'c } }",
		"Spread { Log { Group = g File = \"=\" } }",
		"Spread { Log { Group = g File = \"#x\" } }",
		"Spread { Log { Group = g File = x RewriteTimestamp = \"none\" } }",
		"Spread { Log { Group = g File = x RewriteTimestamp = none } }",
		"Spread { Log { Group = g File = x RewriteTimestamp = a\"b'c } }",
		"Spread { Log { Group = g File = x RewriteTimestamp = 'a\"b' } }",
		"Spread { Log { Group = g File = x Match = \"a{2}\" Match = '\"' } }",
		"Spread { Log { Group = g VhostDir = /v/100% } }",
		"Spread { Log { Group = g File = %%%g%n%Y } }",
		"Spread { Log { Group = g File = x RotateSize = 4K Compress = gzip } }",
		"TlsCAFile = /c/ca.pem TlsCertificateFile = c.pem TlsKeyFile = 'k y'\n"
		"Spread { Port = tls:4804 Host = mirror.example Log { Group = g File = x } }",
		"Spread { Port = tls:4804@10.0.0.1 Log { Group = g File = x } }",
		"WriterId = w Spread { Port = 1 } Spread { Port = 2 Log { Group = g File = x } }",
	};

	for (size_t i = 0; i < T_COUNT(cases); i++)
		roundtrip(cases[i]);
	T_STREQ(c1.daemons[1].addr, "2");
	T_EQ(c1.rules[0].daemon, 1);
	roundtrip(cases[T_COUNT(cases) - 3]);
	T_STREQ(c1.daemons[0].addr, "tls:4804@mirror.example");
	T_STREQ(c1.tls_key, "k y");
}

static void conf_load_relative(void)
{
	char dir[] = "/tmp/chorus-logdconf-XXXXXX", path[128], err[256];
	FILE *fp;

	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/logd.conf", dir);
	fp = fopen(path, "w");
	T_ASSERT(fp != NULL);
	fputs("StateDir = state\nSpread { Log { Group = g File = logs/%n.log } }\n", fp);
	fclose(fp);
	T_ASSERTF(logd_conf_load(path, &c1, err, sizeof(err), NULL, 0) == 0, "%s", err);
	{
		char want[160];

		snprintf(want, sizeof(want), "%s/state", dir);
		T_STREQ(c1.state_dir, want);
		snprintf(want, sizeof(want), "%s/logs/%%n.log", dir);
		T_STREQ(c1.rules[0].file, want);
	}
	unlink(path);
	rmdir(dir);
	T_ASSERT(logd_conf_load(path, &c1, err, sizeof(err), NULL, 0) != 0);
	T_ASSERTF(strstr(err, "No such file") != NULL, "%s", err);
}

/* ---- logd_path.c ---- */

static void path_node_names(void)
{
	static const struct { const char *name; int ok; } cases[] = {
		{ "node1", 1 }, { "www.example.org", 1 }, { "a-b_c.9", 1 }, { "A", 1 },
		{ "", 0 }, { ".", 0 }, { "..", 0 }, { ".hidden", 0 }, { "a/b", 0 },
		{ "../etc", 0 }, { "a b", 0 }, { "a\\b", 0 }, { "a:b", 0 }, { "é", 0 },
		{ "a\nb", 0 }, { "a%b", 0 }, { "~root", 0 }, { "a*", 0 },
		{ "0123456789012345678901234567890123456789012345678901234567890123", 1 },
		{ "01234567890123456789012345678901234567890123456789012345678901234", 0 },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++)
		T_ASSERTF(logd_node_ok(cases[i].name, strlen(cases[i].name)) == cases[i].ok,
			  "case %zu (%s)", i, cases[i].name);
	T_EQ(logd_node_ok("a\0b", 3), 0);
}

/* Under a pattern that ends in %n, names that end like the writer's own
 * files (rotated, compressed, in progress, late lines) are refused. */
static void path_node_aliases(void)
{
	static const struct { const char *pat, *name; int ok; } cases[] = {
		{ "/l/%n", "a", 1 }, { "/l/%n", "a.1", 0 }, { "/l/%n", "a.12", 0 },
		{ "/l/%n", "a.gz", 0 }, { "/l/%n", "a.zst", 0 }, { "/l/%n", "a.part", 0 },
		{ "/l/%n", "a.1.zst.part", 0 }, { "/l/%n", "a.late3", 0 },
		{ "/l/%n", "a.late", 1 }, { "/l/%n", "a1", 1 }, { "/l/%n", "a-1", 1 },
		{ "/l/%n", "a.gzip", 1 }, { "/l/%n", "www.example.org", 1 },
		{ "/l/%n", "a.b2", 1 }, { "/l/%n", "1", 1 },
		/* Not at the end of the name: no alias possible. */
		{ "/l/%n/access.log", "a.1", 1 }, { "/l/%n.log", "a.gz", 1 },
		{ "/l/%%n", "a.1", 1 }, { "/l/%%%n", "a.1", 0 },
		/* Still a node name first. */
		{ "/l/%n.log", "../x", 0 },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++)
		T_ASSERTF(logd_node_ok_for(cases[i].pat, cases[i].name,
					   strlen(cases[i].name)) == cases[i].ok,
			  "case %zu (%s under %s)", i, cases[i].name, cases[i].pat);
}

/* Friday, 7 March 2025, 04:15:06: the time of the path tables. */
static void sample_tm(struct tm *tm)
{
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = 125;
	tm->tm_mon = 2;
	tm->tm_mday = 7;
	tm->tm_hour = 4;
	tm->tm_min = 15;
	tm->tm_sec = 6;
	tm->tm_yday = 65;
	tm->tm_wday = 5;
}

/* The end of a time pattern's period. */
static void path_period_end(void)
{
	struct tm tm;
	time_t t;

	setenv("TZ", "UTC", 1);
	tzset();
	sample_tm(&tm);
	t = timegm(&tm);
	T_EQ(logd_pattern_period_end("/l/%Y%m%d.log", "g", NULL, t),
	     (int64_t)t + 19 * 3600 + 44 * 60 + 54);
	T_EQ(logd_pattern_period_end("/l/%n/%Y%m%d%H%M%S", "g", "a", t), (int64_t)t + 1);
	T_EQ(logd_pattern_period_end("/l/%H.log", "g", NULL, t), (int64_t)t + 44 * 60 + 54);
	T_EQ(logd_pattern_period_end("/l/%Y-%m", "g", NULL, t),
	     (int64_t)t + (24 * 86400) + 19 * 3600 + 44 * 60 + 54);
	T_EQ(logd_pattern_period_end("/l/all.log", "g", NULL, t), -1);
	T_EQ(logd_pattern_period_end("/l/%n-%Y", "g", NULL, t), -1);
}

static void path_expand(void)
{
	static const struct {
		const char *pat, *group, *node, *want;
	} cases[] = {
		{ "/var/log/chorus/%g/%n/access-%Y%m%d.log", "jigdo", "node1",
		  "/var/log/chorus/jigdo/node1/access-20250307.log" },
		{ "/l/%g.log", "www", NULL, "/l/www.log" },
		{ "/l/100%%-%H%M%S-%j", "g", NULL, "/l/100%-041506-066" },
		{ "/l/%n", "g", "..", NULL },
		{ "/l/%n", "g", "a/b", NULL },
		{ "/l/%n", "g", NULL, NULL },
		{ "/l/%g", "../x", NULL, NULL },
		{ "/l/%g", "a/b", NULL, NULL },
		{ "/l/%b-%a-%y", "g", NULL, "/l/Mar-Fri-25" },
	};
	struct tm tm;
	char out[LOGD_PATH_MAX], small[12];

	sample_tm(&tm);
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		int n = logd_pattern_expand(cases[i].pat, cases[i].group, cases[i].node, &tm,
					    out, sizeof(out));

		if (!cases[i].want) {
			T_ASSERTF(n < 0, "case %zu expanded to %s", i, out);
			continue;
		}
		T_ASSERTF(n > 0, "case %zu", i);
		T_STREQ(out, cases[i].want);
		T_EQ(n, strlen(cases[i].want));
	}
	/* Too long for the buffer: refused, never cut. */
	T_ASSERT(logd_pattern_expand("/l/%g/%n", "group", "node1", &tm, small,
				     sizeof(small)) < 0);
	T_EQ(logd_pattern_expand("/l/%g", "g", NULL, &tm, small, 5), 4);
	T_ASSERT(logd_pattern_expand("/l/%g", "g", NULL, &tm, small, 4) < 0);
	T_EQ(logd_pattern_has_node("/a/%n"), 1);
	T_EQ(logd_pattern_has_node("/a/%%n"), 0);
	T_EQ(logd_pattern_has_time("/a/%Y"), 1);
	T_EQ(logd_pattern_has_time("/a/%g%n%%Y"), 0);
}

/* ---- logd_match.c ---- */

static void match_table(void)
{
	static const struct {
		const char *re[3];
		const char *line;
		int want;
	} cases[] = {
		{ { NULL }, "anything", 1 },
		{ { "GET", NULL }, "1.2.3.4 - - [x] \"GET / HTTP/1.1\" 200 1", 1 },
		{ { "POST", NULL }, "1.2.3.4 - - [x] \"GET / HTTP/1.1\" 200 1", 0 },
		{ { "POST", "\" (4|5)[0-9]{2} ", NULL }, "h - - [x] \"GET /x\" 404 1", 1 },
		{ { "POST", "\" (4|5)[0-9]{2} ", NULL }, "h - - [x] \"GET /x\" 200 1", 0 },
		{ { "^1\\.2\\.", NULL }, "1.2.3.4 - -", 1 },
		{ { "^1\\.2\\.", NULL }, "11.2.3.4 - -", 0 },
		{ { "4$", NULL }, "1.2.3.4", 1 },
		{ { "(a|b)+c", NULL }, "xxababcxx", 1 },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct logd_rule r;
		struct logd_match m;
		char err[128];

		memset(&r, 0, sizeof(r));
		for (int k = 0; k < 3 && cases[i].re[k]; k++)
			snprintf(r.match[r.nmatch++], sizeof(r.match[0]), "%s", cases[i].re[k]);
		T_ASSERTF(logd_match_init(&m, &r, err, sizeof(err)) == 0, "%s", err);
		T_ASSERTF(logd_match_line(&m, cases[i].line, strlen(cases[i].line)) ==
			  cases[i].want, "case %zu", i);
		logd_match_free(&m);
	}
	{
		/* The line is matched without its '\n' and not past its length. */
		struct logd_rule r;
		struct logd_match m;
		char err[128];

		memset(&r, 0, sizeof(r));
		snprintf(r.match[r.nmatch++], sizeof(r.match[0]), "abc$");
		T_EQ(logd_match_init(&m, &r, err, sizeof(err)), 0);
		T_EQ(logd_match_line(&m, "xabcdef", 4), 1);
		T_EQ(logd_match_line(&m, "xabcdef", 3), 0);
		logd_match_free(&m);
		snprintf(r.match[0], sizeof(r.match[0]), "a(");
		T_ASSERT(logd_match_init(&m, &r, err, sizeof(err)) != 0);
		T_ASSERTF(strstr(err, "a(") != NULL, "%s", err);
	}
}

static void rewrite_table(void)
{
	static const struct {
		enum logd_rewrite how;
		const char *fmt, *line, *want;
	} cases[] = {
		{ LOGD_RW_CLF, NULL,
		  "1.2.3.4 - - [01/Jan/2020:00:00:00 +0100] \"GET / HTTP/1.1\" 200 5",
		  "1.2.3.4 - - [07/Mar/2025:04:15:06 +0000] \"GET / HTTP/1.1\" 200 5" },
		{ LOGD_RW_FORMAT, "%Y-%m-%dT%H:%M:%S",
		  "h - - [01/Jan/2020:00:00:00 +0100] \"GET /\" 200 5",
		  "h - - 2025-03-07T04:15:06 \"GET /\" 200 5" },
		{ LOGD_RW_CLF, NULL, "no brackets here", "no brackets here" },
		{ LOGD_RW_CLF, NULL, "open [ but no close", "open [ but no close" },
		{ LOGD_RW_CLF, NULL, "[]", "[07/Mar/2025:04:15:06 +0000]" },
		{ LOGD_RW_CLF, NULL, "a [1] b [2]", "a [07/Mar/2025:04:15:06 +0000] b [2]" },
		{ LOGD_RW_NONE, NULL, "a [1] b", "a [1] b" },
		{ LOGD_RW_FORMAT, "%%", "a [1] b", "a % b" },
	};
	/* 2025-03-07 04:15:06 UTC */
	time_t t = 1741320906;
	char out[256];

	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		long n = logd_rewrite_time(cases[i].how, cases[i].fmt, t, cases[i].line,
					   strlen(cases[i].line), out, sizeof(out));

		T_ASSERTF(n >= 0, "case %zu", i);
		out[n] = 0;
		T_STREQ(out, cases[i].want);
	}
	/* Another zone: the offset of local time, with its sign. */
	setenv("TZ", "EST5EDT", 1);
	tzset();
	{
		const char *l = "x [y] z";
		long n = logd_rewrite_time(LOGD_RW_CLF, NULL, t, l, strlen(l), out, sizeof(out));

		T_ASSERT(n > 0);
		out[n] = 0;
		T_STREQ(out, "x [06/Mar/2025:23:15:06 -0500] z");
	}
	/* Does not fit: refused, never cut. */
	T_EQ(logd_rewrite_time(LOGD_RW_CLF, NULL, t, "a [b] c", 7, out, 20), -1);
	T_EQ(logd_rewrite_time(LOGD_RW_NONE, NULL, t, "abc", 3, out, 2), -1);
}

static const struct t_case cases[] = {
	T_CASE(conf_spreadlogd_sample),
	T_CASE(conf_spreadlogd_forms),
	T_CASE(conf_native),
	T_CASE(conf_errors),
	T_CASE(conf_roundtrip_table),
	T_CASE(conf_load_relative),
	T_CASE(path_node_names),
	T_CASE(path_node_aliases),
	T_CASE(path_period_end),
	T_CASE(path_expand),
	T_CASE(match_table),
	T_CASE(rewrite_table),
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases, T_COUNT(cases));
}
