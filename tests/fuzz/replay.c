/*
 * replay.c - runs a libFuzzer target over stored inputs, so that `make
 * check` replays every corpus (and every kept crash) without libFuzzer.
 *
 * Usage: PROG DIR...  Each regular file of each directory (names starting
 * with '.' skipped) goes once through LLVMFuzzerTestOneInput. Prints
 * "PASS <prog>.<dir>" per directory, or "FAIL <prog>.<dir>: <why>" if it
 * cannot be read; a crash ends the program, which tests/run.sh reports.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

/* Feeds one file to the target. Returns 0, or -1 if it cannot be read. */
static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;
	int ret = -1;

	if (!fp)
		return -1;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n)
		goto out;
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	ret = 0;
out:
	free(buf);
	fclose(fp);
	return ret;
}

int main(int argc, char **argv)
{
	const char *prog = base(argv[0]);
	int failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR...\n", prog);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		int bad = 0;

		if (!d) {
			printf("FAIL %s.%s: cannot open %s\n", prog,
			       base(argv[i]), argv[i]);
			failed = 1;
			continue;
		}
		while ((e = readdir(d)) != NULL) {
			char path[4096];
			struct stat st;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (run_file(path) != 0)
				bad = 1;
		}
		closedir(d);
		if (bad) {
			printf("FAIL %s.%s: unreadable input\n", prog,
			       base(argv[i]));
			failed = 1;
		} else {
			printf("PASS %s.%s\n", prog, base(argv[i]));
		}
		fflush(stdout);
	}
	return failed;
}
