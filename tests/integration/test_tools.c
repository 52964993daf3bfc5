/*
 * test_tools.c - chorus-user and chorus-flood against a real chorusd.
 *
 * Each case starts a daemon with harness.c and runs the tools as child
 * processes with pipes on their standard input, output and error, like a
 * small expect: write a script line, read the event lines it prints. All
 * waits are bounded (a line within LINE_MS, an exit within EXIT_MS) and
 * wait for a condition, never for a fixed time. Every process a case
 * starts is in the case's process group, which t.c kills afterwards.
 *
 * The line formats checked here are those of chorus-user(1) and
 * chorus-flood(1); the -h usage text is checked against each man page's
 * SYNOPSIS.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define LINE_MS 10000
#define EXIT_MS 60000
#define OUT_CAP (256 * 1024)

/* A tool running as a child with pipes to it. */
struct tp {
	pid_t pid;
	int in, out, err; /* -1 once closed */
	char buf[OUT_CAP]; /* stdout bytes not yet returned as lines */
	size_t len;
	char errbuf[8192]; /* stderr, collected by tp_wait */
	size_t errlen;
	int status; /* exit status once waited for, else -1 */
	char what[64];
};

static const char *tool_path(const char *tool)
{
	static char path[2][512];
	static int k;
	const char *b = getenv("CHORUS_BUILD");

	k ^= 1;
	snprintf(path[k], sizeof(path[k]), "%s/%s", b ? b : "build", tool);
	return path[k];
}

/* Starts tool (a name in the build directory) with the NULL-terminated
 * argv (argv[0] included). */
static void tp_start(struct tp *p, const char *tool, const char *const *argv)
{
	int pin[2], pout[2], perr[2];

	memset(p, 0, sizeof(*p));
	p->status = -1;
	snprintf(p->what, sizeof(p->what), "%s", tool);
	T_ASSERT(pipe2(pin, O_CLOEXEC) == 0 && pipe2(pout, O_CLOEXEC) == 0 &&
		 pipe2(perr, O_CLOEXEC) == 0);
	p->pid = fork();
	T_ASSERT(p->pid >= 0);
	if (p->pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		execv(tool_path(tool), (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	p->in = pin[1];
	p->out = pout[0];
	p->err = perr[0];
}

/* Writes one formatted line (the newline is added) to the tool's stdin. */
static void tp_send(struct tp *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tp_send(struct tp *p, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	T_ASSERT(n >= 0 && (size_t)n < sizeof(line) - 1);
	line[n++] = '\n';
	T_ASSERT(p->in >= 0);
	for (int off = 0; off < n;) {
		ssize_t w = write(p->in, line + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		T_ASSERTF(w > 0, "%s: writing to its stdin: %s", p->what,
			  strerror(errno));
		off += (int)w;
	}
}

/* Closes the tool's stdin (EOF ends a script). */
static void tp_close_in(struct tp *p)
{
	if (p->in >= 0)
		close(p->in);
	p->in = -1;
}

/* Reads the next stdout line (without its newline) within ms. Returns 1,
 * or 0 at EOF, or -1 on timeout. */
static int tp_line(struct tp *p, char *line, size_t cap, int ms)
{
	int64_t until = t_now_ms() + ms;

	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		struct pollfd pfd = { p->out, POLLIN, 0 };
		int64_t left;
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - p->buf);

			T_ASSERT(n < cap);
			memcpy(line, p->buf, n);
			line[n] = '\0';
			memmove(p->buf, nl + 1, p->len - n - 1);
			p->len -= n + 1;
			return 1;
		}
		if (p->out < 0)
			return 0;
		left = until - t_now_ms();
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		T_ASSERTF(p->len < sizeof(p->buf), "%s: line too long", p->what);
		r = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(p->out);
			p->out = -1;
			if (p->len) { /* a last line without a newline */
				p->buf[p->len++] = '\n';
			}
			continue;
		}
		p->len += (size_t)r;
	}
}

/* Reads the next line and fails unless it starts with prefix. */
static void tp_expect(struct tp *p, char *line, size_t cap, const char *prefix)
{
	int r = tp_line(p, line, cap, LINE_MS);

	T_ASSERTF(r == 1, "%s: expected a line starting \"%s\", got %s", p->what,
		  prefix, r == 0 ? "EOF" : "nothing within the time limit");
	T_ASSERTF(strncmp(line, prefix, strlen(prefix)) == 0,
		  "%s: expected a line starting \"%s\", got \"%s\"", p->what,
		  prefix, line);
}

/* Reads the next line and fails unless it equals want. */
static void tp_expect_eq(struct tp *p, const char *want)
{
	char line[8192];
	int r = tp_line(p, line, sizeof(line), LINE_MS);

	T_ASSERTF(r == 1, "%s: expected \"%s\", got %s", p->what, want,
		  r == 0 ? "EOF" : "nothing within the time limit");
	T_ASSERTF(strcmp(line, want) == 0, "%s: expected \"%s\", got \"%s\"",
		  p->what, want, line);
}

/* Reads lines until one contains needle; fails at EOF or timeout. */
static void tp_expect_has(struct tp *p, const char *needle)
{
	char line[8192];
	int64_t until = t_now_ms() + LINE_MS;

	for (;;) {
		int left = (int)(until - t_now_ms());
		int r = tp_line(p, line, sizeof(line), left > 0 ? left : 0);

		T_ASSERTF(r == 1, "%s: no line containing \"%s\" (%s)", p->what,
			  needle, r == 0 ? "EOF" : "timeout");
		if (strstr(line, needle))
			return;
	}
}

/* Waits for the tool to exit (killing it after ms) and collects its
 * stderr. Returns the exit status; fails if it was killed or crashed. */
static int tp_wait(struct tp *p, int ms)
{
	int64_t until = t_now_ms() + ms;
	int status = 0;
	pid_t r;

	tp_close_in(p);
	while ((r = waitpid(p->pid, &status, WNOHANG)) == 0) {
		struct pollfd pfd[2] = { { p->err, POLLIN, 0 }, { p->out, POLLIN, 0 } };

		if (t_now_ms() > until) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			t_fail(__FILE__, __LINE__, "%s did not exit within %d ms",
			       p->what, ms);
		}
		/* Keep both pipes drained so the tool never blocks on them. */
		if (poll(pfd, 2, 20) > 0) {
			if (pfd[0].revents && p->err >= 0) {
				ssize_t n = read(p->err, p->errbuf + p->errlen,
						 sizeof(p->errbuf) - 1 - p->errlen);

				if (n > 0)
					p->errlen += (size_t)n;
				else {
					close(p->err);
					p->err = -1;
				}
			}
			if (pfd[1].revents && p->out >= 0 && p->len < sizeof(p->buf)) {
				ssize_t n = read(p->out, p->buf + p->len,
						 sizeof(p->buf) - p->len);

				if (n > 0)
					p->len += (size_t)n;
				else {
					close(p->out);
					p->out = -1;
				}
			}
		}
	}
	while (p->err >= 0) {
		ssize_t n = read(p->err, p->errbuf + p->errlen,
				 sizeof(p->errbuf) - 1 - p->errlen);

		if (n <= 0) {
			close(p->err);
			p->err = -1;
		} else {
			p->errlen += (size_t)n;
		}
	}
	p->errbuf[p->errlen] = '\0';
	T_ASSERTF(WIFEXITED(status), "%s was killed by signal %d; stderr: %s",
		  p->what, WIFSIGNALED(status) ? WTERMSIG(status) : 0, p->errbuf);
	p->status = WEXITSTATUS(status);
	return p->status;
}

