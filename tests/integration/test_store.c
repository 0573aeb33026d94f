/* Integration tests of node/store against a real `pat node`: migrations, batches (all or
 * nothing, safe to resend), tenant isolation, paging, counts, deletes, compressed raw
 * messages, and the audit chain catching a changed or removed row. */
#include "tests/lib/testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consensus/leader.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "node/store.h"
#include "tests/lib/cluster.h"

static struct tc_cluster cluster;
static struct dq_leader l;

static int setup(void **state)
{
	struct pat_err err;
	int version = 0;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	tc_init(&cluster, 1, NULL);
	tc_start(&cluster, 0, NULL);
	if (dq_leader_init(&l, cluster.seeds, "pat", 5000, 15000) != PAT_OK)
		return -1;
	if (store_migrate(&l, &version, &err) != PAT_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		return -1;
	}
	return version == STORE_SCHEMA_VERSION ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dq_leader_close(&l);
	assert_int_equal(tc_stop(&cluster, 0, SIGTERM), 0);
	tc_close(&cluster);
	return 0;
}

static const char raw_text[] = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nHi there.\r\n";

/* n messages for tenant; the packed raw is shared and freed by the caller. */
static struct store_message *make_batch(const char *tenant, size_t n, uint8_t **packed)
{
	struct store_message *m = calloc(n, sizeof *m);
	size_t len;
	struct pat_err err;

	assert_int_equal(store_pack_raw(raw_text, sizeof raw_text - 1, packed, &len, &err), PAT_OK);
	for (size_t i = 0; i < n; i++) {
		ulid_new(m[i].id);
		m[i].tenant = tenant;
		m[i].received_at = time_wall_ms();
		m[i].mail_from = "a@example.com";
		m[i].rcpt_to = "b@example.com";
		m[i].from = "a@example.com";
		m[i].to = "b@example.com";
		m[i].subject = "hello";
		m[i].size = sizeof raw_text - 1;
		m[i].snippet = "Hi there.";
		m[i].region = "us-east";
		m[i].raw = *packed;
		m[i].raw_len = len;
	}
	return m;
}

