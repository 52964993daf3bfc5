/*
 * test_authz.c - unit tests of the access rules (src/daemon/authz.c):
 * parsing of rules (good and bad, table), the canonical printout that
 * parses back to the same rule, and the matcher over a table of rule
 * sets, subjects, actions and groups with the expected verdict and
 * deciding rule.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "daemon/authz.h"
#include "t.h"

#define IP4(a, b, c, d) \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* Splits a rule written on one line into words (no quoting here). */
static int split(const char *line, char buf[][128], const char **w)
{
	int n = 0;

	while (*line && n < 8) {
		size_t len;

		while (*line == ' ')
			line++;
		len = strcspn(line, " ");
		if (!len)
			break;
		memcpy(buf[n], line, len);
		buf[n][len] = 0;
		w[n] = buf[n];
		n++;
		line += len;
	}
	return n;
}

static void parse_rule(const char *line, struct authz_rule *r)
{
	char buf[8][128], err[160];
	const char *w[8];
	int n = split(line, buf, w);

	T_ASSERTF(authz_rule_parse(w, n, r, err, sizeof(err)) == 0, "%s: %s", line, err);
}

static void good_rules_round_trip(void)
{
	static const struct {
		const char *text, *canonical;
	} cases[] = {
		{ "allow send jigdo principal mirror-*",
		  "allow send \"jigdo\" principal \"mirror-*\"" },
		{ "deny all * anyone", "deny all \"*\" anyone" },
		{ "allow join #*#d1 unix", "allow join \"#*#d1\" unix" },
		{ "allow all g ip 10.1.2.3", "allow all \"g\" ip 10.1.2.3/32" },
		{ "allow all g ip 10.1.2.3/8", "allow all \"g\" ip 10.0.0.0/8" },
		{ "deny send [a-c]?x ip 0.0.0.0/0", "deny send \"[a-c]?x\" ip 0.0.0.0/0" },
		{ "allow join g principal a@b.example:1", "allow join \"g\" principal \"a@b.example:1\"" },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct authz_rule r, back;
		char text[AUTHZ_FORMAT_MAX], plain[AUTHZ_FORMAT_MAX];

		parse_rule(cases[i].text, &r);
		authz_rule_format(&r, text);
		T_STREQ(text, cases[i].canonical);
		/* The printout, quotes removed, parses to the same rule. */
		for (size_t a = 0, b = 0;; a++) {
			if (text[a] != '"')
				plain[b++] = text[a];
			if (!text[a])
				break;
		}
		parse_rule(plain, &back);
		T_MEMEQ(&r, &back, sizeof(r));
	}
}

static void bad_rules(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "allow join g", "an access rule is: allow|deny join|send|all GROUP WHO (found 3 words)" },
		{ "grant join g anyone", "starts with allow or deny, not 'grant'" },
		{ "allow leave g anyone", "expected join, send or all after allow, found 'leave'" },
		{ "allow join g someone", "expected principal, ip, unix or anyone after the group" },
		{ "allow join g anyone x", "'anyone' takes no argument" },
		{ "allow join g principal", "'principal' takes one argument" },
		{ "allow join g ip 1.2.3.4 5", "'ip' takes one argument" },
		{ "allow join g ip 1.2.3", "bad address '1.2.3' after ip" },
		{ "allow join g ip 1.2.3.4/", "bad address" },
		{ "allow join g ip 1.2.3.4/40", "bad address" },
		{ "allow join g ip 1.2.3.4/8x", "bad address" },
		{ "allow join g ip 300.2.3.4", "bad address" },
		{ "allow join a\"b anyone", "bad group pattern 'a\"b'" },
		{ "allow join "
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa anyone",
		  "bad group pattern" },
		{ "allow join g principal \"x", "bad principal pattern" },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		char buf[8][128], err[160];
		const char *w[8];
		struct authz_rule r;
		int n = split(cases[i].text, buf, w);

		T_ASSERTF(authz_rule_parse(w, n, &r, err, sizeof(err)) == -1,
			  "accepted: %s", cases[i].text);
		T_ASSERTF(strstr(err, cases[i].msg) != NULL, "%s: got \"%s\"",
			  cases[i].text, err);
	}
	T_EQ(authz_who_args("principal"), 1);
	T_EQ(authz_who_args("ip"), 1);
	T_EQ(authz_who_args("unix"), 0);
	T_EQ(authz_who_args("anyone"), 0);
	T_EQ(authz_who_args("nobody"), -1);
}

/* The mirror-network rules of docs/config.md. */
static const char *const mirror_rules[] = {
	"allow send jigdo principal mirror-*",
	"allow all jigdo principal logger-*",
	"deny all jigdo anyone",
	"allow join local-* unix",
	"allow all lan-* ip 10.0.0.0/8",
	"deny all local-* anyone",
	"deny all lan-* anyone",
	"allow all * anyone",
	NULL,
};

