/*
 * report.c - JSON (docs/stats-json.md, version 1), CSV and text outputs
 * of the aggregator (see report.h).
 */
#include "stats/report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void put_date(FILE *o, int32_t date)
{
	fprintf(o, "\"%04d-%02d-%02d\"", date / 10000, date / 100 % 100, date % 100);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	uint32_t min;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	uint32_t c = s[0] & (0x7f >> need);
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return need;
}

void rep_json_str(FILE *o, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', o);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			putc('\\', o);
			putc(c, o);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(o, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			putc(c, o);
			i++;
		} else {
			size_t l = utf8_len(p + i, n - i);

			if (l == 0) {
				fputs("\\ufffd", o);
				i++;
			} else {
				fwrite(p + i, 1, l, o);
				i += l;
			}
		}
	}
	putc('"', o);
}

static void put_str(FILE *o, const char *s)
{
	rep_json_str(o, s, strlen(s));
}

static void put_counts(FILE *o, const struct agg_counts *c)
{
	fprintf(o,
		"\"requests\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"visitors\":%" PRIu64
		",\"pages\":%" PRIu64 ",\"static\":%" PRIu64 ",\"s2xx\":%" PRIu64
		",\"s3xx\":%" PRIu64 ",\"s4xx\":%" PRIu64 ",\"s5xx\":%" PRIu64
		",\"sother\":%" PRIu64 ",\"not_found\":%" PRIu64,
		c->requests, c->bytes, c->visitors, c->pages, c->statics, c->s2, c->s3, c->s4,
		c->s5, c->sother, c->not_found);
}

/* The part of a key before the n-th separator sep (0-based field). */
static void key_field(const char *k, size_t kl, char sep, int field, const char **s, size_t *n)
{
	const char *e = k + kl;

	for (int i = 0; i < field; i++) {
		const char *q = memchr(k, sep, (size_t)(e - k));

		if (!q) {
			*s = e;
			*n = 0;
			return;
		}
		k = q + 1;
	}
	const char *q = memchr(k, sep, (size_t)(e - k));
	*s = k;
	*n = q ? (size_t)(q - k) : (size_t)(e - k);
}

static void put_row(FILE *o, int t, const struct tab *tb, const struct tab_ent *e)
{
	const char *k = tab_key(tb, e);
	const char *s;
	size_t n;

	fputs("{\"key\":", o);
	if (t == T_NFREF) {
		key_field(k, e->klen, '\t', 0, &s, &n);
		rep_json_str(o, s, n);
		fputs(",\"referrer\":", o);
		key_field(k, e->klen, '\t', 1, &s, &n);
		rep_json_str(o, s, n);
	} else if (t == T_RELEASES) {
		const char *r, *i, *kd;
		size_t rn, in, kn;

		key_field(k, e->klen, '\x1f', 0, &r, &rn);
		key_field(k, e->klen, '\x1f', 1, &i, &in);
		key_field(k, e->klen, '\x1f', 2, &kd, &kn);
		/* The key shown is "<release> <image>". */
		char buf[1100];
		int bl = snprintf(buf, sizeof(buf), "%.*s %.*s", (int)rn, r, (int)in, i);
		rep_json_str(o, buf, bl > 0 ? (size_t)bl : 0);
		fputs(",\"release\":", o);
		rep_json_str(o, r, rn);
		fputs(",\"image\":", o);
		rep_json_str(o, i, in);
		fputs(",\"kind\":", o);
		rep_json_str(o, kd, kn);
		fprintf(o, ",\"ok\":%" PRIu64, e->ok);
	} else {
		rep_json_str(o, k, e->klen);
	}
	fprintf(o, ",\"requests\":%" PRIu64 ",\"bytes\":%" PRIu64, e->req, e->bytes);
	if (e->err)
		fprintf(o, ",\"error\":%" PRIu64, e->err);
	putc('}', o);
}

