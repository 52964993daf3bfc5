/*
 * agg.c - the aggregator (see agg.h). One pass per record: the path, the
 * directory and the agent string are hashed once and that hash serves
 * every table that counts them; agent strings get an exact id whose
 * classification is computed once.
 */
#include "stats/agg.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const agg_table_name[T__COUNT] = {
	"paths", "directories", "static", "pages", "not_found", "not_found_referrers",
	"referrers", "sites", "browsers", "os", "tools", "crawlers", "agent_classes",
	"user_agents", "releases",
};
const char *const agg_table_title[T__COUNT] = {
	"Requested paths", "Directories", "Static files", "Pages", "Not found (404)",
	"Referrers of 404s", "Referrers", "Referring sites", "Browsers", "Operating systems",
	"Download tools", "Crawlers", "Agent classes", "User agents", "Releases",
};
const char *const agg_table_key[T__COUNT] = {
	"path", "directory", "path", "path", "path", "path", "referrer", "site", "browser",
	"os", "tool", "crawler", "class", "user_agent", "release",
};

void agg_default_limits(struct agg_limits *l)
{
	l->top = 100;
	l->day_top = 25;
	l->node_top = 20;
	l->capacity = 65536;
	l->day_capacity = 2048;
	l->node_capacity = 4096;
	l->window_days = 7;
	l->agents_max = 262144;
	l->hosts_max = 1u << 20;
	l->nodes_max = 1024;
}

int agg_init(struct agg *a, const struct agg_limits *lim, const struct rl_set *rel,
	     unsigned have)
{
	memset(a, 0, sizeof(*a));
	a->lim = *lim;
	a->rel = *rel;
	a->have = have;
	a->newest_day = INT32_MIN;
	for (int t = 0; t < T__COUNT; t++)
		tab_init(&a->tabs[t], lim->capacity);
	tab_init(&a->agents, lim->agents_max);
	vs_init(&a->vis);
	vs_init(&a->hosts);
	a->nodes = calloc(lim->nodes_max, sizeof(*a->nodes));
	a->agent_info = calloc(lim->agents_max, sizeof(*a->agent_info));
	a->norel = calloc(AGG_NOREL, sizeof(*a->norel));
	if (!a->nodes || !a->agent_info || !a->norel) {
		agg_free(a);
		return -1;
	}
	return 0;
}

static void day_free(struct agg_day *d)
{
	for (int t = 0; t < T__COUNT; t++)
		tab_free(&d->tabs[t]);
	free(d);
}

void agg_free(struct agg *a)
{
	for (uint32_t i = 0; i < a->ndays; i++)
		day_free(a->days[i]);
	free(a->days);
	for (uint32_t i = 0; i < a->nnodes; i++) {
		free(a->nodes[i].days);
		tab_free(&a->nodes[i].paths);
	}
	free(a->nodes);
	for (int t = 0; t < T__COUNT; t++)
		tab_free(&a->tabs[t]);
	tab_free(&a->agents);
	free(a->agent_info);
	free(a->norel);
	vs_free(&a->vis);
	vs_free(&a->hosts);
	memset(a, 0, sizeof(*a));
}

struct agg_day *agg_day_get(struct agg *a, int32_t day, int create)
{
	if (a->last_day_i < a->ndays && a->days[a->last_day_i]->day == day)
		return a->days[a->last_day_i];
	uint32_t lo = 0, hi = a->ndays;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (a->days[mid]->day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < a->ndays && a->days[lo]->day == day) {
		a->last_day_i = lo;
		return a->days[lo];
	}
	if (!create)
		return NULL;
	if (a->ndays == a->adays) {
		uint32_t na = a->adays ? a->adays * 2 : 64;
		struct agg_day **nd = realloc(a->days, na * sizeof(*nd));

		if (!nd)
			return NULL;
		a->days = nd;
		a->adays = na;
	}
	struct agg_day *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->day = day;
	d->date = lf_date_of_day(day);
	for (int t = 0; t < T__COUNT; t++)
		tab_init(&d->tabs[t], a->lim.day_capacity);
	memmove(&a->days[lo + 1], &a->days[lo], (a->ndays - lo) * sizeof(*a->days));
	a->days[lo] = d;
	a->ndays++;
	a->last_day_i = lo;
	return d;
}

