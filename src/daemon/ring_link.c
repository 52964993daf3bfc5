/*
 * ring_link.c - sealing in the daemon's shell (see ring_link.h).
 */
#include "ring_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dpriv.h"
#include "ring/ring_pkt.h"
#include "util/log.h"

uint8_t rlink_conf_suite(const struct conf *c)
{
	if (!c->ring_key_file[0])
		return 0;
	switch (c->ring_encryption) {
	case CONF_RING_ENC_AES_GCM: return RSEC_SUITE_AES_GCM;
	case CONF_RING_ENC_CHACHA: return RSEC_SUITE_CHACHA;
	default: return RSEC_SUITE_GMAC;
	}
}

/* The path with "%h" (or "%H") replaced by the daemon's name. */
static void expand_path(const char *pat, const char *name, char *out,
			size_t cap)
{
	size_t o = 0;

	for (const char *p = pat; *p && o + 1 < cap; p++) {
		if (p[0] == '%' && (p[1] == 'h' || p[1] == 'H')) {
			o += (size_t)snprintf(out + o, cap - o, "%s", name);
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o < cap ? o : cap - 1] = 0;
}

int rlink_check_keys(const struct conf *c, const char *name, int *checked,
		     char *err, size_t errlen)
{
	char path[CONF_PATH_MAX + 64], kerr[512];
	struct rsec_keys keys;
	int rc;

	*checked = 0;
	if (!c->ring_key_file[0] ||
	    (!name && (strstr(c->ring_key_file, "%h") ||
		       strstr(c->ring_key_file, "%H"))))
		return 0;
	expand_path(c->ring_key_file, name ? name : "", path, sizeof(path));
	*checked = 1;
	rc = rsec_keys_load(path, dpriv_service_uid(c), &keys, kerr, sizeof(kerr));
	if (rc != 0)
		snprintf(err, errlen, "RingKeyFile: %s", kerr);
	memset(&keys, 0, sizeof(keys));
	return rc;
}

int rlink_setup(struct rlink *l, const struct conf *c, const char *name,
		uint32_t my_id, uint32_t incarnation, size_t pkt_max,
		char *err, size_t errlen)
{
	uint8_t salt[RSEC_SALT_LEN], suite = rlink_conf_suite(c);
	struct rsec_keys keys;
	char kerr[512], d[100];
	int rc;

	memset(l, 0, sizeof(*l));
	if (!suite)
		return 0;
	expand_path(c->ring_key_file, name, l->key_path, sizeof(l->key_path));
	l->key_owner = dpriv_service_uid(c);
	if (rsec_keys_load(l->key_path, l->key_owner, &keys, kerr,
			   sizeof(kerr)) != 0) {
		snprintf(err, errlen, "RingKeyFile: %s", kerr);
		return -1;
	}
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	rc = rsec_new(&keys, suite, my_id, incarnation, salt, &l->sec, err,
		      errlen);
	rsec_keys_describe(&keys, d, sizeof(d));
	memset(&keys, 0, sizeof(keys));
	if (rc != 0)
		return -1;
	l->cap = pkt_max + RSEC_OVERHEAD;
	l->obuf = malloc(l->cap);
	l->ibuf = malloc(l->cap);
	if (!l->obuf || !l->ibuf) {
		snprintf(err, errlen, "out of memory");
		rlink_close(l);
		return -1;
	}
	log_info("ring datagrams %s, keys %s from %s", rsec_suite_name(suite),
		 d, l->key_path);
	return 0;
}

void rlink_close(struct rlink *l)
{
	rsec_free(l->sec);
	l->sec = NULL;
	free(l->obuf);
	free(l->ibuf);
	l->obuf = l->ibuf = NULL;
}

int rlink_seal(struct rlink *l, const uint8_t **pkt, size_t *len)
{
	int n;

	if (!l->sec)
		return 0;
	n = rsec_seal(l->sec, *pkt, *len, l->obuf, l->cap);
	if (n < 0) {
		log_warnx("cannot seal a ring datagram of %zu bytes", *len);
		return -1;
	}
	*pkt = l->obuf;
	*len = (size_t)n;
	return 0;
}

/* The slot of address `from` in the failure log (or NULL: full). */
static struct rlink_fail *fail_slot(struct rlink *l, uint32_t from)
{
	for (unsigned i = 0; i < l->n_fail; i++)
		if (l->fail[i].addr == from)
			return &l->fail[i];
	if (l->n_fail == RLINK_LOG_SLOTS)
		return NULL;
	memset(&l->fail[l->n_fail], 0, sizeof(l->fail[0]));
	l->fail[l->n_fail].addr = from;
	return &l->fail[l->n_fail++];
}

/* Why a datagram failed, for the log. */
static void describe(const uint8_t *p, size_t len, enum rsec_result r,
		     char *buf, size_t cap)
{
	uint8_t kid = 0;
	uint32_t sender = 0;

	rsec_peek(p, len, &kid, &sender);
	switch (r) {
	case RSEC_MALFORMED:
		if (len >= 2 && p[0] == (RING_PKT_MAGIC >> 8) &&
		    p[1] == (RING_PKT_MAGIC & 255))
			snprintf(buf, cap, "a ring packet in clear: that daemon "
				 "has no RingKeyFile");
		else
			snprintf(buf, cap, "not a sealed datagram");
		break;
	case RSEC_SUITE:
		snprintf(buf, cap, "sealed with suite 0x%02x: RingEncryption "
			 "differs", len > 2 ? p[2] : 0);
		break;
	case RSEC_KEY_ID:
		snprintf(buf, cap, "key id %u is not in our key file", kid);
		break;
	case RSEC_TAG:
		snprintf(buf, cap, "bad tag under key id %u: another key "
			 "with that id, or forged", kid);
		break;
	default:
		snprintf(buf, cap, "%s", rsec_result_names[r]);
		break;
	}
}

/* Counts a failure for the log; `why` (or NULL) replaces the reason
 * read from the datagram. */
static void note_failure(struct rlink *l, int64_t now_ms, uint32_t from,
			 const uint8_t *p, size_t len, enum rsec_result r,
			 const char *why)
{
	struct rlink_fail *f = fail_slot(l, from);

	if (!f) {
		l->fail_others++;
	} else if (r == RSEC_REPLAYED || r == RSEC_STALE) {
		f->dropped++;
	} else {
		f->forged++;
		if (why)
			snprintf(f->why, sizeof(f->why), "%s", why);
		else
			describe(p, len, r, f->why, sizeof(f->why));
	}
	rlink_tick(l, now_ms);
}

int rlink_open(struct rlink *l, int64_t now_ms, uint32_t from,
	       const uint8_t **pkt, size_t *len)
{
	uint32_t sender;
	enum rsec_result r;

	if (!l->sec) {
		if (!rsec_is_sealed(*pkt, *len))
			return 1;
		/* Sealed, and we have no key: not for the ring core. */
		l->unexpected++;
		note_failure(l, now_ms, from, *pkt, *len, RSEC_MALFORMED,
			     "sealed, but this daemon has no RingKeyFile");
		return 0;
	}
	{
		const uint8_t *in = *pkt;
		size_t in_len = *len;
		struct ring_hdr h;
		uint32_t inc;

		r = rsec_open(l->sec, in, in_len, l->ibuf, l->cap, pkt, len, &sender);
		if (r != RSEC_OK) {
			note_failure(l, now_ms, from, in, in_len, r, NULL);
			return 0;
		}
		/* The ring packet must name the sender and boot its seal
		 * names (a packet the core cannot read is the core's to drop).
		 * With one key a segment any key holder can claim any id, but
		 * a packet that does so under its own seal is never right. */
		inc = (uint32_t)in[8] << 24 | (uint32_t)in[9] << 16 |
		      (uint32_t)in[10] << 8 | in[11];
		if (ring_pkt_get_hdr(*pkt, *len, &h) == 0 &&
		    (h.sender != sender || h.sender_inc != inc)) {
			l->mismatched++;
			note_failure(l, now_ms, from, in, in_len, RSEC_TAG,
				     "the ring packet names another sender or boot "
				     "than its seal");
			return 0;
		}
		return 1;
	}
}

void rlink_tick(struct rlink *l, int64_t now_ms)
{
	if (l->n_fail == 0 && l->fail_others == 0)
		return;
	if (now_ms < l->next_log_ms)
		return;
	for (unsigned i = 0; i < l->n_fail; i++) {
		const struct rlink_fail *f = &l->fail[i];
		uint32_t a = f->addr;

		if (f->forged)
			log_warnx("%llu packets from %u.%u.%u.%u failed "
				  "authentication; wrong key? (%s)",
				  (unsigned long long)f->forged, a >> 24,
				  (a >> 16) & 255, (a >> 8) & 255, a & 255,
				  f->why);
		if (f->dropped)
			log_warnx("%llu replayed or stale packets from "
				  "%u.%u.%u.%u dropped",
				  (unsigned long long)f->dropped, a >> 24,
				  (a >> 16) & 255, (a >> 8) & 255, a & 255);
	}
	if (l->fail_others)
		log_warnx("%llu more packets from other addresses failed "
			  "authentication or were replayed",
			  (unsigned long long)l->fail_others);
	l->n_fail = 0;
	l->fail_others = 0;
	l->next_log_ms = now_ms + RLINK_LOG_MS;
}

void rlink_reload(struct rlink *l)
{
	struct rsec_keys keys;
	char err[512], d[100];

	if (!l->sec) {
		log_info("SIGHUP: no RingKeyFile, nothing to reload (adding "
			 "one needs a restart)");
		return;
	}
	if (rsec_keys_load(l->key_path, l->key_owner, &keys, err,
			   sizeof(err)) != 0) {
		log_warnx("SIGHUP: %s; keeping the keys in use", err);
		return;
	}
	if (rsec_set_keys(l->sec, &keys, err, sizeof(err)) != 0)
		log_warnx("SIGHUP: %s; keeping the keys in use", err);
	else {
		rsec_keys_describe(&keys, d, sizeof(d));
		log_info("ring keys reloaded from %s: %s", l->key_path, d);
	}
	memset(&keys, 0, sizeof(keys));
}

void rlink_counters(const struct rlink *l, uint64_t *forged,
		    uint64_t *replayed, uint64_t *stale)
{
	const struct rsec_stats *s;

	*forged = l->unexpected + l->mismatched;
	*replayed = *stale = 0;
	if (!l->sec)
		return;
	s = rsec_stats(l->sec);
	*forged += s->failed[RSEC_MALFORMED] + s->failed[RSEC_SUITE] +
		   s->failed[RSEC_KEY_ID] + s->failed[RSEC_TAG];
	*replayed = s->failed[RSEC_REPLAYED];
	*stale = s->failed[RSEC_STALE];
}
