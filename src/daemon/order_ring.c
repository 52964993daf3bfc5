/*
 * order_ring.c - the ordering service over the ring (see order_ring.h).
 *
 * Submission: a frame (daemon byte order) is converted to its network
 * form (frag.h), kept in the output queue `outq`, and pushed into the
 * ring's send queue as piece records, its first piece into the room of
 * the message queued last (packing, frag.h), all pieces of a frame at
 * once, only while a ring is installed and only when all of them fit. Frames that do not fit stay in outq; while any does, the
 * service reports itself congested and the daemon stops reading clients.
 *
 * Delivery: the ring delivers messages in the agreed order; their
 * records are read in order, frag.c puts frames together and the deliver
 * callback gets them back in daemon order. A frame of this daemon leaves
 * outq when it comes back.
 *
 * Configuration changes: each piece carries the tag of the regular
 * configuration it was submitted in; a receiver keeps only pieces of its
 * current one. So at each regular configuration this daemon pushes every
 * frame still in outq again, in order, with the new tag: its copies of
 * the old configuration that had not been delivered there are refused
 * everywhere (frag.h explains why every daemon decides alike).
 *
 * Services: the ring has one total order for all services, in which each
 * daemon's messages keep their submission order; FIFO, causal and agreed
 * are therefore all met by the ring's agreed delivery, safe by its safe
 * delivery (delivered once every member has the message), and
 * unreliable is carried as reliable. Joins, leaves and disconnects are
 * agreed.
 */
#include "order_ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/be.h"
#include "ring/ring_log.h"
#include "util/log.h"

#define OUTQ_MIN 256
#define HASH_LOG_EVERY_MS 10000

struct out_frame {
	struct msg *m;   /* network form */
	uint32_t fseq;
	enum ring_service service;
};

struct ord_ring {
	struct ord base;
	struct ring *ring;
	struct ord_ring_shell shell;
	struct ring_config rc;
	struct frag_rx rx;
	int64_t now;

	int installed;       /* a regular configuration is installed */
	uint64_t tag;        /* its tag (frag.h) */

	struct out_frame *q; /* outq: a ring buffer */
	unsigned head, len, cap;
	unsigned pushed;     /* outq[0 .. pushed) are in the ring */
	uint32_t next_fseq;
	uint64_t resubmitted;
	uint8_t *piece;      /* max_payload bytes */

	int64_t hash_logged_ms;
	uint64_t hash_drops;
	struct ord_conf conf; /* scratch for callbacks */
};

static inline struct out_frame *oq_at(struct ord_ring *o, unsigned i)
{
	return &o->q[(o->head + i) % o->cap];
}

/* The tag of a configuration id, the same at every daemon: a hash of its
 * fields in a fixed byte order. A field added to struct ring_conf_id is
 * added here. */
