/*
 * harness.c - real daemons for integration tests (see harness.h).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/status.h"
#include "proto/wire.h"
#include "t.h"

const char *hd_unix_dir;
uid_t hd_dir_uid;
gid_t hd_dir_gid;

/* Makes a daemon's fresh temporary directory, owned by hd_dir_uid when
 * that is set. */
static void make_dir(struct hd *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/chorus-test-XXXXXX");
	if (!mkdtemp(d->dir))
		t_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
	if (hd_dir_uid && chown(d->dir, hd_dir_uid, hd_dir_gid) != 0)
		t_fail(__FILE__, __LINE__, "chown %s: %s", d->dir, strerror(errno));
}

int64_t t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned hd_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		t_fail(__FILE__, __LINE__, "no free port: %s", strerror(errno));
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* The daemon's absolute path (the child changes directory first). */
const char *hd_daemon_path(void)
{
	static char path[PATH_MAX + 16];
	const char *b = getenv("CHORUS_BUILD");
	char dir[PATH_MAX];

	if (!realpath(b ? b : "build", dir))
		t_fail(__FILE__, __LINE__, "no build directory %s", b ? b : "build");
	snprintf(path, sizeof(path), "%s/chorusd", dir);
	return path;
}

/* Forks and execs the daemon in its directory, output to its log
 * (truncated first if `truncate`). */
static void spawn(struct hd *d, const char *const *args, int truncate)
{
	char *argv[32];
	int n = 0;

	for (; args[n] && n < 31; n++)
		argv[n] = strdup(args[n]);
	argv[n] = NULL;
	d->pid = fork();
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT |
			      (truncate ? O_TRUNC : O_APPEND), 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* The daemon gets none of the test's sockets. */
		close_range(3, ~0u, 0);
		if (chdir(d->dir) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < n; i++)
		free(argv[i]);
}

/* Waits until the daemon accepts connections on both sockets. */
static void wait_listening(struct hd *d)
{
	int64_t until = t_now_ms() + 10000;

	while (t_now_ms() < until) {
		struct stat st;
		int fd;

		if (!hd_alive(d))
			t_fail(__FILE__, __LINE__, "chorusd exited at startup (log %s)",
			       d->log);
		if (stat(d->unix_path, &st) == 0 && (fd = raw_tcp(d)) >= 0) {
			close(fd);
			return;
		}
		usleep(5000);
	}
	t_fail(__FILE__, __LINE__, "chorusd did not start listening");
}

