/* smtp_client: see smtp_client.h. */
#include "tests/lib/smtp_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/lib/testutil.h"

static void open_with_timeout(struct smtp_conn *c, int port, int timeout_s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { timeout_s, 0 };

	c->len = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

void smtp_open(struct smtp_conn *c, int port)
{
	open_with_timeout(c, port, 10);
}

void smtp_hello(struct smtp_conn *c, int port)
{
	smtp_open(c, port);
	smtp_expect(c, "220 pat.test ESMTP");
	smtp_send(c, "EHLO client.test\r\n");
	smtp_expect(c, "250-pat.test");
}

void smtp_close(struct smtp_conn *c)
{
	close(c->fd);
}

bool smtp_write(struct smtp_conn *c, const char *text, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, text, n, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		text += w;
		n -= (size_t)w;
	}
	return true;
}

bool smtp_send(struct smtp_conn *c, const char *text)
{
	return smtp_write(c, text, strlen(text));
}

char *smtp_reply(struct smtp_conn *c)
{
	for (;;) {
		char *line = c->buf;
		char *nl;

		while ((nl = memchr(line, '\n', c->len - (size_t)(line - c->buf))) != NULL) {
			if (nl - line >= 4 && line[3] == ' ') {
				size_t n = (size_t)(nl - c->buf) + 1;
				char *r = strndup(c->buf, n);

				memmove(c->buf, c->buf + n, c->len - n);
				c->len -= n;
				return r;
			}
			line = nl + 1;
		}
		{
			ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);

			if (r <= 0)
				return strdup("");
			c->len += (size_t)r;
		}
	}
}

void smtp_expect(struct smtp_conn *c, const char *prefix)
{
	char *r = smtp_reply(c);

	if (strncmp(r, prefix, strlen(prefix)) != 0)
		fail_msg("expected a reply starting \"%s\", got \"%s\"", prefix, r);
	free(r);
}

void smtp_send_mail(int port, const char *from, const char *const *rcpts, const char *data, char *id)
{
	struct smtp_conn *c = malloc(sizeof *c);
	char line[512], *r;

	assert_non_null(c);
	open_with_timeout(c, port, 20);
	smtp_expect(c, "220");
	smtp_send(c, "EHLO client.test\r\n");
	smtp_expect(c, "250");
	snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", from);
	smtp_send(c, line);
	smtp_expect(c, "250");
	for (; *rcpts != NULL; rcpts++) {
		snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", *rcpts);
		smtp_send(c, line);
		smtp_expect(c, "250");
	}
	smtp_send(c, "DATA\r\n");
	smtp_expect(c, "354");
	smtp_send(c, data);
	smtp_send(c, ".\r\n");
	r = smtp_reply(c);
	if (sscanf(r, "250 2.0.0 Ok: queued as %63s", id) != 1)
		fail_msg("message not accepted: %s", r);
	free(r);
	smtp_send(c, "QUIT\r\n");
	smtp_close(c);
	free(c);
}
