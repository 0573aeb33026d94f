/* Integration tests of `pat netsim`: a real proxy process between a client and an echo server
 * on loopback. The delay it adds is at least what the profile says (no upper bound: timing on
 * a shared machine only ever adds), 5 MB cross it intact and in order under jitter, loss and a
 * bandwidth cap, resets happen, several listeners work from a config file, and bad profiles,
 * addresses and settings are clear errors. */
#include "tests/lib/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/timeutil.h"

static char *dir;
static int echo_port, echo_fd;
static pthread_t echo_thread;

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[65536];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);

			if (w <= 0)
				goto out;
			off += w;
		}
	}
	shutdown(fd, SHUT_WR);
out:
	close(fd);
	return NULL;
}

static void *echo_server(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(echo_fd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			return NULL;
		pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
		pthread_detach(t);
	}
}

static int setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int one = 1;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	dir = tu_mkdtemp();
	echo_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(echo_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(echo_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(echo_fd, 64) != 0)
		return -1;
	getsockname(echo_fd, (struct sockaddr *)&a, &len);
	echo_port = ntohs(a.sin_port);
	return pthread_create(&echo_thread, NULL, echo_server, NULL);
}

static int teardown(void **state)
{
	(void)state;
	shutdown(echo_fd, SHUT_RDWR);
	close(echo_fd);
	pthread_join(echo_thread, NULL);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

struct netsim {
	pid_t pid;
	int port;
	char log[4300];
};

/* Start pat netsim from a free port to the echo server with extra arguments. */
static void start_netsim(struct netsim *n, const char *const *extra)
{
	char listen[32], to[32];
	const char *argv[40] = { tu_pat_bin(), "netsim", "--listen", listen, "--to", to, "--seed", "7" };
	size_t argc = 8;
	static int count;

	n->port = tu_free_port();
	snprintf(listen, sizeof listen, "127.0.0.1:%d", n->port);
	snprintf(to, sizeof to, "127.0.0.1:%d", echo_port);
	snprintf(n->log, sizeof n->log, "%s/netsim-%d.log", dir, ++count);
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;
	n->pid = tu_spawn(argv, NULL, n->log);
	if (!tu_wait_port(n->port, 20000)) {
		char *log = tu_read_file(n->log, NULL);

		fail_msg("pat netsim did not listen; its log:\n%s", log ? log : "");
	}
}

static void stop_netsim(struct netsim *n)
{
	char *log;

	assert_int_equal(tu_stop(n->pid, SIGTERM), 0);
	log = tu_read_file(n->log, NULL);
	if (log != NULL && (strstr(log, "Sanitizer") || strstr(log, "runtime error:")))
		fail_msg("pat netsim reported a sanitizer error:\n%s", log);
	free(log);
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		fail_msg("cannot connect to port %d: %s", port, strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void recv_exactly(int fd, char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = recv(fd, buf + got, n - got, 0);

		if (r <= 0)
			fail_msg("the connection ended after %zu of %zu bytes (%s)", got, n, r < 0 ? strerror(errno) : "EOF");
		got += (size_t)r;
	}
}

/* Round trips of a small message; each in microseconds into rtt[]. */
static void round_trips(int port, int64_t *rtt, int n)
{
	int fd = connect_to(port);
	char msg[32], back[32];

	for (int i = 0; i < n; i++) {
		int64_t start = time_mono_ns();

		snprintf(msg, sizeof msg, "ping %06d", i);
		assert_int_equal(send(fd, msg, 11, 0), 11);
		recv_exactly(fd, back, 11);
		rtt[i] = (time_mono_ns() - start) / 1000;
		assert_memory_equal(msg, back, 11);
	}
	close(fd);
}

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every round trip crosses the proxy twice: it takes at least twice the latency. */
static void adds_the_profiles_delay(void **state)
{
	static const char *const fixed[] = { "--profile", "custom", "--set", "netsim.latency=100ms", NULL };
	static const char *const g3[] = { "--profile", "3G", "--set", "netsim.loss=0", NULL };
	struct netsim n;
	int64_t rtt[10];

	(void)state;
	start_netsim(&n, fixed);
	round_trips(n.port, rtt, 10);
	for (int i = 0; i < 10; i++)
		if (rtt[i] < 2 * 100000 - 2000)
			fail_msg("round trip %d took %lld us through 100 ms each way", i, (long long)rtt[i]);
	stop_netsim(&n);
	/* 3G: 100 ms +- 50 each way, so at least 2 x 50 ms per round trip. */
	start_netsim(&n, g3);
	round_trips(n.port, rtt, 10);
	for (int i = 0; i < 10; i++)
		if (rtt[i] < 2 * 50000 - 2000)
			fail_msg("round trip %d took %lld us through 3G", i, (long long)rtt[i]);
	stop_netsim(&n);
}

/* What the proxy itself costs, at the LAN profile (printed, not asserted). */
static void lan_adds_only_the_proxy(void **state)
{
	static const char *const lan[] = { "--profile", "LAN", NULL };
	struct netsim n;
	int64_t direct[200], proxied[200];

	(void)state;
	start_netsim(&n, lan);
	round_trips(echo_port, direct, 200);
	round_trips(n.port, proxied, 200);
	qsort(direct, 200, sizeof direct[0], by_value);
	qsort(proxied, 200, sizeof proxied[0], by_value);
	printf("pat netsim --profile LAN: median round trip %lld us direct, %lld us through the proxy\n",
	       (long long)direct[100], (long long)proxied[100]);
	stop_netsim(&n);
}

struct sender {
	int fd;
	const unsigned char *data;
	size_t len;
};

static void *send_all(void *arg)
{
	struct sender *s = arg;

	for (size_t off = 0; off < s->len;) {
		ssize_t w = send(s->fd, s->data + off, s->len - off > 65536 ? 65536 : s->len - off, MSG_NOSIGNAL);

		if (w <= 0)
			return NULL;
		off += (size_t)w;
	}
	shutdown(s->fd, SHUT_WR);
	return NULL;
}

/* 5 MB through jitter, loss and a bandwidth cap come back intact, in order, and no faster than
 * the cap allows. */
static void five_megabytes_intact_and_in_order(void **state)
{
	static const char *const bad[] = { "--profile", "Congested", "--set", "netsim.bandwidth=10MiB", NULL };
	const size_t len = 5 * 1000 * 1000;
	unsigned char *data = malloc(len), *back = malloc(len);
	struct sender s;
	pthread_t t;
	struct netsim n;
	int64_t start, elapsed_us;
	size_t got = 0;

	(void)state;
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)((i * 2654435761u) >> 13);
	start_netsim(&n, bad);
	s = (struct sender){ connect_to(n.port), data, len };
	start = time_mono_ns();
	pthread_create(&t, NULL, send_all, &s);
	for (;;) {
		ssize_t r = recv(s.fd, back + got, len - got, 0);

		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == len)
			break;
	}
	elapsed_us = (time_mono_ns() - start) / 1000;
	pthread_join(t, NULL);
	assert_int_equal(got, len);
	assert_memory_equal(data, back, len);
	{
		char end;

		assert_int_equal(recv(s.fd, &end, 1, 0), 0); /* the close came through, after the data */
	}
	close(s.fd);
	/* Each direction is capped at 10 MiB/s: 5 MB cannot cross faster than that. */
	assert_true(elapsed_us >= (int64_t)((double)(len - 2 * 1024 * 1024 / 10) / (10.0 * 1024 * 1024) * 1e6));
	stop_netsim(&n);
	free(data);
	free(back);
}

