/* Integration tests of deploy/install-deps.sh, the single list of Pat's system packages:
 * idempotence (nothing is touched when everything is present), its checks, and its clear
 * failures. apt-get is replaced on PATH by a recording stand-in, so no test installs anything. */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dir;    /* scratch: the stand-in apt-get, its log, a copy of the script */
static char *script; /* the copy, readable by any user */
static char *path_env;

static int setup(void **state)
{
	char src[4096], *text, *fake;

	(void)state;
	dir = tu_mkdtemp();
	chmod(dir, 0755);
	snprintf(src, sizeof src, "%s/deploy/install-deps.sh", tu_source_dir());
	text = tu_read_file(src, NULL);
	assert_non_null(text);
	script = tu_write_file(dir, "install-deps.sh", text);
	chmod(script, 0755);
	free(text);
	/* apt-get: record the call and what the service policy answers while it runs; fail when
	 * FAKE_APT_FAIL names the sub-command. */
	fake = tu_write_file(dir, "apt-get",
			     "#!/bin/sh\necho \"apt-get $*\" >> \"$FAKE_APT_LOG\"\n"
			     "if [ -x \"$PAT_POLICY_RC_D\" ]; then \"$PAT_POLICY_RC_D\" prometheus start; "
			     "echo \"policy $?\" >> \"$FAKE_APT_LOG\"; else echo 'policy none' >> \"$FAKE_APT_LOG\"; fi\n"
			     "[ \"$1\" = \"$FAKE_APT_FAIL\" ] && exit 100\nexit 0\n");
	chmod(fake, 0755);
	free(fake);
	if (asprintf(&path_env, "PATH=%s:%s", dir, getenv("PATH")) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	free(script);
	free(path_env);
	return 0;
}

static void run(struct tu_proc *p, const char *extra_packages, const char *apt_fail, const char *arg1,
		const char *arg2)
{
	char log_env[4200], extra_env[256], fail_env[64], policy_env[4200];
	const char *argv[] = { "sh", script, arg1, arg2, NULL };
	const char *env[] = { path_env, log_env, extra_env, fail_env, policy_env, NULL };

	snprintf(log_env, sizeof log_env, "FAKE_APT_LOG=%s/apt.log", dir);
	snprintf(policy_env, sizeof policy_env, "PAT_POLICY_RC_D=%s/policy-rc.d", dir);
	snprintf(extra_env, sizeof extra_env, "PAT_EXTRA_PACKAGES=%s", extra_packages ? extra_packages : "");
	snprintf(fail_env, sizeof fail_env, "FAKE_APT_FAIL=%s", apt_fail ? apt_fail : "");
	tu_run(p, argv, env, NULL);
}

static char *apt_log(void)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/apt.log", dir);
	return tu_read_file(path, NULL);
}

static void forget_apt_log(void)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/apt.log", dir);
	unlink(path);
}

static void unlink_shims(void)
{
	char path[4200];

	snprintf(path, sizeof path, "%s/id", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/sudo", dir);
	unlink(path);
}

static void list_names_the_required_packages(void **state)
{
	static const char *const required[] = {
		"libdqlite-dev", "libraft-dev", "libuv1-dev", "libssl-dev", "libcurl4-openssl-dev",
		"libmsgpack-dev", "libcmocka-dev", "libsqlite3-dev", "libgmime-3.0-dev", "libjansson-dev",
		"libzstd-dev", "libinih-dev", "pkg-config", "prometheus", "prometheus-alertmanager", "chromium",
	};
	struct tu_proc p;

	(void)state;
	run(&p, NULL, NULL, "--list", NULL);
	assert_int_equal(p.status, 0);
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		char line[64];

		snprintf(line, sizeof line, "%s\n", required[i]);
		assert_contains(p.out, line);
	}
	tu_proc_free(&p);
}

/* make test has just run the installer, so everything is present: a second run must be
 * silent and must not call apt-get at all (not even apt-get update). */
static void does_nothing_when_everything_is_present(void **state)
{
	struct tu_proc p;
	char *log;

	(void)state;
	forget_apt_log();
	run(&p, NULL, NULL, NULL, NULL);
	assert_int_equal(p.status, 0);
	assert_string_equal(p.out, "");
	assert_string_equal(p.err, "");
	log = apt_log();
	assert_null(log);
	tu_proc_free(&p);
	run(&p, NULL, NULL, "--check", NULL);
	assert_int_equal(p.status, 0);
	tu_proc_free(&p);
}

static void check_names_what_is_missing(void **state)
{
	struct tu_proc p;

	(void)state;
	run(&p, "pat-no-such-package", NULL, "--check", NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.out, "missing: pat-no-such-package");
	tu_proc_free(&p);
}