/* Closes what tp_wait left open. */
static void tp_done(struct tp *p)
{
	if (p->out >= 0)
		close(p->out);
	p->out = -1;
	if (p->in >= 0)
		close(p->in);
	p->in = -1;
}

/* Starts a daemon and waits until its Unix socket accepts connections:
 * chorusd creates the socket file before it calls listen(), and
 * hd_start() only checks that the file exists and TCP is listening, so
 * a client connecting at once over the Unix socket can be refused. */
static void daemon_start(struct hd *d)
{
	int64_t until;
	int fd;

	hd_start(d, NULL);
	until = t_now_ms() + 10000;
	while ((fd = raw_unix(d)) < 0) {
		T_ASSERTF(t_now_ms() < until, "%s never accepted a connection",
			  d->unix_path);
		usleep(2000);
	}
	close(fd);
}

/* ---- chorus-user helpers -------------------------------------------- */

/* Starts chorus-user -u name on daemon address addr and checks its
 * CONNECTED line. */
static void user_start(struct tp *p, const char *addr, const char *name)
{
	const char *argv[] = { "chorus-user", "-s", addr, "-u", name, NULL };
	char line[256], want[128];

	tp_start(p, "chorus-user", argv);
	snprintf(p->what, sizeof(p->what), "chorus-user %s", name);
	snprintf(want, sizeof(want), "CONNECTED private_group=#%s#localhost", name);
	tp_expect(p, line, sizeof(line), want);
	T_STREQ(line, want);
}

/* Extracts the value of " key=" from an event line (up to the next
 * space; data= takes the rest of the line). */
static const char *field(const char *line, const char *key, char *out,
			 size_t cap)
{
	char k[64];
	const char *s;
	size_t n;

	snprintf(k, sizeof(k), " %s=", key);
	s = strstr(line, k);
	T_ASSERTF(s, "no %s= in \"%s\"", key, line);
	s += strlen(k);
	n = strcmp(key, "data") == 0 ? strlen(s) : strcspn(s, " ");
	T_ASSERT(n < cap);
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

/* Reads the next line: a MEMB line with these fields. */
static void expect_memb(struct tp *p, const char *group, const char *cause,
			const char *members, const char *changed, int my_index,
			char *id_out)
{
	char line[4096], want[256], v[1024];

	snprintf(want, sizeof(want), "MEMB group=%s cause=%s id=", group, cause);
	tp_expect(p, line, sizeof(line), want);
	T_STREQ(field(line, "members", v, sizeof(v)), members);
	T_STREQ(field(line, "changed", v, sizeof(v)), changed);
	T_EQ(atoi(field(line, "my_index", v, sizeof(v))), my_index);
	T_STREQ(field(line, "vs_sets", v, sizeof(v)), "1");
	T_STREQ(field(line, "my_vs", v, sizeof(v)), "0");
	T_STREQ(field(line, "vs", v, sizeof(v)), changed);
	if (id_out)
		field(line, "id", id_out, 64);
}

/* Reads n MSG lines and checks that, as a set, they equal want[0..n). */
static void expect_msgs_unordered(struct tp *p, const char *const *want, int n)
{
	char lines[16][512];
	int used[16] = { 0 };

	T_ASSERT(n <= 16);
	for (int i = 0; i < n; i++)
		tp_expect(p, lines[i], sizeof(lines[i]), "MSG ");
	for (int i = 0; i < n; i++) {
		int found = 0;

		for (int k = 0; k < n && !found; k++)
			if (!used[k] && strcmp(lines[k], want[i]) == 0)
				found = used[k] = 1;
		T_ASSERTF(found, "%s: never got \"%s\"", p->what, want[i]);
	}
}

/* ---- man page synopsis ---------------------------------------------- */

/* Renders the SYNOPSIS section of a man(7) page as plain words: .B and .I
 * join their arguments with spaces, the alternating macros (.BR, .RB,
 * .IR, .RI, .BI, .IB) without; each macro line is one word; "\-" is "-".
 * Good enough for our own pages, which use only these. */
static void man_synopsis(const char *page, char *out, size_t cap)
{
	char path[512], line[1024];
	const char *top = getenv("CHORUS_SRC");
	FILE *fp;
	int in = 0;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/man/%s", top ? top : ".", page);
	fp = fopen(path, "r");
	if (!fp)
		t_skip("%s not found (run from the source tree)", path);
	out[0] = '\0';
	while (fgets(line, sizeof(line), fp)) {
		char *s = line, word[1024];
		size_t w = 0;
		int alt;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, ".SH", 3) == 0) {
			if (in)
				break;
			in = strstr(line, "SYNOPSIS") != NULL;
			continue;
		}
		if (!in || line[0] != '.')
			continue;
		if (strncmp(line, ".B ", 3) == 0 || strncmp(line, ".I ", 3) == 0) {
			alt = 0;
			s += 3;
		} else if (line[1] && line[2] && line[3] == ' ' &&
			   strchr("BIR", line[1]) && strchr("BIR", line[2])) {
			alt = 1;
			s += 4;
		} else {
			continue; /* .br, .PP, .sp: layout only */
		}
		while (*s) {
			char arg[512];
			size_t a = 0;

			while (*s == ' ')
				s++;
			if (!*s)
				break;
			if (*s == '"') {
				for (s++; *s && *s != '"'; s++)
					arg[a++] = *s;
				if (*s == '"')
					s++;
			} else {
				for (; *s && *s != ' '; s++)
					arg[a++] = *s;
			}
			arg[a] = '\0';
			if (w && !alt)
				word[w++] = ' ';
			for (char *c = arg; *c; c++) {
				if (c[0] == '\\' && c[1] == '-')
					c++;
				else if (c[0] == '\\' && c[1] == '&') {
					c++;
					continue;
				}
				word[w++] = *c;
			}
		}
		word[w] = '\0';
		n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", word);
		T_ASSERT(n < cap);
	}
	fclose(fp);
	T_ASSERTF(out[0], "%s has no SYNOPSIS", path);
}

