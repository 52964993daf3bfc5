/*
 * daemon.c - the chorusd instance and its event loop (see daemon.h).
 *
 * One epoll loop in the spirit of Redis's first event library and
 * OpenBSD ntpd's main loop: read the clock once, handle ready sockets,
 * expire handshake deadlines, let the ordering service deliver, write
 * queued output, free what was retired, and sleep until the earliest
 * deadline. The loop is the only place that reads the clock.
 */
#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "order_ring.h"
#include "ring/ring_log.h"
#include "status.h"
#include "util/log.h"

#define CHD_EVENTS 256
#define CHD_NET_ROUNDS 8 /* receive batches per socket per iteration */
#define CHD_ACCEPTS_PER_ROUND 256

/* epoll's data word holds a session pointer, or a listener index + 1:
 * pointers are never that small. */
#define LISTENER_TAG(i) ((uint64_t)(i) + 1)
#define IS_LISTENER(u) ((u) <= CHD_MAX_LISTENERS)
/* The UDP sockets: the daemon's own (0) and the segment's (1). */
#define NET_TAG(i) ((uint64_t)CHD_MAX_LISTENERS + 1 + (i))
#define IS_NET(u) ((u) == NET_TAG(0) || (u) == NET_TAG(1))

static int64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return h;
}

uint32_t chd_rand(struct chd *d)
{
	/* xorshift64*, seeded once by the shell. */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return (uint32_t)((d->rng * 2685821657736338717ull) >> 32);
}

struct sess *chd_find_session(const struct chd *d, const char *name,
			      size_t len)
{
	struct sess *s = d->names[name_hash(name, len) & (d->n_name_buckets - 1)];

	for (; s; s = s->name_next)
		if (strlen(s->name) == len && memcmp(s->name, name, len) == 0)
			return s;
	return NULL;
}

int chd_name_taken(const struct chd *d, const char *name)
{
	return chd_find_session(d, name, strlen(name)) != NULL;
}

void chd_name_add(struct chd *d, struct sess *s)
{
	uint32_t k = name_hash(s->name, strlen(s->name)) & (d->n_name_buckets - 1);

	s->name_next = d->names[k];
	d->names[k] = s;
}

static void name_remove(struct chd *d, struct sess *s)
{
	struct sess **pp;

	if (!s->name[0])
		return;
	pp = &d->names[name_hash(s->name, strlen(s->name)) & (d->n_name_buckets - 1)];
	for (; *pp; pp = &(*pp)->name_next) {
		if (*pp == s) {
			*pp = s->name_next;
			return;
		}
	}
}

struct sess *chd_session_by_pg(const struct chd *d, const char *field)
{
	size_t len = wire_name_len(field), dl = strlen(d->name);
	const char *h2;

	if (len < 3 || field[0] != '#')
		return NULL;
	h2 = memchr(field + 1, '#', len - 1);
	if (!h2 || h2 == field + 1 || (size_t)(h2 - field - 1) > WIRE_MAX_PRIVATE)
		return NULL;
	if ((size_t)(field + len - h2 - 1) != dl || memcmp(h2 + 1, d->name, dl))
		return NULL;
	return chd_find_session(d, field + 1, (size_t)(h2 - field - 1));
}

void chd_hs_remove(struct chd *d, struct sess *s)
{
	if (!s->hs_prev && d->hs_head != s)
		return; /* not on the list */
	if (s->hs_prev)
		s->hs_prev->hs_next = s->hs_next;
	else
		d->hs_head = s->hs_next;
	if (s->hs_next)
		s->hs_next->hs_prev = s->hs_prev;
	else
		d->hs_tail = s->hs_prev;
	s->hs_prev = s->hs_next = NULL;
	d->n_handshaking--;
}

void chd_retire(struct chd *d, struct sess *s)
{
	if (s->retired)
		return;
	s->retired = 1;
	name_remove(d, s);
	if (s->prev)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	d->n_sessions--;
	s->free_next = d->to_free;
	d->to_free = s;
}

void chd_mark_dirty(struct chd *d, struct sess *s)
{
	s->dirty = 1;
	s->dirty_next = d->dirty;
	d->dirty = s;
}

