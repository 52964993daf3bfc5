/*
 * wire.h - codec of the Spread-4 client protocol, shared by chorusd and
 * libchorus.
 *
 * Implements the byte layouts of docs/client-protocol.md: the connect
 * request, authentication list and choice, accept record (handshake), the
 * 48-byte frame header with its endian markers, the daemon's validation of
 * client frames (checks V1..V6 plus the hardening of the original's
 * defects D1..D4), group-name rules, and the well-formedness check of
 * membership bodies (library defect L8).
 *
 * Everything here is pure: no I/O, no allocation, no globals. Decoders
 * take an explicit length and never read past it.
 */
#ifndef CHORUS_WIRE_H
#define CHORUS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_HDR_LEN 48
#define WIRE_NAME_LEN 32
#define WIRE_MAX_GROUPS 100
#define WIRE_MAX_DATA 144000
/* Largest data + 32 * groups that the daemon accepts from a client. */
#define WIRE_MAX_BODY (WIRE_MAX_DATA - WIRE_HDR_LEN)
#define WIRE_MAX_FRAME (WIRE_HDR_LEN + 4 + WIRE_MAX_BODY + WIRE_NAME_LEN)
#define WIRE_MAX_PRIVATE 10
#define WIRE_MAX_DAEMON 19
#define WIRE_AUTH_SLOT 30
#define WIRE_AUTH_SLOTS 3
#define WIRE_AUTH_CHOICE_LEN (WIRE_AUTH_SLOT * WIRE_AUTH_SLOTS)
#define WIRE_AUTH_LIST_MAX 90

/* Service bits used only between the library and the daemon. */
#define WIRE_JOIN 0x00010000u
#define WIRE_LEAVE 0x00020000u
#define WIRE_KILL 0x00040000u
#define WIRE_SERVICES 0x0000003fu
#define WIRE_SELF_DISCARD 0x00000040u
#define WIRE_MARK 0x80000080u
#define WIRE_DROP_RECV 0x01000000u
#define WIRE_REG_MEMB 0x00001000u
#define WIRE_TRANSITION 0x00002000u
#define WIRE_BY_JOIN 0x00000100u
#define WIRE_BY_LEAVE 0x00000200u
#define WIRE_BY_DISCONNECT 0x00000400u
#define WIRE_BY_NETWORK 0x00000800u
#define WIRE_MEMBERSHIP 0x00003f00u
#define WIRE_REJECT 0x00400000u

/* The marker this machine writes: both bits on little-endian machines. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define WIRE_OWN_MARK 0x00000000u
#else
#define WIRE_OWN_MARK 0x80000080u
#endif

/* Negative codes sent as one byte during the handshake. */
#define WIRE_REJECT_QUOTA (-3)
#define WIRE_REJECT_ILLEGAL_NAME (-5)
#define WIRE_REJECT_NOT_UNIQUE (-6)
#define WIRE_REJECT_VERSION (-7)
#define WIRE_REJECT_AUTH (-9)

/* A frame header in host order. `type` keeps the writer's marker bits;
 * `hint` is never converted here (its own marker tells its order). */
struct wire_hdr {
	uint32_t type;
	char name[WIRE_NAME_LEN];
	int32_t num_groups;
	uint32_t hint;
	int32_t data_len;
};

static inline uint32_t wire_swap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

/* Decodes the 48 bytes at p. Returns 1 if the writer's byte order differs
 * from ours (type, num_groups and data_len were swapped), else 0. */
int wire_hdr_decode(const uint8_t *p, struct wire_hdr *h);

/* Encodes h at p in our byte order, with our marker on type. The hint is
 * written as given. */
void wire_hdr_encode(const struct wire_hdr *h, uint8_t *p);

/* Converts a hint as received to the 16-bit message type, and tells
 * whether its writer's byte order differs from ours. */
int16_t wire_hint_mess_type(uint32_t hint, int *mismatch);
uint32_t wire_hint_make(int16_t mess_type);

/* What a validated client frame asks for. */
enum wire_kind { WIRE_K_DATA, WIRE_K_JOIN, WIRE_K_LEAVE, WIRE_K_KILL };