void hd_start_ex(struct hd *d, const char *extra, const char *const *args,
		 const char *access_ip)
{
	const char *argv[32];
	int n = 0;
	FILE *fp;

	memset(d, 0, sizeof(*d));
	make_dir(d);
	d->port = hd_free_port();
	snprintf(d->conf, sizeof(d->conf), "%s/spread.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/chorusd.log", d->dir);
	snprintf(d->unix_path, sizeof(d->unix_path), "%s/%u",
		 hd_unix_dir ? hd_unix_dir : d->dir, d->port);
	snprintf(d->tcp_addr, sizeof(d->tcp_addr), "%u@127.0.0.1", d->port);
	snprintf(d->unix_addr, sizeof(d->unix_addr), "%s", d->unix_path);
	fp = fopen(d->conf, "w");
	if (!fp)
		t_fail(__FILE__, __LINE__, "cannot write %s", d->conf);
	fprintf(fp, "Spread_Segment 127.0.0.255:%u {\n\tlocalhost 127.0.0.1\n}\n"
		"UnixSocketDir = \"%s\"\n%s\n", d->port,
		hd_unix_dir ? hd_unix_dir : d->dir, extra ? extra : "");
	fclose(fp);
	if (access_ip) {
		char path[256];

		snprintf(path, sizeof(path), "%s/spread.access_ip", d->dir);
		fp = fopen(path, "w");
		if (!fp)
			t_fail(__FILE__, __LINE__, "cannot write %s", path);
		fputs(access_ip, fp);
		fclose(fp);
	}

	argv[n++] = hd_daemon_path();
	argv[n++] = "-c";
	argv[n++] = d->conf;
	argv[n++] = "-n";
	argv[n++] = "localhost";
	for (; args && *args && n < 30; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	spawn(d, argv, 1);
	wait_listening(d);
}

void hd_start(struct hd *d, const char *extra)
{
	hd_start_ex(d, extra, NULL, NULL);
}

int hd_alive(const struct hd *d)
{
	int status;

	if (d->pid <= 0)
		return 0;
	return waitpid(d->pid, &status, WNOHANG) == 0;
}

/* Removes the files a daemon of d leaves in its directory, and the
 * directory: after a stop, or after a SIGKILL (which leaves its socket). */
static void remove_files(const struct hd *d)
{
	char path[256];

	if (!d->dir[0])
		return;
	if (d->unix_path[0])
		unlink(d->unix_path);
	snprintf(path, sizeof(path), "%s/spread.access_ip", d->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/chorusd-%s.state", d->dir, d->name);
	unlink(path);
	snprintf(path, sizeof(path), "%s/chorusd-%s.state.tmp", d->dir, d->name);
	unlink(path);
	unlink(d->conf);
	unlink(d->log);
	rmdir(d->dir);
}

void hd_stop(struct hd *d)
{
	int status = 0;
	int64_t until = t_now_ms() + 10000;
	pid_t r;

	if (d->pid <= 0) {
		/* Killed by the test: what it left goes. */
		remove_files(d);
		return;
	}
	if (!hd_alive(d))
		t_fail(__FILE__, __LINE__, "chorusd had died (log %s)", d->log);
	kill(d->pid, SIGTERM);
	while ((r = waitpid(d->pid, &status, WNOHANG)) == 0 && t_now_ms() < until)
		usleep(2000);
	if (r == 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &status, 0);
		t_fail(__FILE__, __LINE__, "chorusd ignored SIGTERM");
	}
	d->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		t_fail(__FILE__, __LINE__, "chorusd exit status %d (log %s)",
		       status, d->log);
	if (access(d->unix_path, F_OK) == 0)
		t_fail(__FILE__, __LINE__, "Unix socket %s left behind",
		       d->unix_path);
	remove_files(d);
}

int hd_log_has(const struct hd *d, const char *needle)
{
	char line[2048];
	FILE *fp = fopen(d->log, "r");
	int found = 0;

	if (!fp)
		return 0;
	while (!found && fgets(line, sizeof(line), fp))
		found = strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

int hd_wait_log(const struct hd *d, const char *needle, int ms)
{
	int64_t until = t_now_ms() + ms;

	do {
		if (hd_log_has(d, needle))
			return 1;
		usleep(5000);
	} while (t_now_ms() < until);
	return 0;
}

int raw_tcp(const struct hd *d)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)d->port);
	sin.sin_addr.s_addr = htonl(d->addr ? d->addr : INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int raw_unix(const struct hd *d)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(d->unix_path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, d->unix_path, strlen(d->unix_path) + 1);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void raw_send(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			t_fail(__FILE__, __LINE__, "send: %s", strerror(errno));
		p += w;
		len -= (size_t)w;
	}
}

