/*
 * authz.c - the rules that say who may join and send to which groups
 * (see authz.h). This is the access-control hook of the client protocol
 * (docs/client-protocol.md 4.6 and 4.10: a refusal becomes a reject
 * frame); Spread 4.4 has only the PERMIT policy, which is what an empty
 * rule list gives.
 */
#include "authz.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static const char *const action_names[] = { NULL, "join", "send", "all" };
static const char *const who_names[] = {
	[AUTHZ_ANYONE] = "anyone", [AUTHZ_PRINCIPAL] = "principal",
	[AUTHZ_IP] = "ip", [AUTHZ_UNIX] = "unix",
};

int authz_who_args(const char *who)
{
	if (strcmp(who, "principal") == 0 || strcmp(who, "ip") == 0)
		return 1;
	if (strcmp(who, "unix") == 0 || strcmp(who, "anyone") == 0)
		return 0;
	return -1;
}

/* Checks a pattern: 1..max printable ASCII characters without spaces or
 * double quotes (so it always prints back in double quotes). */
static int pattern_ok(const char *p, size_t max)
{
	size_t n = strlen(p);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f ||
		    p[i] == '"')
			return 0;
	return 1;
}

/* Parses A.B.C.D or A.B.C.D/N. Returns 0 or -1. */
static int parse_cidr(const char *s, uint32_t *net, uint32_t *mask)
{
	unsigned a[4], bits = 32;
	int n = 0;
	char tail;

	if (sscanf(s, "%3u.%3u.%3u.%3u%n", &a[0], &a[1], &a[2], &a[3], &n) != 4)
		return -1;
	if (s[n] == '/') {
		int m = 0;

		if (sscanf(s + n + 1, "%2u%n%c", &bits, &m, &tail) != 1 ||
		    s[n + 1] < '0' || s[n + 1] > '9' || bits > 32)
			return -1;
		n += 1 + m;
	}
	if (s[n] != 0)
		return -1;
	for (int i = 0; i < 4; i++)
		if (a[i] > 255)
			return -1;
	*mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	*net = ((uint32_t)a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]) & *mask;
	return 0;
}

int authz_rule_parse(const char *const *w, int n, struct authz_rule *r,
		     char *err, size_t errlen)
{
	int args;

	memset(r, 0, sizeof(*r));
	if (n < 4) {
		snprintf(err, errlen,
			 "an access rule is: allow|deny join|send|all GROUP WHO (found %d words)",
			 n);
		return -1;
	}
	if (strcmp(w[0], "allow") == 0)
		r->allow = 1;
	else if (strcmp(w[0], "deny") != 0) {
		snprintf(err, errlen, "an access rule starts with allow or deny, not '%.40s'",
			 w[0]);
		return -1;
	}
	for (unsigned a = 1; a <= 3; a++)
		if (strcmp(w[1], action_names[a]) == 0)
			r->actions = a;
	if (!r->actions) {
		snprintf(err, errlen, "expected join, send or all after %s, found '%.40s'",
			 w[0], w[1]);
		return -1;
	}
	if (!pattern_ok(w[2], AUTHZ_GROUP_PATTERN_MAX)) {
		snprintf(err, errlen,
			 "bad group pattern '%.40s': 1..%d printable characters, no spaces or '\"'",
			 w[2], AUTHZ_GROUP_PATTERN_MAX);
		return -1;
	}
	memcpy(r->group, w[2], strlen(w[2]) + 1);
	args = authz_who_args(w[3]);
	if (args < 0) {
		snprintf(err, errlen,
			 "expected principal, ip, unix or anyone after the group, found '%.40s'",
			 w[3]);
		return -1;
	}
	if (n != 4 + args) {
		snprintf(err, errlen, "'%s' takes %s", w[3],
			 args ? "one argument" : "no argument");
		return -1;
	}
	if (strcmp(w[3], "anyone") == 0) {
		r->who = AUTHZ_ANYONE;
	} else if (strcmp(w[3], "unix") == 0) {
		r->who = AUTHZ_UNIX;
	} else if (strcmp(w[3], "ip") == 0) {
		r->who = AUTHZ_IP;
		if (parse_cidr(w[4], &r->net, &r->mask) != 0) {
			snprintf(err, errlen,
				 "bad address '%.40s' after ip (expected A.B.C.D or A.B.C.D/N)",
				 w[4]);
			return -1;
		}
	} else {
		r->who = AUTHZ_PRINCIPAL;
		if (!pattern_ok(w[4], AUTHZ_PRINCIPAL_PATTERN_MAX)) {
			snprintf(err, errlen,
				 "bad principal pattern '%.40s': 1..%d printable characters, no spaces or '\"'",
				 w[4], AUTHZ_PRINCIPAL_PATTERN_MAX);
			return -1;
		}
		memcpy(r->principal, w[4], strlen(w[4]) + 1);
	}
	return 0;
}

void authz_rule_format(const struct authz_rule *r, char *out)
{
	int n = snprintf(out, AUTHZ_FORMAT_MAX, "%s %s \"%s\" %s",
			 r->allow ? "allow" : "deny",
			 action_names[r->actions & 3], r->group,
			 who_names[r->who]);

	if (n < 0 || n >= AUTHZ_FORMAT_MAX)
		return;
	if (r->who == AUTHZ_PRINCIPAL) {
		snprintf(out + n, AUTHZ_FORMAT_MAX - (size_t)n, " \"%s\"",
			 r->principal);
	} else if (r->who == AUTHZ_IP) {
		int bits = 0;

		for (uint32_t m = r->mask; m; m <<= 1)
			bits++;
		snprintf(out + n, AUTHZ_FORMAT_MAX - (size_t)n, " %u.%u.%u.%u/%d",
			 r->net >> 24, (r->net >> 16) & 0xff, (r->net >> 8) & 0xff,
			 r->net & 0xff, bits);
	}
}

/* Whether the rule's WHO covers the subject. */
static int who_matches(const struct authz_rule *r, const struct authz_subject *s)
{
	switch (r->who) {
	case AUTHZ_ANYONE:
		return 1;
	case AUTHZ_UNIX:
		return s->is_unix;
	case AUTHZ_IP:
		return !s->is_unix && (s->addr & r->mask) == r->net;
	case AUTHZ_PRINCIPAL:
		return s->principal && s->principal[0] &&
		       fnmatch(r->principal, s->principal, 0) == 0;
	}
	return 0;
}

int authz_check(const struct authz_rules *rules, const struct authz_subject *s,
		unsigned action, const char *group, int *rule)
{
	int n = rules->n < AUTHZ_MAX_RULES ? rules->n : AUTHZ_MAX_RULES;

	*rule = -1;
	if (n <= 0)
		return 1;
	for (int i = 0; i < n; i++) {
		const struct authz_rule *r = &rules->r[i];

		if (!(r->actions & action) || !who_matches(r, s) ||
		    fnmatch(r->group, group, 0) != 0)
			continue;
		*rule = i;
		return r->allow;
	}
	return 0;
}
