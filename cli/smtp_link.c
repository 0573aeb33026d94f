/* smtp_link: see smtp_link.h. */
#include "cli/smtp_link.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/err.h"
#include "lib/str.h"

int smtp_link_open(struct smtp_link *l, const char *hostport, int timeout_s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	struct addr_hostport a;
	struct timeval tv = { timeout_s, 0 };
	char port[8];

	l->fd = -1;
	l->len = 0;
	if (hostport == NULL || addr_parse(hostport, true, &a, NULL) != PAT_OK || a.port == 0)
		return -1;
	snprintf(port, sizeof port, "%u", a.port);
	if (getaddrinfo(strcmp(a.host, "0.0.0.0") == 0 ? "127.0.0.1" : a.host, port, &hints, &res) != 0)
		return -1;
	l->fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (l->fd >= 0 && connect(l->fd, res->ai_addr, res->ai_addrlen) != 0) {
		close(l->fd);
		l->fd = -1;
	}
	freeaddrinfo(res);
	if (l->fd < 0)
		return -1;
	setsockopt(l->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return 0;
}

void smtp_link_close(struct smtp_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

int smtp_link_reply(struct smtp_link *l, char *text, size_t n)
{
	for (;;) {
		char *line = l->in, *nl;

		while ((nl = memchr(line, '\n', l->len - (size_t)(line - l->in))) != NULL) {
			if (nl - line >= 4 && line[3] != '-') {
				size_t used = (size_t)(nl - l->in) + 1;
				int code = atoi(line);

				snprintf(text, n, "%.*s", (int)(nl - line), line);
				str_trim(text);
				memmove(l->in, l->in + used, l->len - used);
				l->len -= used;
				return code;
			}
			line = nl + 1;
		}
		if (l->len == sizeof l->in) {
			snprintf(text, n, "reply too long");
			return -1;
		}
		{
			ssize_t r = recv(l->fd, l->in + l->len, sizeof l->in - l->len, 0);

			if (r <= 0) {
				snprintf(text, n, "connection closed");
				return -1;
			}
			l->len += (size_t)r;
		}
	}
}

int smtp_link_send(struct smtp_link *l, const char *data, size_t n)
{
	while (n > 0) {
		ssize_t w = send(l->fd, data, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		data += w;
		n -= (size_t)w;
	}
	return 0;
}
