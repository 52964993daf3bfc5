/*
 * fuzz_lib_recv.c - libFuzzer target: arbitrary bytes as the daemon's
 * side of a libchorus connection (spec sections 3 and 6; defects L1, L2,
 * L6 to L9, L11).
 *
 * Byte 0 of the input chooses how the library is driven; the rest is what
 * "the daemon" sends, over a socketpair whose daemon end is then shut.
 *   bit 0  run the client handshake first (the stream starts with the
 *          daemon's handshake bytes)
 *   bit 1  read-ahead on
 *   bit 2  SP_scat_receive over small elements instead of SP_receive
 *   bit 3  small data buffer (16 bytes)
 *   bit 4  small groups array (1 name)
 *   bit 5  DROP_RECV on every call
 *   bit 6  DROP_RECV on every other call
 *   bit 7  after a short-buffer return, retry with big buffers (else
 *          with DROP_RECV)
 * Every message the library accepts is handed to the membership parsers
 * through an exact-size heap copy, so that AddressSanitizer catches any
 * read past a body that SP_*receive let through.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIG_DATA 150000
#define BIG_GROUPS 128
#define MAX_INPUT 60000

static char fz_data[BIG_DATA];
static char fz_groups[BIG_GROUPS][MAX_GROUP_NAME];

/* Runs every parser on the body of a message the library returned. */
static void parse_body(service st, int n)
{
	char *copy = malloc(n > 0 ? (size_t)n : 1);
	membership_info mi;
	vs_set_info sets[16];
	unsigned int my;
	scatter sc;
	int k;

	if (!copy)
		return;
	memcpy(copy, fz_data, (size_t)n);
	memset(&sc, 0, sizeof(sc));
	sc.num_elements = 3;
	sc.elements[0].buf = copy;
	sc.elements[0].len = (size_t)n / 3;
	sc.elements[1].buf = copy + n / 3;
	sc.elements[1].len = (size_t)n / 3;
	sc.elements[2].buf = copy + 2 * (n / 3);
	sc.elements[2].len = (size_t)(n - 2 * (n / 3));
	/* The scatter twins know the length: always safe. */
	SP_scat_get_memb_info(&sc, st, &mi);
	k = SP_scat_get_vs_sets_info(&sc, sets, 16, &my);
	for (int i = 0; i < k && i < 16; i++) {
		char(*names)[MAX_GROUP_NAME];

		/* Counts from an unchecked body can be anything: more names
		 * than bytes is refused without a buffer. */
		if (sets[i].num_members > (unsigned)n / MAX_GROUP_NAME) {
			SP_scat_get_vs_set_members(&sc, &sets[i], NULL, 0);
			continue;
		}
		names = malloc((size_t)sets[i].num_members * MAX_GROUP_NAME + 1);
		if (names)
			SP_scat_get_vs_set_members(&sc, &sets[i], names,
						   (int)sets[i].num_members);
		free(names);
	}
	/* The contiguous parsers have no length: SP_*receive promises that
	 * SP_get_memb_info stays inside any membership body it returns, and
	 * the vs-set parsers inside a regular membership's. */
	if (Is_membership_mess(st))
		SP_get_memb_info(copy, st, &mi);
	if (Is_reg_memb_mess(st) && !Is_reject_mess(st)) {
		k = SP_get_vs_sets_info(copy, sets, 16, &my);
		for (int i = 0; i < k && i < 16; i++) {
			char(*names)[MAX_GROUP_NAME] = malloc(
				(size_t)sets[i].num_members * MAX_GROUP_NAME + 1);

			if (names)
				SP_get_vs_set_members(copy, &sets[i], names,
						      (int)sets[i].num_members);
			free(names);
		}
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char pg[WIRE_NAME_LEN] = "#fuzz#d", sender[MAX_GROUP_NAME];
	int sv[2], retry_big = 0;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (size > MAX_INPUT)
		size = MAX_INPUT;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	while (size) {
		ssize_t w = send(sv[1], data, size, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w <= 0)
			break;
		data += w;
		size -= (size_t)w;
	}
	shutdown(sv[1], SHUT_WR);

	if ((mode & 1) &&
	    lib_handshake(sv[0], "fuzz", 0, 1, pg, NULL) != ACCEPT_SESSION)
		goto out;
	if (lib_sess_add(sv[0], pg) != 0)
		goto out;
	if (mode & 2)
		chorus_set_readahead(sv[0], 1);

	for (int call = 0; call < 10000; call++) {
		int max_len = (mode & 8) && !retry_big ? 16 : BIG_DATA;
		int max_groups = (mode & 16) && !retry_big ? 1 : BIG_GROUPS;
		service st = 0;
		int16 mt;
		int ng, em, n;

		if ((mode & 32) || ((mode & 64) && (call & 1)) ||
		    (retry_big && !(mode & 128)))
			st = DROP_RECV;
		retry_big = 0;
		if (mode & 4) {
			scatter sc;
			int pos = 0;

			memset(&sc, 0, sizeof(sc));
			sc.num_elements = 5;
			for (int i = 0; i < 4; i++) {
				int len = max_len < 64 ? (i == 3 ? max_len - pos : 3)
						       : 7 * (i + 1);

				sc.elements[i].buf = fz_data + pos;
				sc.elements[i].len = (size_t)len;
				pos += len;
			}
			sc.elements[4].buf = fz_data + pos;
			sc.elements[4].len = max_len > pos ? (size_t)(max_len - pos)
							    : 0;
			n = SP_scat_receive(sv[0], &st, sender, max_groups, &ng,
					    fz_groups, &mt, &em, &sc);
		} else {
			n = SP_receive(sv[0], &st, sender, max_groups, &ng,
				       fz_groups, &mt, &em, max_len, fz_data);
		}
		if (n >= 0) {
			parse_body(st, n);
			continue;
		}
		if (n == BUFFER_TOO_SHORT || n == GROUPS_TOO_SHORT) {
			retry_big = 1;
			continue;
		}
		if (n == ILLEGAL_MESSAGE)
			continue;
		SP_poll(sv[0]);
		break; /* CONNECTION_CLOSED, then NET_ERROR_ON_SESSION */
	}
	SP_kill(sv[0]);
	sv[0] = -1;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	close(sv[1]);
	return 0;
}
