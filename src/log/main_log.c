/*
 * main_log.c - chorus-log, the Apache piped logger (issue 3).
 *
 *   CustomLog "|/usr/bin/chorus-log -g jigdo -s 4803@logger.example.org" combined
 *
 * The main thread is the reader: it moves standard input into the spool
 * as fast as it comes, once for all groups (spool_in.c: it looks at the
 * pipe first, then moves straight from it with splice exactly what the
 * overlong-line rule of linebuf.c keeps, partial lines included, so a
 * kill loses nothing for any group) and wakes the sender thread
 * (sender.c), which splits the spool into lines and does everything that
 * touches the network. On SIGTERM it reads on until
 * end of input (Apache's old children may still write for seconds after
 * a graceful restart), then lets the sender flush within a deadline;
 * whatever is not acknowledged by then stays in the spool and is sent
 * first by the next instance. See chorus-log(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sp.h"
#include "lib/lib.h"
#include "log/clog.h"
#include "log/spool.h"
#include "proto/batch.h"
#include "util/log.h"
#include "util/privdrop.h"

#define READ_CHUNK SPOOL_CHUNK_MAX
#define DEFAULT_SPOOL_ROOT "/var/spool/chorus-log"

static const char usage_text[] =
	"usage: chorus-log -g group [-g group ...] [-h nodename] [-s daemon]\n"
	"                  [-d spooldir] [-m spoolmax] [-l maxline] [-b batchbytes]\n"
	"                  [-t latency_ms] [-w window] [-a acks] [--ack-timeout ms]\n"
	"                  [-T flush_ms] [-i status_s] [-y sync_ms] [-p]\n"
	"                  [-u user[:group]] [--tls-ca file]\n"
	"                  [--tls-cert file --tls-key file]\n";

/* Long options without a short form. */
enum { OPT_ACK_TIMEOUT = 256, OPT_HELP, OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY };

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

/* Parses a size with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int64_t parse_num(const char *opt, const char *s, int64_t min, int64_t max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "chorus-log: %s: %s is not a number in %" PRId64 "..%" PRId64 "\n",
			opt, s, min, max);
		usage();
	}
	return v;
}

/* A group name: 1..31 bytes in 0x24..0x7e, as the daemon accepts. */
static int group_ok(const char *g)
{
	size_t n = strlen(g);

	if (n == 0 || n > MAX_GROUP_NAME - 1)
		return 0;
	for (; *g; g++)
		if ((unsigned char)*g < 0x24 || (unsigned char)*g > 0x7e)
			return 0;
	return 1;
}

static int node_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > CLOG_NODE_MAX)
		return 0;
	for (; *n; n++)
		if ((unsigned char)*n < 0x21 || (unsigned char)*n > 0x7e)
			return 0;
	return 1;
}

/* The grammar of daemon addresses that libchorus accepts (lib_addr_parse
 * in src/lib/sp_connect.c, Spread's section 2.3 plus "/path"), without
 * the name lookup: "" (the default), "/path", "PORT" (the Unix socket
 * /tmp/PORT) or "PORT@HOST", PORT in 0..65535, shorter than 71 bytes.
 * Returns NULL if spec is well formed, else what is wrong. */
static const char *daemon_syntax(const char *spec)
{
	unsigned long port = 0;
	const char *p = spec;

	if (!*spec)
		return NULL;
	if (spec[0] == '/')
		return strlen(spec) < sizeof(((struct sockaddr_un *)0)->sun_path) ?
		       NULL : "socket path too long";
	if (strlen(spec) >= 71)
		return "longer than 70 characters";
	for (; *p >= '0' && *p <= '9'; p++) {
		port = port * 10 + (unsigned long)(*p - '0');
		if (port > 65535)
			return "port above 65535";
	}
	if (p == spec)
		return "no port number (forms: PORT, PORT@HOST, /path)";
	if (*p == 0)
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p++ != '@')
		return "junk after the port (forms: PORT, PORT@HOST, /path)";
	if (*p == 0)
		return "no host after '@'";
	return NULL;
}

/* Checks -s at startup: a malformed address is a configuration error
 * (exit 2); a host name that does not resolve may be a passing DNS
 * failure, so it is reported and chorus-log runs on, spooling and
 * retrying. The rules are libchorus's own: lib_addr_parse() decides. */
