/*
 * conf.c - reads spread.conf into a struct conf, and prints it back.
 *
 * This implements the configuration file of Spread 4.4 as the protocol
 * specification describes it (section 9.3 lexical rules, 9.4 grammar, 9.5
 * parameters), plus chorusd's own keywords (MaxSessions, MaxSessionBytes,
 * UnixSocketDir, RingTransport, RingKeyFile, RingEncryption, and for
 * security HmacSecretsFile, MaxSessionsPerIP, MaxAuthenticating,
 * HandshakeTimeout, the AccessRules block, whose rules authz.c parses,
 * and the Tls* keywords of the TLS listener). docs/config.md and
 * chorus.conf(5) are the user-facing
 * description; this comment only lists what a reader of the code needs.
 *
 * Structure: a small lexer turns the text into tokens the way Spread's
 * does (a bare word is classified as a whole: keyword, boolean, address,
 * number or plain string), and a recursive-descent parser with one token
 * of lookahead walks the grammar. Parsing is a pure function of the text:
 * no I/O, no globals, no allocation. Every read of the text is checked
 * against its length, so any byte string is safe input (tests/fuzz).
 * conf_load() is the only part that touches files and DNS.
 *
 * Where we knowingly differ from Spread 4.4 (docs/config.md lists these
 * for users): a number followed by blanks is a number (Spread's lexer
 * reads it as a route-matrix row and fails); a quoted string must close on
 * its own line and be followed by a separator; unknown authentication
 * methods, out-of-range values, duplicate hosts or addresses and daemon
 * names that could not appear in a private group name are errors instead
 * of being ignored; RouteMatrix rows are not checked against the number
 * of segments, since nothing uses them.
 */
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#define CONF_DEFAULT_PORT 4803
#define CONF_DEFAULT_TS_FMT "[%a %d %b %Y %H:%M:%S]"
#define CONF_FILE_MAX (1024 * 1024) /* conf_load() refuses larger files */
#define SUN_PATH_ROOM 104 /* the smallest sun_path among our targets */

/* Range of MaxSessionBytes: at least room for one largest message (about
 * 144 KB, spec 4.7), at most 1 TiB or what a long holds. */
#define SESSION_BYTES_MIN (256L * 1024)
#if LONG_MAX > 0x7fffffffL
#define SESSION_BYTES_MAX (1024L * 1024 * 1024 * 1024)
#else
#define SESSION_BYTES_MAX LONG_MAX
#endif

/* ---- Keywords and other reserved words ---------------------------- */

enum keyword {
	KW_SEGMENT, KW_EVENTLOGFILE, KW_EVENTTIMESTAMP,
	KW_EVENTPRECISETIMESTAMP, KW_EVENTPRIORITY, KW_DEBUGFLAGS,
	KW_DANGEROUSMONITOR, KW_SOCKETPORTREUSE, KW_DEBUGINITIALSEQUENCE,
	KW_RUNTIMEDIR, KW_DAEMONUSER, KW_DAEMONGROUP, KW_REQUIREDAUTH,
	KW_ALLOWEDAUTH, KW_ACCESSCONTROLPOLICY, KW_MAXSESSIONMESSAGES,
	KW_LINKPROTOCOL, KW_ROUTEMATRIX, KW_WINDOW, KW_PERSONALWINDOW,
	KW_ACCELERATEDRING, KW_ACCELERATEDWINDOW,
	/* The nine membership timeouts, in this order (see timeout_field). */
	KW_TOKENTIMEOUT, KW_HURRYTIMEOUT, KW_ALIVETIMEOUT, KW_JOINTIMEOUT,
	KW_REPTIMEOUT, KW_SEGTIMEOUT, KW_GATHERTIMEOUT, KW_FORMTIMEOUT,
	KW_LOOKUPTIMEOUT,
	/* Chorus extensions. */
	KW_MAXSESSIONS, KW_MAXSESSIONBYTES, KW_UNIXSOCKETDIR, KW_RINGTRANSPORT,
	KW_RINGKEYFILE, KW_RINGENCRYPTION,
	/* Chorus security extensions. */
	KW_HMACSECRETSFILE, KW_MAXSESSIONSPERIP, KW_MAXAUTHENTICATING,
	KW_HANDSHAKETIMEOUT, KW_ACCESSRULES,
	KW_TLSPORT, KW_TLSCERTIFICATEFILE, KW_TLSKEYFILE, KW_TLSCLIENTCAFILE,
	KW_TLSCLIENTVERIFY,
};

enum tok_kind {
	TK_EOF, TK_LBRACE, TK_RBRACE, TK_EQUALS, TK_BANG,
	TK_KEYWORD,  /* a statement keyword; tok.num is an enum keyword */
	TK_LINKPROT, /* Hop (1) or TcpHop (2) */
	TK_FLAG,     /* a DebugFlags name; tok.num is its mask */
	TK_PRIO,     /* an EventPriority name; tok.num is its level */
	TK_ROLE,     /* interface letter M, C or D; tok.num is the role bit */
	TK_BOOL,     /* true/yes/false/no, any case; tok.num 1 or 0 */
	TK_TRI,      /* on/off/auto, any case; tok.num an enum conf_tristate */
	TK_IP,       /* a.b.c.d[:port]; tok.addr, tok.port (-1 if none) */
	TK_NUMBER,   /* 1 to 6 decimal digits; tok.num */
	TK_STRING,   /* a quoted string, or a bare word that is nothing else */
};

struct word {
	const char *name;
	enum tok_kind kind;
	uint32_t val;
};

/* Case-sensitive reserved words. A bare word equal to one of these is
 * that token, never a string; quoting it makes it a string (Q10). */
