/*
 * chorus-user.c - an interactive and scriptable client of chorusd, in the
 * role of Spread's spuser: join and leave groups, send messages with any
 * service, and show what the daemon delivers (data, regular and
 * transitional memberships, self-leaves, rejects; spec sections 4.8, 5
 * and 6 of the client protocol).
 *
 * Two front ends share one event printer and one receive path:
 *
 *   interactive  (stdin is a terminal, or -I): one-letter commands as in
 *                spuser, with received events shown as they arrive
 *                (poll() on stdin and the mailbox) unless turned off;
 *   scripted     (stdin is not a terminal, or -S): one command per line,
 *                every event printed as one stable "KEY field=value ..."
 *                line, events read only when a command asks for them, and
 *                the first error ends the program with a non-zero status.
 *
 * The line formats and the script syntax are documented in chorus-user(1);
 * tests/integration/test_tools.c depends on them, so change them only
 * together with both.
 *
 * Everything this program allocates is owned by the one struct user in
 * main() and freed by user_free().
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sp.h"
#include "chorus.h"

#define PROG "chorus-user"

/* Exit statuses (chorus-user(1), EXIT STATUS). */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* an operation failed: connect, send, receive, timeout */
#define EXIT_USAGE 2 /* bad option or bad script line */

/* The longest input line: room for a maximal message written with
 * escapes (four characters a byte) plus the command. */
#define LINE_CAP (4 * CHORUS_MAX_MESSAGE_BODY_LEN + 1024)
/* Receive buffers start small and grow on BUFFER_TOO_SHORT and
 * GROUPS_TOO_SHORT (spec section 6.3) up to these bounds. */
#define DATA_CAP_START 4096
#define DATA_CAP_MAX (CHORUS_MAX_MESSAGE_BODY_LEN + 4096)
#define GROUPS_CAP_START 16
#define GROUPS_CAP_MAX 100000
/* Scripted mode shows at most this many data bytes of a message. */
#define SHOW_DATA_MAX 4096
/* Defaults of the scripted commands. */
#define RECV_TIMEOUT_MS 10000
#define DRAIN_IDLE_MS 200
#define BURST_COUNT 10
#define MULTI_MAX_GROUPS 100

static const char usage_text[] =
	"usage: " PROG " [-hIqS] [-r | -u name] [-s daemon] [--tls-ca file]\n"
	"                   [--tls-cert file --tls-key file]\n";

/* ---- input lines ---------------------------------------------------- */

/* Reads lines from a descriptor without stdio, so that poll() on the
 * descriptor tells the truth about pending input. The caller owns the
 * struct; lr_init() allocates the buffer and lr_free() releases it. */
struct lr {
	int fd;
	char *buf;
	size_t start, len; /* unread bytes are buf[start .. len) */
	int eof;
	int too_long; /* the last line did not fit in LINE_CAP */
};

static int lr_init(struct lr *l, int fd)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->buf = malloc(LINE_CAP + 1);
	return l->buf ? 0 : -1;
}

static void lr_free(struct lr *l)
{
	free(l->buf);
	l->buf = NULL;
}

/* Takes the next complete line out of the buffer, without its newline
 * (and a trailing CR); at EOF the last unterminated line counts. Returns
 * 1 with *line pointing into the buffer (valid until the next lr_ call),
 * or 0 when no complete line is buffered. */
static int lr_next(struct lr *l, char **line)
{
	char *s = l->buf + l->start;
	char *nl = memchr(s, '\n', l->len - l->start);

	if (!nl) {
		if (!l->eof || l->start == l->len)
			return 0;
		nl = l->buf + l->len; /* last line without a newline */
		l->len++;
	}
	*nl = '\0';
	if (nl > s && nl[-1] == '\r')
		nl[-1] = '\0';
	l->start = (size_t)(nl - l->buf) + 1;
	if (l->start >= l->len)
		l->start = l->len = 0;
	*line = s;
	return 1;
}

/* One read() into the buffer. Returns 1 if bytes came, 0 at EOF, -1 on
 * error (errno set) or when a line exceeds LINE_CAP (too_long set). */
static int lr_fill(struct lr *l)
{
	ssize_t r;

	if (l->start > 0) {
		memmove(l->buf, l->buf + l->start, l->len - l->start);
		l->len -= l->start;
		l->start = 0;
	}
	if (l->len >= LINE_CAP) {
		l->too_long = 1;
		return -1;
	}
	do
		r = read(l->fd, l->buf + l->len, LINE_CAP - l->len);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	if (r == 0) {
		l->eof = 1;
		return 0;
	}
	l->len += (size_t)r;
	return 1;
}

/* Blocks until a line is available. Returns 1 (line set), 0 at EOF, -1
 * on error. */
static int lr_get(struct lr *l, char **line)
{
	for (;;) {
		int r;

		if (lr_next(l, line))
			return 1;
		if (l->eof)
			return 0;
		r = lr_fill(l);
		if (r < 0)
			return -1;
	}
}

/* ---- state ---------------------------------------------------------- */

/* The last regular membership seen of one group, for wait-memb. */
struct group_state {
	char name[MAX_GROUP_NAME];
	int members; /* 0 after a self-leave */
};

/* One received message or notification; the names and data live in the
 * struct user's buffers until the next receive. */
struct event {
	int ret; /* data length, or an error code */
	service st;
	char sender[MAX_GROUP_NAME];
	int ngroups;
	int16 mess_type;
	int endian;
};

struct user {
	/* Options. */
	const char *daemon;
	const char *name; /* NULL: the daemon picks one (-r) */
	int quiet, script;

	/* Session. */
	mailbox mbox;
	int connected;
	char private_group[MAX_GROUP_NAME];

	/* Receive buffers, grown on demand. */
	char *data;
	int data_cap;
	char (*groups)[MAX_GROUP_NAME];
	int groups_cap;

	/* Send buffer for bursts (grown on demand). */
	char *sbuf;
	size_t sbuf_cap;

	/* Known group sizes. */
	struct group_state *gs;
	size_t n_gs, gs_cap;

	/* Interactive mode. */
	int events_on;   /* show events as they arrive */
	service default_service;
	char pending_groups[4096]; /* groups of a pending 's' or 'm' */
	int pending;     /* 0 none, 1 one-line message, 2 multi-line */
	char *multi_buf; /* text gathered by 'm' */
	size_t multi_len;

