/*
 * ring.h - the ring: total order and membership with Extended Virtual
 * Synchrony, as a pure state machine.
 *
 * This is the public interface of the protocol core (docs/ring-protocol.md
 * describes the protocol; Totem [TOCS 1995], EVS [ICDCS 1994] and the
 * accelerated ring [ICDCS 2016] are the papers it follows). The core never
 * touches a socket, never reads a clock and draws no random numbers: a
 * shell (chorusd's event loop, or the simulator in tests/sim/) feeds it
 * packets, ticks and submissions with the current time, and carries out
 * what it asks through the callbacks of struct ring_io.
 *
 * Inputs:  ring_input_packet(), ring_input_tick(), ring_submit().
 * Outputs: io.send (a packet to every daemon or to one), io.deliver (a
 *          message in the agreed order, with its service level and the
 *          configuration it belongs to), io.conf (a transitional or regular
 *          configuration), io.event (log events with reasons), and
 *          ring_next_deadline().
 *
 * Callbacks run inside the input calls. They may call ring_submit() and
 * the read-only queries, never the other inputs nor ring_destroy(). Every
 * pointer a callback receives is borrowed for the duration of the call.
 *
 * Ownership: ring_create() allocates the instance and every buffer it
 * will ever use (sized from the configuration); ring_destroy() frees them.
 * The core keeps no pointer to caller memory after a call returns.
 */
#ifndef CHORUS_RING_H
#define CHORUS_RING_H

#include <stddef.h>
#include <stdint.h>

/* Daemons a configuration may name (Spread's limit; order.h agrees). */
#define RING_MAX_MEMBERS 128
/* The largest payload a configuration may ask for. */
#define RING_PAYLOAD_MAX_LIMIT 65000
/* io.send's destination for "every daemon of the segment". */
#define RING_BROADCAST 0xffffffffu

/* Errors (negative return values). */
#define RING_EINVAL (-22) /* bad argument or configuration */
#define RING_EAGAIN (-11) /* the send queue is full: try after deliveries */
#define RING_ENOMEM (-12)

/* Delivery services, weakest first. Unreliable is carried as reliable. */
enum ring_service {
	RING_UNRELIABLE = 0,
	RING_RELIABLE = 1,
	RING_FIFO = 2,
	RING_CAUSAL = 3,
	RING_AGREED = 4,
	RING_SAFE = 5,
};

/* The configuration of an instance; ring_config_defaults() fills in the
 * defaults of Spread for a LAN. The caller sets my_id, incarnation and the
 * member list. */
struct ring_config {
	uint32_t my_id;       /* this daemon (chorusd: its IPv4 address) */
	/* Larger at every start of this daemon, also when nothing else
	 * survived the last run (a counter on disk, or the wall clock). */
	uint32_t incarnation;
	/* Lower bound of the sequence numbers of rings this daemon creates
	 * (the seq of a configuration id, Spread's memb_time). Optional:
	 * ids are unique across restarts through the incarnation they carry
	 * (struct ring_conf_id) whatever this is. A shell that saves
	 * ring_status.high_ring_seq (at each configuration change) and passes
	 * it + 1, or passes the wall-clock seconds as Spread does, also keeps
	 * (rep, seq) alone unique, for clients that only see those two. */
	uint32_t ring_seq_base;
	/* Packets whose hash differs are dropped and counted: daemons with
	 * different configurations never form one ring. */
	uint32_t conf_hash;
	unsigned n_members;                 /* daemons that may exist, */
	uint32_t members[RING_MAX_MEMBERS]; /* any order, my_id among them */

	uint32_t token_timeout_ms;  /* 1250: token loss declares a failure */
	uint32_t hurry_ms;          /* 500: token and commit retransmission */
	uint32_t join_ms;           /* 50: join rebroadcast in gather */
	uint32_t consensus_ms;      /* 1500: gather gives up on disagreement */
	uint32_t merge_ms;          /* 500: representative's merge probe */
	uint32_t token_hold_ms;     /* 10: idle token held by the representative */

	uint32_t window;          /* 160: messages per token rotation */
	uint32_t personal_window; /* 20: messages per token visit (more for
				   * a backlog share of the window) */
	uint32_t accel_window;    /* 15: sent after the token is passed on */
	int accelerated;          /* 0: classic Totem, 1: accelerated ring */

	uint32_t max_payload;    /* 1400: largest message, bytes */
	uint32_t store_slots;    /* 1024: messages kept per ring (power of 2) */
	uint32_t send_queue_max; /* 1024: submitted, not yet sent */
};

/* A configuration id: the representative (the lowest member id) that
 * formed the ring, that representative's incarnation, and the ring's
 * sequence number. Spread's memb_id is (representative, time); rep_inc
 * makes an id unique across restarts even when the shell kept nothing
 * (ring_seq_base not advanced): a new incarnation never reuses an id of
 * an earlier one. Two ids name the same configuration only if all three
 * fields are equal (ring_conf_id_eq). rep_inc comes last so that a
 * { rep, seq } initializer still means what it did. */
struct ring_conf_id {
	uint32_t rep;
	uint32_t seq;
	uint32_t rep_inc;
};

static inline int ring_conf_id_eq(const struct ring_conf_id *a,
				  const struct ring_conf_id *b)
{
	return a->rep == b->rep && a->rep_inc == b->rep_inc && a->seq == b->seq;
}