static const struct word words[] = {
	{ "Spread_Segment", TK_KEYWORD, KW_SEGMENT },
	{ "EventLogFile", TK_KEYWORD, KW_EVENTLOGFILE },
	{ "EventTimeStamp", TK_KEYWORD, KW_EVENTTIMESTAMP },
	{ "EventPreciseTimeStamp", TK_KEYWORD, KW_EVENTPRECISETIMESTAMP },
	{ "EventPriority", TK_KEYWORD, KW_EVENTPRIORITY },
	{ "DebugFlags", TK_KEYWORD, KW_DEBUGFLAGS },
	{ "DangerousMonitor", TK_KEYWORD, KW_DANGEROUSMONITOR },
	{ "SocketPortReuse", TK_KEYWORD, KW_SOCKETPORTREUSE },
	{ "DebugInitialSequence", TK_KEYWORD, KW_DEBUGINITIALSEQUENCE },
	{ "RuntimeDir", TK_KEYWORD, KW_RUNTIMEDIR },
	{ "DaemonUser", TK_KEYWORD, KW_DAEMONUSER },
	{ "DaemonGroup", TK_KEYWORD, KW_DAEMONGROUP },
	{ "RequiredAuthMethods", TK_KEYWORD, KW_REQUIREDAUTH },
	{ "AllowedAuthMethods", TK_KEYWORD, KW_ALLOWEDAUTH },
	{ "AccessControlPolicy", TK_KEYWORD, KW_ACCESSCONTROLPOLICY },
	{ "MaxSessionMessages", TK_KEYWORD, KW_MAXSESSIONMESSAGES },
	{ "LinkProtocol", TK_KEYWORD, KW_LINKPROTOCOL },
	{ "RouteMatrix", TK_KEYWORD, KW_ROUTEMATRIX },
	{ "Window", TK_KEYWORD, KW_WINDOW },
	{ "PersonalWindow", TK_KEYWORD, KW_PERSONALWINDOW },
	{ "AcceleratedRing", TK_KEYWORD, KW_ACCELERATEDRING },
	{ "AcceleratedWindow", TK_KEYWORD, KW_ACCELERATEDWINDOW },
	{ "TokenTimeout", TK_KEYWORD, KW_TOKENTIMEOUT },
	{ "HurryTimeout", TK_KEYWORD, KW_HURRYTIMEOUT },
	{ "AliveTimeout", TK_KEYWORD, KW_ALIVETIMEOUT },
	{ "JoinTimeout", TK_KEYWORD, KW_JOINTIMEOUT },
	{ "RepTimeout", TK_KEYWORD, KW_REPTIMEOUT },
	{ "SegTimeout", TK_KEYWORD, KW_SEGTIMEOUT },
	{ "GatherTimeout", TK_KEYWORD, KW_GATHERTIMEOUT },
	{ "FormTimeout", TK_KEYWORD, KW_FORMTIMEOUT },
	{ "LookupTimeout", TK_KEYWORD, KW_LOOKUPTIMEOUT },
	{ "MaxSessions", TK_KEYWORD, KW_MAXSESSIONS },
	{ "MaxSessionBytes", TK_KEYWORD, KW_MAXSESSIONBYTES },
	{ "UnixSocketDir", TK_KEYWORD, KW_UNIXSOCKETDIR },
	{ "RingTransport", TK_KEYWORD, KW_RINGTRANSPORT },
	{ "RingKeyFile", TK_KEYWORD, KW_RINGKEYFILE },
	{ "RingEncryption", TK_KEYWORD, KW_RINGENCRYPTION },
	{ "HmacSecretsFile", TK_KEYWORD, KW_HMACSECRETSFILE },
	{ "MaxSessionsPerIP", TK_KEYWORD, KW_MAXSESSIONSPERIP },
	{ "MaxAuthenticating", TK_KEYWORD, KW_MAXAUTHENTICATING },
	{ "HandshakeTimeout", TK_KEYWORD, KW_HANDSHAKETIMEOUT },
	{ "AccessRules", TK_KEYWORD, KW_ACCESSRULES },
	{ "TlsPort", TK_KEYWORD, KW_TLSPORT },
	{ "TlsCertificateFile", TK_KEYWORD, KW_TLSCERTIFICATEFILE },
	{ "TlsKeyFile", TK_KEYWORD, KW_TLSKEYFILE },
	{ "TlsClientCAFile", TK_KEYWORD, KW_TLSCLIENTCAFILE },
	{ "TlsClientVerify", TK_KEYWORD, KW_TLSCLIENTVERIFY },
	{ "Hop", TK_LINKPROT, 1 },
	{ "TcpHop", TK_LINKPROT, 2 },
	/* DebugFlags names in bit order; conf_print() relies on ALL and
	 * NONE coming last. */
	{ "DEBUG", TK_FLAG, 0x00000001u },
	{ "EXIT", TK_FLAG, 0x00000002u },
	{ "PRINT", TK_FLAG, 0x00000004u },
	{ "DATA_LINK", TK_FLAG, 0x00000010u },
	{ "NETWORK", TK_FLAG, 0x00000020u },
	{ "PROTOCOL", TK_FLAG, 0x00000040u },
	{ "SESSION", TK_FLAG, 0x00000080u },
	{ "CONFIGURATION", TK_FLAG, 0x00000100u },
	{ "MEMBERSHIP", TK_FLAG, 0x00000200u },
	{ "FLOW_CONTROL", TK_FLAG, 0x00000400u },
	{ "STATUS", TK_FLAG, 0x00000800u },
	{ "EVENTS", TK_FLAG, 0x00001000u },
	{ "GROUPS", TK_FLAG, 0x00002000u },
	{ "MEMORY", TK_FLAG, 0x00010000u },
	{ "SKIPLIST", TK_FLAG, 0x00200000u },
	{ "ACM", TK_FLAG, 0x00400000u },
	{ "SECURITY", TK_FLAG, 0x00800000u },
	{ "ALL", TK_FLAG, 0xffffffffu },
	{ "NONE", TK_FLAG, 0 },
	{ "pDEBUG", TK_PRIO, 1 },
	{ "INFO", TK_PRIO, 2 },
	{ "WARNING", TK_PRIO, 3 },
	{ "ERROR", TK_PRIO, 4 },
	{ "CRITICAL", TK_PRIO, 5 },
	{ "FATAL", TK_PRIO, 6 },
	{ "M", TK_ROLE, CONF_ROLE_MONITOR },
	{ "C", TK_ROLE, CONF_ROLE_CLIENT },
	{ "D", TK_ROLE, CONF_ROLE_DAEMON },
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

/* Case-insensitive values: booleans and three-valued settings. */
static const struct word ci_words[] = {
	{ "true", TK_BOOL, 1 }, { "yes", TK_BOOL, 1 },
	{ "false", TK_BOOL, 0 }, { "no", TK_BOOL, 0 },
	{ "on", TK_TRI, CONF_ON }, { "off", TK_TRI, CONF_OFF },
	{ "auto", TK_TRI, CONF_AUTO },
};
#define N_CI_WORDS (sizeof(ci_words) / sizeof(ci_words[0]))

/* All bits any single DebugFlags name sets, apart from ALL. */
#define NAMED_FLAG_BITS 0x00e13ff7u

static const char *const prio_names[] = {
	NULL, "pDEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "FATAL",
};

/* The name of a reserved word of the given kind and value, for messages
 * and for printing. */
static const char *word_name(enum tok_kind kind, uint32_t val)
{
	for (size_t i = 0; i < N_WORDS; i++)
		if (words[i].kind == kind && words[i].val == val)
			return words[i].name;
	return "?";
}

#define KW_NAME(kw) word_name(TK_KEYWORD, (uint32_t)(kw))

/* ---- Notes: keywords accepted but not implemented yet ---------------- */

enum note_id {
	NOTE_DANGEROUS_MONITOR, NOTE_DEBUG_INITIAL_SEQUENCE, NOTE_RUNTIME_DIR,
	NOTE_LINK_HOP, NOTE_LINK_TCPHOP,
	NOTE_ROUTE_MATRIX, NOTE_WINDOW, NOTE_PERSONAL_WINDOW,
	NOTE_ACCELERATED_WINDOW, NOTE_ACCELERATED_RING, NOTE_TIMEOUTS,
	NOTE_COUNT
};

/* One text per note; conf_print() recognises a note by its exact text,
 * so the notes array is also the record of which keywords were given. */
static const char *const note_text[NOTE_COUNT] = {
	"DangerousMonitor is accepted but has no effect: chorus-monitor only reads status",
	"DebugInitialSequence is accepted but has no effect (a Spread testing option)",
	"RuntimeDir holds only the ring's state file: chorusd does not chroot yet",
	"LinkProtocol = Hop is accepted but has no effect in chorusd",
	"LinkProtocol = TcpHop is accepted but has no effect in chorusd",
	"RouteMatrix is accepted but has no effect (Spread 4.4 ignores it too)",
	"Window applies to the ring: a segment of one daemon ignores it",
	"PersonalWindow applies to the ring: a segment of one daemon ignores it",
	"AcceleratedWindow applies to the ring: a segment of one daemon ignores it",
	"AcceleratedRing applies to the ring: a segment of one daemon ignores it",
	"of the nine membership timeouts the ring uses Token, Hurry, Join, Gather and Lookup; Alive, Rep, Seg and Form have no counterpart",
};

/* ---- Lexer ---------------------------------------------------------- */

#define TOK_MAX 512 /* longest token, terminator included */

struct token {
	enum tok_kind kind;
	int line;
	uint32_t num;
	uint32_t addr;
	int port;          /* TK_IP: -1 when no :port was written */
	size_t len;
	char text[TOK_MAX]; /* the word, without quotes; NUL-terminated */
};

struct parser {
	const char *text;
	size_t len, pos;
	int line;
	struct token tok; /* the current token (one token of lookahead) */
	struct conf *c;
	char *err;
	size_t errlen;

	/* What the file said so far, for the checks made at the end. */
	int auth_line;           /* last Allowed/RequiredAuthMethods, or 0 */
	int hmac_line;           /* HmacSecretsFile, or 0 */
	unsigned timeouts_seen;  /* bit i: keyword KW_TOKENTIMEOUT + i given */
	int timeouts_line;       /* first timeout keyword */
	int window_line, pwindow_line, awindow_line;
	int encryption_line;     /* RingEncryption, or 0 */
	int tls_line;            /* last Tls* keyword, or 0 */
	unsigned char noted[NOTE_COUNT];
};

/* Records "line N: <message>" in the caller's buffer and returns -1, so
 * that every error path reads `return fail(...)`. */
static int fail(struct parser *ps, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->err || ps->errlen == 0)
		return -1;
	n = snprintf(ps->err, ps->errlen, "line %d: ", line);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Writes a short printable rendering of the current token into buf, for
 * messages: the word in quotes, shortened, non-ASCII bytes as '?'. */
static const char *tok_desc(const struct token *t, char *buf, size_t size)
{
	size_t i, n = 0;

	if (t->kind == TK_EOF)
		return "the end of the file";
	if (size < 8)
		return "?";
	buf[n++] = '\'';
	for (i = 0; i < t->len && n < size - 6; i++) {
		unsigned char ch = (unsigned char)t->text[i];

		buf[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
		if (i == 40 && i + 1 < t->len) {
			memcpy(buf + n, "...", 3);
			n += 3;
			break;
		}
	}
	buf[n++] = '\'';
	buf[n] = 0;
	return buf;
}

/* The characters that end a bare word (Spread's string rule). */
static int is_sep(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
	       ch == '#' || ch == '{' || ch == '}';
}

/* Bytes refused outside comments: control characters other than tab,
 * CR and newline, and DEL. */
static int is_ctl(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') ||
	       ch == 0x7f;
}

/* Reads 1..max decimal digits at s[*i] (bounded by len) into *v.
 * Returns the number of digits, 0 if there are none or too many. */
static int digits(const char *s, size_t len, size_t *i, int max, uint32_t *v)
{
	int n = 0;

	*v = 0;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		if (++n > max)
			return 0;
		*v = *v * 10 + (uint32_t)(s[*i] - '0');
		(*i)++;
	}
	return n;
}

/* Classifies a whole word as an address: 0 if it does not have the shape
 * d.d.d.d[:p] (1-3 digits each, port 1-5 digits), 1 if it is a valid
 * address (filling addr and port), -1 if it has the shape but a value is
 * out of range (*bad says which). */
static int word_ip(const char *s, size_t len, uint32_t *addr, int *port,
		   uint32_t *bad)
{
	size_t i = 0;
	uint32_t v, a = 0;
	int out = 0;

	for (int k = 0; k < 4; k++) {
		if (k > 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
		if (!digits(s, len, &i, 3, &v))
			return 0;
		if (v > 255 && !out) {
			out = 1;
			*bad = v;
		}
		a = (a << 8) | (v & 0xff);
	}
	*port = -1;
	if (i < len && s[i] == ':') {
		i++;
		if (!digits(s, len, &i, 5, &v))
			return 0;
		if (v > 65535 && !out) {
			out = 2;
			*bad = v;
		}
		*port = (int)v;
	}
	if (i != len)
		return 0;
	*addr = a;
	return out ? -out : 1;
}

/* Gives a bare word its kind, as Spread's lexer would: the longest rule
 * wins and every special rule matches a whole word, so it is enough to
 * test the whole word against each in turn. */
static int classify(struct parser *ps, struct token *t)
{
	uint32_t bad = 0;
	size_t i = 0;
	int r;

	t->kind = TK_STRING;
	if (t->len == 1 && t->text[0] == '=') {
		t->kind = TK_EQUALS;
		return 0;
	}
	for (size_t k = 0; k < N_WORDS; k++)
		if (strcmp(t->text, words[k].name) == 0) {
			t->kind = words[k].kind;
			t->num = words[k].val;
			return 0;
		}
	for (size_t k = 0; k < N_CI_WORDS; k++)
		if (strcasecmp(t->text, ci_words[k].name) == 0) {
			t->kind = ci_words[k].kind;
			t->num = ci_words[k].val;
			return 0;
		}
	r = word_ip(t->text, t->len, &t->addr, &t->port, &bad);
	if (r == -1)
		return fail(ps, t->line, "invalid IP address '%s': %u is not in 0..255",
			    t->text, bad);
	if (r == -2)
		return fail(ps, t->line, "invalid IP address '%s': port %u is not in 0..65535",
			    t->text, bad);
	if (r == 1) {
		t->kind = TK_IP;
		return 0;
	}
	if (digits(t->text, t->len, &i, 6, &t->num) && i == t->len)
		t->kind = TK_NUMBER;
	return 0;
}

/* Reads the next token into ps->tok. Returns 0, or -1 on a lexical error
 * (control character, unterminated quote, over-long word, bad address). */
static int advance(struct parser *ps)
{
	struct token *t = &ps->tok;
	const char *s = ps->text;
	unsigned char ch;
	size_t start;

	t->len = 0;
	t->text[0] = 0;
	t->num = 0;
	for (;;) {
		if (ps->pos >= ps->len) {
			t->kind = TK_EOF;
			t->line = ps->line;
			return 0;
		}
		ch = (unsigned char)s[ps->pos];
		if (ch == '\n') {
			ps->line++;
			ps->pos++;
		} else if (ch == ' ' || ch == '\t' || ch == '\r') {
			ps->pos++;
		} else if (ch == '#') {
			while (ps->pos < ps->len && s[ps->pos] != '\n')
				ps->pos++;
		} else if (is_ctl(ch)) {
			return fail(ps, ps->line, "control character 0x%02x in the file",
				    ch);
		} else {
			break;
		}
	}
	t->line = ps->line;
	if (ch == '{' || ch == '}' || ch == '!') {
		t->kind = ch == '{' ? TK_LBRACE : ch == '}' ? TK_RBRACE : TK_BANG;
		t->text[0] = (char)ch;
		t->text[1] = 0;
		t->len = 1;
		ps->pos++;
		return 0;
	}
	if (ch == '"' || ch == '\'') {
		start = ++ps->pos;
		while (ps->pos < ps->len && s[ps->pos] != (char)ch) {
			unsigned char q = (unsigned char)s[ps->pos];

			if (q == '\n')
				break;
			if (is_ctl(q))
				return fail(ps, ps->line,
					    "control character 0x%02x in a quoted string", q);
			ps->pos++;
		}
		if (ps->pos >= ps->len || s[ps->pos] != (char)ch)
			return fail(ps, t->line,
				    "unterminated string: the closing %c is missing on this line",
				    ch);
		if (ps->pos - start >= TOK_MAX)
			return fail(ps, t->line, "string too long (at most %d characters)",
				    TOK_MAX - 1);
		t->len = ps->pos - start;
		memcpy(t->text, s + start, t->len);
		t->text[t->len] = 0;
		t->kind = TK_STRING;
		ps->pos++;
		if (ps->pos < ps->len && !is_sep((unsigned char)s[ps->pos]))
			return fail(ps, t->line,
				    "unexpected text right after the closing %c (leave a space)",
				    ch);
		return 0;
	}
	start = ps->pos;
	while (ps->pos < ps->len && !is_sep((unsigned char)s[ps->pos]) &&
	       !is_ctl((unsigned char)s[ps->pos]))
		ps->pos++;
	if (ps->pos - start >= TOK_MAX)
		return fail(ps, t->line, "word too long (at most %d characters)",
			    TOK_MAX - 1);
	t->len = ps->pos - start;
	memcpy(t->text, s + start, t->len);
	t->text[t->len] = 0;
	return classify(ps, t);
}

/* ---- Small helpers ---------------------------------------------------- */

/* Copies a string into a fixed field, zero-filling the whole field so that
 * two structs with equal contents are byte-equal (the print round trip). */
static void set_field(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memset(dst, 0, size);
	memcpy(dst, src, n);
}

/* Whether the current token is a reserved word, which would have been a
 * string had it been quoted. */
static int tok_reserved(const struct token *t)
{
	return t->kind == TK_KEYWORD || t->kind == TK_LINKPROT ||
	       t->kind == TK_FLAG || t->kind == TK_PRIO ||
	       t->kind == TK_ROLE || t->kind == TK_BOOL || t->kind == TK_TRI;
}

/* Fails with "expected <what> after <kw> =, found <token>". */
static int expected(struct parser *ps, int kw, const char *what)
{
	char d[64];

	return fail(ps, ps->tok.line, "expected %s after %s =, found %s", what,
		    KW_NAME(kw), tok_desc(&ps->tok, d, sizeof(d)));
}

/* Checks for '=' after a keyword and moves past it. */
static int expect_equals(struct parser *ps, int kw)
{
	char d[64];

	if (advance(ps))
		return -1;
	if (ps->tok.kind != TK_EQUALS)
		return fail(ps, ps->tok.line, "expected '=' after %s, found %s%s",
			    KW_NAME(kw), tok_desc(&ps->tok, d, sizeof(d)),
			    ps->tok.len > 0 && ps->tok.text[0] == '=' ?
			    " (put spaces around '=')" : "");
	return advance(ps);
}

/* Reads a string value into a field. Numbers and addresses written bare
 * count as text too (their digits are kept as written). */
static int value_string(struct parser *ps, int kw, char *dst, size_t size,
			int allow_empty)
{
	struct token *t = &ps->tok;

	char d[64];

	if (t->kind != TK_STRING && t->kind != TK_NUMBER && t->kind != TK_IP)
		return fail(ps, t->line, "expected a string after %s =, found %s%s",
			    KW_NAME(kw), tok_desc(t, d, sizeof(d)),
			    tok_reserved(t) ? " (a reserved word; quote it to use it as text)" : "");
	if (t->len >= size)
		return fail(ps, t->line, "%s value is too long (at most %zu characters)",
			    KW_NAME(kw), size - 1);
	if (t->len == 0 && !allow_empty)
		return fail(ps, t->line, "%s must not be empty", KW_NAME(kw));
	set_field(dst, size, t->text);
	return advance(ps);
}

/* Reads an absolute path, or "" (which means `empty`, for the message). */
static int value_abs_path(struct parser *ps, int kw, char *dst, size_t size,
			  const char *empty)
{
	int line = ps->tok.line;

	if (value_string(ps, kw, dst, size, 1))
		return -1;
	if (dst[0] && dst[0] != '/')
		return fail(ps, line, "%s must be an absolute path, or \"\" for %s",
			    KW_NAME(kw), empty);
	return 0;
}

/* Reads a Spread number (1 to 6 digits) in [min, max]. */
static int value_number(struct parser *ps, int kw, int min, int max, int *out)
{
	if (ps->tok.kind != TK_NUMBER)
		return expected(ps, kw, "a number of 1 to 6 digits");
	if (ps->tok.num < (uint32_t)min || ps->tok.num > (uint32_t)max)
		return fail(ps, ps->tok.line, "%s = %u is out of range (%d..%d)",
			    KW_NAME(kw), ps->tok.num, min, max);
	*out = (int)ps->tok.num;
	return advance(ps);
}

/* Reads a number of a chorusd keyword: any count of digits (the Spread
 * limit of six does not apply), optionally followed by K, M or G (binary
 * multiples) when `suffix` is set. The value must lie in [min, max]. */
static int value_big(struct parser *ps, int kw, int suffix, long long min,
		     long long max, long long *out)
{
	const struct token *t = &ps->tok;
	unsigned long long v = 0, mult = 1;
	size_t i;

	if (t->kind != TK_NUMBER && t->kind != TK_STRING)
		goto bad;
	for (i = 0; i < t->len && t->text[i] >= '0' && t->text[i] <= '9'; i++) {
		if (v > (unsigned long long)max)
			goto range; /* and stop before it can overflow */
		v = v * 10 + (unsigned)(t->text[i] - '0');
	}
	if (i == 0)
		goto bad;
	if (i + 1 == t->len && suffix) {
		switch (t->text[i]) {
		case 'k': case 'K': mult = 1ULL << 10; break;
		case 'm': case 'M': mult = 1ULL << 20; break;
		case 'g': case 'G': mult = 1ULL << 30; break;
		default: goto bad;
		}
	} else if (i != t->len) {
		goto bad;
	}
	if (v > (unsigned long long)max / mult)
		goto range;
	v *= mult;
	if (v < (unsigned long long)min)
		goto range;
	*out = (long long)v;
	return advance(ps);
bad:
	return expected(ps, kw, suffix ? "a number (with an optional K, M or G)" :
			"a number");
range:
	return fail(ps, t->line, "%s = %s is out of range (%lld..%lld)",
		    KW_NAME(kw), t->text, min, max);
}

/* ---- Segments and hosts ---------------------------------------------- */

/* Whether a segment address is on 127.0.0.0/8. */
static int is_loopback(uint32_t addr)
{
	return (addr >> 24) == 127;
}

/* Checks a daemon name: 1..19 characters, each one a private group name
 * may hold (0x24..0x7E), since clients see it in "#user#name". */
static int check_name(struct parser *ps, const struct token *t)
{
	char d[64];

	if (t->len == 0)
		return fail(ps, t->line, "empty host name");
	if (t->len > CONF_MAX_NAME)
		return fail(ps, t->line,
			    "host name %s is too long (%zu characters, at most %d)",
			    tok_desc(t, d, sizeof(d)), t->len, CONF_MAX_NAME);
	for (size_t i = 0; i < t->len; i++) {
		unsigned char ch = (unsigned char)t->text[i];

		if (ch < 0x24 || ch > 0x7e)
			return fail(ps, t->line,
				    "host name %s contains a character that cannot appear in a private group name (no spaces, '!', '\"', '#' or non-ASCII)",
				    tok_desc(t, d, sizeof(d)));
	}
	return 0;
}

/* Parses the `{ iface... }` block of host h; the current token is '{'. */
static int parse_ifaces(struct parser *ps, struct conf_host *h)
{
	int open_line = ps->tok.line;
	char d[64];

	if (advance(ps))
		return -1;
	while (ps->tok.kind != TK_RBRACE) {
		unsigned roles = 0;

		if (ps->tok.kind == TK_EOF)
			return fail(ps, ps->tok.line,
				    "missing '}' to close the interface block of host %s (opened on line %d)",
				    h->name, open_line);
		while (ps->tok.kind == TK_ROLE) {
			roles |= ps->tok.num;
			if (advance(ps))
				return -1;
		}
		if (ps->tok.kind != TK_IP)
			return fail(ps, ps->tok.line,
				    "expected an interface address (roles M, C, D, then a.b.c.d) in host %s, found %s",
				    h->name, tok_desc(&ps->tok, d, sizeof(d)));
		if (h->n_ifaces == CONF_MAX_IFACES)
			return fail(ps, ps->tok.line, "host %s has more than %d interfaces",
				    h->name, CONF_MAX_IFACES);
		h->ifaces[h->n_ifaces].addr = ps->tok.addr;
		h->ifaces[h->n_ifaces].roles = roles ? roles : CONF_ROLE_ALL;
		h->n_ifaces++;
		if (advance(ps))
			return -1;
	}
	if (h->n_ifaces == 0)
		return fail(ps, ps->tok.line,
			    "host %s has an empty interface block; list at least one address",
			    h->name);
	return advance(ps);
}

/* Parses one host entry of segment si; the current token is its name. */
static int parse_host(struct parser *ps, int si)
{
	struct conf *c = ps->c;
	struct conf_host *h;
	int line = ps->tok.line;

	if (check_name(ps, &ps->tok))
		return -1;
	if (conf_find_host(c, ps->tok.text) >= 0)
		return fail(ps, line, "host name '%s' is used twice", ps->tok.text);
	if (c->n_hosts == CONF_MAX_HOSTS)
		return fail(ps, line, "too many hosts (at most %d)", CONF_MAX_HOSTS);
	h = &c->hosts[c->n_hosts];
	memset(h, 0, sizeof(*h));
	set_field(h->name, sizeof(h->name), ps->tok.text);
	h->segment = si;
	if (advance(ps))
		return -1;
	if (ps->tok.kind == TK_IP) {
		/* A port written here is ignored: every host uses its
		 * segment's port, as in Spread. */
		if (ps->tok.addr == 0)
			return fail(ps, ps->tok.line,
				    "host %s: 0.0.0.0 is not a host address", h->name);
		h->addr = ps->tok.addr;
		if (advance(ps))
			return -1;
	} else {
		h->dns = 1;
	}
	if (ps->tok.kind == TK_LBRACE && parse_ifaces(ps, h))
		return -1;
	for (int i = 0; !h->dns && i < c->n_hosts; i++)
		if (!c->hosts[i].dns && c->hosts[i].addr == h->addr)
			return fail(ps, line, "host %s has the same address as host %s",
				    h->name, c->hosts[i].name);
	c->n_hosts++;
	c->segments[si].n_hosts++;
	return 0;
}

/* Parses `Spread_Segment ADDR { host... }`. */
static int parse_segment(struct parser *ps)
{
	struct conf *c = ps->c;
	struct conf_segment *seg;
	int line = ps->tok.line, si = c->n_segments;
	char d[64];

	if (advance(ps))
		return -1;
	if (ps->tok.kind != TK_IP)
		return fail(ps, ps->tok.line,
			    "expected the segment address (a.b.c.d or a.b.c.d:port) after Spread_Segment, found %s",
			    tok_desc(&ps->tok, d, sizeof(d)));
	if (si == CONF_MAX_SEGMENTS)
		return fail(ps, line, "too many segments (at most %d)", CONF_MAX_SEGMENTS);
	if (ps->tok.port == 0 || ps->tok.port > 65533)
		return fail(ps, ps->tok.line,
			    "segment port %d is out of range: the daemon also uses the two ports above it, so it must be 1..65533",
			    ps->tok.port);
	seg = &c->segments[si];
	memset(seg, 0, sizeof(*seg));
	seg->addr = ps->tok.addr;
	seg->port = ps->tok.port < 0 ? CONF_DEFAULT_PORT : (uint16_t)ps->tok.port;
	seg->first_host = c->n_hosts;
	for (int i = 0; i < si; i++) {
		if (is_loopback(c->segments[i].addr) != is_loopback(seg->addr))
			return fail(ps, line,
				    "a loopback (127.x.x.x) segment cannot be mixed with other segments");
		if (c->segments[i].addr == seg->addr && c->segments[i].port == seg->port)
			return fail(ps, line, "segment %s is listed twice", ps->tok.text);
	}
	if (advance(ps))
		return -1;
	if (ps->tok.kind != TK_LBRACE)
		return fail(ps, ps->tok.line, "expected '{' after the segment address, found %s",
			    tok_desc(&ps->tok, d, sizeof(d)));
	c->n_segments++;
	if (advance(ps))
		return -1;
	while (ps->tok.kind != TK_RBRACE) {
		if (ps->tok.kind == TK_EOF)
			return fail(ps, ps->tok.line,
				    "missing '}' to close the Spread_Segment of line %d", line);
		if (ps->tok.kind != TK_STRING)
			return fail(ps, ps->tok.line, "expected a host name or '}', found %s%s",
				    tok_desc(&ps->tok, d, sizeof(d)),
				    tok_reserved(&ps->tok) ?
				    " (a host named like a reserved word must be quoted)" : "");
		if (parse_host(ps, si))
			return -1;
	}
	return advance(ps);
}

/* Parses `RouteMatrix { cost... }`. The costs are not stored: neither
 * Spread 4.4 nor chorusd uses them. */
static int parse_route_matrix(struct parser *ps)
{
	int line = ps->tok.line;
	char d[64];

	if (advance(ps))
		return -1;
	if (ps->tok.kind != TK_LBRACE)
		return fail(ps, ps->tok.line, "expected '{' after RouteMatrix, found %s",
			    tok_desc(&ps->tok, d, sizeof(d)));
	if (advance(ps))
		return -1;
	while (ps->tok.kind == TK_NUMBER)
		if (advance(ps))
			return -1;
	if (ps->tok.kind == TK_EOF)
		return fail(ps, ps->tok.line, "missing '}' to close the RouteMatrix of line %d",
			    line);
	if (ps->tok.kind != TK_RBRACE)
		return fail(ps, ps->tok.line, "RouteMatrix holds only link costs (numbers), found %s",
			    tok_desc(&ps->tok, d, sizeof(d)));
	ps->noted[NOTE_ROUTE_MATRIX] = 1;
	return advance(ps);
}

/* ---- Parameters -------------------------------------------------------- */

/* Parses `DebugFlags = { [!]FLAG... }`. The mask starts empty and each
 * name adds (or with '!' removes) its bits, left to right. */
static int parse_debug_flags(struct parser *ps)
{
	uint32_t mask = 0;
	int line = ps->tok.line;
	char d[64];

	if (expect_equals(ps, KW_DEBUGFLAGS))
		return -1;
	if (ps->tok.kind != TK_LBRACE)
		return expected(ps, KW_DEBUGFLAGS, "'{'");
	if (advance(ps))
		return -1;
	while (ps->tok.kind != TK_RBRACE) {
		int neg = 0;

		if (ps->tok.kind == TK_BANG) {
			neg = 1;
			if (advance(ps))
				return -1;
		}
		if (ps->tok.kind == TK_EOF)
			return fail(ps, ps->tok.line,
				    "missing '}' to close the DebugFlags of line %d", line);
		if (ps->tok.kind != TK_FLAG)
			return fail(ps, ps->tok.line, "unknown debug flag %s",
				    tok_desc(&ps->tok, d, sizeof(d)));
		mask = neg ? mask & ~ps->tok.num : mask | ps->tok.num;
		if (advance(ps))
			return -1;
	}
	ps->c->debug_flags = mask;
	return advance(ps);
}

/* Applies an AllowedAuthMethods or RequiredAuthMethods list. As in
 * Spread, the first of either keyword turns the default NULL method off;
 * it stays on only if a list names it. */
static int parse_auth(struct parser *ps, int kw)
{
	struct conf *c = ps->c;
	const struct token *t = &ps->tok;
	unsigned set = 0;
	size_t i = 0;

	if (expect_equals(ps, kw))
		return -1;
	if (t->kind != TK_STRING)
		return expected(ps, kw, "a quoted list of methods");
	while (i < t->len) {
		size_t j = i;

		while (j < t->len && t->text[j] != ' ' && t->text[j] != '\t')
			j++;
		if (j == i + 4 && memcmp(t->text + i, "NULL", 4) == 0)
			set |= CONF_AUTH_NULL;
		else if (j == i + 2 && memcmp(t->text + i, "IP", 2) == 0)
			set |= CONF_AUTH_IP;
		else if (j == i + 4 && memcmp(t->text + i, "HMAC", 4) == 0)
			set |= CONF_AUTH_HMAC;
		else if (j == i + 5 && memcmp(t->text + i, "PWORD", 5) == 0)
			return fail(ps, t->line,
				    "the PWORD authentication method is not supported by chorusd");
		else if (j > i)
			return fail(ps, t->line,
				    "unknown authentication method '%.*s' (chorusd knows NULL, IP and HMAC)",
				    (int)(j - i > 40 ? 40 : j - i), t->text + i);
		i = j + 1;
	}
	if (!ps->auth_line)
		c->allowed_auth &= ~CONF_AUTH_NULL;
	ps->auth_line = t->line;
	if (kw == KW_ALLOWEDAUTH)
		c->allowed_auth |= set;
	else
		c->required_auth |= set;
	return advance(ps);
}

/* Parses `AccessRules { rule... }` (authz.h). Each rule is a verdict,
 * an action, a group pattern and a WHO word with its argument, if any;
 * line breaks do not matter. Rules add to those of an earlier block. */
static int parse_access_rules(struct parser *ps)
{
	struct conf *c = ps->c;
	int line = ps->tok.line;
	char d[64];

	if (advance(ps))
		return -1;
	if (ps->tok.kind != TK_LBRACE)
		return fail(ps, ps->tok.line, "expected '{' after AccessRules, found %s",
			    tok_desc(&ps->tok, d, sizeof(d)));
	if (advance(ps))
		return -1;
	while (ps->tok.kind != TK_RBRACE) {
		char wbuf[5][TOK_MAX], msg[160];
		const char *w[5];
		int n = 0, want = 4, rline = ps->tok.line;

		while (n < want) {
			const struct token *t = &ps->tok;

			if (t->kind == TK_EOF)
				return fail(ps, t->line,
					    "missing '}' to close the AccessRules of line %d",
					    line);
			if (t->kind != TK_STRING && t->kind != TK_NUMBER &&
			    t->kind != TK_IP)
				return fail(ps, t->line,
					    "unexpected %s in an access rule%s",
					    tok_desc(t, d, sizeof(d)),
					    tok_reserved(t) ?
					    " (a reserved word; quote it to use it as a name)" : "");
			memcpy(wbuf[n], t->text, t->len + 1);
			w[n] = wbuf[n];
			if (n == 3 && authz_who_args(w[3]) > 0)
				want = 5;
			n++;
			if (advance(ps))
				return -1;
		}
		if (c->access_rules.n == AUTHZ_MAX_RULES)
			return fail(ps, rline, "too many access rules (at most %d)",
				    AUTHZ_MAX_RULES);
		if (authz_rule_parse(w, n, &c->access_rules.r[c->access_rules.n],
				     msg, sizeof(msg)) != 0)
			return fail(ps, rline, "%s", msg);
		c->access_rules.n++;
	}
	return advance(ps);
}

/* The nine membership timeouts; must match KW_TOKENTIMEOUT.. order. */
static int *timeout_field(struct conf *c, int i)
{
	int *const f[9] = {
		&c->token_timeout_ms, &c->hurry_timeout_ms, &c->alive_timeout_ms,
		&c->join_timeout_ms, &c->rep_timeout_ms, &c->seg_timeout_ms,
		&c->gather_timeout_ms, &c->form_timeout_ms, &c->lookup_timeout_ms,
	};

	return f[i];
}

/* Parses one statement that starts with a parameter keyword (the current
 * token). Returns with the token after the statement current. */
static int parse_param(struct parser *ps, int kw)
{
	struct conf *c = ps->c;
	long long big;
	char d[64];

	switch (kw) {
	case KW_EVENTTIMESTAMP:
		/* Either bare (default format) or `= "format"`. */
		if (advance(ps))
			return -1;
		c->event_timestamp = 1;
		if (ps->tok.kind != TK_EQUALS) {
			set_field(c->event_timestamp_fmt, sizeof(c->event_timestamp_fmt),
				  CONF_DEFAULT_TS_FMT);
			return 0;
		}
		if (advance(ps))
			return -1;
		return value_string(ps, kw, c->event_timestamp_fmt,
				    sizeof(c->event_timestamp_fmt), 0);
	case KW_EVENTPRECISETIMESTAMP:
		/* As in Spread, this alone turns timestamps on. */
		c->event_timestamp = 1;
		c->event_precise_timestamp = 1;
		return advance(ps);
	case KW_DEBUGINITIALSEQUENCE:
		c->debug_initial_sequence = 1;
		ps->noted[NOTE_DEBUG_INITIAL_SEQUENCE] = 1;
		return advance(ps);
	case KW_DEBUGFLAGS:
		return parse_debug_flags(ps);
	case KW_ALLOWEDAUTH:
	case KW_REQUIREDAUTH:
		return parse_auth(ps, kw);
	case KW_ACCESSRULES:
		return parse_access_rules(ps);
	default:
		break;
	}

	if (expect_equals(ps, kw))
		return -1;
	switch (kw) {
	case KW_EVENTLOGFILE:
		return value_string(ps, kw, c->event_log_file,
				    sizeof(c->event_log_file), 1);
	case KW_EVENTPRIORITY:
		if (ps->tok.kind != TK_PRIO)
			return expected(ps, kw,
					"a priority (pDEBUG, INFO, WARNING, ERROR, CRITICAL or FATAL)");
		c->event_priority = (int)ps->tok.num;
		return advance(ps);
	case KW_DANGEROUSMONITOR:
		if (ps->tok.kind != TK_BOOL)
			return expected(ps, kw, "true, yes, false or no");
		c->dangerous_monitor = (int)ps->tok.num;
		ps->noted[NOTE_DANGEROUS_MONITOR] = 1;
		return advance(ps);
	case KW_SOCKETPORTREUSE:
		if (ps->tok.kind != TK_TRI)
			return expected(ps, kw, "on, off or auto");
		c->socket_port_reuse = (enum conf_tristate)ps->tok.num;
		return advance(ps);
	case KW_RUNTIMEDIR:
		ps->noted[NOTE_RUNTIME_DIR] = 1;
		return value_string(ps, kw, c->runtime_dir, sizeof(c->runtime_dir), 0);
	case KW_DAEMONUSER:
		return value_string(ps, kw, c->daemon_user, sizeof(c->daemon_user), 0);
	case KW_DAEMONGROUP:
		return value_string(ps, kw, c->daemon_group, sizeof(c->daemon_group), 0);
	case KW_ACCESSCONTROLPOLICY:
		if (ps->tok.kind != TK_STRING)
			return expected(ps, kw, "a policy name");
		if (strcmp(ps->tok.text, "PERMIT") != 0)
			return fail(ps, ps->tok.line,
				    "unknown access control policy %s (chorusd has only PERMIT)",
				    tok_desc(&ps->tok, d, sizeof(d)));
		set_field(c->access_control_policy, sizeof(c->access_control_policy),
			  "PERMIT");
		return advance(ps);
	case KW_MAXSESSIONMESSAGES:
		return value_number(ps, kw, 1, 999999, &c->max_session_messages);
	case KW_LINKPROTOCOL:
		if (ps->tok.kind != TK_LINKPROT)
			return expected(ps, kw, "Hop or TcpHop");
		ps->noted[NOTE_LINK_HOP] = ps->tok.num == 1;
		ps->noted[NOTE_LINK_TCPHOP] = ps->tok.num == 2;
		return advance(ps);
	case KW_WINDOW:
		ps->noted[NOTE_WINDOW] = 1;
		ps->window_line = ps->tok.line;
		return value_number(ps, kw, 1, 999999, &c->window);
	case KW_PERSONALWINDOW:
		ps->noted[NOTE_PERSONAL_WINDOW] = 1;
		ps->pwindow_line = ps->tok.line;
		return value_number(ps, kw, 1, 999999, &c->personal_window);
	case KW_ACCELERATEDWINDOW:
		ps->noted[NOTE_ACCELERATED_WINDOW] = 1;
		ps->awindow_line = ps->tok.line;
		return value_number(ps, kw, 0, 999999, &c->accelerated_window);
	case KW_ACCELERATEDRING:
		if (ps->tok.kind != TK_BOOL)
			return expected(ps, kw, "true, yes, false or no");
		c->accelerated_ring = (int)ps->tok.num;
		ps->noted[NOTE_ACCELERATED_RING] = 1;
		return advance(ps);
	case KW_TOKENTIMEOUT: case KW_HURRYTIMEOUT: case KW_ALIVETIMEOUT:
	case KW_JOINTIMEOUT: case KW_REPTIMEOUT: case KW_SEGTIMEOUT:
	case KW_GATHERTIMEOUT: case KW_FORMTIMEOUT: case KW_LOOKUPTIMEOUT:
		if (!ps->timeouts_seen)
			ps->timeouts_line = ps->tok.line;
		ps->timeouts_seen |= 1u << (kw - KW_TOKENTIMEOUT);
		ps->noted[NOTE_TIMEOUTS] = 1;
		return value_number(ps, kw, 1, 999999,
				    timeout_field(c, kw - KW_TOKENTIMEOUT));
	case KW_MAXSESSIONS:
		if (value_big(ps, kw, 0, 1, 1000000, &big))
			return -1;
		c->max_sessions = (int)big;
		return 0;
	case KW_MAXSESSIONBYTES:
		if (value_big(ps, kw, 1, SESSION_BYTES_MIN, SESSION_BYTES_MAX, &big))
			return -1;
		c->max_session_bytes = (long)big;
		return 0;
	case KW_UNIXSOCKETDIR: {
		int line = ps->tok.line;

		if (value_abs_path(ps, kw, c->unix_socket_dir,
				   sizeof(c->unix_socket_dir), "no Unix socket"))
			return -1;
		/* Room for "/<port>" and the terminator in sun_path. */
		if (strlen(c->unix_socket_dir) > SUN_PATH_ROOM - 7)
			return fail(ps, line,
				    "UnixSocketDir is too long for a socket path (at most %d characters)",
				    SUN_PATH_ROOM - 7);
		return 0;
	}
	case KW_RINGTRANSPORT: {
		static const char *const modes[] = { "auto", "broadcast",
						     "multicast", "unicast" };

		for (int i = 0; i < 4; i++) {
			if ((ps->tok.kind == TK_TRI && ps->tok.num == CONF_AUTO &&
			     i == 0) ||
			    (ps->tok.kind == TK_STRING &&
			     strcmp(ps->tok.text, modes[i]) == 0)) {
				c->ring_transport = (enum conf_transport)i;
				return advance(ps);
			}
		}
		return expected(ps, kw, "auto, broadcast, multicast or unicast");
	}
	case KW_RINGKEYFILE:
		return value_abs_path(ps, kw, c->ring_key_file,
				      sizeof(c->ring_key_file), "datagrams in clear");
	case KW_RINGENCRYPTION:
		ps->encryption_line = ps->tok.line;
		/* no/false, yes/true (AES-256-GCM), or a cipher's name. */
		if (ps->tok.kind == TK_BOOL) {
			c->ring_encryption = ps->tok.num ? CONF_RING_ENC_AES_GCM
							 : CONF_RING_ENC_NONE;
			return advance(ps);
		}
		for (int i = 0; i < 3; i++)
			if (ps->tok.kind == TK_STRING &&
			    strcmp(ps->tok.text, conf_ring_enc_names[i]) == 0) {
				c->ring_encryption = (enum conf_ring_enc)i;
				return advance(ps);
			}
		return expected(ps, kw, "no, yes, aes-256-gcm or chacha20-poly1305");
	case KW_HMACSECRETSFILE:
		ps->hmac_line = ps->tok.line;
		return value_string(ps, kw, c->hmac_secrets_file,
				    sizeof(c->hmac_secrets_file), 0);
	case KW_MAXSESSIONSPERIP:
		if (value_big(ps, kw, 0, 0, 1000000, &big))
			return -1;
		c->max_sessions_per_ip = (int)big;
		return 0;
	case KW_MAXAUTHENTICATING:
		if (value_big(ps, kw, 0, 1, 100000, &big))
			return -1;
		c->max_authenticating = (int)big;
		return 0;
	case KW_HANDSHAKETIMEOUT:
		if (value_big(ps, kw, 0, 100, 600000, &big))
			return -1;
		c->handshake_timeout_ms = (int)big;
		return 0;
	case KW_TLSPORT:
		ps->tls_line = ps->tok.line;
		if (value_big(ps, kw, 0, 0, 65535, &big))
			return -1;
		c->tls_port = (uint16_t)big;
		return 0;
	case KW_TLSCERTIFICATEFILE:
	case KW_TLSKEYFILE:
	case KW_TLSCLIENTCAFILE: {
		char *f = kw == KW_TLSCERTIFICATEFILE ? c->tls_cert_file :
			  kw == KW_TLSKEYFILE ? c->tls_key_file :
			  c->tls_client_ca_file;

		ps->tls_line = ps->tok.line;
		return value_string(ps, kw, f, CONF_PATH_MAX, 1);
	}
	case KW_TLSCLIENTVERIFY:
		ps->tls_line = ps->tok.line;
		for (int i = 0; i < 3; i++) {
			if (ps->tok.kind == TK_STRING &&
			    strcmp(ps->tok.text, conf_tls_verify_names[i]) == 0) {
				c->tls_client_verify = (enum conf_tls_verify)i;
				return advance(ps);
			}
		}
		return expected(ps, kw, "none, optional or required");
	default:
		return fail(ps, ps->tok.line, "internal error: keyword %d", kw);
	}
}

/* The checks that need the whole file; then the notes, in a fixed order
 * so that the print round trip gives an identical array. */
static int finish(struct parser *ps)
{
	struct conf *c = ps->c;
	int eof_line = ps->line;

	/* The last line of the file, not the empty one after its newline. */
	if (eof_line > 1 && ps->len > 0 && ps->text[ps->len - 1] == '\n')
		eof_line--;

	if (ps->timeouts_seen && ps->timeouts_seen != 0x1ffu) {
		char missing[200];
		size_t n = 0;

		missing[0] = 0;
		for (int i = 0; i < 9; i++)
			if (!(ps->timeouts_seen & (1u << i)) && n < sizeof(missing))
				n += (size_t)snprintf(missing + n, sizeof(missing) - n,
						      "%s%s", n ? ", " : "",
						      KW_NAME(KW_TOKENTIMEOUT + i));
		return fail(ps, ps->timeouts_line,
			    "the nine membership timeouts must be given together or not at all; missing: %s",
			    missing);
	}
	c->timeouts_set = ps->timeouts_seen != 0;
	if (c->personal_window > c->window)
		return fail(ps, ps->pwindow_line > ps->window_line ? ps->pwindow_line :
			    ps->window_line,
			    "PersonalWindow (%d) must not exceed Window (%d)",
			    c->personal_window, c->window);
	if (c->accelerated_window > c->personal_window)
		return fail(ps, ps->awindow_line > ps->pwindow_line ? ps->awindow_line :
			    ps->pwindow_line,
			    "AcceleratedWindow (%d) must not exceed PersonalWindow (%d)",
			    c->accelerated_window, c->personal_window);
	if (c->allowed_auth == 0)
		return fail(ps, ps->auth_line,
			    "no authentication method is allowed, so every client would be refused; list one in AllowedAuthMethods (the first Allowed/RequiredAuthMethods turns NULL off)");
	if (c->ring_encryption != CONF_RING_ENC_NONE && !c->ring_key_file[0])
		return fail(ps, ps->encryption_line,
			    "RingEncryption needs a RingKeyFile (the shared keys)");
	if (((c->allowed_auth | c->required_auth) & CONF_AUTH_HMAC) &&
	    !c->hmac_secrets_file[0])
		return fail(ps, ps->auth_line,
			    "the HMAC authentication method needs HmacSecretsFile (the principals and their secrets)");
	if (c->hmac_secrets_file[0] &&
	    !((c->allowed_auth | c->required_auth) & CONF_AUTH_HMAC))
		return fail(ps, ps->hmac_line,
			    "HmacSecretsFile is set but HMAC is not in AllowedAuthMethods or RequiredAuthMethods");
	if (c->tls_port && (!c->tls_cert_file[0] || !c->tls_key_file[0]))
		return fail(ps, ps->tls_line,
			    "TlsPort needs TlsCertificateFile and TlsKeyFile");
	if (c->tls_client_verify != CONF_TLS_VERIFY_NONE &&
	    !c->tls_client_ca_file[0])
		return fail(ps, ps->tls_line,
			    "TlsClientVerify = %s needs TlsClientCAFile (the CAs that sign client certificates)",
			    conf_tls_verify_names[c->tls_client_verify]);
	if (c->n_hosts == 0)
		return fail(ps, eof_line,
			    "no daemon is configured: add a Spread_Segment with at least one host");
	c->n_notes = 0;
	for (int i = 0; i < NOTE_COUNT; i++)
		if (ps->noted[i])
			set_field(c->notes[c->n_notes++], sizeof(c->notes[0]),
				  note_text[i]);
	return 0;
}

/* ---- Public functions -------------------------------------------------- */

/* Defaults of every field (conf.h); the whole struct is zeroed first so
 * that padding compares equal too. */
void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->debug_flags = 0x6; /* PRINT | EXIT */
	c->event_priority = 2;
	set_field(c->event_timestamp_fmt, sizeof(c->event_timestamp_fmt),
		  CONF_DEFAULT_TS_FMT);
	c->socket_port_reuse = CONF_AUTO;
	set_field(c->runtime_dir, sizeof(c->runtime_dir), "/var/run/spread");
	/* No DaemonUser: chorusd keeps the user it was started as (dpriv.c). */
	c->daemon_user[0] = 0;
	c->daemon_group[0] = 0;
	c->allowed_auth = CONF_AUTH_NULL;
	c->required_auth = 0;
	set_field(c->access_control_policy, sizeof(c->access_control_policy),
		  "PERMIT");
	c->max_session_messages = 1000;
	c->window = 160;
	c->personal_window = 20;
	c->accelerated_window = 15;
	c->accelerated_ring = -1;
	c->max_sessions = 16384;
	c->max_session_bytes = 64L * 1024 * 1024;
	set_field(c->unix_socket_dir, sizeof(c->unix_socket_dir), "/tmp");
	c->max_sessions_per_ip = 1024;
	c->max_authenticating = 1024;
	c->handshake_timeout_ms = 1000;
}

/* FNV-1a, 32 bits. */
static uint32_t fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Parses the text into c (conf.h). Drives the statement loop; errors
 * come back from the parse functions already formatted in err. */
int conf_parse(const char *text, size_t len, struct conf *c, char *err,
	       size_t errlen)
{
	struct parser ps;
	char d[64];

	conf_defaults(c);
	memset(&ps, 0, sizeof(ps));
	ps.text = text;
	ps.len = text ? len : 0;
	ps.line = 1;
	ps.c = c;
	ps.err = err;
	ps.errlen = errlen;
	if (err && errlen)
		err[0] = 0;
	if (advance(&ps))
		return -1;
	while (ps.tok.kind != TK_EOF) {
		int kw = (int)ps.tok.num, r;

		if (ps.tok.kind != TK_KEYWORD) {
			/* Help with the likely slips: a keyword in the wrong
			 * case, or "Key=value" written without spaces. */
			for (size_t i = 0; ps.tok.kind == TK_STRING && i < N_WORDS; i++)
				if (words[i].kind == TK_KEYWORD &&
				    strcasecmp(ps.tok.text, words[i].name) == 0)
					return fail(&ps, ps.tok.line,
						    "unknown keyword %s (keywords are case-sensitive: %s)",
						    tok_desc(&ps.tok, d, sizeof(d)), words[i].name);
			if (ps.tok.kind == TK_STRING)
				return fail(&ps, ps.tok.line, "unknown keyword %s%s",
					    tok_desc(&ps.tok, d, sizeof(d)),
					    strchr(ps.tok.text, '=') ?
					    " (put spaces around '=')" : "");
			return fail(&ps, ps.tok.line, "expected a keyword, found %s",
				    tok_desc(&ps.tok, d, sizeof(d)));
		}
		if (kw == KW_SEGMENT)
			r = parse_segment(&ps);
		else if (kw == KW_ROUTEMATRIX)
			r = parse_route_matrix(&ps);
		else
			r = parse_param(&ps, kw);
		if (r)
			return -1;
	}
	if (finish(&ps))
		return -1;
	c->hash = fnv1a(text, ps.len);
	return 0;
}

/* Reads a whole file of at most CONF_FILE_MAX bytes into a fresh buffer.
 * Returns 0, or -1 with errno set; the caller frees *buf. */
static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	size_t n = 0, cap = 4096;
	char *b = NULL, *nb;
	int saved;

	if (!fp)
		return -1;
	for (;;) {
		if (!(nb = realloc(b, cap)))
			goto fail;
		b = nb;
		n += fread(b + n, 1, cap - n, fp);
		if (n < cap)
			break;
		if (cap >= CONF_FILE_MAX + 1) {
			errno = EFBIG;
			goto fail;
		}
		cap *= 2;
		if (cap > CONF_FILE_MAX + 1)
			cap = CONF_FILE_MAX + 1;
	}
	if (ferror(fp))
		goto fail;
	fclose(fp);
	*buf = b;
	*len = n;
	return 0;
fail:
	saved = errno ? errno : EIO;
	free(b);
	fclose(fp);
	errno = saved;
	return -1;
}