int chd_epoll_mod(struct chd *d, struct sess *s, int want_out)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	/* Back-pressure: while the ordering service is congested, open
	 * sessions are not read (their end is still noticed: EPOLLHUP). */
	ev.events = (d->paused && s->state == SESS_OPEN ? 0 : EPOLLIN) |
		    (want_out ? EPOLLOUT : 0);
	ev.data.ptr = s;
	return epoll_ctl(d->ep, EPOLL_CTL_MOD, s->fd, &ev);
}

void chd_submit(struct chd *d, struct sess *s, struct msg *m)
{
	if (d->ord->ops->submit(d->ord, m) == 0)
		return;
	/* The service is full: let it deliver, then try once more. */
	d->ord->ops->run(d->ord, d->now_ms);
	if (d->ord->ops->submit(d->ord, m) == 0)
		return;
	msg_unref(m);
	log_warnx("ordering service full; dropping session %s", s->pg);
	if (!s->ended)
		sess_end(d, s, SESS_END_NO_MEMORY, "ordering service full");
}

/* Called by the ordering service with each event in the agreed order.
 * Events of sessions of other daemons come the same way as local ones. */
static void on_deliver(void *ctx, struct msg *m)
{
	struct chd *d = ctx;
	struct wire_hdr h;
	uint32_t t;

	wire_hdr_decode(m->data, &h);
	t = h.type & ~WIRE_MARK;
	if (t & WIRE_SERVICES)
		groups_deliver_data(d, m);
	else if (t & GROUPS_STATE_TYPE)
		groups_state(d, m);
	else if (t & (WIRE_JOIN | WIRE_LEAVE | WIRE_KILL))
		groups_event(d, m);
	else
		log_debug(DBG_GROUPS, "event of type %08x ignored", h.type);
}

static void on_conf_change(void *ctx, const struct ord_conf *c)
{
	struct chd *d = ctx;

	log_info("%s configuration installed: id %08x.%u, %d daemon%s",
		 c->transitional ? "transitional" : "regular", c->memb_proc,
		 c->memb_time, c->n_daemons, c->n_daemons == 1 ? "" : "s");
	if (!c->transitional) {
		d->memb_id[0] = (int32_t)c->memb_proc;
		d->memb_id[1] = (int32_t)c->memb_time;
		d->conf_known = 1;
	}
	groups_conf(d, c);
}

/* Finds this machine's host entry by its IPv4 addresses. */
static int find_own_host(const struct conf *c)
{
	struct ifaddrs *ifa, *i;
	int found = -1;

	if (getifaddrs(&ifa) != 0)
		return -1;
	for (int h = 0; h < c->n_hosts && found < 0; h++) {
		for (i = ifa; i; i = i->ifa_next) {
			const struct sockaddr_in *sin;

			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
				continue;
			sin = (const struct sockaddr_in *)i->ifa_addr;
			if (ntohl(sin->sin_addr.s_addr) == c->hosts[h].addr) {
				found = h;
				break;
			}
		}
	}
	freeifaddrs(ifa);
	return found;
}

static int add_listener(struct chd *d, int fd, int is_unix, char *err,
			size_t errlen)
{
	struct epoll_event ev;
	int i = d->n_listeners;

	if (i >= CHD_MAX_LISTENERS) {
		snprintf(err, errlen, "too many listening sockets");
		close(fd);
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = LISTENER_TAG(i);
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	d->listeners[i].fd = fd;
	d->listeners[i].is_unix = is_unix;
	d->n_listeners++;
	return 0;
}

static int listen_tcp(struct chd *d, uint32_t addr, uint16_t port, int is_tls,
		      char *err, size_t errlen)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Spread's "auto" turns address reuse on only for specific
	 * interfaces; chorusd always turns it on unless told "off", so a
	 * restart is not refused while old connections linger. */
	if (d->conf.socket_port_reuse != CONF_OFF)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(addr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		struct in_addr a = { htonl(addr) };

		snprintf(err, errlen, "cannot listen on %s:%u: %s",
			 inet_ntoa(a), port, strerror(errno));
		close(fd);
		return -1;
	}
	if (add_listener(d, fd, 0, err, errlen) != 0)
		return -1;
	d->listeners[d->n_listeners - 1].is_tls = is_tls;
	return 0;
}

