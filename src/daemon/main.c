/*
 * main.c - chorusd's command line: read the configuration, set up one
 * daemon, run it until SIGINT or SIGTERM (SIGHUP reloads the ring's key
 * file), shut down in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "dpriv.h"
#include "util/log.h"

/* See the mallopt() calls in main(): messages up to this size come from
 * the heap (glibc's largest threshold), and this much free memory at its
 * top stays (more than one session's output queue may hold). */
#define MALLOC_HEAP_MSG (32 << 20)
#define MALLOC_KEEP_FREE (256 << 20)

#ifndef CHORUS_ETCDIR
#define CHORUS_ETCDIR "/etc/chorus"
#endif

static const char default_conf[] =
	"# built-in default: one daemon on this machine\n"
	"Spread_Segment 127.0.0.255:4803 {\n\tlocalhost 127.0.0.1\n}\n";

static struct chd *the_daemon; /* for the signal handler only */

static void on_signal(int sig)
{
	(void)sig;
	if (the_daemon)
		chd_request_stop(the_daemon);
}

static void on_hup(int sig)
{
	(void)sig;
	if (the_daemon)
		chd_request_reload(the_daemon);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: chorusd [-btP] [-c config] [-n name] [-p port] "
		"[-d flags] [-l y|n]\n");
	exit(1);
}

static const struct {
	const char *name;
	uint32_t mask;
} debug_names[] = {
	{ "all", 0xffffffffu }, { "session", DBG_SESSION },
	{ "groups", DBG_GROUPS }, { "membership", DBG_MEMBERSHIP },
	{ "protocol", DBG_PROTOCOL }, { "network", DBG_NETWORK },
	{ "configuration", DBG_CONFIGURATION }, { "flow", DBG_FLOW_CONTROL },
	{ "events", DBG_EVENTS }, { "security", DBG_SECURITY },
};

/* Parses "-d session,groups" or a number into a subsystem mask. */
static uint32_t parse_debug(const char *arg)
{
	char buf[256], *tok, *save = NULL;
	uint32_t mask = 0;

	if (arg[0] >= '0' && arg[0] <= '9')
		return (uint32_t)strtoul(arg, NULL, 0);
	snprintf(buf, sizeof(buf), "%s", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(debug_names) / sizeof(debug_names[0]); i++)
			if (strcmp(tok, debug_names[i].name) == 0)
				break;
		if (i == sizeof(debug_names) / sizeof(debug_names[0])) {
			fprintf(stderr, "chorusd: unknown debug subsystem '%s'\n", tok);
			exit(1);
		}
		mask |= debug_names[i].mask;
	}
	return mask;
}

/* Loads the configuration: -c path, else ./spread.conf, else the
 * system one, else the built-in single-daemon default. */
static void load_conf(const char *path, struct conf *c)
{
	static const char *const tries[] = { "spread.conf",
					     CHORUS_ETCDIR "/spread.conf" };
	char err[512];

	if (path) {
		if (conf_load(path, c, err, sizeof(err)) != 0)
			fatalx("%s: %s", path, err);
		return;
	}
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (access(tries[i], R_OK) != 0)
			continue;
		if (conf_load(tries[i], c, err, sizeof(err)) != 0)
			fatalx("%s: %s", tries[i], err);
		log_info("configuration %s", tries[i]);
		return;
	}
	if (conf_parse(default_conf, sizeof(default_conf) - 1, c, err,
		       sizeof(err)) != 0)
		fatalx("built-in configuration: %s", err);
	log_info("no spread.conf found; using the built-in single-daemon "
		 "configuration");
}

/* Applies EventLogFile (with %h or %H for the daemon name),
 * EventTimeStamp and EventPriority. Failure to open the file is fatal, as
 * a typo would otherwise lose the log. */
static void apply_event_log(const struct conf *c, const char *name)
{
	char path[CONF_PATH_MAX + 64];
	size_t o = 0;

	if (c->event_timestamp)
		log_set_timestamp(c->event_timestamp_fmt[0] ? c->event_timestamp_fmt
							     : "[%a %d %b %Y %H:%M:%S]");
	log_set_min_prio(c->event_priority <= 1   ? LOGP_DEBUG
			 : c->event_priority == 2 ? LOGP_INFO
			 : c->event_priority == 3 ? LOGP_WARNING
						  : LOGP_ERROR);
	if (!c->event_log_file[0])
		return;
	for (const char *p = c->event_log_file; *p && o < sizeof(path) - 32; p++) {
		if (p[0] == '%' && (p[1] == 'h' || p[1] == 'H')) {
			o += (size_t)snprintf(path + o, sizeof(path) - o, "%s", name);
			p++;
		} else {
			path[o++] = *p;
		}
	}
	path[o] = 0;
	{
		/* Opened as root, before the drop: never through a symbolic
		 * link someone may have put in the log's directory, private
		 * to the owner and group (it names clients and principals),
		 * and only a regular file. */
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
				     O_CLOEXEC | O_NOCTTY, 0640);
		struct stat st;
		FILE *fp;

		if (fd < 0)
			fatal("EventLogFile %s%s", path, errno == ELOOP ?
			      " (a symbolic link: name the file itself)" : "");
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
			fatalx("EventLogFile %s is not a regular file", path);
		fp = fdopen(fd, "a");
		if (!fp)
			fatal("EventLogFile %s", path);
		setvbuf(fp, NULL, _IOLBF, 0);
		log_set_file(fp);
	}
}

