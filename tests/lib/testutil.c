/* testutil: see testutil.h. */
#include "tests/lib/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	char *path;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (asprintf(&path, "%s/pat-test.XXXXXX", tmp) < 0)
		fail_msg("asprintf");
	if (mkdtemp(path) == NULL)
		fail_msg("mkdtemp %s: %s", path, strerror(errno));
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void tu_rmtree(const char *path)
{
	if (path != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_write_file(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		fail_msg("asprintf");
	f = fopen(path, "w");
	if (f == NULL)
		fail_msg("open %s: %s", path, strerror(errno));
	fchmod(fileno(f), 0600);
	fputs(text, f);
	fclose(f);
	return path;
}

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			data = realloc(data, cap);
			if (data == NULL)
				fail_msg("realloc");
		}
		r = fread(data + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	data[n] = '\0';
	if (len != NULL)
		*len = n;
	return data;
}

struct sink {
	int fd;
	char *data;
	size_t len, cap;
};

static void sink_read(struct sink *s)
{
	char chunk[8192];
	ssize_t r = read(s->fd, chunk, sizeof chunk);

	if (r <= 0) {
		close(s->fd);
		s->fd = -1;
		return;
	}
	if (s->len + (size_t)r + 1 > s->cap) {
		s->cap = (s->len + (size_t)r + 1) * 2;
		s->data = realloc(s->data, s->cap);
		if (s->data == NULL)
			fail_msg("realloc");
	}
	memcpy(s->data + s->len, chunk, (size_t)r);
	s->len += (size_t)r;
	s->data[s->len] = '\0';
}

/* In a child about to exec: add "NAME=value" entries, remove "NAME=" ones. */
static void apply_env(const char *const *env)
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		const char *eq = strchr(env[i], '=');
		char name[256];

		if (eq == NULL || (size_t)(eq - env[i]) >= sizeof name)
			continue;
		memcpy(name, env[i], (size_t)(eq - env[i]));
		name[eq - env[i]] = '\0';
		if (eq[1] == '\0')
			unsetenv(name);
		else
			setenv(name, eq + 1, 1);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tu_run(struct tu_proc *p, const char *const *argv, const char *const *env, const char *input)
{
	tu_run_as(p, argv, env, input, -1);
}

void tu_run_as(struct tu_proc *p, const char *const *argv, const char *const *env, const char *input,
	       int uid)
{
	int in[2], out[2], err[2];
	struct sink sinks[2];
	size_t in_len = input != NULL ? strlen(input) : 0, in_off = 0;
	double deadline = now_s() + 60;
	pid_t pid;
	int status;

	memset(p, 0, sizeof *p);
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		fail_msg("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		apply_env(env);
		signal(SIGPIPE, SIG_DFL);
		if (uid >= 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid((uid_t)uid) != 0)) {
			dprintf(2, "cannot become uid %d: %s\n", uid, strerror(errno));
			_exit(126);
		}
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	signal(SIGPIPE, SIG_IGN);
	if (in_len == 0) {
		close(in[1]);
		in[1] = -1;
	} else {
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	sinks[0] = (struct sink){ .fd = out[0] };
	sinks[1] = (struct sink){ .fd = err[0] };
	while (sinks[0].fd >= 0 || sinks[1].fd >= 0) {
		struct pollfd pfd[3] = {
			{ .fd = sinks[0].fd, .events = POLLIN },
			{ .fd = sinks[1].fd, .events = POLLIN },
			{ .fd = in[1], .events = POLLOUT },
		};
		if (now_s() > deadline) {
			kill(pid, SIGKILL);
			fail_msg("%s ran for more than 60 s", argv[0]);
		}
		if (poll(pfd, 3, 1000) < 0 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		for (int i = 0; i < 2; i++)
			if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				sink_read(&sinks[i]);
		if (in[1] >= 0 && (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(in[1], input + in_off, in_len - in_off);

			if (w > 0)
				in_off += (size_t)w;
			if (w < 0 || in_off == in_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	p->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	p->out = sinks[0].data != NULL ? sinks[0].data : strdup("");
	p->err = sinks[1].data != NULL ? sinks[1].data : strdup("");
	if (strstr(p->err, "Sanitizer") != NULL || strstr(p->err, "runtime error:") != NULL)
		fail_msg("%s reported a sanitizer error:\n%s", argv[0], p->err);
}

void tu_proc_free(struct tu_proc *p)
{
	free(p->out);
	free(p->err);
	p->out = p->err = NULL;
}

const char *tu_pat_bin(void)
{
	const char *bin = getenv("PAT_BIN");

	return bin != NULL && bin[0] != '\0' ? bin : "build/pat";
}

const char *tu_source_dir(void)
{
	const char *dir = getenv("PAT_SOURCE_DIR");

	return dir != NULL && dir[0] != '\0' ? dir : ".";
}

void tu_assert_contains(const char *haystack, const char *needle, const char *file, int line)
{
	if (haystack == NULL || strstr(haystack, needle) == NULL)
	{
		print_error("expected to find \"%s\" in:\n%s\n", needle, haystack ? haystack : "(null)");
		_fail(file, line);
	}
}

void tu_assert_not_contains(const char *haystack, const char *needle, const char *file, int line)
{
	if (haystack != NULL && strstr(haystack, needle) != NULL)
	{
		print_error("did not expect \"%s\" in:\n%s\n", needle, haystack);
		_fail(file, line);
	}
}

pid_t tu_spawn(const char *const *argv, const char *const *env, const char *log_path)
{
	pid_t pid = fork();

	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int null = open("/dev/null", O_RDONLY);

		if (fd < 0 || null < 0)
			_exit(126);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		apply_env(env);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int tu_wait_exit(pid_t pid, int timeout_ms)
{
	double deadline = now_s() + timeout_ms / 1000.0;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (r < 0 && errno != EINTR)
			fail_msg("waitpid %d: %s", (int)pid, strerror(errno));
		if (now_s() > deadline)
			return -1;
		usleep(10000);
	}
}

int tu_stop(pid_t pid, int sig)
{
	int status;

	kill(pid, sig);
	status = tu_wait_exit(pid, 10000);
	if (status < 0) {
		kill(pid, SIGKILL);
		status = tu_wait_exit(pid, 10000);
	}
	return status;
}

int tu_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		fail_msg("cannot find a free port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

bool tu_wait_port(int port, int timeout_ms)
{
	double deadline = now_s() + timeout_ms / 1000.0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };

	while (now_s() < deadline) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return true;
		usleep(20000);
	}
	return false;
}

void tu_e2e_prepare(const char *dir, const char *const *files, size_t n)
{
	const char *installed = getenv("PAT_E2E_DIR");
	char modules[4200], link_path[4200];
	struct tu_proc p;

	mkdir(dir, 0755);
	for (size_t i = 0; i < n; i++) {
		char src[4300], *text, *copy;

		snprintf(src, sizeof src, "%s/tests/e2e/%s", tu_source_dir(), files[i]);
		text = tu_read_file(src, NULL);
		if (text == NULL)
			fail_msg("cannot read %s", src);
		copy = tu_write_file(dir, files[i], text);
		free(text);
		free(copy);
	}
	if (installed != NULL) {
		snprintf(modules, sizeof modules, "%s/node_modules", installed);
		snprintf(link_path, sizeof link_path, "%s/node_modules", dir);
		if (access(modules, R_OK) == 0 && symlink(modules, link_path) == 0)
			return;
	}
	{
		const char *ci[] = { "npm", "ci", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error", NULL };

		tu_run(&p, ci, NULL, NULL);
		if (p.status != 0)
			fail_msg("npm ci failed (status %d):\n%s%s", p.status, p.out, p.err);
		tu_proc_free(&p);
	}
}

void tu_e2e_run(const char *dir, const char *script, const char *const *env, int timeout_ms, const char *what)
{
	const char *files[] = { "package.json", "package-lock.json", "smtp.js", script };
	char path[4300], out[4300], *log;
	const char *node[] = { "node", path, NULL };
	pid_t pid;
	int status;

	tu_e2e_prepare(dir, files, sizeof files / sizeof files[0]);
	snprintf(path, sizeof path, "%s/%s", dir, script);
	snprintf(out, sizeof out, "%s/%s.out", dir, script);
	pid = tu_spawn(node, env, out);
	status = tu_wait_exit(pid, timeout_ms);
	if (status == -1)
		status = tu_stop(pid, SIGKILL);
	log = tu_read_file(out, NULL);
	if (status != 0)
		fail_msg("%s failed (status %d):\n%s", what, status, log != NULL ? log : "");
	assert_contains(log, "all checks passed");
	free(log);
}