static int listen_unix(struct chd *d, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char final[sizeof(sun.sun_path)];
	mode_t old_mask;
	int fd, bound;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%u",
			     d->conf.unix_socket_dir, d->port) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "Unix socket path too long");
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Bind and listen under a temporary name, then rename into place:
	 * the socket appears only once it accepts connections. */
	snprintf(final, sizeof(final), "%s", sun.sun_path);
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s.%ld", final,
			     (long)getpid()) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "Unix socket path too long");
		close(fd);
		return -1;
	}
	unlink(sun.sun_path);
	/* Mode 0666 from the start, through the umask: a chmod by path, as
	 * root in a directory DaemonUser may write, would follow whatever
	 * that user put under the name meanwhile. */
	old_mask = umask(0111);
	bound = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	umask(old_mask);
	if (!bound || listen(fd, SOMAXCONN) != 0 ||
	    rename(sun.sun_path, final) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", final,
			 strerror(errno));
		unlink(sun.sun_path);
		close(fd);
		return -1;
	}
	snprintf(d->unix_path, sizeof(d->unix_path), "%s", final);
	return add_listener(d, fd, 1, err, errlen);
}

static int open_listeners(struct chd *d, char *err, size_t errlen)
{
	const struct conf_host *h = &d->conf.hosts[d->host];
	int n = 0;

	for (int i = 0; i < h->n_ifaces; i++) {
		if (!(h->ifaces[i].roles & CONF_ROLE_CLIENT))
			continue;
		if (listen_tcp(d, h->ifaces[i].addr, d->port, 0, err, errlen) != 0 ||
		    (d->tls && listen_tcp(d, h->ifaces[i].addr, d->conf.tls_port,
					  1, err, errlen) != 0))
			return -1;
		n++;
	}
	if (n == 0 && (listen_tcp(d, INADDR_ANY, d->port, 0, err, errlen) != 0 ||
		       (d->tls && listen_tcp(d, INADDR_ANY, d->conf.tls_port, 1,
					     err, errlen) != 0)))
		return -1;
	if (d->conf.unix_socket_dir[0] && listen_unix(d, err, errlen) != 0)
		return -1;
	return 0;
}

/* Raises the descriptor limit as far as allowed and bounds the number of
 * sessions by it. */
static void fit_fd_limit(struct chd *d)
{
	struct rlimit rl;
	long room;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	room = rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long)rl.rlim_cur - 64;
	if (room < d->max_sessions) {
		log_warnx("descriptor limit %ld allows only %ld sessions "
			  "(MaxSessions %d)", (long)rl.rlim_cur, room,
			  d->max_sessions);
		d->max_sessions = room > 1 ? (int)room : 1;
	}
}

/* ---- The ring and its UDP socket ------------------------------------ */

static void save_state(struct chd *d)
{
	if (!d->state_path[0])
		return;
	if (rset_state_save(d->state_path, &d->state) != 0) {
		log_warn("cannot write %s; configuration ids rely on the wall "
			 "clock from now on", d->state_path);
		d->state_path[0] = 0;
	}
}

static void on_ring_send(void *ctx, uint32_t to, const uint8_t *pkt,
			 size_t len)
{
	struct chd *d = ctx;
	int token = ring_packet_is_token(pkt, len);

	if (rlink_seal(&d->link, &pkt, &len) != 0)
		return;
	net_udp_send(&d->net, to, pkt, len);
	/* The token leaves now, not at the end of the loop iteration. */
	if (token)
		net_udp_flush(&d->net);
}

static void on_ring_regular(void *ctx, uint32_t high_ring_seq)
{
	struct chd *d = ctx;

	if (high_ring_seq > d->state.high_ring_seq) {
		d->state.high_ring_seq = high_ring_seq;
		save_state(d);
	}
}

static int net_register(struct chd *d, int fd, int i, char *err,
			size_t errlen)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = NET_TAG(i);
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A segment of several daemons runs the ring over UDP; a segment of one
 * keeps the single-daemon service, and opens the UDP port (if it can)
 * only to answer chorus-monitor. */
