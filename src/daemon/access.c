/*
 * access.c - the access-control hook of chorusd's client frames (see
 * access.h): joins ask the rules for `join`, data frames for `send` to
 * each destination group. A data frame to several groups is refused as a
 * whole if any one of its groups is refused, so a refused send reaches
 * no one (docs/config.md "AccessRules").
 */
#include "access.h"

#include <stdio.h>
#include <string.h>

#include "authz.h"
#include "daemon.h"
#include "util/log.h"

struct msg *access_reject_frame(const struct wire_hdr *h, enum wire_kind kind,
				const uint8_t *body, size_t blen, const char *pg)
{
	int32_t ng = h->num_groups < WIRE_MAX_GROUPS ? h->num_groups + 1 :
						       WIRE_MAX_GROUPS;
	size_t names = (size_t)h->num_groups * WIRE_NAME_LEN;
	size_t dlen = blen - names;
	uint32_t old = kind == WIRE_K_JOIN ? WIRE_BY_JOIN : h->type & ~WIRE_MARK;
	struct wire_hdr r;
	struct msg *m;
	uint8_t *p;

	m = msg_new((uint32_t)(WIRE_HDR_LEN + 4 + (size_t)ng * WIRE_NAME_LEN + dlen));
	if (!m)
		return NULL;
	memset(&r, 0, sizeof(r));
	r.type = WIRE_REJECT | (h->type & WIRE_SELF_DISCARD);
	memcpy(r.name, pg, strlen(pg));
	r.num_groups = ng;
	r.hint = h->hint;
	r.data_len = (int32_t)dlen;
	wire_hdr_encode(&r, m->data);
	p = m->data + WIRE_HDR_LEN;
	old = (old & ~WIRE_MARK) | WIRE_OWN_MARK;
	memcpy(p, &old, 4);
	p += 4;
	/* The original names, then the sender's private group; with 100
	 * names already, it takes the place of the last (as in Spread). */
	memcpy(p, body, (size_t)(ng - 1) * WIRE_NAME_LEN);
	p += (size_t)(ng - 1) * WIRE_NAME_LEN;
	memset(p, 0, WIRE_NAME_LEN);
	memcpy(p, pg, strlen(pg));
	p += WIRE_NAME_LEN;
	memcpy(p, body + names, dlen);
	return m;
}

int access_check_frame(struct chd *d, struct sess *s, const struct wire_hdr *h,
		       enum wire_kind kind, const uint8_t *body, size_t blen)
{
	const struct authz_rules *rules = &d->conf.access_rules;
	struct authz_subject who = { s->principal, s->peer_addr, s->peer_addr == 0 };
	unsigned action = kind == WIRE_K_JOIN ? AUTHZ_JOIN : AUTHZ_SEND;
	char group[WIRE_NAME_LEN + 1], rule[24], addr[24];
	struct msg *m;
	int n, i, rn = -1;

	if (rules->n == 0 || (kind != WIRE_K_JOIN && kind != WIRE_K_DATA))
		return 1;
	n = kind == WIRE_K_JOIN ? 1 : h->num_groups;
	for (i = 0; i < n; i++) {
		const char *field = (const char *)body + (size_t)i * WIRE_NAME_LEN;
		size_t len = wire_name_len(field);

		memcpy(group, field, len);
		group[len] = 0;
		if (!authz_check(rules, &who, action, group, &rn))
			break;
	}
	if (i == n)
		return 1;
	d->stats.access_refused++;
	if (rn >= 0)
		snprintf(rule, sizeof(rule), "access rule %d", rn + 1);
	else
		snprintf(rule, sizeof(rule), "no rule allows it");
	if (s->peer_addr)
		snprintf(addr, sizeof(addr), "%u.%u.%u.%u", s->peer_addr >> 24,
			 (s->peer_addr >> 16) & 0xff, (s->peer_addr >> 8) & 0xff,
			 s->peer_addr & 0xff);
	else
		snprintf(addr, sizeof(addr), "unix");
	auth_log_refusal(d, "%s of %s (principal %s, %s) to group %s refused: %s%s",
			 kind == WIRE_K_JOIN ? "join" : "send", s->pg,
			 s->principal[0] ? s->principal : "none", addr, group, rule,
			 n > 1 ? "; the whole message is dropped" : "");
	m = access_reject_frame(h, kind, body, blen, s->pg);
	if (!m)
		return 0;
	d->stats.rejects++;
	sess_send(d, s, m);
	msg_unref(m);
	return 0;
}
