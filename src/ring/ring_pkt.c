/*
 * ring_pkt.c - encoders and decoders of the ring's packets (ring_pkt.h;
 * byte layouts in docs/ring-protocol.md).
 *
 * Readers and writers go through a cursor that knows its end: a read past
 * the end sets an error flag instead of touching memory, so a decoder
 * checks once, at the end, that nothing ran short and nothing was left.
 */
#include <string.h>

#include "ring_pkt.h"

struct cur {
	uint8_t *w;       /* writer */
	const uint8_t *r; /* reader */
	size_t pos, len;
	int bad;
};

static void put8(struct cur *c, uint8_t v)
{
	if (c->pos + 1 > c->len) {
		c->bad = 1;
		return;
	}
	c->w[c->pos++] = v;
}

static void put16(struct cur *c, uint16_t v)
{
	put8(c, (uint8_t)(v >> 8));
	put8(c, (uint8_t)v);
}

static void put32(struct cur *c, uint32_t v)
{
	if (c->pos + 4 > c->len) {
		c->bad = 1;
		return;
	}
	c->w[c->pos] = (uint8_t)(v >> 24);
	c->w[c->pos + 1] = (uint8_t)(v >> 16);
	c->w[c->pos + 2] = (uint8_t)(v >> 8);
	c->w[c->pos + 3] = (uint8_t)v;
	c->pos += 4;
}

static void put64(struct cur *c, uint64_t v)
{
	put32(c, (uint32_t)(v >> 32));
	put32(c, (uint32_t)v);
}

static void putbytes(struct cur *c, const uint8_t *p, size_t n)
{
	if (c->pos + n > c->len || c->pos + n < c->pos) {
		c->bad = 1;
		return;
	}
	if (n)
		memcpy(c->w + c->pos, p, n);
	c->pos += n;
}

static uint8_t get8(struct cur *c)
{
	if (c->pos + 1 > c->len) {
		c->bad = 1;
		return 0;
	}
	return c->r[c->pos++];
}

static uint16_t get16(struct cur *c)
{
	uint16_t v = (uint16_t)(get8(c) << 8);

	return (uint16_t)(v | get8(c));
}

static uint32_t get32(struct cur *c)
{
	uint32_t v;

	if (c->pos + 4 > c->len) {
		c->bad = 1;
		return 0;
	}
	v = (uint32_t)c->r[c->pos] << 24 | (uint32_t)c->r[c->pos + 1] << 16 |
	    (uint32_t)c->r[c->pos + 2] << 8 | c->r[c->pos + 3];
	c->pos += 4;
	return v;
}

static uint64_t get64(struct cur *c)
{
	uint64_t hi = get32(c);

	return hi << 32 | get32(c);
}

static void put_rid(struct cur *c, const struct ring_rid *r)
{
	put32(c, r->rep);
	put32(c, r->rep_inc);
	put32(c, r->seq);
}

static void get_rid(struct cur *c, struct ring_rid *r)
{
	r->rep = get32(c);
	r->rep_inc = get32(c);
	r->seq = get32(c);
}

/* The result of a decoder: short, long, or fine. */
static int finish(const struct cur *c)
{
	if (c->bad)
		return RING_PKT_ESHORT;
	if (c->pos != c->len)
		return RING_PKT_ELONG;
	return 0;
}

size_t ring_pkt_max_len(uint32_t max_payload)
{
	size_t m = RING_DATA_BASE_LEN + RING_DATA_REC_LEN + (size_t)max_payload;
	size_t t = RING_TOKEN_BASE_LEN + 8 * RING_RTR_MAX;
	size_t j = RING_JOIN_BASE_LEN + 16 * RING_MAX_MEMBERS;
	size_t k = RING_COMMIT_BASE_LEN +
		   (size_t)RING_COMMIT_ENTRY_LEN * RING_MAX_MEMBERS;

	if (t > m)
		m = t;
	if (j > m)
		m = j;
	if (k > m)
		m = k;
	return m;
}

