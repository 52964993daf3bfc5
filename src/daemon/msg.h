/*
 * msg.h - reference-counted frames.
 *
 * A message travels through chorusd as one buffer holding the frame a
 * client will receive: the 48-byte header in the daemon's byte order,
 * then (for a reject) the old type, the group names and the data. The
 * same buffer is queued to every recipient, so a message to a group of a
 * thousand members is stored once.
 *
 * Ownership: msg_new() returns a buffer with one reference, owned by the
 * caller. Every holder (the ordering layer, each output queue) takes its
 * own reference with msg_ref() and drops it with msg_unref(); the last
 * unref frees the buffer.
 */
#ifndef CHORUS_MSG_H
#define CHORUS_MSG_H

#include <stdint.h>
#include <stdlib.h>

struct msg {
	uint32_t refs;
	uint32_t len;
	uint8_t data[];
};

/* A message of len bytes, contents uninitialised; NULL if out of memory. */
static inline struct msg *msg_new(uint32_t len)
{
	struct msg *m = malloc(sizeof(*m) + len);

	if (m) {
		m->refs = 1;
		m->len = len;
	}
	return m;
}

static inline struct msg *msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

static inline void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

#endif /* CHORUS_MSG_H */