/* Formats a conf_load() error into the caller's buffer, if there is one. */
static void load_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void load_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Reads, parses and then resolves the hosts given without an address
 * (conf.h). Errors are prefixed with the path. */
int conf_load(const char *path, struct conf *c, char *err, size_t errlen)
{
	char msg[256];
	char *text = NULL;
	size_t len;
	int rc = -1;

	if (read_file(path, &text, &len)) {
		load_err(err, errlen, "%s: %s", path, strerror(errno));
		conf_defaults(c);
		return -1;
	}
	if (conf_parse(text, len, c, msg, sizeof(msg))) {
		load_err(err, errlen, "%s: %s", path, msg);
		goto out;
	}
	/* Hosts written without an address get theirs from DNS now. */
	for (int i = 0; i < c->n_hosts; i++) {
		struct conf_host *h = &c->hosts[i];
		struct addrinfo hints, *res = NULL;
		int e;

		if (!h->dns)
			continue;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_INET;
		hints.ai_socktype = SOCK_DGRAM;
		e = getaddrinfo(h->name, NULL, &hints, &res);
		if (e != 0 || !res) {
			load_err(err, errlen,
				 "%s: host %s has no address in the file and its name does not resolve: %s",
				 path, h->name, e ? gai_strerror(e) : "no IPv4 address");
			goto out;
		}
		h->addr = ntohl(((const struct sockaddr_in *)(const void *)
				 res->ai_addr)->sin_addr.s_addr);
		freeaddrinfo(res);
		if (h->addr == 0) {
			load_err(err, errlen, "%s: host %s resolves to 0.0.0.0", path,
				 h->name);
			goto out;
		}
		for (int j = 0; j < c->n_hosts; j++)
			if (j != i && (!c->hosts[j].dns || j < i) &&
			    c->hosts[j].addr == h->addr) {
				load_err(err, errlen,
					 "%s: host %s resolves to the address of host %s",
					 path, h->name, c->hosts[j].name);
				goto out;
			}
	}
	rc = 0;
out:
	free(text);
	return rc;
}

