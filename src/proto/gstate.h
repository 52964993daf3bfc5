/*
 * gstate.h - codec of the group-state exchange messages that chorusd
 * daemons send each other after every regular configuration change
 * (docs/client-protocol.md, "Groups across daemons").
 *
 * A message is the body of a frame of type 0x00080000 (Spread's
 * daemon-internal group-state bit, never valid from a client). Every
 * integer is big-endian, whatever the sender's byte order:
 *
 *   offset size field
 *   0      4    magic 0x43475358 ("CGSX")
 *   4      1    version (1)
 *   5      1    flags: bit 0 = the last message of this sender's series
 *   6      2    reserved, 0
 *   8      4    sender daemon id
 *   12     8    regular configuration id (proc, time) the state is for
 *   20     8    the sender's previous regular configuration id
 *   28     4    seq: index of this message in the sender's series, from 0
 *   32     4    number of group entries
 *   36     ...  group entries, back to back:
 *          32   group name, NUL-padded (a legal group name)
 *          12   the sender's group id (three i32)
 *          1    flags: bit 0 = changed (a configuration change touched
 *               the group since its members' last view); bit 1 = fresh
 *               (these members joined while the sender's table was not
 *               known to match, and have had no view of the group)
 *          1    reserved, 0
 *          2    n_daemons (at most GSTATE_MAX_DAEMONS)
 *          4*n  ids of the daemons holding members in the sender's table
 *          4    n_own (at least 1)
 *          32*n the sender's own members' private names, strictly
 *               ascending (strncmp over 32 bytes), each NUL-padded
 *
 * Everything here is pure: no I/O, no allocation, no globals. The decoder
 * never reads past the length it is given and accepts exactly what the
 * encoder writes.
 */
#ifndef CHORUS_GSTATE_H
#define CHORUS_GSTATE_H

#include <stddef.h>
#include <stdint.h>

#define GSTATE_MAGIC 0x43475358u
#define GSTATE_VERSION 1
#define GSTATE_F_LAST 0x01
#define GSTATE_G_CHANGED 0x01
#define GSTATE_G_FRESH 0x02 /* the members joined without a view yet */
#define GSTATE_HDR_LEN 36
#define GSTATE_NAME_LEN 32
#define GSTATE_MAX_DAEMONS 128
/* The encoder keeps a message body within this size. */
#define GSTATE_MAX_BODY 65536
/* A group entry of n_daemons daemons and n_own members. */
#define GSTATE_ENTRY_LEN(nd, no) \
	(GSTATE_NAME_LEN + 12 + 4 + 4 * (size_t)(nd) + 4 + GSTATE_NAME_LEN * (size_t)(no))

enum gstate_err {
	GSTATE_OK = 0,
	GSTATE_E_SHORT,    /* fewer bytes than the fields need */
	GSTATE_E_MAGIC,
	GSTATE_E_VERSION,
	GSTATE_E_RESERVED, /* a reserved field or flag bit is not 0 */
	GSTATE_E_GROUP,    /* a group name breaks the rules */
	GSTATE_E_DAEMONS,  /* too many daemons in an entry */
	GSTATE_E_MEMBERS,  /* no member, a bad name, or not ascending */
	GSTATE_E_TRAILING, /* bytes after the last entry */
	GSTATE_E__COUNT
};
const char *gstate_err_str(int err);

struct gstate_hdr {
	uint8_t flags;
	uint32_t sender;
	int32_t conf[2];
	int32_t prev[2];
	uint32_t seq;
	uint32_t n_groups;
};

/* A decoded group entry; the pointers point into the decoded buffer. */
struct gstate_group {
	const char *name;       /* 32 bytes */
	int32_t gid[3];
	uint8_t flags;
	unsigned n_daemons;
	const uint8_t *daemons; /* n_daemons big-endian u32 */
	unsigned n_own;
	const char *own;        /* n_own x 32 bytes */
};

/* Walks a message: gstate_open() checks the header, then each
 * gstate_next() yields one entry. */
struct gstate_iter {
	const uint8_t *p, *end;
	uint32_t left;
};

/* Decodes the header of the len bytes at buf and prepares `it`. Returns
 * GSTATE_OK or an enum gstate_err. */
int gstate_open(const uint8_t *buf, size_t len, struct gstate_hdr *h,
		struct gstate_iter *it);
/* Decodes the next entry into *g. Returns 1 for an entry, 0 at a clean
 * end, or a negative enum gstate_err (negated). */
int gstate_next(struct gstate_iter *it, struct gstate_group *g);
/* Checks a whole message; GSTATE_OK or an enum gstate_err. */
int gstate_check(const uint8_t *buf, size_t len);
/* The n-th daemon id of an entry. */
uint32_t gstate_daemon(const struct gstate_group *g, unsigned n);

/* Encoding: gstate_put_hdr() writes the 36 header bytes (n_groups as
 * given; gstate_set_count() fixes it later). gstate_put_entry() writes the
 * fixed part of an entry at p (up to and with n_own) and returns its
 * length; the caller then writes n_own names with gstate_put_name(). The
 * caller sizes the buffer (GSTATE_ENTRY_LEN). */
void gstate_put_hdr(uint8_t *buf, const struct gstate_hdr *h);
void gstate_set_count(uint8_t *buf, uint32_t n_groups);
void gstate_set_last(uint8_t *buf);
size_t gstate_put_entry(uint8_t *p, const char *name, const int32_t gid[3],
			uint8_t flags, const uint32_t *daemons,
			unsigned n_daemons, unsigned n_own);
void gstate_put_name(uint8_t *p, const char *field);

#endif /* CHORUS_GSTATE_H */