static int setup_order(struct chd *d, const struct ord_cb *cb, char *err,
		       size_t errlen)
{
	const struct conf_host *h = &d->conf.hosts[d->host];
	const struct conf_segment *sg = &d->conf.segments[h->segment];
	struct ord_ring_shell shell = { d, on_ring_send, on_ring_regular };
	struct rset_state saved;
	struct ring_config rc;
	enum net_mode mode;
	size_t pkt_max;

	d->on_ring = sg->n_hosts > 1;
	if (!d->on_ring) {
		char nerr[256];

		if (net_udp_open(&d->net, NET_UNICAST, d->daemon_id, sg->addr,
				 sg->port, NULL, 0, 8192, nerr, sizeof(nerr)) == 0 &&
		    net_register(d, d->net.fd, 0, nerr, sizeof(nerr)) == 0)
			d->have_net = 1;
		else
			log_info("no status port for chorus-monitor: %s", nerr);
		d->ord = ord_local_new(cb, d->daemon_id, (uint32_t)time(NULL));
		if (!d->ord)
			snprintf(err, errlen, "out of memory");
		return d->ord ? 0 : -1;
	}
	if (rset_ring_config(&d->conf, d->host, &rc, err, errlen) != 0)
		return -1;
	rset_state_path(d->conf.runtime_dir, d->name, d->state_path,
			sizeof(d->state_path));
	if (rset_state_load(d->state_path, &saved) != 0)
		log_warnx("%s is unreadable; starting from the wall clock",
			  d->state_path);
	rset_state_next(&saved, (uint32_t)time(NULL), &rc.incarnation,
			&rc.ring_seq_base);
	d->state.incarnation = rc.incarnation;
	d->state.high_ring_seq = saved.high_ring_seq;
	save_state(d);
	/* Sealed, each run must have an incarnation of its own: two runs
	 * that share one (restarts within a second, with the wall clock
	 * alone) would let datagrams of one be replayed as the other's. */
	if (d->conf.ring_key_file[0] && !d->state_path[0]) {
		char sp[sizeof(d->state_path)];

		rset_state_path(d->conf.runtime_dir, d->name, sp, sizeof(sp));
		snprintf(err, errlen, "cannot write the state file %s: with "
			 "RingKeyFile the incarnation must grow at every start "
			 "(make RuntimeDir writable)", sp);
		return -1;
	}
	mode = rset_transport(&d->conf, d->host);
	pkt_max = rc.max_payload + 256 > 8192 ? rc.max_payload + 256 : 8192;
	if (net_udp_open(&d->net, mode, d->daemon_id, sg->addr, sg->port,
			 rc.members, rc.n_members, pkt_max, err, errlen) != 0 ||
	    rlink_setup(&d->link, &d->conf, d->name, d->daemon_id,
			rc.incarnation, pkt_max, err, errlen) != 0)
		return -1;
	d->have_net = 1;
	if (net_register(d, d->net.fd, 0, err, errlen) != 0 ||
	    (d->net.bfd >= 0 && net_register(d, d->net.bfd, 1, err, errlen) != 0))
		return -1;
	d->ord = ord_ring_new(cb, &rc, &shell, d->now_ms, err, errlen);
	if (!d->ord)
		return -1;
	log_info("ring: %u daemons in the segment, transport %s on port %u, "
		 "configuration hash %08x, incarnation %u, ring seq from %u, "
		 "socket buffers %d/%d bytes", rc.n_members,
		 net_mode_names[mode], sg->port, rc.conf_hash, rc.incarnation,
		 rc.ring_seq_base, d->net.rcvbuf, d->net.sndbuf);
	return 0;
}

/* Monitors may ask from loopback or from an interface of a configured
 * host that has the monitor role. */
static int monitor_allowed(const struct chd *d, uint32_t from)
{
	if ((from >> 24) == 127)
		return 1;
	for (int i = 0; i < d->conf.n_hosts; i++) {
		const struct conf_host *h = &d->conf.hosts[i];

		if (h->n_ifaces == 0 && h->addr == from)
			return 1;
		for (int k = 0; k < h->n_ifaces; k++)
			if (h->ifaces[k].addr == from &&
			    (h->ifaces[k].roles & CONF_ROLE_MONITOR))
				return 1;
	}
	return 0;
}