	struct lr in;
	long lineno;
};

static void user_free(struct user *u)
{
	if (u->connected) {
		SP_disconnect(u->mbox);
		u->connected = 0;
	}
	free(u->data);
	free(u->groups);
	free(u->sbuf);
	free(u->gs);
	free(u->multi_buf);
	u->data = NULL;
	u->groups = NULL;
	u->sbuf = NULL;
	u->gs = NULL;
	u->multi_buf = NULL;
	lr_free(&u->in);
}

/* ---- errors --------------------------------------------------------- */

/* Reports an error: in scripted mode an "ERROR" line on stdout, and
 * always a line on stderr. op names the command (or "connect", "parse");
 * code is a Spread code or 0. */
static void report(struct user *u, const char *op, int code, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));

static void report(struct user *u, const char *op, int code, const char *fmt,
		   ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (u->script) {
		if (code)
			printf("ERROR line=%ld op=%s code=%d msg=%s\n", u->lineno,
			       op, code, msg);
		else
			printf("ERROR line=%ld op=%s msg=%s\n", u->lineno, op,
			       msg);
		fflush(stdout);
	}
	if (u->script && u->lineno > 0)
		fprintf(stderr, PROG ": line %ld: %s: %s\n", u->lineno, op, msg);
	else
		fprintf(stderr, PROG ": %s: %s\n", op, msg);
}

/* Reports a failed library call (code < 0). */
static void report_sp(struct user *u, const char *op, int code)
{
	report(u, op, code, "%s (%d)", chorus_strerror(code), code);
}

/* ---- services and names --------------------------------------------- */

static const struct {
	const char *name;
	service bit;
} services[] = {
	{ "unreliable", UNRELIABLE_MESS }, { "reliable", RELIABLE_MESS },
	{ "fifo", FIFO_MESS },             { "causal", CAUSAL_MESS },
	{ "agreed", AGREED_MESS },         { "safe", SAFE_MESS },
};

/* Returns the service bit named s (case-insensitive), or 0. */
static service service_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		if (strcasecmp(s, services[i].name) == 0)
			return services[i].bit;
	return 0;
}

/* Writes the upper-case names of the service bits of st, joined by '|',
 * into buf (for example "AGREED|SELF_DISCARD"). */
static void service_name(service st, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		if (!(st & services[i].bit))
			continue;
		n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s",
				      n ? "|" : "");
		for (const char *p = services[i].name; *p && n + 1 < cap; p++)
			buf[n++] = (char)toupper((unsigned char)*p);
		buf[n < cap ? n : cap - 1] = '\0';
	}
	if (st & SELF_DISCARD)
		snprintf(buf + n, n < cap ? cap - n : 0, "%sSELF_DISCARD",
			 n ? "|" : "");
	if (!buf[0])
		snprintf(buf, cap, "0x%x", (unsigned)st);
}

static const char *cause_name(service st)
{
	if (Is_caused_join_mess(st))
		return "JOIN";
	if (Is_caused_leave_mess(st))
		return "LEAVE";
	if (Is_caused_disconnect_mess(st))
		return "DISCONNECT";
	if (Is_caused_network_mess(st))
		return "NETWORK";
	return "UNKNOWN";
}

/* Copies a 32-byte name field into a C string (it may lack a NUL). */
static void name_copy(char out[MAX_GROUP_NAME + 1], const char *field)
{
	memcpy(out, field, MAX_GROUP_NAME);
	out[MAX_GROUP_NAME] = '\0';
}

/* Prints the names groups[0..n) separated by sep, or "-" if n is 0. */
static void print_names(const char (*names)[MAX_GROUP_NAME], int n,
			const char *sep)
{
	char s[MAX_GROUP_NAME + 1];

	if (n <= 0)
		fputs("-", stdout);
	for (int i = 0; i < n; i++) {
		name_copy(s, names[i]);
		printf("%s%s", i ? sep : "", s);
	}
}

/* Prints data escaped so that the output is one line of printable ASCII:
 * backslash, \n, \r, \t and \xHH, the same escapes the send commands
 * accept. */
static void print_escaped(const char *data, size_t len, FILE *fp)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (c == '\\')
			fputs("\\\\", fp);
		else if (c == '\n')
			fputs("\\n", fp);
		else if (c == '\r')
			fputs("\\r", fp);
		else if (c == '\t')
			fputs("\\t", fp);
		else if (c < 0x20 || c > 0x7e)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
}

/* Decodes the escapes of print_escaped() in s, in place. Returns the
 * resulting length, or -1 with *bad pointing at a bad escape. */
static long unescape(char *s, const char **bad)
{
	char *w = s;
	const char *r = s;

	while (*r) {
		if (*r != '\\') {
			*w++ = *r++;
			continue;
		}
		switch (r[1]) {
		case '\\': *w++ = '\\'; r += 2; break;
		case 'n': *w++ = '\n'; r += 2; break;
		case 'r': *w++ = '\r'; r += 2; break;
		case 't': *w++ = '\t'; r += 2; break;
		case '0': *w++ = '\0'; r += 2; break;
		case 'x':
			if (isxdigit((unsigned char)r[2]) &&
			    isxdigit((unsigned char)r[3])) {
				char hex[3] = { r[2], r[3], '\0' };

				*w++ = (char)strtol(hex, NULL, 16);
				r += 4;
				break;
			}
			/* fall through */
		default:
			*bad = r;
			return -1;
		}
	}
	*w = '\0';
	return (long)(w - s);
}

/* ---- group sizes ---------------------------------------------------- */

static struct group_state *gs_find(struct user *u, const char *name)
{
	for (size_t i = 0; i < u->n_gs; i++)
		if (strncmp(u->gs[i].name, name, MAX_GROUP_NAME) == 0)
			return &u->gs[i];
	return NULL;
}

/* Records that group `name` now has `members` members. Returns 0, or -1
 * when memory runs out. */
static int gs_set(struct user *u, const char *name, int members)
{
	struct group_state *g = gs_find(u, name);

	if (!g) {
		if (u->n_gs == u->gs_cap) {
			size_t ncap = u->gs_cap ? 2 * u->gs_cap : 8;
			struct group_state *n = realloc(u->gs, ncap * sizeof(*n));

			if (!n)
				return -1;
			u->gs = n;
			u->gs_cap = ncap;
		}
		g = &u->gs[u->n_gs++];
		memset(g, 0, sizeof(*g));
		memcpy(g->name, name, strnlen(name, MAX_GROUP_NAME - 1));
	}
	g->members = members;
	return 0;
}

