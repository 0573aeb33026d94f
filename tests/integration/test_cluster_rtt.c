/* Integration tests of `pat cluster rtt`: the round trip from here to every member, by id,
 * with its region, as text and JSON; an unreachable cluster is an error. The nodes run with
 * [cluster] network_latency set. */
#include "tests/lib/testutil.h"
#include "tests/lib/cluster.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rtt_lists_every_member(void **state)
{
	static const char *const regions[] = { "us-east", "eu-west" };
	/* Faster Raft timeouts, as an operator would set after measuring. */
	static const char *const latency[] = { "--set", "cluster.network_latency=20ms", NULL };
	struct tc_cluster c;
	struct tu_proc p;

	(void)state;
	tc_init(&c, 2, regions);
	tc_start(&c, 0, latency);
	tc_start(&c, 1, latency);
	{
		const char *argv[] = { tu_pat_bin(), "cluster", "rtt", "--cluster", c.nodes[0].address, NULL };
		int64_t deadline_tries = 60;

		/* The second node shows once it has joined. */
		for (;;) {
			tu_run(&p, argv, NULL, NULL);
			assert_int_equal(p.status, 0);
			if (strstr(p.out, c.nodes[1].address) != NULL && strstr(p.out, "eu-west") != NULL)
				break;
			tu_proc_free(&p);
			if (--deadline_tries == 0)
				fail_msg("node 2 never appeared in pat cluster rtt");
			sleep(1);
		}
		assert_contains(p.out, "ID     ADDRESS");
		assert_contains(p.out, c.nodes[0].address);
		assert_contains(p.out, "us-east");
		assert_contains(p.out, "ms\n");
		assert_contains(p.out, "largest round trip from here");
		/* Loopback's round trip is far below the floor. */
		assert_contains(p.out, "suggested: [cluster] network_latency = 20ms");
		assert_not_contains(p.out, "unreachable");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "cluster", "rtt", "--json", "--cluster", c.nodes[1].address, NULL };
		json_t *doc, *members;
		json_error_t jerr;

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 0);
		doc = json_loads(p.out, 0, &jerr);
		assert_non_null(doc);
		members = json_object_get(doc, "members");
		assert_int_equal(json_integer_value(json_object_get(doc, "suggested_network_latency_ms")), 20);
		assert_int_equal(json_array_size(members), 2);
		for (size_t i = 0; i < 2; i++) {
			json_t *m = json_array_get(members, i);

			assert_int_equal(json_integer_value(json_object_get(m, "id")), (json_int_t)i + 1);
			assert_true(json_is_integer(json_object_get(m, "rtt_us")));
			assert_true(json_integer_value(json_object_get(m, "rtt_us")) >= 0);
		}
		json_decref(doc);
		tu_proc_free(&p);
	}
	/* A member that stopped is reported, not fatal. */
	tc_stop(&c, 1, SIGKILL);
	{
		const char *argv[] = { tu_pat_bin(), "cluster", "rtt", "--cluster", c.nodes[0].address, NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 0);
		assert_contains(p.out, "unreachable");
		tu_proc_free(&p);
	}
	tc_close(&c);
	{
		char nowhere[64];
		const char *argv[] = { tu_pat_bin(), "cluster", "rtt", "--cluster", nowhere, NULL };

		snprintf(nowhere, sizeof nowhere, "127.0.0.1:%d", tu_free_port());
		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "cannot reach the cluster's leader");
		tu_proc_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rtt_lists_every_member),
	};
	return cmocka_run_group_tests_name("pat cluster rtt", tests, NULL, NULL);
}
