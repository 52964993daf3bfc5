/*
 * test_auth.c - authentication, authorisation and the handshake limits of
 * chorusd, end to end with real daemons on loopback: the HMAC method
 * accepted and refused (wrong secret, unknown principal, replayed answer,
 * malformed or missing answer), old clients where NULL is or is not
 * allowed, key files others may read, the access rules for join and send
 * (refused frames come back as reject frames and reach no one),
 * MaxSessionsPerIP and MaxAuthenticating. Every refusal is checked to
 * leave the other sessions undisturbed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chorus.h"
#include "integration/harness.h"
#include "proto/auth_hmac.h"
#include "proto/wire.h"
#include "sp.h"
#include "t.h"

#define SECRET_MIRROR "00112233445566778899aabbccddeeff"
#define SECRET_LOGGER "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define SECRET_OTHER "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"

/* Files of one test: the daemon's secrets and the clients' keys. */
struct keys {
	char dir[64];
	char secrets[128], mirror[128], logger[128], wrong[128], stranger[128];
	char conf[512]; /* configuration lines naming the secrets file */
};

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	T_ASSERTF(fp != NULL, "%s: %s", path, strerror(errno));
	fputs(text, fp);
	fclose(fp);
	T_EQ(chmod(path, mode), 0);
}

static void keys_make(struct keys *k, const char *auth_lines)
{
	snprintf(k->dir, sizeof(k->dir), "/tmp/chorus-keys-XXXXXX");
	T_ASSERT(mkdtemp(k->dir) != NULL);
	snprintf(k->secrets, sizeof(k->secrets), "%s/secrets", k->dir);
	snprintf(k->mirror, sizeof(k->mirror), "%s/mirror.key", k->dir);
	snprintf(k->logger, sizeof(k->logger), "%s/logger.key", k->dir);
	snprintf(k->wrong, sizeof(k->wrong), "%s/wrong.key", k->dir);
	snprintf(k->stranger, sizeof(k->stranger), "%s/stranger.key", k->dir);
	write_file(k->secrets,
		   "# principals of the test\n"
		   "mirror-1 " SECRET_MIRROR "\n"
		   "\n"
		   "logger-1\t" SECRET_LOGGER "\n", 0600);
	write_file(k->mirror, "mirror-1 " SECRET_MIRROR "\n", 0600);
	write_file(k->logger, "logger-1 " SECRET_LOGGER "\n", 0400);
	write_file(k->wrong, "mirror-1 " SECRET_OTHER "\n", 0600);
	write_file(k->stranger, "stranger " SECRET_MIRROR "\n", 0600);
	snprintf(k->conf, sizeof(k->conf), "%s\nHmacSecretsFile = \"%s\"\n",
		 auth_lines, k->secrets);
}

static void keys_remove(struct keys *k)
{
	const char *f[] = { k->secrets, k->mirror, k->logger, k->wrong, k->stranger };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		unlink(f[i]);
	rmdir(k->dir);
}

/* The NULL method, registered by hand: what a client of the original
 * library does. */
static int null_auth(int fd, void *data)
{
	(void)fd;
	(void)data;
	return 1;
}

/* SP_connect with the HMAC key in `key` (NULL: the process's methods as
 * they are). Returns the code; *mbox on success. */
static int hmac_connect(const struct hd *d, const char *key, const char *name,
			mailbox *mbox, char *pg)
{
	char err[256];

	if (key)
		T_ASSERTF(chorus_set_auth_hmac(key, err, sizeof(err)) == 0, "%s", err);
	return SP_connect(d->tcp_addr, name, 0, 1, mbox, pg);
}

/* Receives until a message of one of the `want` service bits; returns
 * its service type and copies the data. */
static service recv_until(mailbox m, service want, char *data, int cap,
			  char *group0)
{
	for (int i = 0; i < 50; i++) {
		service st = 0;
		char sender[MAX_GROUP_NAME], groups[8][MAX_GROUP_NAME];
		int16 mt;
		int ng, endian, r;

		r = SP_receive(m, &st, sender, 8, &ng, groups, &mt, &endian, cap, data);
		T_ASSERTF(r >= 0, "SP_receive: %d", r);
		if (r < cap)
			data[r] = 0;
		if (st & want) {
			if (group0)
				memcpy(group0, ng > 0 ? groups[0] : "", MAX_GROUP_NAME);
			return st;
		}
	}
	t_fail(__FILE__, __LINE__, "service %#x never came", (unsigned)want);
}

