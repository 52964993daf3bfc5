/*
 * t.h - the test harness of every C test program.
 *
 * A program lists its cases in a table and calls t_main(). Each case runs
 * in its own child process with a time limit, so a crash or a hang fails
 * that case alone. Output, one line a case, read by tests/run.sh:
 *   PASS <program>.<case>
 *   FAIL <program>.<case>: <file>:<line>: <what>
 *   SKIP <program>.<case>: <reason>
 * Run one case with `prog <case>`; list them with `prog -l`.
 */
#ifndef CHORUS_T_H
#define CHORUS_T_H

#include <stddef.h>

struct t_case {
	const char *name;
	void (*fn)(void);
	int timeout_s; /* 0: the default, 30 s */
};

#define T_CASE(fn) { #fn, fn, 0 }
#define T_CASE_TIMEOUT(fn, s) { #fn, fn, (s) }
#define T_COUNT(a) (sizeof(a) / sizeof((a)[0]))

int t_main(int argc, char **argv, const struct t_case *cases, size_t n);

void t_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define T_ASSERT(c) \
	do { if (!(c)) t_fail(__FILE__, __LINE__, "%s", #c); } while (0)
#define T_ASSERTF(c, ...) \
	do { if (!(c)) t_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define T_EQ(a, b)                                                        \
	do {                                                              \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b);   \
		if (t_a_ != t_b_)                                         \
			t_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
			       #a, t_a_, #b, t_b_);                       \
	} while (0)
#define T_STREQ(a, b)                                                     \
	do {                                                              \
		const char *t_a_ = (a), *t_b_ = (b);                      \
		if (strcmp(t_a_, t_b_) != 0)                              \
			t_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", \
			       #a, t_a_, t_b_);                           \
	} while (0)
#define T_MEMEQ(a, b, n) \
	do { if (memcmp((a), (b), (n)) != 0) \
		t_fail(__FILE__, __LINE__, "%s differs from %s", #a, #b); } while (0)

/* Reads a whole file into a fresh buffer; *len gets its size. The caller
 * frees the buffer. Fails the test if the file cannot be read. */
unsigned char *t_read_file(const char *path, size_t *len);
/* The directory of the shared protocol transcripts, or NULL if absent. */
const char *t_transcripts_dir(void);

#endif