/* A message to deliver; data is borrowed for the call. */
struct ring_delivery {
	uint32_t origin; /* the daemon that submitted it */
	enum ring_service service;
	struct ring_conf_id conf; /* the configuration it is delivered in */
	int transitional;         /* 1: delivered in a transitional one */
	const uint8_t *data;
	size_t len;
};

/* A configuration change: a transitional configuration (the members that
 * came with this daemon from its last regular configuration) precedes
 * every regular one but the first. Members are in ring order (ids
 * ascending), which is every daemon's order. */
struct ring_conf {
	int transitional;
	struct ring_conf_id id;
	unsigned n_members;
	const uint32_t *members;
};

enum ring_state {
	RING_OPERATIONAL = 0,
	RING_GATHER,
	RING_COMMIT,
	RING_RECOVERY,
	RING_STATE_N
};

struct ring_event; /* ring_log.h */

struct ring_io {
	void *ctx;
	/* Sends len bytes to daemon `to`, or to all of them (not to the
	 * sender itself) for RING_BROADCAST. Best effort. */
	void (*send)(void *ctx, uint32_t to, const uint8_t *pkt, size_t len);
	void (*deliver)(void *ctx, const struct ring_delivery *d);
	void (*conf)(void *ctx, const struct ring_conf *c);
	/* Optional: a log event (ring_log.h formats it). */
	void (*event)(void *ctx, const struct ring_event *e);
};

struct ring;

/* Fills c with the defaults; my_id, incarnation and members stay empty. */
void ring_config_defaults(struct ring_config *c);

/* Checks c; on error returns RING_EINVAL and writes why into err. */
int ring_config_check(const struct ring_config *c, char *err, size_t errlen);

/* Creates an instance in the gather state at time now (ms, any monotonic
 * origin). Returns 0 and *out, or a negative error (and *out NULL). */
int ring_create(const struct ring_config *c, const struct ring_io *io,
		int64_t now, struct ring **out);

/* Frees the instance and everything it owns; NULL is allowed. */
void ring_destroy(struct ring *r);

/* A received datagram. `from` is the sender's address as the shell knows
 * it (chorusd: IPv4, host order), 0 if unknown; a packet whose sender
 * field disagrees is dropped. Bad packets are counted and dropped. */
void ring_input_packet(struct ring *r, int64_t now, uint32_t from,
		       const uint8_t *pkt, size_t len);

/* Time passes: handles every deadline that is due. */
void ring_input_tick(struct ring *r, int64_t now);

/* Queues a message of len <= max_payload bytes (copied). Returns 0, or
 * RING_EAGAIN when the send queue is full (back-pressure), RING_EINVAL. */
int ring_submit(struct ring *r, int64_t now, const void *data, size_t len,
		enum ring_service service);

/* Packing: bytes ring_append() can add to the message submitted last,
 * if it is still in the send queue (not yet sent) and has this service
 * (unreliable counts as reliable); 0 otherwise. */
size_t ring_append_room(const struct ring *r, enum ring_service service);

/* Appends len bytes (copied) to that message: to the protocol it is as
 * if the message had been submitted with them. Returns 0, or RING_EINVAL
 * if they do not fit or the service differs (ring_append_room() said). */
int ring_append(struct ring *r, const void *data, size_t len,
		enum ring_service service);

/* The earliest deadline (ms, same clock as now), or -1 for none. The shell
 * calls ring_input_tick() at that time at the latest. */
int64_t ring_next_deadline(const struct ring *r);

/* Messages submitted and not yet sent, and free places in the queue. */
unsigned ring_send_queue_len(const struct ring *r);
unsigned ring_send_queue_room(const struct ring *r);

/* 1 if pkt (a packet the core handed to io.send) is a token: the shell
 * sends it, and what it queued before it, without waiting, so the next
 * member gets the token as early as possible (in the accelerated ring,
 * before the messages that follow it). */
int ring_packet_is_token(const uint8_t *pkt, size_t len);

/* A snapshot for monitors and tests. */
struct ring_status {
	enum ring_state state;
	struct ring_conf_id conf; /* last regular configuration installed */
	unsigned n_members;
	uint32_t members[RING_MAX_MEMBERS];
	uint64_t my_aru, high_seq, delivered, stable;
	unsigned send_queue;
	int is_rep;
	uint32_t high_ring_seq; /* largest ring seq known or created */
};
void ring_get_status(const struct ring *r, struct ring_status *s);

/* Counters: every one only grows. */
struct ring_stats {
	uint64_t pkts_in, pkts_out, bytes_in, bytes_out;
	uint64_t data_in, data_dup, data_out, retrans_out;
	uint64_t tokens_in, tokens_out, token_dups, token_retransmits;
	uint64_t token_holds, rotations;
	uint64_t joins_in, joins_out, commits_in, commits_out, probes_out;
	uint64_t delivered, delivered_trans, confs_regular, confs_trans;
	uint64_t submitted, submit_full, appended;
	uint64_t recovery_msgs_out, recovery_msgs_in;
	uint64_t drops[16];       /* by enum ring_drop (ring_log.h) */
	uint64_t transitions[32]; /* by enum ring_reason (ring_log.h) */
};
const struct ring_stats *ring_get_stats(const struct ring *r);

#endif /* CHORUS_RING_H */