/* 1 if nothing is pending on m within ms. */
static int quiet(mailbox m, int ms)
{
	struct pollfd p = { m, POLLIN, 0 };

	return SP_poll(m) == 0 && poll(&p, 1, ms) == 0;
}

static void join_wait(mailbox m, const char *group)
{
	char data[512];

	T_EQ(SP_join(m, group), 0);
	T_ASSERT(recv_until(m, REG_MEMB_MESS, data, sizeof(data), NULL) &
		 CAUSED_BY_JOIN);
}

static void send_to(mailbox m, const char *group, const char *text)
{
	T_EQ(SP_multicast(m, AGREED_MESS, group, 1, (int)strlen(text), text),
	     (int)strlen(text));
}

/* ---- HMAC ---------------------------------------------------------- */

static void hmac_accepted(void)
{
	struct keys k;
	struct hd d;
	mailbox a, b;
	char pg[MAX_GROUP_NAME], data[256];

	keys_make(&k, "AllowedAuthMethods = \"NULL HMAC\"");
	hd_start(&d, k.conf);
	/* Through the environment variable, the way the tools use it (the
	 * program has not chosen methods itself)... */
	T_EQ(setenv(CHORUS_HMAC_KEY_ENV, k.logger, 1), 0);
	T_EQ(hmac_connect(&d, NULL, "logger", &b, pg), ACCEPT_SESSION);
	/* ...and through the call, which takes precedence. */
	T_EQ(hmac_connect(&d, k.mirror, "mirror", &a, pg), ACCEPT_SESSION);
	join_wait(b, "jigdo");
	send_to(a, "jigdo", "hello");
	recv_until(b, AGREED_MESS, data, sizeof(data), NULL);
	T_STREQ(data, "hello");
	/* The Unix socket speaks HMAC too. */
	SP_disconnect(a);
	T_EQ(SP_connect(d.unix_addr, "u", 0, 0, &a, pg), ACCEPT_SESSION);
	SP_disconnect(a);
	SP_disconnect(b);
	T_ASSERT(!hd_log_has(&d, "refused"));
	hd_stop(&d);
	keys_remove(&k);
}

/* SIGHUP reads HmacSecretsFile again: a principal added is let in, one
 * removed is refused, an open session stays; a file that fails its
 * checks keeps the principals loaded before. */
static void hmac_secrets_reload(void)
{
	struct keys k;
	struct hd d;
	mailbox a, b;
	char pg[MAX_GROUP_NAME];

	keys_make(&k, "AllowedAuthMethods = \"HMAC\"");
	hd_start(&d, k.conf);
	T_EQ(hmac_connect(&d, k.mirror, "m1", &a, pg), ACCEPT_SESSION);
	T_EQ(hmac_connect(&d, k.stranger, "s1", &b, pg), REJECT_AUTH);
	/* The mirror's principal goes, the stranger's comes. */
	write_file(k.secrets, "logger-1 " SECRET_LOGGER "\nstranger " SECRET_MIRROR "\n",
		   0600);
	hd_kill(&d, SIGHUP);
	T_ASSERTF(hd_wait_log(&d, "SIGHUP: HMAC authentication: 2 principals", 5000),
		  "no reload logged (%s)", d.log);
	T_EQ(hmac_connect(&d, k.stranger, "s2", &b, pg), ACCEPT_SESSION);
	SP_disconnect(b);
	T_EQ(hmac_connect(&d, k.mirror, "m2", &b, pg), REJECT_AUTH);
	/* A file others may read is refused: the two principals stay. */
	T_EQ(chmod(k.secrets, 0644), 0);
	hd_kill(&d, SIGHUP);
	T_ASSERTF(hd_wait_log(&d, "keeping the 2 principals loaded before", 5000),
		  "no refusal logged");
	T_EQ(hmac_connect(&d, k.logger, "l1", &b, pg), ACCEPT_SESSION);
	SP_disconnect(b);
	/* The session opened before any reload is still there. */
	T_EQ(SP_join(a, "g"), 0);
	SP_disconnect(a);
	hd_stop(&d);
	keys_remove(&k);
}

