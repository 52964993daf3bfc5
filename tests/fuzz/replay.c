/*
 * replay.c - runs a libFuzzer target over saved inputs, without libFuzzer,
 * so that `make check` replays every corpus (crash inputs included) in the
 * ordinary and sanitizer builds.
 *
 * Usage: <prog> DIR...   Calls LLVMFuzzerTestOneInput() once on every
 * regular file of each DIR and prints one line per DIR in the format of
 * tests/t.h: "PASS <prog>.<dir>", or "FAIL <prog>.<dir>: <why>". A target
 * that crashes or aborts kills the program, which run.sh reports as a
 * failure too.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Feeds one file to the target. Returns 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!fp)
		return -1;
	do {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap ? cap * 2 : 4096);

			if (!nb) {
				free(buf);
				fclose(fp);
				return -1;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *prog = base(argv[0]);
	int failed = 0;

	for (int a = 1; a < argc; a++) {
		char dirname[256], path[4096];
		struct dirent *e;
		struct stat st;
		int count = 0, bad = 0;
		DIR *d = opendir(argv[a]);
		size_t dl = strlen(argv[a]);

		/* Name the line after the directory, without trailing slashes. */
		while (dl > 1 && argv[a][dl - 1] == '/')
			dl--;
		snprintf(dirname, sizeof(dirname), "%.*s", (int)dl, argv[a]);
		if (!d) {
			printf("FAIL %s.%s: cannot open the directory\n", prog, base(dirname));
			failed = 1;
			continue;
		}
		while ((e = readdir(d)) != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dirname, e->d_name);
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (replay_file(path) != 0)
				bad++;
			count++;
		}
		closedir(d);
		if (bad)
			printf("FAIL %s.%s: %d of %d inputs could not be read\n", prog,
			       base(dirname), bad, count);
		else if (count == 0)
			printf("FAIL %s.%s: no inputs\n", prog, base(dirname));
		else
			printf("PASS %s.%s\n", prog, base(dirname));
		fflush(stdout);
		failed |= bad || count == 0;
	}
	return failed;
}