/* Rows (up to n) and "other" of a table. */
static int put_rows(FILE *o, int t, const struct tab *tb, uint32_t n)
{
	uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	uint64_t req = 0, bytes = 0;

	if (!idx)
		return -1;
	uint32_t k = tab_top(tb, n, idx);
	fputs("\"rows\":[", o);
	for (uint32_t i = 0; i < k; i++) {
		const struct tab_ent *e = &tb->ent[idx[i]];

		if (i)
			putc(',', o);
		put_row(o, t, tb, e);
		req += e->req;
		bytes += e->bytes;
	}
	fprintf(o, "],\"other\":{\"requests\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
		tb->req - req, tb->bytes - bytes);
	free(idx);
	return 0;
}

static int table_present(const struct agg *a, int t)
{
	unsigned ref = 1u << LF_REFERER, ua = 1u << LF_AGENT;

	switch (t) {
	case T_NFREF: case T_REFERRERS: case T_SITES:
		return (a->have & ref) != 0 || t == T_NFREF;
	case T_BROWSERS: case T_OS: case T_TOOLS: case T_CRAWLERS: case T_CLASSES: case T_AGENTS:
		return (a->have & ua) != 0;
	case T_RELEASES:
		return a->rel.n > 0;
	}
	return 1;
}

static void put_strlist(FILE *o, const char (*v)[FLT_STR_MAX], int n)
{
	putc('[', o);
	for (int i = 0; i < n; i++) {
		if (i)
			putc(',', o);
		put_str(o, v[i]);
	}
	putc(']', o);
}

