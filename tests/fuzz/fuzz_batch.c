/*
 * fuzz_batch.c - libFuzzer target for the log batch codec: every input is
 * decoded as a batch and as an acknowledgement. A batch that decodes is
 * judged against a few writer states and re-encoded, and must come out
 * byte-identical in its fixed header and payload (extension bytes aside;
 * held_below survives, 0 for a batch without it);
 * an acknowledgement likewise. Any crash, out-of-bounds read or
 * inconsistency aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_batch(const uint8_t *data, size_t size)
{
	static uint8_t out[BATCH_MAX_LEN + 1024];
	struct batch_hdr h, h2;
	int n;

	if (batch_decode(data, size, &h) != BATCH_OK)
		return;
	if (h.payload < (const char *)data ||
	    h.payload + h.payload_len != (const char *)data + size)
		abort();
	for (uint64_t hwm = 0; hwm < 3; hwm++) {
		struct batch_rx rx;
		uint32_t skip;
		uint64_t lost;

		memset(&rx, 0, sizeof(rx));
		rx.stream_id = h.stream_id;
		rx.hwm = hwm ? h.first_seq - 1 + hwm : 0;
		if (batch_rx_judge(&rx, &h, &skip, &lost) == BATCH_V_STORE) {
			if (skip >= h.count)
				abort();
			/* Never skip lines the sender says it holds. */
			if (lost && h.held_below > rx.hwm)
				abort();
			batch_rx_commit(&rx, &h, lost);
			if (rx.hwm != h.first_seq + h.count - 1)
				abort();
		}
	}
	if (size > sizeof(out))
		return;
	n = batch_hdr_encode(&h, out, sizeof(out));
	if (n < 0 || (size_t)n + h.payload_len > sizeof(out))
		abort();
	memcpy(out + n, h.payload, h.payload_len);
	if (batch_decode(out, (size_t)n + h.payload_len, &h2) != BATCH_OK ||
	    h2.first_seq != h.first_seq || h2.count != h.count ||
	    h2.stream_id != h.stream_id || h2.payload_len != h.payload_len ||
	    !h2.has_held_below || h2.held_below != h.held_below ||
	    memcmp(h2.payload, h.payload, h.payload_len) != 0)
		abort();
}

static void check_ack(const uint8_t *data, size_t size)
{
	uint8_t out[BATCH_ACK_MAX_LEN];
	struct batch_ack a, b;
	int n;

	if (batch_ack_decode(data, size, &a) != BATCH_OK)
		return;
	n = batch_ack_encode(&a, out, sizeof(out));
	if (n < 0 || batch_ack_decode(out, (size_t)n, &b) != BATCH_OK ||
	    b.flags != a.flags || b.stream_id != a.stream_id ||
	    b.acked != a.acked || b.batch_id != a.batch_id ||
	    b.writer_len != a.writer_len ||
	    memcmp(b.writer, a.writer, a.writer_len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_batch(data, size);
	check_ack(data, size);
	return 0;
}
