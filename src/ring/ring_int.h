/*
 * ring_int.h - the ring instance, shared by the core's modules and by
 * nothing else.
 *
 *   ring_core.c   the instance, configuration, packet input, submissions
 *   ring_token.c  the token: ordering, retransmission, flow control,
 *                 delivery
 *   ring_memb.c   membership: gather, commit, recovery, installation
 *   ring_store.c  message slots, per-ring windows by sequence number,
 *                 the send queue
 *   ring_timer.c  every deadline and the hooks that set and clear them
 *   ring_log.c    names of states, reasons and drops
 *   ring_pkt.c    packet encoders and decoders
 *
 * Every field of struct ring is state of one daemon; nothing is global.
 * Internal functions use the prefixes rc_ (core and token), rm_
 * (membership), rs_ (store) and rt_ (timers).
 */
#ifndef CHORUS_RING_INT_H
#define CHORUS_RING_INT_H

#include <assert.h>

#include "ring.h"
#include "ring_log.h"
#include "ring_pkt.h"

/* Assertions catch the core's own bugs and stay on in every build. */
#define RING_ASSERT(c) \
	do { if (!(c)) rc_assert_fail(__FILE__, __LINE__, #c); } while (0)
void rc_assert_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* A set of configured daemons: bit i is configuration index i. */
struct ring_set {
	uint64_t w[2];
};

static inline void set_add(struct ring_set *s, unsigned i)
{
	s->w[i >> 6] |= 1ull << (i & 63);
}

static inline void set_del(struct ring_set *s, unsigned i)
{
	s->w[i >> 6] &= ~(1ull << (i & 63));
}

static inline int set_has(const struct ring_set *s, unsigned i)
{
	return (s->w[i >> 6] >> (i & 63)) & 1;
}

static inline int set_eq(const struct ring_set *a, const struct ring_set *b)
{
	return a->w[0] == b->w[0] && a->w[1] == b->w[1];
}

/* 1 if a is a subset of b. */
static inline int set_sub(const struct ring_set *a, const struct ring_set *b)
{
	return !(a->w[0] & ~b->w[0]) && !(a->w[1] & ~b->w[1]);
}

static inline struct ring_set set_minus(const struct ring_set *a,
					const struct ring_set *b)
{
	struct ring_set r = { { a->w[0] & ~b->w[0], a->w[1] & ~b->w[1] } };

	return r;
}

static inline int rid_eq(const struct ring_rid *a, const struct ring_rid *b)
{
	return a->rep == b->rep && a->rep_inc == b->rep_inc && a->seq == b->seq;
}

/* A message held by the core: metadata here, bytes in the slab. */
struct ring_msg {
	uint64_t seq;             /* in the ring that holds it */
	uint64_t old_seq;         /* RECOVERED: in its old ring */
	struct ring_rid old_ring; /* RECOVERED: its old ring */
	uint32_t origin;
	uint16_t len;
	uint8_t service, flags;
};

/* The messages of one ring, by sequence number: a window of store_slots
 * entries starting at base, each a slot index or -1. Everything below
 * base has been released (delivered and known to every member). */
struct ring_seqbuf {
	int32_t *slot;
	uint64_t base;
	uint64_t aru;  /* every message up to here is held (or released) */
	uint64_t high; /* highest sequence number held */
	uint32_t mask;
};

/* Every deadline of the core, in ms; 0 means not set. */
struct ring_timers {
	int64_t token_loss;        /* operational, recovery */
	int64_t token_retransmit;  /* after the token was passed on */
	int64_t token_release;     /* a held token goes on (idle, or to myself) */
	int64_t probe;             /* representative: merge probe */
	int64_t join;              /* gather: next join message */
	int64_t consensus;         /* gather */
	int64_t silence;           /* gather: old members never heard from */
	int64_t commit_loss;       /* commit */
	int64_t commit_retransmit; /* commit, recovery */
};

struct ring {
	struct ring_config cfg;
	struct ring_io io;
	int64_t now;
	enum ring_state state;

	/* The configured daemons, ids ascending (ring order); index i of
	 * every per-daemon array and set is ids[i]. */
	unsigned n_ids;
	uint32_t ids[RING_MAX_MEMBERS];
	unsigned me; /* my index */
	uint32_t known_inc[RING_MAX_MEMBERS]; /* newest incarnation seen */
	uint32_t seen_ring[RING_MAX_MEMBERS]; /* newest ring seq in its data */
	uint32_t join_epoch[RING_MAX_MEMBERS]; /* newest join epoch seen */
	uint32_t join_jseq[RING_MAX_MEMBERS];  /* newest join number seen */
	uint32_t high_ring_seq; /* largest ring seq known */

	/* The ring I take part in: the installed one (operational) or the
	 * one being installed (recovery). */
	struct ring_rid rid;
	unsigned n_memb;
	uint8_t memb[RING_MAX_MEMBERS];        /* index of each member */
	uint32_t memb_inc[RING_MAX_MEMBERS];   /* its incarnation */
	uint32_t memb_epoch[RING_MAX_MEMBERS]; /* its gather epoch at commit */
	int16_t pos[RING_MAX_MEMBERS];         /* member position or -1 */
	unsigned my_pos;

	/* Token state of that ring. */
	struct ring_token tok;   /* the last token I sent or hold */
	uint8_t *tok_pkt;        /* its encoding, for retransmission */
	size_t tok_len;
	int token_held;          /* tok is held here (idle, or ring of one) */
	int token_to_self;       /* ring of one: the held token is mine next */
	uint64_t last_token_seq; /* newest token visit processed */
	uint64_t sent_seq;       /* seq on the last token I passed on */
	uint64_t prev_aru;       /* aru on the token at my previous visit */
	int have_prev_aru;
	uint64_t stable;         /* every member holds every message to here */
	uint64_t delivered;      /* delivered (or skipped) up to here */
	uint32_t last_sent, last_backlog, last_rec_left; /* my share on the token */
	uint64_t last_seq_at_rep; /* representative: seq at its last visit */
	int prev_rec_ok;          /* recovery: nothing left to resend, last visit */
	int token_started;        /* recovery: a token of the new ring was seen */

	/* Message stores: cur is the ring above; old is the last installed
	 * ring while a membership change is under way. */
	struct ring_seqbuf store[2];
	int cur; /* index of the current store; 1 - cur is the old one */

	/* The last regular configuration installed (EVS's "old" one). */
	int installed_any;
	struct ring_rid old_rid;
	struct ring_conf_id conf_id;
	unsigned n_old;
	uint32_t old_ids[RING_MAX_MEMBERS];
	struct ring_set old_set;
	uint64_t old_safe;      /* known stable in the old ring */
	uint64_t old_delivered; /* delivered in the old ring before leaving it */

	/* Gather. */
	struct ring_set proc, fail, consensus;
	struct ring_set heard; /* sent a join since this gather began */
	uint32_t epoch;     /* my gather round (ring_memb.c, "Rounds") */
	uint32_t max_round; /* highest round heard of */
	uint32_t commit_round; /* my round when I entered commit */
	uint32_t join_seq;  /* joins sent */
	int alone_ok;       /* a ring of one may form (check_consensus) */

	/* Commit: the token being circulated (also kept in recovery). */
	struct ring_commit commit;
	struct ring_rid commit_rid; /* the ring it forms */
	uint8_t *commit_pkt;
	size_t commit_len;
	uint32_t commit_to;

	/* Recovery: my old ring's share of the new ring. */
	uint64_t rec_low, rec_high;
	uint64_t *rec_queue; /* old seqs I rebroadcast, in order */
	unsigned rec_n, rec_next;
	unsigned n_group;
	uint32_t group_ids[RING_MAX_MEMBERS]; /* the transitional members */

	/* The send queue: slots of submitted messages, FIFO. */
	int32_t *sendq;
	unsigned sq_head, sq_len, sq_cap;

	/* Slots: metadata, bytes and a free stack. */
	struct ring_msg *msgs;
	uint8_t *slab;
	int32_t *free_slots;
	unsigned n_free, n_slots;

	/* Scratch: an outgoing packet, decoded incoming ones. */
	uint8_t *pkt;
	size_t pkt_cap;
	struct ring_token tin;
	struct ring_join jin, jout;
	struct ring_commit kin;

	struct ring_timers t;
	struct ring_stats st;
	uint32_t conf_buf[RING_MAX_MEMBERS];
};

/* ring_store.c */
int rs_init(struct ring *r);
void rs_free(struct ring *r);
int32_t rs_slot_alloc(struct ring *r);
void rs_slot_free(struct ring *r, int32_t s);
static inline uint8_t *rs_bytes(const struct ring *r, int32_t s)
{
	return r->slab + (size_t)s * r->cfg.max_payload;
}
struct ring_seqbuf *rs_cur(struct ring *r);
struct ring_seqbuf *rs_old(struct ring *r);
int32_t rs_get(const struct ring_seqbuf *b, uint64_t seq);
/* 1 if seq can be stored (not released, inside the window). */
int rs_room(const struct ring_seqbuf *b, uint64_t seq);
/* Stores slot s at seq; returns 0, or -1 (caller keeps s) if the place
 * is taken or outside the window. Advances aru and high. */
int rs_put(struct ring_seqbuf *b, uint64_t seq, int32_t s);
void rs_release_to(struct ring *r, struct ring_seqbuf *b, uint64_t upto);
void rs_clear(struct ring *r, struct ring_seqbuf *b);
int rs_sendq_push(struct ring *r, int32_t s);
int32_t rs_sendq_pop(struct ring *r);

/* ring_timer.c */
int64_t rt_next(const struct ring *r);
void rt_run(struct ring *r);
void rt_token_received(struct ring *r);
void rt_token_passed(struct ring *r);
void rt_token_held(struct ring *r, uint32_t hold_ms);
void rt_token_parked(struct ring *r);
void rt_token_release_now(struct ring *r);
void rt_token_evidence(struct ring *r);
void rt_operational_enter(struct ring *r);
void rt_gather_enter(struct ring *r);
void rt_join_sent(struct ring *r);
void rt_consensus_restart(struct ring *r);
void rt_round_begin(struct ring *r);
void rt_commit_enter(struct ring *r);
void rt_commit_sent(struct ring *r);
void rt_commit_done(struct ring *r);
void rt_recovery_enter(struct ring *r);
void rt_probe_sent(struct ring *r);

/* ring_core.c, ring_token.c */
void rc_set_state(struct ring *r, enum ring_state to, enum ring_reason why);
void rc_drop(struct ring *r, enum ring_drop why, uint32_t peer);
void rc_event(struct ring *r, enum ring_event_type type, uint32_t peer,
	      uint64_t a, uint64_t b, const char *what);
void rc_hdr(const struct ring *r, struct ring_hdr *h, const struct ring_rid *rid);
void rc_send(struct ring *r, uint32_t to, size_t len);
void rc_send_raw(struct ring *r, uint32_t to, const uint8_t *p, size_t len);
void rc_token_process(struct ring *r, struct ring_token *t, int created);
void rc_token_resend(struct ring *r);
void rc_token_release(struct ring *r);
void rc_send_probe(struct ring *r);
void rc_deliver(struct ring *r, const struct ring_msg *m, const uint8_t *data,
		struct ring_conf_id conf, int transitional);
void rc_deliver_ready(struct ring *r);
void rc_ring_reset(struct ring *r);
int rc_index(const struct ring *r, uint32_t id);
int rc_new_incarnation(struct ring *r, unsigned i, uint32_t inc);
int rc_store_data(struct ring *r, struct ring_seqbuf *b,
		  const struct ring_data *d, uint32_t from);

/* ring_memb.c */
void rm_gather_enter(struct ring *r, enum ring_reason why, int extra);
void rm_on_join(struct ring *r, unsigned from, const struct ring_hdr *h,
		const struct ring_join *j);
void rm_on_commit(struct ring *r, unsigned from, const struct ring_hdr *h,
		  const struct ring_commit *k);
void rm_join_timer(struct ring *r);
void rm_consensus_timeout(struct ring *r);
void rm_silence_timeout(struct ring *r);
void rm_commit_resend(struct ring *r);
void rm_install(struct ring *r);
void rm_recovered_data(struct ring *r, const struct ring_data *d);
int rm_in_commit(const struct ring *r, unsigned idx);

#endif /* CHORUS_RING_INT_H */
