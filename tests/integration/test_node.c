/* Integration tests of `pat node`'s refusals: mistakes an operator can make with ids, data
 * directories and joining, each answered at start with a clear message and exit status 1. */
#include "tests/lib/testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static int setup(void **state)
{
	(void)state;
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

static void run_node(struct tu_proc *p, const char *id, const char *data, int port, const char *join)
{
	char address[64], datadir[4200];
	const char *argv[16] = { tu_pat_bin(), "node", "--id", id, "--address", address, "--data", datadir };
	size_t n = 8;

	snprintf(address, sizeof address, "127.0.0.1:%d", port);
	snprintf(datadir, sizeof datadir, "%s/%s", dir, data);
	if (join != NULL) {
		argv[n++] = "--join";
		argv[n++] = join;
	}
	argv[n] = NULL;
	tu_run(p, argv, NULL, NULL);
}

static void a_new_node_other_than_1_must_join(void **state)
{
	struct tu_proc p;

	(void)state;
	run_node(&p, "2", "two", tu_free_port(), NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "node 2 has no cluster to join: set [node] join");
	tu_proc_free(&p);
}

static void node_1_does_not_join(void **state)
{
	struct tu_proc p;

	(void)state;
	run_node(&p, "1", "one-joining", tu_free_port(), "127.0.0.1:9");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "node 1 bootstraps a new cluster; a node that joins an existing one needs another id");
	tu_proc_free(&p);
}

static void a_data_directory_serves_one_node(void **state)
{
	int port = tu_free_port();
	char address[64], datadir[4200], log[4300];
	const char *argv[] = { tu_pat_bin(), "node", "--id", "1", "--address", address, "--data", datadir, NULL };
	struct tu_proc p;
	pid_t pid;

	(void)state;
	snprintf(address, sizeof address, "127.0.0.1:%d", port);
	snprintf(datadir, sizeof datadir, "%s/shared", dir);
	snprintf(log, sizeof log, "%s/first.log", dir);
	pid = tu_spawn(argv, NULL, log);
	assert_true(tu_wait_port(port, 20000));
	/* A second process on the same directory. */
	run_node(&p, "1", "shared", tu_free_port(), NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "is in use by another pat node");
	tu_proc_free(&p);
	assert_int_equal(tu_stop(pid, SIGTERM), 0);
	/* The directory remembers whose it is, and where it listened. */
	run_node(&p, "3", "shared", port, "127.0.0.1:9");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "belongs to node 1, not node 3");
	tu_proc_free(&p);
	run_node(&p, "1", "shared", tu_free_port(), NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "cannot change to");
	tu_proc_free(&p);
}

static void bad_id_is_a_configuration_error(void **state)
{
	struct tu_proc p;

	(void)state;
	run_node(&p, "0", "zero", tu_free_port(), NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "flag --id: [node] id: \"0\" is out of range");
	tu_proc_free(&p);
	{
		const char *argv[] = { tu_pat_bin(), "node", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "[node] id is required by pat node but not set");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "node", "extra", NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 2);
		assert_contains(p.err, "unexpected argument 'extra'");
		tu_proc_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_new_node_other_than_1_must_join),
		cmocka_unit_test(node_1_does_not_join),
		cmocka_unit_test(a_data_directory_serves_one_node),
		cmocka_unit_test(bad_id_is_a_configuration_error),
	};
	return cmocka_run_group_tests_name("pat node", tests, setup, teardown);
}
