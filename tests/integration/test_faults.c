/* The fault suite's smoke run (tests/faults has the whole suite, `make test-faults`): Pat's
 * three-region example deployment in network namespaces, with 40 ms and 90 ms between the
 * regions, takes mail from a client in every region while its leader is killed with -9 and
 * started again; afterwards every message a client saw acknowledged with 250 is stored.
 * Skipped, saying why, where network namespaces cannot be made (not root). */
#include "tests/lib/testutil.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tests/lib/faults.h"

static struct rg_world world;
static bool have_world;
static char why[512];

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	have_world = rg_create(&world, why, sizeof why);
	if (!have_world)
		printf("fault tests skipped: %s\n", why);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (have_world)
		rg_destroy(&world);
	return 0;
}

/* 1,200 messages from three regions; the leader is killed -9 once a quarter are acknowledged.
 * Every client gets all its messages accepted in the end (it sends again after a 451 or a
 * broken connection), and none that was acknowledged is missing. */
static void acknowledged_mail_survives_a_leader_killed(void **state)
{
	struct fx_result res;

	(void)state;
	if (!have_world)
		skip();
	fx_run(&world, fx_nemesis_find("kill-leader"), 400, 8, &res);
	fx_print(&res);
	for (int r = 0; r < RG_REGIONS; r++)
		assert_int_equal(res.load_status[r], 0);
	assert_int_equal(res.check.acknowledged, res.messages);
	if (res.check.lost != 0)
		fail_msg("%ld acknowledged messages are not stored: %s", res.check.lost, res.check.first_lost);
	assert_int_equal(res.check.found, res.check.acknowledged);
	assert_true(res.check.stored >= res.check.acknowledged);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(acknowledged_mail_survives_a_leader_killed),
	};
	return cmocka_run_group_tests_name("fault smoke run: three regions, the leader killed", tests, setup, teardown);
}
