/*
 * agg.c - the aggregator (see agg.h). One pass per record: the path, the
 * directory and the agent string are hashed once and that hash serves
 * every table that counts them; agent strings get an exact id whose
 * classification is computed once.
 */
#include "stats/agg.h"

#include <limits.h>
#include <stddef.h>
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
	l->open_days_max = 100;
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
	a->horizon = INT32_MAX;
	a->cur_newest = INT32_MIN;
	for (int t = 0; t < T__COUNT; t++) {
		tab_init(&a->tabs[t], lim->capacity);
		tab_enable_refs(&a->tabs[t], &a->gens);
	}
	tab_init(&a->agents, lim->agents_max);
	hs_init(&a->hosts);
	/* Visitor entries number their node in 16 bits. */
	if (a->lim.nodes_max >= VS_NODES_MAX)
		a->lim.nodes_max = VS_NODES_MAX - 1;
	a->nodes = calloc(lim->nodes_max, sizeof(*a->nodes));
	a->pcache = calloc(AGG_PCACHE, sizeof(*a->pcache));
	if (!a->nodes || !a->pcache) {
		agg_free(a);
		return -1;
	}
	return 0;
}

static void day_free(struct agg_day *d)
{
	for (int t = 0; t < T__COUNT; t++)
		tab_free(&d->tabs[t]);
	vs_free(&d->vis);
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
	free(a->pcache);
	hs_free(&a->hosts);
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
	for (int t = 0; t < T__COUNT; t++) {
		tab_init(&d->tabs[t], a->lim.day_capacity);
		tab_enable_refs(&d->tabs[t], &a->gens);
	}
	memmove(&a->days[lo + 1], &a->days[lo], (a->ndays - lo) * sizeof(*a->days));
	a->days[lo] = d;
	a->ndays++;
	a->nopen++;
	a->last_day_i = lo;
	return d;
}

