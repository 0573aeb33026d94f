/* serve: see serve.h. */
#include "tests/lib/serve.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/testutil.h"

#define TS_MAX_ARGS 48

void ts_serve_init(struct ts_serve *s, bool http)
{
	memset(s, 0, sizeof *s);
	signal(SIGPIPE, SIG_IGN);
	s->dir = tu_mkdtemp();
	if (asprintf(&s->log_path, "%s/serve.log", s->dir) < 0)
		fail_msg("asprintf");
	s->smtp_port = tu_free_port();
	snprintf(s->smtp_address, sizeof s->smtp_address, "127.0.0.1:%d", s->smtp_port);
	if (http) {
		s->http_port = tu_free_port();
		snprintf(s->http_address, sizeof s->http_address, "127.0.0.1:%d", s->http_port);
	} else {
		snprintf(s->http_address, sizeof s->http_address, "127.0.0.1:0");
	}
	snprintf(s->node_address, sizeof s->node_address, "127.0.0.1:%d", tu_free_port());
}

void ts_serve_start(struct ts_serve *s, const char *const *extra)
{
	char data[4200], node_set[64];
	const char *argv[TS_MAX_ARGS] = { tu_pat_bin(), "serve", "--data", data, "--smtp", s->smtp_address,
					  "--http", s->http_address, "--set", node_set };
	size_t n = 10;

	snprintf(data, sizeof data, "%s/data", s->dir);
	snprintf(node_set, sizeof node_set, "node.address=%s", s->node_address);
	for (; extra != NULL && *extra != NULL; extra++) {
		if (n + 1 >= TS_MAX_ARGS)
			fail_msg("too many arguments for pat serve");
		argv[n++] = *extra;
	}
	argv[n] = NULL;
	s->pid = tu_spawn(argv, NULL, s->log_path);
	if (!tu_wait_port(s->smtp_port, 30000) || (s->http_port != 0 && !tu_wait_port(s->http_port, 30000))) {
		char *log = ts_serve_log(s);

		fail_msg("pat serve did not listen; its log:\n%s", log);
	}
}

char *ts_serve_log(const struct ts_serve *s)
{
	char *log = tu_read_file(s->log_path, NULL);

	return log != NULL ? log : strdup("");
}

void ts_serve_close(struct ts_serve *s)
{
	char *log;

	if (s->pid > 0)
		assert_int_equal(tu_stop(s->pid, SIGTERM), 0);
	s->pid = 0;
	log = ts_serve_log(s);
	if (strstr(log, "Sanitizer") || strstr(log, "runtime error:"))
		fail_msg("pat serve reported a sanitizer error:\n%s", log);
	free(log);
	tu_rmtree(s->dir);
	free(s->dir);
	free(s->log_path);
	s->dir = s->log_path = NULL;
}