/* ---- receiving ------------------------------------------------------ */

/* Grows the receive buffers to hold `groups` names and `data` bytes.
 * Returns 0, or -1 if a size is beyond the bounds or memory runs out. */
static int grow(struct user *u, int groups, int data)
{
	if (groups > u->groups_cap) {
		void *n;

		if (groups > GROUPS_CAP_MAX)
			return -1;
		n = realloc(u->groups, (size_t)groups * MAX_GROUP_NAME);
		if (!n)
			return -1;
		u->groups = n;
		u->groups_cap = groups;
	}
	if (data > u->data_cap) {
		char *n;

		if (data > DATA_CAP_MAX)
			return -1;
		n = realloc(u->data, (size_t)data);
		if (!n)
			return -1;
		u->data = n;
		u->data_cap = data;
	}
	return 0;
}

/* Receives one event, blocking. On GROUPS_TOO_SHORT or BUFFER_TOO_SHORT
 * the library keeps the message (section 6.3), so the buffers are grown
 * to the sizes it reports and the call is repeated. Returns ev->ret: the
 * data length or a negative code. */
static int user_receive(struct user *u, struct event *ev)
{
	for (;;) {
		int r;

		memset(ev, 0, sizeof(*ev));
		ev->st = 0;
		r = SP_receive(u->mbox, &ev->st, ev->sender, u->groups_cap,
			       &ev->ngroups, u->groups, &ev->mess_type,
			       &ev->endian, u->data_cap, u->data);
		ev->ret = r;
		if (r != GROUPS_TOO_SHORT && r != BUFFER_TOO_SHORT)
			return r;
		{
			int need_g = ev->ngroups < 0 ? -ev->ngroups : 0;
			int need_d = ev->endian < 0 ? -ev->endian : 0;

			if ((need_g <= u->groups_cap && need_d <= u->data_cap) ||
			    grow(u, need_g, need_d) != 0)
				return r; /* no progress possible */
		}
	}
}

/* Waits up to ms milliseconds (-1: forever) for the mailbox to have
 * input. Returns 1 if it has, 0 on timeout, -1 on error. */
static int wait_mailbox(struct user *u, int ms)
{
	struct pollfd p = { u->mbox, POLLIN, 0 };
	int r;

	if (SP_poll(u->mbox) > 0)
		return 1;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : r > 0;
}

/* ---- printing events ------------------------------------------------ */

/* Parsed membership body: the vs sets and their members. */
struct memb {
	membership_info info;
	int n_sets;
	unsigned int my_set;
	vs_set_info *sets;
	char (*names)[MAX_GROUP_NAME]; /* all sets' members, back to back */
	int *first;                     /* index into names of each set */
};

static void memb_free(struct memb *m)
{
	free(m->sets);
	free(m->names);
	free(m->first);
	memset(m, 0, sizeof(*m));
}

/* Parses the body of a regular membership with the library's helpers.
 * Returns 0, or a negative code (m is then empty). */
