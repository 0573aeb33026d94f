/* The fault suite (`make test-faults`): Pat's three-region example deployment in network
 * namespaces (tests/lib/regions.h: 40 ms between us-east and eu-west, 90 ms to ap-south, one
 * way), a client in every region sending mail to its own gateway and sending again after a 451
 * or a cut connection, and one nemesis per test: kill -9 the leader, kill -9 the leader's whole
 * region, cut that region off, pause the leader, restart every node. After each, every message
 * acknowledged with 250 must be stored: lost must be 0. A first run without faults measures
 * throughput and accept latency. Each test prints its report (acknowledged / found / lost /
 * duplicated, the time to the first write after the fault, latency per region); the last line
 * sums them up.
 *
 * Environment: PAT_FAULTS_MESSAGES (per region and run, default 7000), PAT_FAULTS_CONNECTIONS
 * (per region, default 128), PAT_FAULTS_ONLY (run only the named nemesis, or "none"),
 * PAT_FAULTS_NETWORK_LATENCY ([cluster] network_latency, default 45ms), PAT_FAULTS_KEEP (keep
 * the logs and the acknowledged ids). Needs root. */
#include "tests/lib/testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/faults.h"

static struct rg_world world;
static char why[512];
static long messages = 7000;
static int connections = 128;
static long total_acked, total_lost, total_duplicated, runs;

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (getenv("PAT_FAULTS_MESSAGES") != NULL)
		messages = atol(getenv("PAT_FAULTS_MESSAGES"));
	if (getenv("PAT_FAULTS_CONNECTIONS") != NULL)
		connections = atoi(getenv("PAT_FAULTS_CONNECTIONS"));
	if (messages < 1 || connections < 1) {
		printf("faults: PAT_FAULTS_MESSAGES and PAT_FAULTS_CONNECTIONS must be whole numbers from 1\n");
		return -1;
	}
	if (!rg_create(&world, why, sizeof why)) {
		/* make test-faults exists to run these: no namespaces is a failure here, not a skip. */
		printf("faults: cannot run the fault suite: %s\n", why);
		return -1;
	}
	printf("faults: %ld messages per region and run over %d connections per region; one way %d ms us-east <-> "
	       "eu-west, %d ms to ap-south; [cluster] network_latency = %s\n",
	       messages, connections, world.near_ms, world.far_ms, world.network_latency);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rg_destroy(&world);
	if (runs > 0)
		printf("faults: all runs: %ld runs, acknowledged %ld, lost %ld, duplicated %ld\n", runs, total_acked,
		       total_lost, total_duplicated);
	return 0;
}

/* After each test, also a failed one: nothing of its deployment is left for the next. */
static int undeploy(void **state)
{
	(void)state;
	rg_undeploy(&world);
	return 0;
}

static void run(const char *name)
{
	const char *only = getenv("PAT_FAULTS_ONLY");
	struct fx_result res;

	if (only != NULL && only[0] != '\0' && strcmp(only, name) != 0)
		skip();
	fx_run(&world, strcmp(name, "none") == 0 ? NULL : fx_nemesis_find(name), messages, connections, &res);
	fx_print(&res);
	runs++;
	total_acked += res.check.acknowledged;
	total_lost += res.check.lost;
	total_duplicated += res.check.duplicated;
	if (res.check.lost != 0)
		fail_msg("%s: %ld acknowledged messages are not stored: %s", name, res.check.lost, res.check.first_lost);
	assert_int_equal(res.check.found, res.check.acknowledged);
	/* Every client got every message accepted in the end: the faults were healed. */
	for (int r = 0; r < RG_REGIONS; r++)
		assert_int_equal(res.load_status[r], 0);
}

static void no_faults(void **state) { (void)state; run("none"); }
static void kill_the_leader(void **state) { (void)state; run("kill-leader"); }
static void kill_the_leaders_region(void **state) { (void)state; run("kill-region"); }
static void partition_the_leaders_region(void **state) { (void)state; run("partition"); }
static void pause_the_leader(void **state) { (void)state; run("pause-leader"); }
static void restart_every_node(void **state) { (void)state; run("restart-nodes"); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(no_faults, undeploy),
		cmocka_unit_test_teardown(kill_the_leader, undeploy),
		cmocka_unit_test_teardown(kill_the_leaders_region, undeploy),
		cmocka_unit_test_teardown(partition_the_leaders_region, undeploy),
		cmocka_unit_test_teardown(pause_the_leader, undeploy),
		cmocka_unit_test_teardown(restart_every_node, undeploy),
	};
	return cmocka_run_group_tests_name("faults: three regions under kill, partition, pause and restart", tests, setup,
					   teardown);
}
