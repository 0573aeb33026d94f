/* Integration tests of Pat under systemd: the units pass `systemd-analyze verify` and carry
 * their sandbox, every example configuration passes `pat config check` for its role,
 * `make install DESTDIR=...` lays out the binary, units and examples, and `pat node`,
 * `pat serve` and `pat gateway` speak the notification protocol (READY=1, WATCHDOG=1,
 * STOPPING=1) to a real AF_UNIX datagram socket passed as $NOTIFY_SOCKET, as systemd would. */
#include "tests/lib/testutil.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/timeutil.h"

static char *dir;

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	dir = tu_mkdtemp();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* Names of the files in src/sub ending in suffix, sorted; returns how many (max 32). */
static int list_files(const char *sub, const char *suffix, char names[][128])
{
	char path[4200];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", tu_source_dir(), sub);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL && n < 32) {
		size_t len = strlen(e->d_name), sl = strlen(suffix);

		if (len > sl && strcmp(e->d_name + len - sl, suffix) == 0)
			snprintf(names[n++], 128, "%s", e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, 128, (int (*)(const void *, const void *))strcmp);
	return n;
}

static char *read_source(const char *sub, const char *name)
{
	char path[4400];
	char *text;

	snprintf(path, sizeof path, "%s/%s/%s", tu_source_dir(), sub, name);
	text = tu_read_file(path, NULL);
	if (text == NULL)
		fail_msg("cannot read %s", path);
	return text;
}

