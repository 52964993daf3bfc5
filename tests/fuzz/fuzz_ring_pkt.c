/*
 * fuzz_ring_pkt.c - libFuzzer target for the ring's packet decoders
 * (src/ring/ring_pkt.c) and for the core's handling of whatever they
 * accept.
 *
 * Every input goes through the header decoder and the decoder of every
 * type. A packet that decodes is encoded again and must come back byte
 * for byte (the formats have one encoding). Then the input is fed to a
 * ring instance of three configured daemons, as if it came from each of
 * them in turn, with the clock moving on: any crash, sanitizer report or
 * failed assertion is a finding. The ring is rebuilt every 4096 inputs so
 * state left by one input reaches the next ones without growing forever.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring/ring.h"
#include "ring/ring_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[1 << 17];

static void check_same(const uint8_t *data, size_t size, int n)
{
	if (n < 0 || (size_t)n != size || memcmp(out, data, size) != 0)
		abort();
}

static void decoders(const uint8_t *data, size_t size)
{
	static struct ring_token t;
	static struct ring_join j;
	static struct ring_commit k;
	struct ring_hdr h;
	struct ring_data d;
	uint32_t n;

	if (ring_pkt_get_hdr(data, size, &h) != 0)
		return;
	if (ring_pkt_get_data(data, size, &d) == 0)
		check_same(data, size, ring_pkt_put_data(out, sizeof(out), &h, &d));
	if (ring_pkt_get_token(data, size, &t) == 0)
		check_same(data, size, ring_pkt_put_token(out, sizeof(out), &h, &t));
	if (ring_pkt_get_join(data, size, &j) == 0)
		check_same(data, size, ring_pkt_put_join(out, sizeof(out), &h, &j));
	if (ring_pkt_get_commit(data, size, &k) == 0)
		check_same(data, size, ring_pkt_put_commit(out, sizeof(out), &h, &k));
	if (ring_pkt_get_probe(data, size, &n) == 0)
		check_same(data, size, ring_pkt_put_probe(out, sizeof(out), &h, n));
}

static void sink_send(void *ctx, uint32_t to, const uint8_t *p, size_t len)
{
	(void)ctx; (void)to; (void)p; (void)len;
}

static void sink_deliver(void *ctx, const struct ring_delivery *d)
{
	(void)ctx; (void)d;
}

static void sink_conf(void *ctx, const struct ring_conf *c)
{
	(void)ctx; (void)c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ring *r;
	static unsigned runs;
	static int64_t now;
	static const uint32_t ids[3] = { 0x0a000001, 0x0a000002, 0x0a000003 };
	struct ring_io io = { NULL, sink_send, sink_deliver, sink_conf, NULL };

	decoders(data, size);
	if (!r || ++runs % 4096 == 0) {
		struct ring_config c;

		ring_destroy(r);
		r = NULL;
		ring_config_defaults(&c);
		c.my_id = ids[1];
		c.incarnation = 1;
		c.n_members = 3;
		memcpy(c.members, ids, sizeof(ids));
		c.store_slots = 64;
		c.window = 16;
		c.personal_window = 4;
		c.accel_window = 2;
		c.send_queue_max = 16;
		if (ring_create(&c, &io, now, &r) != 0)
			abort();
	}
	for (unsigned i = 0; i < 3; i++) {
		ring_input_packet(r, now, ids[i], data, size);
		now += 37;
		ring_input_tick(r, now);
	}
	ring_submit(r, now, data, size > 64 ? 64 : size, RING_SAFE);
	return 0;
}
