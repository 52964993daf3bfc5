/*
 * fuzz_frag.c - libFuzzer target for the decoders of the ring's shell:
 * piece headers and reassembly (src/daemon/frag.c), frames in network
 * order, and chorus-monitor's status request and reply
 * (src/daemon/status.c).
 *
 * The input is cut into ring messages at 0xff 0xfe markers; the records
 * of each go to one reassembly state as if from origin (first byte % 4),
 * under tag 1, then through the frame and status decoders. A frame that reassembles is
 * decoded to host order and, when that succeeds, encoded back: it must
 * come out byte for byte. A status reply that decodes must encode to the
 * same bytes. Any crash or sanitizer report is a finding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/frag.h"
#include "daemon/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t host[FRAG_MAX_FRAME], net[FRAG_MAX_FRAME];
static uint8_t reply[STATUS_REPLY_MAX];

static void frame_roundtrip(const uint8_t *f, size_t len)
{
	if (frag_frame_from_net(f, len, host) != 0)
		return;
	if (frag_frame_to_net(host, len, net) != 0 || memcmp(net, f, len) != 0)
		abort();
}

static void status_roundtrip(const uint8_t *p, size_t len)
{
	struct status_info s;
	uint32_t nonce;

	status_req_decode(p, len, &nonce);
	if (status_reply_decode(p, len, &nonce, &s) != 0)
		return;
	if (status_reply_encode(reply, nonce, &s) != len ||
	    memcmp(reply, p, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frag_rx rx;
	static unsigned inputs;
	size_t start = 0;

	if (inputs++ % 1024 == 0) {
		frag_rx_free(&rx);
		frag_rx_init(&rx, 200);
	}
	frame_roundtrip(data, size);
	status_roundtrip(data, size);
	for (size_t i = 0; i <= size; i++) {
		const uint8_t *frame;
		size_t flen;
		uint32_t fseq;

		if (i + 1 < size && !(data[i] == 0xff && data[i + 1] == 0xfe))
			continue;
		if (i + 1 >= size)
			i = size;
		for (size_t off = start, used; off < i; off += used) {
			/* used is at least a header, at most what is left */
			if (frag_rx_input(&rx, data[start] % 4, 1, data + off,
					  i - off, &used, &frame, &flen,
					  &fseq) == FRAG_DONE)
				frame_roundtrip(frame, flen);
			if (used == 0 || used > i - off)
				abort();
		}
		start = i + 2;
	}
	return 0;
}