/* text with every occurrence of from replaced by to (caller frees). */
static char *replace_all(const char *text, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	char *out, *o;

	for (const char *p = strstr(text, from); p != NULL; p = strstr(p + fl, from))
		n++;
	out = malloc(strlen(text) + n * (tl > fl ? tl - fl : 0) + 1);
	assert_non_null(out);
	o = out;
	for (const char *p = text;;) {
		const char *q = strstr(p, from);

		if (q == NULL) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
	return out;
}

static void the_units_pass_systemd_analyze_verify(void **state)
{
	static const char *const required[] = {
		"Type=notify\n", "NotifyAccess=main\n", "WatchdogSec=30\n", "Restart=on-failure\n", "DynamicUser=yes\n",
		"ProtectSystem=strict\n", "ProtectHome=yes\n", "PrivateTmp=yes\n", "PrivateDevices=yes\n",
		"NoNewPrivileges=yes\n", "CapabilityBoundingSet=\n", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n",
		"SystemCallFilter=@system-service\n", "MemoryDenyWriteExecute=yes\n", "LockPersonality=yes\n",
		"RestrictNamespaces=yes\n", "RestrictRealtime=yes\n", "ProtectKernelTunables=yes\n",
		"ProtectKernelModules=yes\n", "ProtectKernelLogs=yes\n", "ProtectControlGroups=yes\n",
		"ProtectClock=yes\n", "ProtectHostname=yes\n", "UMask=0077\n", "LimitNOFILE=",
		"ExecStart=/usr/local/bin/pat ",
	};
	char units[32][128], bin[4200], unitdir[4200];
	const char *argv[80] = { "systemd-analyze", "verify", "--man=no" };
	size_t argc = 3;
	char *paths[64];
	size_t n_paths = 0;
	struct tu_proc p;
	int n;

	(void)state;
	n = list_files("deploy/systemd", ".service", units);
	assert_int_equal(n, 3);
	assert_string_equal(units[0], "pat-gateway@.service");
	assert_string_equal(units[1], "pat-node@.service");
	assert_string_equal(units[2], "pat-serve.service");
	if (realpath(tu_pat_bin(), bin) == NULL)
		fail_msg("no pat binary at %s", tu_pat_bin());
	snprintf(unitdir, sizeof unitdir, "%s/units", dir);
	assert_int_equal(mkdir(unitdir, 0700), 0);
	for (int i = 0; i < n; i++) {
		char *text = read_source("deploy/systemd", units[i]);
		char *rewritten;

		for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
			if (strstr(text, required[k]) == NULL)
				fail_msg("deploy/systemd/%s lacks \"%s\"", units[i], required[k]);
		/* A node keeps its data where systemd makes room for it, per instance. */
		if (strcmp(units[i], "pat-node@.service") == 0)
			assert_contains(text, "StateDirectory=pat/%i\n");
		/* systemd-analyze checks that ExecStart's program exists: point it at the build. */
		rewritten = replace_all(text, "/usr/local/bin/pat", bin);
		/* The template, and an instance of it (which expands %i). */
		paths[n_paths++] = tu_write_file(unitdir, units[i], rewritten);
		if (strchr(units[i], '@') != NULL) {
			char inst[160];

			snprintf(inst, sizeof inst, "%.*s@test-1.service", (int)(strchr(units[i], '@') - units[i]), units[i]);
			paths[n_paths++] = tu_write_file(unitdir, inst, rewritten);
		}
		free(rewritten);
		free(text);
	}
	for (size_t i = 0; i < n_paths; i++)
		argv[argc++] = paths[i];
	argv[argc] = NULL;
	tu_run(&p, argv, NULL, NULL);
	/* Warnings about a unit name its file (or the unit) and do not change the exit status. */
	if (p.status != 0 || strstr(p.err, unitdir) != NULL || strstr(p.err, "pat-") != NULL)
		fail_msg("systemd-analyze verify (status %d):\n%s%s", p.status, p.out, p.err);
	tu_proc_free(&p);
	for (size_t i = 0; i < n_paths; i++)
		free(paths[i]);
}

/* Each example configuration passes `pat config check` for its role; the gateways' private
 * keys come from systemd credentials, as the unit provides them. */
static void the_example_configs_pass_config_check(void **state)
{
	char confs[32][128], creds[4200], cred_env[4300];
	const char *env[] = { cred_env, NULL };
	int n, nodes = 0, gateways = 0;

	(void)state;
	snprintf(creds, sizeof creds, "%s/credentials", dir);
	assert_int_equal(mkdir(creds, 0700), 0);
	free(tu_write_file(creds, "smtp-tls.key", "-----BEGIN PRIVATE KEY-----\n"));
	free(tu_write_file(creds, "http-tls.key", "-----BEGIN PRIVATE KEY-----\n"));
	snprintf(cred_env, sizeof cred_env, "CREDENTIALS_DIRECTORY=%s", creds);
	n = list_files("deploy/examples", ".conf", confs);
	for (int i = 0; i < n; i++) {
		const char *role = strncmp(confs[i], "node-", 5) == 0 ? "node" : strncmp(confs[i], "gateway-", 8) == 0 ? "gateway" : NULL;
		char path[4300];
		const char *argv[] = { tu_pat_bin(), "config", "check", "--role", role, "--config", path, NULL };
		struct tu_proc p;

		if (role == NULL)
			fail_msg("deploy/examples/%s: expected node-NAME.conf or gateway-NAME.conf", confs[i]);
		snprintf(path, sizeof path, "%s/deploy/examples/%s", tu_source_dir(), confs[i]);
		tu_run(&p, argv, env, NULL);
		if (p.status != 0)
			fail_msg("pat config check --role %s --config %s:\n%s%s", role, path, p.out, p.err);
		assert_contains(p.out, "configuration OK");
		tu_proc_free(&p);
		*(role[0] == 'n' ? &nodes : &gateways) += 1;
	}
	/* Three regions, two nodes and one gateway each. */
	assert_int_equal(nodes, 6);
	assert_int_equal(gateways, 3);
	{
		static const char *const regions[] = { "us-east", "eu-west", "ap-south" };

		for (size_t r = 0; r < 3; r++) {
			char name[64];
			char *text;

			snprintf(name, sizeof name, "gateway-%s.conf", regions[r]);
			text = read_source("deploy/examples", name);
			assert_contains(text, regions[r]);
			free(text);
			for (int k = 1; k <= 2; k++) {
				char want[64];

				snprintf(name, sizeof name, "node-%s-%d.conf", regions[r], k);
				text = read_source("deploy/examples", name);
				snprintf(want, sizeof want, "region = %s\n", regions[r]);
				assert_contains(text, want);
				free(text);
			}
		}
	}
}

static void make_install_lays_out_the_files(void **state)
{
	static const char *const files[] = {
		"usr/local/bin/pat",
		"usr/local/lib/systemd/system/pat-node@.service",
		"usr/local/lib/systemd/system/pat-gateway@.service",
		"usr/local/lib/systemd/system/pat-serve.service",
		"usr/local/share/doc/pat/examples/node-us-east-1.conf",
		"usr/local/share/doc/pat/examples/node-ap-south-2.conf",
		"usr/local/share/doc/pat/examples/gateway-eu-west.conf",
	};
	char root[4200], destdir[4300], sanitize[64];
	const char *s = getenv("SANITIZE");
	const char *argv[] = { "make", "-s", "-C", tu_source_dir(), "install", destdir, sanitize, NULL };
	struct tu_proc p;
	struct stat st;

	(void)state;
	snprintf(root, sizeof root, "%s/root", dir);
	snprintf(destdir, sizeof destdir, "DESTDIR=%s", root);
	snprintf(sanitize, sizeof sanitize, "SANITIZE=%s", s != NULL && s[0] != '\0' ? s : "0");
	tu_run(&p, argv, NULL, NULL);
	if (p.status != 0)
		fail_msg("make install failed (%d):\n%s%s", p.status, p.out, p.err);
	tu_proc_free(&p);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[4600];

		snprintf(path, sizeof path, "%s/%s", root, files[i]);
		if (stat(path, &st) != 0)
			fail_msg("make install did not write %s", files[i]);
		assert_int_equal(st.st_mode & 0777, i == 0 ? 0755 : 0644);
	}
	{
		char path[4600];
		char *unit;

		snprintf(path, sizeof path, "%s/usr/local/lib/systemd/system/pat-node@.service", root);
		unit = tu_read_file(path, NULL);
		assert_contains(unit, "ExecStart=/usr/local/bin/pat node --config /etc/pat/node-%i.conf\n");
		free(unit);
	}
	/* PREFIX moves everything, and the units follow the binary. */
	{
		const char *argv2[] = { "make", "-s", "-C", tu_source_dir(), "install", destdir, sanitize, "PREFIX=/usr", NULL };
		char path[4600];
		char *unit;

		tu_run(&p, argv2, NULL, NULL);
		assert_int_equal(p.status, 0);
		tu_proc_free(&p);
		snprintf(path, sizeof path, "%s/usr/lib/systemd/system/pat-serve.service", root);
		unit = tu_read_file(path, NULL);
		assert_non_null(unit);
		assert_contains(unit, "ExecStart=/usr/bin/pat serve\n");
		free(unit);
		snprintf(path, sizeof path, "%s/usr/bin/pat", root);
		assert_int_equal(stat(path, &st), 0);
	}
}