static void check_daemon(const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int tls = strncmp(spec, "tls:", 4) == 0;
	const char *bad = daemon_syntax(spec + (tls ? 4 : 0));

	if (tls && !bad && !strchr(spec, '@'))
		bad = "a TLS address needs the host, to check its certificate (tls:PORT@HOST)";
	spec += tls ? 4 : 0;
	if (bad) {
		fprintf(stderr, "chorus-log: -s: bad daemon address \"%s\": %s\n", spec, bad);
		exit(2);
	}
	if (lib_addr_parse(spec, &ss, &len) != 0)
		fprintf(stderr, "chorus-log: -s %s: cannot resolve the host name now; "
			"spooling and retrying\n", spec);
}

static void parse_args(int argc, char **argv, struct clog_config *c)
{
	static const struct option longopts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "node", required_argument, NULL, 'h' },
		{ "daemon", required_argument, NULL, 's' },
		{ "spool-dir", required_argument, NULL, 'd' },
		{ "spool-max", required_argument, NULL, 'm' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "batch-bytes", required_argument, NULL, 'b' },
		{ "latency", required_argument, NULL, 't' },
		{ "window", required_argument, NULL, 'w' },
		{ "acks", required_argument, NULL, 'a' },
		{ "ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT },
		{ "flush-timeout", required_argument, NULL, 'T' },
		{ "status-interval", required_argument, NULL, 'i' },
		{ "sync", required_argument, NULL, 'y' },
		{ "plain", no_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ NULL, 0, NULL, 0 },
	};
	const char *tls[3] = { NULL, NULL, NULL };
	size_t payload_max;
	uint64_t v;
	int ch;

	memset(c, 0, sizeof(*c));
	c->daemon = "4803";
	c->spool_root = DEFAULT_SPOOL_ROOT;
	c->spool_max = 1ull << 30;
	c->max_line = 64 * 1024;
	c->batch_bytes = 128 * 1024;
	c->latency_ms = 200;
	c->window = 32;
	c->acks = 1;
	c->ack_timeout_ms = 3000;
	c->gap_holdoff_ms = 250;
	c->flush_ms = 5000;
	c->status_ms = 3600 * 1000;
	c->sync_ms = 1000;
	while ((ch = getopt_long(argc, argv, "g:h:s:d:m:l:b:t:w:a:T:i:y:pu:", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'g':
			if (!group_ok(optarg)) {
				fprintf(stderr, "chorus-log: bad group name \"%s\" "
					"(1 to 31 characters, no spaces or controls)\n", optarg);
				exit(2);
			}
			if (c->ngroups == CLOG_MAX_GROUPS) {
				fprintf(stderr, "chorus-log: at most %d groups\n",
					CLOG_MAX_GROUPS);
				exit(2);
			}
			c->groups[c->ngroups++] = optarg;
			/* A group given twice gets the lines once. */
			for (int k = 0; k + 1 < c->ngroups; k++)
				if (strcmp(c->groups[k], optarg) == 0) {
					fprintf(stderr, "chorus-log: group %s given twice; "
						"sending to it once\n", optarg);
					c->ngroups--;
					break;
				}
			break;
		case 'h':
			if (!node_ok(optarg)) {
				fprintf(stderr, "chorus-log: bad node name \"%s\" "
					"(1 to 255 printable characters, no spaces)\n", optarg);
				exit(2);
			}
			snprintf(c->node, sizeof(c->node), "%s", optarg);
			break;
		case 's': c->daemon = optarg; break;
		case 'd': c->spool_root = optarg; break;
		case 'm':
			if (parse_size(optarg, 1 << 20, 1ull << 50, &c->spool_max) != 0) {
				fprintf(stderr, "chorus-log: -m: %s is not a size in 1M..1024T\n",
					optarg);
				exit(2);
			}
			break;
		case 'l':
			if (parse_size(optarg, LB_MAX_LINE_MIN, BATCH_MAX_LEN, &v) != 0) {
				fprintf(stderr, "chorus-log: -l: %s is not a size in %u..%u\n",
					optarg, (unsigned)LB_MAX_LINE_MIN, (unsigned)BATCH_MAX_LEN);
				exit(2);
			}
			c->max_line = (size_t)v;
			break;
		case 'b':
			if (parse_size(optarg, 1024, BATCH_MAX_LEN, &v) != 0) {
				fprintf(stderr, "chorus-log: -b: %s is not a size in 1024..%u\n",
					optarg, (unsigned)BATCH_MAX_LEN);
				exit(2);
			}
			c->batch_bytes = (uint32_t)v;
			break;
		case 't': c->latency_ms = parse_num("-t", optarg, 0, 60000); break;
		case 'w': c->window = (uint32_t)parse_num("-w", optarg, 1, 256); break;
		case 'a': c->acks = (unsigned)parse_num("-a", optarg, 1, 16); break;
		case OPT_ACK_TIMEOUT:
			c->ack_timeout_ms = parse_num("--ack-timeout", optarg, 10, 600000);
			break;
		case 'T': c->flush_ms = parse_num("-T", optarg, 0, 3600000); break;
		case 'i': c->status_ms = 1000 * parse_num("-i", optarg, 0, 86400); break;
		case 'y': c->sync_ms = parse_num("-y", optarg, 0, 3600000); break;
		case 'p': c->plain = 1; break;
		case OPT_TLS_CA: tls[0] = optarg; break;
		case OPT_TLS_CERT: tls[1] = optarg; break;
		case OPT_TLS_KEY: tls[2] = optarg; break;
		case 'u': {
			char user[PD_NAME_MAX], group[PD_NAME_MAX], err[256];

			if (pd_parse_spec(optarg, user, sizeof(user), group,
					  sizeof(group), err, sizeof(err)) != 0) {
				fprintf(stderr, "chorus-log: -u: %s\n", err);
				exit(2);
			}
			c->user = optarg;
			break;
		}
		case OPT_HELP:
			fputs(usage_text, stdout);
			exit(0);
		default:
			usage();
		}
	}
	if (optind != argc || c->ngroups == 0)
		usage();
	check_daemon(c->daemon);
	/* The TLS files are read now, before privileges could be dropped. */
	if ((tls[0] || tls[1] || tls[2] || strncmp(c->daemon, "tls:", 4) == 0) &&
	    chorus_set_tls(tls[0], tls[1], tls[2]) != 0) {
		fprintf(stderr, "chorus-log: TLS: %s\n", chorus_tls_error());
		exit(2);
	}
	if (!c->node[0]) {
		char host[HOST_NAME_MAX + 1] = "";

		if (gethostname(host, sizeof(host)) != 0 || !node_ok(host) ||
		    strlen(host) > CLOG_NODE_MAX) {
			fprintf(stderr, "chorus-log: cannot use the host name as node "
				"name; give one with -h\n");
			exit(2);
		}
		snprintf(c->node, sizeof(c->node), "%s", host);
	}
	/* Every line, cut or not, must fit in one message. */
	payload_max = BATCH_MAX_LEN - batch_hdr_len(strlen(c->node)) -
		      (c->plain ? strlen(c->node) + 1 : 0);
	if (c->max_line + 1 > payload_max) {
		fprintf(stderr, "chorus-log: -l: at most %zu bytes with this node name\n",
			payload_max - 1);
		exit(2);
	}
}