/* Why a client frame was refused; the string table is wire_err_str(). */
enum wire_err {
	WIRE_OK = 0,
	WIRE_E_TYPE_BITS,    /* bits outside the whitelist */
	WIRE_E_SERVICE,      /* not exactly one service or one control bit */
	WIRE_E_SENDER,       /* name field is not the session's own */
	WIRE_E_NUM_GROUPS,   /* outside 0..100, or not 1 for join/leave/kill */
	WIRE_E_HINT,         /* bits outside 0x80000080|0x00ffff00 */
	WIRE_E_DATA_LEN,     /* negative, too large, or non-zero on control */
	WIRE_E_TOO_LONG,     /* data + 32 * groups above WIRE_MAX_BODY */
	WIRE_E_GROUP_NAME,   /* join/leave group name breaks the rules */
	WIRE_E_KILL_NAME,    /* disconnect names another session */
	WIRE_E__COUNT
};
const char *wire_err_str(int err);

/* Checks a decoded client header (checks V1..V6 and D1). `own` is the
 * session's private group name, NUL-terminated. On success sets *kind,
 * strips DROP_RECV and replaces the marker with ours; returns WIRE_OK or
 * an enum wire_err. */
int wire_check_client_hdr(struct wire_hdr *h, const char *own,
			  enum wire_kind *kind);

/* Checks the group part of a join/leave/kill frame (D3): the one name
 * field in `group`. */
int wire_check_control_group(enum wire_kind kind, const char *group,
			     const char *own);

/* Length of a 32-byte name field up to its first NUL (at most 32). */
size_t wire_name_len(const char *field);

/* 1 if `field` is a legal group name to join: a NUL within 32 bytes,
 * 1..31 bytes, every byte in 0x24..0x7e. */
int wire_group_name_ok(const char *field);

/* 1 if two 32-byte name fields name the same group (compared up to the
 * first NUL, or all 32 bytes). */
int wire_name_eq(const char *a, const char *b);

/* ---- Handshake ---- */

struct wire_connreq {
	uint8_t major, minor, patch;
	int has_patch;
	int membership;
	int priority;
	int name_len;
	char name[WIRE_MAX_PRIVATE + 1];
};

/* Library versions as one number, major*10000 + minor*100 + patch. */
#define WIRE_VERSION(ma, mi, pa) ((ma) * 10000 + (mi) * 100 + (pa))

/* Parses a connect request from the len bytes at buf. Returns the number
 * of bytes consumed when complete, 0 when more bytes are needed, or a
 * negative reject code (WIRE_REJECT_VERSION, WIRE_REJECT_ILLEGAL_NAME). */
int wire_connreq_parse(const uint8_t *buf, size_t len,
		       struct wire_connreq *req);

/* Writes the library's connect request; returns its length (5..15). */
size_t wire_connreq_encode(uint8_t *out, const char *name, int membership,
			   int priority);

/* 1 if every byte of name[0..len) may appear in a private name. */
int wire_private_name_ok(const char *name, size_t len);

/* Parses the 90-byte authentication choice into up to 3 distinct method
 * names (each NUL-terminated, at most 29 characters). Returns the count,
 * or -1 if a used slot has no NUL or a slot follows an empty one with text. */
int wire_authchoice_parse(const uint8_t *choice,
			  char names[WIRE_AUTH_SLOTS][WIRE_AUTH_SLOT]);

/* Writes the accept record for private group pg into out (at least 36
 * bytes); returns its length. */
size_t wire_accept_encode(uint8_t *out, int with_patch, const char *pg);

/* ---- Membership bodies ---- */

#define WIRE_MEMB_FIXED 20 /* gid (12) + num_vs_sets + local_vs_offset */

/* Checks a regular-membership body of len bytes, in the writer's order
 * (swap != 0 means its integers must be byte-swapped). If ok and swap,
 * swaps the integers in place. Returns 0 if well formed, -1 if not:
 * every set must fit, the sets must end exactly at len, and
 * local_vs_offset must land on a set boundary. */
int wire_memb_body_fix(uint8_t *body, size_t len, int swap);

#endif /* CHORUS_WIRE_H */