/* Index of the host named `name`, or -1 (conf.h). */
int conf_find_host(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->n_hosts && i < CONF_MAX_HOSTS; i++)
		if (strncmp(c->hosts[i].name, name, sizeof(c->hosts[i].name)) == 0)
			return i;
	return -1;
}

/* Port of the host's segment, or 0 for an index out of range (conf.h). */
uint16_t conf_host_port(const struct conf *c, int host)
{
	int s;

	if (host < 0 || host >= c->n_hosts || host >= CONF_MAX_HOSTS)
		return 0;
	s = c->hosts[host].segment;
	if (s < 0 || s >= c->n_segments || s >= CONF_MAX_SEGMENTS)
		return 0;
	return c->segments[s].port;
}

/* ---- Printing ---------------------------------------------------------- */

/* Whether note `id` is among c's notes, that is, whether its keyword was
 * in the file. */
static int has_note(const struct conf *c, int id)
{
	for (int i = 0; i < c->n_notes && i < CONF_MAX_NOTES; i++)
		if (strncmp(c->notes[i], note_text[id], sizeof(c->notes[i])) == 0)
			return 1;
	return 0;
}

/* Prints a string value so the lexer reads it back unchanged: in double
 * quotes, else in single quotes; a value holding both kinds of quote can
 * only have come from a bare word, which prints bare. */
