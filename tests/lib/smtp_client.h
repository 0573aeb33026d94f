/* smtp_client: the line-level SMTP client of the integration tests: a conversation written
 * command by command with each whole reply read back, and one message sent end to end. */
#ifndef PAT_TESTS_SMTP_CLIENT_H
#define PAT_TESTS_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* One SMTP connection. */
struct smtp_conn {
	int fd;          /* the TCP socket */
	char buf[65536]; /* what was read and not consumed yet */
	size_t len;      /* bytes in buf */
};

/* Connect to 127.0.0.1:port (10 s receive timeout); the test fails when it cannot. */
void smtp_open(struct smtp_conn *c, int port);
/* Connect, expect Pat's greeting as pat.test, say EHLO and expect its first reply line. */
void smtp_hello(struct smtp_conn *c, int port);
void smtp_close(struct smtp_conn *c);
/* Send n bytes as they are; false when the connection took not all of them. */
bool smtp_write(struct smtp_conn *c, const char *text, size_t n);
/* Send a string as it is (smtp_write with its length). */
bool smtp_send(struct smtp_conn *c, const char *text);
/* One whole reply (all its lines); "" when the connection closed. Caller frees. */
char *smtp_reply(struct smtp_conn *c);
/* Read one whole reply; the test fails unless it starts with prefix. */
void smtp_expect(struct smtp_conn *c, const char *prefix);

/* Send one message to 127.0.0.1:port from `from` to rcpts (NULL-terminated) with data (CRLF
 * line ends, no line starting with '.'); every reply must be a success and the id the server
 * queued it as goes to id (64 bytes). */
void smtp_send_mail(int port, const char *from, const char *const *rcpts, const char *data, char *id);

#endif