static void load(struct authz_rules *rs, const char *const *lines)
{
	memset(rs, 0, sizeof(*rs));
	for (; lines && *lines; lines++)
		parse_rule(*lines, &rs->r[rs->n++]);
}

static void matcher_table(void)
{
	static struct authz_rules rs;
	static const struct {
		const char *principal;
		uint32_t addr;
		int is_unix;
		unsigned action;
		const char *group;
		int allow, rule; /* rule: 1-based, 0 for none */
	} cases[] = {
		{ "mirror-7", IP4(192, 0, 2, 1), 0, AUTHZ_SEND, "jigdo", 1, 1 },
		{ "mirror-7", IP4(192, 0, 2, 1), 0, AUTHZ_JOIN, "jigdo", 0, 3 },
		{ "logger-1", IP4(192, 0, 2, 2), 0, AUTHZ_JOIN, "jigdo", 1, 2 },
		{ "logger-1", IP4(192, 0, 2, 2), 0, AUTHZ_SEND, "jigdo", 1, 2 },
		{ "", IP4(192, 0, 2, 3), 0, AUTHZ_SEND, "jigdo", 0, 3 },
		{ "", 0, 1, AUTHZ_JOIN, "jigdo", 0, 3 },
		/* Patterns match the whole name. */
		{ "xmirror-7", IP4(192, 0, 2, 1), 0, AUTHZ_SEND, "jigdo", 0, 3 },
		{ "mirror-7", IP4(192, 0, 2, 1), 0, AUTHZ_SEND, "jigdo2", 1, 8 },
		{ "", 0, 1, AUTHZ_JOIN, "local-x", 1, 4 },
		{ "", 0, 1, AUTHZ_SEND, "local-x", 0, 6 },
		{ "", IP4(127, 0, 0, 1), 0, AUTHZ_JOIN, "local-x", 0, 6 },
		{ "", IP4(10, 9, 8, 7), 0, AUTHZ_SEND, "lan-a", 1, 5 },
		{ "", IP4(11, 0, 0, 1), 0, AUTHZ_SEND, "lan-a", 0, 7 },
		/* An ip rule never matches a Unix-socket client, even 0/0. */
		{ "", 0, 1, AUTHZ_SEND, "lan-a", 0, 7 },
		{ "", IP4(1, 2, 3, 4), 0, AUTHZ_JOIN, "#p#d", 1, 8 },
	};

	load(&rs, mirror_rules);
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct authz_subject s = { cases[i].principal, cases[i].addr,
					   cases[i].is_unix };
		int rule = -2;

		T_EQ(authz_check(&rs, &s, cases[i].action, cases[i].group, &rule),
		     cases[i].allow);
		T_ASSERTF(rule == cases[i].rule - 1, "case %zu: rule %d", i, rule + 1);
	}
}

/* No rules: everything allowed, no deciding rule. Rules that match
 * nothing: refused, no deciding rule. */
static void defaults(void)
{
	static struct authz_rules rs;
	static const char *const one[] = { "allow join a anyone", NULL };
	static const char *const ip0[] = { "allow all * ip 0.0.0.0/0", NULL };
	struct authz_subject s = { "", IP4(10, 0, 0, 1), 0 };
	struct authz_subject u = { NULL, 0, 1 };
	int rule = 5;

	load(&rs, NULL);
	T_EQ(authz_check(&rs, &s, AUTHZ_SEND, "anything", &rule), 1);
	T_EQ(rule, -1);
	load(&rs, one);
	T_EQ(authz_check(&rs, &s, AUTHZ_JOIN, "a", &rule), 1);
	T_EQ(rule, 0);
	T_EQ(authz_check(&rs, &s, AUTHZ_SEND, "a", &rule), 0);
	T_EQ(rule, -1);
	T_EQ(authz_check(&rs, &u, AUTHZ_JOIN, "b", &rule), 0);
	load(&rs, ip0);
	T_EQ(authz_check(&rs, &s, AUTHZ_SEND, "x", &rule), 1);
	T_EQ(authz_check(&rs, &u, AUTHZ_SEND, "x", &rule), 0);
	/* A principal rule never matches a client without a principal. */
	{
		static const char *const star[] = { "allow all * principal *", NULL };

		load(&rs, star);
		T_EQ(authz_check(&rs, &s, AUTHZ_SEND, "x", &rule), 0);
		T_EQ(authz_check(&rs, &u, AUTHZ_SEND, "x", &rule), 0);
		s.principal = "p";
		T_EQ(authz_check(&rs, &s, AUTHZ_SEND, "x", &rule), 1);
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(good_rules_round_trip),
		T_CASE(bad_rules),
		T_CASE(matcher_table),
		T_CASE(defaults),
	};
	return t_main(argc, argv, cases, T_COUNT(cases));
}