struct agg_node *agg_node_get(struct agg *a, const char *name, size_t len, int create)
{
	if (len > 64)
		len = 64;
	if (a->last_node_i < a->nnodes) {
		struct agg_node *n = &a->nodes[a->last_node_i];

		if (strlen(n->name) == len && memcmp(n->name, name, len) == 0)
			return n;
	}
	for (uint32_t i = 0; i < a->nnodes; i++) {
		if (strlen(a->nodes[i].name) == len && memcmp(a->nodes[i].name, name, len) == 0) {
			a->last_node_i = i;
			return &a->nodes[i];
		}
	}
	if (!create || a->nnodes >= a->lim.nodes_max)
		return NULL;
	struct agg_node *n = &a->nodes[a->nnodes];
	memset(n, 0, sizeof(*n));
	memcpy(n->name, name, len);
	tab_init(&n->paths, a->lim.node_capacity);
	a->last_node_i = a->nnodes++;
	return n;
}

struct agg_nday *agg_nday_get(struct agg_node *n, int32_t day, int create)
{
	if (n->ndays && n->days[n->ndays - 1].day == day)
		return &n->days[n->ndays - 1];
	uint32_t lo = 0, hi = n->ndays;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (n->days[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n->ndays && n->days[lo].day == day)
		return &n->days[lo];
	if (!create)
		return NULL;
	if (n->ndays == n->adays) {
		uint32_t na = n->adays ? n->adays * 2 : 16;
		struct agg_nday *nd = realloc(n->days, na * sizeof(*nd));

		if (!nd)
			return NULL;
		n->days = nd;
		n->adays = na;
	}
	memmove(&n->days[lo + 1], &n->days[lo], (n->ndays - lo) * sizeof(*n->days));
	memset(&n->days[lo], 0, sizeof(n->days[lo]));
	n->days[lo].day = day;
	n->ndays++;
	return &n->days[lo];
}

int agg_close_old(struct agg *a)
{
	if (a->newest_day == INT32_MIN)
		return 0;
	int32_t cutoff = a->newest_day - (int32_t)a->lim.window_days + 1;

	for (uint32_t i = 0; i < a->ndays && a->days[i]->day < cutoff; i++) {
		struct agg_day *d = a->days[i];

		if (d->closed)
			continue;
		for (int t = 0; t < T__COUNT; t++)
			if (tab_prune(&d->tabs[t], a->lim.day_top) != 0)
				return -1;
		d->closed = 1;
	}
	return vs_drop_before(&a->vis, cutoff);
}

static inline int is_page(const char *p, size_t n)
{
	size_t i = n;

	while (i > 0 && p[i - 1] != '/' && p[i - 1] != '.')
		i--;
	if (i == 0 || p[i - 1] == '/')
		return 1; /* ends in '/' or no extension */
	const char *ext = p + i;
	size_t el = n - i;
	static const char *const pages[] = { "html", "htm", "xhtml", "shtml", "php", "asp",
					     "aspx", "jsp", "cgi", "pl" };
	for (size_t k = 0; k < sizeof(pages) / sizeof(pages[0]); k++)
		if (strlen(pages[k]) == el && strncasecmp(ext, pages[k], el) == 0)
			return 1;
	return 0;
}

static inline void count(struct agg_counts *c, const struct lf_rec *r, int page)
{
	c->requests++;
	c->bytes += r->bytes;
	if (page)
		c->pages++;
	else
		c->statics++;
	switch (r->status / 100) {
	case 2: c->s2++; break;
	case 3: c->s3++; break;
	case 4: c->s4++; break;
	case 5: c->s5++; break;
	default: c->sother++; break;
	}
	if (r->status == 404)
		c->not_found++;
}

/* Adds to the overall table and the day's. */
static int add2(struct agg *a, struct agg_day *d, int t, uint64_t h, const char *k, size_t n,
		uint64_t bytes, uint64_t ok)
{
	if (tab_add(&a->tabs[t], h, k, n, 1, bytes, ok) != 0)
		return -1;
	return tab_add(&d->tabs[t], h, k, n, 1, bytes, ok);
}

static int add_str(struct agg *a, struct agg_day *d, int t, uint64_t h, const char *s,
		   uint64_t bytes)
{
	return add2(a, d, t, h, s, strlen(s), bytes, 0);
}

static uint64_t str_hash(const char *s)
{
	return s ? tab_hash(s, strlen(s)) : 0;
}

void agg_agent_classify(struct agg *a, uint32_t i)
{
	const struct tab_ent *e = &a->agents.ent[i];
	struct agg_agent *g = &a->agent_info[i];
	struct ag_info ai;

	ag_classify(tab_key(&a->agents, e), e->klen, &ai);
	g->cls = (uint8_t)ai.cls;
	g->name = ai.name;
	g->os = ai.os;
	g->h_ua = tab_hash(tab_key(&a->agents, e), e->klen);
	g->h_class = str_hash(ag_class_name(ai.cls));
	g->h_name = str_hash(ai.name);
	g->h_os = str_hash(ai.os);
}

/* The exact id of an agent string, classifying it the first time. */
static uint32_t agent_id(struct agg *a, const char *ua, size_t n, const struct agg_agent **info)
{
	static const struct agg_agent unknown = { AG_OTHER, NULL, NULL, 0, 0, 0, 0 };
	uint64_t h = tab_hash(ua, n);
	struct tab_ent *e = tab_find(&a->agents, h, ua, n);

	if (!e && a->agents.n < a->lim.agents_max && n <= TAB_KEY_MAX) {
		uint32_t i = a->agents.n;

		if (tab_add(&a->agents, h, ua, n, 1, 0, 0) == 0) {
			agg_agent_classify(a, i);
			*info = &a->agent_info[i];
			return i;
		}
	}
	if (e) {
		e->req++;
		uint32_t i = (uint32_t)(e - a->agents.ent);
		*info = &a->agent_info[i];
		return i;
	}
	/* No exact id left: a hash stands in (the report says so). */
	a->agent_overflow++;
	*info = &unknown;
	return 0x80000000u | (uint32_t)(h >> 33);
}

int agg_add(struct agg *a, const struct lf_rec *r, const char *node, size_t node_len)
{
	if (r->day > a->newest_day) {
		a->newest_day = r->day;
		if (agg_close_old(a) != 0)
			return -1;
	}
	struct agg_day *d = agg_day_get(a, r->day, 1);
	if (!d)
		return -1;
	struct agg_node *nd = agg_node_get(a, node, node_len, 1);
	if (!nd) {
		a->nodes_over++;
		nd = agg_node_get(a, "other-nodes", 11, 1);
		if (!nd) {
			/* The last slot serves every node beyond the limit. */
			nd = &a->nodes[a->nnodes - 1];
		}
	}
	struct agg_nday *ndd = agg_nday_get(nd, r->day, 1);
	if (!ndd)
		return -1;
	int page = is_page(r->path, r->path_len);
	count(&a->tot, r, page);
	count(&d->c, r, page);
	count(&nd->c, r, page);
	count(&ndd->c, r, page);
	d->hreq[r->hour]++;
	d->hbytes[r->hour] += r->bytes;
	a->hours_req[r->hour]++;
	a->hours_bytes[r->hour] += r->bytes;
	a->status_req[r->status]++;
	a->status_bytes[r->status] += r->bytes;
	d->status_req[r->status]++;

	const struct agg_agent *ai = NULL;
	uint32_t ua = 0;
	if (r->ua)
		ua = agent_id(a, r->ua, r->ua_len, &ai);

	struct vs_key k;
	memset(&k, 0, sizeof(k));
	if (vs_addr(r->host, r->host_len, k.ip))
		a->host_hashed++;
	if (a->hosts.n < a->lim.hosts_max) {
		if (vs_insert(&a->hosts, &k) < 0)
			return -1;
	} else {
		a->hosts_over++;
	}
	if (!d->closed) {
		int nv;

		/* A visitor new to the whole report is new to its node, and
		 * one the node has seen is not new: the node's set decides
		 * whether the global one needs a look. */
		k.day = r->day;
		k.ua = ua;
		k.node = (uint32_t)(nd - a->nodes);
		if ((nv = vs_insert(&a->vis, &k)) < 0)
			return -1;
		if (nv) {
			nd->c.visitors++;
			ndd->c.visitors++;
			k.node = VS_NODE_ALL;
			if ((nv = vs_insert(&a->vis, &k)) < 0)
				return -1;
			if (nv) {
				a->tot.visitors++;
				d->c.visitors++;
				a->hours_vis[r->hour]++;
			}
		}
	} else {
		a->late_lines++;
	}

	/* Tables. */
	const char *p = r->path;
	size_t pl = r->path_len;
	uint64_t hp = tab_hash(p, pl);
	if (add2(a, d, T_PATHS, hp, p, pl, r->bytes, 0) != 0 ||
	    add2(a, d, page ? T_PAGES : T_STATIC, hp, p, pl, r->bytes, 0) != 0 ||
	    tab_add(&nd->paths, hp, p, pl, 1, r->bytes, 0) != 0)
		return -1;
	size_t dl = pl;
	while (dl > 0 && p[dl - 1] != '/')
		dl--;
	if (dl > 0 && add2(a, d, T_DIRS, tab_hash(p, dl), p, dl, r->bytes, 0) != 0)
		return -1;
	if (r->status == 404) {
		char key[TAB_KEY_MAX];
		const char *ref = r->ref ? r->ref : "-";
		size_t rl = r->ref ? r->ref_len : 1;
		size_t kl = 0;

		if (add2(a, d, T_NOTFOUND, hp, p, pl, r->bytes, 0) != 0)
			return -1;
		kl = pl < TAB_KEY_MAX / 2 ? pl : TAB_KEY_MAX / 2;
		memcpy(key, p, kl);
		key[kl++] = '\t';
		if (rl > TAB_KEY_MAX - kl)
			rl = TAB_KEY_MAX - kl;
		memcpy(key + kl, ref, rl);
		kl += rl;
		if (add2(a, d, T_NFREF, tab_hash(key, kl), key, kl, r->bytes, 0) != 0)
			return -1;
	}
	if (r->ref) {
		if (add2(a, d, T_REFERRERS, tab_hash(r->ref, r->ref_len), r->ref, r->ref_len,
			 r->bytes, 0) != 0)
			return -1;
		const char *s = memmem(r->ref, r->ref_len, "://", 3);
		if (s) {
			char host[256];
			size_t hl = 0;

			s += 3;
			const char *e = r->ref + r->ref_len;
			while (s < e && hl < sizeof(host) && *s != '/' && *s != ':' && *s != '?' &&
			       *s != '#') {
				char c = *s++;

				host[hl++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
			}
			if (hl && add2(a, d, T_SITES, tab_hash(host, hl), host, hl, r->bytes, 0) != 0)
				return -1;
		}
	}
	if (r->ua) {
		const char *cn = ag_class_name(ai->cls);
		uint64_t hc = ai->h_class ? ai->h_class : str_hash(cn);
		uint64_t hu = ai->h_ua ? ai->h_ua : tab_hash(r->ua, r->ua_len);

		if (add_str(a, d, T_CLASSES, hc, cn, r->bytes) != 0)
			return -1;
		static const int by_class[AG__COUNT] = { -1, T_BROWSERS, T_TOOLS, T_CRAWLERS };
		if (ai->name && by_class[ai->cls] >= 0 &&
		    add_str(a, d, by_class[ai->cls], ai->h_name, ai->name, r->bytes) != 0)
			return -1;
		if (ai->os && add_str(a, d, T_OS, ai->h_os, ai->os, r->bytes) != 0)
			return -1;
		if (add2(a, d, T_AGENTS, hu, r->ua, r->ua_len, r->bytes, 0) != 0)
			return -1;
	}
	struct rl_match m;
	uint64_t *nr = &a->norel[hp & (AGG_NOREL - 1)];
	int rel = 0;
	if (a->rel.n && *nr != hp && !(rel = rl_match(&a->rel, p, pl, &m)))
		*nr = hp;
	if (rel) {
		char key[600];
		int kl = snprintf(key, sizeof(key), "%.*s\x1f%.*s\x1f%s", (int)m.release_len,
				  m.release, (int)(m.image_len > 400 ? 400 : m.image_len), m.image,
				  m.kind);

		if (kl > 0 && (size_t)kl < sizeof(key) &&
		    add2(a, d, T_RELEASES, tab_hash(key, (size_t)kl), key, (size_t)kl, r->bytes,
			 r->status == 200 || r->status == 206) != 0)
			return -1;
	}
	return 0;
}

void agg_malformed(struct agg *a, int reason, const char *source, uint64_t lineno,
		   const char *line, size_t len)
{
	a->malformed++;
	if (reason > 0 && reason < LF_R__COUNT)
		a->reasons[reason]++;
	if (a->nex >= AGG_EXAMPLES)
		return;
	struct agg_example *e = &a->ex[a->nex++];
	if (lineno)
		snprintf(e->source, sizeof(e->source), "%s:%llu", source,
			 (unsigned long long)lineno);
	else
		snprintf(e->source, sizeof(e->source), "%s", source);
	e->reason = reason;
	if (len > AGG_EXAMPLE_LEN)
		len = AGG_EXAMPLE_LEN;
	memcpy(e->line, line, len);
	e->line[len] = 0;
	/* A NUL in the line would cut the example: show it as a space. */
	for (size_t i = 0; i < len; i++)
		if (!e->line[i])
			e->line[i] = ' ';
}