/* Joins the words of a usage text, dropping "usage:". */
static void usage_words(const char *text, char *out, size_t cap)
{
	char buf[2048], *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	out[0] = '\0';
	for (char *t = strtok_r(buf, " \t\n", &save); t;
	     t = strtok_r(NULL, " \t\n", &save)) {
		if (strcmp(t, "usage:") == 0)
			continue;
		n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", t);
	}
}

/* Checks that `tool -h` exits 0 and prints the man page's synopsis. */
static void check_usage(const char *tool, const char *page)
{
	const char *argv[] = { tool, "-h", NULL };
	char text[2048] = "", line[1024], a[2048], b[2048];
	struct tp p;

	tp_start(&p, tool, argv);
	while (tp_line(&p, line, sizeof(line), LINE_MS) == 1) {
		strncat(text, line, sizeof(text) - strlen(text) - 2);
		strcat(text, "\n");
	}
	T_EQ(tp_wait(&p, EXIT_MS), 0);
	tp_done(&p);
	T_ASSERTF(strncmp(text, "usage: ", 7) == 0, "%s -h printed \"%s\"", tool,
		  text);
	usage_words(text, a, sizeof(a));
	man_synopsis(page, b, sizeof(b));
	T_ASSERTF(strcmp(a, b) == 0, "%s -h says \"%s\" but %s says \"%s\"", tool,
		  a, page, b);
}

/* ---- chorus-user cases ---------------------------------------------- */

/* Two users: joins with member lists and indices, every service, message
 * types, self-discard, multi-group and unicast sends, escapes, a large
 * message, poll, leave and disconnect. */