/* Wrong secret and unknown principal: REJECT_AUTH, logged with the
 * principal, and an open session goes on as if nothing happened. */
static void hmac_refused(void)
{
	struct keys k;
	struct hd d;
	mailbox a, x;
	char pg[MAX_GROUP_NAME], data[256];

	keys_make(&k, "AllowedAuthMethods = \"HMAC\"");
	hd_start(&d, k.conf);
	T_EQ(hmac_connect(&d, k.logger, "logger", &a, pg), ACCEPT_SESSION);
	join_wait(a, "g");
	T_EQ(hmac_connect(&d, k.wrong, "w", &x, pg), REJECT_AUTH);
	T_ASSERT(hd_wait_log(&d, "wrong secret for principal 'mirror-1'", 5000));
	T_EQ(hmac_connect(&d, k.stranger, "s", &x, pg), REJECT_AUTH);
	T_ASSERT(hd_wait_log(&d, "unknown principal 'stranger'", 5000));
	/* The name of a refused client is free again at once. */
	T_EQ(hmac_connect(&d, k.mirror, "w", &x, pg), ACCEPT_SESSION);
	send_to(x, "g", "after");
	T_EQ(recv_until(a, AGREED_MESS, data, sizeof(data), NULL) & AGREED_MESS,
	     AGREED_MESS);
	T_STREQ(data, "after");
	SP_disconnect(x);
	SP_disconnect(a);
	hd_stop(&d);
	keys_remove(&k);
}

/* Where NULL is not allowed, a client of the original library (which
 * registers NULL) is refused with REJECT_AUTH, whether it has the method
 * exchange (4.x) or not (3.15); where it is allowed, it gets in. */
static void old_clients(void)
{
	struct keys k;
	struct hd d;
	mailbox a, x;
	uint8_t req[16], b[128], choice[90] = "NULL";
	char pg[MAX_GROUP_NAME], data[64];
	int fd;

	keys_make(&k, "AllowedAuthMethods = \"HMAC\"");
	hd_start(&d, k.conf);
	T_EQ(hmac_connect(&d, k.logger, "logger", &a, pg), ACCEPT_SESSION);
	join_wait(a, "g");
	/* The library's default registry (NULL) is not in the list. */
	T_EQ(SP_set_auth_method("NULL", null_auth, NULL), 1);
	T_EQ(SP_connect(d.tcp_addr, "old", 0, 0, &x, pg), REJECT_AUTH);
	/* A raw 4.4 client that sends its NULL choice anyway. */
	fd = raw_tcp(&d);
	raw_send(fd, req, wire_connreq_encode(req, "old", 0, 0));
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ(b[0], 5);
	T_EQ(raw_recv(fd, b, 5, 2000), 5);
	T_MEMEQ(b, "HMAC ", 5);
	raw_send(fd, choice, 90);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ((int8_t)b[0], REJECT_AUTH);
	T_ASSERT(raw_wait_closed(fd, 2000));
	close(fd);
	/* A 3.15 library has no method exchange at all. */
	fd = raw_tcp(&d);
	raw_send(fd, (const uint8_t[]){ 3, 15, 0, 0, 4, 'o', 'l', 'd', '3' }, 9);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ((int8_t)b[0], REJECT_AUTH);
	close(fd);
	T_ASSERT(hd_wait_log(&d, "HMAC", 1000));
	/* The open session was not disturbed. */
	T_EQ(hmac_connect(&d, k.mirror, "m", &x, pg), ACCEPT_SESSION);
	send_to(x, "g", "still here");
	recv_until(a, AGREED_MESS, data, sizeof(data), NULL);
	T_STREQ(data, "still here");
	SP_disconnect(x);
	SP_disconnect(a);
	hd_stop(&d);

	/* NULL and HMAC allowed: the old clients get in. */
	snprintf(k.conf, sizeof(k.conf),
		 "AllowedAuthMethods = \"NULL HMAC\"\nHmacSecretsFile = \"%s\"\n",
		 k.secrets);
	hd_start(&d, k.conf);
	fd = raw_tcp(&d);
	T_EQ(raw_connect(fd, "old", 0, (char *)b), 1);
	close(fd);
	fd = raw_tcp(&d);
	raw_send(fd, (const uint8_t[]){ 3, 15, 0, 0, 4, 'o', 'l', 'd', '3' }, 9);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ(b[0], 1);
	close(fd);
	hd_stop(&d);

	/* HMAC required: a client that chooses only NULL is refused. */
	snprintf(k.conf, sizeof(k.conf),
		 "AllowedAuthMethods = \"NULL\"\nRequiredAuthMethods = \"HMAC\"\n"
		 "HmacSecretsFile = \"%s\"\n", k.secrets);
	hd_start(&d, k.conf);
	fd = raw_tcp(&d);
	T_EQ(raw_connect(fd, "old", 0, (char *)b), REJECT_AUTH);
	close(fd);
	T_ASSERT(hd_wait_log(&d, "HMAC is required but the client did not choose it",
			     2000));
	T_EQ(hmac_connect(&d, k.mirror, "m", &x, pg), ACCEPT_SESSION);
	SP_disconnect(x);
	hd_stop(&d);
	keys_remove(&k);
}

