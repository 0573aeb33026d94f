/* Integration tests of a three-region cluster of real `pat node` processes on loopback:
 * formation by joining, followers refusing writes, a leader killed with SIGKILL (the client
 * finds the new leader and every acknowledged write is still there), a restarted node catching
 * up, roles rebalanced across regions when a voter is lost, and the `pat cluster` commands,
 * backup and restore included. */
#include "tests/lib/testutil.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consensus/dq_client.h"
#include "consensus/leader.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "tests/lib/cluster.h"

static const char *const regions[] = { "us-east", "eu-west", "ap-south", "eu-west" };
static struct tc_cluster cluster;
static struct dq_leader leader;

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	tc_init(&cluster, 4, regions);
	for (int i = 0; i < 3; i++)
		tc_start(&cluster, i, NULL);
	/* Every node is a seed; a generous retry window covers an election. */
	return dq_leader_init(&leader, cluster.seeds, "pat", 2000, 20000) == PAT_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dq_leader_close(&leader);
	tc_close(&cluster);
	return 0;
}

/* Wait until the members have the wanted roles ("VVV-", V voter, S standby, X spare, - absent). */
static void wait_roles(const char *want, int timeout_ms)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	char got[TC_MAX_NODES + 1] = "";

	while (time_mono_ms() < deadline) {
		struct dq_member_info *m = NULL;
		size_t n = 0;

		memset(got, '-', (size_t)cluster.n);
		got[cluster.n] = '\0';
		if (dq_leader_members(&leader, 500, &m, &n) == PAT_OK) {
			for (size_t i = 0; i < n; i++)
				if (m[i].m.id >= 1 && m[i].m.id <= (uint64_t)cluster.n)
					got[m[i].m.id - 1] = "VSX"[m[i].m.role];
			mem_free(m);
			if (strcmp(got, want) == 0)
				return;
		}
		usleep(200000);
	}
	fail_msg("roles are %s, wanted %s", got, want);
}

