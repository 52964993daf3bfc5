/*
 * test_lib_replay.c - libchorus against the recorded Spread 4.4 sessions
 * of /work/shared/spec/transcripts (see their README).
 *
 * The fake daemon sends NAME.d2c.bin as it is. The test plays the client
 * program of the recording, driven by NAME.client.txt: it connects with
 * the name, membership flag and priority of the recorded request, sends
 * the recorded joins, leaves and multicasts, receives one message per
 * recorded event and disconnects. Two checks:
 *   - the bytes the library sent equal NAME.c2d.bin (name fields compared
 *     up to their NUL, since the original left stale bytes after it, and
 *     ours must be zero there);
 *   - every event line (message kinds, group ids, members, vs sets)
 *     equals the recorded one, timestamps aside.
 * Each session is replayed with plain receives, with read-ahead, and with
 * scatter receives whose small elements split the membership bodies.
 */
#include "lib_fake.h"

enum mode { M_PLAIN, M_READAHEAD, M_SCATTER };

struct tr {
	uint8_t *c2d, *d2c;
	size_t c2d_len, d2c_len;
	char *client;
	size_t client_len;
	size_t req_len;   /* connect request */
	size_t frames_at; /* first frame in c2d */
	size_t next;      /* next c2d frame to act on */
};

static void tr_load(struct tr *t, const char *name)
{
	const char *dir = t_transcripts_dir();
	char path[512];

	if (!dir)
		t_skip("transcripts not found (set CHORUS_TRANSCRIPTS)");
	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/%s.c2d.bin", dir, name);
	t->c2d = t_read_file(path, &t->c2d_len);
	snprintf(path, sizeof(path), "%s/%s.d2c.bin", dir, name);
	t->d2c = t_read_file(path, &t->d2c_len);
	snprintf(path, sizeof(path), "%s/%s.client.txt", dir, name);
	t->client = (char *)t_read_file(path, &t->client_len);
	t->client[t->client_len] = 0;
	T_ASSERT(t->c2d_len > 5);
	t->req_len = 5 + t->c2d[4];
	t->frames_at = t->req_len + WIRE_AUTH_CHOICE_LEN;
	t->next = t->frames_at;
}

static void tr_free(struct tr *t)
{
	free(t->c2d);
	free(t->d2c);
	free(t->client);
}

/* Decodes the c2d frame at t->next without consuming it. Returns 0, or -1
 * when there are no more frames. */
static int tr_peek(const struct tr *t, struct wire_hdr *h, const uint8_t **body)
{
	if (t->next + WIRE_HDR_LEN > t->c2d_len)
		return -1;
	wire_hdr_decode(t->c2d + t->next, h);
	*body = t->c2d + t->next + WIRE_HDR_LEN;
	T_ASSERT(t->next + WIRE_HDR_LEN + (size_t)h->num_groups * 32 +
			 (size_t)h->data_len <= t->c2d_len);
	return 0;
}

/* Replays the next recorded frame through the API; writes a SENT event
 * for multicasts into line. Returns the frame kind's control bits (0 for
 * data), or -1 when there are none left. */
static long tr_act(struct tr *t, mailbox m, char *line, size_t cap)
{
	static const char *const svc[] = { "UNRELIABLE", "RELIABLE", "FIFO",
					   "CAUSAL", "AGREED", "SAFE" };
	const uint8_t *b;
	struct wire_hdr h;
	uint32_t type;
	int r;

	if (tr_peek(t, &h, &b) != 0)
		return -1;
	t->next += WIRE_HDR_LEN + (size_t)h.num_groups * 32 + (size_t)h.data_len;
	type = h.type & ~WIRE_MARK;
	if (type == WIRE_JOIN) {
		T_EQ(SP_join(m, (const char *)b), 0);
	} else if (type == WIRE_LEAVE) {
		T_EQ(SP_leave(m, (const char *)b), 0);
	} else if (type == WIRE_KILL) {
		T_EQ(SP_disconnect(m), 0);
		snprintf(line, cap, "DISCONNECTED");
	} else {
		const char *name = "?";
		int16 mt = wire_hint_mess_type(h.hint, NULL);
		const char *data = (const char *)b + h.num_groups * 32;

		for (int i = 0; i < 6; i++)
			if (type & (1u << i))
				name = svc[i];
		if (h.num_groups == 1)
			r = SP_multicast(m, (service)type, (const char *)b, mt,
					 h.data_len, data);
		else {
			static char g[WIRE_MAX_GROUPS][MAX_GROUP_NAME];

			T_ASSERT(h.num_groups <= WIRE_MAX_GROUPS);
			memcpy(g, b, (size_t)h.num_groups * MAX_GROUP_NAME);
			r = SP_multigroup_multicast(m, (service)type,
						    h.num_groups, g, mt,
						    h.data_len, data);
		}
		snprintf(line, cap, "SENT %s %.*s ret=%d", name, h.data_len,
			 data, r);
		return 0;
	}
	return (long)type;
}

