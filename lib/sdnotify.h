/* sdnotify: telling systemd how a service is doing, without libsystemd.
 *
 * systemd's notification protocol is one AF_UNIX datagram per message, sent to the socket named
 * by $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@'), holding
 * newline-separated assignments: READY=1 once the service works, STATUS=text for
 * `systemctl status`, STOPPING=1 when it begins to stop, WATCHDOG=1 as a keep-alive. A unit
 * with WatchdogSec= sets $WATCHDOG_USEC (and $WATCHDOG_PID, the process meant): a service that
 * sends no WATCHDOG=1 for that long is killed and, with Restart=, started again. Ping from the
 * loop that does the work, so that a stuck loop stops the pings.
 *
 * Without $NOTIFY_SOCKET (not started by systemd, or not Type=notify) every call is a no-op. */
#ifndef PAT_LIB_SDNOTIFY_H
#define PAT_LIB_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lib/err.h"

/* A process's channel to systemd. */
struct sdnotify {
	int fd;                    /* datagram socket, -1 when notifications are off */
	struct sockaddr_un addr;   /* $NOTIFY_SOCKET */
	socklen_t addr_len;        /* bytes of addr in use (abstract names have no NUL) */
	uint64_t watchdog_usec;    /* $WATCHDOG_USEC meant for this process; 0: no watchdog */
};

/* Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. PAT_OK with notifications off when
 * NOTIFY_SOCKET is unset or empty; PAT_EINVAL when it is not a usable socket name (a relative
 * path, or too long), PAT_EIO when no socket can be made. On failure n is off and safe to use. */
int sdnotify_init(struct sdnotify *n, struct pat_err *err);
void sdnotify_close(struct sdnotify *n);

/* True when messages go somewhere. */
bool sdnotify_enabled(const struct sdnotify *n);

/* Send one message: assignments separated by newlines, "READY=1\nSTATUS=serving". PAT_OK also
 * when notifications are off; PAT_EIO when the send fails (systemd gone: callers log it and go
 * on). */
int sdnotify_send(struct sdnotify *n, const char *state, struct pat_err *err);
/* sdnotify_send() with a printf-style message. */
int sdnotify_sendf(struct sdnotify *n, struct pat_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* How often to send WATCHDOG=1, in milliseconds: half the watchdog interval (at least 1), or 0
 * when there is no watchdog for this process. */
uint64_t sdnotify_watchdog_interval_ms(const struct sdnotify *n);

#endif