static void fill_status(const struct chd *d, struct status_info *si)
{
	memset(si, 0, sizeof(*si));
	snprintf(si->name, sizeof(si->name), "%s", d->name);
	si->daemon_id = d->daemon_id;
	si->transport = 255;
	si->paused = (uint8_t)d->paused;
	si->sessions = d->n_sessions;
	si->handshaking = d->n_handshaking;
	si->groups = d->gv.tab.n_groups - d->gv.n_empty;
	si->uptime_ms = (uint64_t)(d->now_ms - d->start_ms);
	si->c[ST_SESSION_MSGS_OUT] = d->stats.msgs_out;
	si->c[ST_PAUSES] = d->stats.input_pauses;
	si->c[ST_NET_SEND_ERRORS] = d->net.stats.send_errors;
	si->c[ST_PKTS_IN] = d->net.stats.pkts_in;
	si->c[ST_PKTS_OUT] = d->net.stats.pkts_out;
	si->c[ST_BYTES_IN] = d->net.stats.bytes_in;
	si->c[ST_BYTES_OUT] = d->net.stats.bytes_out;
	for (const struct sess *s = d->sessions; s; s = s->next) {
		si->session_queued_msgs += s->oq_len;
		si->session_queued_bytes += s->oq_bytes;
	}
	if (d->on_ring) {
		struct ord_ring_info oi;
		const struct ring_stats *rs = &oi.stats;

		ord_ring_info(d->ord, &oi);
		si->ring = 1;
		si->transport = (uint8_t)d->net.mode;
		si->state = (uint8_t)oi.status.state;
		si->is_rep = (uint8_t)oi.status.is_rep;
		si->accelerated = (uint8_t)oi.accelerated;
		si->conf_rep = oi.status.conf.rep;
		si->conf_seq = oi.status.conf.seq;
		si->n_members = (uint16_t)oi.status.n_members;
		memcpy(si->members, oi.status.members,
		       oi.status.n_members * sizeof(si->members[0]));
		si->window = oi.window;
		si->personal_window = oi.personal_window;
		si->accel_window = oi.accel_window;
		si->max_payload = oi.max_payload;
		si->send_queue = oi.status.send_queue;
		si->outq = oi.outq;
		si->unpushed = oi.unpushed;
		si->my_aru = oi.status.my_aru;
		si->high_seq = oi.status.high_seq;
		si->stable = oi.status.stable;
		si->c[ST_ROTATIONS] = rs->rotations;
		si->c[ST_TOKENS_IN] = rs->tokens_in;
		si->c[ST_TOKENS_OUT] = rs->tokens_out;
		si->c[ST_TOKEN_RETRANSMITS] = rs->token_retransmits;
		si->c[ST_RETRANS_OUT] = rs->retrans_out;
		si->c[ST_DATA_IN] = rs->data_in;
		si->c[ST_DATA_OUT] = rs->data_out;
		si->c[ST_DATA_DUP] = rs->data_dup;
		si->c[ST_DELIVERED] = rs->delivered;
		si->c[ST_CONFS_REGULAR] = rs->confs_regular;
		si->c[ST_SUBMITTED] = rs->submitted;
		si->c[ST_SUBMIT_FULL] = rs->submit_full;
		for (unsigned i = 0; i < RING_DROP_N; i++)
			si->c[ST_DROPS] += rs->drops[i];
		si->c[ST_DROPS_CONF_HASH] = rs->drops[RING_DROP_CONF_HASH];
		si->c[ST_RESUBMITTED] = oi.resubmitted;
		si->c[ST_PIECES_STALE] = oi.frag.stale;
		si->c[ST_FRAMES_LOST] = oi.frag.dropped_partials + oi.frag.broken;
		rlink_counters(&d->link, &si->c[ST_RING_FORGED],
			       &si->c[ST_RING_REPLAYED], &si->c[ST_RING_STALE]);
		if (d->link.sec) {
			si->ring_suite = rsec_suite(d->link.sec);
			si->ring_key_id = rsec_current_key_id(d->link.sec);
		}
	} else {
		si->n_members = 1;
		si->members[0] = d->daemon_id;
		si->conf_rep = (uint32_t)d->memb_id[0];
		si->conf_seq = (uint32_t)d->memb_id[1];
		si->outq = d->ord->ops->pending(d->ord);
	}
}

static void status_query(struct chd *d, const struct net_pkt *p)
{
	uint8_t out[STATUS_REPLY_MAX];
	struct status_info si;
	uint32_t nonce;
	size_t len;

	if (status_req_decode(p->data, p->len, &nonce) != 0)
		return;
	if (!monitor_allowed(d, p->from)) {
		d->stats.status_refused++;
		return;
	}
	d->stats.status_queries++;
	fill_status(d, &si);
	len = status_reply_encode(out, nonce, &si);
	net_udp_reply(&d->net, p->from, p->from_port, out, len);
}

