/* cmd_cluster: `pat cluster status|rtt|transfer|remove|backup|restore`.
 *
 * Every action reaches the leader through [gateway] cluster (or --cluster), falling back to
 * this host's own [node] address, so that on a node's machine `pat cluster status` just works.
 *
 * backup writes a standalone SQLite file: the DUMP gives the database file and its WAL, which
 * are checkpointed together locally. restore is logical: it reads such a file with SQLite and
 * replays its schema and rows through the leader, so it works on any cluster, of any size.
 *
 * rtt times a cheap request (LEADER) to each member over an open connection, several times,
 * and prints the median: the round trip an operator sets [cluster] network_latency from. */
#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "consensus/leader.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "node/duties.h"
#include "node/server.h"

#define OPT_JSON 1  /* index in cluster_options (commands.c) */
#define OPT_FORCE 2
#define RESTORE_BATCH 256

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("pat cluster: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAILURE;
}

/* Region names recorded by the members, by id (NULL where unknown). */
static char *region_of(struct dq_leader *l, uint64_t id)
{
	struct dq_value param = dq_int((int64_t)id);
	struct dq_rows rows;
	char *region = NULL;
	bool has_row;

	if (dq_leader_query_sql(l, "SELECT region FROM pat_members WHERE id = ?", &param, 1, &rows) != PAT_OK)
		return NULL;
	if (dq_rows_next(&rows, &has_row) == PAT_OK && has_row && rows.values[0].type == DQ_TEXT)
		region = mem_strdup(rows.values[0].bytes.ptr);
	dq_rows_close(&rows);
	return region;
}

static int by_id(const void *a, const void *b)
{
	const struct dq_member_info *x = a, *y = b;

	return x->m.id < y->m.id ? -1 : x->m.id > y->m.id;
}

static int by_member_id(const void *a, const void *b)
{
	const struct dq_member *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int status(struct dq_leader *l, bool json)
{
	struct dq_member_info *m = NULL;
	json_t *doc = NULL, *list = NULL;
	size_t n = 0;
	int rv;

	if ((rv = dq_leader_members(l, 1000, &m, &n)) != PAT_OK)
		return fail("cannot read the members: %s", l->err.msg);
	qsort(m, n, sizeof *m, by_id);
	if (json) {
		doc = json_object();
		list = json_array();
		json_object_set_new(doc, "leader", json_pack("{s:I, s:s}", "id", (json_int_t)l->leader_id, "address", l->leader_address));
		json_object_set_new(doc, "members", list);
	} else {
		printf("%-6s %-24s %-8s %-12s %-7s %s\n", "ID", "ADDRESS", "ROLE", "REGION", "WEIGHT", "STATE");
	}
	for (size_t i = 0; i < n; i++) {
		char *region = region_of(l, m[i].m.id);
		char fallback[32], domain[24];
		bool is_leader = m[i].m.id == l->leader_id;

		if (region == NULL)
			snprintf(fallback, sizeof fallback, "%s", m[i].online ? "(unknown)" : "-");
		snprintf(domain, sizeof domain, "%016llx", (unsigned long long)m[i].failure_domain);
		if (json) {
			json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:b, s:b}", "id", (json_int_t)m[i].m.id,
					      "address", m[i].m.address, "role", dq_role_name(m[i].m.role),
					      "region", region ? region : "", "failure_domain",
					      domain, "weight", (json_int_t)m[i].weight,
					      "online", m[i].online, "leader", is_leader);
			json_array_append_new(list, o);
		} else {
			printf("%-6llu %-24s %-8s %-12s %-7llu %s%s\n", (unsigned long long)m[i].m.id, m[i].m.address,
			       dq_role_name(m[i].m.role), region ? region : fallback, (unsigned long long)m[i].weight,
			       m[i].online ? "online" : "unreachable", is_leader ? ", leader" : "");
		}
		mem_free(region);
	}
	if (json) {
		char *text = json_dumps(doc, JSON_INDENT(2));

		puts(text);
		free(text);
		json_decref(doc);
	}
	mem_free(m);
	return CLI_EXIT_OK;
}