static void print_str(FILE *fp, const char *s);

/* DaemonUser and DaemonGroup: a comment when not given. */
static void print_user(FILE *fp, const char *kw, const char *v,
		       const char *unset)
{
	if (!v[0]) {
		fprintf(fp, "# %s: not set; %s\n", kw, unset);
		return;
	}
	fprintf(fp, "%s = ", kw);
	print_str(fp, v);
	fputc('\n', fp);
}

static void print_str(FILE *fp, const char *s)
{
	if (!strchr(s, '"'))
		fprintf(fp, "\"%s\"", s);
	else if (!strchr(s, '\''))
		fprintf(fp, "'%s'", s);
	else
		fputs(s, fp);
}

/* Prints a host name bare when the lexer would read it back as a plain
 * string, and quoted otherwise (reserved words, numbers, addresses). */
static void print_name(FILE *fp, const char *s)
{
	struct parser ps;
	size_t n = strlen(s);
	int bare = n > 0 && n < TOK_MAX && s[0] != '!' && s[0] != '"' &&
		   s[0] != '\'';

	for (size_t i = 0; bare && i < n; i++)
		if (is_sep((unsigned char)s[i]) || is_ctl((unsigned char)s[i]))
			bare = 0;
	if (bare) {
		memset(&ps, 0, sizeof(ps));
		memcpy(ps.tok.text, s, n + 1);
		ps.tok.len = n;
		bare = classify(&ps, &ps.tok) == 0 && ps.tok.kind == TK_STRING;
	}
	if (bare)
		fputs(s, fp);
	else
		print_str(fp, s);
}

