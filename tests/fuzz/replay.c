/*
 * replay.c - runs a libFuzzer target over its saved corpus without
 * libFuzzer, so `make check` replays every kept input (crash inputs
 * included) with the ordinary compiler and sanitizers.
 *
 * usage: <target>-replay DIR...   prints one PASS line per directory.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!fp)
		return -1;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/');
	int failed = 0;

	prog = prog ? prog + 1 : argv[0];
	for (int a = 1; a < argc; a++) {
		DIR *dir = opendir(argv[a]);
		struct dirent *e;
		int files = 0, bad = 0;

		if (!dir) {
			printf("FAIL %s.%s: no corpus directory\n", prog, argv[a]);
			failed = 1;
			continue;
		}
		while ((e = readdir(dir))) {
			char path[4096];
			struct stat st;

			snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (run_file(path) != 0)
				bad++;
			files++;
		}
		closedir(dir);
		if (bad || files == 0) {
			printf("FAIL %s.%s: %d files, %d unreadable\n", prog,
			       argv[a], files, bad);
			failed = 1;
		} else {
			printf("PASS %s.corpus (%d inputs)\n", prog, files);
		}
	}
	return failed;
}