/* This boot's id (from CHORUS_LOG_BOOT_ID if set, for tests that
 * simulate a reboot), hashed to 64 bits; 0 if unknown. */
static uint64_t boot_id(void)
{
	const char *env = getenv("CHORUS_LOG_BOOT_ID");
	char buf[128] = "";
	uint64_t h = 0xcbf29ce484222325ull;

	if (env && *env) {
		snprintf(buf, sizeof(buf), "%s", env);
	} else {
		FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "r");

		if (!fp || !fgets(buf, sizeof(buf), fp))
			buf[0] = 0;
		if (fp)
			fclose(fp);
	}
	if (!buf[0])
		return 0;
	for (const char *p = buf; *p && *p != '\n'; p++) {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

/* -u: Apache starts piped loggers as root. Looks the user up, makes a
 * missing spool root theirs, and gives root up for good, before the
 * spool is opened and before anything touches the network; standard
 * input is all that needed root. A user that does not exist stops
 * chorus-log rather than letting it run as root. Not started as root:
 * nothing to give up. Started as root without -u: a warning. */
static void drop_root(const struct clog_config *c)
{
	char user[PD_NAME_MAX], group[PD_NAME_MAX], err[1024];
	struct pd_ids ids;

	if (!c->user) {
		if (geteuid() == 0)
			log_warnx("running as root: give -u USER to give root "
				  "up before the spool and the network are touched");
		return;
	}
	if (geteuid() != 0) {
		log_info("-u %s: not started as root; running on as uid %u",
			 c->user, (unsigned)getuid());
		return;
	}
	if (pd_parse_spec(c->user, user, sizeof(user), group, sizeof(group), err,
			  sizeof(err)) != 0 ||
	    pd_lookup(user, group, &ids, err, sizeof(err)) != 0)
		fatalx("-u %s: %s; chorus-log does not run as root instead",
		       c->user, err);
	/* The spool is written as the user from now on: a root that is not
	 * theirs makes open_spool() fall back, loudly, to a private one. */
	if (pd_dir_prepare(c->spool_root, &ids, 0750, 1, err, sizeof(err)) != 0)
		log_warnx("-u %s: the spool root cannot be used: %s", c->user, err);
	if (pd_drop(&ids, err, sizeof(err)) != 0)
		fatalx("-u %s: %s", c->user, err);
	log_info("running as user %s (uid %u), group %s (gid %u)", ids.user,
		 (unsigned)ids.uid, ids.group, (unsigned)ids.gid);
}

/* Opens the spool stream of the process, for all its groups, in the
 * directory of the first group, under the root or, if that cannot be
 * used, loudly under ${TMPDIR:-/tmp}/chorus-log-<uid>, a directory that
 * must be ours and private (a logger that cannot start would stall
 * Apache, which then cannot write its log). Fills dirs[g] with the
 * directory of group g under the root used (where streams left by
 * other processes for that group are adopted; "" if too long), and
 * used_root with that root. */
static void open_spool(const struct clog_config *c, struct spool *sp,
		       char dirs[][SPOOL_PATH_MAX], char used_root[SPOOL_PATH_MAX])
{
	char err[SPOOL_PATH_MAX + 256], alt[SPOOL_PATH_MAX];
	const char *root = c->spool_root, *tmp = getenv("TMPDIR");
	struct spool_opts o;
	struct stat st;

	memset(&o, 0, sizeof(o));
	o.max_bytes = c->spool_max;
	o.max_line = c->max_line;
	o.boot_id = boot_id();
	o.groups = c->groups;
	o.ngroups = (unsigned)c->ngroups;
	if (fstat(0, &st) == 0) {
		o.input_dev = (uint64_t)st.st_dev;
		o.input_ino = (uint64_t)st.st_ino;
	}
	if (spool_group_dir(root, c->groups[0], c->node, dirs[0], SPOOL_PATH_MAX) != 0)
		snprintf(err, sizeof(err), "the spool directory name is too long");
	else if (spool_open(sp, dirs[0], &o, err, sizeof(err)) == 0)
		goto opened;
	log_warnx("cannot use the spool under %s (%s)", root, err);
	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	snprintf(alt, sizeof(alt), "%s/chorus-log-%u", tmp, (unsigned)getuid());
	if (spool_private_dir(alt, getuid(), err, sizeof(err)) != 0)
		fatalx("no spool: %s", err);
	root = alt;
	if (spool_group_dir(root, c->groups[0], c->node, dirs[0], SPOOL_PATH_MAX) != 0)
		fatalx("no spool: the directory name is too long");
	if (spool_open(sp, dirs[0], &o, err, sizeof(err)) != 0)
		fatalx("no spool: %s", err);
	log_warnx("SPOOLING UNDER %s INSTEAD", dirs[0]);
opened:
	snprintf(used_root, SPOOL_PATH_MAX, "%s", strlen(root) < SPOOL_PATH_MAX ? root : "");
	for (int g = 1; g < c->ngroups; g++)
		if (spool_group_dir(root, c->groups[g], c->node, dirs[g], SPOOL_PATH_MAX) != 0)
			dirs[g][0] = 0;
}

struct reader {
	const struct clog_config *cfg;
	struct clog_stats *st;
	struct spool *sp;          /* the one stream of all groups */
	struct sender *snd;
	struct intake in;          /* standard input */
	uint64_t append_errors;
};

/* Counts what an append to the spool did (losses once per group). */
static void account(struct reader *r, const struct spool_io *io)
{
	if (io->dropped)
		CLOG_ADD(r->st->lines_dropped, io->dropped);
	/* The sender logs spool overflow; here only write errors, the
	 * first and then every hundredth. */
	if (io->err && r->append_errors++ % 100 == 0)
		log_warnx("LOST lines: cannot write the spool %s: %s (counted, "
			  "with their numbers)", r->sp->dir, strerror(-io->err));
	CLOG_ADD(r->st->lines_read, io->lines);
	CLOG_ADD(r->st->lines_cut, io->cut);
}

/* Moves one chunk of standard input into the spool (spool_take(): looked
 * at, then moved, never only in memory), once for all groups. `final`:
 * the writers are gone. Returns the bytes taken, 0 at end of input, -1
 * if nothing could be taken now. */
static ssize_t take_input(struct reader *r, int final)
{
	struct spool_io io;
	const char *taken;
	ssize_t n = spool_take(r->sp, &r->in, final, &taken, &io);

	if (n == -EAGAIN)
		return -1;
	if (n < 0 && n != -EAGAIN) {
		log_warnx("reading standard input: %s; taking it as its end",
			  strerror((int)-n));
		return 0;
	}
	if (n == 0)
		return 0;
	account(r, &io);
	CLOG_ADD(r->st->bytes_read, (uint64_t)n);
	sender_appended(r->snd, (size_t)n);
	return n;
}

static void status(struct reader *r)
{
	char line[512];

	sender_status(r->snd, line, sizeof(line));
	log_info("%s", line);
}

int main(int argc, char **argv)
{
	struct clog_config cfg;
	struct clog_stats st;
	static struct spool sp;
	static char dirs[CLOG_MAX_GROUPS][SPOOL_PATH_MAX];
	static char root_used[SPOOL_PATH_MAX];
	const char *dirp[CLOG_MAX_GROUPS];
	struct reader r;
	sigset_t sigs;
	int sfd, terminating = 0, waits = 0;
	ssize_t last = READ_CHUNK;

	parse_args(argc, argv, &cfg);
	log_init("chorus-log", 1);
	memset(&st, 0, sizeof(st));
	signal(SIGPIPE, SIG_IGN);
	/* Every signal we act on arrives through a signalfd in this thread;
	 * the sender thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 ||
	    (sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		fatal("signalfd");
	/* A larger pipe gives Apache more room while we write the spool. */
	fcntl(0, F_SETPIPE_SZ, 1024 * 1024);
	drop_root(&cfg);
	open_spool(&cfg, &sp, dirs, root_used);
	for (int g = 0; g < cfg.ngroups; g++)
		dirp[g] = dirs[g];
	memset(&r, 0, sizeof(r));
	r.cfg = &cfg;
	r.st = &st;
	r.sp = &sp;
	if (in_open(&r.in, 0, READ_CHUNK) != 0)
		fatal("standard input");
	if (sender_start(&r.snd, &cfg, &sp, root_used, dirp, &st) != 0)
		fatal("cannot start the sender thread");
	for (;;) {
		struct pollfd pfd[2] = { { 0, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		ssize_t n;

		/* Under a light load every line would cost a wake-up of this
		 * thread, paid by the Apache child that writes it. A short nap
		 * after a small chunk lets lines gather in the pipe (1 MiB when
		 * F_SETPIPE_SZ worked), which still drains far faster than
		 * Apache can fill it. The nap comes before the next read, never
		 * between a read and its write: what waits is in the pipe. */
		if (last < 65536) {
			/* Longer while the only input is the end of a line
			 * that is still being written (it waits in the pipe). */
			struct timespec nap = { 0, (2L << (waits < 5 ? waits : 5)) * 1000 * 1000 };

			nanosleep(&nap, NULL);
		}
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			fatal("poll");
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGUSR1) {
				status(&r);
			} else if (si.ssi_signo == SIGHUP) {
				log_info("SIGHUP ignored: nothing to reopen");
			} else if (!terminating) {
				terminating = 1;
				log_info("%s: reading on until end of input",
					 strsignal((int)si.ssi_signo));
			}
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			last = READ_CHUNK;
			continue;
		}
		n = take_input(&r, (pfd[0].revents & POLLHUP) != 0);
		if (n == 0)
			break;
		/* Nothing taken with input waiting: the end of a line that
		 * may still fit; wait for more of it. */
		waits = n < 0 ? waits + 1 : 0;
		last = n < 0 ? 0 : n;
	}
	{
		struct spool_io io;

		spool_finish(&sp, &io);
		account(&r, &io);
	}
	sender_eof(r.snd);
	/* The sender stops by itself at the flush deadline, unless a daemon
	 * that takes no data holds it in a send: then leave it, with
	 * everything unacknowledged in the (consistent) spool. */
	if (sender_join(r.snd, cfg.flush_ms + 1000) != 0) {
		struct spool_stats ss;
		uint64_t left;

		spool_shutdown(&sp);
		spool_stats(&sp, &ss);
		left = ss.unacked;
		log_warnx("the daemon takes no data: giving up after the flush "
			  "deadline; %" PRIu64 " lines left in the spool", left);
		_exit(0);
	}
	r.snd = NULL;
	{
		struct spool_stats ss;
		uint64_t left;

		/* Lines that some group has not acknowledged. */
		spool_stats(&sp, &ss);
		left = ss.unacked;
		spool_close(&sp);
		log_info("end of input: read %" PRIu64 " lines, sent %" PRIu64
			 ", acknowledged %" PRIu64 ", %" PRIu64 " left in the spool, "
			 "dropped %" PRIu64 ", cut %" PRIu64 ", resent %" PRIu64,
			 CLOG_GET(st.lines_read), CLOG_GET(st.lines_sent),
			 CLOG_GET(st.lines_acked), left, CLOG_GET(st.lines_dropped),
			 CLOG_GET(st.lines_cut), CLOG_GET(st.lines_resent));
	}
	in_close(&r.in);
	return 0;
}