/* reset = 100%: every connection is reset (both sides) within 5 s. */
static void resets_connections(void **state)
{
	static const char *const reset[] = { "--profile", "custom", "--set", "netsim.reset=100%", NULL };
	struct netsim n;
	struct pollfd p;
	char buf[16];
	int fd;
	ssize_t r;

	(void)state;
	start_netsim(&n, reset);
	fd = connect_to(n.port);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	r = recv(fd, buf, sizeof buf, 0);
	assert_true(r < 0 && errno == ECONNRESET);
	close(fd);
	stop_netsim(&n);
	{
		char *log = tu_read_file(n.log, NULL);

		assert_contains(log, "netsim reset a connection");
		free(log);
	}
}

/* Several listeners, each to its own destination, from [netsim] in a file. */
static void several_links_from_a_config_file(void **state)
{
	char text[512], *conf;
	int p1 = tu_free_port(), p2 = tu_free_port();
	const char *argv[] = { tu_pat_bin(), "netsim", "--config", NULL, NULL };
	char log[4300];
	int64_t rtt[3];
	pid_t pid;

	(void)state;
	snprintf(text, sizeof text,
		 "[netsim]\nlisten = 127.0.0.1:%d\n  127.0.0.1:%d\nto = 127.0.0.1:%d,127.0.0.1:%d\nprofile = custom\nlatency = 20ms\n",
		 p1, p2, echo_port, echo_port);
	conf = tu_write_file(dir, "netsim.conf", text);
	argv[3] = conf;
	snprintf(log, sizeof log, "%s/links.log", dir);
	pid = tu_spawn(argv, NULL, log);
	assert_true(tu_wait_port(p1, 20000));
	assert_true(tu_wait_port(p2, 20000));
	round_trips(p1, rtt, 3);
	assert_true(rtt[2] >= 40000 - 2000);
	round_trips(p2, rtt, 3);
	assert_true(rtt[2] >= 40000 - 2000);
	assert_int_equal(tu_stop(pid, SIGTERM), 0);
	free(conf);
}

