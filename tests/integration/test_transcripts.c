/*
 * test_transcripts.c - replays the client side of sessions recorded
 * against a real Spread 4.4 daemon and checks that chorusd answers with
 * the same bytes.
 *
 * Compared exactly: every header field, the handshake, the data. Compared
 * up to the first NUL: name fields (the original leaves stale bytes after
 * it). Not compared: the time word of group ids (the daemon's start time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "proto/wire.h"
#include "t.h"

struct stream {
	uint8_t *b;
	size_t len, pos;
};

static void load(struct stream *s, const char *name, const char *dir_suffix)
{
	const char *dir = t_transcripts_dir();
	char path[512];

	if (!dir)
		t_skip("transcripts not found (set CHORUS_TRANSCRIPTS)");
	snprintf(path, sizeof(path), "%s/%s.%s.bin", dir, name, dir_suffix);
	s->b = t_read_file(path, &s->len);
	s->pos = 0;
}

/* Length of the frame at the front of a daemon-to-client stream. */
static size_t d2c_frame_len(const uint8_t *p)
{
	struct wire_hdr h;

	wire_hdr_decode(p, &h);
	return WIRE_HDR_LEN + ((h.type & WIRE_REJECT) ? 4 : 0) +
	       (size_t)h.num_groups * 32 + (size_t)h.data_len;
}

static void compare_frames(const uint8_t *want, const uint8_t *got, size_t len)
{
	struct wire_hdr hw, hg;
	size_t pos;

	wire_hdr_decode(want, &hw);
	wire_hdr_decode(got, &hg);
	T_EQ(hg.type, hw.type);
	T_ASSERTF(wire_name_eq(hg.name, hw.name), "name %.32s vs %.32s",
		  hg.name, hw.name);
	T_EQ(hg.num_groups, hw.num_groups);
	T_EQ(hg.hint, hw.hint);
	T_EQ(hg.data_len, hw.data_len);
	pos = WIRE_HDR_LEN;
	for (int i = 0; i < hw.num_groups; i++, pos += 32)
		T_ASSERTF(wire_name_eq((const char *)got + pos,
				       (const char *)want + pos),
			  "group %d: %.32s vs %.32s", i, got + pos, want + pos);
	if (hw.type & WIRE_REG_MEMB) {
		/* Group id: proc and index exact, time free. */
		T_MEMEQ(got + pos, want + pos, 4);
		T_MEMEQ(got + pos + 8, want + pos + 8, 12);
		pos += 20;
		while (pos < len) {
			uint32_t n;

			memcpy(&n, want + pos, 4);
			T_MEMEQ(got + pos, want + pos, 4);
			pos += 4;
			for (uint32_t k = 0; k < n; k++, pos += 32)
				T_ASSERT(wire_name_eq((const char *)got + pos,
						      (const char *)want + pos));
		}
	} else {
		T_MEMEQ(got + pos, want + pos, len - pos);
	}
}

static void replay(const char *name, int use_unix)
{
	struct stream c2d, d2c;
	struct hd d;
	uint8_t got[4096];
	struct wire_connreq req;
	int fd, n, frames = 0;

	load(&c2d, name, "c2d");
	load(&d2c, name, "d2c");
	hd_start(&d, NULL);
	fd = use_unix ? raw_unix(&d) : raw_tcp(&d);
	T_ASSERT(fd >= 0);
	/* Handshake: request, list, choice, accept record. */
	n = wire_connreq_parse(c2d.b, c2d.len, &req);
	T_ASSERT(n > 0);
	raw_send(fd, c2d.b, (size_t)n);
	c2d.pos = (size_t)n;
	T_EQ(raw_recv(fd, got, 1 + d2c.b[0], 2000), 1 + d2c.b[0]);
	T_MEMEQ(got, d2c.b, 1 + (size_t)d2c.b[0]);
	d2c.pos = 1 + d2c.b[0];
	raw_send(fd, c2d.b + c2d.pos, 90);
	c2d.pos += 90;
	{
		size_t alen = 5 + d2c.b[d2c.pos + 4];

		T_EQ(raw_recv(fd, got, alen, 2000), (ssize_t)alen);
		T_MEMEQ(got, d2c.b + d2c.pos, alen);
		d2c.pos += alen;
	}
	/* Frames: send one, read the daemon's answer to it, if any. */
	while (c2d.pos + WIRE_HDR_LEN <= c2d.len) {
		struct wire_hdr h;
		size_t flen;

		wire_hdr_decode(c2d.b + c2d.pos, &h);
		flen = WIRE_HDR_LEN + (size_t)h.num_groups * 32 + (size_t)h.data_len;
		raw_send(fd, c2d.b + c2d.pos, flen);
		c2d.pos += flen;
		if (h.type & WIRE_KILL)
			break;
		if (d2c.pos < d2c.len) {
			size_t want = d2c_frame_len(d2c.b + d2c.pos);
			ssize_t r = raw_read_frame(fd, got, sizeof(got), 2000);

			T_EQ(r, (ssize_t)want);
			compare_frames(d2c.b + d2c.pos, got, want);
			d2c.pos += want;
			frames++;
		}
	}
	T_EQ(d2c.pos, d2c.len);
	T_ASSERT(frames >= 3);
	T_ASSERT(raw_wait_closed(fd, 2000));
	close(fd);
	free(c2d.b);
	free(d2c.b);
	hd_stop(&d);
}

static void session_tcp(void)
{
	replay("session_tcp", 0);
}

static void session_unix(void)
{
	replay("session_unix", 1);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(session_tcp),
		T_CASE(session_unix),
	};
	return t_main(argc, argv, cases, T_COUNT(cases));
}