/* One ring datagram from another daemon, as the network delivered it:
 * opened (when the ring is sealed) and given to the ordering service. */
static void ring_in(struct chd *d, uint32_t from, const uint8_t *data, size_t len)
{
	if (rlink_open(&d->link, d->now_ms, from, &data, &len))
		ord_ring_input(d->ord, d->now_ms, from, data, len);
}

/* Reads up to CHD_NET_ROUNDS batches from fd and feeds them to the
 * ordering service (status queries are answered). The test-only
 * impairment stands for the network, so it acts before the opening. */
static void net_read(struct chd *d, int fd)
{
	for (int round = 0; round < CHD_NET_ROUNDS; round++) {
		const struct net_pkt *pk;
		int more;
		unsigned n = net_udp_recv(&d->net, fd, &pk, &more);

		for (unsigned i = 0; i < n; i++) {
			if (status_is_status(pk[i].data, pk[i].len))
				status_query(d, &pk[i]);
			else if (d->on_ring && pk[i].from != d->daemon_id &&
				 !net_impair_take(&d->impair, d->now_ms, pk[i].from,
						  pk[i].data, pk[i].len))
				ring_in(d, pk[i].from, pk[i].data, pk[i].len);
		}
		if (!more)
			break;
	}
}

static void impaired_input(void *ctx, uint32_t from, const uint8_t *data, size_t len)
{
	ring_in(ctx, from, data, len);
}

/* The test-only impairment: follows its control file, and hands the
 * datagrams it held that are due to the ordering service. */
static void impair_step(struct chd *d)
{
	char err[256];
	int r;

	if (!d->impair_path)
		return;
	r = net_impair_reload(&d->impair, d->impair_path, d->now_ms, d->daemon_id,
			      err, sizeof(err));
	if (r < 0)
		log_warnx("test impairment off: %s", err);
	else if (r > 0 && d->impair.p.on)
		log_info("test impairment on: loss %u%%, delay 0..%u ms, seed %llu",
			 d->impair.p.loss_pct, d->impair.p.jitter_ms,
			 (unsigned long long)d->impair.p.seed);
	else if (r > 0)
		log_info("test impairment off: %llu datagrams in, %llu dropped, "
			 "%llu delayed, %llu over the bound",
			 (unsigned long long)d->impair.stats.in,
			 (unsigned long long)d->impair.stats.dropped,
			 (unsigned long long)d->impair.stats.delayed,
			 (unsigned long long)d->impair.stats.overflow);
	net_impair_release(&d->impair, d->now_ms, impaired_input, d);
}

/* The ring's sockets are readable. Broadcasts (the segment socket) are
 * read before the unicast socket, where tokens come: a token processed
 * while messages sent before it still wait in the other socket would
 * ask for them again. */
static void net_ready(struct chd *d)
{
	if (d->net.bfd >= 0)
		net_read(d, d->net.bfd);
	net_read(d, d->net.fd);
}

/* Stops or resumes reading client sessions as the ordering service's
 * congestion comes and goes. */
static void update_pause(struct chd *d)
{
	int want = d->ord->ops->congested && d->ord->ops->congested(d->ord);

	if (want == d->paused)
		return;
	d->paused = want;
	if (want)
		d->stats.input_pauses++;
	log_debug(DBG_FLOW_CONTROL, "client input %s",
		  want ? "paused: the ring's send queue is full"
		       : "resumed");
	for (struct sess *s = d->sessions; s; s = s->next)
		if (s->state == SESS_OPEN && !s->ended && s->fd >= 0)
			chd_epoll_mod(d, s, s->want_out);
}

