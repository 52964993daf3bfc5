/*
 * log_sink.c - the writer side of the log benchmark: joins a group, takes
 * chorus-log batches, judges them with the writer bookkeeping of
 * src/proto/batch.c and acknowledges each one, without writing anything.
 * Exits after `lines` new lines (or on a timeout) and prints its rate.
 *
 *   log_sink DAEMON GROUP LINES [TIMEOUT_S]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sp.h"
#include "proto/batch.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static char msg[BATCH_MAX_LEN + 64];
	static struct batch_rx rx[16];
	int nrx = 0;
	char pg[MAX_GROUP_NAME];
	mailbox mb;
	long want, got = 0;
	double t0 = 0, limit;

	if (argc < 4) {
		fprintf(stderr, "usage: log_sink daemon group lines [timeout_s]\n");
		return 2;
	}
	want = atol(argv[3]);
	limit = argc > 4 ? atof(argv[4]) : 120;
	if (SP_connect(argv[1], "sink", 0, 0, &mb, pg) != ACCEPT_SESSION ||
	    SP_join(mb, argv[2]) != 0) {
		fprintf(stderr, "log_sink: cannot connect or join\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (got < want) {
		char sender[MAX_GROUP_NAME], groups[4][MAX_GROUP_NAME];
		service st = DROP_RECV;
		int16 mt;
		int ng, en, ret = SP_receive(mb, &st, sender, 4, &ng, groups, &mt, &en,
					     (int)sizeof(msg), msg);
		struct batch_hdr h;
		struct batch_ack a;
		uint8_t ack[BATCH_ACK_MAX_LEN];
		uint32_t skip;
		uint64_t lost;
		int i, v, n;

		if (ret < 0)
			return 1;
		if (!Is_regular_mess(st) || mt != BATCH_MESS_TYPE ||
		    batch_decode((uint8_t *)msg, (size_t)ret, &h) != BATCH_OK)
			continue;
		if (t0 == 0)
			t0 = now_s();
		for (i = 0; i < nrx && rx[i].stream_id != h.stream_id; i++)
			;
		if (i == nrx && nrx < 16) {
			memset(&rx[nrx], 0, sizeof(rx[0]));
			rx[nrx++].stream_id = h.stream_id;
		}
		v = batch_rx_judge(&rx[i], &h, &skip, &lost);
		if (v == BATCH_V_STORE) {
			got += h.count - skip;
			batch_rx_commit(&rx[i], &h, lost);
		}
		memset(&a, 0, sizeof(a));
		a.flags = v == BATCH_V_GAP ? BATCH_ACK_F_GAP : 0;
		a.stream_id = h.stream_id;
		a.acked = rx[i].hwm;
		a.batch_id = h.batch_id;
		a.writer = "sink";
		a.writer_len = 4;
		n = batch_ack_encode(&a, ack, sizeof(ack));
		SP_multicast(mb, FIFO_MESS, sender, BATCH_ACK_MESS_TYPE, n, (char *)ack);
		if (now_s() - t0 > limit)
			break;
	}
	printf("log_sink: %ld lines in %.3f s: %.0f lines/s\n", got, now_s() - t0,
	       got / (now_s() - t0));
	SP_disconnect(mb);
	return got < want;
}