static void user_two_members(void)
{
	static const char *const svc[] = { "unreliable", "reliable", "fifo",
					   "causal", "agreed", "safe" };
	static const char *const SVC[] = { "UNRELIABLE", "RELIABLE", "FIFO",
					   "CAUSAL", "AGREED", "SAFE" };
	const char *want[6];
	char wbuf[6][256], line[32768], v[32768], id_a[64], id_b[64];
	struct hd d;
	struct tp a, b;

	daemon_start(&d);
	/* One over TCP, one over the Unix socket. */
	user_start(&a, d.tcp_addr, "a");
	user_start(&b, d.unix_addr, "b");

	tp_send(&a, "join g1");
	tp_send(&a, "recv");
	expect_memb(&a, "g1", "JOIN", "#a#localhost", "#a#localhost", 0, id_a);
	T_ASSERTF(strncmp(id_a, "2130706433.", 11) == 0 &&
		  strcmp(id_a + strlen(id_a) - 2, ".1") == 0, "first id %s", id_a);

	tp_send(&b, "join g1");
	tp_send(&b, "recv");
	expect_memb(&b, "g1", "JOIN", "#a#localhost,#b#localhost",
		    "#b#localhost", 1, id_b);
	tp_send(&a, "recv");
	expect_memb(&a, "g1", "JOIN", "#a#localhost,#b#localhost",
		    "#b#localhost", 0, id_a);
	T_STREQ(id_a, id_b);
	T_ASSERTF(strcmp(id_a + strlen(id_a) - 2, ".2") == 0, "second id %s", id_a);

	/* Every service, each with its own message type. */
	for (int i = 0; i < 6; i++) {
		tp_send(&a, "send -t %s -m %d g1 hello %s", svc[i], i - 3, svc[i]);
		snprintf(wbuf[i], sizeof(wbuf[i]),
			 "MSG service=%s sender=#a#localhost groups=g1 type=%d "
			 "len=%zu data=hello %s", SVC[i], i - 3,
			 strlen("hello ") + strlen(svc[i]), svc[i]);
		want[i] = wbuf[i];
	}
	tp_send(&b, "recv 6");
	expect_msgs_unordered(&b, want, 6);
	tp_send(&a, "recv 6");
	expect_msgs_unordered(&a, want, 6);

	/* Self-discard: b gets it with the flag, a never does; a's next
	 * message to itself is the marker. */
	tp_send(&a, "send -x g1 discarded");
	tp_send(&a, "send g1 marker1");
	tp_send(&b, "recv 2");
	tp_expect_eq(&b, "MSG service=AGREED|SELF_DISCARD sender=#a#localhost "
		     "groups=g1 type=0 len=9 data=discarded");
	tp_expect_eq(&b, "MSG service=AGREED sender=#a#localhost groups=g1 "
		     "type=0 len=7 data=marker1");
	tp_send(&a, "recv");
	tp_expect_eq(&a, "MSG service=AGREED sender=#a#localhost groups=g1 "
		     "type=0 len=7 data=marker1");

	/* Multi-group: one copy each, with both names. */
	tp_send(&a, "join g2");
	tp_send(&a, "recv");
	expect_memb(&a, "g2", "JOIN", "#a#localhost", "#a#localhost", 0, NULL);
	tp_send(&a, "multi -t safe g1,g2 to both");
	tp_send(&a, "send g1 marker2");
	tp_send(&b, "recv 2");
	tp_expect_eq(&b, "MSG service=SAFE sender=#a#localhost groups=g1,g2 "
		     "type=0 len=7 data=to both");
	tp_expect(&b, line, sizeof(line), "MSG ");
	T_STREQ(field(line, "data", v, sizeof(v)), "marker2");
	tp_send(&a, "recv 2");
	tp_expect_eq(&a, "MSG service=SAFE sender=#a#localhost groups=g1,g2 "
		     "type=0 len=7 data=to both");
	tp_expect(&a, line, sizeof(line), "MSG ");
	T_STREQ(field(line, "data", v, sizeof(v)), "marker2");

	/* Unicast to b's private group; a does not get it. */
	tp_send(&a, "send -t fifo #b#localhost just for b");
	tp_send(&a, "send g1 marker3");
	tp_send(&b, "recv 2");
	tp_expect_eq(&b, "MSG service=FIFO sender=#a#localhost "
		     "groups=#b#localhost type=0 len=10 data=just for b");
	tp_expect(&b, line, sizeof(line), "MSG ");
	T_STREQ(field(line, "data", v, sizeof(v)), "marker3");
	tp_send(&a, "recv");
	tp_expect(&a, line, sizeof(line), "MSG ");
	T_STREQ(field(line, "data", v, sizeof(v)), "marker3");

	/* Escapes round-trip; b sends to a this time. */
	tp_send(&b, "send -m 32767 g1 t\\tab\\\\x\\x00\\xff\\n");
	tp_send(&a, "recv");
	tp_expect_eq(&a, "MSG service=AGREED sender=#b#localhost groups=g1 "
		     "type=32767 len=9 data=t\\tab\\\\x\\x00\\xff\\n");

	/* A message larger than the first receive buffer. */
	tp_send(&a, "burst -t reliable g1 1 20000");
	tp_send(&b, "recv 2");
	tp_expect(&b, line, sizeof(line), "MSG service=AGREED sender=#b#localhost");
	tp_expect(&b, line, sizeof(line), "MSG service=RELIABLE sender=#a#localhost "
		  "groups=g1 type=0 len=20000 data=burst 0.....");
	T_EQ(strlen(field(line, "data", v, sizeof(v))), 4096);
	tp_send(&a, "recv");
	tp_expect(&a, line, sizeof(line), "MSG service=RELIABLE sender=#a#localhost "
		  "groups=g1 type=0 len=20000 ");

	/* poll: zero, then non-zero once a message is waiting. */
	tp_send(&b, "poll");
	tp_expect_eq(&b, "POLL bytes=0");
	tp_send(&a, "send g1 pending");
	for (int i = 0;; i++) {
		T_ASSERTF(i < 500, "poll never saw the message");
		tp_send(&b, "poll");
		tp_expect(&b, line, sizeof(line), "POLL bytes=");
		if (atoi(line + 11) > 0)
			break;
		usleep(10000);
	}
	tp_send(&b, "recv");
	tp_expect(&b, line, sizeof(line), "MSG ");
	tp_send(&a, "recv");
	tp_expect(&a, line, sizeof(line), "MSG ");

	/* Leave: a self-leave for b, a LEAVE membership for a. */
	tp_send(&b, "leave g1");
	tp_send(&b, "recv");
	tp_expect_eq(&b, "SELFLEAVE group=g1");
	tp_send(&a, "recv");
	expect_memb(&a, "g1", "LEAVE", "#a#localhost", "#b#localhost", 0, NULL);

	/* Disconnect: b joins g2, then quits. */
	tp_send(&b, "join g2");
	tp_send(&b, "wait-memb g2 2");
	expect_memb(&b, "g2", "JOIN", "#a#localhost,#b#localhost",
		    "#b#localhost", 1, NULL);
	tp_send(&b, "quit");
	T_EQ(tp_wait(&b, EXIT_MS), 0);
	T_STREQ(b.errbuf, "");
	tp_done(&b);
	tp_send(&a, "recv 2");
	expect_memb(&a, "g2", "JOIN", "#a#localhost,#b#localhost",
		    "#b#localhost", 0, NULL);
	expect_memb(&a, "g2", "DISCONNECT", "#a#localhost", "#b#localhost", 0,
		    NULL);
	tp_send(&a, "drain 50");
	tp_send(&a, "poll");
	tp_expect_eq(&a, "POLL bytes=0");
	tp_send(&a, "quit");
	T_EQ(tp_wait(&a, EXIT_MS), 0);
	T_STREQ(a.errbuf, "");
	tp_done(&a);
	hd_stop(&d);
}

/* wait-memb waits for a size (printing what comes), and times out with
 * status 1; a random private name (-r); a duplicate name is refused. */