/* Without iptables REDIRECT a connection has no other destination than the proxy itself: it is
 * refused rather than looped. */
static void transparent_refuses_what_was_not_redirected(void **state)
{
	char listen[32], log[4300];
	int port = tu_free_port();
	const char *argv[] = { tu_pat_bin(), "netsim", "--listen", listen, "--transparent", NULL };
	char buf[4];
	pid_t pid;
	int fd;

	(void)state;
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	snprintf(log, sizeof log, "%s/transparent.log", dir);
	pid = tu_spawn(argv, NULL, log);
	assert_true(tu_wait_port(port, 20000));
	fd = connect_to(port);
	assert_true(recv(fd, buf, sizeof buf, 0) <= 0);
	close(fd);
	assert_int_equal(tu_stop(pid, SIGTERM), 0);
	{
		char *text = tu_read_file(log, NULL);

		assert_contains(text, "netsim refused a connection");
		free(text);
	}
}

/* The real thing: in a network namespace of its own, iptables REDIRECTs a client's connection
 * to the proxy, which finds the original destination and adds the latency on the way. Needs
 * root, unshare and iptables (deploy/install-deps.sh). */
static void transparent_mode_behind_iptables_redirect(void **state)
{
	/* Whatever happens, the background processes go when the script ends (they hold its
	 * output open); the client retries until the echo server and the proxy both listen. */
	static const char script[] =
		"ip link set lo up || exit 1\n"
		"iptables -t nat -A OUTPUT -p tcp -s 127.0.0.3 -d 127.0.0.2 --dport 7101 -j REDIRECT --to-ports 7102 || exit 1\n"
		"python3 -c '\n"
		"import socket, threading\n"
		"s = socket.socket(); s.bind((\"127.0.0.2\", 7101)); s.listen(4)\n"
		"def echo(c):\n"
		"    while True:\n"
		"        d = c.recv(65536)\n"
		"        if not d: break\n"
		"        c.sendall(d)\n"
		"    c.close()\n"
		"while True:\n"
		"    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()\n"
		"' &\n"
		"echo_pid=$!\n"
		"\"$PAT\" netsim --listen 127.0.0.1:7102 --transparent --profile custom --set netsim.latency=50ms &\n"
		"netsim_pid=$!\n"
		"trap 'kill $echo_pid $netsim_pid 2>/dev/null' EXIT\n"
		"timeout 30 python3 -c '\n"
		"import socket, time\n"
		"for attempt in range(200):\n"
		"    s = socket.socket()\n"
		"    try:\n"
		"        s.bind((\"127.0.0.3\", 0)); s.connect((\"127.0.0.2\", 7101))\n"
		"        t = time.monotonic(); s.sendall(b\"hello\"); got = s.recv(16)\n"
		"        if got == b\"hello\":\n"
		"            print(\"echo=%s rtt_us=%d\" % (got.decode(), (time.monotonic() - t) * 1e6)); break\n"
		"    except OSError:\n"
		"        pass\n"
		"    s.close(); time.sleep(0.1)\n"
		"'\n"
		"kill -TERM $netsim_pid; wait $netsim_pid; echo netsim_status=$?\n";
	char pat_env[4200];
	const char *env[] = { pat_env, NULL };
	const char *argv[] = { "unshare", "-n", "sh", "-c", script, NULL };
	struct tu_proc p;
	const char *rtt;

	(void)state;
	if (geteuid() != 0 || access("/usr/sbin/iptables", X_OK) != 0 || access("/usr/bin/unshare", X_OK) != 0)
		skip();
	snprintf(pat_env, sizeof pat_env, "PAT=%s", tu_pat_bin());
	tu_run(&p, argv, env, NULL);
	if (p.status != 0 || strstr(p.out, "echo=hello") == NULL)
		fail_msg("transparent mode (status %d):\n%s%s", p.status, p.out, p.err);
	rtt = strstr(p.out, "rtt_us=");
	assert_non_null(rtt);
	assert_true(atol(rtt + 7) >= 2 * 50000 - 2000);
	assert_contains(p.out, "netsim_status=0");
	tu_proc_free(&p);
}