static void hdr_write(struct cur *c, const struct ring_hdr *h, uint8_t type)
{
	put16(c, RING_PKT_MAGIC);
	put8(c, RING_PKT_VERSION);
	put8(c, type);
	put32(c, h->conf_hash);
	put32(c, h->sender);
	put32(c, h->sender_inc);
	put_rid(c, &h->ring);
}

void ring_pkt_put_hdr(uint8_t *b, const struct ring_hdr *h)
{
	struct cur c = { .w = b, .len = RING_HDR_LEN };

	hdr_write(&c, h, h->type);
}

static int hdr_read(struct cur *c, struct ring_hdr *h)
{
	uint16_t magic = get16(c);
	uint8_t version = get8(c);

	h->type = get8(c);
	h->conf_hash = get32(c);
	h->sender = get32(c);
	h->sender_inc = get32(c);
	get_rid(c, &h->ring);
	if (c->bad)
		return RING_PKT_ESHORT;
	if (magic != RING_PKT_MAGIC)
		return RING_PKT_EMAGIC;
	if (version != RING_PKT_VERSION)
		return RING_PKT_EVERSION;
	if (h->type < RING_PKT_DATA || h->type > RING_PKT_PROBE)
		return RING_PKT_ETYPE;
	return 0;
}

int ring_pkt_get_hdr(const uint8_t *b, size_t len, struct ring_hdr *h)
{
	struct cur c = { .r = b, .len = len };

	return hdr_read(&c, h);
}

/* Reads the header of a packet that must be of type `type`. */
static int body_start(struct cur *c, uint8_t type)
{
	struct ring_hdr h;
	int rc = hdr_read(c, &h);

	if (rc)
		return rc;
	return h.type == type ? 0 : RING_PKT_ETYPE;
}

int ring_pkt_put_data(uint8_t *b, size_t cap, const struct ring_hdr *h,
		      const struct ring_data *d)
{
	struct cur c = { .w = b, .len = cap };

	if (d->service > RING_SAFE || (d->flags & ~RING_DATA_RECOVERED))
		return RING_PKT_EFIELD;
	hdr_write(&c, h, RING_PKT_DATA);
	put64(&c, d->seq);
	put32(&c, d->origin);
	put8(&c, d->service);
	put8(&c, d->flags);
	put16(&c, d->len);
	if (d->flags & RING_DATA_RECOVERED) {
		put_rid(&c, &d->old_ring);
		put64(&c, d->old_seq);
	}
	putbytes(&c, d->payload, d->len);
	return c.bad ? RING_PKT_ESPACE : (int)c.pos;
}

int ring_pkt_get_data(const uint8_t *b, size_t len, struct ring_data *d)
{
	struct cur c = { .r = b, .len = len };
	int rc = body_start(&c, RING_PKT_DATA);

	if (rc)
		return rc;
	d->seq = get64(&c);
	d->origin = get32(&c);
	d->service = get8(&c);
	d->flags = get8(&c);
	d->len = get16(&c);
	memset(&d->old_ring, 0, sizeof(d->old_ring));
	d->old_seq = 0;
	if (d->flags & RING_DATA_RECOVERED) {
		get_rid(&c, &d->old_ring);
		d->old_seq = get64(&c);
	}
	if (c.bad)
		return RING_PKT_ESHORT;
	if (d->service > RING_SAFE || (d->flags & ~RING_DATA_RECOVERED) ||
	    d->seq == 0 || ((d->flags & RING_DATA_RECOVERED) && d->old_seq == 0))
		return RING_PKT_EFIELD;
	if (c.len - c.pos < d->len)
		return RING_PKT_ESHORT;
	d->payload = b + c.pos;
	c.pos += d->len;
	return finish(&c);
}