static void user_wait_and_names(void)
{
	const char *argv_r[] = { "chorus-user", "-r", "-s", NULL, NULL };
	const char *argv_dup[] = { "chorus-user", "-s", NULL, "-u", "c", NULL };
	char line[1024], v[256];
	struct hd d;
	struct tp c, r, dup;

	daemon_start(&d);
	user_start(&c, d.unix_addr, "c");
	tp_send(&c, "join g3");
	tp_send(&c, "wait-memb g3 2 20000");
	tp_expect(&c, line, sizeof(line), "MEMB group=g3 cause=JOIN");

	argv_r[3] = d.tcp_addr;
	tp_start(&r, "chorus-user", argv_r);
	tp_expect(&r, line, sizeof(line), "CONNECTED private_group=#");
	T_ASSERTF(strstr(line, "#localhost") && !strstr(line, "#user#"),
		  "random name: %s", line);
	tp_send(&r, "join g3");
	tp_send(&r, "recv");
	tp_expect(&r, line, sizeof(line), "MEMB group=g3 cause=JOIN");
	T_STREQ(field(line, "my_index", v, sizeof(v)), "1");

	/* c's wait-memb ends with the second join; then it goes on. */
	tp_expect(&c, line, sizeof(line), "MEMB group=g3 cause=JOIN");
	T_STREQ(field(line, "my_index", v, sizeof(v)), "0");
	tp_send(&c, "poll");
	tp_expect_eq(&c, "POLL bytes=0");

	/* A second "c" on the same daemon is refused. */
	argv_dup[2] = d.unix_addr;
	tp_start(&dup, "chorus-user", argv_dup);
	tp_expect(&dup, line, sizeof(line), "ERROR line=0 op=connect code=-6 ");
	T_EQ(tp_wait(&dup, EXIT_MS), 1);
	T_ASSERTF(strstr(dup.errbuf, "private name already in use"), "stderr: %s",
		  dup.errbuf);
	tp_done(&dup);

	/* A wait that cannot be met fails with status 1. */
	tp_send(&c, "wait-memb g3 5 200");
	tp_expect(&c, line, sizeof(line), "ERROR line=4 op=wait-memb msg=timed out");
	T_EQ(tp_wait(&c, EXIT_MS), 1);
	T_ASSERTF(strstr(c.errbuf, "g3 has 2 members, not 5"), "stderr: %s",
		  c.errbuf);
	tp_done(&c);
	T_EQ(tp_wait(&r, EXIT_MS), 0);
	tp_done(&r);
	hd_stop(&d);
}

/* Runs chorus-user with `script` on stdin; checks the exit status, that
 * stderr contains err_has and that the last stdout line starts with
 * out_last (if not NULL). */
static void user_script(const char *addr, const char *script, int status,
			const char *err_has, const char *out_last)
{
	const char *argv[] = { "chorus-user", "-s", addr, "-u", "s", NULL };
	char line[1024], last[1024] = "";
	struct tp p;

	tp_start(&p, "chorus-user", argv);
	for (size_t off = 0; off < strlen(script);) {
		ssize_t w = write(p.in, script + off, strlen(script) - off);

		T_ASSERT(w > 0);
		off += (size_t)w;
	}
	tp_close_in(&p);
	while (tp_line(&p, line, sizeof(line), LINE_MS) == 1)
		snprintf(last, sizeof(last), "%s", line);
	T_ASSERTF(tp_wait(&p, EXIT_MS) == status,
		  "script \"%s\": status %d, expected %d; stderr: %s", script,
		  p.status, status, p.errbuf);
	T_ASSERTF(strstr(p.errbuf, err_has) && strncmp(p.errbuf, "chorus-user: ", 13) == 0,
		  "script \"%s\": stderr \"%s\" lacks \"%s\"", script, p.errbuf,
		  err_has);
	if (out_last)
		T_ASSERTF(strncmp(last, out_last, strlen(out_last)) == 0,
			  "script \"%s\": last line \"%s\", expected \"%s...\"",
			  script, last, out_last);
	tp_done(&p);
}

/* Bad script lines, bad options and bad daemon addresses: a clear
 * message and a non-zero status each. */
