/*
 * fuzz_gstate.c - libFuzzer target for the group-state exchange codec
 * (src/proto/gstate.c) and its consumer (src/daemon/gview.c).
 *
 * Every input is decoded as a state message. One that decodes is
 * re-encoded entry by entry and must come out byte-identical. Then the
 * input is fed, as the state of a daemon of a two-daemon configuration, to
 * a view in the middle of an exchange, followed by the other daemon's own
 * valid message: the view must end the exchange without crashing, and any
 * malformed or out-of-sequence input must count as bad. Any crash,
 * out-of-bounds read or inconsistency aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/gview.h"
#include "proto/gstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *out_buf;
static size_t out_len;

static int keep_submit(void *ctx, const uint8_t *body, size_t len)
{
	(void)ctx;
	free(out_buf);
	out_buf = malloc(len);
	if (!out_buf)
		abort();
	memcpy(out_buf, body, len);
	out_len = len;
	return 0;
}

static void drop_data(void *ctx, void *m)
{
	(void)ctx;
	(void)m;
}

static void reencode(const uint8_t *data, size_t size)
{
	struct gstate_hdr h;
	struct gstate_iter it;
	struct gstate_group g;
	uint8_t *buf;
	size_t len = GSTATE_HDR_LEN;
	int r;

	if (gstate_check(data, size) != GSTATE_OK)
		return;
	if (gstate_open(data, size, &h, &it) != GSTATE_OK)
		abort();
	buf = malloc(size + 1);
	if (!buf)
		abort();
	gstate_put_hdr(buf, &h);
	while ((r = gstate_next(&it, &g)) > 0) {
		uint32_t d[GSTATE_MAX_DAEMONS];

		for (unsigned i = 0; i < g.n_daemons; i++)
			d[i] = gstate_daemon(&g, i);
		if (len + GSTATE_ENTRY_LEN(g.n_daemons, g.n_own) > size)
			abort();
		len += gstate_put_entry(buf + len, g.name, g.gid, g.flags, d,
					g.n_daemons, g.n_own);
		for (unsigned i = 0; i < g.n_own; i++, len += GSTATE_NAME_LEN)
			gstate_put_name(buf + len, g.own + (size_t)i * GSTATE_NAME_LEN);
	}
	if (r != 0 || len != size || memcmp(buf, data, size) != 0)
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gview v;
	struct gv_out out = { .submit = keep_submit, .data = drop_data,
			      .discard = drop_data };
	uint32_t order[2] = { 1, 2 };
	struct ord_conf c;
	uint8_t *copy;
	uint64_t bad;

	reencode(data, size);

	/* Daemon 1 in a configuration (1, 2) of id (1, 7); the input comes
	 * as daemon 2's state (the sender field is forced to 2 and the
	 * configuration id to the current one when the header is there,
	 * so the decoder's deeper paths are reached). */
	if (gview_init(&v, 1, order, 2, 64, &out) != 0)
		abort();
	memset(&c, 0, sizeof(c));
	c.memb_proc = 1;
	c.memb_time = 7;
	c.n_daemons = 2;
	c.daemons[0] = 1;
	c.daemons[1] = 2;
	gview_conf(&v, &c);
	if (v.state != GV_EXCH || !out_buf)
		abort();
	copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (size >= GSTATE_HDR_LEN) {
		uint8_t hdr[GSTATE_HDR_LEN];
		struct gstate_hdr h = { .sender = 2, .conf = { 1, 7 } };

		h.flags = copy[5];
		h.seq = 0;
		h.n_groups = (uint32_t)copy[32] << 24 | (uint32_t)copy[33] << 16 |
			     (uint32_t)copy[34] << 8 | copy[35];
		gstate_put_hdr(hdr, &h);
		memcpy(copy + 8, hdr + 8, 24); /* sender, conf, prev, seq */
		memset(copy + 20, 0, 8);
	}
	bad = v.stats.state_bad;
	gview_state(&v, copy, size);
	if (gstate_check(copy, size) != GSTATE_OK && size >= GSTATE_HDR_LEN &&
	    copy[0] == 0x43 && v.stats.state_bad == bad && v.stats.state_stale == 0)
		abort();
	/* Daemon 1's own state, then (if the input did not end daemon 2's
	 * series) a last empty message of daemon 2: the exchange ends. */
	gview_state(&v, out_buf, out_len);
	if (v.state == GV_EXCH) {
		uint8_t last[GSTATE_HDR_LEN];
		struct gstate_hdr h = { .flags = GSTATE_F_LAST, .sender = 2,
					.conf = { 1, 7 }, .seq = v.rx_seq[1] };

		gstate_put_hdr(last, &h);
		gview_state(&v, last, sizeof(last));
	}
	if (v.state != GV_OP)
		abort();
	gview_free(&v);
	free(copy);
	free(out_buf);
	out_buf = NULL;
	return 0;
}