int ring_pkt_put_token(uint8_t *b, size_t cap, const struct ring_hdr *h,
		       const struct ring_token *t)
{
	struct cur c = { .w = b, .len = cap };

	if (t->rtr_n > RING_RTR_MAX)
		return RING_PKT_EFIELD;
	hdr_write(&c, h, RING_PKT_TOKEN);
	put64(&c, t->token_seq);
	put64(&c, t->seq);
	put64(&c, t->aru);
	put32(&c, t->aru_id);
	put32(&c, t->fcc);
	put32(&c, t->backlog);
	put32(&c, t->rotation);
	put32(&c, t->rec_left);
	put16(&c, t->flags);
	put16(&c, t->rtr_n);
	for (unsigned i = 0; i < t->rtr_n; i++) {
		if (t->rtr[i] == 0 || t->rtr[i] > t->seq)
			return RING_PKT_EFIELD;
		put64(&c, t->rtr[i]);
	}
	return c.bad ? RING_PKT_ESPACE : (int)c.pos;
}

int ring_pkt_get_token(const uint8_t *b, size_t len, struct ring_token *t)
{
	struct cur c = { .r = b, .len = len };
	int rc = body_start(&c, RING_PKT_TOKEN);

	if (rc)
		return rc;
	t->token_seq = get64(&c);
	t->seq = get64(&c);
	t->aru = get64(&c);
	t->aru_id = get32(&c);
	t->fcc = get32(&c);
	t->backlog = get32(&c);
	t->rotation = get32(&c);
	t->rec_left = get32(&c);
	t->flags = get16(&c);
	t->rtr_n = get16(&c);
	if (c.bad)
		return RING_PKT_ESHORT;
	if (t->rtr_n > RING_RTR_MAX || t->aru > t->seq ||
	    (t->flags & ~RING_TOKEN_INSTALLED) || t->token_seq == 0)
		return RING_PKT_EFIELD;
	for (unsigned i = 0; i < t->rtr_n; i++) {
		t->rtr[i] = get64(&c);
		if (c.bad)
			return RING_PKT_ESHORT;
		if (t->rtr[i] == 0 || t->rtr[i] > t->seq)
			return RING_PKT_EFIELD;
	}
	return finish(&c);
}

static void put_procs(struct cur *c, const struct ring_proc *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		put32(c, p[i].id);
		put32(c, p[i].inc);
	}
}

static void get_procs(struct cur *c, struct ring_proc *p, unsigned n)
{
	for (unsigned i = 0; i < n && !c->bad; i++) {
		p[i].id = get32(c);
		p[i].inc = get32(c);
	}
}

int ring_pkt_put_join(uint8_t *b, size_t cap, const struct ring_hdr *h,
		      const struct ring_join *j)
{
	struct cur c = { .w = b, .len = cap };

	if (j->n_proc > RING_MAX_MEMBERS || j->n_fail > RING_MAX_MEMBERS)
		return RING_PKT_EFIELD;
	hdr_write(&c, h, RING_PKT_JOIN);
	put32(&c, j->high_ring_seq);
	put32(&c, j->epoch);
	put32(&c, j->jseq);
	put16(&c, j->n_proc);
	put16(&c, j->n_fail);
	put_procs(&c, j->proc, j->n_proc);
	put_procs(&c, j->fail, j->n_fail);
	return c.bad ? RING_PKT_ESPACE : (int)c.pos;
}

int ring_pkt_get_join(const uint8_t *b, size_t len, struct ring_join *j)
{
	struct cur c = { .r = b, .len = len };
	int rc = body_start(&c, RING_PKT_JOIN);

	if (rc)
		return rc;
	j->high_ring_seq = get32(&c);
	j->epoch = get32(&c);
	j->jseq = get32(&c);
	j->n_proc = get16(&c);
	j->n_fail = get16(&c);
	if (c.bad)
		return RING_PKT_ESHORT;
	if (j->n_proc > RING_MAX_MEMBERS || j->n_fail > RING_MAX_MEMBERS ||
	    j->n_proc == 0 || j->jseq == 0)
		return RING_PKT_EFIELD;
	get_procs(&c, j->proc, j->n_proc);
	get_procs(&c, j->fail, j->n_fail);
	return finish(&c);
}