static uint64_t conf_tag(const struct ring_conf_id *id)
{
	uint8_t b[12];
	uint64_t h = 1469598103934665603ull;

	be_put32(b, id->rep);
	be_put32(b + 4, id->seq);
	be_put32(b + 8, id->rep_inc);
	for (size_t i = 0; i < sizeof(b); i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h ? h : 1; /* 0 means "no configuration" */
}

enum ring_service ord_ring_service_of(const uint8_t *frame)
{
	struct wire_hdr h;
	uint32_t t;

	wire_hdr_decode(frame, &h);
	t = h.type & ~WIRE_MARK;
	if (!(t & WIRE_SERVICES))
		return RING_AGREED; /* join, leave, disconnect */
	if (t & 0x20)
		return RING_SAFE;
	if (t & 0x10)
		return RING_AGREED;
	if (t & 0x08)
		return RING_CAUSAL;
	if (t & 0x04)
		return RING_FIFO;
	if (t & 0x02)
		return RING_RELIABLE;
	return RING_UNRELIABLE;
}

/* Pushes frames from outq into the ring while a ring is installed and
 * every piece of the next frame fits: the first piece into the room left
 * in the message queued last (frag.h), the others into new messages. */
static void pump(struct ord_ring *o)
{
	struct ring_status st;
	size_t chunk = frag_chunk(o->rc.max_payload);

	if (!o->installed || o->pushed == o->len)
		return;
	ring_get_status(o->ring, &st);
	if (st.state != RING_OPERATIONAL)
		return;
	while (o->pushed < o->len) {
		struct out_frame *f = oq_at(o, o->pushed);
		size_t room = ring_append_room(o->ring, f->service), first, off;
		unsigned count, idx = 0;
		unsigned n = frag_plan(f->m->len, room, o->rc.max_payload,
				       &first, &count);
		int rc = 0;

		if (ring_send_queue_room(o->ring) < n)
			return;
		if (first) {
			size_t pl = frag_record(o->piece, f->m->data, f->m->len,
						0, first, idx++, count, f->fseq,
						o->tag);

			rc = ring_append(o->ring, o->piece, pl, f->service);
		}
		for (off = first; rc == 0 && off < f->m->len; off += chunk) {
			size_t k = f->m->len - off < chunk ? f->m->len - off : chunk;
			size_t pl = frag_record(o->piece, f->m->data, f->m->len,
						off, k, idx++, count, f->fseq,
						o->tag);

			rc = ring_submit(o->ring, o->now, o->piece, pl,
					 f->service);
		}
		/* The room was checked: a refusal is our bug. */
		if (rc != 0 || idx != count)
			fatalx("ring refused piece %u of %u: %d", idx, count, rc);
		o->pushed++;
	}
}

static void io_send(void *ctx, uint32_t to, const uint8_t *pkt, size_t len)
{
	struct ord_ring *o = ctx;

	o->shell.send(o->shell.ctx, to, pkt, len);
}

/* Our own frame came back: it leaves outq. */
static void own_delivered(struct ord_ring *o, uint32_t fseq)
{
	struct out_frame *f;

	if (o->len == 0 || oq_at(o, 0)->fseq != fseq) {
		log_warnx("ring: own frame %u delivered out of order", fseq);
		return;
	}
	f = oq_at(o, 0);
	msg_unref(f->m);
	f->m = NULL;
	o->head = (o->head + 1) % o->cap;
	o->len--;
	if (o->pushed)
		o->pushed--;
}

/* One frame put together from the ring's pieces. */
static void deliver_frame(struct ord_ring *o, uint32_t origin,
			  const uint8_t *frame, size_t flen, uint32_t fseq)
{
	struct msg *m;

	if (origin == o->rc.my_id)
		own_delivered(o, fseq);
	m = msg_new((uint32_t)flen);
	if (!m) {
		log_warnx("ring: out of memory delivering a frame of %zu bytes",
			  flen);
		return;
	}
	if (frag_frame_from_net(frame, flen, m->data) != 0) {
		log_warnx("ring: bad frame from %08x dropped", origin);
		msg_unref(m);
		return;
	}
	o->base.cb.deliver(o->base.cb.ctx, m);
	msg_unref(m);
}

/* A ring message: its records in order (frag.h). */
static void io_deliver(void *ctx, const struct ring_delivery *d)
{
	struct ord_ring *o = ctx;
	size_t off = 0;

	while (off < d->len) {
		const uint8_t *frame;
		size_t flen, used;
		uint32_t fseq;
		enum frag_result r;

		r = frag_rx_input(&o->rx, d->origin, o->tag, d->data + off,
				  d->len - off, &used, &frame, &flen, &fseq);
		off += used;
		if (r == FRAG_BAD)
			log_warnx("ring: malformed piece from %08x dropped",
				  d->origin);
		else if (r == FRAG_DONE)
			deliver_frame(o, d->origin, frame, flen, fseq);
	}
}

static void io_conf(void *ctx, const struct ring_conf *c)
{
	struct ord_ring *o = ctx;
	struct ord_conf *oc = &o->conf;

	memset(oc, 0, sizeof(*oc));
	oc->memb_proc = c->id.rep;
	oc->memb_time = c->id.seq;
	oc->transitional = c->transitional;
	oc->n_daemons = (int)c->n_members;
	for (unsigned i = 0; i < c->n_members && i < ORD_MAX_DAEMONS; i++)
		oc->daemons[i] = c->members[i];
	if (!c->transitional) {
		struct ring_status st;

		frag_rx_new_conf(&o->rx);
		o->tag = conf_tag(&c->id);
		o->installed = 1;
		/* Every frame not delivered back yet goes again with the new
		 * tag; its old copies are refused by everyone. */
		o->resubmitted += o->pushed;
		o->pushed = 0;
		if (o->shell.regular) {
			ring_get_status(o->ring, &st);
			o->shell.regular(o->shell.ctx, st.high_ring_seq);
		}
	}
	o->base.cb.conf_change(o->base.cb.ctx, oc);
}

static void io_event(void *ctx, const struct ring_event *e)
{
	char buf[256];

	(void)ctx;
	ring_event_format(e, buf, sizeof(buf));
	/* Configurations are logged by the daemon's conf_change. */
	if (e->type == RING_EV_STATE || e->type == RING_EV_FAILED)
		log_info("ring: %s", buf);
	else if (e->type == RING_EV_CONF)
		log_debug(DBG_MEMBERSHIP, "ring: %s", buf);
	else if (e->type == RING_EV_DROP && e->drop != RING_DROP_CONF_HASH)
		log_debug(DBG_NETWORK, "ring: %s", buf);
	else
		log_debug(DBG_PROTOCOL, "ring: %s", buf);
}

/* Packets of a daemon with another configuration: the ring drops them;
 * say so, with both hashes, at most once every HASH_LOG_EVERY_MS. */
static void check_hash(struct ord_ring *o, uint32_t from, const uint8_t *pkt,
		       size_t len)
{
	uint32_t h;

	if (len < 8 || be_get16(pkt) != 0x5247)
		return;
	h = be_get32(pkt + 4);
	if (h == o->rc.conf_hash)
		return;
	o->hash_drops++;
	if (o->hash_logged_ms && o->now - o->hash_logged_ms < HASH_LOG_EVERY_MS)
		return;
	o->hash_logged_ms = o->now;
	log_warnx("ring: daemon %u.%u.%u.%u has a different configuration "
		  "(hash %08x, ours %08x): its packets are dropped and it "
		  "cannot join this ring (%llu such packets so far); compare "
		  "the segments, timeouts and ring settings of both "
		  "spread.conf files (chorusd -P)",
		  from >> 24, (from >> 16) & 255, (from >> 8) & 255, from & 255,
		  h, o->rc.conf_hash, (unsigned long long)o->hash_drops);
}

void ord_ring_input(struct ord *base, int64_t now, uint32_t from,
		    const uint8_t *pkt, size_t len)
{
	struct ord_ring *o = (struct ord_ring *)base;

	o->now = now;
	check_hash(o, from, pkt, len);
	ring_input_packet(o->ring, now, from, pkt, len);
	pump(o);
}

static int rng_submit(struct ord *base, struct msg *m)
{
	struct ord_ring *o = (struct ord_ring *)base;
	struct out_frame *f;

	if (o->len == o->cap) {
		unsigned ncap = o->cap * 2;
		struct out_frame *nq = malloc(ncap * sizeof(*nq));

		if (!nq)
			return -1;
		for (unsigned i = 0; i < o->len; i++)
			nq[i] = *oq_at(o, i);
		free(o->q);
		o->q = nq;
		o->head = 0;
		o->cap = ncap;
	}
	/* The frame becomes its network form; in place when nobody else
	 * holds it (the usual case: a session builds it and hands it on). */
	if (m->refs != 1) {
		struct msg *c = msg_new(m->len);

		if (!c)
			return -1;
		memcpy(c->data, m->data, m->len);
		msg_unref(m);
		m = c;
	}
	f = oq_at(o, o->len);
	f->service = ord_ring_service_of(m->data);
	if (frag_frame_to_net(m->data, m->len, m->data) != 0) {
		log_warnx("ring: refusing a malformed frame of %u bytes", m->len);
		msg_unref(m);
		return 0; /* consumed: the daemon built it, it is our bug */
	}
	f->m = m;
	f->fseq = o->next_fseq++;
	o->len++;
	pump(o);
	return 0;
}

static void rng_run(struct ord *base, int64_t now)
{
	struct ord_ring *o = (struct ord_ring *)base;

	o->now = now;
	ring_input_tick(o->ring, now);
	pump(o);
}

static int64_t rng_next_deadline(const struct ord *base)
{
	return ring_next_deadline(((const struct ord_ring *)base)->ring);
}

static unsigned rng_pending(const struct ord *base)
{
	return ((const struct ord_ring *)base)->len;
}

static int rng_congested(const struct ord *base)
{
	const struct ord_ring *o = (const struct ord_ring *)base;

	return o->pushed < o->len;
}

static void rng_destroy(struct ord *base)
{
	struct ord_ring *o = (struct ord_ring *)base;

	if (!o)
		return;
	for (unsigned i = 0; i < o->len; i++)
		msg_unref(oq_at(o, i)->m);
	ring_destroy(o->ring);
	frag_rx_free(&o->rx);
	free(o->q);
	free(o->piece);
	free(o);
}

static const struct ord_ops ring_ops = {
	.submit = rng_submit,
	.run = rng_run,
	.next_deadline = rng_next_deadline,
	.pending = rng_pending,
	.destroy = rng_destroy,
	.congested = rng_congested,
};

struct ord *ord_ring_new(const struct ord_cb *cb, const struct ring_config *rc,
			 const struct ord_ring_shell *shell, int64_t now,
			 char *err, size_t errlen)
{
	struct ord_ring *o = calloc(1, sizeof(*o));
	struct ring_io io = { NULL, io_send, io_deliver, io_conf, io_event };
	int r;

	if (!o) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->base.ops = &ring_ops;
	o->base.cb = *cb;
	o->shell = *shell;
	o->rc = *rc;
	o->now = now;
	o->cap = OUTQ_MIN;
	o->q = calloc(o->cap, sizeof(*o->q));
	o->piece = malloc(rc->max_payload);
	if (!o->q || !o->piece) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (rc->max_payload <= FRAG_HDR_LEN + WIRE_HDR_LEN ||
	    rc->send_queue_max < frag_count(FRAG_MAX_FRAME, rc->max_payload)) {
		snprintf(err, errlen, "ring max_payload %u or send queue %u too "
			 "small for the largest client message",
			 rc->max_payload, rc->send_queue_max);
		goto fail;
	}
	frag_rx_init(&o->rx, rc->max_payload);
	io.ctx = o;
	r = ring_create(rc, &io, now, &o->ring);
	if (r != 0) {
		char why[200] = "";

		ring_config_check(rc, why, sizeof(why));
		snprintf(err, errlen, "ring: %s", why[0] ? why : "cannot create");
		goto fail;
	}
	return &o->base;
fail:
	rng_destroy(&o->base);
	return NULL;
}

void ord_ring_info(const struct ord *base, struct ord_ring_info *info)
{
	const struct ord_ring *o = (const struct ord_ring *)base;

	memset(info, 0, sizeof(*info));
	ring_get_status(o->ring, &info->status);
	info->stats = *ring_get_stats(o->ring);
	info->outq = o->len;
	info->unpushed = o->len - o->pushed;
	info->resubmitted = o->resubmitted;
	info->frag = o->rx.stats;
	info->window = o->rc.window;
	info->personal_window = o->rc.personal_window;
	info->accel_window = o->rc.accel_window;
	info->max_payload = o->rc.max_payload;
	info->accelerated = o->rc.accelerated;
}
