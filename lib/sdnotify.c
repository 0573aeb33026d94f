/* sdnotify: see sdnotify.h.
 *
 * The socket is made once at init and kept: a datagram send cannot block on a peer, and systemd
 * identifies the sender by its pid (NotifyAccess=main), not by the socket. Messages are short
 * (a status line), so one send() of the whole text is the whole protocol. */
#include "lib/sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/units.h"

#define SDNOTIFY_MAX 4096 /* longest message sdnotify_sendf() builds */

static void off(struct sdnotify *n)
{
	memset(n, 0, sizeof *n);
	n->fd = -1;
}

/* $WATCHDOG_USEC when it is meant for this process, else 0. */
static uint64_t watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	int64_t v, p;

	if (usec == NULL || units_parse_int(usec, 1, INT64_MAX, &v) != PAT_OK)
		return 0;
	if (pid != NULL && pid[0] != '\0' &&
	    (units_parse_int(pid, 1, INT64_MAX, &p) != PAT_OK || p != (int64_t)getpid()))
		return 0;
	return (uint64_t)v;
}

int sdnotify_init(struct sdnotify *n, struct pat_err *err)
{
	const char *name = getenv("NOTIFY_SOCKET");
	size_t len;

	off(n);
	if (name == NULL || name[0] == '\0')
		return PAT_OK;
	len = strlen(name);
	if (name[0] != '/' && name[0] != '@')
		return err_set(err, PAT_EINVAL, "NOTIFY_SOCKET \"%s\" is not an absolute path or an abstract name (@...)", name);
	if (len >= sizeof n->addr.sun_path)
		return err_set(err, PAT_EINVAL, "NOTIFY_SOCKET is longer than %zu bytes", sizeof n->addr.sun_path - 1);
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, name, len);
	if (name[0] == '@')
		n->addr.sun_path[0] = '\0'; /* abstract: the name's bytes, no NUL counted */
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/' ? 1 : 0));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0) {
		int e = errno;

		off(n);
		return err_set_errno(err, PAT_EIO, e, "cannot make a socket for NOTIFY_SOCKET");
	}
	n->watchdog_usec = watchdog_usec();
	return PAT_OK;
}

void sdnotify_close(struct sdnotify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	off(n);
}

bool sdnotify_enabled(const struct sdnotify *n)
{
	return n->fd >= 0;
}

int sdnotify_send(struct sdnotify *n, const char *state, struct pat_err *err)
{
	ssize_t sent;

	if (n->fd < 0)
		return PAT_OK;
	do
		sent = sendto(n->fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addr_len);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return err_set_errno(err, PAT_EIO, errno, "cannot notify systemd");
	return PAT_OK;
}

int sdnotify_sendf(struct sdnotify *n, struct pat_err *err, const char *fmt, ...)
{
	char text[SDNOTIFY_MAX];
	va_list ap;

	if (n->fd < 0)
		return PAT_OK;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	return sdnotify_send(n, text, err);
}

uint64_t sdnotify_watchdog_interval_ms(const struct sdnotify *n)
{
	uint64_t ms;

	if (n->fd < 0 || n->watchdog_usec == 0)
		return 0;
	ms = n->watchdog_usec / 2000;
	return ms > 0 ? ms : 1;
}
