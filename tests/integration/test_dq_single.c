/* Integration tests of the dqlite client against a real single-node cluster (`pat node` on
 * loopback): every value type, large blobs, multi-part result sets, prepared statements,
 * concurrent writers, errors, timeouts and allocation failures. */
#include "tests/lib/testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <dqlite.h>

#include "consensus/dq_client.h"
#include "consensus/leader.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "node/server.h"
#include "tests/lib/cluster.h"

static struct tc_cluster cluster;

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	tc_init(&cluster, 1, NULL);
	tc_start(&cluster, 0, NULL);
	/* The node writes its own membership row once it starts; let it finish, so that the
	 * tests below are the only writers (dqlite refuses a second writer at once). */
	{
		struct dq_leader l;
		bool registered = false;

		if (dq_leader_init(&l, cluster.seeds, "pat", 2000, 10000) != PAT_OK)
			return -1;
		for (int i = 0; i < 200 && !registered; i++) {
			struct dq_rows rows;
			bool row = false;

			if (dq_leader_query_sql(&l, "SELECT count(*) FROM pat_members", NULL, 0, &rows) == PAT_OK) {
				registered = dq_rows_next(&rows, &row) == PAT_OK && row && rows.values[0].integer == 1;
				dq_rows_close(&rows);
			}
			if (!registered)
				usleep(50000);
		}
		dq_leader_close(&l);
		if (!registered)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (cluster.nodes[0].pid != 0)
		assert_int_equal(tc_stop(&cluster, 0, SIGTERM), 0);
	tc_close(&cluster);
	return 0;
}

/* A read that proves the connection works. */
static int ping(struct dq_client *c)
{
	struct dq_rows rows;
	bool row = false;
	int rv = dq_client_query_sql(c, "SELECT 1", NULL, 0, &rows);

	if (rv == PAT_OK)
		rv = dq_rows_next(&rows, &row);
	dq_rows_close(&rows);
	return rv == PAT_OK && row ? PAT_OK : (rv != PAT_OK ? rv : PAT_EPROTO);
}

static void open_db(struct dq_client *c)
{
	/* The node may still be electing itself right after it starts. */
	for (int i = 0; i < 100; i++) {
		if (dq_client_connect(c, cluster.nodes[0].address, 5000) == PAT_OK && dq_client_open(c, "pat") == PAT_OK &&
		    ping(c) == PAT_OK)
			return;
		dq_client_close(c);
		usleep(100000);
	}
	fail_msg("cannot open the database on %s: %s", cluster.nodes[0].address, c->err.msg);
}

static void every_type_round_trips(void **state)
{
	struct dq_client c;
	struct dq_result r;
	struct dq_rows rows;
	bool row;
	struct dq_value params[] = { dq_int(-42), dq_float(3.25), dq_text("h\xc3\xa9llo, world"), dq_blob("\x00\x01\x02", 3),
				     dq_null(), dq_int(1700000000), { .type = DQ_BOOLEAN, .integer = 1 } };

	(void)state;
	open_db(&c);
	assert_int_equal(dq_client_exec_sql(&c, "CREATE TABLE types (i INTEGER, f REAL, t TEXT, b BLOB, n, d DATETIME, ok BOOLEAN)",
					    NULL, 0, &r), PAT_OK);
	assert_int_equal(dq_client_exec_sql(&c, "INSERT INTO types VALUES (?, ?, ?, ?, ?, ?, ?)", params, 7, &r), PAT_OK);
	assert_int_equal(r.rows_affected, 1);
	assert_int_equal(r.last_insert_id, 1);
	assert_int_equal(dq_client_query_sql(&c, "SELECT * FROM types", NULL, 0, &rows), PAT_OK);
	assert_int_equal(rows.n_columns, 7);
	assert_string_equal(rows.columns[0], "i");
	assert_string_equal(rows.columns[6], "ok");
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_true(row);
	assert_int_equal(rows.values[0].type, DQ_INTEGER);
	assert_int_equal(rows.values[0].integer, -42);
	assert_int_equal(rows.values[1].type, DQ_FLOAT);
	assert_true(rows.values[1].real == 3.25);
	assert_int_equal(rows.values[2].type, DQ_TEXT);
	assert_string_equal(rows.values[2].bytes.ptr, "h\xc3\xa9llo, world");
	assert_int_equal(rows.values[3].type, DQ_BLOB);
	assert_int_equal(rows.values[3].bytes.len, 3);
	assert_memory_equal(rows.values[3].bytes.ptr, "\x00\x01\x02", 3);
	assert_int_equal(rows.values[4].type, DQ_NULL);
	assert_int_equal(rows.values[5].type, DQ_UNIXTIME);
	assert_int_equal(rows.values[5].integer, 1700000000);
	assert_int_equal(rows.values[6].type, DQ_BOOLEAN);
	assert_int_equal(rows.values[6].integer, 1);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_false(row);
	dq_rows_close(&rows);
	dq_client_close(&c);
}