int chd_init(struct chd *d, const struct conf *c, const char *name,
	     uint16_t port_override, char *err, size_t errlen)
{
	struct ord_cb cb = { d, on_deliver, on_conf_change };
	unsigned auth;

	memset(d, 0, sizeof(*d));
	d->ep = -1;
	d->net.fd = d->net.bfd = -1;
	d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	d->conf = *c;
	d->host = name ? conf_find_host(c, name) : find_own_host(c);
	if (d->host < 0) {
		if (name)
			snprintf(err, errlen, "daemon name '%s' is not in the "
				 "configuration", name);
		else
			snprintf(err, errlen, "no host entry of the configuration "
				 "has an address of this machine (use -n name)");
		return -1;
	}
	snprintf(d->name, sizeof(d->name), "%s", c->hosts[d->host].name);
	d->daemon_id = c->hosts[d->host].addr;
	d->port = port_override ? port_override : conf_host_port(c, d->host);
	d->max_sessions = c->max_sessions;
	fit_fd_limit(d);

	auth = c->allowed_auth | c->required_auth;
	if (auth & CONF_AUTH_IP) {
		char aerr[256];

		if (acl_ip_load("spread.access_ip", &d->acl, aerr, sizeof(aerr)) == 0 ||
		    acl_ip_load("/etc/spread.access_ip", &d->acl, aerr, sizeof(aerr)) == 0)
			d->have_acl = 1;
		else
			log_warnx("IP authentication enabled but no access list "
				  "could be read (%s): every IP check fails", aerr);
	}

	if (auth_init(d, err, errlen) != 0)
		goto fail;

	d->n_name_buckets = 16384;
	d->names = calloc(d->n_name_buckets, sizeof(*d->names));
	d->rbuf_cap = CHD_READ_CHUNK + WIRE_MAX_FRAME;
	d->rbuf = malloc(d->rbuf_cap);
	if (!d->names || !d->rbuf ||
	    groups_init(d, CHD_GROUP_MAX_MEMBERS) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (c->tls_port) {
		if (c->tls_port == d->port) {
			snprintf(err, errlen, "TlsPort %u is the client port",
				 c->tls_port);
			goto fail;
		}
		d->tls = tls_server_new(c, err, errlen);
		if (!d->tls)
			goto fail;
	}
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	if (d->ep < 0) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		goto fail;
	}
	if (open_listeners(d, err, errlen) != 0)
		goto fail;
	d->now_ms = clock_ms();
	d->rng = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
		 (uint64_t)d->now_ms;
	if (!d->rng)
		d->rng = 1;
	d->start_ms = d->now_ms;
	if (setup_order(d, &cb, err, errlen) != 0)
		goto fail;
	if (d->on_ring && (d->impair_path = getenv("CHORUS_TEST_IMPAIR")) &&
	    !*d->impair_path)
		d->impair_path = NULL;
	if (d->impair_path)
		log_warnx("test impairment of ring input enabled (CHORUS_TEST_IMPAIR=%s): "
			  "for tests only", d->impair_path);
	return 0;
fail:
	chd_shutdown(d);
	return -1;
}

void chd_request_stop(struct chd *d)
{
	d->stop = 1;
}

void chd_request_reload(struct chd *d)
{
	d->reload = 1;
}

/* SIGHUP: reads the ring's key file, HmacSecretsFile and the TLS
 * certificate, key and CA files again; a bad file keeps what was loaded
 * before. */
static void reload(struct chd *d)
{
	char err[512];

	d->reload = 0;
	rlink_reload(&d->link);
	auth_reload(d);
	if (!d->tls)
		return;
	if (tls_server_reload(d->tls, &d->conf, err, sizeof(err)) == 0)
		log_info("TLS certificate %s and key %s loaded again; new "
			 "connections use them", d->conf.tls_cert_file,
			 d->conf.tls_key_file);
	else
		log_warnx("TLS reload failed, keeping the certificate and key "
			  "loaded before: %s", err);
}

/* Out of descriptors: the pending connection would keep the listener
 * readable and the loop spinning. Free the spare descriptor, accept the
 * connection and close it at once, then take the spare back. */