#define RTT_PROBES 7

static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median round trip of RTT_PROBES LEADER requests to address, in microseconds, or -1. */
static int64_t member_rtt_us(const char *address)
{
	int64_t t[RTT_PROBES];
	struct dq_client c;
	char leader[DQ_ADDRESS_MAX];
	uint64_t id;

	if (dq_client_connect(&c, address, 2000) != PAT_OK)
		return -1;
	for (int i = 0; i < RTT_PROBES; i++) {
		int64_t start = time_mono_ns();

		if (dq_client_leader(&c, &id, leader, sizeof leader) != PAT_OK) {
			dq_client_close(&c);
			return -1;
		}
		t[i] = (time_mono_ns() - start) / 1000;
	}
	dq_client_close(&c);
	qsort(t, RTT_PROBES, sizeof t[0], by_value);
	return t[RTT_PROBES / 2];
}

static int rtt(struct dq_leader *l, bool json)
{
	struct dq_member *m = NULL;
	json_t *list = NULL;
	size_t n = 0;
	int64_t worst = -1;

	if (dq_client_cluster(&l->client, &m, &n) != PAT_OK)
		return fail("cannot read the members: %s", l->client.err.msg);
	qsort(m, n, sizeof *m, by_member_id);
	if (json)
		list = json_array();
	else
		printf("%-6s %-24s %-12s %s\n", "ID", "ADDRESS", "REGION", "RTT");
	for (size_t i = 0; i < n; i++) {
		int64_t us = member_rtt_us(m[i].address);
		char *region = region_of(l, m[i].id);

		if (us > worst)
			worst = us;
		if (json)
			json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)m[i].id, "address",
							      m[i].address, "region", region ? region : "", "rtt_us",
							      us < 0 ? json_null() : json_integer((json_int_t)us)));
		else if (us < 0)
			printf("%-6llu %-24s %-12s unreachable\n", (unsigned long long)m[i].id, m[i].address, region ? region : "-");
		else
			printf("%-6llu %-24s %-12s %.3fms\n", (unsigned long long)m[i].id, m[i].address, region ? region : "-",
			       (double)us / 1000.0);
		mem_free(region);
	}
	if (json) {
		json_t *doc = json_pack("{s:o}", "members", list);

		if (worst >= 0)
			json_object_set_new(doc, "suggested_network_latency_ms",
					    json_integer((json_int_t)node_suggest_network_latency_ms(worst)));
		char *text = json_dumps(doc, JSON_INDENT(2));

		puts(text);
		free(text);
		json_decref(doc);
	} else if (worst >= 0) {
		printf("largest round trip from here: %.3fms (one way about %.3fms)\n", (double)worst / 1000.0,
		       (double)worst / 2000.0);
		printf("suggested: [cluster] network_latency = %ums (a quarter of the largest round trip between "
		       "voters; run this in every region and take the largest)\n",
		       node_suggest_network_latency_ms(worst));
	}
	mem_free(m);
	return CLI_EXIT_OK;
}

static int parse_id(const char *text, uint64_t *id)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (text[0] < '1' || text[0] > '9' || *end != '\0' || errno != 0)
		return PAT_EINVAL;
	*id = v;
	return PAT_OK;
}

static int transfer(struct dq_leader *l, uint64_t id)
{
	int rv;

	if (id == l->leader_id) {
		printf("node %llu leads already\n", (unsigned long long)id);
		return CLI_EXIT_OK;
	}
	l->client.timeout_ms = 30000;
	rv = dq_client_transfer(&l->client, id);
	if (rv != PAT_OK)
		return fail("cannot transfer leadership to node %llu: %s", (unsigned long long)id, l->client.err.msg);
	printf("leadership transferred from node %llu to node %llu\n", (unsigned long long)l->leader_id,
	       (unsigned long long)id);
	return CLI_EXIT_OK;
}