int ring_pkt_put_commit(uint8_t *b, size_t cap, const struct ring_hdr *h,
			const struct ring_commit *k)
{
	struct cur c = { .w = b, .len = cap };

	if (k->n == 0 || k->n > RING_MAX_MEMBERS || k->idx >= k->n ||
	    k->rotation > 2)
		return RING_PKT_EFIELD;
	hdr_write(&c, h, RING_PKT_COMMIT);
	put16(&c, k->n);
	put16(&c, k->idx);
	put8(&c, k->rotation);
	put8(&c, 0);
	put16(&c, 0);
	for (unsigned i = 0; i < k->n; i++) {
		const struct ring_commit_entry *e = &k->e[i];

		put32(&c, e->proc.id);
		put32(&c, e->proc.inc);
		put_rid(&c, &e->old_ring);
		put64(&c, e->old_aru);
		put64(&c, e->old_high);
		put64(&c, e->old_safe);
		put32(&c, e->epoch);
		put32(&c, e->flags);
	}
	return c.bad ? RING_PKT_ESPACE : (int)c.pos;
}

int ring_pkt_get_commit(const uint8_t *b, size_t len, struct ring_commit *k)
{
	struct cur c = { .r = b, .len = len };
	int rc = body_start(&c, RING_PKT_COMMIT);
	unsigned pad;

	if (rc)
		return rc;
	k->n = get16(&c);
	k->idx = get16(&c);
	k->rotation = get8(&c);
	pad = get8(&c);
	pad |= get16(&c);
	if (c.bad)
		return RING_PKT_ESHORT;
	if (k->n == 0 || k->n > RING_MAX_MEMBERS || k->idx >= k->n ||
	    k->rotation > 2 || pad)
		return RING_PKT_EFIELD;
	for (unsigned i = 0; i < k->n; i++) {
		struct ring_commit_entry *e = &k->e[i];

		e->proc.id = get32(&c);
		e->proc.inc = get32(&c);
		get_rid(&c, &e->old_ring);
		e->old_aru = get64(&c);
		e->old_high = get64(&c);
		e->old_safe = get64(&c);
		e->epoch = get32(&c);
		e->flags = get32(&c);
		if (c.bad)
			return RING_PKT_ESHORT;
		if ((e->flags & ~RING_COMMIT_FILLED) ||
		    e->old_aru > e->old_high || e->old_safe > e->old_aru)
			return RING_PKT_EFIELD;
	}
	return finish(&c);
}

int ring_pkt_put_probe(uint8_t *b, size_t cap, const struct ring_hdr *h,
		       uint32_t n_members)
{
	struct cur c = { .w = b, .len = cap };

	hdr_write(&c, h, RING_PKT_PROBE);
	put32(&c, n_members);
	return c.bad ? RING_PKT_ESPACE : (int)c.pos;
}

int ring_pkt_get_probe(const uint8_t *b, size_t len, uint32_t *n_members)
{
	struct cur c = { .r = b, .len = len };
	int rc = body_start(&c, RING_PKT_PROBE);

	if (rc)
		return rc;
	*n_members = get32(&c);
	return finish(&c);
}

int ring_packet_is_token(const uint8_t *pkt, size_t len)
{
	return len >= RING_HDR_LEN && pkt[0] == (RING_PKT_MAGIC >> 8) &&
	       pkt[1] == (RING_PKT_MAGIC & 0xff) && pkt[3] == RING_PKT_TOKEN;
}

const char *ring_pkt_type_name(int type)
{
	switch (type) {
	case RING_PKT_DATA: return "data";
	case RING_PKT_TOKEN: return "token";
	case RING_PKT_JOIN: return "join";
	case RING_PKT_COMMIT: return "commit";
	case RING_PKT_PROBE: return "probe";
	}
	return "?";
}
