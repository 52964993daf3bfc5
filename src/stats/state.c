/*
 * state.c - the state file (see state.h): a plain sequential encoding of
 * the aggregator, read back with a bounds-checked cursor that never
 * trusts a length.
 */
#include "stats/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "proto/batch.h"

static const char magic[8] = { 'C', 'H', 'S', 'T', 'A', 'T', 'E', '1' };

void state_fingerprint(char *buf, size_t cap, const struct lf_format *fmt, const char *format,
		       const struct flt *flt, const struct rl_set *rel,
		       const struct agg_limits *lim, int node_token)
{
	size_t o = 0;

	(void)fmt;
#define FP(...) do { int n_ = snprintf(buf + o, o < cap ? cap - o : 0, __VA_ARGS__); \
		     if (n_ > 0) o += (size_t)n_; } while (0)
	FP("format=%s;token=%d;from=%d;to=%d;", format, node_token, flt->from, flt->to);
	for (int i = 0; i < flt->nnode; i++)
		FP("node=%s;", flt->node[i]);
	for (int i = 0; i < flt->nstatus; i++)
		FP("status=%s;", flt->status[i]);
	for (int i = 0; i < flt->nprefix; i++)
		FP("prefix=%s;", flt->prefix[i]);
	for (int i = 0; i < rel->n; i++)
		FP("release=%s=%s;", rel->p[i].kind, rel->p[i].pat);
	FP("cap=%u,%u,%u;window=%u;agents=%u;hosts=%u;nodes=%u;vis4xx=%d", lim->capacity,
	   lim->day_capacity, lim->node_capacity, lim->window_days, lim->agents_max,
	   lim->hosts_max, lim->nodes_max, lim->visitors_4xx);
#undef FP
	if (o >= cap && cap)
		buf[cap - 1] = 0;
}

/* ---- writing ---- */

static void w_u64(FILE *o, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	fwrite(b, 1, 8, o);
}

static void w_bytes(FILE *o, const void *p, size_t n)
{
	w_u64(o, n);
	fwrite(p, 1, n, o);
}

static void w_counts(FILE *o, const struct agg_counts *c)
{
	const uint64_t v[11] = { c->requests, c->bytes, c->visitors, c->pages, c->statics,
				 c->s2, c->s3, c->s4, c->s5, c->sother, c->not_found };

	for (int i = 0; i < 11; i++)
		w_u64(o, v[i]);
}

static void w_tab(FILE *o, const struct tab *t)
{
	w_u64(o, t->floor);
	w_u64(o, t->distinct);
	w_u64(o, t->req);
	w_u64(o, t->bytes);
	w_u64(o, t->n);
	for (uint32_t i = 0; i < t->n; i++) {
		const struct tab_ent *e = &t->ent[i];

		w_bytes(o, tab_key(t, e), e->klen);
		w_u64(o, e->req);
		w_u64(o, e->bytes);
		w_u64(o, e->ok);
		w_u64(o, e->err);
	}
}

/* A visitor or address as the state file holds it (28 bytes, host byte
 * order): a visitor is (address, day, agent id, node), and again with
 * node ST_NODE_ALL for its first entry of the day; an address is
 * (address, 0, 0, 0). */
struct st_vkey {
	uint8_t ip[16];
	int32_t day;
	uint32_t ua;
	uint32_t node;
};
#define ST_NODE_ALL 0xffffffffu

struct vis_w {
	FILE *o;
	int32_t day;
	uint64_t n;
};

static void count_vis(const uint8_t ip[16], const struct vs_ent *e, void *arg)
{
	struct vis_w *w = arg;

	(void)ip;
	w->n += (e->flags & VS_FIRST) ? 2 : 1;
}

static void w_vis(const uint8_t ip[16], const struct vs_ent *e, void *arg)
{
	struct vis_w *w = arg;
	struct st_vkey k;

	memset(&k, 0, sizeof(k));
	memcpy(k.ip, ip, 16);
	k.day = w->day;
	k.ua = e->ua;
	k.node = e->node;
	fwrite(&k, 1, sizeof(k), w->o);
	if (e->flags & VS_FIRST) {
		k.node = ST_NODE_ALL;
		fwrite(&k, 1, sizeof(k), w->o);
	}
}