ssize_t raw_recv(int fd, void *buf, size_t len, int ms)
{
	uint8_t *p = buf;
	size_t got = 0;
	int64_t until = t_now_ms() + ms;

	while (got < len) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = until - t_now_ms();
		ssize_t r;

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = recv(fd, p + got, len - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return (ssize_t)got;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int raw_wait_closed(int fd, int ms)
{
	int64_t until = t_now_ms() + ms;
	uint8_t buf[4096];

	while (t_now_ms() < until) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			return 1;
	}
	return 0;
}

int raw_connect(int fd, const char *name, int membership, char *pg)
{
	uint8_t req[16], b, list[256], choice[90], rec[4];
	size_t n = wire_connreq_encode(req, name, membership, 0);

	raw_send(fd, req, n);
	if (raw_recv(fd, &b, 1, 5000) != 1)
		return 0;
	if ((int8_t)b < 0)
		return (int8_t)b;
	if (b && raw_recv(fd, list, b, 5000) != b)
		return 0;
	memset(choice, 0, sizeof(choice));
	memcpy(choice, "NULL", 4);
	raw_send(fd, choice, sizeof(choice));
	if (raw_recv(fd, &b, 1, 5000) != 1)
		return 0;
	if ((int8_t)b != 1)
		return (int8_t)b;
	if (raw_recv(fd, rec, 4, 5000) != 4)
		return 0;
	if (rec[3] < 4 || rec[3] > 31)
		return 0;
	memset(pg, 0, 32);
	if (raw_recv(fd, pg, rec[3], 5000) != rec[3])
		return 0;
	return 1;
}

size_t raw_frame(uint8_t *out, uint32_t type, const char *sender,
		 int ngroups, const char *const *groups, uint32_t hint,
		 const void *data, int32_t dlen)
{
	struct wire_hdr h;
	uint8_t *p = out + WIRE_HDR_LEN;

	memset(&h, 0, sizeof(h));
	h.type = type;
	memcpy(h.name, sender, strnlen(sender, 32));
	h.num_groups = ngroups;
	h.hint = hint;
	h.data_len = dlen;
	wire_hdr_encode(&h, out);
	/* Keep exactly the marker bits the caller asked for. */
	memcpy(out, &type, 4);
	for (int i = 0; groups && i < ngroups; i++, p += 32) {
		memset(p, 0, 32);
		memcpy(p, groups[i], strnlen(groups[i], 32));
	}
	if (data && dlen > 0) {
		memcpy(p, data, (size_t)dlen);
		p += dlen;
	}
	return (size_t)(p - out);
}

ssize_t raw_read_frame(int fd, uint8_t *buf, size_t cap, int ms)
{
	struct wire_hdr h;
	size_t body;
	int extra;

	if (cap < WIRE_HDR_LEN || raw_recv(fd, buf, WIRE_HDR_LEN, ms) != WIRE_HDR_LEN)
		return -1;
	wire_hdr_decode(buf, &h);
	if (h.num_groups < 0 || h.data_len < 0)
		return -1;
	extra = (h.type & WIRE_REJECT) ? 4 : 0;
	body = (size_t)extra + (size_t)h.num_groups * 32 + (size_t)h.data_len;
	if (WIRE_HDR_LEN + body > cap)
		return -1;
	if (body && raw_recv(fd, buf + WIRE_HDR_LEN, body, ms) != (ssize_t)body)
		return -1;
	return (ssize_t)(WIRE_HDR_LEN + body);
}

/* ---- Several daemons on one segment --------------------------------- */

void hd_ring_start(struct hd_ring *r, int n, const char *extra)
{
	const char *argv[8];

	if (n < 2 || n > HD_RING_MAX)
		t_fail(__FILE__, __LINE__, "hd_ring_start: %d daemons", n);
	memset(r, 0, sizeof(*r));
	r->n = n;
	r->port = hd_free_port();
	for (int i = 0; i < n; i++) {
		struct hd *d = &r->d[i];
		FILE *fp;

		make_dir(d);
		d->port = r->port;
		d->addr = 0x7f000001u + (uint32_t)i;
		snprintf(d->name, sizeof(d->name), "d%d", i + 1);
		snprintf(d->conf, sizeof(d->conf), "%s/spread.conf", d->dir);
		snprintf(d->log, sizeof(d->log), "%s/chorusd.log", d->dir);
		snprintf(d->unix_path, sizeof(d->unix_path), "%s/%u", d->dir, d->port);
		snprintf(d->tcp_addr, sizeof(d->tcp_addr), "%u@127.0.0.%d", d->port,
			 i + 1);
		snprintf(d->unix_addr, sizeof(d->unix_addr), "%s", d->unix_path);
		fp = fopen(d->conf, "w");
		if (!fp)
			t_fail(__FILE__, __LINE__, "cannot write %s", d->conf);
		/* The same segment for all; what only concerns one daemon
		 * (its socket and state directories) differs, which must not
		 * keep them apart. */
		fprintf(fp, "Spread_Segment 127.0.0.255:%u {\n", r->port);
		for (int k = 0; k < n; k++)
			fprintf(fp, "\td%d 127.0.0.%d { C 127.0.0.%d D 127.0.0.%d }\n",
				k + 1, k + 1, k + 1, k + 1);
		fprintf(fp, "}\nRingTransport = unicast\nUnixSocketDir = \"%s\"\n"
			"RuntimeDir = \"%s\"\n%s\n", d->dir, d->dir,
			extra ? extra : "");
		fclose(fp);
	}
	argv[0] = hd_daemon_path();
	argv[1] = "-c";
	for (int i = 0; i < n; i++) {
		argv[2] = r->d[i].conf;
		argv[3] = "-n";
		argv[4] = r->d[i].name;
		argv[5] = NULL;
		spawn(&r->d[i], argv, 1);
	}
	for (int i = 0; i < n; i++)
		wait_listening(&r->d[i]);
}

void hd_respawn(struct hd *d)
{
	const char *argv[6] = { hd_daemon_path(), "-c", d->conf, "-n", d->name,
				NULL };

	if (hd_alive(d))
		t_fail(__FILE__, __LINE__, "hd_respawn: %s is running", d->name);
	spawn(d, argv, 0);
	wait_listening(d);
}

void hd_kill(struct hd *d, int sig)
{
	int status;

	if (d->pid <= 0)
		return;
	kill(d->pid, sig);
	if (sig == SIGKILL) {
		waitpid(d->pid, &status, 0);
		d->pid = 0;
	}
}

void hd_ring_stop(struct hd_ring *r)
{
	for (int i = 0; i < r->n; i++)
		hd_stop(&r->d[i]);
}

int hd_status(const struct hd *d, struct status_info *si, int ms)
{
	struct sockaddr_in sin;
	uint8_t req[STATUS_REQ_LEN], buf[STATUS_REPLY_MAX];
	uint32_t nonce = (uint32_t)t_now_ms() ^ (uint32_t)getpid(), got;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ok = 0;
	int64_t until = t_now_ms() + ms;

	if (fd < 0)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)d->port);
	sin.sin_addr.s_addr = htonl(d->addr ? d->addr : INADDR_LOOPBACK);
	status_req_encode(req, nonce);
	sendto(fd, req, sizeof(req), 0, (struct sockaddr *)&sin, sizeof(sin));
	while (!ok && t_now_ms() < until) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, (int)(until - t_now_ms())) != 1)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		ok = n > 0 && status_reply_decode(buf, (size_t)n, &got, si) == 0 &&
		     got == nonce;
	}
	close(fd);
	return ok;
}