static void sixteen_mib_blob(void **state)
{
	size_t n = 16u << 20;
	char *blob = malloc(n);
	struct dq_client c;
	struct dq_value p;
	struct dq_rows rows;
	bool row;

	(void)state;
	for (size_t i = 0; i < n; i++)
		blob[i] = (char)(i * 31 + (i >> 13));
	open_db(&c);
	c.timeout_ms = 60000;
	assert_int_equal(dq_client_exec_sql(&c, "CREATE TABLE big (b BLOB)", NULL, 0, NULL), PAT_OK);
	p = dq_blob(blob, n);
	assert_int_equal(dq_client_exec_sql(&c, "INSERT INTO big VALUES (?)", &p, 1, NULL), PAT_OK);
	assert_int_equal(dq_client_query_sql(&c, "SELECT b FROM big", NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_true(row);
	assert_int_equal(rows.values[0].bytes.len, n);
	assert_true(memcmp(rows.values[0].bytes.ptr, blob, n) == 0);
	dq_rows_close(&rows);
	dq_client_close(&c);
	free(blob);
}

static void result_sets_span_parts(void **state)
{
	struct dq_client c;
	struct dq_rows rows;
	struct dq_value p[2];
	char text[64];
	bool row;
	long seen = 0;

	(void)state;
	open_db(&c);
	assert_int_equal(dq_client_exec_sql(&c, "CREATE TABLE many (n INTEGER, s TEXT)", NULL, 0, NULL), PAT_OK);
	assert_int_equal(dq_client_exec_sql(&c, "BEGIN", NULL, 0, NULL), PAT_OK);
	for (int i = 0; i < 5000; i++) {
		snprintf(text, sizeof text, "recipient-%d@example.com", i);
		p[0] = dq_int(i);
		p[1] = dq_text(text);
		assert_int_equal(dq_client_exec_sql(&c, "INSERT INTO many VALUES (?, ?)", p, 2, NULL), PAT_OK);
	}
	assert_int_equal(dq_client_exec_sql(&c, "COMMIT", NULL, 0, NULL), PAT_OK);
	/* 5000 rows of ~48 bytes are far more than one part (dqlite fills about a page). */
	assert_int_equal(dq_client_query_sql(&c, "SELECT n, s FROM many ORDER BY n", NULL, 0, &rows), PAT_OK);
	for (;;) {
		assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
		if (!row)
			break;
		snprintf(text, sizeof text, "recipient-%ld@example.com", seen);
		assert_int_equal(rows.values[0].integer, seen);
		assert_string_equal(rows.values[1].bytes.ptr, text);
		seen++;
	}
	assert_int_equal(seen, 5000);
	dq_rows_close(&rows);
	/* Abandoning a result set part-way interrupts it; the connection stays usable. */
	assert_int_equal(dq_client_query_sql(&c, "SELECT n, s FROM many", NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_true(row);
	assert_int_equal(dq_client_exec_sql(&c, "SELECT 1", NULL, 0, NULL), PAT_EBUSY); /* not while reading */
	dq_rows_close(&rows);
	assert_int_equal(dq_client_query_sql(&c, "SELECT count(*) FROM many", NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_int_equal(rows.values[0].integer, 5000);
	dq_rows_close(&rows);
	dq_client_close(&c);
}

static void prepared_statements(void **state)
{
	struct dq_client c;
	struct dq_rows rows;
	struct dq_result r;
	uint32_t insert, select;
	uint64_t n_params;
	bool row;

	(void)state;
	open_db(&c);
	assert_int_equal(dq_client_exec_sql(&c, "CREATE TABLE prep (k TEXT PRIMARY KEY, v INTEGER)", NULL, 0, NULL), PAT_OK);
	assert_int_equal(dq_client_prepare(&c, "INSERT INTO prep VALUES (?, ?)", &insert, &n_params), PAT_OK);
	assert_int_equal(n_params, 2);
	for (int i = 0; i < 10; i++) {
		char k[16];
		struct dq_value p[2];

		snprintf(k, sizeof k, "k%d", i);
		p[0] = dq_text(k);
		p[1] = dq_int(i * i);
		assert_int_equal(dq_client_exec(&c, insert, p, 2, &r), PAT_OK);
	}
	assert_int_equal(dq_client_prepare(&c, "SELECT v FROM prep WHERE k = ?", &select, NULL), PAT_OK);
	{
		struct dq_value p = dq_text("k7");

		assert_int_equal(dq_client_query(&c, select, &p, 1, &rows), PAT_OK);
	}
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_int_equal(rows.values[0].integer, 49);
	dq_rows_close(&rows);
	assert_int_equal(dq_client_finalize(&c, insert), PAT_OK);
	assert_int_equal(dq_client_finalize(&c, select), PAT_OK);
	/* A finalized statement is gone: the client refuses it without sending anything (dqlite
	 * 1.11.1 would crash on it), and the connection stays usable. */
	assert_int_equal(dq_client_exec(&c, insert, NULL, 0, &r), PAT_EINVAL);
	assert_contains(c.err.msg, "statement 0 is not prepared on this connection");
	assert_int_equal(dq_client_finalize(&c, 77), PAT_EINVAL);
	assert_int_equal(ping(&c), PAT_OK);
	dq_client_close(&c);
}

/* Cached statements: prepared once per connection, evicted beyond the cache's size, and
 * prepared again on a new connection (never run by a stale id). */
static void cached_statements(void **state)
{
	struct dq_client c;
	struct dq_result r;
	int64_t v = 0;

	(void)state;
	open_db(&c);
	assert_int_equal(dq_client_exec_sql(&c, "CREATE TABLE cached (k INTEGER PRIMARY KEY, v INTEGER)", NULL, 0, NULL), PAT_OK);
	for (int i = 0; i < 5; i++) {
		struct dq_value p[2] = { dq_int(i), dq_int(i * 10) };

		assert_int_equal(dq_client_exec_cached(&c, "INSERT INTO cached VALUES (?, ?)", p, 2, &r), PAT_OK);
		assert_int_equal(r.rows_affected, 1);
	}
	assert_int_equal(c.n_stmts, 1); /* one statement, prepared once */
	for (int i = 0; i < DQ_STMT_CACHE + 4; i++) {
		char sql[96];
		struct dq_value p = dq_int(i);

		snprintf(sql, sizeof sql, "UPDATE cached SET v = v + ? WHERE k = %d", i % 5);
		assert_int_equal(dq_client_exec_cached(&c, sql, &p, 1, NULL), PAT_OK);
	}
	assert_true(c.n_stmts <= DQ_STMT_CACHE);
	/* A bad statement is an error, and the cache still works. */
	assert_int_equal(dq_client_exec_cached(&c, "INSERT INTO nowhere VALUES (?)", NULL, 0, NULL), PAT_EREMOTE);
	dq_client_close(&c);
	open_db(&c);
	{
		struct dq_value p[2] = { dq_int(100), dq_int(7) };

		assert_int_equal(dq_client_exec_cached(&c, "INSERT INTO cached VALUES (?, ?)", p, 2, &r), PAT_OK);
	}
	{
		struct dq_rows rows;
		bool row = false;

		assert_int_equal(dq_client_query_sql(&c, "SELECT count(*) FROM cached", NULL, 0, &rows), PAT_OK);
		assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
		assert_true(row);
		v = rows.values[0].integer;
		dq_rows_close(&rows);
	}
	assert_int_equal(v, 6);
	assert_int_equal(dq_client_exec_sql(&c, "DROP TABLE cached", NULL, 0, NULL), PAT_OK);
	dq_client_close(&c);
}

static void second_writer_is_told_database_is_locked(void **state)
{
	struct dq_client a, b;
	struct dq_value p = dq_int(1);

	(void)state;
	open_db(&a);
	open_db(&b);
	assert_int_equal(dq_client_exec_sql(&a, "CREATE TABLE locked (n INTEGER)", NULL, 0, NULL), PAT_OK);
	assert_int_equal(dq_client_exec_sql(&a, "BEGIN", NULL, 0, NULL), PAT_OK);
	assert_int_equal(dq_client_exec_sql(&a, "INSERT INTO locked VALUES (?)", &p, 1, NULL), PAT_OK);
	assert_int_equal(dq_client_exec_sql(&b, "INSERT INTO locked VALUES (2)", NULL, 0, NULL), PAT_EBUSY);
	assert_contains(b.err.msg, "database is locked");
	assert_int_equal(dq_client_exec_sql(&a, "COMMIT", NULL, 0, NULL), PAT_OK);
	assert_int_equal(dq_client_exec_sql(&b, "INSERT INTO locked VALUES (2)", NULL, 0, NULL), PAT_OK);
	dq_client_close(&a);
	dq_client_close(&b);
}

static void sql_errors_keep_the_connection(void **state)
{
	struct dq_client c;
	struct dq_value many[DQ_MAX_PARAMS + 1];

	(void)state;
	open_db(&c);
	assert_int_equal(dq_client_exec_sql(&c, "INSERT INTO no_such_table VALUES (1)", NULL, 0, NULL), PAT_EREMOTE);
	assert_contains(c.err.msg, "no such table: no_such_table");
	assert_int_equal(c.fail_code, 1);
	for (int i = 0; i <= DQ_MAX_PARAMS; i++)
		many[i] = dq_int(i);
	assert_int_equal(dq_client_exec_sql(&c, "SELECT ?", many, DQ_MAX_PARAMS + 1, NULL), PAT_EINVAL);
	assert_contains(c.err.msg, "at most 255");
	assert_true(dq_client_connected(&c));
	assert_int_equal(ping(&c), PAT_OK);
	dq_client_close(&c);
	/* Without OPEN there is no database to use. */
	assert_int_equal(dq_client_connect(&c, cluster.nodes[0].address, 5000), PAT_OK);
	assert_int_equal(dq_client_exec_sql(&c, "CREATE TABLE x (n)", NULL, 0, NULL), PAT_EINVAL);
	dq_client_close(&c);
}

static void silent_peer_times_out(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char address[64];
	struct dq_client c;
	uint64_t id;

	(void)state;
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 4), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	snprintf(address, sizeof address, "127.0.0.1:%d", ntohs(a.sin_port));
	/* The kernel completes the connection; nobody ever answers. */
	assert_int_equal(dq_client_connect(&c, address, 300), PAT_OK);
	assert_int_equal(dq_client_leader(&c, &id, address, sizeof address), PAT_ETIMEDOUT);
	assert_false(dq_client_connected(&c));
	assert_int_equal(dq_client_leader(&c, &id, address, sizeof address), PAT_ECLOSED);
	dq_client_close(&c);
	close(fd);
	/* A closed port is refused at once. */
	snprintf(address, sizeof address, "127.0.0.1:%d", tu_free_port());
	assert_int_equal(dq_client_connect(&c, address, 2000), PAT_ECLOSED);
	assert_contains(c.err.msg, "Connection refused");
	dq_client_close(&c);
	assert_int_equal(dq_client_connect(&c, "nonsense", 2000), PAT_EINVAL);
	dq_client_close(&c);
}

static void allocation_failures(void **state)
{
	bool ok = false;

	(void)state;
	for (long n = 0; n < 200 && !ok; n++) {
		struct dq_client c;
		struct dq_rows rows;
		struct dq_value p = dq_text("allocation");
		bool row = false;
		int rv;

		open_db(&c);
		mem_fail_after(n, true);
		rv = dq_client_exec_sql(&c, "INSERT INTO prep VALUES (?, 0) ON CONFLICT DO NOTHING", &p, 1, NULL);
		if (rv == PAT_OK)
			rv = dq_client_query_sql(&c, "SELECT k FROM prep ORDER BY k", NULL, 0, &rows);
		if (rv == PAT_OK) {
			rv = dq_rows_next(&rows, &row);
			dq_rows_close(&rows);
		}
		mem_fail_reset();
		assert_true(rv == PAT_OK || rv == PAT_ENOMEM);
		ok = rv == PAT_OK && row;
		dq_client_close(&c);
	}
	assert_true(ok);
}

static void leader_following_on_one_node(void **state)
{
	struct dq_leader l;
	struct dq_member_info *m;
	size_t n;
	char seeds[128];

	(void)state;
	/* A dead seed first: the next one answers. */
	snprintf(seeds, sizeof seeds, "127.0.0.1:%d,%s", tu_free_port(), cluster.nodes[0].address);
	assert_int_equal(dq_leader_init(&l, seeds, "pat", 2000, 5000), PAT_OK);
	assert_int_equal(dq_leader_exec_sql(&l, "CREATE TABLE IF NOT EXISTS follow (n INTEGER)", NULL, 0, NULL), PAT_OK);
	assert_int_equal(l.leader_id, 1);
	assert_string_equal(l.leader_address, cluster.nodes[0].address);
	assert_int_equal(dq_leader_members(&l, 1000, &m, &n), PAT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].m.id, 1);
	assert_int_equal(m[0].m.role, DQ_VOTER);
	assert_true(m[0].online);
	mem_free(m);
	dq_leader_close(&l);
	assert_int_equal(dq_leader_init(&l, "bad", "pat", 2000, 5000), PAT_EINVAL);
	dq_leader_close(&l);
}

static void describe_and_weight(void **state)
{
	struct dq_client c;
	uint64_t domain, weight;

	(void)state;
	assert_int_equal(dq_client_connect(&c, cluster.nodes[0].address, 2000), PAT_OK);
	assert_int_equal(dq_client_describe(&c, &domain, &weight), PAT_OK);
	assert_true(domain == node_region_code("local"));
	assert_int_equal(weight, 0);
	assert_int_equal(dq_client_weight(&c, 7), PAT_OK);
	assert_int_equal(dq_client_describe(&c, &domain, &weight), PAT_OK);
	assert_int_equal(weight, 7);
	assert_int_equal(dq_client_weight(&c, 0), PAT_OK);
	dq_client_close(&c);
}

/* A node on an abstract unix socket, started in this process with libdqlite itself. */
static void unix_socket(void **state)
{
	char *dir = tu_mkdtemp(), address[64];
	dqlite_node *node;
	struct dq_client c;
	struct dq_rows rows;
	uint64_t id;
	char leader[64];
	bool row = false;

	(void)state;
	snprintf(address, sizeof address, "@pat-test-%d", (int)getpid());
	assert_int_equal(dqlite_node_create(1, address, dir, &node), 0);
	assert_int_equal(dqlite_node_set_bind_address(node, address), 0);
	assert_int_equal(dqlite_node_start(node), 0);
	assert_int_equal(dq_client_connect(&c, address, 2000), PAT_OK);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(dq_client_leader(&c, &id, leader, sizeof leader), PAT_OK);
		if (id == 1)
			break;
		usleep(50000);
	}
	assert_int_equal(id, 1);
	assert_string_equal(leader, address);
	assert_int_equal(dq_client_open(&c, "pat"), PAT_OK);
	assert_int_equal(dq_client_query_sql(&c, "SELECT 40 + 2", NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_true(row);
	assert_int_equal(rows.values[0].integer, 42);
	dq_rows_close(&rows);
	dq_client_close(&c);
	assert_int_equal(dqlite_node_stop(node), 0);
	dqlite_node_destroy(node);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_type_round_trips),
		cmocka_unit_test(sixteen_mib_blob),
		cmocka_unit_test(result_sets_span_parts),
		cmocka_unit_test(prepared_statements),
		cmocka_unit_test(cached_statements),
		cmocka_unit_test(second_writer_is_told_database_is_locked),
		cmocka_unit_test(sql_errors_keep_the_connection),
		cmocka_unit_test(silent_peer_times_out),
		cmocka_unit_test(allocation_failures),
		cmocka_unit_test(leader_following_on_one_node),
		cmocka_unit_test(describe_and_weight),
		cmocka_unit_test(unix_socket),
	};
	return cmocka_run_group_tests_name("dqlite client, one node", tests, setup, teardown);
}