/* Runs the method exchange by hand up to the challenge. */
static int raw_challenge(const struct hd *d, const char *name,
			 struct auth_hmac_challenge *ch)
{
	uint8_t req[16], b[128], choice[90] = AUTH_HMAC_NAME;
	int fd = raw_tcp(d), n;

	raw_send(fd, req, wire_connreq_encode(req, name, 0, 0));
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ(raw_recv(fd, b + 1, b[0], 2000), b[0]);
	raw_send(fd, choice, 90);
	n = (int)raw_recv(fd, b, 1 + AUTH_HMAC_NONCE_LEN + 2 + 9 + strlen(name), 2000);
	T_EQ(auth_hmac_challenge_parse(b, (size_t)n, ch), n);
	T_STREQ(ch->daemon, "localhost");
	T_STREQ(ch->private_name, name);
	return fd;
}

/* SECRET_MIRROR as bytes. */
static const uint8_t secret[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
	0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

/* Answers challenge ch on fd as mirror-1, computed here; returns the
 * daemon's verdict byte and closes fd. */
static int raw_answer(int fd, const struct auth_hmac_challenge *ch)
{
	struct auth_hmac_response r;
	uint8_t out[AUTH_HMAC_RESPONSE_MAX], b[1];

	memset(&r, 0, sizeof(r));
	strcpy(r.principal, "mirror-1");
	T_EQ(auth_hmac_compute(secret, sizeof(secret), ch, r.principal, r.mac), 0);
	raw_send(fd, out, auth_hmac_response_encode(out, &r));
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	close(fd);
	return (int8_t)b[0];
}

/* Answers that must fail: replayed from another connection, made for
 * another private name, malformed, cut short; each gets REJECT_AUTH. */
static void hmac_exchange_attacks(void)
{
	struct auth_hmac_challenge ch, ch2;
	struct auth_hmac_response r;
	struct keys k;
	struct hd d;
	uint8_t out[AUTH_HMAC_RESPONSE_MAX], b[64];
	size_t n;
	int fd;

	keys_make(&k, "AllowedAuthMethods = \"HMAC\"\nHandshakeTimeout = 500");
	hd_start(&d, k.conf);
	/* A correct answer, computed here, gets in. */
	fd = raw_challenge(&d, "ok", &ch);
	memset(&r, 0, sizeof(r));
	strcpy(r.principal, "mirror-1");
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &ch, r.principal, r.mac), 0);
	raw_send(fd, out, auth_hmac_response_encode(out, &r));
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ(b[0], 1);
	close(fd);
	/* A good answer to one challenge, replayed on a new connection with
	 * the same private name, meets a new nonce and is refused. */
	fd = raw_challenge(&d, "again", &ch);
	T_EQ(auth_hmac_compute(secret, sizeof(secret), &ch, r.principal, r.mac), 0);
	n = auth_hmac_response_encode(out, &r);
	/* Once the daemon has closed its end, the name is free again. */
	shutdown(fd, SHUT_WR);
	T_ASSERT(raw_wait_closed(fd, 2000));
	close(fd);
	fd = raw_challenge(&d, "again", &ch2);
	T_ASSERT(memcmp(ch.nonce, ch2.nonce, sizeof(ch.nonce)) != 0);
	raw_send(fd, out, n);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ((int8_t)b[0], REJECT_AUTH);
	close(fd);
	/* Computed for another private name. */
	fd = raw_challenge(&d, "p1", &ch);
	strcpy(ch.private_name, "p2");
	T_EQ(raw_answer(fd, &ch), REJECT_AUTH);
	/* Malformed: a bad version byte, a principal with a space. */
	fd = raw_challenge(&d, "p3", &ch);
	raw_send(fd, "\x02\x01x", 3);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ((int8_t)b[0], REJECT_AUTH);
	close(fd);
	fd = raw_challenge(&d, "p4", &ch);
	raw_send(fd, "\x01\x03a b", 5);
	T_EQ(raw_recv(fd, b, 1, 2000), 1);
	T_EQ((int8_t)b[0], REJECT_AUTH);
	close(fd);
	/* Cut short: refused when HandshakeTimeout (500 ms) runs out. */
	fd = raw_challenge(&d, "p5", &ch);
	raw_send(fd, "\x01\x08mirror-1", 10);
	T_EQ(raw_recv(fd, b, 1, 3000), 1);
	T_EQ((int8_t)b[0], REJECT_AUTH);
	close(fd);
	T_ASSERT(hd_wait_log(&d, "malformed response", 1000));
	hd_stop(&d);
	keys_remove(&k);
}

