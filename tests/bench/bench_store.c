/* bench_store: write throughput and commit latency of the replicated store through Pat's
 * dqlite client, on one node and on three, beside local SQLite (WAL, synchronous=FULL) doing
 * the same transactions on the same machine in the same run.
 *
 * Each case writes transactions of R rows of an S-byte blob (BEGIN, R prepared INSERTs,
 * COMMIT) for a fixed time and reports rows/s and the p50/p99 latency of a whole
 * transaction. A second table commits the group-commit writer's batches: B messages of 1 KiB
 * (as Postfix's smtp-source sends them) through store_put_batch(), Pat's schema with its
 * indexes and triggers, beside the same number of rows of the same size inserted by one
 * statement into a table with one index, in a database of its own: the least a commit of B
 * messages costs in dqlite on this machine. Run with `make bench`. */
#include "tests/lib/testutil.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/leader.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "lib/ulid.h"
#include "node/store.h"
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

/* rv is dqlite's "database is locked": the transaction was rolled back, to be run again. */
static bool busy(struct dq_client *c, int rv)
{
	if (rv != PAT_EBUSY)
		return false;
	dq_client_exec_sql(c, "ROLLBACK", NULL, 0, NULL);
	return true;
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

		long first = id;
		int rv = dq_client_exec_sql(c, "BEGIN", NULL, 0, NULL);

		for (int i = 0; i < rows_per_tx && rv == PAT_OK; i++) {
			struct dq_value p[2] = { dq_int(id++), dq_blob(blob, size) };

			rv = dq_client_exec(c, insert, p, 2, NULL);
		}
		if (rv == PAT_OK)
			rv = dq_client_exec_sql(c, "COMMIT", NULL, 0, NULL);
		if (busy(c, rv)) {
			id = first; /* the node's own write (its pat_members row) held the database */
			continue;
		}
		check(rv, c, "transaction");
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

/* Commits of b smtp-source-like messages of 1 KiB through store_put_batch() (pat) and of b
 * rows of as many bytes by one INSERT into a bare table in database "bare" (floor). */
static void run_batches(struct tc_cluster *c, struct dq_leader *l, int b, struct result *pat, struct result *floor_)
{
	static char body[1100];
	char raw[1400], snippet[201], ids[64][ULID_SIZE];
	struct store_message m[64];
	struct dq_value p[128];
	struct dq_leader bare;
	struct pat_err err;
	double *lat = malloc(sizeof *lat * 200000);
	uint8_t *packed;
	size_t packed_len, raw_len, o = 0;
	long n = 0, rows = 0;
	int64_t start, end;
	struct buf sql = BUF_INIT;

	for (int i = 1; o < 1000; i++)
		o += (size_t)snprintf(body + o, sizeof body - o, "%dXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n", i);
	raw_len = (size_t)snprintf(raw, sizeof raw, "From: bench@pat.test\r\nTo: inbox@pat.test\r\nMessage-Id: <1.2.3@vm>\r\n\r\n%s", body);
	memcpy(snippet, body, 200);
	snippet[200] = '\0';
	if (store_pack_raw(raw, raw_len, &packed, &packed_len, &err) != PAT_OK) {
		fprintf(stderr, "bench_store: %s\n", err.msg);
		exit(1);
	}
	start = time_mono_ns();
	end = start + (int64_t)CASE_MS * 1000000;
	while (time_mono_ns() < end && n < 200000) {
		int64_t t0;

		for (int i = 0; i < b; i++) {
			memset(&m[i], 0, sizeof m[i]);
			ulid_new(m[i].id);
			m[i].tenant = "default";
			m[i].received_at = time_wall_ms();
			m[i].helo = m[i].gateway = "vm";
			m[i].mail_from = m[i].from = "bench@pat.test";
			m[i].rcpt_to = m[i].to = "inbox@pat.test";
			m[i].message_id = "1.2.3@vm";
			m[i].size = (int64_t)raw_len;
			m[i].snippet = snippet;
			m[i].region = "local";
			m[i].body_text = body;
			m[i].raw = packed;
			m[i].raw_len = packed_len;
		}
		t0 = time_mono_ns();
		if (store_put_batch(l, m, (size_t)b, &err) != PAT_OK) {
			fprintf(stderr, "bench_store: put: %s\n", err.msg);
			exit(1);
		}
		lat[n++] = (time_mono_ns() - t0) / 1e6;
		rows += b;
	}
	summarise(lat, n, rows, time_mono_ns() - start, pat);

	/* The floor: rows the size of a stored message (a 1 KiB message's row takes about 760
	 * bytes), one statement, no triggers, one index, nothing else in the database. */
	dq_leader_init(&bare, c->seeds, "bare", 30000, 30000);
	check(dq_leader_exec_sql(&bare, "CREATE TABLE IF NOT EXISTS m (seq INTEGER PRIMARY KEY, id TEXT, tenant TEXT, row BLOB,"
				 " UNIQUE (tenant, id))", NULL, 0, NULL), &bare.client, "create");
	buf_append_str(&sql, "INSERT INTO m (id, tenant, row) VALUES ");
	for (int i = 0; i < b; i++)
		buf_append_str(&sql, i ? ", (?, 'default', ?)" : "(?, 'default', ?)");
	n = rows = 0;
	start = time_mono_ns();
	end = start + (int64_t)CASE_MS * 1000000;
	while (time_mono_ns() < end && n < 200000) {
		int64_t t0;

		for (int i = 0; i < b; i++) {
			ulid_new(ids[i]);
			p[2 * i] = dq_text(ids[i]);
			p[2 * i + 1] = dq_blob(raw, 760 - ULID_SIZE);
		}
		t0 = time_mono_ns();
		int rv = dq_client_exec_cached(&bare.client, sql.data, p, (unsigned)(2 * b), NULL);

		if (busy(&bare.client, rv))
			continue;
		check(rv, &bare.client, "insert");
		lat[n++] = (time_mono_ns() - t0) / 1e6;
		rows += b;
	}
	summarise(lat, n, rows, time_mono_ns() - start, floor_);
	check(dq_leader_exec_sql(&bare, "DROP TABLE m", NULL, 0, NULL), &bare.client, "drop");
	dq_leader_close(&bare);
	buf_free(&sql);
	mem_free(packed);
	free(lat);
}

int main(void)
{
	static const int rows_per_tx[] = { 1, 100, 250 };
	static const size_t sizes[] = { 2048, 4096, 20480 };
	static const char *const regions[] = { "us-east", "eu-west", "ap-south" };
	static const int batches[] = { 1, 8, 16, 32, 64 };
	struct result batch_pat[2][sizeof batches / sizeof batches[0]], batch_floor[2][sizeof batches / sizeof batches[0]];
	struct pat_err err;
	int version;
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
		if (store_migrate(&l, &version, &err) != PAT_OK) {
			fprintf(stderr, "bench_store: migrate: %s\n", err.msg);
			return 1;
		}
		for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++)
			run_batches(&c, &l, batches[k], &batch_pat[nodes / 2][k], &batch_floor[nodes / 2][k]);
		dq_leader_close(&l);
		for (int i = 0; i < nodes; i++)
			tc_stop(&c, i, SIGTERM);
		tc_close(&c);
	}
	printf("\nGroup-commit batches: B messages of 1 KiB by store_put_batch() (Pat's schema), beside B rows of\n"
	       "as many bytes by one INSERT into a bare table (the floor of a commit of B in dqlite), %d ms each\n", CASE_MS);
	printf("%-6s %-5s %12s %9s %9s %12s %9s %9s\n", "nodes", "batch", "pat msg/s", "p50 ms", "p99 ms", "floor rows/s",
	       "p50 ms", "pat/floor");
	for (int k = 0; k < 2; k++)
		for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
			const struct result *pt = &batch_pat[k][b], *fl = &batch_floor[k][b];

			printf("%-6d %-5d %12.0f %9.2f %9.2f %12.0f %9.2f %9.2f\n", 2 * k + 1, batches[b], pt->rows_per_s, pt->p50_ms,
			       pt->p99_ms, fl->rows_per_s, fl->p50_ms, pt->rows_per_s / fl->rows_per_s);
		}
	tu_rmtree(dir);
	free(dir);
	return 0;
}