static long count_rows(void)
{
	struct dq_rows rows;
	bool row;
	long n = -1;

	assert_int_equal(dq_leader_query_sql(&leader, "SELECT count(*) FROM acked", NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	if (row)
		n = (long)rows.values[0].integer;
	dq_rows_close(&rows);
	return n;
}

/* Index of the node that leads now. */
static int leader_index(void)
{
	assert_int_equal(dq_leader_connect(&leader), PAT_OK);
	return (int)leader.leader_id - 1;
}

static void nodes_join_and_vote(void **state)
{
	struct tu_proc p;
	const char *argv[] = { tu_pat_bin(), "cluster", "status", "--json", "--cluster", cluster.seeds, NULL };

	(void)state;
	wait_roles("VVV-", 30000);
	tu_run(&p, argv, NULL, NULL);
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "\"region\": \"us-east\"");
	assert_contains(p.out, "\"region\": \"eu-west\"");
	assert_contains(p.out, "\"region\": \"ap-south\"");
	assert_contains(p.out, "\"role\": \"voter\"");
	assert_contains(p.out, "\"leader\": true");
	tu_proc_free(&p);
}

static void followers_refuse_and_point_at_the_leader(void **state)
{
	int l = leader_index(), f = (l + 1) % 3;
	struct dq_client c;
	uint64_t id;
	char address[64];

	(void)state;
	assert_int_equal(dq_client_connect(&c, cluster.nodes[f].address, 2000), PAT_OK);
	assert_int_equal(dq_client_leader(&c, &id, address, sizeof address), PAT_OK);
	assert_int_equal(id, (uint64_t)l + 1);
	assert_string_equal(address, cluster.nodes[l].address);
	assert_int_equal(dq_client_open(&c, "pat"), PAT_OK);
	assert_int_equal(dq_client_exec_sql(&c, "CREATE TABLE t (n)", NULL, 0, NULL), PAT_ENOTLEADER);
	assert_int_equal(c.fail_code, DQ_CODE_NOT_LEADER);
	assert_contains(c.err.msg, "not leader");
	dq_client_close(&c);
}

static void acknowledged_writes_survive_a_killed_leader(void **state)
{
	int l;

	(void)state;
	assert_int_equal(dq_leader_exec_sql(&leader, "CREATE TABLE acked (n INTEGER PRIMARY KEY, body TEXT)", NULL, 0, NULL), PAT_OK);
	for (int i = 0; i < 100; i++) {
		struct dq_value p[2] = { dq_int(i), dq_text("an acknowledged message") };

		assert_int_equal(dq_leader_exec_sql(&leader, "INSERT INTO acked VALUES (?, ?)", p, 2, NULL), PAT_OK);
	}
	l = leader_index();
	assert_int_equal(tc_stop(&cluster, l, SIGKILL), 128 + SIGKILL);
	{
		struct dq_value p[2] = { dq_int(100), dq_text("after the failover") };

		/* The old connection is dead: the client finds the new leader on its own. */
		assert_int_equal(dq_leader_exec_sql(&leader, "INSERT INTO acked VALUES (?, ?)", p, 2, NULL), PAT_OK);
	}
	assert_int_not_equal(leader_index(), l);
	assert_int_equal(count_rows(), 101);
	/* The killed node comes back and catches up; once it leads, it serves every row. */
	tc_start(&cluster, l, NULL);
	wait_roles("VVV-", 30000);
	{
		char id[16];
		const char *argv[] = { tu_pat_bin(), "cluster", "transfer", id, "--cluster", cluster.seeds, NULL };
		struct tu_proc p;

		snprintf(id, sizeof id, "%d", l + 1);
		/* Right after a restart the node may still be catching up: try a few times. */
		for (int attempt = 0; attempt < 10; attempt++) {
			tu_run(&p, argv, NULL, NULL);
			if (p.status == 0)
				break;
			tu_proc_free(&p);
			usleep(500000);
		}
		assert_int_equal(p.status, 0);
		assert_contains(p.out, "leadership transferred");
		tu_proc_free(&p);
	}
	dq_client_close(&leader.client);
	assert_int_equal(leader_index(), l);
	assert_int_equal(count_rows(), 101);
}

static void lost_voter_is_replaced_in_its_region(void **state)
{
	int eu = 1;

	(void)state;
	/* A second eu-west node joins: the voters are full, so it stands by. */
	tc_start(&cluster, 3, NULL);
	wait_roles("VVVS", 30000);
	if (leader_index() == eu) {
		const char *argv[] = { tu_pat_bin(), "cluster", "transfer", "1", "--cluster", cluster.seeds, NULL };
		struct tu_proc p;

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 0);
		tu_proc_free(&p);
		dq_client_close(&leader.client);
	}
	/* eu-west's voter dies: eu-west's standby takes its place, and it steps down. */
	assert_int_equal(tc_stop(&cluster, eu, SIGKILL), 128 + SIGKILL);
	wait_roles("VXVV", 40000);
	assert_int_equal(count_rows(), 101);
}

static void cluster_commands(void **state)
{
	struct tu_proc p;
	const char *remove[] = { tu_pat_bin(), "cluster", "remove", "2", "--cluster", cluster.seeds, NULL };
	const char *status[] = { tu_pat_bin(), "cluster", "status", "--cluster", cluster.seeds, NULL };
	const char *bad[] = { tu_pat_bin(), "cluster", "remove", "0", NULL };
	const char *missing[] = { tu_pat_bin(), "cluster", "transfer", NULL };
	const char *unknown[] = { tu_pat_bin(), "cluster", "explode", NULL };
	const char *nobody[] = { tu_pat_bin(), "cluster", "status", "--cluster", "127.0.0.1:1", NULL };

	(void)state;
	tu_run(&p, remove, NULL, NULL);
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "node 2 removed");
	tu_proc_free(&p);
	tu_run(&p, status, NULL, NULL);
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "ID     ADDRESS");
	assert_not_contains(p.out, cluster.nodes[1].address);
	assert_contains(p.out, "eu-west");
	assert_contains(p.out, ", leader");
	tu_proc_free(&p);
	tu_run(&p, remove, NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "node 2 is not a member");
	tu_proc_free(&p);
	tu_run(&p, bad, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "'0' is not a node id");
	tu_proc_free(&p);
	tu_run(&p, missing, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "missing node ID");
	tu_proc_free(&p);
	tu_run(&p, unknown, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unknown action 'explode'");
	tu_proc_free(&p);
	tu_run(&p, nobody, NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "cannot reach the cluster's leader through 127.0.0.1:1");
	tu_proc_free(&p);
}