/* A private name is reserved only once its client has authenticated: a
 * connection stuck before or in the exchange does not keep the client
 * that owns the name out. Among authenticated clients the name stays
 * unique (REJECT_NOT_UNIQUE), also for one that authenticates after the
 * name was taken during its exchange. */
static void name_reserved_after_auth(void)
{
	struct auth_hmac_challenge ch;
	struct keys k;
	struct hd d;
	mailbox a, x;
	uint8_t req[16], b[64];
	char pg[MAX_GROUP_NAME];
	int hello_only, in_exchange;

	keys_make(&k, "AllowedAuthMethods = \"HMAC\"");
	hd_start(&d, k.conf);
	/* One squatter stops after the method list, one holds a challenge. */
	hello_only = raw_tcp(&d);
	raw_send(hello_only, req, wire_connreq_encode(req, "logger", 0, 0));
	T_EQ(raw_recv(hello_only, b, 1, 2000), 1);
	in_exchange = raw_challenge(&d, "logger", &ch);
	/* The owner of the name gets in. */
	T_EQ(hmac_connect(&d, k.logger, "logger", &a, pg), ACCEPT_SESSION);
	T_STREQ(pg, "#logger#localhost");
	/* A second authenticated client with the name is refused. */
	T_EQ(hmac_connect(&d, k.mirror, "logger", &x, pg), REJECT_NOT_UNIQUE);
	/* The one in the exchange answers correctly, but the name is taken
	 * by now. */
	T_EQ(raw_answer(in_exchange, &ch), REJECT_NOT_UNIQUE);
	close(hello_only);
	/* The session that holds the name is undisturbed. */
	join_wait(a, "g");
	send_to(a, "g", "still here");
	SP_disconnect(a);
	hd_stop(&d);
	keys_remove(&k);
}

/* Key files others may read, or that are malformed, are refused with a
 * clear message: by the daemon at startup, by the library at once. */
/* Runs chorusd on conf, which must fail at startup; returns the last
 * line it printed (the reason it stopped; warnings may come before, such
 * as the allocator's under the sanitizers) in line. */
static void daemon_run(const char *opts, const char *conf, const char *out,
		       char *line, size_t cap, int fails)
{
	char cmd[1024], buf[1024];
	FILE *fp;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' %s -c '%s' -n localhost > '%s' 2>&1",
		 hd_daemon_path(), opts, conf, out);
	st = system(cmd);
	T_ASSERTF(WIFEXITED(st) && (WEXITSTATUS(st) != 0) == fails,
		  "chorusd %s: status %d", opts, st);
	fp = fopen(out, "r");
	T_ASSERT(fp != NULL);
	line[0] = 0;
	while (fgets(buf, sizeof(buf), fp))
		snprintf(line, cap, "%s", buf);
	fclose(fp);
	T_ASSERT(line[0] != 0);
}

static void daemon_fails(const char *conf, const char *out, char *line, size_t cap)
{
	daemon_run("", conf, out, line, cap, 1);
}

