/* testutil: what Pat's cmocka tests share: cmocka's prerequisites, temporary files and
 * directories, and running a real program with its output captured. */
#ifndef PAT_TESTS_TESTUTIL_H
#define PAT_TESTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <sys/types.h>

/* A fresh directory under $TMPDIR (or /tmp), removed with everything in it by tu_rmtree(). */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);

/* Write text to dir/name (mode 0600) and return the full path (caller frees). */
char *tu_write_file(const char *dir, const char *name, const char *text);

/* Read a whole file into a NUL-terminated string (caller frees); NULL if it cannot be read. */
char *tu_read_file(const char *path, size_t *len);

/* The result of running a program to completion. */
struct tu_proc {
	int status;   /* exit status, or 128 + signal number when killed */
	char *out;    /* everything written to stdout, NUL-terminated */
	char *err;    /* everything written to stderr, NUL-terminated */
};

/* Run argv[0] (searched in PATH) with argv, stdin from `input` (may be NULL), the current
 * environment plus `env` (NULL-terminated "NAME=value" list, may be NULL; "NAME=" with nothing
 * after the '=' removes NAME), and wait for it. Fails the test when the program cannot be
 * started or runs longer than 60 s. When the program wrote a sanitizer report, the test fails
 * too: a leak or undefined behaviour in a child is a bug like any other. */
void tu_run(struct tu_proc *p, const char *const *argv, const char *const *env, const char *input);
/* The same, as user and group `uid` (root only; -1: as the caller). */
void tu_run_as(struct tu_proc *p, const char *const *argv, const char *const *env, const char *input,
	       int uid);
void tu_proc_free(struct tu_proc *p);

/* Path of the pat executable under test ($PAT_BIN, or build/pat). */
const char *tu_pat_bin(void);
/* The project's source tree ($PAT_SOURCE_DIR, or the current directory). */
const char *tu_source_dir(void);

/* Assert that haystack contains needle, printing both when it does not. */
#define assert_contains(haystack, needle) tu_assert_contains((haystack), (needle), __FILE__, __LINE__)
#define assert_not_contains(haystack, needle) \
	tu_assert_not_contains((haystack), (needle), __FILE__, __LINE__)
void tu_assert_contains(const char *haystack, const char *needle, const char *file, int line);
void tu_assert_not_contains(const char *haystack, const char *needle, const char *file, int line);

/* Prepare dir to run a tests/e2e script: copy the named files of tests/e2e into it and give it
 * the npm packages of tests/e2e's lockfile: those `make test` installed once ($PAT_E2E_DIR,
 * linked), or else `npm ci` run here. */
void tu_e2e_prepare(const char *dir, const char *const *files, size_t n);
/* Run the tests/e2e script with node in dir (prepared as above with the script, smtp.js and
 * the lockfile), env added to the environment, for timeout_ms at most (then killed). The test
 * fails, with what and the script's output, unless it exits 0 and prints "all checks passed". */
void tu_e2e_run(const char *dir, const char *script, const char *const *env, int timeout_ms, const char *what);

/* Background processes: servers a test starts, signals, stops and restarts. */

/* Start argv in the background with stdout and stderr appended to log_path and env added to the
 * environment (as tu_run). Returns its pid; fails the test when it cannot be started. */
pid_t tu_spawn(const char *const *argv, const char *const *env, const char *log_path);
/* Wait up to timeout_ms for pid to exit; its status (as tu_proc.status), or -1 on timeout. */
int tu_wait_exit(pid_t pid, int timeout_ms);
/* Send sig and wait for the exit (SIGKILL after 10 s if needed); the status. */
int tu_stop(pid_t pid, int sig);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tu_free_port(void);
/* Wait up to timeout_ms until 127.0.0.1:port accepts connections. */
bool tu_wait_port(int port, int timeout_ms);

#endif
