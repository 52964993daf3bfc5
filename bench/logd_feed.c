/*
 * logd_feed.c - the sending side of the chorus-logd benchmark: several
 * chorus-log streams at once, built in memory (~220-byte combined lines
 * in batches of about 128 KiB, as chorus-log makes them), sent through
 * the daemon as fast as the writer acknowledges them, with a window of
 * unacknowledged bytes per stream as chorus-log keeps one. Each stream's
 * batch payload is built once and sent again with new sequence numbers,
 * so the feeder spends its time sending, not formatting. It measures
 * the writer: the time from the first batch to the acknowledgement of the
 * last line, which the writer sends only once the lines are written and
 * committed under its fsync policy.
 *
 *   logd_feed DAEMON GROUP STREAMS LINES_PER_STREAM [WINDOW_KB] [TIMEOUT_S]
 *
 * Prints "logd_feed: N lines, B bytes, S s" on success.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp.h"
#include "chorus.h"
#include "proto/batch.h"

#define MAX_STREAMS 64
#define BATCH_PAYLOAD (128 * 1024)

struct fstream {
	uint64_t id, next, acked, batch_id;
	uint64_t bytes_sent_unacked;
	char node[16];
	uint8_t *batch;            /* header space + the payload, built once */
	size_t payload_len;
	uint32_t count;            /* lines in the payload */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Line seq of stream s into out; returns its length. */
static int make_line(char *out, size_t cap, int s, uint64_t seq)
{
	return snprintf(out, cap,
			"192.0.2.%d - - [01/Jan/2025:00:00:%02d +0000] \"GET /debian/pool/main/"
			"p/pkg/pkg_%" PRIu64 "_amd64.deb HTTP/1.1\" 200 %d \"-\" \"Debian "
			"APT-HTTP/1.3 (2.6.1) non-interactive\" node%d\n",
			(int)(seq % 250), (int)(seq % 60), seq, (int)(1000 + seq % 90000), s);
}

int main(int argc, char **argv)
{
	static struct fstream st[MAX_STREAMS];
	static char msg[BATCH_ACK_MAX_LEN + 1024];
	char pg[MAX_GROUP_NAME];
	int nstreams;
	uint64_t per, window, total_bytes = 0, total_lines;
	double t0, limit;
	mailbox mb;

	if (argc < 5) {
		fprintf(stderr, "usage: logd_feed daemon group streams lines_per_stream "
			"[window_kb] [timeout_s]\n");
		return 2;
	}
	nstreams = atoi(argv[3]);
	per = strtoull(argv[4], NULL, 10);
	window = (argc > 5 ? strtoull(argv[5], NULL, 10) : 4096) * 1024;
	limit = argc > 6 ? atof(argv[6]) : 300;
	if (nstreams < 1 || nstreams > MAX_STREAMS || per < 1) {
		fprintf(stderr, "logd_feed: 1..%d streams, at least one line\n", MAX_STREAMS);
		return 2;
	}
	if (SP_connect(argv[1], "feed", 0, 0, &mb, pg) != ACCEPT_SESSION) {
		fprintf(stderr, "logd_feed: cannot connect to %s\n", argv[1]);
		return 1;
	}
	chorus_set_send_buffer(mb, 1 << 20);
	for (int i = 0; i < nstreams; i++) {
		struct fstream *s = &st[i];
		size_t hl, o;

		s->id = 0x1000 + (uint64_t)i;
		s->next = 1;
		snprintf(s->node, sizeof(s->node), "node%d", i);
		s->batch = malloc(BATCH_MAX_LEN);
		if (!s->batch)
			return 1;
		hl = o = batch_hdr_len(strlen(s->node));
		while (o + 400 < hl + BATCH_PAYLOAD)
			o += (size_t)make_line((char *)s->batch + o, BATCH_MAX_LEN - o, i,
					       s->count++ + 1);
		s->payload_len = o - hl;
	}
	/* Whole batches: round the lines of a stream up. */
	per = (per + st[0].count - 1) / st[0].count * st[0].count;
	total_lines = per * (uint64_t)nstreams;
	t0 = now_s();
	for (;;) {
		int done = 1, sent = 0;

		for (int i = 0; i < nstreams; i++) {
			struct fstream *s = &st[i];
			struct batch_hdr h;
			size_t hl = batch_hdr_len(strlen(s->node)), o = hl + s->payload_len;
			uint32_t count = s->count;

			if (s->acked < per)
				done = 0;
			if (s->next > per || s->bytes_sent_unacked >= window)
				continue;
			memset(&h, 0, sizeof(h));
			h.stream_id = s->id;
			h.batch_id = ++s->batch_id;
			h.first_seq = s->next;
			h.count = count;
			h.base_seq = 1;
			h.time_ms = 1735689600000ull;
			h.node = s->node;
			h.node_len = strlen(s->node);
			h.payload_len = s->payload_len;
			batch_hdr_encode(&h, s->batch, hl);
			if (SP_multicast(mb, AGREED_MESS, argv[2], BATCH_MESS_TYPE, (int)o,
					 (const char *)s->batch) < 0) {
				fprintf(stderr, "logd_feed: send failed\n");
				return 1;
			}
			s->next += count;
			s->bytes_sent_unacked += o - hl;
			total_bytes += o - hl;
			sent = 1;
		}
		if (done)
			break;
		if (now_s() - t0 > limit) {
			fprintf(stderr, "logd_feed: timeout\n");
			return 1;
		}
		chorus_flush(mb);
		/* Take acknowledgements; wait for one when nothing could go. */
		while (!sent || SP_poll(mb) > 0) {
			char sender[MAX_GROUP_NAME], groups[4][MAX_GROUP_NAME];
			service sv = DROP_RECV;
			int16 mtype = 0;
			int ng = 0, endian = 0;
			int ret = SP_receive(mb, &sv, sender, 4, &ng, groups, &mtype, &endian,
					     (int)sizeof(msg), msg);
			struct batch_ack a;

			if (ret < 0) {
				fprintf(stderr, "logd_feed: receive failed\n");
				return 1;
			}
			sent = 1;
			if (!Is_regular_mess(sv) || mtype != BATCH_ACK_MESS_TYPE ||
			    batch_ack_decode((uint8_t *)msg, (size_t)ret, &a) != BATCH_OK)
				continue;
			for (int i = 0; i < nstreams; i++) {
				struct fstream *s = &st[i];

				if (s->id != a.stream_id || a.acked <= s->acked)
					continue;
				/* Lines are about the same size: scale the window. */
				s->bytes_sent_unacked = s->next - 1 > a.acked ?
					s->bytes_sent_unacked * (s->next - 1 - a.acked) /
					(s->next - 1 - s->acked) : 0;
				s->acked = a.acked;
			}
		}
	}
	for (int i = 0; i < nstreams; i++)
		free(st[i].batch);
	printf("logd_feed: %" PRIu64 " lines, %" PRIu64 " bytes, %.3f s\n", total_lines,
	       total_bytes, now_s() - t0);
	SP_disconnect(mb);
	return 0;
}