void hd_need_root_and_user(struct hd_user *u)
{
	static const char *const names[] = { "nobody", "daemon" };

	if (geteuid() != 0)
		t_skip("not root: there are no privileges to drop");
	for (size_t i = 0; i < T_COUNT(names); i++) {
		struct passwd *pw = getpwnam(names[i]);

		if (pw && pw->pw_uid != 0 && pw->pw_gid != 0) {
			u->name = names[i];
			u->uid = pw->pw_uid;
			u->gid = pw->pw_gid;
			return;
		}
	}
	t_skip("no unprivileged user (nobody or daemon) in /etc/passwd");
}

int hd_runs_as(pid_t pid, const struct hd_user *u)
{
	char path[64], line[512];
	int uid_ok = 0, gid_ok = 0, groups_ok = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		unsigned a, b, c, d;

		if (sscanf(line, "Uid: %u %u %u %u", &a, &b, &c, &d) == 4)
			uid_ok = a == u->uid && b == u->uid && c == u->uid && d == u->uid;
		if (sscanf(line, "Gid: %u %u %u %u", &a, &b, &c, &d) == 4)
			gid_ok = a == u->gid && b == u->gid && c == u->gid && d == u->gid;
		if (strncmp(line, "Groups:", 7) == 0) {
			char *tok, *save = NULL;

			groups_ok = 1;
			for (tok = strtok_r(line + 7, " \t\n", &save); tok;
			     tok = strtok_r(NULL, " \t\n", &save))
				if (strcmp(tok, "0") == 0)
					groups_ok = 0;
		}
	}
	fclose(fp);
	return uid_ok && gid_ok && groups_ok;
}