int rep_json(FILE *o, const struct agg *a, const struct rep_meta *m)
{
	const struct flt *f = m->flt;

	fprintf(o, "{\"schema\":\"chorus-stats\",\"version\":%d,\"generator\":", REP_SCHEMA_VERSION);
	put_str(o, REP_GENERATOR);
	fputs(",\"generated\":", o);
	put_str(o, m->generated);
	fputs(",\n\"title\":", o);
	put_str(o, m->title);
	fputs(",\n\"filters\":{\"from\":", o);
	if (f->from)
		put_date(o, f->from);
	else
		fputs("null", o);
	fputs(",\"to\":", o);
	if (f->to)
		put_date(o, f->to);
	else
		fputs("null", o);
	fputs(",\"node\":", o);
	put_strlist(o, f->node, f->nnode);
	fputs(",\"status\":[", o);
	for (int i = 0; i < f->nstatus; i++)
		fprintf(o, "%s\"%s\"", i ? "," : "", f->status[i]);
	fputs("],\"path_prefix\":", o);
	put_strlist(o, f->prefix, f->nprefix);
	fputs("},\n", o);

	/* method */
	char stmt[600];
	const char *def = a->lim.visitors_4xx ?
		"distinct (address, day, user agent) of all responses, as GoAccess counts them "
		"with --4xx-to-unique-count" :
		"distinct (address, day, user agent) of responses other than 4xx, as GoAccess "
		"counts them by default";
	if (a->agent_overflow)
		snprintf(stmt, sizeof(stmt),
			 "Visitors are %s; %" PRIu64
			 " lines had agents beyond the exact limit, identified by a 31-bit hash "
			 "(two such agents of one address and day may count as one).",
			 def, a->agent_overflow);
	else if (a->late_lines)
		snprintf(stmt, sizeof(stmt),
			 "Visitors are exact: %s; %" PRIu64 " lines came after their day was "
			 "closed (more than %u days behind the input, or beyond %u open days) "
			 "and add no visitors.",
			 def, a->late_lines, a->lim.window_days, a->lim.open_days_max);
	else
		snprintf(stmt, sizeof(stmt), "Visitors are exact: %s.", def);
	fprintf(o, "\"method\":{\"visitors\":{\"method\":\"exact\",\"window_days\":%u,"
		   "\"open_days_max\":%u,\"count_4xx\":%s,"
		   "\"late_lines\":%" PRIu64 ",\"agent_overflow\":%" PRIu64
		   ",\"host_hashed\":%" PRIu64 ",\"statement\":",
		a->lim.window_days, a->lim.open_days_max, a->lim.visitors_4xx ? "true" : "false",
		a->late_lines, a->agent_overflow, a->host_hashed);
	put_str(o, stmt);
	uint64_t maxerr = 0;
	for (int t = 0; t < T__COUNT; t++)
		if (a->tabs[t].floor > maxerr)
			maxerr = a->tabs[t].floor;
	if (maxerr)
		snprintf(stmt, sizeof(stmt),
			 "Tables keep at most %u keys (%u per day); rarer keys were dropped, so a "
			 "row's count may be low by up to its error (at most %" PRIu64
			 "); totals are exact.",
			 a->lim.capacity, a->lim.day_capacity, maxerr);
	else
		snprintf(stmt, sizeof(stmt), "Every table count is exact; tables show the top %u "
					     "rows (%u per day).", a->lim.top, a->lim.day_top);
	fprintf(o, "},\"tables\":{\"top\":%u,\"day_top\":%u,\"node_top\":%u,\"capacity\":%u,"
		   "\"day_capacity\":%u,\"statement\":",
		a->lim.top, a->lim.day_top, a->lim.node_top, a->lim.capacity, a->lim.day_capacity);
	put_str(o, stmt);
	fputs("}},\n", o);
	fprintf(o, "\"inputs\":{\"files\":%" PRIu64 ",\"lines\":%" PRIu64 ",\"bytes\":%" PRIu64
		   ",\"filtered_out\":%" PRIu64 ",\"state\":%s},\n",
		m->files, a->lines, a->bytes_read, a->filtered_out, m->state ? "true" : "false");
	fputs("\"range\":{\"first\":", o);
	if (a->ndays) {
		put_date(o, a->days[0]->date);
		fputs(",\"last\":", o);
		put_date(o, a->days[a->ndays - 1]->date);
	} else {
		fputs("null,\"last\":null", o);
	}
	fputs("},\n\"totals\":{", o);
	put_counts(o, &a->tot);
	fprintf(o, ",\"hosts\":%" PRIu64 ",\"hosts_exact\":%s},\n", (uint64_t)a->hosts.n,
		a->hosts_over ? "false" : "true");

	fputs("\"days\":[", o);
	for (uint32_t i = 0; i < a->ndays; i++) {
		const struct agg_day *d = a->days[i];

		fputs(i ? ",\n{\"date\":" : "\n{\"date\":", o);
		put_date(o, d->date);
		putc(',', o);
		put_counts(o, &d->c);
		fputs(",\"hour_requests\":[", o);
		for (int h = 0; h < 24; h++)
			fprintf(o, "%s%" PRIu64, h ? "," : "", d->hreq[h]);
		fputs("],\"hour_bytes\":[", o);
		for (int h = 0; h < 24; h++)
			fprintf(o, "%s%" PRIu64, h ? "," : "", d->hbytes[h]);
		fputs("],\"statuses\":{", o);
		/* Ascending by code. */
		int first = 1;
		for (int s = 0; s < 1000; s++) {
			if (!d->status_req[s])
				continue;
			fprintf(o, "%s\"%d\":%" PRIu64, first ? "" : ",", s, d->status_req[s]);
			first = 0;
		}
		fputs("}}", o);
	}
	fputs("],\n\"hours\":[", o);
	for (int h = 0; h < 24; h++)
		fprintf(o, "%s{\"hour\":%d,\"requests\":%" PRIu64 ",\"bytes\":%" PRIu64
			   ",\"visitors\":%" PRIu64 "}",
			h ? "," : "", h, a->hours_req[h], a->hours_bytes[h], a->hours_vis[h]);
	fputs("],\n\"nodes\":[", o);
	/* Nodes by name. */
	uint32_t *ord = malloc((a->nnodes ? a->nnodes : 1) * sizeof(*ord));
	if (!ord)
		return -1;
	for (uint32_t i = 0; i < a->nnodes; i++)
		ord[i] = i;
	for (uint32_t i = 1; i < a->nnodes; i++)
		for (uint32_t j = i; j > 0 && strcmp(a->nodes[ord[j - 1]].name,
						     a->nodes[ord[j]].name) > 0; j--) {
			uint32_t x = ord[j];

			ord[j] = ord[j - 1];
			ord[j - 1] = x;
		}
	for (uint32_t i = 0; i < a->nnodes; i++) {
		const struct agg_node *nd = &a->nodes[ord[i]];

		fputs(i ? ",\n{\"node\":" : "\n{\"node\":", o);
		put_str(o, nd->name);
		putc(',', o);
		put_counts(o, &nd->c);
		fputs(",\"days\":[", o);
		for (uint32_t k = 0; k < nd->ndays; k++) {
			fputs(k ? ",{\"date\":" : "{\"date\":", o);
			put_date(o, lf_date_of_day(nd->days[k].day));
			putc(',', o);
			put_counts(o, &nd->days[k].c);
			putc('}', o);
		}
		fputs("],\"top_paths\":", o);
		{
			uint32_t n = a->lim.node_top;
			uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));

			if (!idx) {
				free(ord);
				return -1;
			}
			uint32_t k = tab_top(&nd->paths, n, idx);
			putc('[', o);
			for (uint32_t j = 0; j < k; j++) {
				if (j)
					putc(',', o);
				put_row(o, T_PATHS, &nd->paths, &nd->paths.ent[idx[j]]);
			}
			putc(']', o);
			free(idx);
		}
		putc('}', o);
	}
	free(ord);
	fputs("],\n\"statuses\":[", o);
	int first = 1;
	for (int s = 0; s < 1000; s++) {
		if (!a->status_req[s])
			continue;
		fprintf(o, "%s{\"status\":%d,\"requests\":%" PRIu64 ",\"bytes\":%" PRIu64 "}",
			first ? "" : ",", s, a->status_req[s], a->status_bytes[s]);
		first = 0;
	}
	fputs("],\n\"tables\":{", o);
	first = 1;
	for (int t = 0; t < T__COUNT; t++) {
		const struct tab *tb = &a->tabs[t];

		if (!table_present(a, t))
			continue;
		fputs(first ? "\n" : ",\n", o);
		first = 0;
		put_str(o, agg_table_name[t]);
		fputs(":{\"title\":", o);
		put_str(o, agg_table_title[t]);
		fputs(",\"key\":", o);
		put_str(o, agg_table_key[t]);
		fprintf(o, ",\"distinct\":%" PRIu64 ",\"max_error\":%" PRIu64 ",", tb->distinct,
			tb->floor);
		if (put_rows(o, t, tb, a->lim.top) != 0)
			return -1;
		fputs(",\"days\":[", o);
		int fd = 1;
		for (uint32_t i = 0; i < a->ndays; i++) {
			const struct tab *dt = &a->days[i]->tabs[t];

			if (dt->n == 0 && dt->req == 0)
				continue;
			fputs(fd ? "\n{\"date\":" : ",\n{\"date\":", o);
			fd = 0;
			put_date(o, a->days[i]->date);
			putc(',', o);
			if (put_rows(o, t, dt, a->lim.day_top) != 0)
				return -1;
			putc('}', o);
		}
		fputs("]}", o);
	}
	fputs("},\n\"malformed\":{", o);
	fprintf(o, "\"lines\":%" PRIu64 ",\"reasons\":{", a->malformed);
	first = 1;
	for (int r = 1; r < LF_R__COUNT; r++) {
		if (!a->reasons[r])
			continue;
		fprintf(o, "%s\"%s\":%" PRIu64, first ? "" : ",", lf_reason_name(r), a->reasons[r]);
		first = 0;
	}
	fputs("},\"examples\":[", o);
	for (uint32_t i = 0; i < a->nex; i++) {
		fputs(i ? ",\n{\"source\":" : "\n{\"source\":", o);
		put_str(o, a->ex[i].source);
		fputs(",\"reason\":", o);
		put_str(o, lf_reason_name(a->ex[i].reason));
		fputs(",\"line\":", o);
		put_str(o, a->ex[i].line);
		putc('}', o);
	}
	fputs("]}}\n", o);
	return ferror(o) ? -1 : 0;
}

