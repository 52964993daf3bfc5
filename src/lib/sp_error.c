/*
 * sp_error.c - descriptions of the return codes (spec sections 1.3 and
 * 10.3), in our own words.
 *
 * SP_error() is the one call of the library that prints: one line on
 * standard output, as Spread's does, for programs that rely on it.
 * chorus_strerror() gives the same text without printing.
 */
#include "lib.h"

#include <stdio.h>

static const struct {
	int code;
	const char *text;
} lib_errors[] = {
	{ ACCEPT_SESSION, "connection accepted" },
	{ ILLEGAL_SPREAD, "invalid daemon address" },
	{ COULD_NOT_CONNECT, "cannot reach the daemon" },
	{ REJECT_QUOTA, "too many connections" },
	{ REJECT_NO_NAME, "no name supplied" },
	{ REJECT_ILLEGAL_NAME, "illegal private name" },
	{ REJECT_NOT_UNIQUE, "private name already in use" },
	{ REJECT_VERSION, "version mismatch" },
	{ CONNECTION_CLOSED, "the daemon closed the connection" },
	{ REJECT_AUTH, "authentication refused" },
	{ ILLEGAL_SESSION, "unknown mailbox" },
	{ ILLEGAL_SERVICE, "invalid service type" },
	{ ILLEGAL_MESSAGE, "malformed message" },
	{ ILLEGAL_GROUP, "invalid group name" },
	{ BUFFER_TOO_SHORT, "data buffer too small" },
	{ GROUPS_TOO_SHORT, "groups array too small" },
	{ MESSAGE_TOO_LONG, "message plus group list too large" },
	{ NET_ERROR_ON_SESSION, "the connection is broken; reconnect" },
	{ SP_BUG, "internal library error" },
};

/* Returns a constant description of code; unknown codes get a generic
 * one. Never NULL. */
const char *chorus_strerror(int code)
{
	for (size_t i = 0; i < sizeof(lib_errors) / sizeof(lib_errors[0]); i++)
		if (lib_errors[i].code == code)
			return lib_errors[i].text;
	return "unrecognised error code";
}

/* Prints "SP_error: (<code>) <description>" and a newline to stdout. */
void SP_error(int error)
{
	printf("SP_error: (%d) %s\n", error, chorus_strerror(error));
}
