/* Unit tests for lib/sdnotify: messages reach a real AF_UNIX datagram socket named by
 * $NOTIFY_SOCKET (a path or an abstract name), the watchdog interval follows $WATCHDOG_USEC and
 * $WATCHDOG_PID, and everything is a no-op without $NOTIFY_SOCKET. */
#include "tests/lib/testutil.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/sdnotify.h"

/* Bind a datagram socket at name ("/path" or "@abstract"); its fd. */
static int bind_listener(const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(a.sun_path, name, len);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&a,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'))), 0);
	return fd;
}

/* The next datagram, NUL-terminated, within 2 s. */
static void receive(int fd, char *out, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t got;

	assert_int_equal(poll(&p, 1, 2000), 1);
	got = recv(fd, out, n - 1, 0);
	assert_true(got >= 0);
	out[got] = '\0';
}

static void unset_is_a_no_op(void **state)
{
	struct sdnotify n;
	struct pat_err err;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "1000000", 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_false(sdnotify_enabled(&n));
	assert_int_equal(sdnotify_send(&n, "READY=1", &err), PAT_OK);
	assert_int_equal(sdnotify_sendf(&n, &err, "STATUS=%d", 1), PAT_OK);
	assert_int_equal(sdnotify_watchdog_interval_ms(&n), 0);
	sdnotify_close(&n);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_false(sdnotify_enabled(&n));
	sdnotify_close(&n);
	unsetenv("WATCHDOG_USEC");
}

static void a_path_socket_gets_each_message(void **state)
{
	char *dir = tu_mkdtemp(), path[4200], got[512];
	struct sdnotify n;
	struct pat_err err;
	int fd;

	(void)state;
	snprintf(path, sizeof path, "%s/notify", dir);
	fd = bind_listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_true(sdnotify_enabled(&n));
	assert_int_equal(sdnotify_watchdog_interval_ms(&n), 0);
	assert_int_equal(sdnotify_send(&n, "READY=1\nSTATUS=serving", &err), PAT_OK);
	receive(fd, got, sizeof got);
	assert_string_equal(got, "READY=1\nSTATUS=serving");
	assert_int_equal(sdnotify_sendf(&n, &err, "STATUS=%d messages", 42), PAT_OK);
	receive(fd, got, sizeof got);
	assert_string_equal(got, "STATUS=42 messages");
	assert_int_equal(sdnotify_send(&n, "STOPPING=1", &err), PAT_OK);
	receive(fd, got, sizeof got);
	assert_string_equal(got, "STOPPING=1");
	sdnotify_close(&n);
	assert_false(sdnotify_enabled(&n));
	close(fd);
	/* Nobody listening any more: an error to log, not a crash. */
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	unlink(path);
	assert_int_equal(sdnotify_send(&n, "WATCHDOG=1", &err), PAT_EIO);
	assert_contains(err.msg, "cannot notify systemd");
	sdnotify_close(&n);
	unsetenv("NOTIFY_SOCKET");
	tu_rmtree(dir);
	free(dir);
}

static void an_abstract_socket_works(void **state)
{
	char name[64], got[64];
	struct sdnotify n;
	struct pat_err err;
	int fd;

	(void)state;
	snprintf(name, sizeof name, "@pat-sdnotify-test-%d", (int)getpid());
	fd = bind_listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_int_equal(sdnotify_send(&n, "WATCHDOG=1", &err), PAT_OK);
	receive(fd, got, sizeof got);
	assert_string_equal(got, "WATCHDOG=1");
	sdnotify_close(&n);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void the_watchdog_is_for_this_process_only(void **state)
{
	char pid[32];
	struct sdnotify n;
	struct pat_err err;

	(void)state;
	setenv("NOTIFY_SOCKET", "@pat-sdnotify-watchdog", 1);
	setenv("WATCHDOG_USEC", "400000", 1);
	unsetenv("WATCHDOG_PID");
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_int_equal(sdnotify_watchdog_interval_ms(&n), 200);
	sdnotify_close(&n);
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_int_equal(sdnotify_watchdog_interval_ms(&n), 200);
	sdnotify_close(&n);
	snprintf(pid, sizeof pid, "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_int_equal(sdnotify_watchdog_interval_ms(&n), 0);
	sdnotify_close(&n);
	unsetenv("WATCHDOG_PID");
	/* Tiny, malformed and absent values. */
	setenv("WATCHDOG_USEC", "1", 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_int_equal(sdnotify_watchdog_interval_ms(&n), 1);
	sdnotify_close(&n);
	setenv("WATCHDOG_USEC", "soon", 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_OK);
	assert_int_equal(sdnotify_watchdog_interval_ms(&n), 0);
	sdnotify_close(&n);
	unsetenv("WATCHDOG_USEC");
	unsetenv("NOTIFY_SOCKET");
}

static void bad_socket_names_are_refused(void **state)
{
	char longname[200];
	struct sdnotify n;
	struct pat_err err;

	(void)state;
	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_EINVAL);
	assert_contains(err.msg, "not an absolute path");
	assert_false(sdnotify_enabled(&n));
	assert_int_equal(sdnotify_send(&n, "READY=1", &err), PAT_OK);
	sdnotify_close(&n);
	memset(longname, 'x', sizeof longname - 1);
	longname[0] = '/';
	longname[sizeof longname - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	assert_int_equal(sdnotify_init(&n, &err), PAT_EINVAL);
	assert_contains(err.msg, "longer than");
	sdnotify_close(&n);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unset_is_a_no_op),
		cmocka_unit_test(a_path_socket_gets_each_message),
		cmocka_unit_test(an_abstract_socket_works),
		cmocka_unit_test(the_watchdog_is_for_this_process_only),
		cmocka_unit_test(bad_socket_names_are_refused),
	};
	return cmocka_run_group_tests_name("sdnotify", tests, NULL, NULL);
}