static int remove_member(struct dq_leader *l, uint64_t id)
{
	struct dq_member *members = NULL;
	size_t n = 0;
	bool found = false;

	if (id == l->leader_id)
		return fail("node %llu is the leader; transfer leadership first ('pat cluster transfer ID')",
			    (unsigned long long)id);
	if (dq_client_cluster(&l->client, &members, &n) != PAT_OK)
		return fail("cannot read the members: %s", l->client.err.msg);
	for (size_t i = 0; i < n; i++)
		found = found || members[i].id == id;
	mem_free(members);
	if (!found)
		return fail("node %llu is not a member", (unsigned long long)id);
	l->client.timeout_ms = 30000;
	if (dq_client_remove(&l->client, id) != PAT_OK)
		return fail("cannot remove node %llu: %s", (unsigned long long)id, l->client.err.msg);
	{
		struct dq_value param = dq_int((int64_t)id);

		dq_leader_exec_sql(l, "DELETE FROM pat_members WHERE id = ?", &param, 1, NULL);
	}
	printf("node %llu removed\n", (unsigned long long)id);
	return CLI_EXIT_OK;
}

static int write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return PAT_EIO;
	if ((n > 0 && fwrite(data, 1, n, f) != n) || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return PAT_EIO;
	}
	return fclose(f) == 0 ? PAT_OK : PAT_EIO;
}