static void backup_and_restore_into_a_new_cluster(void **state)
{
	struct tc_cluster fresh;
	struct dq_leader other;
	struct tu_proc p;
	char *file, *garbage;
	struct dq_rows rows;
	bool row;

	(void)state;
	if (asprintf(&file, "%s/backup.db", cluster.dir) < 0)
		fail();
	garbage = tu_write_file(cluster.dir, "garbage.db", "this is not a database");
	{
		const char *argv[] = { tu_pat_bin(), "cluster", "backup", file, "--cluster", cluster.seeds, NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 0);
		assert_contains(p.out, "backup written to");
		tu_proc_free(&p);
	}
	tc_init(&fresh, 1, NULL);
	tc_start(&fresh, 0, NULL);
	{
		const char *argv[] = { tu_pat_bin(), "cluster", "restore", file, "--cluster", fresh.seeds, NULL };
		const char *force[] = { tu_pat_bin(), "cluster", "restore", file, "--force", "--cluster", fresh.seeds, NULL };
		const char *bad[] = { tu_pat_bin(), "cluster", "restore", garbage, "--cluster", fresh.seeds, NULL };
		const char *none[] = { tu_pat_bin(), "cluster", "restore", "/nonexistent.db", "--cluster", fresh.seeds, NULL };

		for (int attempt = 0; attempt < 20; attempt++) { /* the new node may still be electing itself */
			tu_run(&p, argv, NULL, NULL);
			if (p.status == 0 || strstr(p.err, "cannot reach") == NULL)
				break;
			tu_proc_free(&p);
			usleep(250000);
		}
		assert_int_equal(p.status, 0);
		assert_contains(p.out, "restored 1 tables and 101 rows");
		tu_proc_free(&p);
		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "already has a table acked with rows");
		tu_proc_free(&p);
		tu_run(&p, force, NULL, NULL);
		assert_int_equal(p.status, 0);
		tu_proc_free(&p);
		tu_run(&p, bad, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "is not an intact SQLite database");
		tu_proc_free(&p);
		tu_run(&p, none, NULL, NULL);
		assert_int_equal(p.status, 1);
		assert_contains(p.err, "cannot read /nonexistent.db");
		tu_proc_free(&p);
	}
	{
		/* A backup whose table name tries to end the quotes and run SQL of its own. */
		char *evil_file;
		sqlite3 *db;
		const char *argv[] = { tu_pat_bin(), "cluster", "restore", NULL, "--cluster", fresh.seeds, NULL };

		if (asprintf(&evil_file, "%s/evil.db", cluster.dir) < 0)
			fail();
		assert_int_equal(sqlite3_open(evil_file, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "CREATE TABLE \"x\"\" (n); DROP TABLE acked; --\" (n INTEGER);"
						  "INSERT INTO \"x\"\" (n); DROP TABLE acked; --\" VALUES (7);",
					      NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		argv[3] = evil_file;
		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 0);
		assert_contains(p.out, "restored 1 tables and 1 rows");
		tu_proc_free(&p);
		free(evil_file);
	}
	assert_int_equal(dq_leader_init(&other, fresh.seeds, "pat", 2000, 10000), PAT_OK);
	assert_int_equal(dq_leader_query_sql(&other, "SELECT count(*), max(body) FROM acked", NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_int_equal(rows.values[0].integer, 101);
	assert_string_equal(rows.values[1].bytes.ptr, "an acknowledged message");
	dq_rows_close(&rows);
	dq_leader_close(&other);
	assert_int_equal(tc_stop(&fresh, 0, SIGTERM), 0);
	tc_close(&fresh);
	free(file);
	free(garbage);
}

static void sigterm_stops_a_node_cleanly(void **state)
{
	(void)state;
	assert_int_equal(tc_stop(&cluster, 3, SIGTERM), 0);
	{
		char *log = tc_log(&cluster, 3);

		assert_contains(log, "msg=\"stopping on signal\" signal=TERM");
		assert_contains(log, "msg=\"node stopped\" id=4");
		free(log);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nodes_join_and_vote),
		cmocka_unit_test(followers_refuse_and_point_at_the_leader),
		cmocka_unit_test(acknowledged_writes_survive_a_killed_leader),
		cmocka_unit_test(lost_voter_is_replaced_in_its_region),
		cmocka_unit_test(cluster_commands),
		cmocka_unit_test(backup_and_restore_into_a_new_cluster),
		cmocka_unit_test(sigterm_stops_a_node_cleanly),
	};
	return cmocka_run_group_tests_name("three-region cluster", tests, setup, teardown);
}