static void user_bad_input(void)
{
	char long_group[40];
	char script[128];
	struct hd d;

	daemon_start(&d);
	user_script(d.unix_addr, "join g1\nrecv\nfrobnicate now\n", 2,
		    "line 3: parse: unknown command 'frobnicate'",
		    "ERROR line=3 op=parse msg=unknown command");
	user_script(d.unix_addr, "join\n", 2, "usage: join group",
		    "ERROR line=1 op=join");
	memset(long_group, 'g', 32);
	long_group[32] = '\0';
	snprintf(script, sizeof(script), "join %s\n", long_group);
	user_script(d.unix_addr, script, 2, "invalid group name (-14)",
		    "ERROR line=1 op=join code=-14 ");
	user_script(d.unix_addr, "send -t bogus g1 x\n", 2,
		    "-t needs one of", "ERROR line=1 op=send");
	user_script(d.unix_addr, "send -m 40000 g1 x\n", 2,
		    "-m needs a message type", NULL);
	user_script(d.unix_addr, "send -q g1 x\n", 2, "unknown option '-q'", NULL);
	user_script(d.unix_addr, "send\n", 2, "no group given", NULL);
	user_script(d.unix_addr, "send g1 bad \\q escape\n", 2, "bad escape '\\q",
		    NULL);
	user_script(d.unix_addr, "multi ,,, x\n", 2, "no group given", NULL);
	user_script(d.unix_addr, "burst g1 0\n", 2, "usage: burst", NULL);
	user_script(d.unix_addr, "recv x\n", 2, "usage: recv", NULL);
	user_script(d.unix_addr, "recv 1 100\n", 1, "timed out after 100 ms",
		    "ERROR line=1 op=recv msg=timed out");
	user_script(d.unix_addr, "wait-memb g1\n", 2, "usage: wait-memb", NULL);
	user_script(d.unix_addr, "sleep soon\n", 2, "usage: sleep ms", NULL);
	user_script(d.unix_addr, "quit now\n", 2, "usage: quit", NULL);
	/* Comments, blank lines and a good script: status 0, empty stderr is
	 * checked through err_has "" and the prefix check below. */
	{
		const char *argv[] = { "chorus-user", "-q", "-s", d.unix_addr, NULL };
		char line[256];
		struct tp p;

		tp_start(&p, "chorus-user", argv);
		tp_send(&p, "# a comment");
		tp_send(&p, "%s", "");
		tp_send(&p, "   join g9   ");
		tp_send(&p, "sleep 1");
		tp_send(&p, "recv 1 5000");
		tp_expect(&p, line, sizeof(line), "MEMB group=g9 cause=JOIN"); /* -q: no CONNECTED */
		T_EQ(tp_wait(&p, EXIT_MS), 0); /* EOF ends the script */
		T_STREQ(p.errbuf, "");
		tp_done(&p);
	}
	hd_stop(&d);

	/* Options and addresses, no daemon needed. */
	{
		static const struct {
			const char *args[4];
			int status;
			const char *err;
			const char *out;
		} cases[] = {
			{ { "-z" }, 2, "unknown option -z", NULL },
			{ { "-s" }, 2, "option -s needs an argument", NULL },
			{ { "-r", "-u", "x" }, 2, "-r and -u exclude each other", NULL },
			{ { "-I", "-S" }, 2, "-I and -S exclude each other", NULL },
			{ { "-u", "elevenchars" }, 2, "must have 1 to 10 characters", NULL },
			{ { "extra" }, 2, "unexpected argument 'extra'", NULL },
			{ { "-s", "/nonexistent/dir/4803" }, 1,
			  "cannot connect to '/nonexistent/dir/4803': cannot reach "
			  "the daemon (-2)", "ERROR line=0 op=connect code=-2 " },
			{ { "-s", "no-such-address" }, 1,
			  "invalid daemon address (-1)", "ERROR line=0 op=connect code=-1 " },
			{ { "-s", "127.0.0.1:4803" }, 1,
			  "invalid daemon address (-1)", NULL },
		};

		for (size_t i = 0; i < T_COUNT(cases); i++) {
			const char *argv[6] = { "chorus-user" };
			char line[512], out[512] = "";
			struct tp p;
			int n = 1;

			for (int k = 0; k < 4 && cases[i].args[k]; k++)
				argv[n++] = cases[i].args[k];
			argv[n] = NULL;
			tp_start(&p, "chorus-user", argv);
			tp_close_in(&p);
			while (tp_line(&p, line, sizeof(line), LINE_MS) == 1)
				snprintf(out, sizeof(out), "%s", line);
			T_ASSERTF(tp_wait(&p, EXIT_MS) == cases[i].status,
				  "case %zu: status %d", i, p.status);
			T_ASSERTF(strstr(p.errbuf, cases[i].err), "case %zu: stderr \"%s\"",
				  i, p.errbuf);
			if (cases[i].status == 2)
				T_ASSERTF(strstr(p.errbuf, "usage: chorus-user") ||
					  strstr(p.errbuf, "characters"),
					  "case %zu: no usage: %s", i, p.errbuf);
			if (cases[i].out)
				T_ASSERTF(strncmp(out, cases[i].out, strlen(cases[i].out)) == 0,
					  "case %zu: stdout \"%s\"", i, out);
			tp_done(&p);
		}
	}
}

/* -h prints exactly the synopsis of the man page. */
static void usage_matches_man_pages(void)
{
	check_usage("chorus-user", "chorus-user.1");
	check_usage("chorus-flood", "chorus-flood.1");
	check_usage("chorus-monitor", "chorus-monitor.1");
}

/* The interactive front end (-I), driven through a pipe: the menu,
 * automatic display of events, d/r/p, t, m and q. */
static void user_interactive(void)
{
	const char *argv[] = { "chorus-user", "-I", "-s", NULL, "-u", "i", NULL };
	struct hd d;
	struct tp p;

	daemon_start(&d);
	argv[3] = d.unix_addr;
	tp_start(&p, "chorus-user", argv);
	tp_expect_has(&p, "Connected as #i#localhost.");
	tp_send(&p, "j g1");
	tp_expect_has(&p, "Membership of g1 changed: #i#localhost joined");
	tp_expect_has(&p, "#i#localhost  (me)");
	tp_send(&p, "s g1");
	tp_send(&p, "hello there");
	tp_expect_has(&p, "| hello there");
	tp_send(&p, "t safe");
	tp_send(&p, "m g1");
	tp_send(&p, "line one");
	tp_send(&p, "line two");
	tp_send(&p, ".");
	tp_expect_has(&p, "SAFE message from #i#localhost, type 0, 18 bytes");
	tp_expect_has(&p, "| line two");
	tp_send(&p, "d");
	tp_send(&p, "b g1 3 10");
	tp_expect_has(&p, "sent 3 messages");
	tp_send(&p, "r");
	tp_expect_has(&p, "| burst 0...");
	tp_send(&p, "p");
	tp_expect_has(&p, "bytes waiting");
	tp_send(&p, "x");
	tp_send(&p, "q");
	T_EQ(tp_wait(&p, EXIT_MS), 0);
	T_ASSERTF(strstr(p.errbuf, "unknown command 'x'"), "stderr: %s", p.errbuf);
	tp_done(&p);
	hd_stop(&d);
}

/* ---- chorus-flood cases --------------------------------------------- */

/* Checks a closing line of chorus-flood. */
static void check_figures(const char *line, const char *verb, long msgs,
			  long bytes)
{
	char re[256], want[128];
	regex_t rx;
	int ok;

	snprintf(want, sizeof(want), "chorus-flood: %s %ld messages of %ld bytes in ",
		 verb, msgs, bytes);
	T_ASSERTF(strncmp(line, want, strlen(want)) == 0, "\"%s\", expected \"%s...\"",
		  line, want);
	snprintf(re, sizeof(re), "^chorus-flood: %s [0-9]+ messages of [0-9]+ bytes "
		 "in [0-9]+\\.[0-9]{3} s: [0-9]+ msg/s, [0-9]+\\.[0-9] MB/s$", verb);
	T_ASSERT(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) == 0);
	ok = regexec(&rx, line, 0, NULL, 0) == 0;
	regfree(&rx);
	T_ASSERTF(ok, "\"%s\" does not match %s", line, re);
}

