/*
 * ring_setup.c - from spread.conf to the ring (see ring_setup.h).
 */
#include "ring_setup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The ring's parameters from the configuration. Spread's nine timeouts
 * (all or none, conf.c checks) map onto the ring's: TokenTimeout and
 * HurryTimeout directly, JoinTimeout to the join interval, GatherTimeout
 * to the consensus timeout, LookupTimeout to the merge probe; the other
 * four have no counterpart (docs/config.md). */
static void ring_params(const struct conf *c, struct ring_config *rc)
{
	ring_config_defaults(rc);
	rc->window = (uint32_t)c->window;
	rc->personal_window = (uint32_t)c->personal_window;
	rc->accel_window = (uint32_t)c->accelerated_window;
	rc->accelerated = c->accelerated_ring == 1;
	if (c->timeouts_set) {
		rc->token_timeout_ms = (uint32_t)c->token_timeout_ms;
		rc->hurry_ms = (uint32_t)c->hurry_timeout_ms;
		rc->join_ms = (uint32_t)c->join_timeout_ms;
		rc->consensus_ms = (uint32_t)c->gather_timeout_ms;
		rc->merge_ms = (uint32_t)c->lookup_timeout_ms;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends to buf (bounded; the length keeps counting past cap). */
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0,
		      fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

#define IP4(a) (a) >> 24, ((a) >> 16) & 255, ((a) >> 8) & 255, (a) & 255

size_t rset_canonical(const struct conf *c, int segment, char *buf,
		      size_t cap)
{
	const struct conf_segment *sg = &c->segments[segment];
	uint32_t order[CONF_MAX_HOSTS];
	struct ring_config rc;
	size_t len = 0;
	int n = 0;

	if (cap)
		buf[0] = 0;
	put(buf, cap, &len, "segment %u.%u.%u.%u:%u transport %s\n",
	    IP4(sg->addr), sg->port, conf_transport_names[c->ring_transport]);
	/* Hosts by address, each with its interfaces by address. */
	for (int i = 0; i < sg->n_hosts; i++)
		order[n++] = (uint32_t)i; /* host index, sorted below */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (c->hosts[sg->first_host + (int)order[j]].addr <
			    c->hosts[sg->first_host + (int)order[i]].addr) {
				uint32_t t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
	for (int i = 0; i < n; i++) {
		const struct conf_host *h = &c->hosts[sg->first_host + (int)order[i]];
		uint32_t ifs[CONF_MAX_IFACES];

		put(buf, cap, &len, "host %u.%u.%u.%u %s", IP4(h->addr), h->name);
		for (int k = 0; k < h->n_ifaces; k++)
			ifs[k] = h->ifaces[k].addr;
		qsort(ifs, (size_t)h->n_ifaces, sizeof(ifs[0]), cmp_u32);
		for (int k = 0; k < h->n_ifaces; k++) {
			unsigned roles = 0;

			for (int m = 0; m < h->n_ifaces; m++)
				if (h->ifaces[m].addr == ifs[k])
					roles |= h->ifaces[m].roles;
			put(buf, cap, &len, " if %u.%u.%u.%u/%u", IP4(ifs[k]), roles);
		}
		put(buf, cap, &len, "\n");
	}
	ring_params(c, &rc);
	put(buf, cap, &len,
	    "token %u hurry %u join %u consensus %u merge %u hold %u\n"
	    "window %u personal %u accel_window %u accelerated %d\n"
	    "payload %u store %u send_queue %u\n",
	    rc.token_timeout_ms, rc.hurry_ms, rc.join_ms, rc.consensus_ms,
	    rc.merge_ms, rc.token_hold_ms, rc.window, rc.personal_window,
	    rc.accel_window, rc.accelerated, rc.max_payload, rc.store_slots,
	    rc.send_queue_max);
	/* Spread's four timeouts without a counterpart still belong to the
	 * configuration daemons must share. */
	if (c->timeouts_set)
		put(buf, cap, &len, "alive %d rep %d seg %d form %d\n",
		    c->alive_timeout_ms, c->rep_timeout_ms, c->seg_timeout_ms,
		    c->form_timeout_ms);
	return len < cap ? len : (cap ? cap - 1 : 0);
}

uint32_t rset_conf_hash(const struct conf *c, int segment)
{
	static char buf[CONF_MAX_HOSTS * 256 + 1024];
	size_t len = rset_canonical(c, segment, buf, sizeof(buf));
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)buf[i]) * 16777619u;
	return h;
}

int rset_ring_config(const struct conf *c, int host, struct ring_config *rc,
		     char *err, size_t errlen)
{
	const struct conf_host *me = &c->hosts[host];
	const struct conf_segment *sg = &c->segments[me->segment];

	ring_params(c, rc);
	rc->my_id = me->addr;
	rc->n_members = 0;
	for (int i = 0; i < sg->n_hosts && rc->n_members < RING_MAX_MEMBERS; i++) {
		uint32_t a = c->hosts[sg->first_host + i].addr;

		for (unsigned k = 0; k < rc->n_members; k++)
			if (rc->members[k] == a) {
				snprintf(err, errlen, "hosts %s and %s of the segment "
					 "share the address %u.%u.%u.%u",
					 c->hosts[sg->first_host + i].name, me->name,
					 IP4(a));
				return -1;
			}
		rc->members[rc->n_members++] = a;
	}
	rc->conf_hash = rset_conf_hash(c, me->segment);
	rc->incarnation = 1;
	if (ring_config_check(rc, err, errlen) != 0)
		return -1;
	return 0;
}

enum net_mode rset_transport(const struct conf *c, int host)
{
	switch (c->ring_transport) {
	case CONF_TRANSPORT_BROADCAST: return NET_BROADCAST;
	case CONF_TRANSPORT_MULTICAST: return NET_MULTICAST;
	case CONF_TRANSPORT_UNICAST: return NET_UNICAST;
	default:
		return net_udp_auto_mode(c->segments[c->hosts[host].segment].addr);
	}
}

void rset_state_path(const char *dir, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/chorusd-%s.state", dir, name);
}

int rset_state_load(const char *path, struct rset_state *st)
{
	FILE *fp = fopen(path, "r");
	unsigned inc, seq;
	int ok;

	memset(st, 0, sizeof(*st));
	if (!fp)
		return errno == ENOENT ? 0 : -1;
	ok = fscanf(fp, "incarnation %u ring_seq %u", &inc, &seq) == 2;
	fclose(fp);
	if (!ok)
		return -1;
	st->incarnation = inc;
	st->high_ring_seq = seq;
	return 0;
}

int rset_state_save(const char *path, const struct rset_state *st)
{
	char tmp[CONF_PATH_MAX + 64];
	FILE *fp;
	int ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	/* A temporary file left by a crash may belong to root (the first
	 * save happens before chorusd drops root): replace, never reuse. */
	unlink(tmp);
	fp = fopen(tmp, "w");
	if (!fp)
		return -1;
	ok = fprintf(fp, "incarnation %u\nring_seq %u\n", st->incarnation,
		     st->high_ring_seq) > 0;
	ok = (fclose(fp) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

void rset_state_next(const struct rset_state *saved, uint32_t now_s,
		     uint32_t *incarnation, uint32_t *ring_seq_base)
{
	*incarnation = saved->incarnation + 1 > now_s ? saved->incarnation + 1
						      : now_s;
	*ring_seq_base = saved->high_ring_seq + 1 > now_s
				 ? saved->high_ring_seq + 1 : now_s;
}