static void bad_input_is_a_clear_error(void **state)
{
	struct tu_proc p;

	(void)state;
	{
		const char *argv[] = { tu_pat_bin(), "netsim", "--listen", "127.0.0.1:1", "--to", "127.0.0.1:2", "--profile", "4G", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 2);
		assert_contains(p.err, "pat netsim: unknown profile '4G': expected LAN, 3G, Satellite, Congested or custom");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "netsim", "--listen", "127.0.0.1:1", "--to", "nowhere", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "flag --to: [netsim] to: \"nowhere\" is not a list of addresses (missing ':PORT')");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "netsim", "--to", "127.0.0.1:2", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "[netsim] listen is required by pat netsim but not set");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "netsim", "--listen", "127.0.0.1:1", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "where to? set --to ADDR:PORT");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "netsim", "--listen", "127.0.0.1:1,127.0.0.1:3", "--to", "127.0.0.1:2", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "[netsim] listen has 2 addresses and [netsim] to 1");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "netsim", "--listen", "127.0.0.1:1", "--to", "127.0.0.1:2",
				       "--set", "netsim.loss=150%", "--set", "netsim.profile=fast", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "[netsim] loss: \"150%\" is not a share");
		assert_contains(p.err, "[netsim] profile: unknown profile \"fast\"");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "netsim", "--listen", "no-such-host.invalid:25", "--to", "127.0.0.1:2", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "pat netsim: cannot resolve no-such-host.invalid:25");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "netsim", "extra", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 2);
		assert_contains(p.err, "unexpected argument 'extra'");
		tu_proc_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adds_the_profiles_delay),
		cmocka_unit_test(lan_adds_only_the_proxy),
		cmocka_unit_test(five_megabytes_intact_and_in_order),
		cmocka_unit_test(resets_connections),
		cmocka_unit_test(several_links_from_a_config_file),
		cmocka_unit_test(transparent_refuses_what_was_not_redirected),
		cmocka_unit_test(transparent_mode_behind_iptables_redirect),
		cmocka_unit_test(bad_input_is_a_clear_error),
	};
	return cmocka_run_group_tests_name("pat netsim", tests, setup, teardown);
}