static char data[200000];
static scatter sc;

/* Receives one message in the given mode and describes it as the recorded
 * client did. */
static void recv_event(mailbox m, enum mode mode, char *line, size_t cap)
{
	static const char *const svc[] = { "UNRELIABLE", "RELIABLE", "FIFO",
					   "CAUSAL", "AGREED", "SAFE" };
	char sender[MAX_GROUP_NAME], groups[16][MAX_GROUP_NAME];
	char names[16][MAX_GROUP_NAME];
	vs_set_info sets[8];
	membership_info mi;
	unsigned int my = 99;
	service st = 0;
	int ng, em, n, len = 0;
	int16 mt;

	if (mode == M_SCATTER) {
		static const size_t lens[] = { 7, 13, 1, 0, 30, 5 };
		size_t pos = 0;

		sc.num_elements = T_COUNT(lens) + 1;
		for (size_t i = 0; i < T_COUNT(lens); i++) {
			sc.elements[i].buf = data + pos;
			sc.elements[i].len = lens[i];
			pos += lens[i];
		}
		sc.elements[T_COUNT(lens)].buf = data + pos;
		sc.elements[T_COUNT(lens)].len = sizeof(data) - pos;
		n = SP_scat_receive(m, &st, sender, 16, &ng, groups, &mt, &em,
				    &sc);
	} else {
		n = SP_receive(m, &st, sender, 16, &ng, groups, &mt, &em,
			       sizeof(data), data);
	}
	T_ASSERTF(n >= 0, "receive returned %d", n);
	if (Is_regular_mess(st)) {
		const char *name = "?";

		for (int i = 0; i < 6; i++)
			if (st & (1 << i))
				name = svc[i];
		snprintf(line, cap,
			 "MSG %s from=%s mess_type=%d ngroups=%d len=%d data=%.*s",
			 name, sender, mt, ng, n, n, data);
		return;
	}
	if (Is_transition_mess(st)) {
		snprintf(line, cap, "TRANSITIONAL_MEMB group=%s svc=0x%x", sender,
			 (unsigned)st);
		return;
	}
	if (Is_self_leave(st)) {
		snprintf(line, cap, "SELF_LEAVE group=%s svc=0x%x", sender,
			 (unsigned)st);
		return;
	}
	T_ASSERT(Is_reg_memb_mess(st));
	T_EQ(mode == M_SCATTER ? SP_scat_get_memb_info(&sc, st, &mi)
			       : SP_get_memb_info(data, st, &mi), 1);
	len += snprintf(line + len, cap - (size_t)len,
			"REGULAR_MEMB group=%s n=%d my_index=%d cause=%s "
			"gid=%d.%d.%d svc=0x%x", sender, ng, mt,
			Is_caused_join_mess(st)	 ? "JOIN"
			: Is_caused_leave_mess(st) ? "LEAVE"
			: Is_caused_disconnect_mess(st) ? "DISCONNECT"
							: "NETWORK",
			mi.gid.id[0], mi.gid.id[1], mi.gid.id[2],
			(unsigned)st);
	if (!Is_caused_network_mess(st))
		len += snprintf(line + len, cap - (size_t)len, " changed=%s",
				mi.changed_member);
	len += snprintf(line + len, cap - (size_t)len, " members=[");
	for (int i = 0; i < ng; i++)
		len += snprintf(line + len, cap - (size_t)len, "%s%s",
				i ? " " : "", groups[i]);
	len += snprintf(line + len, cap - (size_t)len, "]");
	if (!Is_caused_network_mess(st))
		return;
	n = mode == M_SCATTER ? SP_scat_get_vs_sets_info(&sc, sets, 8, &my)
			      : SP_get_vs_sets_info(data, sets, 8, &my);
	T_ASSERT(n > 0);
	T_EQ(n, (int)mi.num_vs_sets);
	len += snprintf(line + len, cap - (size_t)len, " vs_sets=%d", n);
	for (int s = 0; s < n; s++) {
		int k = mode == M_SCATTER
				? SP_scat_get_vs_set_members(&sc, &sets[s], names, 16)
				: SP_get_vs_set_members(data, &sets[s], names, 16);

		T_ASSERT(k >= 0);
		if ((unsigned)s == my)
			T_EQ(sets[s].members_offset, mi.my_vs_set.members_offset);
		len += snprintf(line + len, cap - (size_t)len, " %s{",
				(unsigned)s == my ? "LOCAL" : "OTHER");
		for (int i = 0; i < k; i++)
			len += snprintf(line + len, cap - (size_t)len, "%s%s",
					i ? " " : "", names[i]);
		len += snprintf(line + len, cap - (size_t)len, "}");
	}
}

/* Compares two 32-byte name fields: equal up to the NUL, and ours (a) all
 * zero after it. */
