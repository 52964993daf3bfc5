/*
 * authz.h - authorisation rules of chorusd: which clients may join which
 * groups and may send to which groups (docs/config.md "AccessRules").
 *
 * A rule is
 *
 *     allow|deny  join|send|all  GROUP-PATTERN  WHO
 *
 * where WHO is `principal PATTERN` (the name an authentication method
 * proved: HMAC today), `ip A.B.C.D[/N]` (the TCP client's address, any
 * method), `unix` (clients on the Unix socket) or `anyone`. Patterns are
 * shell globs (fnmatch(3): *, ?, [...]). The first rule whose action,
 * group and subject match decides. With no rules at all everything is
 * allowed (Spread's PERMIT policy); once there is a rule, a request that
 * no rule matches is refused.
 *
 * Pure: no I/O, no globals. conf.c reads the words of a rule from the
 * configuration and hands them to authz_rule_parse(); conf_print() prints
 * rules back with authz_rule_format().
 *
 * Ownership: plain values with fixed arrays, inside struct conf.
 */
#ifndef CHORUS_AUTHZ_H
#define CHORUS_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#define AUTHZ_MAX_RULES 256
#define AUTHZ_GROUP_PATTERN_MAX 64     /* characters */
#define AUTHZ_PRINCIPAL_PATTERN_MAX 96 /* characters */
#define AUTHZ_FORMAT_MAX 256           /* authz_rule_format() output */

/* Actions; a rule may cover both. */
#define AUTHZ_JOIN 0x1u
#define AUTHZ_SEND 0x2u

enum authz_who { AUTHZ_ANYONE, AUTHZ_PRINCIPAL, AUTHZ_IP, AUTHZ_UNIX };

struct authz_rule {
	int allow;        /* 1 allow, 0 deny */
	unsigned actions; /* AUTHZ_JOIN | AUTHZ_SEND */
	enum authz_who who;
	char group[AUTHZ_GROUP_PATTERN_MAX + 1];
	char principal[AUTHZ_PRINCIPAL_PATTERN_MAX + 1]; /* AUTHZ_PRINCIPAL */
	uint32_t net, mask;                              /* AUTHZ_IP */
};

struct authz_rules {
	int n;
	struct authz_rule r[AUTHZ_MAX_RULES];
};

/* Who asks: the principal an authentication method set ("" if none),
 * and where the client is. */
struct authz_subject {
	const char *principal;
	uint32_t addr;   /* IPv4, host order; for TCP clients */
	int is_unix;
};

/* How many words follow WHO word `who` (1 for principal and ip, 0 for
 * unix and anyone), or -1 if it is not a WHO word. */
int authz_who_args(const char *who);

/* Parses the n words of one rule (4 or 5: verdict, action, group, who
 * [, argument]) into r. Returns 0, or -1 with a message in err. */
int authz_rule_parse(const char *const *w, int n, struct authz_rule *r,
		     char *err, size_t errlen);

/* Writes the rule as the words that parse back to it, patterns quoted;
 * out holds AUTHZ_FORMAT_MAX bytes. */
void authz_rule_format(const struct authz_rule *r, char *out);

/* Decides one request: 1 if allowed, 0 if refused. *rule is set to the
 * index of the deciding rule, or -1 if none decided (no rules: allowed;
 * else refused). `group` is the NUL-terminated group name. */
int authz_check(const struct authz_rules *rules, const struct authz_subject *s,
		unsigned action, const char *group, int *rule);

#endif /* CHORUS_AUTHZ_H */