static void bad_options_are_usage_errors(void **state)
{
	struct tu_proc p;

	(void)state;
	run(&p, NULL, NULL, "--frobnicate", NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unknown option '--frobnicate'");
	tu_proc_free(&p);
	run(&p, NULL, NULL, "--with", "everything");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unknown group 'everything'");
	tu_proc_free(&p);
	run(&p, NULL, NULL, "--with", NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "--with needs a group name");
	tu_proc_free(&p);
}

/* Without root (and without password-less sudo) it must say what it needs, not half-try. */
static void check_refusal(struct tu_proc *p)
{
	if (p->status != 1)
		fail_msg("status %d, stdout:\n%s\nstderr:\n%s", p->status, p->out, p->err);
	assert_contains(p->err, "cannot install the missing packages (pat-no-such-package)");
	assert_contains(p->err, "needs root");
	assert_null(apt_log());
}

static void without_rights_it_fails_clearly(void **state)
{
	char log_env[4200];
	const char *argv[] = { "sh", script, NULL };
	const char *env[] = { path_env, log_env, "PAT_EXTRA_PACKAGES=pat-no-such-package", NULL };
	struct tu_proc p;
	char *shim;

	(void)state;
	snprintf(log_env, sizeof log_env, "FAKE_APT_LOG=%s/apt.log", dir);
	forget_apt_log();
	/* As a real unprivileged user: nobody (65534) when we are root. */
	tu_run_as(&p, argv, env, NULL, getuid() == 0 ? 65534 : -1);
	if (!(p.status == 127 && strstr(p.err, "Permission denied") != NULL)) /* nobody may not reach / in a chroot */
		check_refusal(&p);
	tu_proc_free(&p);
	/* And as a user whom `id -u` reports as unprivileged and sudo refuses, wherever we run. */
	shim = tu_write_file(dir, "id", "#!/bin/sh\necho 1000\n");
	chmod(shim, 0755);
	free(shim);
	shim = tu_write_file(dir, "sudo", "#!/bin/sh\nexit 1\n");
	chmod(shim, 0755);
	free(shim);
	tu_run(&p, argv, env, NULL);
	check_refusal(&p);
	tu_proc_free(&p);
	unlink_shims();
}

static void apt_failures_are_reported(void **state)
{
	struct tu_proc p;
	char *log;

	(void)state;
	if (getuid() != 0)
		skip(); /* only root reaches apt-get */
	forget_apt_log();
	run(&p, "pat-no-such-package", "update", NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "apt-get update failed");
	tu_proc_free(&p);
	run(&p, "pat-no-such-package", "install", NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "apt-get install failed for: pat-no-such-package");
	tu_proc_free(&p);
	/* apt-get "succeeded" but the package is still not there. */
	run(&p, "pat-no-such-package", NULL, NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.out, "installing: pat-no-such-package");
	assert_contains(p.err, "still missing after install: pat-no-such-package");
	log = apt_log();
	assert_contains(log, "apt-get update");
	assert_contains(log, "apt-get install -y -qq --no-install-recommends pat-no-such-package");
	free(log);
	tu_proc_free(&p);
}

/* While apt-get installs, services may not start (policy-rc.d answers 101), and the policy file
 * is gone afterwards; one the administrator put there is used and left alone. */
static void services_do_not_start_during_the_install(void **state)
{
	struct tu_proc p;
	char *log, *policy, path[4200];

	(void)state;
	if (getuid() != 0)
		skip(); /* only root reaches apt-get */
	snprintf(path, sizeof path, "%s/policy-rc.d", dir);
	forget_apt_log();
	run(&p, "pat-no-such-package", NULL, NULL, NULL);
	assert_int_equal(p.status, 1); /* the stand-in installs nothing */
	log = apt_log();
	assert_contains(log, "apt-get install -y -qq --no-install-recommends pat-no-such-package\npolicy 101\n");
	free(log);
	assert_int_equal(access(path, F_OK), -1);
	tu_proc_free(&p);
	/* A failed install removes it too. */
	forget_apt_log();
	run(&p, "pat-no-such-package", "install", NULL, NULL);
	assert_int_equal(p.status, 1);
	log = apt_log();
	assert_contains(log, "policy 101\n");
	free(log);
	assert_int_equal(access(path, F_OK), -1);
	tu_proc_free(&p);
	/* The administrator's own policy stays as it was. */
	policy = tu_write_file(dir, "policy-rc.d", "#!/bin/sh\nexit 104\n");
	chmod(policy, 0755);
	forget_apt_log();
	run(&p, "pat-no-such-package", NULL, NULL, NULL);
	log = apt_log();
	assert_contains(log, "policy 104\n");
	free(log);
	free(policy);
	policy = tu_read_file(path, NULL);
	assert_string_equal(policy, "#!/bin/sh\nexit 104\n");
	free(policy);
	unlink(path);
	tu_proc_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(list_names_the_required_packages),
		cmocka_unit_test(does_nothing_when_everything_is_present),
		cmocka_unit_test(check_names_what_is_missing),
		cmocka_unit_test(bad_options_are_usage_errors),
		cmocka_unit_test(without_rights_it_fails_clearly),
		cmocka_unit_test(apt_failures_are_reported),
		cmocka_unit_test(services_do_not_start_during_the_install),
	};
	return cmocka_run_group_tests_name("install-deps", tests, setup, teardown);
}
