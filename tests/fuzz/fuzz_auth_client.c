/*
 * fuzz_auth_client.c - libFuzzer target for the client side of the
 * authentication exchange: the input is everything a (hostile) daemon
 * sends, from the method list through HMAC's challenge to the verdict
 * and accept record, fed to libchorus's real handshake (lib_handshake)
 * with the HMAC method registered; the same bytes also go straight to
 * the challenge parser and the library's answer (lib_hmac_respond).
 * Any crash, hang, leak or sanitizer report is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void key_once(void)
{
	static int ready;
	static const char key[] = "mirror-1 00112233445566778899aabbccddeeff\n";
	char path[] = "/tmp/fuzz-key-XXXXXX", err[256];
	int fd;

	if (ready)
		return;
	fd = mkstemp(path); /* mode 0600 */
	if (fd < 0 || write(fd, key, sizeof(key) - 1) != (ssize_t)sizeof(key) - 1)
		abort();
	close(fd);
	if (chorus_set_auth_hmac(path, err, sizeof(err)) != 0)
		abort();
	unlink(path);
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_key k;
	struct timespec dl;
	uint8_t out[AUTH_HMAC_RESPONSE_MAX], sink[4096];
	char pg[WIRE_NAME_LEN];
	size_t n;
	int sv[2];

	if (size > 4096)
		return 0;
	key_once();
	/* The parser and the answer on their own. */
	lib_hmac_copy_key(&k);
	(void)lib_hmac_respond(data, size, &k, size % 2 ? "me" : NULL,
			       size % 3 ? "localhost" : NULL,
			       size % 5 && size >= AUTH_HMAC_BINDING_LEN ? data : NULL,
			       out, &n);
	auth_key_clear(&k);

	/* The whole handshake against the input as the daemon's bytes; the
	 * daemon's end is closed after them, so every read ends. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	if (size && send(sv[0], data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	lib_deadline(&dl, 1000);
	(void)lib_handshake(sv[1], "me", 0, 1, pg, &dl);
	while (recv(sv[0], sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	close(sv[0]);
	close(sv[1]);
	return 0;
}