static void w_visitors(FILE *o, const struct agg *a)
{
	struct vis_w w = { o, 0, 0 };

	for (uint32_t i = 0; i < a->ndays; i++)
		vs_each(&a->days[i]->vis, count_vis, &w);
	w_u64(o, w.n);
	for (uint32_t i = 0; i < a->ndays; i++) {
		w.day = a->days[i]->day;
		vs_each(&a->days[i]->vis, w_vis, &w);
	}
}

static void w_host(const uint8_t ip[16], void *arg)
{
	struct st_vkey k;

	memset(&k, 0, sizeof(k));
	memcpy(k.ip, ip, 16);
	fwrite(&k, 1, sizeof(k), arg);
}

static void w_hosts(FILE *o, const struct hset *s)
{
	w_u64(o, s->n);
	hs_each(s, w_host, o);
}

int state_save(const char *path, const char *fp, const struct agg *a,
	       const struct in_seen *seen, const struct live_streams *ls, char *err,
	       size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	char tmp[PATH_MAX];
	int fd = -1, ret = -1;

	struct stat sb;

	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "state %s: not a regular file", path);
		if (o)
			fclose(o);
		free(buf);
		return -1;
	}
	if (!o)
		goto nomem;
	fwrite(magic, 1, 8, o);
	w_u64(o, STATE_VERSION);
	w_bytes(o, fp, strlen(fp));
	w_counts(o, &a->tot);
	for (int h = 0; h < 24; h++) {
		w_u64(o, a->hours_req[h]);
		w_u64(o, a->hours_bytes[h]);
		w_u64(o, a->hours_vis[h]);
	}
	for (int s = 0; s < 1000; s++) {
		w_u64(o, a->status_req[s]);
		w_u64(o, a->status_bytes[s]);
	}
	const uint64_t sc[] = { (uint64_t)(int64_t)a->newest_day, a->hosts_over, a->host_hashed,
				a->agent_overflow, a->late_lines, a->lines, a->bytes_read,
				a->filtered_out, a->nodes_over, a->malformed };
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++)
		w_u64(o, sc[i]);
	for (int r = 0; r < LF_R__COUNT; r++)
		w_u64(o, a->reasons[r]);
	w_u64(o, a->nex);
	for (uint32_t i = 0; i < a->nex; i++) {
		w_bytes(o, a->ex[i].source, strlen(a->ex[i].source));
		w_u64(o, (uint64_t)a->ex[i].reason);
		w_bytes(o, a->ex[i].line, strlen(a->ex[i].line));
	}
	w_u64(o, a->ndays);
	for (uint32_t i = 0; i < a->ndays; i++) {
		const struct agg_day *d = a->days[i];

		w_u64(o, (uint64_t)(int64_t)d->day);
		w_u64(o, d->closed);
		w_counts(o, &d->c);
		for (int h = 0; h < 24; h++) {
			w_u64(o, d->hreq[h]);
			w_u64(o, d->hbytes[h]);
		}
		for (int k = 0; k < 1000; k++)
			w_u64(o, d->status_req[k]);
		for (int t = 0; t < T__COUNT; t++)
			w_tab(o, &d->tabs[t]);
	}
	w_u64(o, a->nnodes);
	for (uint32_t i = 0; i < a->nnodes; i++) {
		const struct agg_node *n = &a->nodes[i];

		w_bytes(o, n->name, strlen(n->name));
		w_counts(o, &n->c);
		w_u64(o, n->ndays);
		for (uint32_t k = 0; k < n->ndays; k++) {
			w_u64(o, (uint64_t)(int64_t)n->days[k].day);
			w_counts(o, &n->days[k].c);
		}
		w_tab(o, &n->paths);
	}
	for (int t = 0; t < T__COUNT; t++)
		w_tab(o, &a->tabs[t]);
	w_tab(o, &a->agents);
	w_visitors(o, a);
	w_hosts(o, &a->hosts);
	w_u64(o, seen ? seen->n : 0);
	for (uint32_t i = 0; seen && i < seen->n; i++) {
		const struct in_file *f = &seen->f[i];

		w_bytes(o, f->node, strlen(f->node));
		w_u64(o, f->ident_len);
		w_u64(o, f->ident_hash);
		w_u64(o, f->consumed);
		w_u64(o, f->lines);
		w_bytes(o, f->path, strlen(f->path));
	}
	w_u64(o, ls ? ls->n : 0);
	for (uint32_t i = 0; ls && i < ls->n; i++) {
		const struct batch_rx *x = &ls->rx[i];
		const uint64_t v[9] = { x->stream_id, x->hwm, x->lost, x->dup_lines, x->gaps,
					x->dropped, x->cut, x->lost_seen, x->unexplained };

		for (int k = 0; k < 9; k++)
			w_u64(o, v[k]);
	}
	if (fclose(o) != 0) {
		o = NULL;
		goto nomem;
	}
	o = NULL;
	uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)buf, (uInt)len);
	uint8_t cb[4] = { (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
			  (uint8_t)(crc >> 24) };
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto ioerr;
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto ioerr;
		off += (size_t)n;
	}
	if (write(fd, cb, 4) != 4 || fsync(fd) != 0)
		goto ioerr;
	if (close(fd) != 0) {
		fd = -1;
		goto ioerr;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto ioerr;
	/* The rename itself must reach the disk. */
	{
		char dir[PATH_MAX];
		const char *sl = strrchr(path, '/');

		snprintf(dir, sizeof(dir), "%.*s", sl ? (int)(sl - path) : 1, sl ? path : ".");
		int dfd = open(sl == path ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	ret = 0;
	goto out;
nomem:
	snprintf(err, errlen, "state %s: out of memory", path);
	goto out;
ioerr:
	snprintf(err, errlen, "state %s: %s", tmp, strerror(errno));
	unlink(tmp);
out:
	if (o)
		fclose(o);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* ---- reading ---- */

struct cur {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t r_u64(struct cur *c)
{
	uint64_t v = 0;

	if (c->end - c->p < 8) {
		c->bad = 1;
		c->p = c->end;
		return 0;
	}
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += 8;
	return v;
}

/* A length-prefixed string of at most max bytes; points into the file. */
static const char *r_bytes(struct cur *c, size_t max, size_t *n)
{
	uint64_t l = r_u64(c);

	if (c->bad || l > max || (uint64_t)(c->end - c->p) < l) {
		c->bad = 1;
		*n = 0;
		return "";
	}
	const char *s = (const char *)c->p;
	c->p += l;
	*n = (size_t)l;
	return s;
}

static void r_str(struct cur *c, char *out, size_t cap)
{
	size_t n;
	const char *s = r_bytes(c, cap - 1, &n);

	memcpy(out, s, n);
	out[n] = 0;
}

static void r_counts(struct cur *c, struct agg_counts *k)
{
	uint64_t *v[11] = { &k->requests, &k->bytes, &k->visitors, &k->pages, &k->statics,
			    &k->s2, &k->s3, &k->s4, &k->s5, &k->sother, &k->not_found };

	for (int i = 0; i < 11; i++)
		*v[i] = r_u64(c);
}

static int r_tab(struct cur *c, struct tab *t)
{
	uint64_t floor = r_u64(c), distinct = r_u64(c), req = r_u64(c), bytes = r_u64(c);
	uint64_t n = r_u64(c);

	if (c->bad || n > t->cap) {
		c->bad = 1;
		return -1;
	}
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		size_t kl;
		const char *k = r_bytes(c, TAB_KEY_MAX, &kl);
		uint64_t er = r_u64(c), eb = r_u64(c), eo = r_u64(c), ee = r_u64(c);

		if (!c->bad && tab_add_ent(t, k, kl, er, eb, eo, ee) != 0)
			return -1;
	}
	t->floor = floor;
	t->distinct = distinct;
	t->req = req;
	t->bytes = bytes;
	return c->bad ? -1 : 0;
}

/* Reads a count and that many keys, calling fn on each (0 or -1). */
static int r_keys(struct cur *c, struct agg *a, int (*fn)(struct agg *a, const struct st_vkey *k))
{
	uint64_t n = r_u64(c);

	if (c->bad || n > (uint64_t)(c->end - c->p) / sizeof(struct st_vkey)) {
		c->bad = 1;
		return -1;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct st_vkey k;

		memcpy(&k, c->p, sizeof(k));
		c->p += sizeof(k);
		if (fn(a, &k) != 0)
			return -1;
	}
	return 0;
}

/* A visitor goes into the set of its (open) day; the entries of node
 * ST_NODE_ALL follow from the others. */
static int load_visitor(struct agg *a, const struct st_vkey *k)
{
	if (k->node == ST_NODE_ALL)
		return 0;
	struct agg_day *d = agg_day_get(a, k->day, 0);
	if (!d || k->node >= a->nnodes)
		return -1;
	return !d->closed && vs_visit(&d->vis, k->ip, k->ua, k->node) < 0 ? -1 : 0;
}

static int load_host(struct agg *a, const struct st_vkey *k)
{
	return hs_add(&a->hosts, k->ip) < 0 ? -1 : 0;
}

static int load_body(struct cur *c, struct agg *a, struct in_seen *seen,
		     struct live_streams *ls)
{
	r_counts(c, &a->tot);
	for (int h = 0; h < 24; h++) {
		a->hours_req[h] = r_u64(c);
		a->hours_bytes[h] = r_u64(c);
		a->hours_vis[h] = r_u64(c);
	}
	for (int s = 0; s < 1000; s++) {
		a->status_req[s] = r_u64(c);
		a->status_bytes[s] = r_u64(c);
	}
	a->newest_day = (int32_t)(int64_t)r_u64(c);
	a->hosts_over = r_u64(c);
	a->host_hashed = r_u64(c);
	a->agent_overflow = r_u64(c);
	a->late_lines = r_u64(c);
	a->lines = r_u64(c);
	a->bytes_read = r_u64(c);
	a->filtered_out = r_u64(c);
	a->nodes_over = r_u64(c);
	a->malformed = r_u64(c);
	for (int r = 0; r < LF_R__COUNT; r++)
		a->reasons[r] = r_u64(c);
	uint64_t nex = r_u64(c);
	if (nex > AGG_EXAMPLES)
		return -1;
	for (uint64_t i = 0; i < nex && !c->bad; i++) {
		struct agg_example *e = &a->ex[a->nex++];

		r_str(c, e->source, sizeof(e->source));
		e->reason = (int)r_u64(c);
		r_str(c, e->line, sizeof(e->line));
	}
	uint64_t nd = r_u64(c);
	if (c->bad || nd > 1000000)
		return -1;
	for (uint64_t i = 0; i < nd && !c->bad; i++) {
		int64_t day = (int64_t)r_u64(c);

		if (day < -1000000 || day > 10000000)
			return -1;
		struct agg_day *d = agg_day_get(a, (int32_t)day, 1);
		if (!d)
			return -1;
		d->closed = r_u64(c) != 0;
		if (d->closed)
			a->nopen--;
		r_counts(c, &d->c);
		for (int h = 0; h < 24; h++) {
			d->hreq[h] = r_u64(c);
			d->hbytes[h] = r_u64(c);
		}
		for (int k = 0; k < 1000; k++)
			d->status_req[k] = r_u64(c);
		for (int t = 0; t < T__COUNT; t++)
			if (r_tab(c, &d->tabs[t]) != 0)
				return -1;
	}
	uint64_t nn = r_u64(c);
	if (c->bad || nn > a->lim.nodes_max)
		return -1;
	for (uint64_t i = 0; i < nn && !c->bad; i++) {
		char name[65];

		r_str(c, name, sizeof(name));
		struct agg_node *n = agg_node_get(a, name, strlen(name), 1);
		if (!n || c->bad)
			return -1;
		r_counts(c, &n->c);
		uint64_t k = r_u64(c);
		if (c->bad || k > 10000000)
			return -1;
		for (uint64_t j = 0; j < k && !c->bad; j++) {
			int64_t day = (int64_t)r_u64(c);
			struct agg_nday *x = agg_nday_get(n, (int32_t)day, 1);

			if (!x)
				return -1;
			r_counts(c, &x->c);
		}
		if (r_tab(c, &n->paths) != 0)
			return -1;
	}
	for (int t = 0; t < T__COUNT; t++)
		if (r_tab(c, &a->tabs[t]) != 0)
			return -1;
	if (r_tab(c, &a->agents) != 0)
		return -1;
	if (a->agents.n > a->lim.agents_max)
		return -1;
	for (uint32_t i = 0; i < a->agents.n; i++)
		if (agg_agent_classify(a, i) != 0)
			return -1;
	if (r_keys(c, a, load_visitor) != 0 || r_keys(c, a, load_host) != 0)
		return -1;
	uint64_t nf = r_u64(c);
	if (c->bad || nf > 100000000)
		return -1;
	for (uint64_t i = 0; i < nf && !c->bad; i++) {
		struct in_file f;

		memset(&f, 0, sizeof(f));
		r_str(c, f.node, sizeof(f.node));
		f.ident_len = (uint32_t)r_u64(c);
		f.ident_hash = r_u64(c);
		f.consumed = r_u64(c);
		f.lines = r_u64(c);
		r_str(c, f.path, sizeof(f.path));
		if (f.ident_len > IN_IDENT_MAX || (!c->bad && in_seen_add(seen, &f) != 0))
			return -1;
	}
	uint64_t ns = r_u64(c);
	if (c->bad || ns > LIVE_STREAMS)
		return -1;
	for (uint64_t i = 0; i < ns && !c->bad; i++) {
		struct batch_rx x;
		uint64_t *v[9] = { &x.stream_id, &x.hwm, &x.lost, &x.dup_lines, &x.gaps,
				   &x.dropped, &x.cut, &x.lost_seen, &x.unexplained };

		memset(&x, 0, sizeof(x));
		for (int k = 0; k < 9; k++)
			*v[k] = r_u64(c);
		if (ls && !c->bad)
			ls->rx[ls->n++] = x;
	}
	if (c->bad || c->p != c->end)
		return -1;
	return 0;
}

int state_load(const char *path, const char *fp, struct agg *a, struct in_seen *seen,
	       struct live_streams *ls, const struct agg_limits *lim, const struct rl_set *rel,
	       unsigned have, char *err, size_t errlen)
{
	struct stat sb;
	uint8_t *buf = NULL;

	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "state %s: not a regular file", path);
		return -1;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && errno == ENOENT)
		return agg_init(a, lim, rel, have) == 0 ? 0 : (snprintf(err, errlen, "out of memory"), -1);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		snprintf(err, errlen, "state %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t len = (size_t)sb.st_size;
	buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "state %s: out of memory", path);
		return -1;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != len || len < 8 + 8 + 8 + 4 || memcmp(buf, magic, 8) != 0) {
		snprintf(err, errlen, "state %s: not a chorus-stats state file", path);
		free(buf);
		return -1;
	}
	uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(len - 4));
	uint32_t want = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
			(uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
	if (crc != want) {
		snprintf(err, errlen, "state %s: checksum mismatch (damaged file); not used", path);
		free(buf);
		return -1;
	}
	struct cur c = { buf + 8, buf + len - 4, 0 };
	uint64_t ver = r_u64(&c);
	if (ver != STATE_VERSION) {
		snprintf(err, errlen, "state %s: version %llu, this program reads version %d%s", path,
			 (unsigned long long)ver, STATE_VERSION,
			 ver == 1 ? " (version 1 counted 4xx responses as visitors: read the "
				    "logs again into a new state file)" : "");
		free(buf);
		return -1;
	}
	size_t fl;
	const char *f = r_bytes(&c, 1 << 16, &fl);
	if (c.bad || fl != strlen(fp) || memcmp(f, fp, fl) != 0) {
		snprintf(err, errlen, "state %s was made with other options (format, filters, "
				      "release patterns or limits): %.*s; use another state file",
			 path, (int)(fl > 300 ? 300 : fl), f);
		free(buf);
		return -1;
	}
	if (agg_init(a, lim, rel, have) != 0) {
		snprintf(err, errlen, "out of memory");
		free(buf);
		return -1;
	}
	if (ls)
		ls->n = 0;
	if (load_body(&c, a, seen, ls) != 0) {
		snprintf(err, errlen, "state %s: damaged or inconsistent contents", path);
		agg_free(a);
		in_seen_free(seen);
		if (ls)
			ls->n = 0;
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}