static void key_file_checks(void)
{
	struct keys k;
	struct hd d;
	mailbox m;
	char conf[256], path[300], err[256], line[1024];
	FILE *fp;

	keys_make(&k, "AllowedAuthMethods = \"HMAC\"");
	T_EQ(chmod(k.mirror, 0640), 0);
	T_EQ(chorus_set_auth_hmac(k.mirror, err, sizeof(err)), REJECT_AUTH);
	T_ASSERTF(strstr(err, "group or others have access (mode 0640)") != NULL,
		  "%s", err);
	write_file(k.wrong, "mirror-1 0011\n", 0600);
	T_EQ(chorus_set_auth_hmac(k.wrong, err, sizeof(err)), REJECT_AUTH);
	T_ASSERTF(strstr(err, "line 1: the secret must be 16 to 64 bytes") != NULL,
		  "%s", err);
	T_EQ(chorus_set_auth_hmac("/nonexistent/key", err, sizeof(err)), REJECT_AUTH);
	T_ASSERT(strstr(err, "No such file") != NULL);
	/* The environment variable with a bad file: SP_connect refuses. */
	hd_start(&d, k.conf);
	T_EQ(setenv(CHORUS_HMAC_KEY_ENV, k.mirror, 1), 0);
	T_EQ(SP_connect(d.tcp_addr, "e", 0, 0, &m, NULL), REJECT_AUTH);
	T_EQ(chmod(k.mirror, 0600), 0);
	T_EQ(SP_connect(d.tcp_addr, "e", 0, 0, &m, NULL), ACCEPT_SESSION);
	SP_disconnect(m);
	hd_stop(&d);
	/* The daemon: a readable secrets file, then a malformed one. */
	T_EQ(chmod(k.secrets, 0644), 0);
	snprintf(conf, sizeof(conf), "%s/spread.conf", k.dir);
	fp = fopen(conf, "w");
	T_ASSERT(fp != NULL);
	fprintf(fp, "Spread_Segment 127.0.0.255:%u {\n localhost 127.0.0.1\n}\n"
		"UnixSocketDir = \"\"\n%s", hd_free_port(), k.conf);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/out", k.dir);
	daemon_fails(conf, path, line, sizeof(line));
	T_ASSERTF(strstr(line, "HmacSecretsFile") && strstr(line, "mode 0644"), "%s",
		  line);
	write_file(k.secrets, "mirror-1 " SECRET_MIRROR "\nmirror-1 " SECRET_OTHER "\n",
		   0600);
	daemon_fails(conf, path, line, sizeof(line));
	T_ASSERTF(strstr(line, "line 2: principal 'mirror-1' is listed twice"), "%s",
		  line);
	/* chorusd -t checks the file as a start would. */
	daemon_run("-t", conf, path, line, sizeof(line), 1);
	T_ASSERTF(strstr(line, "line 2: principal 'mirror-1' is listed twice"), "%s",
		  line);
	write_file(k.secrets, "mirror-1 " SECRET_MIRROR "\n", 0644);
	daemon_run("-t", conf, path, line, sizeof(line), 1);
	T_ASSERTF(strstr(line, "HmacSecretsFile") && strstr(line, "mode 0644"), "%s",
		  line);
	T_EQ(chmod(k.secrets, 0600), 0);
	daemon_run("-t", conf, path, line, sizeof(line), 0);
	T_ASSERTF(strstr(line, "configuration OK"), "%s", line);
	unlink(conf);
	unlink(path);
	keys_remove(&k);
}

/* ---- Access rules ---------------------------------------------------- */

/* The mirror-network case: mirrors may send to jigdo but not join it,
 * loggers may join it (and send), nobody else may use it; every other
 * group is open. */
#define MIRROR_RULES \
	"AccessRules {\n" \
	"\tallow send jigdo principal \"mirror-*\"\n" \
	"\tallow all  jigdo principal logger-*\n" \
	"\tdeny  all  jigdo anyone\n" \
	"\tallow join tcp-only ip 127.0.0.0/8\n" \
	"\tallow join unix-only unix\n" \
	"\tdeny  join \"*-only\" anyone\n" \
	"\tallow all  \"*\" anyone\n" \
	"}\n"

