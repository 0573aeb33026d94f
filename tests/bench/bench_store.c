/* bench_store: write throughput and commit latency of the replicated store through Pat's
 * dqlite client, on one node and on three, beside local SQLite (WAL, synchronous=FULL) doing
 * the same transactions on the same machine in the same run.
 *
 * Each case writes transactions of R rows of an S-byte blob (BEGIN, R prepared INSERTs,
 * COMMIT) for a fixed time and reports rows/s and the p50/p99 latency of a whole
 * transaction. Run with `make bench`. */
#include "tests/lib/testutil.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/leader.h"
#include "lib/err.h"
#include "lib/timeutil.h"
#include "tests/lib/cluster.h"

#define CASE_MS 2500

struct result {
	double rows_per_s;
	double p50_ms, p99_ms;
	long txs;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void summarise(double *lat, long n, long rows, int64_t elapsed_ns, struct result *r)
{
	qsort(lat, (size_t)n, sizeof *lat, cmp_double);
	r->txs = n;
	r->rows_per_s = rows / (elapsed_ns / 1e9);
	r->p50_ms = n > 0 ? lat[n / 2] : 0;
	r->p99_ms = n > 0 ? lat[(long)(n * 0.99)] : 0;
}

static void check(int rv, struct dq_client *c, const char *what)
{
	if (rv != PAT_OK) {
		fprintf(stderr, "bench_store: %s: %s\n", what, c->err.msg);
		exit(1);
	}
}

static void run_pat(struct dq_leader *l, int rows_per_tx, size_t size, struct result *r)
{
	struct dq_client *c = &l->client;
	char *blob = malloc(size);
	double *lat = malloc(sizeof *lat * 200000);
	uint32_t insert;
	long n = 0, rows = 0, id = 1;
	int64_t start, end;

	memset(blob, 'm', size);
	check(dq_leader_exec_sql(l, "DROP TABLE IF EXISTS bench", NULL, 0, NULL), c, "drop");
	check(dq_leader_exec_sql(l, "CREATE TABLE bench (id INTEGER PRIMARY KEY, body BLOB)", NULL, 0, NULL), c, "create");
	check(dq_client_prepare(c, "INSERT INTO bench VALUES (?, ?)", &insert, NULL), c, "prepare");
	start = time_mono_ns();
	end = start + (int64_t)CASE_MS * 1000000;
	while (time_mono_ns() < end && n < 200000) {
		int64_t t0 = time_mono_ns();

		check(dq_client_exec_sql(c, "BEGIN", NULL, 0, NULL), c, "begin");
		for (int i = 0; i < rows_per_tx; i++) {
			struct dq_value p[2] = { dq_int(id++), dq_blob(blob, size) };

			check(dq_client_exec(c, insert, p, 2, NULL), c, "insert");
		}
		check(dq_client_exec_sql(c, "COMMIT", NULL, 0, NULL), c, "commit");
		lat[n++] = (time_mono_ns() - t0) / 1e6;
		rows += rows_per_tx;
	}
	summarise(lat, n, rows, time_mono_ns() - start, r);
	check(dq_client_finalize(c, insert), c, "finalize");
	check(dq_leader_exec_sql(l, "DROP TABLE bench", NULL, 0, NULL), c, "drop");
	free(lat);
	free(blob);
}

static void run_sqlite(const char *dir, int rows_per_tx, size_t size, struct result *r)
{
	char path[4200];
	sqlite3 *db;
	sqlite3_stmt *s;
	char *blob = malloc(size);
	double *lat = malloc(sizeof *lat * 200000);
	long n = 0, rows = 0, id = 1;
	int64_t start, end;

	memset(blob, 'm', size);
	snprintf(path, sizeof path, "%s/sqlite-%d-%zu.db", dir, rows_per_tx, size);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE bench (id INTEGER PRIMARY KEY, body BLOB)",
		     NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO bench VALUES (?, ?)", -1, &s, NULL);
	start = time_mono_ns();
	end = start + (int64_t)CASE_MS * 1000000;
	while (time_mono_ns() < end && n < 200000) {
		int64_t t0 = time_mono_ns();

		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		for (int i = 0; i < rows_per_tx; i++) {
			sqlite3_bind_int64(s, 1, id++);
			sqlite3_bind_blob(s, 2, blob, (int)size, SQLITE_STATIC);
			if (sqlite3_step(s) != SQLITE_DONE) {
				fprintf(stderr, "bench_store: sqlite: %s\n", sqlite3_errmsg(db));
				exit(1);
			}
			sqlite3_reset(s);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		lat[n++] = (time_mono_ns() - t0) / 1e6;
		rows += rows_per_tx;
	}
	summarise(lat, n, rows, time_mono_ns() - start, r);
	sqlite3_finalize(s);
	sqlite3_close(db);
	unlink(path);
	free(lat);
	free(blob);
}

int main(void)
{
	static const int rows_per_tx[] = { 1, 100, 250 };
	static const size_t sizes[] = { 2048, 4096, 20480 };
	static const char *const regions[] = { "us-east", "eu-west", "ap-south" };
	char *dir = tu_mkdtemp();

	signal(SIGPIPE, SIG_IGN);
	printf("Pat store write benchmark: transactions of R rows of an S-byte blob for %d ms each\n", CASE_MS);
	printf("peer: local SQLite %s (WAL, synchronous=FULL, no replication) on the same disk\n\n", sqlite3_libversion());
	printf("%-6s %-5s %-7s %12s %9s %9s %12s %9s %8s\n", "nodes", "rows", "blob", "pat rows/s", "p50 ms", "p99 ms",
	       "sqlite rows/s", "pat/sqlite", "txs");
	for (int nodes = 1; nodes <= 3; nodes += 2) {
		struct tc_cluster c;
		struct dq_leader l;

		tc_init(&c, nodes, regions);
		for (int i = 0; i < nodes; i++)
			tc_start(&c, i, NULL);
		if (dq_leader_init(&l, c.seeds, "pat", 30000, 30000) != PAT_OK || dq_leader_connect(&l) != PAT_OK) {
			fprintf(stderr, "bench_store: cannot reach the cluster: %s\n", l.err.msg);
			return 1;
		}
		/* Wait until every node votes, so that a commit really crosses the cluster. */
		for (int t = 0; t < 300; t++) {
			struct dq_member_info *m = NULL;
			size_t n = 0, voters = 0;

			if (dq_leader_members(&l, 500, &m, &n) == PAT_OK)
				for (size_t i = 0; i < n; i++)
					voters += m[i].m.role == DQ_VOTER;
			free(m);
			if ((int)voters == nodes)
				break;
			usleep(100000);
		}
		/* And until every node has registered itself: its one write would collide with ours
		 * (dqlite answers a second writer "database is locked"). */
		for (int t = 0; t < 300; t++) {
			struct dq_rows rows;
			bool row = false;
			long registered = 0;

			if (dq_leader_query_sql(&l, "SELECT count(*) FROM pat_members", NULL, 0, &rows) == PAT_OK) {
				if (dq_rows_next(&rows, &row) == PAT_OK && row)
					registered = (long)rows.values[0].integer;
				dq_rows_close(&rows);
			}
			if (registered == nodes)
				break;
			usleep(100000);
		}
		for (size_t r = 0; r < sizeof rows_per_tx / sizeof rows_per_tx[0]; r++) {
			for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
				struct result pat, lite;
				char size[32];

				/* 4 KiB is the reference case at 100 rows only. */
				if (sizes[s] == 4096 && rows_per_tx[r] != 100)
					continue;
				run_pat(&l, rows_per_tx[r], sizes[s], &pat);
				run_sqlite(dir, rows_per_tx[r], sizes[s], &lite);
				snprintf(size, sizeof size, "%zuKiB", sizes[s] / 1024);
				printf("%-6d %-5d %-7s %12.0f %9.2f %9.2f %12.0f %9.2f %8ld\n", nodes, rows_per_tx[r], size,
				       pat.rows_per_s, pat.p50_ms, pat.p99_ms, lite.rows_per_s, pat.rows_per_s / lite.rows_per_s,
				       pat.txs);
				fflush(stdout);
			}
		}
		dq_leader_close(&l);
		for (int i = 0; i < nodes; i++)
			tc_stop(&c, i, SIGTERM);
		tc_close(&c);
	}
	tu_rmtree(dir);
	free(dir);
	return 0;
}