static int backup(struct dq_leader *l, const char *path)
{
	struct dq_file files[2];
	char *tmp = str_printf("%s.tmp", path), *wal = str_printf("%s.tmp-wal", path);
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long tables = 0;
	int rv = CLI_EXIT_FAILURE;

	if (tmp == NULL || wal == NULL)
		goto out;
	l->client.timeout_ms = 120000;
	if (dq_client_dump(&l->client, NODE_DB, files) != PAT_OK) {
		fail("cannot dump the database: %s", l->client.err.msg);
		goto out;
	}
	if (files[0].len == 0) {
		dq_files_free(files);
		fail("the cluster's database is empty: nothing to back up");
		goto out;
	}
	if (write_file(tmp, files[0].data, files[0].len) != PAT_OK || write_file(wal, files[1].data, files[1].len) != PAT_OK) {
		dq_files_free(files);
		fail("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	dq_files_free(files);
	/* Fold the WAL into the file, leaving one self-contained SQLite database. */
	if (sqlite3_open(tmp, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(stmt, 0), "ok") != 0) {
		fail("the dumped database does not check out: %s", db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW)
		tables = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	stmt = NULL;
	sqlite3_close(db);
	db = NULL;
	unlink(wal);
	if (rename(tmp, path) != 0) {
		fail("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	printf("backup written to %s (%ld tables)\n", path, tables);
	rv = CLI_EXIT_OK;
out:
	sqlite3_finalize(stmt);
	if (db != NULL)
		sqlite3_close(db);
	if (rv != CLI_EXIT_OK && tmp != NULL) {
		unlink(tmp);
		if (wal != NULL)
			unlink(wal);
	}
	mem_free(tmp);
	mem_free(wal);
	return rv;
}

/* SQL naming a table from a backup file: %w doubles any '"' in the name, so a hostile file
 * cannot close the quotes and smuggle in SQL of its own. mem_free() the result. */
static char *quoted(const char *fmt, const char *table)
{
	char *sql = sqlite3_mprintf(fmt, table), *copy;

	if (sql == NULL)
		return NULL;
	copy = mem_strdup(sql);
	sqlite3_free(sql);
	return copy;
}

/* Turn column i of a SQLite row into a parameter (text and blobs point into the row). */
static struct dq_value column_value(sqlite3_stmt *s, int i)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER: return dq_int(sqlite3_column_int64(s, i));
	case SQLITE_FLOAT: return dq_float(sqlite3_column_double(s, i));
	case SQLITE_TEXT: {
		struct dq_value v = { .type = DQ_TEXT };

		v.bytes.ptr = (const char *)sqlite3_column_text(s, i);
		v.bytes.len = (size_t)sqlite3_column_bytes(s, i);
		return v;
	}
	case SQLITE_BLOB: return dq_blob(sqlite3_column_blob(s, i), (size_t)sqlite3_column_bytes(s, i));
	default: return dq_null();
	}
}

static bool is_shadow(sqlite3 *db, const char *table)
{
	sqlite3_stmt *s;
	bool shadow = false;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%' "
				   "AND ? LIKE name || '\\_%' ESCAPE '\\'", -1, &s, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	shadow = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return shadow;
}

/* Copy the rows of one table, RESTORE_BATCH per transaction. */
static int copy_rows(struct dq_leader *l, sqlite3 *db, const char *table, long *copied)
{
	char *select = quoted("SELECT * FROM \"%w\"", table);
	struct buf insert = BUF_INIT;
	struct dq_value params[DQ_MAX_PARAMS];
	sqlite3_stmt *s = NULL;
	int rv = PAT_OK, n_cols, in_batch = 0, step;

	if (select == NULL || sqlite3_prepare_v2(db, select, -1, &s, NULL) != SQLITE_OK) {
		mem_free(select);
		return fail("cannot read table %s from the backup: %s", table, sqlite3_errmsg(db)), PAT_EIO;
	}
	mem_free(select);
	n_cols = sqlite3_column_count(s);
	if (n_cols > DQ_MAX_PARAMS) {
		sqlite3_finalize(s);
		return fail("table %s has %d columns; restore handles at most %d", table, n_cols, DQ_MAX_PARAMS), PAT_ELIMIT;
	}
	{
		char *head = quoted("INSERT INTO \"%w\" (", table);

		if (head == NULL || buf_append_str(&insert, head) != PAT_OK) {
			mem_free(head);
			sqlite3_finalize(s);
			return fail("out of memory"), PAT_ENOMEM;
		}
		mem_free(head);
		for (int i = 0; i < n_cols; i++) {
			char *col = quoted(i > 0 ? ", \"%w\"" : "\"%w\"", sqlite3_column_name(s, i));

			if (col == NULL || buf_append_str(&insert, col) != PAT_OK) {
				mem_free(col);
				sqlite3_finalize(s);
				return fail("out of memory"), PAT_ENOMEM;
			}
			mem_free(col);
		}
		buf_append_str(&insert, ") VALUES (");
	}
	for (int i = 0; i < n_cols; i++)
		buf_append_str(&insert, i > 0 ? ", ?" : "?");
	buf_append_str(&insert, ")");
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (in_batch == 0 && (rv = dq_leader_exec_sql(l, "BEGIN", NULL, 0, NULL)) != PAT_OK)
			break;
		for (int i = 0; i < n_cols; i++)
			params[i] = column_value(s, i);
		if ((rv = dq_client_exec_sql(&l->client, buf_str(&insert), params, (unsigned)n_cols, NULL)) != PAT_OK)
			break;
		(*copied)++;
		if (++in_batch == RESTORE_BATCH) {
			if ((rv = dq_client_exec_sql(&l->client, "COMMIT", NULL, 0, NULL)) != PAT_OK)
				break;
			in_batch = 0;
		}
	}
	if (rv == PAT_OK && step != SQLITE_DONE)
		rv = PAT_EIO;
	if (rv == PAT_OK && in_batch > 0)
		rv = dq_client_exec_sql(&l->client, "COMMIT", NULL, 0, NULL);
	if (rv != PAT_OK) {
		fail("restoring table %s failed: %s", table, step != SQLITE_DONE && step != SQLITE_ROW ? sqlite3_errmsg(db) : l->client.err.msg);
		if (dq_client_connected(&l->client))
			dq_client_exec_sql(&l->client, "ROLLBACK", NULL, 0, NULL);
	}
	sqlite3_finalize(s);
	buf_free(&insert);
	return rv;
}

/* Does the cluster hold a table of this name with rows? */
static int cluster_rows(struct dq_leader *l, const char *table, bool *exists, bool *has_rows)
{
	struct dq_value p = dq_text(table);
	struct dq_rows rows;
	bool row = false;
	char *sql;
	int rv;

	*exists = *has_rows = false;
	if ((rv = dq_leader_query_sql(l, "SELECT count(*) FROM sqlite_master WHERE name = ?", &p, 1, &rows)) != PAT_OK)
		return rv;
	rv = dq_rows_next(&rows, &row);
	*exists = rv == PAT_OK && row && rows.values[0].integer > 0;
	dq_rows_close(&rows);
	if (rv != PAT_OK || !*exists)
		return rv;
	sql = quoted("SELECT 1 FROM \"%w\" LIMIT 1", table);
	if (sql == NULL)
		return PAT_ENOMEM;
	rv = dq_leader_query_sql(l, sql, NULL, 0, &rows);
	mem_free(sql);
	if (rv != PAT_OK)
		return rv;
	rv = dq_rows_next(&rows, &row);
	*has_rows = row;
	dq_rows_close(&rows);
	return rv;
}

static int restore(struct dq_leader *l, const char *path, bool force)
{
	static const char *const kinds[] = { "table", "index", "view", "trigger" };
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long tables = 0, rows = 0;
	int rv = CLI_EXIT_FAILURE;

	if (access(path, R_OK) != 0)
		return fail("cannot read %s: %s", path, strerror(errno));
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
		fail("%s is not an intact SQLite database (a file from 'pat cluster backup'): %s", path,
		     db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	/* First make sure nothing would be overwritten by accident. */
	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
				   "AND name <> 'pat_members'", -1, &s, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *table = (const char *)sqlite3_column_text(s, 0);
		bool exists, has_rows;

		if (is_shadow(db, table))
			continue;
		if (cluster_rows(l, table, &exists, &has_rows) != PAT_OK) {
			fail("cannot inspect the cluster: %s", l->err.msg[0] ? l->err.msg : l->client.err.msg);
			goto out;
		}
		if (exists && !force) {
			fail("the cluster already has a table %s%s; restore into a new cluster, or pass --force to replace it",
			     table, has_rows ? " with rows" : "");
			goto out;
		}
		if (exists) {
			char *drop = quoted("DROP TABLE \"%w\"", table);

			if (drop == NULL || dq_leader_exec_sql(l, drop, NULL, 0, NULL) != PAT_OK) {
				mem_free(drop);
				fail("cannot replace table %s: %s", table, l->err.msg);
				goto out;
			}
			mem_free(drop);
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	/* Tables, then their rows, then indexes, views and triggers (faster, and triggers must not
	 * fire on restored rows). */
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		if (sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL "
					   "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'pat_members' ORDER BY rowid",
				       -1, &s, NULL) != SQLITE_OK)
			goto out;
		sqlite3_bind_text(s, 1, kinds[k], -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(s, 0);
			const char *sql = (const char *)sqlite3_column_text(s, 1);

			/* A virtual table (full-text search) creates its shadow tables, which hold its
			 * data: they are emptied and copied as they are, so that the index comes back
			 * exactly, contentless or not. */
			if (k == 0 && is_shadow(db, name)) {
				char *empty = quoted("DELETE FROM \"%w\"", name);

				if (empty == NULL || dq_leader_exec_sql(l, empty, NULL, 0, NULL) != PAT_OK) {
					mem_free(empty);
					fail("cannot prepare %s: %s", name, l->err.msg);
					goto out;
				}
				mem_free(empty);
				if (copy_rows(l, db, name, &rows) != PAT_OK)
					goto out;
				continue;
			}
			if (dq_leader_exec_sql(l, sql, NULL, 0, NULL) != PAT_OK) {
				fail("cannot create %s %s: %s", kinds[k], name, l->err.msg);
				goto out;
			}
			if (k == 0) {
				tables++;
				if (!str_has_prefix_nocase(sql, "CREATE VIRTUAL TABLE") && copy_rows(l, db, name, &rows) != PAT_OK)
					goto out;
			}
		}
		sqlite3_finalize(s);
		s = NULL;
	}
	printf("restored %ld tables and %ld rows from %s\n", tables, rows, path);
	rv = CLI_EXIT_OK;
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rv;
}

int cli_cmd_cluster(struct cli_args *args)
{
	const char *action = args->n_positional > 0 ? args->positional[0] : NULL;
	const char *arg = args->n_positional > 1 ? args->positional[1] : NULL;
	struct pat_settings s;
	struct dq_leader l;
	struct conf c;
	uint64_t id = 0;
	int needs, rv;
	static const struct {
		const char *name;
		int needs; /* 0: no argument, 1: a node id, 2: a file */
	} actions[] = { { "status", 0 }, { "rtt", 0 }, { "transfer", 1 }, { "remove", 1 }, { "backup", 2 }, { "restore", 2 } };

	needs = -1;
	for (size_t i = 0; action != NULL && i < sizeof actions / sizeof actions[0]; i++)
		if (strcmp(action, actions[i].name) == 0)
			needs = actions[i].needs;
	if (needs < 0) {
		if (action == NULL)
			fprintf(stderr, "pat cluster: missing action: status, rtt, transfer, remove, backup or restore (see 'pat cluster --help')\n");
		else
			fprintf(stderr, "pat cluster: unknown action '%s': expected status, rtt, transfer, remove, backup or restore (see 'pat cluster --help')\n", action);
		return CLI_EXIT_USAGE;
	}
	if (needs > 0 && arg == NULL) {
		fprintf(stderr, "pat cluster %s: missing %s (see 'pat cluster --help')\n", action, needs == 1 ? "node ID" : "FILE");
		return CLI_EXIT_USAGE;
	}
	if (args->n_positional > (needs > 0 ? 2 : 1)) {
		fprintf(stderr, "pat cluster %s: unexpected argument '%s' (see 'pat cluster --help')\n", action,
			args->positional[needs > 0 ? 2 : 1]);
		return CLI_EXIT_USAGE;
	}
	if (needs == 1 && parse_id(arg, &id) != PAT_OK) {
		fprintf(stderr, "pat cluster %s: '%s' is not a node id (a whole number from 1)\n", action, arg);
		return CLI_EXIT_USAGE;
	}
	rv = cli_load_config(args, 0, "", &c, &s);
	if (rv != CLI_EXIT_OK) {
		conf_close(&c);
		return rv;
	}
	if (dq_leader_init(&l, s.gateway.cluster != NULL ? s.gateway.cluster : s.node.address, NODE_DB, 5000, 10000) != PAT_OK) {
		rv = fail("%s", l.err.msg);
		goto out;
	}
	if (dq_leader_connect(&l) != PAT_OK) {
		rv = fail("cannot reach the cluster's leader through %s: %s",
			  s.gateway.cluster != NULL ? s.gateway.cluster : s.node.address, l.err.msg);
		goto out;
	}
	if (strcmp(action, "status") == 0)
		rv = status(&l, args->values[OPT_JSON] != NULL);
	else if (strcmp(action, "rtt") == 0)
		rv = rtt(&l, args->values[OPT_JSON] != NULL);
	else if (strcmp(action, "transfer") == 0)
		rv = transfer(&l, id);
	else if (strcmp(action, "remove") == 0)
		rv = remove_member(&l, id);
	else if (strcmp(action, "backup") == 0)
		rv = backup(&l, arg);
	else
		rv = restore(&l, arg, args->values[OPT_FORCE] != NULL);
out:
	dq_leader_close(&l);
	conf_close(&c);
	return rv;
}