/* ---- CSV ---- */

static void csv_str(FILE *o, const char *s, size_t n)
{
	putc('"', o);
	/* A cell a spreadsheet would take for a formula starts with a
	 * quote (a lone "-" is left as it is). */
	if (n && strchr("=+-@\t\r", s[0]) && !(n == 1 && s[0] == '-'))
		putc('\'', o);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			putc('"', o);
		putc(s[i] == '\n' || s[i] == '\r' ? ' ' : s[i], o);
	}
	putc('"', o);
}

static const char counts_hdr[] =
	"requests,bytes,visitors,pages,static,s2xx,s3xx,s4xx,s5xx,sother,not_found";

static void csv_counts(FILE *o, const struct agg_counts *c)
{
	fprintf(o, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		   ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		c->requests, c->bytes, c->visitors, c->pages, c->statics, c->s2, c->s3, c->s4,
		c->s5, c->sother, c->not_found);
}

static FILE *csv_open(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s.csv", dir, name);
	return fopen(path, "w");
}

static int csv_close(FILE *o)
{
	int bad = ferror(o);

	return fclose(o) != 0 || bad ? -1 : 0;
}

static void csv_date(FILE *o, int32_t date)
{
	fprintf(o, "%04d-%02d-%02d", date / 10000, date / 100 % 100, date % 100);
}

