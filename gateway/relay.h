/* relay: hand a stored message on to another SMTP server (MailHog's "release"), with libcurl's
 * SMTP client. Blocking: callers run it off the loop (an HTTP worker thread). */
#ifndef PAT_GATEWAY_RELAY_H
#define PAT_GATEWAY_RELAY_H

#include <stddef.h>

#include "lib/err.h"

/* Where and how to relay. */
struct relay_target {
	const char *host;      /* DNS name or IP address (no port) */
	unsigned port;         /* 1-65535 */
	const char *from;      /* envelope sender */
	const char *to;        /* envelope recipient */
	const char *username;  /* AUTH, or NULL for none */
	const char *password;
	const char *mechanism; /* "PLAIN" or "CRAM-MD5" when username is set */
	long timeout_ms;       /* the whole exchange */
};

/* Send data (a whole message, CRLF line ends) to t. PAT_EINVAL for a target that cannot be
 * used (a host with characters no host has); PAT_EREMOTE when the server or the connection
 * failed, with curl's reason in err. */
int relay_send(const struct relay_target *t, const char *data, size_t len, struct pat_err *err);

#endif
