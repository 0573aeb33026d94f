/* smtp_link: a small blocking SMTP client connection, for the `pat` commands that talk to a
 * gateway (sendmail, load). */
#ifndef PAT_CLI_SMTP_LINK_H
#define PAT_CLI_SMTP_LINK_H

#include <stddef.h>

struct smtp_link {
	int fd;
	char in[8192];
	size_t len;
};

/* Connect to HOST:PORT (0.0.0.0 means this machine) with a receive timeout; 0 or -1. */
int smtp_link_open(struct smtp_link *l, const char *hostport, int timeout_s);
void smtp_link_close(struct smtp_link *l);
/* Read one whole (possibly multi-line) reply: its code, or -1 when the connection failed.
 * text gets the last line. */
int smtp_link_reply(struct smtp_link *l, char *text, size_t n);
/* 0, or -1 when the connection broke. */
int smtp_link_send(struct smtp_link *l, const char *data, size_t n);

#endif