static int memb_parse(struct user *u, const struct event *ev, struct memb *m)
{
	int r, total = 0;

	memset(m, 0, sizeof(*m));
	r = SP_get_memb_info(u->data, ev->st, &m->info);
	if (r < 0)
		return r;
	if (!Is_reg_memb_mess(ev->st) || m->info.num_vs_sets == 0)
		return 0;
	if (m->info.num_vs_sets > (unsigned)GROUPS_CAP_MAX)
		return ILLEGAL_MESSAGE;
	m->sets = calloc(m->info.num_vs_sets, sizeof(*m->sets));
	m->first = calloc(m->info.num_vs_sets, sizeof(*m->first));
	if (!m->sets || !m->first) {
		r = SP_BUG;
		goto fail;
	}
	r = SP_get_vs_sets_info(u->data, m->sets, (int)m->info.num_vs_sets,
				&m->my_set);
	if (r < 0)
		goto fail;
	m->n_sets = r;
	for (int i = 0; i < m->n_sets; i++) {
		if (m->sets[i].num_members > (unsigned)GROUPS_CAP_MAX) {
			r = ILLEGAL_MESSAGE;
			goto fail;
		}
		m->first[i] = total;
		total += (int)m->sets[i].num_members;
	}
	m->names = calloc(total ? (size_t)total : 1, MAX_GROUP_NAME);
	if (!m->names) {
		r = SP_BUG;
		goto fail;
	}
	for (int i = 0; i < m->n_sets; i++) {
		r = SP_get_vs_set_members(u->data, &m->sets[i],
					  m->names + m->first[i],
					  (int)m->sets[i].num_members);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	memb_free(m);
	return r;
}

static void print_gid(const group_id *g)
{
	printf("%u.%u.%d", (unsigned)g->id[0], (unsigned)g->id[1],
	       g->id[2]);
}

/* The one-line scripted form of an event (chorus-user(1), OUTPUT). */
static int print_event_line(struct user *u, const struct event *ev)
{
	char sname[96], from[MAX_GROUP_NAME + 1];
	struct memb m;
	int r;

	name_copy(from, ev->sender);
	if (Is_regular_mess(ev->st) || Is_reject_mess(ev->st)) {
		size_t show = (size_t)ev->ret;

		if (Is_reject_mess(ev->st)) {
			if (Is_caused_join_mess(ev->st))
				snprintf(sname, sizeof(sname), "JOIN");
			else if (Is_caused_leave_mess(ev->st))
				snprintf(sname, sizeof(sname), "LEAVE");
			else
				service_name(ev->st & ~REJECT_MESS, sname,
					     sizeof(sname));
			printf("REJECT orig=%s sender=%s groups=", sname, from);
		} else {
			service_name(ev->st, sname, sizeof(sname));
			printf("MSG service=%s sender=%s groups=", sname, from);
		}
		print_names((const char (*)[MAX_GROUP_NAME])u->groups,
			    ev->ngroups, ",");
		printf(" type=%d len=%d data=", ev->mess_type, ev->ret);
		if (show > SHOW_DATA_MAX)
			show = SHOW_DATA_MAX;
		print_escaped(u->data, show, stdout);
		fputc('\n', stdout);
		return 0;
	}
	if (Is_reg_memb_mess(ev->st)) {
		char changed[MAX_GROUP_NAME + 1];

		r = memb_parse(u, ev, &m);
		if (r < 0)
			return r;
		name_copy(changed, m.info.changed_member);
		printf("MEMB group=%s cause=%s id=", from, cause_name(ev->st));
		print_gid(&m.info.gid);
		printf(" members=");
		print_names((const char (*)[MAX_GROUP_NAME])u->groups,
			    ev->ngroups, ",");
		printf(" changed=%s my_index=%d vs_sets=%d my_vs=%u vs=",
		       changed[0] ? changed : "-", ev->mess_type, m.n_sets,
		       m.my_set);
		for (int i = 0; i < m.n_sets; i++) {
			if (i)
				fputc(';', stdout);
			print_names((const char (*)[MAX_GROUP_NAME])(m.names +
								     m.first[i]),
				    (int)m.sets[i].num_members, ",");
		}
		fputc('\n', stdout);
		memb_free(&m);
		return 0;
	}
	if (Is_transition_mess(ev->st)) {
		r = memb_parse(u, ev, &m);
		if (r < 0)
			return r;
		printf("TRANS group=%s id=", from);
		print_gid(&m.info.gid);
		fputc('\n', stdout);
		memb_free(&m);
		return 0;
	}
	if (Is_self_leave(ev->st)) {
		printf("SELFLEAVE group=%s\n", from);
		return 0;
	}
	printf("UNKNOWN service=0x%x sender=%s len=%d\n", (unsigned)ev->st, from,
	       ev->ret);
	return 0;
}

/* The human-readable form of an event, for the interactive mode. */
static int print_event_human(struct user *u, const struct event *ev)
{
	char sname[96], from[MAX_GROUP_NAME + 1], s[MAX_GROUP_NAME + 1];
	struct memb m;
	int r;

	name_copy(from, ev->sender);
	if (Is_regular_mess(ev->st) || Is_reject_mess(ev->st)) {
		service_name(ev->st & ~REJECT_MESS, sname, sizeof(sname));
		if (Is_reject_mess(ev->st))
			printf("\n** The daemon REJECTED this %s %s:\n",
			       Is_caused_join_mess(ev->st)   ? "join"
			       : Is_caused_leave_mess(ev->st) ? "leave"
							      : sname,
			       Is_regular_mess(ev->st & ~REJECT_MESS) ? "message"
								      : "request");
		printf("\n%s message from %s, type %d, %d byte%s, to %d group%s:",
		       sname, from, ev->mess_type, ev->ret, ev->ret == 1 ? "" : "s",
		       ev->ngroups, ev->ngroups == 1 ? "" : "s");
		for (int i = 0; i < ev->ngroups; i++) {
			name_copy(s, u->groups[i]);
			printf(" %s", s);
		}
		if (ev->endian)
			printf(" (sent from a machine of the other byte order)");
		printf("\n| ");
		for (int i = 0; i < ev->ret; i++) {
			unsigned char c = (unsigned char)u->data[i];

			if (c == '\n')
				printf("\n| ");
			else
				putchar(isprint(c) || c == '\t' ? c : '.');
		}
		putchar('\n');
		return 0;
	}
	if (Is_reg_memb_mess(ev->st)) {
		r = memb_parse(u, ev, &m);
		if (r < 0)
			return r;
		printf("\nMembership of %s changed", from);
		name_copy(s, m.info.changed_member);
		if (Is_caused_network_mess(ev->st))
			printf(" because the network changed");
		else if (Is_caused_join_mess(ev->st))
			printf(": %s joined", s);
		else if (Is_caused_leave_mess(ev->st))
			printf(": %s left", s);
		else if (Is_caused_disconnect_mess(ev->st))
			printf(": %s disconnected", s);
		printf("\n  group id ");
		print_gid(&m.info.gid);
		printf("; %d member%s, I am number %d:\n", ev->ngroups,
		       ev->ngroups == 1 ? "" : "s", ev->mess_type);
		for (int i = 0; i < ev->ngroups; i++) {
			name_copy(s, u->groups[i]);
			printf("  %4d  %s%s\n", i, s, i == ev->mess_type ? "  (me)" : "");
		}
		printf("  %d virtual-synchrony set%s (members that move together):\n",
		       m.n_sets, m.n_sets == 1 ? "" : "s");
		for (int i = 0; i < m.n_sets; i++) {
			printf("    set %d%s:", i, (unsigned)i == m.my_set ? " (mine)" : "");
			for (unsigned j = 0; j < m.sets[i].num_members; j++) {
				name_copy(s, m.names[m.first[i] + (int)j]);
				printf(" %s", s);
			}
			putchar('\n');
		}
		memb_free(&m);
		return 0;
	}
	if (Is_transition_mess(ev->st)) {
		printf("\nTransitional membership of %s: until the next regular "
		       "membership, messages go only to the members still reachable.\n",
		       from);
		return 0;
	}
	if (Is_self_leave(ev->st)) {
		printf("\nYou left %s.\n", from);
		return 0;
	}
	printf("\nUnknown message kind 0x%x from %s, %d bytes.\n",
	       (unsigned)ev->st, from, ev->ret);
	return 0;
}

/* Updates the known group sizes from a notification. */
static int track(struct user *u, const struct event *ev)
{
	char g[MAX_GROUP_NAME + 1];

	if (Is_reject_mess(ev->st))
		return 0;
	name_copy(g, ev->sender);
	if (Is_reg_memb_mess(ev->st))
		return gs_set(u, g, ev->ngroups);
	if (Is_self_leave(ev->st))
		return gs_set(u, g, 0);
	return 0;
}

/* Receives one event (blocking) and shows it in the current mode.
 * Returns 0, or after reporting an error the library's negative code
 * (SP_BUG when memory ran out here). */
static int show_one(struct user *u, const char *op)
{
	struct event ev;
	int r = user_receive(u, &ev);

	if (r < 0) {
		report_sp(u, op, r);
		return r;
	}
	if (track(u, &ev) != 0) {
		report(u, op, 0, "out of memory");
		return SP_BUG;
	}
	r = u->script ? print_event_line(u, &ev) : print_event_human(u, &ev);
	fflush(stdout);
	if (r < 0) {
		report_sp(u, op, r);
		return r;
	}
	return 0;
}

/* 1 if code means the session cannot be used any more. */
static int fatal_code(int code)
{
	return code == CONNECTION_CLOSED || code == NET_ERROR_ON_SESSION ||
	       code == ILLEGAL_SESSION || code == SP_BUG;
}

/* ---- sending -------------------------------------------------------- */

/* Splits "g1,g2,..." into at most MULTI_MAX_GROUPS names. Returns the
 * count, or -1 after reporting the problem. */
static int split_groups(struct user *u, const char *op, char *list,
			char groups[][MAX_GROUP_NAME])
{
	int n = 0;
	char *save = NULL;

	for (char *g = strtok_r(list, ",", &save); g;
	     g = strtok_r(NULL, ",", &save)) {
		if (n == MULTI_MAX_GROUPS) {
			report(u, op, 0, "more than %d groups", MULTI_MAX_GROUPS);
			return -1;
		}
		if (strlen(g) >= MAX_GROUP_NAME) {
			report(u, op, 0, "group name '%s' is longer than %d characters",
			       g, MAX_GROUP_NAME - 1);
			return -1;
		}
		memset(groups[n], 0, MAX_GROUP_NAME);
		memcpy(groups[n], g, strlen(g));
		n++;
	}
	if (n == 0)
		report(u, op, 0, "no group given");
	return n ? n : -1;
}

/* Sends len bytes to the n groups. Returns 0, or -1 after reporting. */
static int do_send(struct user *u, const char *op, service st,
		   char groups[][MAX_GROUP_NAME], int n, int16 mess_type,
		   const char *data, int len)
{
	int r;

	if (n == 1)
		r = SP_multicast(u->mbox, st, groups[0], mess_type, len, data);
	else
		r = SP_multigroup_multicast(u->mbox, st, n,
					    (const char (*)[MAX_GROUP_NAME])groups,
					    mess_type, len, data);
	if (r < 0) {
		report_sp(u, op, r);
		return -1;
	}
	return 0;
}

/* Sends count messages of at least `bytes` bytes ("burst <i>" padded
 * with dots) to the groups. Returns 0 or -1. */
static int do_burst(struct user *u, const char *op, service st,
		    char groups[][MAX_GROUP_NAME], int n, int16 mess_type,
		    long count, long bytes)
{
	size_t cap = (size_t)bytes + 32;

	if (cap > u->sbuf_cap) {
		char *b = realloc(u->sbuf, cap);

		if (!b) {
			report(u, op, 0, "out of memory");
			return -1;
		}
		u->sbuf = b;
		u->sbuf_cap = cap;
	}
	for (long i = 0; i < count; i++) {
		int len = snprintf(u->sbuf, u->sbuf_cap, "burst %ld", i);

		if (len < bytes) {
			memset(u->sbuf + len, '.', (size_t)(bytes - len));
			len = (int)bytes;
		}
		if (do_send(u, op, st, groups, n, mess_type, u->sbuf, len) != 0)
			return -1;
	}
	return 0;
}

/* ---- scripted mode -------------------------------------------------- */

/* Parses a whole decimal number in [lo, hi]. Returns 0 or -1. */
static int parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Takes the next whitespace-separated word of *p (modified in place).
 * Returns it, or NULL at the end of the line. */
static char *next_word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	w = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

/* Send options shared by send, multi and burst. */
struct send_opts {
	service st;
	int16 mess_type;
};

/* Parses leading "-t service", "-x" and "-m type" words. Returns the
 * first word that is not an option (the group), or NULL after reporting
 * an error. */
static char *parse_send_opts(struct user *u, const char *op, char **p,
			     struct send_opts *o)
{
	char *w;

	o->st = AGREED_MESS;
	o->mess_type = 0;
	while ((w = next_word(p)) && w[0] == '-' && w[1]) {
		if (strcmp(w, "-x") == 0) {
			o->st |= SELF_DISCARD;
		} else if (strcmp(w, "-t") == 0) {
			char *v = next_word(p);
			service s = v ? service_parse(v) : 0;

			if (!s) {
				report(u, op, 0, "-t needs one of unreliable, reliable, "
				       "fifo, causal, agreed, safe%s%s",
				       v ? "; got " : "", v ? v : "");
				return NULL;
			}
			o->st = (o->st & SELF_DISCARD) | s;
		} else if (strcmp(w, "-m") == 0) {
			char *v = next_word(p);
			long t;

			if (parse_num(v, INT16_MIN, INT16_MAX, &t) != 0) {
				report(u, op, 0, "-m needs a message type from %d to %d",
				       INT16_MIN, INT16_MAX);
				return NULL;
			}
			o->mess_type = (int16)t;
		} else {
			report(u, op, 0, "unknown option '%s'", w);
			return NULL;
		}
	}
	if (!w)
		report(u, op, 0, "no group given");
	return w;
}

/* The rest of the line after one run of blanks, unescaped. Returns its
 * length, or -1 after reporting a bad escape. */
static long take_text(struct user *u, const char *op, char *p)
{
	const char *bad = NULL;
	long n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = unescape(p, &bad);
	if (n < 0)
		report(u, op, 0, "bad escape '%.4s' (use \\\\ \\n \\r \\t \\0 \\xHH)",
		       bad);
	else if (n > CHORUS_MAX_MESSAGE_BODY_LEN)
		report(u, op, 0, "message of %ld bytes is too long", n);
	return n > CHORUS_MAX_MESSAGE_BODY_LEN ? -1 : n;
}

/* Prints events as they come, for ms_total milliseconds (-1: forever),
 * until `want` of them were printed (-1: any number) or, if idle_ms >= 0,
 * until none came for idle_ms. Returns the number printed, or -1 after
 * reporting an error. */
static long pump(struct user *u, const char *op, long want, int ms_total,
		 int idle_ms)
{
	struct timespec t0;
	long got = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (want < 0 || got < want) {
		struct timespec t;
		long left = -1, el;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L;
		if (ms_total >= 0) {
			left = ms_total - el;
			if (left <= 0)
				break;
		}
		if (idle_ms >= 0 && (left < 0 || left > idle_ms))
			left = idle_ms;
		r = wait_mailbox(u, (int)left);
		if (r < 0) {
			report(u, op, 0, "poll: %s", strerror(errno));
			return -1;
		}
		if (r == 0) {
			if (idle_ms >= 0)
				break;
			continue;
		}
		if (show_one(u, op) != 0)
			return -1;
		got++;
	}
	return got;
}

/* Waits until the last regular membership of `group` has `n` members,
 * printing events meanwhile. Returns 0 or -1 (reported). */
static int wait_memb(struct user *u, const char *group, long n, long ms)
{
	struct timespec t0, t;
	struct group_state *g;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long el, r;

		g = gs_find(u, group);
		if (g && g->members == n)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L;
		if (el >= ms)
			break;
		r = pump(u, "wait-memb", 1, (int)(ms - el), -1);
		if (r < 0)
			return -1;
	}
	report(u, "wait-memb", 0, "timed out after %ld ms: %s has %d members, not %ld",
	       ms, group, g ? g->members : 0, n);
	return -1;
}