/* ---- the notification protocol ------------------------------------------------------- */

struct notifications {
	int fd;            /* the socket the program under test sends to */
	char path[4200];   /* its name, for NOTIFY_SOCKET */
	int ready, watchdog, stopping;
	char status[512];  /* the last STATUS= */
};

static void listen_notifications(struct notifications *n, const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	memset(n, 0, sizeof *n);
	snprintf(n->path, sizeof n->path, "%s/%s", dir, name);
	assert_true(strlen(n->path) < sizeof a.sun_path);
	strcpy(a.sun_path, n->path);
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(n->fd >= 0);
	assert_int_equal(bind(n->fd, (struct sockaddr *)&a, sizeof a), 0);
}

/* Count messages until until() holds or timeout_ms passes; true when it holds. */
static bool collect(struct notifications *n, int timeout_ms, bool (*until)(const struct notifications *n))
{
	int64_t deadline = time_mono_ms() + timeout_ms;

	while (!until(n)) {
		struct pollfd p = { .fd = n->fd, .events = POLLIN };
		int64_t left = deadline - time_mono_ms();
		char msg[1024];
		ssize_t got;

		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return until(n);
		got = recv(n->fd, msg, sizeof msg - 1, 0);
		if (got < 0)
			continue;
		msg[got] = '\0';
		for (char *line = strtok(msg, "\n"); line != NULL; line = strtok(NULL, "\n")) {
			if (strcmp(line, "READY=1") == 0)
				n->ready++;
			else if (strcmp(line, "WATCHDOG=1") == 0)
				n->watchdog++;
			else if (strcmp(line, "STOPPING=1") == 0)
				n->stopping++;
			else if (strncmp(line, "STATUS=", 7) == 0)
				snprintf(n->status, sizeof n->status, "%s", line + 7);
			else
				fail_msg("unexpected notification \"%s\"", line);
		}
	}
	return true;
}

static bool is_ready(const struct notifications *n) { return n->ready > 0; }
static bool pinged_thrice_more(const struct notifications *n) { return n->watchdog >= 3; }
static bool is_stopping(const struct notifications *n) { return n->stopping > 0; }

static void fail_with_log(const char *what, const char *log_path)
{
	char *log = tu_read_file(log_path, NULL);

	fail_msg("%s; the log:\n%s", what, log ? log : "");
}

