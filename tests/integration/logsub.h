/*
 * logsub.h - a test writer for the log pipeline: a child process that
 * joins a group, takes chorus-log batches, judges them with the writer
 * bookkeeping of src/proto/batch.c (the same code chorus-logd will use),
 * appends what is new to a file and acknowledges it, exactly as
 * docs/log-batch.md asks of a writer. Plain (old-style) messages are
 * appended too. It stands in for chorus-logd until that exists; a test
 * that then runs chorus-logd instead only changes how it starts the
 * writer and reads its output.
 *
 * Its file has one record per stored line:
 *     <stream id, 16 hex> <sequence number> <the line>\n
 * or, for a plain message, "plain - <the message>" (the message ends in
 * its own newline). On start it reads its file back to recover, per
 * stream, the highest sequence number stored, as a real writer recovers
 * from its files; so a restarted subscriber stores each line once.
 *
 * Header-only (static functions) because the Makefile links one fixed
 * helper (harness.c) into integration tests; include it from one test
 * file only.
 */
#ifndef CHORUS_LOGSUB_H
#define CHORUS_LOGSUB_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sp.h"
#include "proto/batch.h"
#include "t.h"

#define LOGSUB_STREAMS 64

struct logsub {
	pid_t pid;
	char daemon[64];
	char group[32];
	char out[256];
	char name[16];
};

/* Cuts a record torn by a kill in mid-write back to the last '\n', as a
 * real writer must before it trusts its file. */
static void logsub_cut_torn(const char *path)
{
	int fd = open(path, O_RDWR);
	off_t end;
	char c;

	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	while (end > 0 && pread(fd, &c, 1, end - 1) == 1 && c != '\n')
		end--;
	if (ftruncate(fd, end) != 0)
		_exit(5);
	close(fd);
}

/* Rebuilds the per-stream high-water marks from the file. */
static int logsub_recover(const char *path, struct batch_rx *rx, int *nrx)
{
	FILE *fp;

	logsub_cut_torn(path);
	fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	*nrx = 0;
	if (!fp)
		return 0;
	while (getline(&line, &cap, fp) > 0) {
		unsigned long long id, seq;
		int i;

		if (sscanf(line, "%16llx %llu ", &id, &seq) != 2)
			continue;
		for (i = 0; i < *nrx && rx[i].stream_id != id; i++)
			;
		if (i == *nrx) {
			if (*nrx == LOGSUB_STREAMS)
				continue;
			memset(&rx[i], 0, sizeof(rx[i]));
			rx[i].stream_id = id;
			(*nrx)++;
		}
		if (seq > rx[i].hwm)
			rx[i].hwm = seq;
	}
	free(line);
	fclose(fp);
	return 0;
}