/* Runs one script line. Returns 0 to go on, 1 to quit, or an exit status
 * (EXIT_FAIL, EXIT_USAGE) + 1 after reporting an error. */
static int script_line(struct user *u, char *line)
{
	char groups[MULTI_MAX_GROUPS][MAX_GROUP_NAME];
	struct send_opts o;
	char *p = line, *cmd, *g, *a, *b;
	long n, ms, bytes;
	int r;

	cmd = next_word(&p);
	if (!cmd || cmd[0] == '#')
		return 0;
	if (strcmp(cmd, "join") == 0 || strcmp(cmd, "leave") == 0) {
		g = next_word(&p);
		if (!g || next_word(&p)) {
			report(u, cmd, 0, "usage: %s group", cmd);
			return 1 + EXIT_USAGE;
		}
		r = cmd[0] == 'j' ? SP_join(u->mbox, g) : SP_leave(u->mbox, g);
		if (r < 0) {
			report_sp(u, cmd, r);
			return 1 + (r == ILLEGAL_GROUP ? EXIT_USAGE : EXIT_FAIL);
		}
		return 0;
	}
	if (strcmp(cmd, "send") == 0 || strcmp(cmd, "multi") == 0) {
		int ng;

		g = parse_send_opts(u, cmd, &p, &o);
		if (!g)
			return 1 + EXIT_USAGE;
		if (cmd[0] == 's') {
			if (strlen(g) >= MAX_GROUP_NAME) {
				report(u, cmd, 0, "group name '%s' is longer than %d "
				       "characters", g, MAX_GROUP_NAME - 1);
				return 1 + EXIT_USAGE;
			}
			memset(groups[0], 0, MAX_GROUP_NAME);
			memcpy(groups[0], g, strlen(g));
			ng = 1;
		} else if ((ng = split_groups(u, cmd, g, groups)) < 0) {
			return 1 + EXIT_USAGE;
		}
		n = take_text(u, cmd, p);
		if (n < 0)
			return 1 + EXIT_USAGE;
		if (do_send(u, cmd, o.st, groups, ng, o.mess_type, p, (int)n) != 0)
			return 1 + EXIT_FAIL;
		return 0;
	}
	if (strcmp(cmd, "burst") == 0) {
		int ng;

		g = parse_send_opts(u, cmd, &p, &o);
		if (!g)
			return 1 + EXIT_USAGE;
		a = next_word(&p);
		b = next_word(&p);
		n = BURST_COUNT;
		bytes = 0;
		if ((a && parse_num(a, 1, 1000000, &n) != 0) ||
		    (b && parse_num(b, 0, CHORUS_MAX_MESSAGE_BODY_LEN - 32 * MULTI_MAX_GROUPS,
				    &bytes) != 0) ||
		    next_word(&p)) {
			report(u, cmd, 0, "usage: burst [-t service] [-x] [-m type] "
			       "group[,group...] [count [bytes]] (count 1..1000000, "
			       "bytes 0..%d)", CHORUS_MAX_MESSAGE_BODY_LEN - 32 * MULTI_MAX_GROUPS);
			return 1 + EXIT_USAGE;
		}
		if ((ng = split_groups(u, cmd, g, groups)) < 0)
			return 1 + EXIT_USAGE;
		if (do_burst(u, cmd, o.st, groups, ng, o.mess_type, n, bytes) != 0)
			return 1 + EXIT_FAIL;
		return 0;
	}
	if (strcmp(cmd, "recv") == 0) {
		a = next_word(&p);
		b = next_word(&p);
		n = 1;
		ms = RECV_TIMEOUT_MS;
		if ((a && parse_num(a, 1, LONG_MAX, &n) != 0) ||
		    (b && parse_num(b, 0, INT_MAX, &ms) != 0) || next_word(&p)) {
			report(u, cmd, 0, "usage: recv [count [timeout_ms]]");
			return 1 + EXIT_USAGE;
		}
		r = (int)pump(u, cmd, n, (int)ms, -1);
		if (r < 0)
			return 1 + EXIT_FAIL;
		if (r < n) {
			report(u, cmd, 0, "timed out after %ld ms with %d of %ld events",
			       ms, r, n);
			return 1 + EXIT_FAIL;
		}
		return 0;
	}
	if (strcmp(cmd, "drain") == 0) {
		a = next_word(&p);
		ms = DRAIN_IDLE_MS;
		if ((a && parse_num(a, 0, INT_MAX, &ms) != 0) || next_word(&p)) {
			report(u, cmd, 0, "usage: drain [idle_ms]");
			return 1 + EXIT_USAGE;
		}
		return pump(u, cmd, -1, -1, (int)ms) < 0 ? 1 + EXIT_FAIL : 0;
	}
	if (strcmp(cmd, "wait-memb") == 0) {
		g = next_word(&p);
		a = next_word(&p);
		b = next_word(&p);
		ms = RECV_TIMEOUT_MS;
		if (!g || parse_num(a, 0, INT_MAX, &n) != 0 ||
		    (b && parse_num(b, 0, INT_MAX, &ms) != 0) || next_word(&p)) {
			report(u, cmd, 0, "usage: wait-memb group count [timeout_ms]");
			return 1 + EXIT_USAGE;
		}
		return wait_memb(u, g, n, ms) ? 1 + EXIT_FAIL : 0;
	}
	if (strcmp(cmd, "poll") == 0) {
		if (next_word(&p)) {
			report(u, cmd, 0, "usage: poll");
			return 1 + EXIT_USAGE;
		}
		r = SP_poll(u->mbox);
		if (r < 0) {
			report_sp(u, cmd, r);
			return 1 + EXIT_FAIL;
		}
		printf("POLL bytes=%d\n", r);
		fflush(stdout);
		return 0;
	}
	if (strcmp(cmd, "sleep") == 0) {
		a = next_word(&p);
		if (parse_num(a, 0, INT_MAX, &ms) != 0 || next_word(&p)) {
			report(u, cmd, 0, "usage: sleep ms");
			return 1 + EXIT_USAGE;
		}
		{
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
		return 0;
	}
	if (strcmp(cmd, "quit") == 0) {
		if (next_word(&p)) {
			report(u, cmd, 0, "usage: quit");
			return 1 + EXIT_USAGE;
		}
		return 1;
	}
	report(u, "parse", 0, "unknown command '%s' (commands: join leave send "
	       "multi burst recv drain wait-memb poll sleep quit)", cmd);
	return 1 + EXIT_USAGE;
}

/* Reads and runs script lines until quit, EOF or an error. Returns the
 * exit status. */
static int run_script(struct user *u)
{
	char *line;
	int r;

	if (!u->quiet) {
		printf("CONNECTED private_group=%s\n", u->private_group);
		fflush(stdout);
	}
	for (;;) {
		r = lr_get(&u->in, &line);
		if (r == 0)
			return EXIT_OK;
		if (r < 0) {
			u->lineno++;
			if (u->in.too_long)
				report(u, "parse", 0, "line longer than %d bytes",
				       LINE_CAP);
			else
				report(u, "parse", 0, "reading input: %s",
				       strerror(errno));
			return EXIT_USAGE;
		}
		u->lineno++;
		r = script_line(u, line);
		if (r == 1)
			return EXIT_OK;
		if (r > 1)
			return r - 1;
	}
}

/* ---- interactive mode ----------------------------------------------- */

static void menu(void)
{
	printf("\n"
	       "Commands (one letter, then its arguments):\n"
	       "  j <group>               join a group\n"
	       "  l <group>               leave a group\n"
	       "  s <group>[,<group>...]  send one line (asked for next)\n"
	       "  m <group>[,<group>...]  send several lines, ended by a line \".\"\n"
	       "  b <group> [count [bytes]]  send a burst (default %d messages)\n"
	       "  t <service>             service of later sends: unreliable,\n"
	       "                          reliable, fifo, causal, agreed, safe\n"
	       "  r                       receive one event (waits for it)\n"
	       "  p                       poll: bytes waiting in the mailbox\n"
	       "  e                       show events as they arrive (default)\n"
	       "  d                       do not show them; use r and p\n"
	       "  h                       this menu\n"
	       "  q                       quit\n",
	       BURST_COUNT);
}

static void prompt(struct user *u)
{
	if (u->quiet)
		return;
	if (u->pending == 1)
		printf("message> ");
	else if (u->pending == 2)
		printf("more> ");
	else
		printf("%s> ", u->private_group);
	fflush(stdout);
}

/* Sends the text gathered for an 's' or 'm' command. */
static void send_pending(struct user *u, const char *text, size_t len)
{
	char groups[MULTI_MAX_GROUPS][MAX_GROUP_NAME];
	int n = split_groups(u, "send", u->pending_groups, groups);

	if (n > 0 && do_send(u, "send", u->default_service, groups, n, 0, text,
			     (int)len) == 0 && !u->quiet)
		printf("sent %zu byte%s\n", len, len == 1 ? "" : "s");
}

/* Handles one line typed in interactive mode. Returns 0 to go on, 1 to
 * quit, 2 to quit because the connection is gone. Errors are reported
 * and the session goes on. */
static int interactive_line(struct user *u, char *line)
{
	char *p = line, *cmd, *g, *a, *b;
	long n, bytes;
	int r;

	if (u->pending == 1) {
		u->pending = 0;
		send_pending(u, line, strlen(line));
		return 0;
	}
	if (u->pending == 2) {
		size_t l = strlen(line);

		if (strcmp(line, ".") == 0) {
			u->pending = 0;
			send_pending(u, u->multi_buf ? u->multi_buf : "",
				     u->multi_len);
			u->multi_len = 0;
			return 0;
		}
		if (u->multi_len + l + 1 > CHORUS_MAX_MESSAGE_BODY_LEN) {
			report(u, "send", 0, "message too long; discarded");
			u->pending = 0;
			u->multi_len = 0;
			return 0;
		}
		if (!u->multi_buf && !(u->multi_buf = malloc(CHORUS_MAX_MESSAGE_BODY_LEN))) {
			report(u, "send", 0, "out of memory");
			u->pending = 0;
			return 0;
		}
		memcpy(u->multi_buf + u->multi_len, line, l);
		u->multi_len += l;
		u->multi_buf[u->multi_len++] = '\n';
		return 0;
	}
	cmd = next_word(&p);
	if (!cmd)
		return 0;
	if (strlen(cmd) != 1) {
		report(u, "command", 0, "unknown command '%s'; h shows the menu", cmd);
		return 0;
	}
	switch (cmd[0]) {
	case 'j':
	case 'l':
		g = next_word(&p);
		if (!g || next_word(&p)) {
			report(u, cmd, 0, "usage: %c <group>", cmd[0]);
			break;
		}
		r = cmd[0] == 'j' ? SP_join(u->mbox, g) : SP_leave(u->mbox, g);
		if (r < 0)
			report_sp(u, cmd[0] == 'j' ? "join" : "leave", r);
		break;
	case 's':
	case 'm':
		g = next_word(&p);
		if (!g || next_word(&p) || strlen(g) >= sizeof(u->pending_groups)) {
			report(u, cmd, 0, "usage: %c <group>[,<group>...]", cmd[0]);
			break;
		}
		snprintf(u->pending_groups, sizeof(u->pending_groups), "%s", g);
		u->pending = cmd[0] == 's' ? 1 : 2;
		u->multi_len = 0;
		break;
	case 'b': {
		char groups[MULTI_MAX_GROUPS][MAX_GROUP_NAME];
		int ng;

		g = next_word(&p);
		a = next_word(&p);
		b = next_word(&p);
		n = BURST_COUNT;
		bytes = 0;
		if (!g || (a && parse_num(a, 1, 1000000, &n) != 0) ||
		    (b && parse_num(b, 0, CHORUS_MAX_MESSAGE_BODY_LEN - 32 * MULTI_MAX_GROUPS,
				    &bytes) != 0) || next_word(&p)) {
			report(u, "b", 0, "usage: b <group>[,<group>...] [count "
			       "[bytes]] (count 1..1000000)");
			break;
		}
		ng = split_groups(u, "burst", g, groups);
		if (ng > 0 && do_burst(u, "burst", u->default_service, groups, ng,
				       0, n, bytes) == 0 && !u->quiet)
			printf("sent %ld message%s\n", n, n == 1 ? "" : "s");
		break;
	}
	case 't': {
		service s;

		a = next_word(&p);
		s = a ? service_parse(a) : 0;
		if (!s || next_word(&p)) {
			report(u, "t", 0, "usage: t unreliable|reliable|fifo|causal|"
			       "agreed|safe");
			break;
		}
		u->default_service = s;
		break;
	}
	case 'r':
		r = show_one(u, "receive");
		if (fatal_code(r))
			return 2;
		break;
	case 'p':
		r = SP_poll(u->mbox);
		if (r < 0)
			report_sp(u, "poll", r);
		else
			printf("%d byte%s waiting\n", r, r == 1 ? "" : "s");
		break;
	case 'e':
		u->events_on = 1;
		break;
	case 'd':
		u->events_on = 0;
		break;
	case 'h':
	case '?':
		menu();
		break;
	case 'q':
		return 1;
	default:
		report(u, "command", 0, "unknown command '%s'; h shows the menu", cmd);
		break;
	}
	return 0;
}

/* The interactive loop: waits on stdin and, while events are shown, on
 * the mailbox. Returns the exit status. */
static int run_interactive(struct user *u)
{
	if (!u->quiet) {
		printf("Connected as %s.\n", u->private_group);
		menu();
	}
	prompt(u);
	for (;;) {
		struct pollfd p[2] = { { 0, POLLIN, 0 }, { u->mbox, POLLIN, 0 } };
		char *line;
		int r;

		while (lr_next(&u->in, &line)) {
			r = interactive_line(u, line);
			if (r)
				return r == 1 ? EXIT_OK : EXIT_FAIL;
			prompt(u);
		}
		if (u->in.eof) {
			if (!u->quiet)
				putchar('\n');
			return EXIT_OK;
		}
		if (u->events_on && SP_poll(u->mbox) > 0) {
			p[1].revents = POLLIN;
			r = 1;
		} else {
			r = poll(p, u->events_on ? 2 : 1, -1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				report(u, "poll", 0, "%s", strerror(errno));
				return EXIT_FAIL;
			}
		}
		if (u->events_on && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (fatal_code(show_one(u, "receive")))
				return EXIT_FAIL; /* the connection is gone */
			prompt(u);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (lr_fill(&u->in) < 0) {
				report(u, "input", 0, "%s", u->in.too_long ?
				       "line too long" : strerror(errno));
				return EXIT_FAIL;
			}
		}
	}
}

/* ---- main ----------------------------------------------------------- */

static void usage(FILE *fp)
{
	fputs(usage_text, fp);
}

int main(int argc, char **argv)
{
	enum { OPT_TLS_CA = 256, OPT_TLS_CERT, OPT_TLS_KEY };
	static const struct option longopts[] = {
		{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ NULL, 0, NULL, 0 },
	};
	const char *tls[3] = { NULL, NULL, NULL };
	struct user u;
	int c, r, rflag = 0, uflag = 0, force_i = 0, force_s = 0;

	memset(&u, 0, sizeof(u));
	u.daemon = "4803";
	u.name = "user";
	u.events_on = 1;
	u.default_service = AGREED_MESS;
	while ((c = getopt_long(argc, argv, ":hIqrSs:u:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TLS_CA:
		case OPT_TLS_CERT:
		case OPT_TLS_KEY:
			tls[c - OPT_TLS_CA] = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'I':
			force_i = 1;
			break;
		case 'q':
			u.quiet = 1;
			break;
		case 'r':
			rflag = 1;
			break;
		case 'S':
			force_s = 1;
			break;
		case 's':
			u.daemon = optarg;
			break;
		case 'u':
			u.name = optarg;
			uflag = 1;
			break;
		case ':':
			fprintf(stderr, PROG ": option -%c needs an argument\n", optopt);
			usage(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, PROG ": unknown option -%c\n", optopt);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (force_i && force_s) {
		fprintf(stderr, PROG ": -I and -S exclude each other\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (rflag && uflag) {
		fprintf(stderr, PROG ": -r and -u exclude each other\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (rflag) {
		u.name = NULL; /* the daemon assigns a unique name */
	} else if (strlen(u.name) == 0 || strlen(u.name) > MAX_PRIVATE_NAME) {
		fprintf(stderr, PROG ": private name '%s' must have 1 to %d "
			"characters\n", u.name, MAX_PRIVATE_NAME);
		return EXIT_USAGE;
	}
	u.script = force_s || (!force_i && !isatty(0));
	if (u.script)
		setvbuf(stdout, NULL, _IOLBF, 0);
	if (lr_init(&u.in, 0) != 0 || grow(&u, GROUPS_CAP_START, DATA_CAP_START)) {
		fprintf(stderr, PROG ": out of memory\n");
		user_free(&u);
		return EXIT_FAIL;
	}

	if ((tls[0] || tls[1] || tls[2] || strncmp(u.daemon, "tls:", 4) == 0) &&
	    (r = chorus_set_tls(tls[0], tls[1], tls[2])) != 0) {
		report(&u, "connect", r, "TLS: %s", chorus_tls_error());
		user_free(&u);
		return EXIT_USAGE;
	}
	r = SP_connect(u.daemon, u.name, 0, 1, &u.mbox, u.private_group);
	if (r != ACCEPT_SESSION) {
		report(&u, "connect", r, "cannot connect to '%s': %s (%d)%s%s", u.daemon,
		       chorus_strerror(r), r, chorus_tls_error()[0] ? ": " : "",
		       chorus_tls_error());
		user_free(&u);
		return EXIT_FAIL;
	}
	u.connected = 1;
	r = u.script ? run_script(&u) : run_interactive(&u);
	user_free(&u);
	return r;
}