static void migrations_run_once(void **state)
{
	struct pat_err err;
	int version = 0;
	struct dq_rows rows;
	bool row;

	(void)state;
	assert_int_equal(store_migrate(&l, &version, &err), PAT_OK);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	assert_int_equal(dq_leader_query_sql(&l, "SELECT count(*), max(version) FROM pat_schema", NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_int_equal(rows.values[0].integer, STORE_SCHEMA_VERSION);
	assert_int_equal(rows.values[1].integer, STORE_SCHEMA_VERSION);
	dq_rows_close(&rows);
}

static void batches_pages_and_tenants(void **state)
{
	uint8_t *packed_a, *packed_b;
	struct store_message *a = make_batch("acme", 120, &packed_a), *b = make_batch("globex", 5, &packed_b);
	struct store_row *page;
	struct store_row one;
	struct pat_err err;
	int64_t total, unread;
	size_t n;
	char cursor[ULID_SIZE];

	(void)state;
	assert_int_equal(store_put_batch(&l, a, 120, &err), PAT_OK);
	assert_int_equal(store_put_batch(&l, b, 5, &err), PAT_OK);
	/* Sending a batch again (its commit outcome unknown, say) adds nothing. */
	assert_int_equal(store_put_batch(&l, a, 120, &err), PAT_OK);
	assert_int_equal(store_count(&l, "acme", &total, &unread, &err), PAT_OK);
	assert_int_equal(total, 120);
	assert_int_equal(unread, 120);
	assert_int_equal(store_count(&l, "globex", &total, &unread, &err), PAT_OK);
	assert_int_equal(total, 5);
	/* Newest first, 50 at a time. */
	assert_int_equal(store_list(&l, "acme", NULL, 50, &page, &n, &err), PAT_OK);
	assert_int_equal(n, 50);
	assert_string_equal(page[0].m.id, a[119].id);
	assert_string_equal(page[49].m.id, a[70].id);
	assert_string_equal(page[0].m.subject, "hello");
	assert_string_equal(page[0].m.region, "us-east");
	assert_string_equal(page[0].m.tenant, "acme");
	memcpy(cursor, page[49].m.id, sizeof cursor);
	store_rows_free(page, n);
	assert_int_equal(store_list(&l, "acme", cursor, 100, &page, &n, &err), PAT_OK);
	assert_int_equal(n, 70);
	assert_string_equal(page[69].m.id, a[0].id);
	store_rows_free(page, n);
	/* A tenant never sees another's message, even by id. */
	assert_int_equal(store_get(&l, "globex", a[0].id, &one, &err), PAT_ENOTFOUND);
	assert_int_equal(store_get(&l, "acme", a[0].id, &one, &err), PAT_OK);
	{
		uint8_t *raw;
		size_t len;

		assert_int_equal(store_unpack_raw(one.m.raw, one.m.raw_len, 1 << 20, &raw, &len, &err), PAT_OK);
		assert_int_equal(len, sizeof raw_text - 1);
		assert_memory_equal(raw, raw_text, len);
		mem_free(raw);
		assert_int_equal(store_unpack_raw(one.m.raw, one.m.raw_len, 10, &raw, &len, &err), PAT_ELIMIT);
		assert_int_equal(store_unpack_raw((const uint8_t *)"junk", 4, 1 << 20, &raw, &len, &err), PAT_EINVAL);
	}
	store_row_free(&one);
	/* Deletes stay within the tenant. */
	assert_int_equal(store_delete(&l, "globex", a[0].id, &err), PAT_ENOTFOUND);
	assert_int_equal(store_delete(&l, "acme", a[0].id, &err), PAT_OK);
	assert_int_equal(store_delete(&l, "acme", a[0].id, &err), PAT_ENOTFOUND);
	{
		int64_t deleted;

		assert_int_equal(store_delete_all(&l, "acme", &deleted, &err), PAT_OK);
		assert_int_equal(deleted, 119);
	}
	assert_int_equal(store_count(&l, "globex", &total, &unread, &err), PAT_OK);
	assert_int_equal(total, 5);
	mem_free(packed_a);
	mem_free(packed_b);
	free(a);
	free(b);
}

static void a_bad_message_fails_the_whole_batch(void **state)
{
	uint8_t *packed;
	struct store_message *m = make_batch("initech", 10, &packed);
	struct pat_err err;
	int64_t total, unread;

	(void)state;
	strcpy(m[7].id, "not-an-id");
	assert_int_equal(store_put_batch(&l, m, 10, &err), PAT_EINVAL);
	assert_contains(err.msg, "message 8 of the batch");
	assert_int_equal(store_count(&l, "initech", &total, &unread, &err), PAT_OK);
	assert_int_equal(total, 0); /* nothing of it was kept */
	mem_free(packed);
	free(m);
}

static void search_finds_subject_addresses_and_body(void **state)
{
	uint8_t *packed;
	struct store_message *m = make_batch("search-co", 3, &packed), *other = NULL;
	uint8_t *packed2;
	struct store_row *rows;
	struct pat_err err;
	size_t n;

	(void)state;
	m[0].subject = "Your invoice";
	m[0].body_text = "Thanks for your order of three teapots.";
	m[1].subject = "Password reset";
	m[1].to = "dana@corp.example";
	m[1].body_text = "Click the link to reset your password.";
	m[2].subject = "R\xc3\xa9sum\xc3\xa9 attached";
	m[2].body_text = "See attached.";
	assert_int_equal(store_put_batch(&l, m, 3, &err), PAT_OK);
	other = make_batch("elsewhere", 1, &packed2);
	other[0].subject = "Your invoice";
	assert_int_equal(store_put_batch(&l, other, 1, &err), PAT_OK);
	assert_int_equal(store_search(&l, "search-co", "invoice", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1); /* not the other tenant's invoice */
	assert_string_equal(rows[0].m.id, m[0].id);
	store_rows_free(rows, n);
	assert_int_equal(store_search(&l, "search-co", "teapots", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	store_rows_free(rows, n);
	assert_int_equal(store_search(&l, "search-co", "\"dana corp example\"", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.id, m[1].id);
	store_rows_free(rows, n);
	assert_int_equal(store_search(&l, "search-co", "resume", 10, &rows, &n, &err), PAT_OK); /* diacritics folded */
	assert_int_equal(n, 1);
	store_rows_free(rows, n);
	assert_int_equal(store_search(&l, "search-co", "\"unclosed", 10, &rows, &n, &err), PAT_EINVAL);
	assert_contains(err.msg, "cannot search for");
	/* Deleted messages leave the index. */
	assert_int_equal(store_delete(&l, "search-co", m[0].id, &err), PAT_OK);
	assert_int_equal(store_search(&l, "search-co", "invoice", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 0);
	store_rows_free(rows, n);
	assert_int_equal(store_delete_all(&l, "search-co", NULL, &err), PAT_OK);
	assert_int_equal(store_search(&l, "search-co", "password", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 0);
	store_rows_free(rows, n);
	assert_int_equal(store_search(&l, "elsewhere", "invoice", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	store_rows_free(rows, n);
	mem_free(packed);
	mem_free(packed2);
	free(m);
	free(other);
}

/* A backup restored into a new cluster keeps its messages searchable. */
static void backup_and_restore_keep_search(void **state)
{
	uint8_t *packed;
	struct store_message *m = make_batch("restored", 2, &packed);
	struct tc_cluster fresh;
	struct dq_leader other;
	struct store_row *rows;
	struct pat_err err;
	struct tu_proc p;
	char file[4200];
	size_t n;
	int version;

	(void)state;
	m[0].subject = "kept through a restore";
	m[0].body_text = "pineapple";
	assert_int_equal(store_put_batch(&l, m, 2, &err), PAT_OK);
	snprintf(file, sizeof file, "%s/store-backup.db", cluster.dir);
	{
		const char *argv[] = { tu_pat_bin(), "cluster", "backup", file, "--cluster", cluster.seeds, NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 0);
		tu_proc_free(&p);
	}
	tc_init(&fresh, 1, NULL);
	tc_start(&fresh, 0, NULL);
	{
		const char *argv[] = { tu_pat_bin(), "cluster", "restore", file, "--cluster", fresh.seeds, NULL };

		for (int attempt = 0; attempt < 20; attempt++) {
			tu_run(&p, argv, NULL, NULL);
			if (p.status == 0 || strstr(p.err, "cannot reach") == NULL)
				break;
			tu_proc_free(&p);
			usleep(250000);
		}
		if (p.status != 0)
			fail_msg("restore failed: %s", p.err);
		tu_proc_free(&p);
	}
	assert_int_equal(dq_leader_init(&other, fresh.seeds, "pat", 5000, 15000), PAT_OK);
	assert_int_equal(store_migrate(&other, &version, &err), PAT_OK); /* nothing left to migrate */
	assert_int_equal(store_search(&other, "restored", "pineapple", 5, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.subject, "kept through a restore");
	store_rows_free(rows, n);
	dq_leader_close(&other);
	assert_int_equal(tc_stop(&fresh, 0, SIGTERM), 0);
	tc_close(&fresh);
	mem_free(packed);
	free(m);
}

/* A database written by a release with schema 2 (the search index kept its own copy of the
 * text) is upgraded in place: its mail stays searchable and deletes still reach the index. */
static void schema_2_data_is_upgraded(void **state)
{
	static const char v2[] =
		"CREATE TABLE pat_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"
		"CREATE TABLE tenants (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);"
		"CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL,"
		" received_at INTEGER NOT NULL, helo TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt_to TEXT NOT NULL,"
		" from_hdr TEXT NOT NULL, to_hdr TEXT NOT NULL, cc_hdr TEXT NOT NULL, bcc_hdr TEXT NOT NULL,"
		" reply_to TEXT NOT NULL, subject TEXT NOT NULL, message_id TEXT NOT NULL, date_hdr TEXT NOT NULL,"
		" size INTEGER NOT NULL, attachments INTEGER NOT NULL, snippet TEXT NOT NULL, tags TEXT NOT NULL,"
		" is_read INTEGER NOT NULL, region TEXT NOT NULL, gateway TEXT NOT NULL, raw BLOB NOT NULL);"
		"CREATE INDEX messages_by_tenant ON messages (tenant, id);"
		"CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, tenant TEXT NOT NULL, at INTEGER NOT NULL,"
		" actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,"
		" prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
		"CREATE INDEX audit_by_tenant ON audit_log (tenant, seq);"
		"CREATE VIRTUAL TABLE messages_fts USING fts5(subject, addresses, body,"
		" tokenize = 'unicode61 remove_diacritics 2');"
		"INSERT INTO pat_schema VALUES (1, 0), (2, 0);"
		"INSERT INTO messages VALUES (7, '01JDZZZZZZZZZZZZZZZZZZZZZZ', 'old-co', 1, 'h', 'a@example.com',"
		" 'b@example.com', 'a@example.com', 'b@example.com', '', '', '', 'an old order', '', '', 10, 0, 'x',"
		" '', 0, 'local', 'gw', x'00');"
		"INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (7, 'an old order',"
		" 'a@example.com b@example.com', 'three kumquats');";
	struct tc_cluster old;
	struct dq_leader ol;
	struct store_row *rows;
	struct pat_err err;
	size_t n;
	int version = 0;

	(void)state;
	tc_init(&old, 1, NULL);
	tc_start(&old, 0, NULL);
	assert_int_equal(dq_leader_init(&ol, old.seeds, "pat", 5000, 15000), PAT_OK);
	assert_int_equal(dq_leader_exec_sql(&ol, v2, NULL, 0, NULL), PAT_OK);
	assert_int_equal(store_migrate(&ol, &version, &err), PAT_OK);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
	assert_int_equal(store_search(&ol, "old-co", "kumquats", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.subject, "an old order");
	store_rows_free(rows, n);
	assert_int_equal(store_search(&ol, "old-co", "\"b@example.com\"", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	store_rows_free(rows, n);
	assert_int_equal(store_delete(&ol, "old-co", "01JDZZZZZZZZZZZZZZZZZZZZZZ", &err), PAT_OK);
	assert_int_equal(store_search(&ol, "old-co", "kumquats", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 0);
	store_rows_free(rows, n);
	dq_leader_close(&ol);
	assert_int_equal(tc_stop(&old, 0, SIGTERM), 0);
	tc_close(&old);
}

static void audit_chain_catches_tampering(void **state)
{
	struct pat_err err;
	int64_t rows, bad;
	char detail[32];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(detail, sizeof detail, "message %d", i);
		assert_int_equal(store_audit_append(&l, "acme", "admin@acme", "message.delete", "01ARYZ6S41TSV4RRFFQ69G5FAV", detail, &err), PAT_OK);
	}
	assert_int_equal(store_audit_append(&l, "globex", "ops", "tenant.create", "globex", "", &err), PAT_OK);
	assert_int_equal(store_audit_verify(&l, "acme", &rows, &bad, &err), PAT_OK);
	assert_int_equal(rows, 10);
	assert_int_equal(bad, 0);
	/* Someone edits a row behind Pat's back. */
	assert_int_equal(dq_leader_exec_sql(&l, "UPDATE audit_log SET detail = 'nothing' WHERE tenant = 'acme' AND detail = 'message 4'",
					    NULL, 0, NULL), PAT_OK);
	assert_int_equal(store_audit_verify(&l, "acme", &rows, &bad, &err), PAT_OK);
	assert_true(bad > 0);
	{
		int64_t edited = bad;

		/* ... or removes one: the next row no longer chains. */
		assert_int_equal(dq_leader_exec_sql(&l, "UPDATE audit_log SET detail = 'message 4' WHERE tenant = 'acme' AND detail = 'nothing'",
						    NULL, 0, NULL), PAT_OK);
		assert_int_equal(store_audit_verify(&l, "acme", &rows, &bad, &err), PAT_OK);
		assert_int_equal(bad, 0);
		{
			struct dq_value p = dq_int(edited);

			assert_int_equal(dq_leader_exec_sql(&l, "DELETE FROM audit_log WHERE seq = ?", &p, 1, NULL), PAT_OK);
		}
		assert_int_equal(store_audit_verify(&l, "acme", &rows, &bad, &err), PAT_OK);
		assert_int_equal(rows, 9);
		assert_true(bad > edited);
	}
	/* The other tenant's chain is its own and intact. */
	assert_int_equal(store_audit_verify(&l, "globex", &rows, &bad, &err), PAT_OK);
	assert_int_equal(rows, 1);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrations_run_once),
		cmocka_unit_test(batches_pages_and_tenants),
		cmocka_unit_test(a_bad_message_fails_the_whole_batch),
		cmocka_unit_test(search_finds_subject_addresses_and_body),
		cmocka_unit_test(backup_and_restore_keep_search),
		cmocka_unit_test(schema_2_data_is_upgraded),
		cmocka_unit_test(audit_chain_catches_tampering),
	};
	return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