static void shed_connection(struct chd *d, int lfd)
{
	int fd;

	log_warn("accept");
	if (d->spare_fd < 0)
		return;
	close(d->spare_fd);
	fd = accept(lfd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	d->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_ready(struct chd *d, int li)
{
	const struct chd_listener *l = &d->listeners[li];

	for (int n = 0; n < CHD_ACCEPTS_PER_ROUND; n++) {
		struct sockaddr_in sin;
		socklen_t slen = sizeof(sin);
		uint32_t addr = 0;
		struct sess *s;
		int fd = accept4(l->fd, (struct sockaddr *)&sin, &slen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				shed_connection(d, l->fd);
			return;
		}
		if (!l->is_unix) {
			int one = 1;

			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
			if (sin.sin_family == AF_INET)
				addr = ntohl(sin.sin_addr.s_addr);
		}
		s = sess_accept(d, fd, addr);
		if (s && l->is_tls && sio_tls_attach(d->tls, s) != 0)
			sess_end(d, s, SESS_END_NO_MEMORY, "TLS state");
	}
}

static int next_timeout(const struct chd *d)
{
	int64_t next = -1, od = d->ord->ops->next_deadline(d->ord);

	if (d->hs_head)
		next = d->hs_head->deadline_ms;
	if (od >= 0 && (next < 0 || od < next))
		next = od;
	if (d->impair_path) {
		int64_t im = net_impair_next_ms(&d->impair);

		if (im < 0 || d->impair.reload_ms < im)
			im = d->impair.reload_ms;
		if (next < 0 || im < next)
			next = im;
	}
	if (next < 0)
		return -1;
	if (next <= d->now_ms)
		return 0;
	return next - d->now_ms > 60000 ? 60000 : (int)(next - d->now_ms);
}

static void flush_dirty(struct chd *d)
{
	while (d->dirty) {
		struct sess *s = d->dirty;

		d->dirty = s->dirty_next;
		s->dirty = 0;
		s->dirty_next = NULL;
		if (!s->ended && !s->want_out)
			sess_flush(d, s);
	}
}

static void free_retired(struct chd *d)
{
	while (d->to_free) {
		struct sess *s = d->to_free;

		d->to_free = s->free_next;
		sess_free(s);
	}
}

void chd_settle(struct chd *d)
{
	while (d->hs_head && d->hs_head->deadline_ms <= d->now_ms)
		sess_handshake_expired(d, d->hs_head);
	groups_flush(d);
	impair_step(d);
	d->ord->ops->run(d->ord, d->now_ms);
	if (d->have_net)
		net_udp_flush(&d->net);
	rlink_tick(&d->link, d->now_ms);
	update_pause(d);
	flush_dirty(d);
	free_retired(d);
}

void chd_run(struct chd *d)
{
	struct epoll_event evs[CHD_EVENTS];
	sigset_t wait_mask;

	/* The stop and reload signals are taken only while the loop waits:
	 * blocked elsewhere, so one that comes while the loop works is not
	 * lost in the gap before the wait (it would then sleep until its
	 * next deadline). The caller blocks them before chd_run. */
	sigprocmask(SIG_SETMASK, NULL, &wait_mask);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGHUP);
	while (!d->stop) {
		int n = epoll_pwait(d->ep, evs, CHD_EVENTS, next_timeout(d), &wait_mask);
		int net_done = 0;

		d->now_ms = clock_ms();
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		if (d->reload)
			reload(d);
		for (int i = 0; i < n; i++) {
			uint64_t u = evs[i].data.u64;

			if (IS_LISTENER(u))
				accept_ready(d, (int)(u - 1));
			else if (IS_NET(u)) {
				if (!net_done)
					net_ready(d); /* both sockets at once */
				net_done = 1;
			}
			else
				sess_on_io(d, evs[i].data.ptr, evs[i].events);
		}
		chd_settle(d);
	}
}

void chd_shutdown(struct chd *d)
{
	while (d->sessions) {
		struct sess *s = d->sessions;

		if (s->fd >= 0) {
			sio_close(s);
			close(s->fd);
			s->fd = -1;
		}
		s->ended = 1;
		d->sessions = s->next;
		sess_free(s);
	}
	free_retired(d);
	for (int i = 0; i < d->n_listeners; i++)
		close(d->listeners[i].fd);
	d->n_listeners = 0;
	if (d->unix_path[0]) {
		unlink(d->unix_path);
		d->unix_path[0] = 0;
	}
	if (d->ord) {
		d->ord->ops->destroy(d->ord);
		d->ord = NULL;
	}
	net_udp_close(&d->net);
	rlink_close(&d->link);
	net_impair_free(&d->impair);
	d->have_net = 0;
	groups_free(d);
	if (d->ep >= 0)
		close(d->ep);
	d->ep = -1;
	if (d->spare_fd >= 0)
		close(d->spare_fd);
	d->spare_fd = -1;
	tls_server_free(d->tls);
	d->tls = NULL;
	free(d->names);
	d->names = NULL;
	free(d->rbuf);
	d->rbuf = NULL;
	auth_free(d);
}