static void access_rules_join_send(void)
{
	struct keys k;
	struct hd d;
	mailbox mirror, logger, anon, ux;
	char pg[MAX_GROUP_NAME], data[512], group[MAX_GROUP_NAME];
	const char groups2[2][MAX_GROUP_NAME] = { "other", "jigdo" };
	service st;

	keys_make(&k, "AllowedAuthMethods = \"NULL HMAC\"\n" MIRROR_RULES);
	hd_start(&d, k.conf);
	T_EQ(hmac_connect(&d, k.logger, "logger", &logger, pg), ACCEPT_SESSION);
	T_EQ(hmac_connect(&d, k.mirror, "mirror", &mirror, pg), ACCEPT_SESSION);
	T_EQ(SP_set_auth_method("NULL", null_auth, NULL), 1);
	T_EQ(SP_connect(d.tcp_addr, "anon", 0, 1, &anon, pg), ACCEPT_SESSION);
	T_EQ(SP_connect(d.unix_addr, "ux", 0, 1, &ux, pg), ACCEPT_SESSION);

	join_wait(logger, "jigdo");
	/* The mirror's join is refused: a reject frame, nothing else. */
	T_EQ(SP_join(mirror, "jigdo"), 0);
	st = recv_until(mirror, REJECT_MESS, data, sizeof(data), group);
	T_EQ(st, (service)(REJECT_MESS | CAUSED_BY_JOIN));
	T_STREQ(group, "jigdo");
	T_ASSERT(hd_wait_log(&d, "join of #mirror#localhost (principal mirror-1, "
			     "127.0.0.1) to group jigdo refused: access rule 3", 3000));
	/* Its send is allowed and reaches the logger. */
	send_to(mirror, "jigdo", "line 1");
	recv_until(logger, AGREED_MESS, data, sizeof(data), NULL);
	T_STREQ(data, "line 1");
	/* A client without a principal may not send: the sender gets its
	 * message back as a reject, the logger nothing. */
	send_to(anon, "jigdo", "fake line");
	st = recv_until(anon, REJECT_MESS, data, sizeof(data), group);
	T_EQ(st, (service)(REJECT_MESS | AGREED_MESS));
	T_STREQ(data, "fake line");
	T_STREQ(group, "jigdo");
	T_ASSERT(hd_wait_log(&d, "send of #anon#localhost (principal none, "
			     "127.0.0.1) to group jigdo refused", 3000));
	/* To several groups: one refused group refuses the whole message;
	 * a member of the allowed group gets nothing either. */
	join_wait(ux, "other");
	T_EQ(SP_multigroup_multicast(anon, AGREED_MESS, 2, groups2, 0, 5, "multi"), 5);
	st = recv_until(anon, REJECT_MESS, data, sizeof(data), NULL);
	T_EQ(st, (service)(REJECT_MESS | AGREED_MESS));
	T_ASSERT(hd_wait_log(&d, "the whole message is dropped", 3000));
	send_to(mirror, "jigdo", "line 2");
	send_to(anon, "other", "plain");
	recv_until(logger, AGREED_MESS, data, sizeof(data), NULL);
	T_STREQ(data, "line 2");
	recv_until(ux, AGREED_MESS, data, sizeof(data), NULL);
	T_STREQ(data, "plain");
	T_ASSERT(quiet(logger, 200));
	T_ASSERT(quiet(ux, 0));
	/* Address rules: a TCP client may join tcp-only, not unix-only; a
	 * Unix-socket client the other way round. */
	join_wait(anon, "tcp-only");
	join_wait(ux, "unix-only");
	T_EQ(SP_join(anon, "unix-only"), 0);
	T_EQ(recv_until(anon, REJECT_MESS, data, sizeof(data), NULL),
	     (service)(REJECT_MESS | CAUSED_BY_JOIN));
	T_EQ(SP_join(ux, "tcp-only"), 0);
	T_EQ(recv_until(ux, REJECT_MESS, data, sizeof(data), NULL),
	     (service)(REJECT_MESS | CAUSED_BY_JOIN));
	/* The refused sessions are still open and work. */
	send_to(mirror, "jigdo", "line 3");
	recv_until(logger, AGREED_MESS, data, sizeof(data), NULL);
	T_STREQ(data, "line 3");
	SP_disconnect(anon);
	SP_disconnect(ux);
	SP_disconnect(mirror);
	SP_disconnect(logger);
	hd_stop(&d);
	keys_remove(&k);
}

