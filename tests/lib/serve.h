/* serve: one `pat serve` for a test program: a scratch directory, free loopback ports, the
 * server's log for failure messages, and a stop that fails the test on a sanitizer report. */
#ifndef PAT_TESTS_SERVE_H
#define PAT_TESTS_SERVE_H

#include <stdbool.h>
#include <sys/types.h>

struct ts_serve {
	char *dir;              /* scratch directory; the data directory is dir/data */
	char *log_path;         /* dir/serve.log: the server's stdout and stderr */
	char node_address[32];  /* "127.0.0.1:port" of the node inside */
	char smtp_address[32];  /* "127.0.0.1:port" of the SMTP listener */
	char http_address[32];  /* likewise HTTP; "127.0.0.1:0" (any port, not waited for) without */
	int smtp_port;          /* the SMTP listener's port */
	int http_port;          /* the HTTP listener's port; 0 without */
	pid_t pid;              /* 0 when not running */
};

/* Make the scratch directory and pick free ports (an HTTP port only when http), and ignore
 * SIGPIPE for the test's clients. Nothing is started. */
void ts_serve_init(struct ts_serve *s, bool http);
/* Start `pat serve --data dir/data --smtp ... --http ... --set node.address=...` followed by
 * extra (NULL-terminated, may be NULL) and wait until its listeners accept connections; the
 * test fails with the server's log when they do not within 30 s. */
void ts_serve_start(struct ts_serve *s, const char *const *extra);
/* The server's log so far (caller frees; "" when there is none yet). */
char *ts_serve_log(const struct ts_serve *s);
/* Stop the server when running (SIGTERM; it must exit 0), fail the test when its log has a
 * sanitizer report, and remove the scratch directory. */
void ts_serve_close(struct ts_serve *s);

#endif