static void print_ip(FILE *fp, uint32_t a)
{
	fprintf(fp, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
		a & 0xff);
}

/* Prints a DebugFlags mask as names that rebuild it exactly. Bits no
 * single name covers can only come from ALL, so they are all set or all
 * clear; when set, the mask is ALL minus the named bits it lacks. */
static void print_flags(FILE *fp, uint32_t mask)
{
	int from_all = (mask & ~NAMED_FLAG_BITS) != 0;

	fputs("DebugFlags = {", fp);
	if (from_all)
		fputs(" ALL", fp);
	for (size_t i = 0; i < N_WORDS; i++) {
		uint32_t bit = words[i].val;

		if (words[i].kind != TK_FLAG || bit == 0 || bit == 0xffffffffu)
			continue;
		if (from_all && !(mask & bit))
			fprintf(fp, " !%s", words[i].name);
		else if (!from_all && (mask & bit))
			fprintf(fp, " %s", words[i].name);
	}
	fputs(" }\n", fp);
}

static void print_auth(FILE *fp, const char *kw, unsigned set)
{
	static const char *const names[] = { "NULL", "IP", "HMAC" };
	const char *sep = "";

	fprintf(fp, "%s = \"", kw);
	for (unsigned i = 0; i < 3; i++)
		if (set & (1u << i)) {
			fprintf(fp, "%s%s", sep, names[i]);
			sep = " ";
		}
	fputs("\"\n", fp);
}