/* Without rules everything is allowed, as before. */
static void no_rules_allow_all(void)
{
	struct hd d;
	mailbox a, b;
	char pg[MAX_GROUP_NAME], data[64];

	hd_start(&d, NULL);
	T_EQ(SP_connect(d.tcp_addr, "a", 0, 1, &a, pg), ACCEPT_SESSION);
	T_EQ(SP_connect(d.unix_addr, "b", 0, 1, &b, pg), ACCEPT_SESSION);
	join_wait(b, "jigdo");
	send_to(a, "jigdo", "x");
	recv_until(b, AGREED_MESS, data, sizeof(data), NULL);
	T_STREQ(data, "x");
	SP_disconnect(a);
	SP_disconnect(b);
	hd_stop(&d);
}

/* ---- Limits ------------------------------------------------------------ */

static void sessions_per_ip(void)
{
	struct hd d;
	mailbox m[4], u;
	char pg[MAX_GROUP_NAME];

	hd_start(&d, "MaxSessionsPerIP = 3");
	for (int i = 0; i < 3; i++)
		T_EQ(SP_connect(d.tcp_addr, NULL, 0, 0, &m[i], pg), ACCEPT_SESSION);
	T_EQ(SP_connect(d.tcp_addr, NULL, 0, 0, &m[3], pg), REJECT_QUOTA);
	T_ASSERT(hd_wait_log(&d, "connection from 127.0.0.1 refused: it has 3 "
			     "sessions already (MaxSessionsPerIP)", 3000));
	/* Unix-socket clients are not counted. */
	T_EQ(SP_connect(d.unix_addr, NULL, 0, 0, &u, pg), ACCEPT_SESSION);
	/* A closed session makes room. */
	SP_disconnect(m[0]);
	for (int i = 0; i < 100; i++) {
		int r = SP_connect(d.tcp_addr, NULL, 0, 0, &m[0], pg);

		if (r == ACCEPT_SESSION)
			break;
		T_EQ(r, REJECT_QUOTA);
		T_ASSERT(i < 99);
		usleep(20000);
	}
	for (int i = 0; i < 3; i++)
		SP_disconnect(m[i]);
	SP_disconnect(u);
	hd_stop(&d);
}

static void authenticating_limit(void)
{
	struct hd d;
	int fd[3];
	uint8_t b;
	mailbox m;
	char pg[MAX_GROUP_NAME];
	int64_t t0;

	hd_start(&d, "MaxAuthenticating = 2\nHandshakeTimeout = 700");
	fd[0] = raw_tcp(&d);
	fd[1] = raw_unix(&d);
	/* Both stay silent. A third connection is refused once the daemon
	 * has accepted them; until then it is itself one of the two. */
	t0 = t_now_ms();
	for (;;) {
		fd[2] = raw_tcp(&d);
		if (raw_recv(fd[2], &b, 1, 300) == 1) {
			T_EQ((int8_t)b, REJECT_QUOTA);
			break;
		}
		close(fd[2]);
		T_ASSERT(t_now_ms() - t0 < 5000);
	}
	close(fd[2]);
	T_ASSERT(hd_wait_log(&d, "connections are still in the handshake "
			     "(MaxAuthenticating 2)", 3000));
	/* The silent ones time out and room comes back. */
	T_ASSERT(raw_wait_closed(fd[0], 3000));
	T_ASSERT(raw_wait_closed(fd[1], 3000));
	T_EQ(SP_connect(d.tcp_addr, "y", 0, 0, &m, pg), ACCEPT_SESSION);
	SP_disconnect(m);
	close(fd[0]);
	close(fd[1]);
	hd_stop(&d);
}

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(hmac_accepted),
		T_CASE(hmac_refused),
		T_CASE(hmac_secrets_reload),
		T_CASE(old_clients),
		T_CASE(hmac_exchange_attacks),
		T_CASE(name_reserved_after_auth),
		T_CASE(key_file_checks),
		T_CASE(access_rules_join_send),
		T_CASE(no_rules_allow_all),
		T_CASE(sessions_per_ip),
		T_CASE(authenticating_limit),
	};
	return t_main(argc, argv, cases, T_COUNT(cases));
}
