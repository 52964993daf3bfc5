/*
 * net_impair.c - the test-only receive impairment (see net_impair.h).
 */
#include "net_impair.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net_impair_held {
	int64_t due_ms;
	uint64_t seq;
	uint32_t from;
	size_t len;
	uint8_t data[];
};

/* ---- the parameters ---- */

static int parse_num(const char *v, unsigned long max, unsigned long long *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end || *out > max ? -1 : 0;
}

int net_impair_parse(const char *text, struct net_impair_params *p, char *err,
		     size_t errlen)
{
	char buf[128], *save = NULL, *tok;

	memset(p, 0, sizeof(*p));
	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "impairment settings longer than %zu bytes",
			 sizeof(buf) - 1);
		return -1;
	}
	strcpy(buf, text);
	for (tok = strtok_r(buf, " \t\r\n", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		char *eq = strchr(tok, '=');
		unsigned long long v;

		if (!eq) {
			snprintf(err, errlen, "impairment setting '%s' is not NAME=VALUE", tok);
			return -1;
		}
		*eq = 0;
		if (strcmp(tok, "loss") == 0 && parse_num(eq + 1, 100, &v) == 0)
			p->loss_pct = (unsigned)v;
		else if (strcmp(tok, "jitter") == 0 &&
			 parse_num(eq + 1, NET_IMPAIR_JITTER_MAX, &v) == 0)
			p->jitter_ms = (unsigned)v;
		else if (strcmp(tok, "seed") == 0 && parse_num(eq + 1, (unsigned long)-1, &v) == 0)
			p->seed = v;
		else {
			snprintf(err, errlen, "bad impairment setting %s=%s (loss=0..100, "
				 "jitter=0..%d ms, seed=N)", tok, eq + 1,
				 NET_IMPAIR_JITTER_MAX);
			return -1;
		}
		p->on = 1;
	}
	return 0;
}

void net_impair_set(struct net_impair *im, const struct net_impair_params *p,
		    uint64_t mix)
{
	im->p = *p;
	im->rng = (p->seed ^ (mix * 0x9e3779b97f4a7c15ull)) | 1;
}

/* xorshift64*: the impairment's own generator, seeded from its settings. */
static uint32_t draw(struct net_impair *im, uint32_t n)
{
	im->rng ^= im->rng >> 12;
	im->rng ^= im->rng << 25;
	im->rng ^= im->rng >> 27;
	return (uint32_t)(((im->rng * 2685821657736338717ull) >> 32) % n);
}

int net_impair_reload(struct net_impair *im, const char *path, int64_t now_ms,
		      uint64_t mix, char *err, size_t errlen)
{
	struct net_impair_params p;
	char text[sizeof(im->text)];
	size_t n = 0;
	FILE *f;

	if (now_ms < im->reload_ms)
		return 0;
	im->reload_ms = now_ms + NET_IMPAIR_RELOAD_MS;
	text[0] = 0;
	if ((f = fopen(path, "r")) != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = 0;
		if (!feof(f) && n == sizeof(text) - 1) {
			fclose(f);
			im->p.on = 0;
			snprintf(err, errlen, "%s: longer than %zu bytes", path,
				 sizeof(text) - 1);
			return -1;
		}
		fclose(f);
	}
	if (strcmp(text, im->text) == 0)
		return 0;
	memcpy(im->text, text, sizeof(text));
	if (net_impair_parse(text, &p, err, errlen) != 0) {
		im->p.on = 0;
		return -1;
	}
	if (p.on && !im->p.on)
		memset(&im->stats, 0, sizeof(im->stats)); /* counted per switch-on */
	net_impair_set(im, &p, mix);
	return 1;
}

/* ---- the held datagrams: a binary min-heap ---- */

static int before(const struct net_impair_held *a, const struct net_impair_held *b)
{
	return a->due_ms != b->due_ms ? a->due_ms < b->due_ms : a->seq < b->seq;
}

static void sift_up(struct net_impair_held **h, unsigned i)
{
	while (i > 0) {
		unsigned up = (i - 1) / 2;
		struct net_impair_held *t;

		if (!before(h[i], h[up]))
			break;
		t = h[i];
		h[i] = h[up];
		h[up] = t;
		i = up;
	}
}

static void sift_down(struct net_impair_held **h, unsigned n, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		struct net_impair_held *t;

		if (l < n && before(h[l], h[m]))
			m = l;
		if (r < n && before(h[r], h[m]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

int net_impair_take(struct net_impair *im, int64_t now_ms, uint32_t from,
		    const uint8_t *data, size_t len)
{
	struct net_impair_held *e;

	if (!im->p.on)
		return 0;
	im->stats.in++;
	if (im->p.loss_pct && draw(im, 100) < im->p.loss_pct) {
		im->stats.dropped++;
		return 1;
	}
	if (!im->heap && !(im->heap = malloc(NET_IMPAIR_MAX_HELD * sizeof(*im->heap)))) {
		im->stats.overflow++;
		return 1;
	}
	if (im->n_held == NET_IMPAIR_MAX_HELD || !(e = malloc(sizeof(*e) + len))) {
		im->stats.overflow++; /* a full queue drops, as netem's does */
		return 1;
	}
	e->due_ms = now_ms + (im->p.jitter_ms ? draw(im, im->p.jitter_ms + 1) : 0);
	e->seq = im->next_seq++;
	e->from = from;
	e->len = len;
	memcpy(e->data, data, len);
	im->heap[im->n_held] = e;
	sift_up(im->heap, im->n_held++);
	im->stats.delayed++;
	return 1;
}

void net_impair_release(struct net_impair *im, int64_t now_ms,
			void (*fn)(void *ctx, uint32_t from, const uint8_t *data,
				   size_t len),
			void *ctx)
{
	while (im->n_held && im->heap[0]->due_ms <= now_ms) {
		struct net_impair_held *e = im->heap[0];

		im->heap[0] = im->heap[--im->n_held];
		sift_down(im->heap, im->n_held, 0);
		im->stats.released++;
		fn(ctx, e->from, e->data, e->len);
		free(e);
	}
}

int64_t net_impair_next_ms(const struct net_impair *im)
{
	return im->n_held ? im->heap[0]->due_ms : -1;
}

void net_impair_free(struct net_impair *im)
{
	for (unsigned i = 0; i < im->n_held; i++)
		free(im->heap[i]);
	free(im->heap);
	im->heap = NULL;
	im->n_held = 0;
}