/* The child: never returns. */
static void logsub_run(const struct logsub *s)
{
	static struct batch_rx rx[LOGSUB_STREAMS];
	static char msg[BATCH_MAX_LEN + 64];
	static char rec[2 * BATCH_MAX_LEN];
	char writer[32];
	int nrx, fd;
	mailbox mb = -1;

	/* Hold nothing of the test's open: chorus-log's stdin pipe must
	 * see its end when the test closes it, and the test harness reads
	 * the case's stdout to its end. */
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, 1);
		close(fd);
	}
	snprintf(writer, sizeof(writer), "logsub-%s", s->name);
	logsub_recover(s->out, rx, &nrx);
	fd = open(s->out, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		_exit(3);
	for (;;) {
		char pg[MAX_GROUP_NAME], sender[MAX_GROUP_NAME], groups[4][MAX_GROUP_NAME];
		service st = DROP_RECV;
		int16 mtype;
		int ng, endian, ret;

		if (mb < 0) {
			if (SP_connect(s->daemon, s->name, 0, 0, &mb, pg) != ACCEPT_SESSION ||
			    SP_join(mb, s->group) != 0) {
				if (mb >= 0)
					SP_disconnect(mb);
				mb = -1;
				usleep(20000);
				continue;
			}
			{
				/* Tell the starter that we are in the group. */
				char ready[300];
				int rfd;

				snprintf(ready, sizeof(ready), "%s.ready", s->out);
				rfd = open(ready, O_WRONLY | O_CREAT, 0644);
				if (rfd >= 0)
					close(rfd);
			}
		}
		ret = SP_receive(mb, &st, sender, 4, &ng, groups, &mtype, &endian,
				 (int)sizeof(msg), msg);
		if (ret < 0) {
			SP_disconnect(mb);
			mb = -1;
			continue;
		}
		/* docs/log-batch.md: acknowledgements have no business on the
		 * log group; any other type is a plain line. */
		if (!Is_regular_mess(st) || mtype == BATCH_ACK_MESS_TYPE)
			continue;
		if (mtype == BATCH_MESS_TYPE) {
			struct batch_hdr h;
			struct batch_ack a;
			uint8_t ack[BATCH_ACK_MAX_LEN];
			uint32_t skip = 0;
			uint64_t lost = 0;
			int i, v, n;

			/* A batch that does not decode is not acknowledged. */
			if (batch_decode((uint8_t *)msg, (size_t)ret, &h) != BATCH_OK)
				continue;
			for (i = 0; i < nrx && rx[i].stream_id != h.stream_id; i++)
				;
			if (i == nrx) {
				if (nrx == LOGSUB_STREAMS)
					continue;
				memset(&rx[i], 0, sizeof(rx[i]));
				rx[i].stream_id = h.stream_id;
				nrx++;
			}
			v = batch_rx_judge(&rx[i], &h, &skip, &lost);
			if (v == BATCH_V_STORE) {
				const char *p = h.payload, *end = h.payload + h.payload_len;
				size_t o = 0;

				for (uint32_t k = 0; k < h.count; k++) {
					const char *nl = memchr(p, '\n', (size_t)(end - p));

					if (k >= skip) {
						o += (size_t)snprintf(rec + o, sizeof(rec) - o,
							"%016" PRIx64 " %" PRIu64 " ",
							h.stream_id, h.first_seq + k);
						memcpy(rec + o, p, (size_t)(nl - p) + 1);
						o += (size_t)(nl - p) + 1;
						if (o > sizeof(rec) - BATCH_MAX_LEN) {
							if (write(fd, rec, o) != (ssize_t)o)
								_exit(4);
							o = 0;
						}
					}
					p = nl + 1;
				}
				if (o && write(fd, rec, o) != (ssize_t)o)
					_exit(4);
				batch_rx_commit(&rx[i], &h, lost);
			}
			memset(&a, 0, sizeof(a));
			a.flags = v == BATCH_V_GAP ? BATCH_ACK_F_GAP : 0;
			a.stream_id = h.stream_id;
			a.acked = rx[i].hwm;
			a.batch_id = h.batch_id;
			a.writer = writer;
			a.writer_len = strlen(writer);
			n = batch_ack_encode(&a, ack, sizeof(ack));
			if (n > 0 && SP_multicast(mb, FIFO_MESS, sender, BATCH_ACK_MESS_TYPE,
						  n, (char *)ack) < 0) {
				SP_disconnect(mb);
				mb = -1;
			}
		} else {
			size_t o = (size_t)snprintf(rec, sizeof(rec), "plain - ");

			memcpy(rec + o, msg, (size_t)ret);
			o += (size_t)ret;
			if (o == 0 || rec[o - 1] != '\n')
				rec[o++] = '\n';
			if (write(fd, rec, o) != (ssize_t)o)
				_exit(4);
		}
	}
}

/* Starts the subscriber on daemon (Spread form) and group, writing to
 * out; returns once it has joined (so nothing sent after is missed). */
static void logsub_start(struct logsub *s, const char *daemon, const char *group,
			 const char *out, const char *name)
{
	char ready[300];

	memset(s, 0, sizeof(*s));
	snprintf(s->daemon, sizeof(s->daemon), "%s", daemon);
	snprintf(s->group, sizeof(s->group), "%s", group);
	snprintf(s->out, sizeof(s->out), "%s", out);
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(ready, sizeof(ready), "%s.ready", out);
	unlink(ready);
	s->pid = fork();
	if (s->pid == 0)
		logsub_run(s);
	for (int i = 0; i < 2000 && access(ready, F_OK) != 0; i++)
		usleep(5000);
	if (access(ready, F_OK) != 0)
		t_fail(__FILE__, __LINE__, "the test subscriber did not join %s", group);
}

/* Like logsub_start, without waiting (the daemon may be down). */
static __attribute__((unused)) void logsub_spawn(struct logsub *s, const char *daemon, const char *group,
			 const char *out, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->daemon, sizeof(s->daemon), "%s", daemon);
	snprintf(s->group, sizeof(s->group), "%s", group);
	snprintf(s->out, sizeof(s->out), "%s", out);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->pid = fork();
	if (s->pid == 0)
		logsub_run(s);
}

/* Sends sig and waits for the process. */
static void logsub_stop(struct logsub *s, int sig)
{
	int status;

	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
}

#endif /* CHORUS_LOGSUB_H */