int main(int argc, char **argv)
{
	const char *conf_path = NULL, *name = NULL;
	int background = 0, check_only = 0, print = 0, ch;
	uint32_t debug = 0;
	unsigned long port = 0;
	static struct chd d;
	struct conf c;
	struct dpriv priv;
	struct sigaction sa;
	sigset_t stop_sigs;
	char err[512];

	while ((ch = getopt(argc, argv, "bc:d:hl:n:p:tP")) != -1) {
		switch (ch) {
		case 'b': background = 1; break;
		case 'c': conf_path = optarg; break;
		case 'd': debug |= parse_debug(optarg); break;
		case 'l':
			if (strcmp(optarg, "y") && strcmp(optarg, "n"))
				usage();
			break;
		case 'n':
			if (strlen(optarg) > WIRE_MAX_DAEMON) {
				fprintf(stderr, "chorusd: daemon name longer than "
					"%d characters\n", WIRE_MAX_DAEMON);
				return 1;
			}
			name = optarg;
			break;
		case 'p': {
			char *end;

			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno || *end || port == 0 || port > 65535) {
				fprintf(stderr, "chorusd: bad port '%s'\n", optarg);
				return 1;
			}
			break;
		}
		case 't': check_only = 1; break;
		case 'P': print = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("chorusd", 1);
	load_conf(conf_path, &c);
	log_set_debug(debug | (c.debug_flags & ~0x7u));
	if (print)
		conf_print(&c, stdout);
	if (check_only && c.ring_key_file[0]) {
		int checked;

		if (rlink_check_keys(&c, name, &checked, err, sizeof(err)) != 0)
			fatalx("%s", err);
		if (!checked)
			printf("RingKeyFile not checked: its path names the "
			       "daemon (%%h); add -n name\n");
	}
	if (check_only && auth_check_conf(&c, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (check_only || print) {
		if (check_only)
			printf("configuration OK\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (dpriv_prepare(&c, (unsigned)geteuid(), &priv, err, sizeof(err)) != 0)
		fatalx("%s", err);
	/* A stop or reload asked for once the listeners are open but before
	 * the handlers are in place is held until they are, not fatal. */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_sigs, NULL);
	/* Messages up to the largest frame come from the heap and go back
	 * to it, and the heap is not given back to the kernel after every
	 * burst: otherwise each large message costs fresh pages, zeroed and
	 * faulted in one by one (half the daemon's time under load). */
#ifndef __SANITIZE_ADDRESS__ /* AddressSanitizer has its own allocator */
	if (mallopt(M_MMAP_THRESHOLD, MALLOC_HEAP_MSG) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, MALLOC_KEEP_FREE) != 1)
		log_warnx("mallopt failed; large messages use fresh pages");
#endif
	if (chd_init(&d, &c, name, (uint16_t)port, err, sizeof(err)) != 0)
		fatalx("%s", err);
	if (background) {
		if (daemon(0, 0) != 0)
			fatal("daemon");
		log_init("chorusd", 0);
	}
	apply_event_log(&c, d.name);
	/* Every socket is bound and the event log is open: give root up. */
	if (dpriv_apply(&priv, err, sizeof(err)) != 0)
		fatalx("%s", err);
	for (int i = 0; i < c.n_notes; i++)
		log_info("%s", c.notes[i]);
	the_daemon = &d;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	/* stop_sigs stay blocked: chd_run takes them while it waits. */
	log_info("daemon %s listening on port %u%s%s", d.name, d.port,
		 d.unix_path[0] ? " and " : "", d.unix_path);
	if (d.tls)
		log_info("TLS 1.3 on port %u, certificate %s, client "
			 "certificates %s", c.tls_port, c.tls_cert_file,
			 conf_tls_verify_names[c.tls_client_verify]);
	chd_run(&d);
	log_info("shutting down");
	chd_shutdown(&d);
	return 0;
}
