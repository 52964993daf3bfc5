/*
 * release.h - recognises downloads of releases in mirror trees from path
 * patterns. A pattern is matched against the whole path (without query):
 *   {release}  one or more characters other than '/', the release
 *   {image}    one or more characters other than '/', the image
 *   *          any characters other than '/' (possibly none)
 *   **         any characters, '/' included
 * anything else matches itself. A pattern is given as KIND=PATTERN; the
 * kind names the sort of file ("jigdo", "template", "iso", "data", ...).
 * Without {image}, the image is the kind. Patterns are tried in order;
 * the first that matches wins.
 *
 * Pure; the caller owns the set (fixed size, no allocation).
 */
#ifndef CHORUS_STATS_RELEASE_H
#define CHORUS_STATS_RELEASE_H

#include <stddef.h>

#define RL_MAX 32
#define RL_PAT_MAX 256
#define RL_KIND_MAX 32

struct rl_pattern {
	char kind[RL_KIND_MAX];
	char pat[RL_PAT_MAX];
	char lit[RL_PAT_MAX]; /* longest literal run: must occur in the path */
	size_t lit_len;
};

struct rl_set {
	int n;
	struct rl_pattern p[RL_MAX];
};

struct rl_match {
	const char *kind;
	const char *release;
	size_t release_len;
	const char *image; /* the kind when the pattern has no {image} */
	size_t image_len;
};

/* The default patterns (jigdo templates and .jigdo files, ISO images,
 * jigdo data trees). */
void rl_defaults(struct rl_set *s);
/* Adds "KIND=PATTERN". Returns 0, or -1 with a message in err. */
int rl_add(struct rl_set *s, const char *spec, char *err, size_t errlen);
/* Returns 1 and fills m when a pattern matches path, else 0. */
int rl_match(const struct rl_set *s, const char *path, size_t len, struct rl_match *m);

#endif
