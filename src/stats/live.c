/*
 * live.c - live mode (see live.h): a poll loop around libchorus. Each
 * iteration reads the clock once, waits for the mailbox or the next
 * flush, takes one message, and counts its new lines.
 */
#include "stats/live.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/batch.h"
#include "sp.h"
#include "chorus.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct batch_rx *stream_of(struct live_streams *s, uint64_t id, uint64_t first)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (s->rx[i].stream_id == id)
			return &s->rx[i];
	if (s->n == LIVE_STREAMS)
		return NULL;
	struct batch_rx *r = &s->rx[s->n++];
	memset(r, 0, sizeof(*r));
	r->stream_id = id;
	/* Lines before the first batch seen were sent before we joined. */
	r->hwm = first - 1;
	return r;
}

static int feed_lines(struct feed *f, const char *node, size_t node_len, const char *p,
		      size_t len, uint32_t skip)
{
	const char *end = p + len;
	uint32_t k = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (k++ >= skip && feed_line(f, node, node_len, "live", 0, p, ll) != 0)
			return -1;
		p += ll + (nl ? 1 : 0);
	}
	return 0;
}

int live_run(const struct live_opts *o, int (*flush)(void *arg), void *arg, char *err,
	     size_t errlen)
{
	char *msg = malloc(BATCH_MAX_LEN + 1024);
	struct live_streams *st = o->streams;
	mailbox mb = -1;
	int ret = -1;
	int64_t next = now_ms() + (int64_t)o->interval_s * 1000;
	int64_t retry = 0;

	if (!msg || !st->rx) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	while (!*o->stop) {
		int64_t t = now_ms();

		if (t >= next) {
			if (flush(arg) != 0)
				fprintf(stderr, "chorus-stats: writing the reports failed\n");
			next = t + (int64_t)o->interval_s * 1000;
		}
		if (mb < 0 && t >= retry) {
			char pg[MAX_GROUP_NAME];
			int rc = SP_connect(o->daemon, NULL, 0, 0, &mb, pg);

			if (rc != ACCEPT_SESSION) {
				mb = -1;
				retry = t + 1000;
			} else if (SP_join(mb, o->group) != 0) {
				SP_disconnect(mb);
				mb = -1;
				retry = t + 1000;
			} else if (o->ready_file) {
				int fd = open(o->ready_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

				if (fd >= 0)
					close(fd);
			}
			if (mb < 0)
				fprintf(stderr, "chorus-stats: cannot join %s on %s%s%s; "
					"retrying\n", o->group, o->daemon,
					chorus_tls_error()[0] ? ": " : "", chorus_tls_error());
		}
		int64_t wait = next - t;
		if (mb < 0 && retry - t < wait)
			wait = retry - t;
		if (wait < 0)
			wait = 0;
		struct pollfd pfd = { mb, POLLIN, 0 };
		/* Bytes the library already holds (TLS) do not wake poll(). */
		int pr = mb >= 0 && SP_poll(mb) > 0 ? 1 :
			 poll(&pfd, mb >= 0 ? 1 : 0, (int)(wait > 1000 ? 1000 : wait));
		if (pr < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			goto out;
		}
		if (pr <= 0 || mb < 0)
			continue;
		char sender[MAX_GROUP_NAME], groups[4][MAX_GROUP_NAME];
		service sv = DROP_RECV;
		int16 mtype;
		int ng, endian;
		int n = SP_receive(mb, &sv, sender, 4, &ng, groups, &mtype, &endian,
				   BATCH_MAX_LEN + 1024, msg);
		if (n < 0) {
			fprintf(stderr, "chorus-stats: connection to %s lost; reconnecting\n",
				o->daemon);
			SP_disconnect(mb);
			mb = -1;
			retry = t + 200;
			continue;
		}
		if (!Is_regular_mess(sv) || mtype == BATCH_ACK_MESS_TYPE)
			continue;
		if (mtype == BATCH_MESS_TYPE) {
			struct batch_hdr h;
			uint32_t skip = 0;
			uint64_t lost = 0;

			if (batch_decode((const uint8_t *)msg, (size_t)n, &h) != BATCH_OK) {
				agg_malformed(o->feed->agg, LF_R_BAD_FIELD, "live batch", 0, "",
					      0);
				continue;
			}
			struct batch_rx *rx = stream_of(st, h.stream_id, h.first_seq);
			if (!rx)
				continue;
			if (batch_rx_judge(rx, &h, &skip, &lost) != BATCH_V_STORE)
				continue;
			if (feed_lines(o->feed, h.node, h.node_len, h.payload, h.payload_len,
				       skip) != 0) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			batch_rx_commit(rx, &h, lost);
		} else {
			/* A plain line: its first word is the node. */
			int tok = o->feed->node_token;

			o->feed->node_token = 1;
			int rc = feed_lines(o->feed, "", 0, msg, (size_t)n, 0);
			o->feed->node_token = tok;
			if (rc != 0) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
		}
	}
	ret = 0;
	if (flush(arg) != 0)
		fprintf(stderr, "chorus-stats: writing the reports failed\n");
out:
	if (mb >= 0)
		SP_disconnect(mb);
	free(msg);
	return ret;
}