/* Prints `Key = value` when the keyword was in the file (its note is
 * present), else the value as a comment. */
static void print_noted_int(FILE *fp, const struct conf *c, int note,
			    const char *kw, int v)
{
	fprintf(fp, "%s%s = %d\n", has_note(c, note) ? "" : "# ", kw, v);
}

/* Prints the TLS listener's keywords; an unset path prints as a comment
 * (the parser reads "" the same way). */
static void print_tls(FILE *fp, const struct conf *c)
{
	const struct {
		const char *kw;
		const char *v;
	} files[3] = {
		{ "TlsCertificateFile", c->tls_cert_file },
		{ "TlsKeyFile", c->tls_key_file },
		{ "TlsClientCAFile", c->tls_client_ca_file },
	};

	fprintf(fp, "%sTlsPort = %u\n", c->tls_port ? "" : "# ", c->tls_port);
	for (int i = 0; i < 3; i++) {
		if (!files[i].v[0]) {
			fprintf(fp, "# %s: not set\n", files[i].kw);
			continue;
		}
		fprintf(fp, "%s = ", files[i].kw);
		print_str(fp, files[i].v);
		fputc('\n', fp);
	}
	fprintf(fp, "TlsClientVerify = %s\n",
		conf_tls_verify_names[c->tls_client_verify <= CONF_TLS_VERIFY_REQUIRED ?
				      c->tls_client_verify : 0]);
}