int rep_csv(const char *dir, const struct agg *a)
{
	FILE *o;

	if (!(o = csv_open(dir, "days")))
		return -1;
	fprintf(o, "date,%s\n", counts_hdr);
	for (uint32_t i = 0; i < a->ndays; i++) {
		csv_date(o, a->days[i]->date);
		putc(',', o);
		csv_counts(o, &a->days[i]->c);
		putc('\n', o);
	}
	if (csv_close(o) != 0 || !(o = csv_open(dir, "hours")))
		return -1;
	fputs("hour,requests,bytes,visitors\n", o);
	for (int h = 0; h < 24; h++)
		fprintf(o, "%d,%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", h, a->hours_req[h],
			a->hours_bytes[h], a->hours_vis[h]);
	if (csv_close(o) != 0 || !(o = csv_open(dir, "nodes")))
		return -1;
	fprintf(o, "node,%s\n", counts_hdr);
	for (uint32_t i = 0; i < a->nnodes; i++) {
		csv_str(o, a->nodes[i].name, strlen(a->nodes[i].name));
		putc(',', o);
		csv_counts(o, &a->nodes[i].c);
		putc('\n', o);
	}
	if (csv_close(o) != 0 || !(o = csv_open(dir, "node_days")))
		return -1;
	fprintf(o, "node,date,%s\n", counts_hdr);
	for (uint32_t i = 0; i < a->nnodes; i++)
		for (uint32_t k = 0; k < a->nodes[i].ndays; k++) {
			csv_str(o, a->nodes[i].name, strlen(a->nodes[i].name));
			putc(',', o);
			csv_date(o, lf_date_of_day(a->nodes[i].days[k].day));
			putc(',', o);
			csv_counts(o, &a->nodes[i].days[k].c);
			putc('\n', o);
		}
	if (csv_close(o) != 0 || !(o = csv_open(dir, "statuses")))
		return -1;
	fputs("status,requests,bytes\n", o);
	for (int s = 0; s < 1000; s++)
		if (a->status_req[s])
			fprintf(o, "%d,%" PRIu64 ",%" PRIu64 "\n", s, a->status_req[s],
				a->status_bytes[s]);
	if (csv_close(o) != 0)
		return -1;
	for (int t = 0; t < T__COUNT; t++) {
		const struct tab *tb = &a->tabs[t];

		if (!table_present(a, t))
			continue;
		if (!(o = csv_open(dir, agg_table_name[t])))
			return -1;
		fputs("key,requests,bytes,error\n", o);
		uint32_t *idx = malloc((a->lim.top ? a->lim.top : 1) * sizeof(*idx));
		if (!idx) {
			fclose(o);
			errno = ENOMEM;
			return -1;
		}
		uint32_t k = tab_top(tb, a->lim.top, idx);
		for (uint32_t i = 0; i < k; i++) {
			const struct tab_ent *e = &tb->ent[idx[i]];
			char key[TAB_KEY_MAX];

			memcpy(key, tab_key(tb, e), e->klen);
			for (uint32_t j = 0; j < e->klen; j++)
				if (key[j] == '\x1f')
					key[j] = ' ';
			csv_str(o, key, e->klen);
			fprintf(o, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", e->req, e->bytes, e->err);
		}
		free(idx);
		if (csv_close(o) != 0)
			return -1;
	}
	return 0;
}

/* ---- text ---- */

static void human(char *buf, size_t cap, uint64_t b)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void text_table(FILE *o, const struct agg *a, int t, uint32_t n)
{
	const struct tab *tb = &a->tabs[t];
	uint32_t idx[20];

	if (!table_present(a, t) || tb->n == 0)
		return;
	if (n > 20)
		n = 20;
	uint32_t k = tab_top(tb, n, idx);
	fprintf(o, "\n%s\n", agg_table_title[t]);
	for (uint32_t i = 0; i < k; i++) {
		const struct tab_ent *e = &tb->ent[idx[i]];
		char key[81], hb[32];
		size_t kl = e->klen < 80 ? e->klen : 80;

		memcpy(key, tab_key(tb, e), kl);
		key[kl] = 0;
		for (size_t j = 0; j < kl; j++)
			if (key[j] == '\x1f' || key[j] == '\t' || (unsigned char)key[j] < 0x20)
				key[j] = ' ';
		human(hb, sizeof(hb), e->bytes);
		fprintf(o, "  %12" PRIu64 "  %10s  %s\n", e->req, hb, key);
	}
}

int rep_text(FILE *o, const struct agg *a, const struct rep_meta *m)
{
	char hb[32];

	fprintf(o, "%s\n", m->title);
	if (a->ndays)
		fprintf(o, "%04d-%02d-%02d .. %04d-%02d-%02d, %u days\n", a->days[0]->date / 10000,
			a->days[0]->date / 100 % 100, a->days[0]->date % 100,
			a->days[a->ndays - 1]->date / 10000, a->days[a->ndays - 1]->date / 100 % 100,
			a->days[a->ndays - 1]->date % 100, a->ndays);
	human(hb, sizeof(hb), a->tot.bytes);
	fprintf(o, "\n  requests  %" PRIu64 "\n  visitors  %" PRIu64 "\n  bytes     %s (%" PRIu64
		   ")\n  hosts     %zu\n  2xx %" PRIu64 "  3xx %" PRIu64 "  4xx %" PRIu64
		   "  5xx %" PRIu64 "  404 %" PRIu64 "\n  lines     %" PRIu64
		   " read, %" PRIu64 " malformed, %" PRIu64 " filtered out\n",
		a->tot.requests, a->tot.visitors, hb, a->tot.bytes, a->hosts.n, a->tot.s2, a->tot.s3,
		a->tot.s4, a->tot.s5, a->tot.not_found, a->lines, a->malformed, a->filtered_out);
	if (a->malformed) {
		fputs("  malformed:", o);
		for (int r = 1; r < LF_R__COUNT; r++)
			if (a->reasons[r])
				fprintf(o, " %s %" PRIu64, lf_reason_name(r), a->reasons[r]);
		putc('\n', o);
		for (uint32_t i = 0; i < a->nex && i < 3; i++)
			fprintf(o, "    %s (%s): %.100s\n", a->ex[i].source,
				lf_reason_name(a->ex[i].reason), a->ex[i].line);
	}
	if (a->nnodes) {
		fputs("\nNodes\n", o);
		for (uint32_t i = 0; i < a->nnodes; i++) {
			human(hb, sizeof(hb), a->nodes[i].c.bytes);
			fprintf(o, "  %12" PRIu64 "  %10s  %s\n", a->nodes[i].c.requests, hb,
				a->nodes[i].name);
		}
	}
	text_table(o, a, T_RELEASES, 10);
	text_table(o, a, T_PATHS, 10);
	text_table(o, a, T_NOTFOUND, 5);
	text_table(o, a, T_TOOLS, 10);
	text_table(o, a, T_BROWSERS, 5);
	text_table(o, a, T_CRAWLERS, 5);
	return ferror(o) ? -1 : 0;
}