struct agg_node *agg_node_get(struct agg *a, const char *name, size_t len, int create)
{
	if (len > 64)
		len = 64;
	if (a->last_node_i < a->nnodes) {
		struct agg_node *n = &a->nodes[a->last_node_i];

		if (n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
	}
	for (uint32_t i = 0; i < a->nnodes; i++) {
		if (a->nodes[i].name_len == len && memcmp(a->nodes[i].name, name, len) == 0) {
			a->last_node_i = i;
			return &a->nodes[i];
		}
	}
	if (!create || a->nnodes >= a->lim.nodes_max)
		return NULL;
	struct agg_node *n = &a->nodes[a->nnodes];
	memset(n, 0, sizeof(*n));
	memcpy(n->name, name, len);
	n->name_len = (uint8_t)len;
	tab_init(&n->paths, a->lim.node_capacity);
	tab_enable_refs(&n->paths, &a->gens);
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

static int day_close(struct agg *a, struct agg_day *d)
{
	for (int t = 0; t < T__COUNT; t++)
		if (tab_prune(&d->tabs[t], a->lim.day_top) != 0)
			return -1;
	vs_free(&d->vis);
	d->closed = 1;
	a->nopen--;
	return 0;
}

int agg_close_old(struct agg *a)
{
	if (a->cur_newest != INT32_MIN) {
		int32_t upto = a->cur_newest < a->horizon ? a->cur_newest : a->horizon;
		int64_t cutoff = (int64_t)upto - (int64_t)a->lim.window_days + 1;

		for (uint32_t i = 0; i < a->ndays && a->days[i]->day < cutoff; i++)
			if (!a->days[i]->closed && day_close(a, a->days[i]) != 0)
				return -1;
	}
	for (uint32_t i = 0; i < a->ndays && a->nopen > a->lim.open_days_max; i++)
		if (!a->days[i]->closed && day_close(a, a->days[i]) != 0)
			return -1;
	return 0;
}

int agg_set_horizon(struct agg *a, int32_t day)
{
	a->horizon = day;
	a->cur_newest = INT32_MIN;
	return agg_close_old(a);
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

/* Adds to the overall table and the day's, through the refs rg and rd
 * (see tab_add_ref()). */
static int add2(struct agg *a, struct agg_day *d, int t, struct tab_ref *rg, struct tab_ref *rd,
		uint64_t h, const char *k, size_t n, uint64_t bytes, uint64_t ok)
{
	if (tab_add_ref(&a->tabs[t], rg, h, k, n, 1, bytes, ok) != 0)
		return -1;
	return tab_add_ref(&d->tabs[t], rd, h, k, n, 1, bytes, ok);
}

/* The same without a remembered position. */
static int add2_once(struct agg *a, struct agg_day *d, int t, uint64_t h, const char *k,
		     size_t n, uint64_t bytes)
{
	struct tab_ref rg = { 0, 0 }, rd = { 0, 0 };

	return add2(a, d, t, &rg, &rd, h, k, n, bytes, 0);
}

static uint64_t str_hash(const char *s)
{
	return s ? tab_hash(s, strlen(s)) : 0;
}

int agg_agent_classify(struct agg *a, uint32_t i)
{
	if (i >= a->nagent_info) {
		uint32_t na = a->nagent_info ? a->nagent_info : 64;

		while (na <= i)
			na *= 2;
		struct agg_agent *g = realloc(a->agent_info, na * sizeof(*g));
		if (!g)
			return -1;
		memset(g + a->nagent_info, 0, (na - a->nagent_info) * sizeof(*g));
		a->agent_info = g;
		a->nagent_info = na;
	}
	const struct tab_ent *e = &a->agents.ent[i];
	struct agg_agent *g = &a->agent_info[i];
	struct ag_info ai;

	memset(g, 0, sizeof(*g));
	ag_classify(tab_key(&a->agents, e), e->klen, &ai);
	g->cls = (uint8_t)ai.cls;
	g->name = ai.name;
	g->os = ai.os;
	g->h_ua = tab_hash(tab_key(&a->agents, e), e->klen);
	g->h_class = str_hash(ag_class_name(ai.cls));
	g->h_name = str_hash(ai.name);
	g->h_os = str_hash(ai.os);
	return 0;
}

/* The exact id of an agent string in *id, classifying it the first time;
 * *info is its classification, or NULL when no exact id was left (a hash
 * stands in then, and the report says so). Returns 0 or -1 (memory). */
static int agent_id(struct agg *a, const char *ua, size_t n, uint32_t *id,
		    struct agg_agent **info)
{
	uint64_t h = tab_hash(ua, n);
	struct tab_ent *e = tab_find(&a->agents, h, ua, n);
	uint32_t i;

	if (e) {
		e->req++;
		i = (uint32_t)(e - a->agents.ent);
	} else if (a->agents.n < a->lim.agents_max && n <= TAB_KEY_MAX) {
		i = a->agents.n;
		if (tab_add(&a->agents, h, ua, n, 1, 0, 0) != 0 || agg_agent_classify(a, i) != 0)
			return -1;
	} else {
		a->agent_overflow++;
		*info = NULL;
		*id = 0x80000000u | (uint32_t)(h >> 33);
		return 0;
	}
	*info = &a->agent_info[i];
	*id = i;
	return 0;
}

/* The facts of path p (n bytes): from the cache when it holds the path,
 * else derived (and cached when the path fits). */
static struct agg_path *path_info(struct agg *a, const char *p, size_t n,
				  struct agg_path *scratch)
{
	uint64_t h = tab_hash(p, n);
	struct agg_path *pc = scratch;

	if (n > 0 && n <= AGG_PC_KEY) {
		pc = &a->pcache[h & (AGG_PCACHE - 1)];
		if (pc->len == n && pc->hash == h && memcmp(pc->key, p, n) == 0)
			return pc;
		memcpy(pc->key, p, n);
		p = pc->key; /* the match below points into the entry */
	}
	memset(pc, 0, offsetof(struct agg_path, key));
	pc->hash = h;
	pc->len = (uint32_t)n;
	pc->page = (uint8_t)is_page(p, n);
	size_t dl = n;
	while (dl > 0 && p[dl - 1] != '/')
		dl--;
	pc->dir_len = (uint32_t)dl;
	pc->dir_hash = dl ? tab_hash(p, dl) : 0;
	pc->rel = (uint8_t)(a->rel.n && rl_match(&a->rel, p, n, &pc->m));
	return pc;
}

/* Counts the visitor (ip, ua) of a line of day d and node nd. */
static int count_visitor(struct agg *a, struct agg_day *d, struct agg_node *nd,
			 struct agg_nday *ndd, const struct lf_rec *r, const uint8_t ip[16],
			 uint32_t ua)
{
	int nv = 0;

	if (r->status / 100 == 4 && !a->lim.visitors_4xx) {
		/* Not a visit (GoAccess's default), but its address is a
		 * client's. */
		if (!hs_has(&a->hosts, ip)) {
			if (a->hosts.n >= a->lim.hosts_max)
				a->hosts_over++;
			else if (hs_add(&a->hosts, ip) < 0)
				return -1;
		}
		return 0;
	}
	if (!d->closed) {
		/* One lookup says whether the visitor is new to its node and
		 * whether it is new to the day. */
		if ((nv = vs_visit(&d->vis, ip, ua, (uint32_t)(nd - a->nodes))) < 0)
			return -1;
		if (nv & VS_NEW_NODE) {
			nd->c.visitors++;
			ndd->c.visitors++;
		}
		if (nv & VS_NEW_DAY) {
			a->tot.visitors++;
			d->c.visitors++;
			a->hours_vis[r->hour]++;
		}
	} else {
		a->late_lines++;
	}
	/* A visitor seen before on its day had its address counted then. */
	if ((d->closed || (nv & VS_NEW_DAY)) && !hs_has(&a->hosts, ip)) {
		if (a->hosts.n >= a->lim.hosts_max)
			a->hosts_over++;
		else if (hs_add(&a->hosts, ip) < 0)
			return -1;
	}
	return 0;
}

int agg_add(struct agg *a, const struct lf_rec *r, const char *node, size_t node_len)
{
	if (r->day > a->newest_day)
		a->newest_day = r->day;
	if (r->day > a->cur_newest) {
		a->cur_newest = r->day;
		if (agg_close_old(a) != 0)
			return -1;
	}
	uint32_t had = a->ndays;
	struct agg_day *d = agg_day_get(a, r->day, 1);
	if (!d)
		return -1;
	if (a->ndays != had && a->nopen > a->lim.open_days_max) {
		if (agg_close_old(a) != 0)
			return -1;
		/* The new day itself may be the oldest. */
		d = agg_day_get(a, r->day, 0);
	}
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
	struct agg_path scratch;
	struct agg_path *pc = path_info(a, r->path, r->path_len, &scratch);
	int page = pc->page;
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

	struct agg_agent *ai = NULL;
	uint32_t ua = 0;
	if (r->ua && agent_id(a, r->ua, r->ua_len, &ua, &ai) != 0)
		return -1;

	uint8_t ip[16];
	if (vs_addr(r->host, r->host_len, ip))
		a->host_hashed++;
	if (!d->closed)
		vs_prefetch(&d->vis, ip, ua);

	/* Tables. Each key's position is remembered (by the path's cache
	 * entry, by the agent's id), so a line mostly adds to entries it
	 * reaches directly. */
	const char *p = r->path;
	size_t pl = r->path_len;
	struct tab_ref (*pr)[PT__COUNT] = pc->ref;
	if (add2(a, d, T_PATHS, &pr[AR_G][PT_PATHS], &pr[AR_D][PT_PATHS], pc->hash, p, pl,
		 r->bytes, 0) != 0 ||
	    add2(a, d, page ? T_PAGES : T_STATIC, &pr[AR_G][PT_PGST], &pr[AR_D][PT_PGST],
		 pc->hash, p, pl, r->bytes, 0) != 0 ||
	    tab_add_ref(&nd->paths, &pc->node, pc->hash, p, pl, 1, r->bytes, 0) != 0)
		return -1;
	if (pc->dir_len && add2(a, d, T_DIRS, &pr[AR_G][PT_DIRS], &pr[AR_D][PT_DIRS],
				pc->dir_hash, p, pc->dir_len, r->bytes, 0) != 0)
		return -1;
	if (r->status == 404) {
		char key[TAB_KEY_MAX];
		const char *ref = r->ref ? r->ref : "-";
		size_t rl = r->ref ? r->ref_len : 1;
		size_t kl = 0;

		if (add2(a, d, T_NOTFOUND, &pr[AR_G][PT_NOTFOUND], &pr[AR_D][PT_NOTFOUND],
			 pc->hash, p, pl, r->bytes, 0) != 0)
			return -1;
		kl = pl < TAB_KEY_MAX / 2 ? pl : TAB_KEY_MAX / 2;
		memcpy(key, p, kl);
		key[kl++] = '\t';
		if (rl > TAB_KEY_MAX - kl)
			rl = TAB_KEY_MAX - kl;
		memcpy(key + kl, ref, rl);
		kl += rl;
		if (add2_once(a, d, T_NFREF, tab_hash(key, kl), key, kl, r->bytes) != 0)
			return -1;
	}
	if (r->ref) {
		if (add2_once(a, d, T_REFERRERS, tab_hash(r->ref, r->ref_len), r->ref, r->ref_len,
			      r->bytes) != 0)
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
			if (hl && add2_once(a, d, T_SITES, tab_hash(host, hl), host, hl, r->bytes) != 0)
				return -1;
		}
	}
	if (r->ua) {
		static const struct agg_agent unknown = { .cls = AG_OTHER };
		struct tab_ref none[2][AT__COUNT];
		struct tab_ref (*ar)[AT__COUNT] = ai ? ai->ref : none;
		const struct agg_agent *g = ai ? ai : &unknown;
		const char *cn = ag_class_name(g->cls);
		uint64_t hc = g->h_class ? g->h_class : str_hash(cn);
		uint64_t hu = g->h_ua ? g->h_ua : tab_hash(r->ua, r->ua_len);

		memset(none, 0, sizeof(none));
		if (add2(a, d, T_CLASSES, &ar[AR_G][AT_CLASS], &ar[AR_D][AT_CLASS], hc, cn,
			 strlen(cn), r->bytes, 0) != 0)
			return -1;
		static const int by_class[AG__COUNT] = { -1, T_BROWSERS, T_TOOLS, T_CRAWLERS };
		if (g->name && by_class[g->cls] >= 0 &&
		    add2(a, d, by_class[g->cls], &ar[AR_G][AT_NAME], &ar[AR_D][AT_NAME], g->h_name,
			 g->name, strlen(g->name), r->bytes, 0) != 0)
			return -1;
		if (g->os && add2(a, d, T_OS, &ar[AR_G][AT_OS], &ar[AR_D][AT_OS], g->h_os, g->os,
				  strlen(g->os), r->bytes, 0) != 0)
			return -1;
		if (add2(a, d, T_AGENTS, &ar[AR_G][AT_AGENT], &ar[AR_D][AT_AGENT], hu, r->ua,
			 r->ua_len, r->bytes, 0) != 0)
			return -1;
	}
	/* The visitor last: its slot was fetched meanwhile. */
	if (count_visitor(a, d, nd, ndd, r, ip, ua) != 0)
		return -1;
	if (pc->rel) {
		struct tab_ref *rg = &pr[AR_G][PT_RELEASES], *rd = &pr[AR_D][PT_RELEASES];
		char key[600];
		int kl = 0;
		uint64_t hk = 0;

		/* The key is made only when a table has to look it up. */
		if (!tab_ref_valid(&a->tabs[T_RELEASES], rg) ||
		    !tab_ref_valid(&d->tabs[T_RELEASES], rd)) {
			const struct rl_match *m = &pc->m;

			kl = snprintf(key, sizeof(key), "%.*s\x1f%.*s\x1f%s", (int)m->release_len,
				      m->release, (int)(m->image_len > 400 ? 400 : m->image_len),
				      m->image, m->kind);
			if (kl <= 0 || (size_t)kl >= sizeof(key))
				return 0;
			hk = tab_hash(key, (size_t)kl);
		}
		if (add2(a, d, T_RELEASES, rg, rd, hk, key, (size_t)kl, r->bytes,
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