/* Prints c as a configuration file (conf.h): segments, then every
 * setting. Keywords that add a note print only when their note is
 * present, so that the printout gives back the same notes; the others
 * always print, defaults included, to show the effective setting. */
void conf_print(const struct conf *c, FILE *fp)
{
	static const char *const tri[] = { "off", "on", "auto" };
	int ns = c->n_segments, nh = c->n_hosts;

	if (ns < 0 || ns > CONF_MAX_SEGMENTS)
		ns = 0;
	if (nh < 0 || nh > CONF_MAX_HOSTS)
		nh = 0;
	fprintf(fp, "# spread.conf as chorusd reads it (hash of the source text: 0x%08x)\n\n",
		c->hash);
	for (int s = 0; s < ns; s++) {
		const struct conf_segment *seg = &c->segments[s];

		fputs("Spread_Segment ", fp);
		print_ip(fp, seg->addr);
		fprintf(fp, ":%u {\n", seg->port);
		for (int i = seg->first_host; i >= 0 && i < nh &&
		     i < seg->first_host + seg->n_hosts; i++) {
			const struct conf_host *h = &c->hosts[i];
			int nif = h->n_ifaces < 0 || h->n_ifaces > CONF_MAX_IFACES ?
				  0 : h->n_ifaces;

			fputc('\t', fp);
			print_name(fp, h->name);
			if (!h->dns) {
				fputc(' ', fp);
				print_ip(fp, h->addr);
			} else if (h->addr) {
				fputs(" # resolved to ", fp);
				print_ip(fp, h->addr);
			}
			if (nif > 0) {
				fputs(h->dns && h->addr ? "\n\t{\n" : " {\n", fp);
				for (int k = 0; k < nif; k++) {
					unsigned r = h->ifaces[k].roles;

					fputs("\t\t", fp);
					if (r != CONF_ROLE_ALL)
						fprintf(fp, "%s%s%s", r & CONF_ROLE_MONITOR ? "M " : "",
							r & CONF_ROLE_CLIENT ? "C " : "",
							r & CONF_ROLE_DAEMON ? "D " : "");
					print_ip(fp, h->ifaces[k].addr);
					fputc('\n', fp);
				}
				fputs("\t}", fp);
			}
			fputc('\n', fp);
		}
		fputs("}\n\n", fp);
	}

	fputs("# Logging\n", fp);
	print_flags(fp, c->debug_flags);
	fprintf(fp, "EventPriority = %s\n",
		c->event_priority >= 1 && c->event_priority <= 6 ?
		prio_names[c->event_priority] : "INFO");
	if (c->event_log_file[0]) {
		fputs("EventLogFile = ", fp);
		print_str(fp, c->event_log_file);
		fputc('\n', fp);
	} else {
		fputs("# EventLogFile: not set; events go to standard output\n", fp);
	}
	if (c->event_timestamp) {
		fputs("EventTimeStamp = ", fp);
		print_str(fp, c->event_timestamp_fmt);
		fputc('\n', fp);
	} else {
		fputs("# EventTimeStamp: off\n", fp);
	}
	if (c->event_precise_timestamp)
		fputs("EventPreciseTimeStamp\n", fp);

	fputs("\n# Daemon\n", fp);
	fprintf(fp, "SocketPortReuse = %s\n",
		c->socket_port_reuse <= CONF_AUTO ? tri[c->socket_port_reuse] : "auto");
	print_auth(fp, "AllowedAuthMethods", c->allowed_auth);
	print_auth(fp, "RequiredAuthMethods", c->required_auth);
	fputs("AccessControlPolicy = PERMIT\n", fp);
	fprintf(fp, "MaxSessionMessages = %d\n", c->max_session_messages);
	fprintf(fp, "%sDangerousMonitor = %s\n",
		has_note(c, NOTE_DANGEROUS_MONITOR) ? "" : "# ",
		c->dangerous_monitor ? "true" : "false");
	if (has_note(c, NOTE_DEBUG_INITIAL_SEQUENCE))
		fputs("DebugInitialSequence\n", fp);
	fprintf(fp, "%sRuntimeDir = ", has_note(c, NOTE_RUNTIME_DIR) ? "" : "# ");
	print_str(fp, c->runtime_dir);
	fputc('\n', fp);
	print_user(fp, "DaemonUser", c->daemon_user,
		   "chorusd keeps the user it starts as");
	print_user(fp, "DaemonGroup", c->daemon_group,
		   "the login group of DaemonUser");
	if (has_note(c, NOTE_LINK_HOP))
		fputs("LinkProtocol = Hop\n", fp);
	if (has_note(c, NOTE_LINK_TCPHOP))
		fputs("LinkProtocol = TcpHop\n", fp);
	if (has_note(c, NOTE_ROUTE_MATRIX))
		fputs("RouteMatrix { }\n", fp);

	fputs("\n# Ring (used by a segment of several daemons)\n", fp);
	print_noted_int(fp, c, NOTE_WINDOW, "Window", c->window);
	print_noted_int(fp, c, NOTE_PERSONAL_WINDOW, "PersonalWindow",
			c->personal_window);
	print_noted_int(fp, c, NOTE_ACCELERATED_WINDOW, "AcceleratedWindow",
			c->accelerated_window);
	if (has_note(c, NOTE_ACCELERATED_RING))
		fprintf(fp, "AcceleratedRing = %s\n", c->accelerated_ring ? "yes" : "no");
	else
		fputs("# AcceleratedRing: chosen automatically\n", fp);
	if (c->timeouts_set) {
		const int v[9] = {
			c->token_timeout_ms, c->hurry_timeout_ms, c->alive_timeout_ms,
			c->join_timeout_ms, c->rep_timeout_ms, c->seg_timeout_ms,
			c->gather_timeout_ms, c->form_timeout_ms, c->lookup_timeout_ms,
		};

		for (int i = 0; i < 9; i++)
			fprintf(fp, "%s = %d\n", KW_NAME(KW_TOKENTIMEOUT + i), v[i]);
	} else {
		fputs("# TokenTimeout .. LookupTimeout: not set; the ring's defaults apply\n",
		      fp);
	}

	fputs("\n# Chorus extensions\n", fp);
	fprintf(fp, "MaxSessions = %d\n", c->max_sessions);
	if (c->max_session_bytes > 0 && c->max_session_bytes % (1L << 30) == 0)
		fprintf(fp, "MaxSessionBytes = %ldG\n", c->max_session_bytes >> 30);
	else if (c->max_session_bytes > 0 && c->max_session_bytes % (1L << 20) == 0)
		fprintf(fp, "MaxSessionBytes = %ldM\n", c->max_session_bytes >> 20);
	else if (c->max_session_bytes > 0 && c->max_session_bytes % (1L << 10) == 0)
		fprintf(fp, "MaxSessionBytes = %ldK\n", c->max_session_bytes >> 10);
	else
		fprintf(fp, "MaxSessionBytes = %ld\n", c->max_session_bytes);
	fputs("UnixSocketDir = ", fp);
	print_str(fp, c->unix_socket_dir);
	fputc('\n', fp);
	fprintf(fp, "RingTransport = %s\n", conf_transport_names[c->ring_transport]);
	if (c->ring_key_file[0]) {
		fputs("RingKeyFile = ", fp);
		print_str(fp, c->ring_key_file);
		fputc('\n', fp);
	} else {
		fputs("# RingKeyFile: not set; ring datagrams travel in clear\n", fp);
	}
	fprintf(fp, "RingEncryption = %s\n", conf_ring_enc_names[c->ring_encryption]);

	fputs("\n# Security\n", fp);
	if (c->hmac_secrets_file[0]) {
		fputs("HmacSecretsFile = ", fp);
		print_str(fp, c->hmac_secrets_file);
		fputc('\n', fp);
	}
	fprintf(fp, "MaxSessionsPerIP = %d\n", c->max_sessions_per_ip);
	fprintf(fp, "MaxAuthenticating = %d\n", c->max_authenticating);
	fprintf(fp, "HandshakeTimeout = %d\n", c->handshake_timeout_ms);
	if (c->access_rules.n > 0 && c->access_rules.n <= AUTHZ_MAX_RULES) {
		char rule[AUTHZ_FORMAT_MAX];

		fputs("AccessRules {\n", fp);
		for (int i = 0; i < c->access_rules.n; i++) {
			authz_rule_format(&c->access_rules.r[i], rule);
			fprintf(fp, "\t%s\n", rule);
		}
		fputs("}\n", fp);
	} else {
		fputs("# AccessRules: none; every client may join and send to every group\n",
		      fp);
	}
	print_tls(fp, c);
}

const char *const conf_tls_verify_names[3] = { "none", "optional",
						"required" };

const char *const conf_transport_names[4] = { "auto", "broadcast",
					      "multicast", "unicast" };
const char *const conf_ring_enc_names[3] = { "none", "aes-256-gcm",
					     "chacha20-poly1305" };
