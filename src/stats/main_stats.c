/*
 * chorus-stats - access statistics of a mirror network from Apache logs:
 * files (plain, gzip, zstd), standard input, or live from a group on a
 * daemon. Writes JSON (docs/stats-json.md), CSV, HTML and a text summary;
 * keeps its counts in a state file for incremental runs. See
 * chorus-stats(1).
 *
 * This file is the shell: options, the progress line, writing outputs
 * atomically; the counting is in agg.c (a pure function of the lines).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chorus.h"
#include "stats/agg.h"
#include "stats/feed.h"
#include "stats/input.h"
#include "stats/live.h"
#include "stats/report_html.h"
#include "stats/report.h"
#include "stats/state.h"
#include "proto/batch.h"

#define VERSION "1.0"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct opts {
	const char *format, *node_name, *json, *csv, *html, *state, *title;
	const char *daemon, *group;
	int text, node_token, quiet, no_releases;
	unsigned interval_s;
	int32_t now_day;      /* --now, or INT32_MIN: today (UTC) */
	uint32_t max_age;     /* days before now accepted (0: any) */
	struct flt flt;
	struct rl_set rel;
	struct agg_limits lim;
};

static void usage(FILE *o)
{
	fprintf(o,
		"usage: chorus-stats [options] [FILE...]\n"
		"       chorus-stats -s DAEMON -g GROUP [options]\n"
		"input:  FILE... (plain, .gz, .zst; - is standard input; none: standard input)\n"
		"  -f, --format FMT       combined (default), common, vhost_combined or a LogFormat\n"
		"  -N, --node-name NAME   node of lines whose file does not name one (default local)\n"
		"      --node-token       the first word of each line is its node\n"
		"  -s, --daemon DAEMON -g, --group GROUP   live: read the group's log lines\n"
		"  -i, --interval SEC     live: write the reports every SEC seconds (default 60)\n"
		"      --tls-ca FILE --tls-cert FILE --tls-key FILE   live: TLS files for a\n"
		"                         tls:PORT@HOST daemon (default: $CHORUS_TLS_*)\n"
		"filters:\n"
		"      --from YYYY-MM-DD --to YYYY-MM-DD --node NAME --status CODE|Nxx\n"
		"      --path-prefix PREFIX\n"
		"dates:  --now YYYY-MM-DD (default today) --max-age DAYS (default 3650, 0: any)\n"
		"visitors: --4xx-to-unique-count  --max-open-days N (default 100)\n"
		"outputs (default: the text summary on standard output):\n"
		"      --json FILE --csv DIR --html FILE --text --title TEXT\n"
		"state:  --state FILE     keep counts between runs; read only new data\n"
		"tables: --top N --day-top N --node-top N --capacity N --day-capacity N\n"
		"        --window DAYS --release KIND=PATTERN --no-releases\n"
		"  -q, --quiet            no progress line\n"
		"  -V, --version  -h, --help\n");
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *e;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno || e == s || *e || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Writes one output atomically: into path.tmp, then renamed over path.
 * "-" is standard output. */
static int write_atomic(const char *path, int (*fn)(FILE *, void *), void *arg)
{
	char tmp[PATH_MAX];
	FILE *o;

	if (strcmp(path, "-") == 0) {
		if (fn(stdout, arg) != 0 || fflush(stdout) != 0) {
			fprintf(stderr, "chorus-stats: standard output: %s\n", strerror(errno));
			return -1;
		}
		return 0;
	}
	/* Only a regular file (or a new one) is replaced by a rename: a
	 * device or a FIFO (/dev/null, a pipe) is written in place. */
	struct stat sb;
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		if (!(o = fopen(path, "w"))) {
			fprintf(stderr, "chorus-stats: %s: %s\n", path, strerror(errno));
			return -1;
		}
		int rc = fn(o, arg);
		if (fclose(o) != 0)
			rc = -1;
		if (rc != 0)
			fprintf(stderr, "chorus-stats: %s: %s\n", path, strerror(errno ? errno : EIO));
		return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (!(o = fopen(tmp, "w"))) {
		fprintf(stderr, "chorus-stats: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	int rc = fn(o, arg);
	if (fflush(o) != 0)
		rc = -1;
	if (rc == 0 && fsync(fileno(o)) != 0)
		rc = -1;
	if (fclose(o) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "chorus-stats: %s: %s\n", path, strerror(errno ? errno : EIO));
		unlink(tmp);
	}
	return rc;
}

struct out_ctx {
	const struct agg *a;
	struct rep_meta m;
	const char *json_buf;
	size_t json_len;
};

static int out_json(FILE *o, void *arg)
{
	struct out_ctx *c = arg;

	return rep_json(o, c->a, &c->m);
}

static int out_text(FILE *o, void *arg)
{
	struct out_ctx *c = arg;

	return rep_text(o, c->a, &c->m);
}

static int out_html(FILE *o, void *arg)
{
	struct out_ctx *c = arg;
	char err[256];

	if (report_html_write(o, c->json_buf, c->json_len, err, sizeof(err)) != 0) {
		fprintf(stderr, "chorus-stats: html: %s\n", err);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Writes every output asked for. Returns 0 or -1. */
static int write_outputs(const struct opts *op, const struct agg *a, uint64_t files)
{
	struct out_ctx c;
	char gen[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc = 0;

	gmtime_r(&now, &tm);
	strftime(gen, sizeof(gen), "%Y-%m-%dT%H:%M:%SZ", &tm);
	memset(&c, 0, sizeof(c));
	c.a = a;
	c.m.title = op->title;
	c.m.generated = gen;
	c.m.flt = &op->flt;
	c.m.files = files;
	c.m.state = op->state != NULL;
	if (op->json && write_atomic(op->json, out_json, &c) != 0)
		rc = -1;
	if (op->csv) {
		if (mkdir(op->csv, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "chorus-stats: %s: %s\n", op->csv, strerror(errno));
			rc = -1;
		} else if (rep_csv(op->csv, a) != 0) {
			fprintf(stderr, "chorus-stats: %s: %s\n", op->csv, strerror(errno));
			rc = -1;
		}
	}
	if (op->html) {
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		if (!m || rep_json(m, a, &c.m) != 0 || fclose(m) != 0) {
			fprintf(stderr, "chorus-stats: html: out of memory\n");
			rc = -1;
		} else {
			c.json_buf = buf;
			c.json_len = len;
			if (write_atomic(op->html, out_html, &c) != 0)
				rc = -1;
		}
		free(buf);
	}
	if (op->text && write_atomic("-", out_text, &c) != 0)
		rc = -1;
	return rc;
}

/* The days a line may be dated: from max_age days before "now" to the
 * day after it (a node a few hours ahead, or in a later time zone). */
static void set_bounds(const struct opts *op, struct feed *f)
{
	int32_t now = op->now_day;

	if (now == INT32_MIN)
		now = (int32_t)(time(NULL) / 86400);
	f->max_day = now + 1;
	f->min_day = op->max_age ? now - (int32_t)op->max_age : INT32_MIN;
}

struct live_ctx {
	const struct opts *op;
	const struct agg *a;
	const char *fp;
	struct live_streams *ls;
	struct feed *feed;
};

/* Live mode: the reports (and the state) every interval. */
static int live_flush(void *arg)
{
	struct live_ctx *c = arg;
	char err[512];
	int rc = 0;

	set_bounds(c->op, c->feed); /* a long run: "now" moves on */
	if (c->op->state &&
	    state_save(c->op->state, c->fp, c->a, NULL, c->ls, err, sizeof(err)) != 0) {
		fprintf(stderr, "chorus-stats: %s\n", err);
		rc = -1;
	}
	if (write_outputs(c->op, c->a, 0) != 0)
		rc = -1;
	return rc;
}

struct run {
	struct feed feed;
	uint64_t bytes_in;
	int progress;
	time_t last;
	double t0;
	const char *name;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int on_line(void *arg, const char *node, size_t node_len, const char *source,
		   uint64_t lineno, const char *line, size_t len)
{
	struct run *r = arg;

	if (feed_line(&r->feed, node, node_len, source, lineno, line, len) != 0)
		return -1;
	if (r->progress && (r->feed.agg->lines & 0xffff) == 0) {
		time_t t = time(NULL);

		if (t != r->last) {
			double el = now_s() - r->t0;

			r->last = t;
			fprintf(stderr, "\rchorus-stats: %s: %" PRIu64 " lines, %.1f MB, %.0f lines/s   ",
				r->name, r->feed.agg->lines, (double)r->bytes_in / 1e6,
				el > 0 ? (double)r->feed.agg->lines / el : 0.0);
		}
	}
	return 0;
}

struct input {
	const char *path;
	int32_t first; /* day of its first dated line; INT32_MIN: unknown */
	int idx;
};

static int input_cmp(const void *x, const void *y)
{
	const struct input *a = x, *b = y;

	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

#define PEEK_BYTES 65536

/* The inputs in the order of their first dates (from the first line of
 * the first PEEK_BYTES bytes that parses and passes the date bounds);
 * standard input and files whose first date is unknown come first, in
 * the order given. A file that cannot be opened is reported when it is
 * read. Returns a malloc'd array, or NULL (memory). */
static struct input *order_inputs(char *const *paths, int n, const struct feed *f)
{
	struct input *in = calloc((size_t)n, sizeof(*in));
	uint8_t *buf = malloc(PEEK_BYTES);
	char err[512];

	if (!in || !buf) {
		free(in);
		free(buf);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		long len = strcmp(paths[i], "-") == 0 ? -1 :
			   in_peek_file(paths[i], buf, PEEK_BYTES, err, sizeof(err));

		in[i].path = paths[i];
		in[i].idx = i;
		in[i].first = INT32_MIN;
		for (const char *p = (const char *)buf, *end = p + (len > 0 ? len : 0); p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
			const char *l = p;
			struct lf_rec rec;

			p += ll + 1;
			if (!nl)
				break; /* a line cut by the peek */
			if (ll && l[ll - 1] == '\r')
				ll--;
			if (f->node_token) {
				const char *sp = memchr(l, ' ', ll);

				if (!sp)
					continue;
				ll -= (size_t)(sp + 1 - l);
				l = sp + 1;
			}
			if (lf_parse(f->fmt, l, ll, &rec) == LF_OK && rec.day >= f->min_day &&
			    rec.day <= f->max_day) {
				in[i].first = rec.day;
				break;
			}
		}
	}
	free(buf);
	qsort(in, (size_t)n, sizeof(*in), input_cmp);
	return in;
}

int main(int argc, char **argv)
{
	enum { O_NODE_TOKEN = 256, O_FROM, O_TO, O_NODE, O_STATUS, O_PREFIX, O_JSON, O_CSV,
	       O_HTML, O_TEXT, O_TITLE, O_STATE, O_TOP, O_DAY_TOP, O_NODE_TOP, O_CAP, O_DAY_CAP,
	       O_WINDOW, O_RELEASE, O_NO_RELEASES, O_NOW, O_MAX_AGE, O_OPEN_DAYS, O_4XX,
	       O_TLS_CA, O_TLS_CERT, O_TLS_KEY };
	static const struct option lo[] = {
		{ "format", 1, 0, 'f' }, { "node-name", 1, 0, 'N' },
		{ "node-token", 0, 0, O_NODE_TOKEN }, { "daemon", 1, 0, 's' },
		{ "group", 1, 0, 'g' }, { "interval", 1, 0, 'i' }, { "from", 1, 0, O_FROM },
		{ "to", 1, 0, O_TO }, { "node", 1, 0, O_NODE }, { "status", 1, 0, O_STATUS },
		{ "path-prefix", 1, 0, O_PREFIX }, { "json", 1, 0, O_JSON }, { "csv", 1, 0, O_CSV },
		{ "html", 1, 0, O_HTML }, { "text", 0, 0, O_TEXT }, { "title", 1, 0, O_TITLE },
		{ "state", 1, 0, O_STATE }, { "top", 1, 0, O_TOP }, { "day-top", 1, 0, O_DAY_TOP },
		{ "node-top", 1, 0, O_NODE_TOP }, { "capacity", 1, 0, O_CAP },
		{ "day-capacity", 1, 0, O_DAY_CAP }, { "window", 1, 0, O_WINDOW },
		{ "release", 1, 0, O_RELEASE }, { "no-releases", 0, 0, O_NO_RELEASES },
		{ "now", 1, 0, O_NOW }, { "max-age", 1, 0, O_MAX_AGE },
		{ "max-open-days", 1, 0, O_OPEN_DAYS }, { "4xx-to-unique-count", 0, 0, O_4XX },
		{ "quiet", 0, 0, 'q' }, { "version", 0, 0, 'V' }, { "help", 0, 0, 'h' },
		{ "tls-ca", 1, 0, O_TLS_CA }, { "tls-cert", 1, 0, O_TLS_CERT },
		{ "tls-key", 1, 0, O_TLS_KEY },
		{ 0, 0, 0, 0 }
	};
	const char *tls[3] = { NULL, NULL, NULL };
	struct opts op;
	char err[512];
	int c, user_rel = 0;

	memset(&op, 0, sizeof(op));
	op.format = "combined";
	op.node_name = "local";
	op.title = "Access statistics";
	op.interval_s = 60;
	op.now_day = INT32_MIN;
	op.max_age = 3650;
	agg_default_limits(&op.lim);
	rl_defaults(&op.rel);
	while ((c = getopt_long(argc, argv, "f:N:s:g:i:qVh", lo, NULL)) != -1) {
		uint32_t v;
		const char *what = NULL;

		switch (c) {
		case 'f': op.format = optarg; break;
		case 'N':
			if (!*optarg || strlen(optarg) > 64 || strchr(optarg, '/')) {
				fprintf(stderr, "chorus-stats: -N: 1 to 64 characters, no '/'\n");
				return 2;
			}
			op.node_name = optarg;
			break;
		case O_NODE_TOKEN: op.node_token = 1; break;
		case 's': op.daemon = optarg; break;
		case 'g': op.group = optarg; break;
		case O_TLS_CA: tls[0] = optarg; break;
		case O_TLS_CERT: tls[1] = optarg; break;
		case O_TLS_KEY: tls[2] = optarg; break;
		case 'i':
			if (parse_u32(optarg, 1, 86400, &v) != 0)
				goto bad_num;
			op.interval_s = v;
			break;
		case O_FROM:
		case O_TO:
			if (flt_parse_date(optarg, c == O_FROM ? &op.flt.from : &op.flt.to) != 0) {
				fprintf(stderr, "chorus-stats: --%s %s: expected a date YYYY-MM-DD\n",
					c == O_FROM ? "from" : "to", optarg);
				return 2;
			}
			break;
		case O_NODE: what = "node"; break;
		case O_STATUS: what = "status"; break;
		case O_PREFIX: what = "path-prefix"; break;
		case O_JSON: op.json = optarg; break;
		case O_CSV: op.csv = optarg; break;
		case O_HTML: op.html = optarg; break;
		case O_TEXT: op.text = 1; break;
		case O_TITLE: op.title = optarg; break;
		case O_STATE: op.state = optarg; break;
		case O_TOP: case O_DAY_TOP: case O_NODE_TOP: case O_CAP: case O_DAY_CAP:
		case O_WINDOW:
			if (parse_u32(optarg, 1, 1u << 24, &v) != 0)
				goto bad_num;
			if (c == O_TOP) op.lim.top = v;
			if (c == O_DAY_TOP) op.lim.day_top = v;
			if (c == O_NODE_TOP) op.lim.node_top = v;
			if (c == O_CAP) op.lim.capacity = v < 16 ? 16 : v;
			if (c == O_DAY_CAP) op.lim.day_capacity = v < 16 ? 16 : v;
			if (c == O_WINDOW) op.lim.window_days = v;
			break;
		case O_RELEASE:
			if (!user_rel) {
				op.rel.n = 0;
				user_rel = 1;
			}
			if (rl_add(&op.rel, optarg, err, sizeof(err)) != 0) {
				fprintf(stderr, "chorus-stats: %s\n", err);
				return 2;
			}
			break;
		case O_NO_RELEASES: op.no_releases = 1; break;
		case O_NOW: {
			int32_t date;

			if (flt_parse_date(optarg, &date) != 0) {
				fprintf(stderr, "chorus-stats: --now %s: expected a date YYYY-MM-DD\n",
					optarg);
				return 2;
			}
			op.now_day = lf_days_from_civil(date / 10000, date / 100 % 100, date % 100);
			break;
		}
		case O_MAX_AGE:
			if (parse_u32(optarg, 0, 100000, &v) != 0)
				goto bad_num;
			op.max_age = v;
			break;
		case O_OPEN_DAYS:
			if (parse_u32(optarg, 1, 100000, &v) != 0)
				goto bad_num;
			op.lim.open_days_max = v;
			break;
		case O_4XX: op.lim.visitors_4xx = 1; break;
		case 'q': op.quiet = 1; break;
		case 'V': printf("chorus-stats %s\n", VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (what && flt_add(&op.flt, what, optarg, err, sizeof(err)) != 0) {
			fprintf(stderr, "chorus-stats: %s\n", err);
			return 2;
		}
		continue;
bad_num:
		fprintf(stderr, "chorus-stats: -%c %s: not a number in range\n", c < 256 ? c : '-',
			optarg);
		return 2;
	}
	if (op.no_releases)
		op.rel.n = 0;
	if (op.lim.top > op.lim.capacity || op.lim.day_top > op.lim.day_capacity ||
	    op.lim.node_top > op.lim.node_capacity) {
		fprintf(stderr, "chorus-stats: --top/--day-top must not exceed the capacities\n");
		return 2;
	}
	if (!!op.daemon != !!op.group) {
		fprintf(stderr, "chorus-stats: live mode needs both -s DAEMON and -g GROUP\n");
		return 2;
	}
	if (op.daemon && optind < argc) {
		fprintf(stderr, "chorus-stats: live mode reads no files\n");
		return 2;
	}
	if (op.daemon && (tls[0] || tls[1] || tls[2] || strncmp(op.daemon, "tls:", 4) == 0) &&
	    chorus_set_tls(tls[0], tls[1], tls[2]) != 0) {
		fprintf(stderr, "chorus-stats: TLS: %s\n", chorus_tls_error());
		return 2;
	}
	if (!op.json && !op.csv && !op.html)
		op.text = 1;
	if (op.text && op.json && strcmp(op.json, "-") == 0)
		op.text = 0;

	struct lf_format fmt;
	if (lf_compile(&fmt, op.format, err, sizeof(err)) != 0) {
		fprintf(stderr, "chorus-stats: %s\n", err);
		return 2;
	}
	struct agg a;
	struct in_seen seen;
	struct live_streams ls = { calloc(LIVE_STREAMS, sizeof(struct batch_rx)), 0 };
	memset(&seen, 0, sizeof(seen));
	if (!ls.rx) {
		fprintf(stderr, "chorus-stats: out of memory\n");
		return 1;
	}
	char fp[2048];
	state_fingerprint(fp, sizeof(fp), &fmt, op.format, &op.flt, &op.rel, &op.lim,
			  op.node_token);
	if (op.state) {
		int rc = state_load(op.state, fp, &a, &seen, &ls, &op.lim, &op.rel, fmt.have, err,
				    sizeof(err));

		if (rc < 0) {
			fprintf(stderr, "chorus-stats: %s\n", err);
			free(ls.rx);
			return 1;
		}
	} else if (agg_init(&a, &op.lim, &op.rel, fmt.have) != 0) {
		fprintf(stderr, "chorus-stats: out of memory\n");
		free(ls.rx);
		return 1;
	}

	struct run r;
	memset(&r, 0, sizeof(r));
	r.feed.fmt = &fmt;
	r.feed.flt = &op.flt;
	r.feed.agg = &a;
	r.feed.node_token = op.node_token;
	set_bounds(&op, &r.feed);
	r.progress = !op.quiet && isatty(2);
	r.t0 = now_s();
	int rc = 0;
	uint64_t files = 0;

	if (op.daemon) {
		struct live_ctx lc = { &op, &a, fp, &ls, &r.feed };
		struct live_opts lv = {
			.daemon = op.daemon, .group = op.group, .interval_s = op.interval_s,
			.feed = &r.feed, .streams = &ls, .stop = &stop_flag,
			.ready_file = getenv("CHORUS_STATS_READY"),
		};
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		if (live_run(&lv, live_flush, &lc, err, sizeof(err)) != 0) {
			fprintf(stderr, "chorus-stats: %s\n", err);
			rc = 1;
		}
		agg_free(&a);
		in_seen_free(&seen);
		free(ls.rx);
		return rc;
	}
	struct in_opts io = {
		.node = op.node_name, .seen = op.state ? &seen : NULL, .fn = on_line, .arg = &r,
		.bytes_in = &r.bytes_in,
	};
	static char *const stdin_arg[] = { "-" };
	char *const *paths = optind < argc ? argv + optind : stdin_arg;
	int npaths = optind < argc ? argc - optind : 1;
	struct input *in = order_inputs(paths, npaths, &r.feed);
	if (!in) {
		fprintf(stderr, "chorus-stats: out of memory\n");
		rc = 1;
	}
	for (int i = 0; in && i < npaths && rc == 0; i++) {
		r.name = strcmp(in[i].path, "-") == 0 ? "stdin" : in[i].path;
		if (agg_set_horizon(&a, i + 1 < npaths ? in[i + 1].first : INT32_MAX) != 0) {
			fprintf(stderr, "\nchorus-stats: out of memory\n");
			rc = 1;
			break;
		}
		int k = in_read_path(in[i].path, &io, err, sizeof(err));
		if (k < 0) {
			fprintf(stderr, "\nchorus-stats: %s\n", err);
			/* A file that cannot be read stops the run before the
			 * state is saved: nothing is counted twice or lost. */
			rc = 1;
		}
		files++;
	}
	free(in);
	if (r.progress)
		fprintf(stderr, "\rchorus-stats: %" PRIu64 " lines in %.1f s%30s\n", a.lines,
			now_s() - r.t0, "");
	if (rc == 0 && op.state && state_save(op.state, fp, &a, &seen, &ls, err, sizeof(err)) != 0) {
		fprintf(stderr, "chorus-stats: %s\n", err);
		rc = 1;
	}
	if (rc == 0 && write_outputs(&op, &a, files) != 0)
		rc = 1;
	agg_free(&a);
	in_seen_free(&seen);
	free(ls.rx);
	return rc;
}