/* Runs chorus-flood with args (NULL-terminated) to completion; returns
 * its status and the first stdout line in out. */
static int flood_run(const char *const *args, char *out, size_t cap,
		     char *err, size_t errcap)
{
	const char *argv[32] = { "chorus-flood" };
	struct tp p;
	int n = 1, st;

	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	tp_start(&p, "chorus-flood", argv);
	tp_close_in(&p);
	out[0] = '\0';
	if (tp_line(&p, out, cap, EXIT_MS) != 1)
		out[0] = '\0';
	st = tp_wait(&p, EXIT_MS);
	if (err) {
		size_t len = strlen(p.errbuf);

		len = len < errcap - 1 ? len : errcap - 1;
		memcpy(err, p.errbuf, len);
		err[len] = '\0';
	}
	tp_done(&p);
	return st;
}

/* Send and receive in one process, several sizes and services. */
static void flood_both(void)
{
	static const struct {
		const char *m, *b, *extra[3];
	} runs[] = {
		{ "2000", "100", { NULL } },
		{ "2000", "10000", { NULL } },
		{ "2000", "1000", { "-N", NULL } },
		{ "2000", "1000", { "-R", NULL } },
		{ "500", "24", { "-t", "safe", NULL } },
		{ "1000", "300", { "-t", "reliable", NULL } },
		{ "1000", "100", { "-w", "3", NULL } },
		{ "200", "143920", { "-t", "fifo", NULL } },
	};
	char out[512], err[8192];
	struct hd d;

	daemon_start(&d);
	for (size_t i = 0; i < T_COUNT(runs); i++) {
		const char *args[16] = { "-s", d.unix_addr, "-m", runs[i].m, "-b",
					 runs[i].b, "-g", "fl", "-T", "50" };
		int n = 10;

		for (int k = 0; k < 3 && runs[i].extra[k]; k++)
			args[n++] = runs[i].extra[k];
		args[n] = NULL;
		T_ASSERTF(flood_run(args, out, sizeof(out), err, sizeof(err)) == 0,
			  "run %zu failed: %s", i, err);
		T_STREQ(err, "");
		check_figures(out, "sent and received", atol(runs[i].m),
			      atol(runs[i].b));
	}
	hd_stop(&d);
}

/* One sender (-wo -r 2) and two receivers (-ro), one without read-ahead;
 * the receivers check the sender's count, size and service. */
static void flood_split(void)
{
	struct hd d;
	struct tp r[2], s;
	char line[512];

	daemon_start(&d);
	for (int i = 0; i < 2; i++) {
		const char *argv[] = { "chorus-flood", "-ro", "-s", d.unix_addr,
				       "-u", i ? "r2" : "r1", "-g", "split",
				       "-m", "5000", "-b", "1000", "-t", "agreed",
				       "-T", "50", i ? "-N" : NULL, NULL };

		tp_start(&r[i], "chorus-flood", argv);
	}
	{
		const char *argv[] = { "chorus-flood", "-wo", "-r", "2", "-s",
				       d.tcp_addr, "-g", "split", "-m", "5000",
				       "-b", "1000", "-w", "100", "-T", "50", NULL };

		tp_start(&s, "chorus-flood", argv);
	}
	tp_expect(&s, line, sizeof(line), "chorus-flood: sent ");
	check_figures(line, "sent", 5000, 1000);
	T_EQ(tp_wait(&s, EXIT_MS), 0);
	T_STREQ(s.errbuf, "");
	tp_done(&s);
	for (int i = 0; i < 2; i++) {
		tp_expect(&r[i], line, sizeof(line), "chorus-flood: received ");
		check_figures(line, "received", 5000, 1000);
		T_EQ(tp_wait(&r[i], EXIT_MS), 0);
		T_STREQ(r[i].errbuf, "");
		tp_done(&r[i]);
	}
	hd_stop(&d);
}

/* Starts a receiver on group g and a chorus-user `name` that waits
 * until the receiver has joined. */
static void forge_setup(const struct hd *d, const char *g, const char *name,
			struct tp *rcv, struct tp *u)
{
	const char *argv[] = { "chorus-flood", "-ro", "-s", d->unix_addr, "-g", g,
			       "-T", "30", NULL };
	char line[1024];

	user_start(u, d->unix_addr, name);
	tp_send(u, "join %s", g);
	tp_send(u, "recv");
	tp_expect(u, line, sizeof(line), "MEMB ");
	tp_start(rcv, "chorus-flood", argv);
	tp_send(u, "wait-memb %s 2 20000", g);
	tp_expect(u, line, sizeof(line), "MEMB ");
}

/* Receivers detect loss, duplicates, a malformed message and a sender
 * that leaves early; messages forged with chorus-user (the flood header
 * is ASCII: "cfl1", seq, total and step in hex; mess_type 17988). */