/* READY once, then watchdog pings, then STOPPING on SIGTERM and exit 0. */
static void check_lifecycle(struct notifications *n, pid_t pid, const char *log_path)
{
	if (!collect(n, 60000, is_ready))
		fail_with_log("no READY=1", log_path);
	assert_int_equal(n->stopping, 0);
	n->watchdog = 0;
	if (!collect(n, 10000, pinged_thrice_more))
		fail_with_log("fewer than 3 WATCHDOG=1 after READY=1 (WATCHDOG_USEC=400000)", log_path);
	kill(pid, SIGTERM);
	if (!collect(n, 20000, is_stopping))
		fail_with_log("no STOPPING=1 after SIGTERM", log_path);
	assert_int_equal(tu_wait_exit(pid, 30000), 0);
	assert_int_equal(n->ready, 1);
	close(n->fd);
	{
		char *log = tu_read_file(log_path, NULL);

		if (log != NULL && (strstr(log, "Sanitizer") || strstr(log, "runtime error:")))
			fail_msg("a sanitizer report:\n%s", log);
		free(log);
	}
}

static void pat_node_notifies_systemd(void **state)
{
	struct notifications n;
	char address[64], log_path[4300], notify_env[4300], state_env[4300], state_dir[4200], data[4300];
	const char *env[] = { notify_env, "WATCHDOG_USEC=400000", state_env, NULL };
	const char *argv[] = { tu_pat_bin(), "node", "--id", "1", "--address", address, "--data", "data", NULL };
	struct stat st;
	pid_t pid;

	(void)state;
	listen_notifications(&n, "node.notify");
	snprintf(address, sizeof address, "127.0.0.1:%d", tu_free_port());
	snprintf(log_path, sizeof log_path, "%s/node.log", dir);
	snprintf(notify_env, sizeof notify_env, "NOTIFY_SOCKET=%s", n.path);
	/* As StateDirectory= would: the relative data directory goes there. */
	snprintf(state_dir, sizeof state_dir, "%s/state", dir);
	assert_int_equal(mkdir(state_dir, 0700), 0);
	snprintf(state_env, sizeof state_env, "STATE_DIRECTORY=%s", state_dir);
	pid = tu_spawn(argv, env, log_path);
	check_lifecycle(&n, pid, log_path);
	assert_contains(n.status, "stopping");
	snprintf(data, sizeof data, "%s/data/pat-node.info", state_dir);
	if (stat(data, &st) != 0)
		fail_with_log("the data directory is not in $STATE_DIRECTORY", log_path);
}

static void pat_serve_notifies_systemd(void **state)
{
	struct notifications n;
	char node_set[64], log_path[4300], notify_env[4300], data[4300];
	const char *env[] = { notify_env, "WATCHDOG_USEC=400000", NULL };
	const char *argv[] = { tu_pat_bin(), "serve", "--data", data, "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0",
			       "--set", node_set, NULL };
	pid_t pid;

	(void)state;
	listen_notifications(&n, "serve.notify");
	snprintf(node_set, sizeof node_set, "node.address=127.0.0.1:%d", tu_free_port());
	snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
	snprintf(notify_env, sizeof notify_env, "NOTIFY_SOCKET=%s", n.path);
	snprintf(data, sizeof data, "%s/serve-data", dir);
	pid = tu_spawn(argv, env, log_path);
	if (!collect(&n, 60000, is_ready))
		fail_with_log("no READY=1", log_path);
	assert_contains(n.status, "SMTP on port");
	check_lifecycle(&n, pid, log_path);
}

/* A gateway is ready only once it reached the cluster: with none to reach it never is. */
static void pat_gateway_is_not_ready_without_a_cluster(void **state)
{
	struct notifications n;
	char cluster[64], log_path[4300], notify_env[4300];
	const char *env[] = { notify_env, "WATCHDOG_USEC=400000", NULL };
	const char *argv[] = { tu_pat_bin(), "gateway", "--cluster", cluster, "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0",
			       NULL };
	pid_t pid;

	(void)state;
	listen_notifications(&n, "gateway.notify");
	snprintf(cluster, sizeof cluster, "127.0.0.1:%d", tu_free_port());
	snprintf(log_path, sizeof log_path, "%s/gateway.log", dir);
	snprintf(notify_env, sizeof notify_env, "NOTIFY_SOCKET=%s", n.path);
	pid = tu_spawn(argv, env, log_path);
	assert_false(collect(&n, 2000, is_ready));
	tu_stop(pid, SIGTERM);
	close(n.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_units_pass_systemd_analyze_verify),
		cmocka_unit_test(the_example_configs_pass_config_check),
		cmocka_unit_test(make_install_lays_out_the_files),
		cmocka_unit_test(pat_node_notifies_systemd),
		cmocka_unit_test(pat_serve_notifies_systemd),
		cmocka_unit_test(pat_gateway_is_not_ready_without_a_cluster),
	};
	return cmocka_run_group_tests_name("systemd", tests, setup, teardown);
}