static void name_check(const uint8_t *a, const uint8_t *b, size_t at)
{
	size_t n = wire_name_len((const char *)a);

	T_ASSERTF(wire_name_eq((const char *)a, (const char *)b),
		  "name field at %zu differs", at);
	for (size_t i = n; i < WIRE_NAME_LEN; i++)
		T_ASSERTF(a[i] == 0, "stale byte in our name field at %zu",
			  at + i);
}

/* The library's bytes (got) against the recording (want). */
static void compare_c2d(const struct tr *t, const uint8_t *got, size_t len)
{
	size_t pos = t->frames_at;

	T_EQ(len, t->c2d_len);
	T_MEMEQ(got, t->c2d, t->frames_at);
	while (pos < len) {
		struct wire_hdr h;
		size_t end;

		wire_hdr_decode(t->c2d + pos, &h);
		T_MEMEQ(got + pos, t->c2d + pos, 4);
		name_check(got + pos + 4, t->c2d + pos + 4, pos + 4);
		T_MEMEQ(got + pos + 36, t->c2d + pos + 36, 12);
		pos += WIRE_HDR_LEN;
		for (int i = 0; i < h.num_groups; i++, pos += 32)
			name_check(got + pos, t->c2d + pos, pos);
		end = pos + (size_t)h.data_len;
		T_MEMEQ(got + pos, t->c2d + pos, (size_t)h.data_len);
		pos = end;
	}
}

static void replay(const char *name, int tcp, enum mode mode)
{
	struct tr t;
	struct fake f;
	char pg[MAX_GROUP_NAME], line[2048], reqname[16];
	char *rec, *save = NULL;
	mailbox m = -1;
	int events = 0;

	tr_load(&t, name);
	memcpy(reqname, t.c2d + 5, t.c2d[4]);
	reqname[t.c2d[4]] = 0;
	if (tcp)
		fake_listen_tcp(&f);
	else
		fake_listen_unix(&f);
	fake_blob_start(&f, t.d2c, t.d2c_len);

	for (rec = strtok_r(t.client, "\n", &save); rec;
	     rec = strtok_r(NULL, "\n", &save)) {
		char *want = strchr(rec, ' ');

		T_ASSERT(want != NULL);
		want++;
		line[0] = 0;
		if (strncmp(want, "CONNECTED", 9) == 0) {
			T_EQ(SP_connect(f.addr, reqname, t.c2d[3] / 16,
					t.c2d[3] & 1, &m, pg), ACCEPT_SESSION);
			if (mode == M_READAHEAD)
				T_EQ(chorus_set_readahead(m, 1), 0);
			snprintf(line, sizeof(line), "CONNECTED private_group=%s",
				 pg);
		} else if (strncmp(want, "SENT", 4) == 0) {
			while (tr_act(&t, m, line, sizeof(line)) > 0)
				;
		} else if (strncmp(want, "DISCONNECTED", 12) == 0) {
			while (tr_act(&t, m, line, sizeof(line)) >= 0)
				;
		} else {
			/* Before a receive, do the joins and leaves the
			 * recorded client had done by then. */
			struct wire_hdr h;
			const uint8_t *b;

			while (tr_peek(&t, &h, &b) == 0 &&
			       ((h.type & ~WIRE_MARK) == WIRE_JOIN ||
				(h.type & ~WIRE_MARK) == WIRE_LEAVE))
				tr_act(&t, m, line, sizeof(line));
			recv_event(m, mode, line, sizeof(line));
		}
		T_ASSERTF(strcmp(line, want) == 0, "%s: event %d:\n  got  %s\n  want %s",
			  name, events, line, want);
		events++;
	}
	T_ASSERT(events >= 4);
	fake_blob_join(&f);
	compare_c2d(&t, f.cap, f.cap_len);
	fake_close(&f);
	tr_free(&t);
}

#define REPLAY_CASES(fn, name, tcp)                                           \
	static void fn##_plain(void) { replay(name, tcp, M_PLAIN); }          \
	static void fn##_readahead(void) { replay(name, tcp, M_READAHEAD); }  \
	static void fn##_scatter(void) { replay(name, tcp, M_SCATTER); }

REPLAY_CASES(session_tcp, "session_tcp", 1)
REPLAY_CASES(session_unix, "session_unix", 0)
REPLAY_CASES(two_session, "two_session", 0)
REPLAY_CASES(two_observer, "two_observer", 1)
REPLAY_CASES(partition_ns1, "partition_ns1", 0)

int main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		T_CASE(session_tcp_plain),   T_CASE(session_tcp_readahead),
		T_CASE(session_tcp_scatter), T_CASE(session_unix_plain),
		T_CASE(session_unix_readahead), T_CASE(session_unix_scatter),
		T_CASE(two_session_plain),   T_CASE(two_session_readahead),
		T_CASE(two_session_scatter), T_CASE(two_observer_plain),
		T_CASE(two_observer_readahead), T_CASE(two_observer_scatter),
		T_CASE(partition_ns1_plain), T_CASE(partition_ns1_readahead),
		T_CASE(partition_ns1_scatter),
	};

	return t_main(argc, argv, cases, T_COUNT(cases));
}
