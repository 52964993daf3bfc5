/*
 * ring_store.c - where the ring keeps messages: a pool of fixed-size
 * slots allocated once at creation, two windows by sequence number (the
 * current ring's and, during a membership change, the old ring's: Totem
 * keeps the old ring's messages until recovery is over), and the FIFO
 * queue of submitted messages waiting for the token.
 *
 * Sizes: each window has store_slots places; the pool has room for both
 * windows full and the send queue full, so a message that fits its window
 * always finds a slot. A message moves from the send queue into the
 * current window without a copy (only the slot index moves).
 */
#include <stdlib.h>
#include <string.h>

#include "ring_int.h"

int rs_init(struct ring *r)
{
	unsigned w = r->cfg.store_slots;

	r->n_slots = 2 * w + r->cfg.send_queue_max;
	r->msgs = calloc(r->n_slots, sizeof(*r->msgs));
	r->slab = malloc((size_t)r->n_slots * r->cfg.max_payload + 1);
	r->free_slots = malloc(r->n_slots * sizeof(*r->free_slots));
	r->sendq = malloc(r->cfg.send_queue_max * sizeof(*r->sendq));
	r->rec_queue = malloc(w * sizeof(*r->rec_queue));
	for (int i = 0; i < 2; i++) {
		r->store[i].slot = malloc(w * sizeof(int32_t));
		r->store[i].mask = w - 1;
	}
	if (!r->msgs || !r->slab || !r->free_slots || !r->sendq ||
	    !r->rec_queue || !r->store[0].slot || !r->store[1].slot)
		return RING_ENOMEM;
	for (unsigned i = 0; i < r->n_slots; i++)
		r->free_slots[i] = (int32_t)(r->n_slots - 1 - i);
	r->n_free = r->n_slots;
	r->sq_cap = r->cfg.send_queue_max;
	for (int i = 0; i < 2; i++) {
		memset(r->store[i].slot, 0xff, w * sizeof(int32_t));
		r->store[i].base = 1;
		r->store[i].aru = 0;
		r->store[i].high = 0;
	}
	return 0;
}

void rs_free(struct ring *r)
{
	free(r->msgs);
	free(r->slab);
	free(r->free_slots);
	free(r->sendq);
	free(r->rec_queue);
	free(r->store[0].slot);
	free(r->store[1].slot);
	r->msgs = NULL;
	r->slab = NULL;
	r->free_slots = NULL;
	r->sendq = NULL;
	r->rec_queue = NULL;
	r->store[0].slot = r->store[1].slot = NULL;
}

int32_t rs_slot_alloc(struct ring *r)
{
	if (r->n_free == 0)
		return -1;
	return r->free_slots[--r->n_free];
}

void rs_slot_free(struct ring *r, int32_t s)
{
	RING_ASSERT(s >= 0 && (unsigned)s < r->n_slots && r->n_free < r->n_slots);
	r->free_slots[r->n_free++] = s;
}

struct ring_seqbuf *rs_cur(struct ring *r)
{
	return &r->store[r->cur];
}

struct ring_seqbuf *rs_old(struct ring *r)
{
	return &r->store[1 - r->cur];
}

int rs_room(const struct ring_seqbuf *b, uint64_t seq)
{
	return seq >= b->base && seq - b->base <= b->mask;
}

int32_t rs_get(const struct ring_seqbuf *b, uint64_t seq)
{
	if (!rs_room(b, seq))
		return -1;
	return b->slot[seq & b->mask];
}

int rs_put(struct ring_seqbuf *b, uint64_t seq, int32_t s)
{
	if (!rs_room(b, seq) || b->slot[seq & b->mask] >= 0)
		return -1;
	b->slot[seq & b->mask] = s;
	if (seq > b->high)
		b->high = seq;
	while (b->aru < b->high && rs_room(b, b->aru + 1) &&
	       b->slot[(b->aru + 1) & b->mask] >= 0)
		b->aru++;
	return 0;
}

void rs_release_to(struct ring *r, struct ring_seqbuf *b, uint64_t upto)
{
	RING_ASSERT(upto <= b->aru);
	while (b->base <= upto) {
		int32_t *p = &b->slot[b->base & b->mask];

		RING_ASSERT(*p >= 0);
		rs_slot_free(r, *p);
		*p = -1;
		b->base++;
	}
}

void rs_clear(struct ring *r, struct ring_seqbuf *b)
{
	for (uint32_t i = 0; i <= b->mask; i++) {
		if (b->slot[i] >= 0) {
			rs_slot_free(r, b->slot[i]);
			b->slot[i] = -1;
		}
	}
	b->base = 1;
	b->aru = 0;
	b->high = 0;
}

int rs_sendq_push(struct ring *r, int32_t s)
{
	if (r->sq_len == r->sq_cap)
		return -1;
	r->sendq[(r->sq_head + r->sq_len) % r->sq_cap] = s;
	r->sq_len++;
	return 0;
}

int32_t rs_sendq_pop(struct ring *r)
{
	int32_t s;

	if (r->sq_len == 0)
		return -1;
	s = r->sendq[r->sq_head];
	r->sq_head = (r->sq_head + 1) % r->sq_cap;
	r->sq_len--;
	return s;
}