static void flood_detects_errors(void)
{
	static const struct {
		const char *sends[3];
		int quit_early;
		const char *err;
	} cases[] = {
		{ { "cfl100000001000000030001" }, 0,
		  "expected message 0, got 1: 1 lost" },
		{ { "cfl100000000000000030001", "cfl100000000000000030001" }, 0,
		  "expected message 1, got 0: duplicated or out of order" },
		{ { "cfl1zz" }, 0, "malformed flood message of 6 bytes from #f2#localhost" },
		{ { "cfl100000000000000030001" }, 1,
		  "sender #f3#localhost left after 1 of 3 messages" },
	};
	struct hd d;

	daemon_start(&d);
	for (size_t i = 0; i < T_COUNT(cases); i++) {
		struct tp rcv, u;
		char g[16], name[16];

		snprintf(g, sizeof(g), "bad%zu", i);
		snprintf(name, sizeof(name), "f%zu", i);
		forge_setup(&d, g, name, &rcv, &u);
		for (int k = 0; k < 3 && cases[i].sends[k]; k++)
			tp_send(&u, "send -m 17988 %s %s", g, cases[i].sends[k]);
		if (cases[i].quit_early) {
			tp_send(&u, "quit");
			T_EQ(tp_wait(&u, EXIT_MS), 0);
		}
		T_ASSERTF(tp_wait(&rcv, EXIT_MS) == 1, "case %zu: status %d", i,
			  rcv.status);
		T_ASSERTF(strstr(rcv.errbuf, cases[i].err), "case %zu: stderr \"%s\"",
			  i, rcv.errbuf);
		tp_done(&rcv);
		if (!cases[i].quit_early) {
			tp_send(&u, "quit");
			T_EQ(tp_wait(&u, EXIT_MS), 0);
		}
		tp_done(&u);
	}
	hd_stop(&d);
}

/* A sender whose receiver never acknowledges stops at its window, and
 * fails when that receiver leaves; the daemon never had to disconnect
 * anyone for a full queue. */
static void flood_sender_sees_receiver_leave(void)
{
	const char *argv[] = { "chorus-flood", "-wo", "-s", NULL, "-g", "stall",
			       "-m", "100000", "-b", "100", "-w", "40", "-T", "30",
			       NULL };
	char line[1024];
	struct hd d;
	struct tp s, u;

	daemon_start(&d);
	argv[3] = d.unix_addr;
	user_start(&u, d.unix_addr, "mute");
	tp_send(&u, "join stall");
	tp_send(&u, "recv");
	tp_expect(&u, line, sizeof(line), "MEMB ");
	tp_start(&s, "chorus-flood", argv);
	tp_send(&u, "wait-memb stall 2 20000");
	tp_expect(&u, line, sizeof(line), "MEMB ");
	/* The sender stops after 40 messages; read them all. */
	tp_send(&u, "recv 40 20000");
	for (int i = 0; i < 40; i++) {
		tp_expect(&u, line, sizeof(line), "MSG service=AGREED|SELF_DISCARD ");
		T_ASSERT(strstr(line, " type=17988 len=100 data=cfl1"));
	}
	tp_send(&u, "drain 300");
	tp_send(&u, "poll");
	tp_expect_eq(&u, "POLL bytes=0");
	tp_send(&u, "quit");
	T_EQ(tp_wait(&u, EXIT_MS), 0);
	tp_done(&u);
	T_EQ(tp_wait(&s, EXIT_MS), 1);
	T_ASSERTF(strstr(s.errbuf, "receiver #mute#localhost left after "
			 "acknowledging 0 of 100000 messages"), "stderr: %s",
		  s.errbuf);
	tp_done(&s);
	T_ASSERT(!hd_log_has(&d, "queued"));
	hd_stop(&d);
}

/* Bad options: status 2 and a message; no daemon: status 1. */
static void flood_bad_input(void)
{
	static const struct {
		const char *args[4];
		int status;
		const char *err;
	} cases[] = {
		{ { "-m", "0" }, 2, "-m: messages must be 1 to 4294967295" },
		{ { "-m", "x" }, 2, "-m: messages must be" },
		{ { "-m" }, 2, "option -m needs a value" },
		{ { "-b", "23" }, 2, "-b: bytes must be 24 to 143920" },
		{ { "-b", "143921" }, 2, "-b: bytes must be 24 to 143920" },
		{ { "-t", "bogus" }, 2, "-t: service must be" },
		{ { "-w", "0" }, 2, "-w: window must be 1 to 100000" },
		{ { "-r", "-1" }, 2, "-r: receivers must be 0 to" },
		{ { "-ro", "-wo" }, 2, "-ro and -wo exclude each other" },
		{ { "-ro", "-r", "1" }, 2, "-r and -w are for senders" },
		{ { "-g", "#x" }, 2, "-g: a group name has 1 to 31 characters" },
		{ { "-u", "elevenchars" }, 2, "-u: a private name has 1 to 10" },
		{ { "-x" }, 2, "unknown option '-x'" },
		{ { "-N", "-R" }, 2, "-N and -R exclude each other" },
		{ { "-T", "-5" }, 2, "-T: seconds must be 0 to 86400" },
		{ { "-s", "/nonexistent/dir/4803" }, 1,
		  "cannot connect to '/nonexistent/dir/4803': cannot reach the "
		  "daemon (-2)" },
		{ { "-s", "127.0.0.1:1" }, 1, "invalid daemon address (-1)" },
	};

	for (size_t i = 0; i < T_COUNT(cases); i++) {
		const char *args[6];
		char out[512], err[8192];
		int n = 0, st;

		for (int k = 0; k < 4 && cases[i].args[k]; k++)
			args[n++] = cases[i].args[k];
		args[n] = NULL;
		st = flood_run(args, out, sizeof(out), err, sizeof(err));
		T_ASSERTF(st == cases[i].status, "case %zu: status %d", i, st);
		T_ASSERTF(strstr(err, cases[i].err), "case %zu: stderr \"%s\"", i, err);
		if (st == 2)
			T_ASSERTF(strstr(err, "usage: chorus-flood"), "case %zu: %s", i,
				  err);
		T_STREQ(out, "");
	}
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE_TIMEOUT(user_two_members, 120),
		T_CASE_TIMEOUT(user_wait_and_names, 120),
		T_CASE_TIMEOUT(user_bad_input, 120),
		T_CASE_TIMEOUT(user_interactive, 60),
		T_CASE_TIMEOUT(flood_both, 180),
		T_CASE_TIMEOUT(flood_split, 120),
		T_CASE_TIMEOUT(flood_detects_errors, 120),
		T_CASE_TIMEOUT(flood_sender_sees_receiver_leave, 120),
		T_CASE_TIMEOUT(flood_bad_input, 60),
		T_CASE(usage_matches_man_pages),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
