/*
 * release.c - release path patterns (see release.h): a small recursive
 * matcher with backtracking; patterns are short and a required literal
 * is looked for first, so most paths are refused by one memmem().
 */
#include "stats/release.h"

#include <stdio.h>
#include <string.h>

static const char *const defaults[] = {
	"template=**/templates/{release}/{image}.template",
	"jigdo=**/templates/{release}/{image}.jigdo",
	"jigdo=**/jigdo/{release}/{image}.jigdo",
	"iso=**/iso/{release}/{image}.iso",
	"iso=**/{release}/*/iso-*/{image}.iso",
	/* debian-cd: <version>/<arch>/jigdo-cd|jigdo-dvd|jigdo-bd/<image>.* */
	"jigdo=**/{release}/*/jigdo-*/{image}.jigdo",
	"template=**/{release}/*/jigdo-*/{image}.template",
	"data=**/data/{release}/**",
};

int rl_add(struct rl_set *s, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');

	if (!eq || eq == spec || (size_t)(eq - spec) >= RL_KIND_MAX || !eq[1]) {
		snprintf(err, errlen, "release pattern \"%s\": expected KIND=PATTERN", spec);
		return -1;
	}
	if (strlen(eq + 1) >= RL_PAT_MAX) {
		snprintf(err, errlen, "release pattern \"%s\": longer than %d bytes", spec,
			 RL_PAT_MAX - 1);
		return -1;
	}
	if (!strstr(eq + 1, "{release}")) {
		snprintf(err, errlen, "release pattern \"%s\": has no {release}", spec);
		return -1;
	}
	if (s->n >= RL_MAX) {
		snprintf(err, errlen, "too many release patterns (at most %d)", RL_MAX);
		return -1;
	}
	struct rl_pattern *p = &s->p[s->n];
	memset(p, 0, sizeof(*p));
	memcpy(p->kind, spec, (size_t)(eq - spec));
	strcpy(p->pat, eq + 1);
	/* The longest run of plain characters. */
	const char *q = p->pat;
	while (*q) {
		if (*q == '*') {
			q++;
			continue;
		}
		if (*q == '{') {
			const char *e = strchr(q, '}');

			if (!e || (strncmp(q, "{release}", 9) != 0 && strncmp(q, "{image}", 7) != 0)) {
				snprintf(err, errlen, "release pattern \"%s\": unknown {...}", spec);
				return -1;
			}
			q = e + 1;
			continue;
		}
		size_t n = strcspn(q, "*{");
		if (n > p->lit_len) {
			memcpy(p->lit, q, n);
			p->lit[n] = 0;
			p->lit_len = n;
		}
		q += n;
	}
	s->n++;
	return 0;
}

void rl_defaults(struct rl_set *s)
{
	char err[128];

	s->n = 0;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (rl_add(s, defaults[i], err, sizeof(err)) != 0)
			s->n = 0; /* cannot happen: the defaults are valid */
}

struct cap {
	const char *rel, *img;
	size_t rel_len, img_len;
};

static int match(const char *p, const char *s, const char *end, struct cap *c, int depth)
{
	if (depth > 64)
		return 0;
	for (;;) {
		if (!*p)
			return s == end;
		if (p[0] == '*' && p[1] == '*') {
			for (const char *t = s;; t++) {
				if (match(p + 2, t, end, c, depth + 1))
					return 1;
				if (t == end)
					return 0;
			}
		}
		if (p[0] == '*') {
			for (const char *t = s;; t++) {
				if (match(p + 1, t, end, c, depth + 1))
					return 1;
				if (t == end || *t == '/')
					return 0;
			}
		}
		if (p[0] == '{') {
			int rel = p[1] == 'r';
			const char *np = strchr(p, '}') + 1;

			for (const char *t = s + 1; t <= end && t[-1] != '/'; t++) {
				if (match(np, t, end, c, depth + 1)) {
					if (rel) {
						c->rel = s;
						c->rel_len = (size_t)(t - s);
					} else {
						c->img = s;
						c->img_len = (size_t)(t - s);
					}
					return 1;
				}
			}
			return 0;
		}
		if (s == end || *s != *p)
			return 0;
		s++;
		p++;
	}
}

int rl_match(const struct rl_set *s, const char *path, size_t len, struct rl_match *m)
{
	for (int i = 0; i < s->n; i++) {
		const struct rl_pattern *p = &s->p[i];
		struct cap c = { 0 };

		if (p->lit_len && !memmem(path, len, p->lit, p->lit_len))
			continue;
		if (!match(p->pat, path, path + len, &c, 0) || !c.rel)
			continue;
		m->kind = p->kind;
		m->release = c.rel;
		m->release_len = c.rel_len;
		m->image = c.img ? c.img : p->kind;
		m->image_len = c.img ? c.img_len : strlen(p->kind);
		return 1;
	}
	return 0;
}
