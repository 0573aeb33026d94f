/* Integration tests of node/store against a real `pat node`: migrations, batches (all or
 * nothing, safe to resend), tenant isolation, paging, counts, deletes, compressed raw
 * messages, Mailpit searches (every operator, through gateway/query) with paging, deletion
 * and read marks by search, tags, the audit chain catching a changed or removed row, and writes
 * on new connections while another connection changes the schema. */
#include "tests/lib/testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consensus/leader.h"
#include "gateway/query.h"
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
	version = -1;
	assert_int_equal(store_schema_version(&l, &version, &err), PAT_OK);
	assert_int_equal(version, STORE_SCHEMA_VERSION);
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

/* A batch travels as one value (node/store_rows.h) whatever its size: every column of 300
 * messages comes back as it went, in the batch's order, and the search index follows. A text
 * that is not UTF-8 is stored byte for byte. */
static void big_batches_keep_every_column(void **state)
{
	uint8_t *packed;
	struct store_message *m = make_batch("packers", 300, &packed);
	static char subjects[300][48];
	struct store_row *page, one;
	struct store_term t = { STORE_TERM_SUBJECT, false, "zebra", 0 };
	struct store_filter f = { &t, 1 };
	struct pat_err err;
	int64_t total;
	size_t n;

	(void)state;
	for (int i = 0; i < 300; i++) {
		snprintf(subjects[i], sizeof subjects[i], "%s \"quoted\" \\ %d \xc3\xa9t\xc3\xa9", i == 250 ? "zebra" : "row", i);
		m[i].subject = subjects[i];
		m[i].helo = "client.example";
		m[i].cc = "c@example.com";
		m[i].bcc = "d@example.com";
		m[i].reply_to = "r@example.com";
		m[i].message_id = "<id@example.com>";
		m[i].date = "Mon, 1 Jan 2024 00:00:00 +0000";
		m[i].tags = "one,two";
		m[i].gateway = "gw-1";
		m[i].body_text = "the body\nwith lines";
		m[i].attachments = i % 3;
		m[i].inline_parts = i % 2;
		m[i].read = i % 5 == 0;
		m[i].received_at = 1700000000000 + i;
	}
	assert_int_equal(store_put_batch(&l, m, 300, &err), PAT_OK);
	assert_int_equal(store_put_batch(&l, m, 300, &err), PAT_OK); /* again: nothing added */
	assert_int_equal(store_list(&l, "packers", NULL, 300, &page, &n, &err), PAT_OK);
	assert_int_equal(n, 300);
	for (size_t k = 0; k < n; k++) {
		const struct store_message *want = &m[299 - k], *got = &page[k].m;

		assert_string_equal(got->id, want->id);
		assert_string_equal(got->tenant, "packers");
		assert_int_equal(got->received_at, want->received_at);
		assert_string_equal(got->helo, want->helo);
		assert_string_equal(got->mail_from, want->mail_from);
		assert_string_equal(got->rcpt_to, want->rcpt_to);
		assert_string_equal(got->from, want->from);
		assert_string_equal(got->to, want->to);
		assert_string_equal(got->cc, want->cc);
		assert_string_equal(got->bcc, want->bcc);
		assert_string_equal(got->reply_to, want->reply_to);
		assert_string_equal(got->subject, want->subject);
		assert_string_equal(got->message_id, want->message_id);
		assert_string_equal(got->date, want->date);
		assert_int_equal(got->size, want->size);
		assert_int_equal(got->attachments, want->attachments);
		assert_int_equal(got->inline_parts, want->inline_parts);
		assert_string_equal(got->snippet, want->snippet);
		assert_string_equal(got->tags, want->tags);
		assert_int_equal(got->read, want->read);
		assert_string_equal(got->region, want->region);
		assert_string_equal(got->gateway, want->gateway);
		assert_int_equal(got->raw_len, want->raw_len);
		assert_memory_equal(got->raw, want->raw, want->raw_len);
	}
	store_rows_free(page, n);
	/* The index saw the rows: one subject has the word. */
	assert_int_equal(store_find_matching(&l, "packers", &f, 0, 50, &page, &n, &total, NULL, &err), PAT_OK);
	assert_int_equal(total, 1);
	assert_string_equal(page[0].m.id, m[250].id);
	store_rows_free(page, n);
	/* Not UTF-8: stored byte for byte. */
	{
		uint8_t *packed_bad;
		struct store_message *bad = make_batch("packers-bad", 12, &packed_bad);

		bad[5].subject = "broken \xff\xfe subject";
		assert_int_equal(store_put_batch(&l, bad, 12, &err), PAT_OK);
		assert_int_equal(store_get(&l, "packers-bad", bad[5].id, &one, &err), PAT_OK);
		assert_string_equal(one.m.subject, "broken \xff\xfe subject");
		store_row_free(&one);
		assert_int_equal(store_get(&l, "packers-bad", bad[11].id, &one, &err), PAT_OK);
		store_row_free(&one);
		mem_free(packed_bad);
		free(bad);
	}
	mem_free(packed);
	free(m);
}

/* A batch larger than one statement carries (8 MiB) goes as several in one transaction:
 * 12 messages of 1 MiB that zstd cannot shrink all arrive whole, and sending the batch again
 * adds none. */
static void a_batch_larger_than_a_statement(void **state)
{
	enum { N = 12, SIZE = 1 << 20 };
	uint8_t *packed, *raws = malloc((size_t)N * SIZE);
	struct store_message *m = make_batch("big-raws", N, &packed);
	struct store_row one;
	struct pat_err err;
	int64_t total, unread;
	uint64_t x = 88172645463325252ULL;

	(void)state;
	assert_non_null(raws);
	for (size_t i = 0; i < (size_t)N * SIZE; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		raws[i] = (uint8_t)x;
	}
	for (int i = 0; i < N; i++) {
		m[i].raw = raws + (size_t)i * SIZE;
		m[i].raw_len = SIZE;
	}
	assert_int_equal(store_put_batch(&l, m, N, &err), PAT_OK);
	assert_int_equal(store_put_batch(&l, m, N, &err), PAT_OK);
	assert_int_equal(store_count(&l, "big-raws", &total, &unread, &err), PAT_OK);
	assert_int_equal(total, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(store_get(&l, "big-raws", m[i].id, &one, &err), PAT_OK);
		assert_int_equal(one.m.raw_len, SIZE);
		assert_memory_equal(one.m.raw, m[i].raw, SIZE);
		store_row_free(&one);
	}
	mem_free(packed);
	free(raws);
	free(m);
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

/* An integer read with SQL (the first column of the first row). */
static int64_t sql_int(const char *sql)
{
	struct dq_rows rows;
	bool row = false;
	int64_t v;

	assert_int_equal(dq_leader_query_sql(&l, sql, NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_true(row);
	v = rows.values[0].integer;
	dq_rows_close(&rows);
	return v;
}

/* Put one message of tenant "behind-co" with subject s; it is not indexed yet. */
static void put_unindexed(const char *subject, char id[ULID_SIZE])
{
	uint8_t *packed;
	struct store_message *m = make_batch("behind-co", 1, &packed);
	struct pat_err err;

	m[0].subject = subject;
	assert_int_equal(store_put_batch(&l, m, 1, &err), PAT_OK);
	assert_true(sql_int("SELECT upto FROM fts_state") < sql_int("SELECT max(seq) FROM messages"));
	memcpy(id, m[0].id, ULID_SIZE);
	mem_free(packed);
	free(m);
}

static int64_t fts_hits(const char *word)
{
	char sql[160];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '%s'", word);
	return sql_int(sql);
}

/* The full-text index follows the writes (migration 7): a stored message is indexed later,
 * and every way of searching indexes what is missing first, so that none misses a message
 * stored before it; deleting or changing a message not indexed yet leaves the index alone,
 * and a seq given again after a deletion is indexed at once. */
static void index_follows_behind_the_writes(void **state)
{
	char id[ULID_SIZE];
	struct store_row *rows;
	struct query q;
	struct pat_err err;
	int64_t total, unread, changed;
	bool moved;
	size_t n;

	(void)state;
	assert_int_equal(store_index(&l, 0, NULL, &err), PAT_OK);
	assert_int_equal(store_index(&l, 0, &moved, &err), PAT_OK);
	assert_false(moved); /* nothing left */

	put_unindexed("kiwi crate", id);
	assert_int_equal(fts_hits("kiwi"), 0);
	assert_int_equal(query_parse("kiwi", NULL, &q, &err), PAT_OK);
	assert_int_equal(store_find_matching(&l, "behind-co", &q.filter, 0, 10, &rows, &n, &total, &unread, &err), PAT_OK);
	query_free(&q);
	assert_int_equal(total, 1);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.id, id);
	store_rows_free(rows, n);
	assert_int_equal(sql_int("SELECT upto FROM fts_state"), sql_int("SELECT max(seq) FROM messages"));

	put_unindexed("mango crate", id);
	assert_int_equal(store_search(&l, "behind-co", "mango", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	store_rows_free(rows, n);

	put_unindexed("plum crate", id);
	assert_int_equal(query_parse("plum", NULL, &q, &err), PAT_OK);
	assert_int_equal(store_set_read(&l, "behind-co", true, NULL, 0, &q.filter, &changed, &err), PAT_OK);
	query_free(&q);
	assert_int_equal(changed, 1);
	assert_int_equal(fts_hits("plum"), 1);

	/* Changed before it was indexed: indexed as it is now. */
	put_unindexed("lime crate", id);
	assert_int_equal(dq_leader_exec_sql(&l, "UPDATE messages SET subject = 'lemon crate' WHERE seq = (SELECT max(seq) FROM messages)",
					    NULL, 0, NULL), PAT_OK);
	assert_int_equal(store_search(&l, "behind-co", "lime", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 0);
	store_rows_free(rows, n);
	assert_int_equal(store_search(&l, "behind-co", "lemon", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 1);
	store_rows_free(rows, n);
	/* Indexed, then changed: the index follows. */
	assert_int_equal(dq_leader_exec_sql(&l, "UPDATE messages SET subject = 'orange crate' WHERE seq = (SELECT max(seq) FROM messages)",
					    NULL, 0, NULL), PAT_OK);
	assert_int_equal(fts_hits("lemon"), 0);
	assert_int_equal(fts_hits("orange"), 1);
	/* Deleted before it was indexed: nothing to take out of the index. */
	put_unindexed("quince crate", id);
	assert_int_equal(store_delete(&l, "behind-co", id, &err), PAT_OK);
	assert_int_equal(store_index(&l, 0, &moved, &err), PAT_OK);
	assert_false(moved); /* the newest seq is indexed already */
	assert_int_equal(fts_hits("quince"), 0);
	put_unindexed("cherry crate", id);
	assert_int_equal(query_parse("cherry", NULL, &q, &err), PAT_OK);
	assert_int_equal(store_delete_matching(&l, "behind-co", &q.filter, &changed, &err), PAT_OK);
	query_free(&q);
	assert_int_equal(changed, 1);
	assert_int_equal(fts_hits("cherry"), 0); /* indexed by the deletion's search, then taken out */

	/* The newest message, indexed, is deleted: the next one gets its seq, at or below the
	 * index's mark, and is indexed as it is stored. */
	assert_int_equal(store_delete_matching(&l, "behind-co", NULL, &changed, &err), PAT_OK);
	assert_int_equal(changed, 4);
	{
		uint8_t *packed;
		struct store_message *m = make_batch("behind-co", 1, &packed);

		m[0].subject = "grape crate";
		assert_int_equal(store_put_batch(&l, m, 1, &err), PAT_OK);
		assert_true(sql_int("SELECT max(seq) FROM messages") <= sql_int("SELECT upto FROM fts_state"));
		mem_free(packed);
		free(m);
	}
	assert_int_equal(fts_hits("grape"), 1);
	assert_int_equal(fts_hits("orange"), 0);
	assert_int_equal(fts_hits("crate"), 1);
	assert_int_equal(dq_leader_exec_sql(&l, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')", NULL, 0,
					    NULL), PAT_OK);
	assert_int_equal(store_delete_matching(&l, "behind-co", NULL, &changed, &err), PAT_OK);
}

/* A text read with SQL into out (the first column of the first row); false for NULL. */
static bool sql_text(const char *sql, const struct dq_value *p, unsigned n, char *out, size_t size)
{
	struct dq_rows rows;
	bool row = false, text;

	assert_int_equal(dq_leader_query_sql(&l, sql, p, n, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_true(row);
	text = rows.values[0].type == DQ_TEXT;
	snprintf(out, size, "%s", text ? rows.values[0].bytes.ptr : "");
	dq_rows_close(&rows);
	return text;
}

/* Searchable text is stored zstd-compressed when that makes it smaller (migration 8): in a
 * batch of one statement and in a packed batch, packed by the caller or by the store; search
 * (full-text, before and after indexing; MailHog's "containing") finds its words, and the
 * index takes them out again when an indexed message is deleted. pat_text(), the nodes' SQL
 * function, gives the text of either form and fails on a damaged frame rather than give
 * something else. */
static void long_bodies_are_stored_compressed(void **state)
{
	static const char word_filler[] = "The quarterly report is attached; the figures are in the second table. ";
	char long_body[1024] = "", got[1100], id[3][ULID_SIZE];
	uint8_t *packed, *body;
	size_t body_len, n;
	struct store_row *rows;
	struct pat_err err;
	int64_t total, changed;
	struct dq_value p;

	(void)state;
	while (strlen(long_body) + sizeof word_filler < sizeof long_body - 32)
		strcat(long_body, word_filler);
	strcat(long_body, "Ask for the zeppelin.");
	assert_int_equal(store_pack_body("too short to pack", &body, &body_len, &err), PAT_OK);
	assert_null(body);
	assert_int_equal(store_pack_body(long_body, &body, &body_len, &err), PAT_OK);
	assert_non_null(body);
	assert_true(body_len < strlen(long_body) / 4);

	/* One packed by the caller, one by the store, one short; then 12 at once (packed). */
	struct store_message *m = make_batch("bodies-co", 3, &packed);

	m[0].body_text = long_body;
	m[0].body = body;
	m[0].body_len = body_len;
	m[0].body_packed = true;
	m[1].body_text = long_body;
	m[2].body_text = "zeppelin, in short";
	assert_int_equal(store_put_batch(&l, m, 3, &err), PAT_OK);
	for (int i = 0; i < 3; i++)
		memcpy(id[i], m[i].id, ULID_SIZE);
	free(m);
	mem_free(packed);
	m = make_batch("bodies-co", 12, &packed);
	for (int i = 0; i < 12; i++)
		m[i].body_text = long_body;
	assert_int_equal(store_put_batch(&l, m, 12, &err), PAT_OK);
	free(m);
	mem_free(packed);
	mem_free(body);

	for (int i = 0; i < 3; i++) {
		p = dq_text(id[i]);
		assert_int_equal(sql_text("SELECT typeof(body) FROM messages WHERE id = ?", &p, 1, got, sizeof got), true);
		assert_string_equal(got, i < 2 ? "blob" : "text");
		assert_true(sql_text("SELECT pat_text(body) FROM messages WHERE id = ?", &p, 1, got, sizeof got));
		assert_string_equal(got, i < 2 ? long_body : "zeppelin, in short");
	}
	assert_int_equal(sql_int("SELECT count(*) FROM messages WHERE tenant = 'bodies-co' AND typeof(body) = 'blob'"
				 " AND length(body) < 300"), 14);

	/* Found before the index has it, and after. */
	assert_int_equal(store_search(&l, "bodies-co", "zeppelin", 20, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 15);
	store_rows_free(rows, n);
	assert_int_equal(fts_hits("zeppelin"), 15);
	assert_int_equal(store_search(&l, "bodies-co", "quarterly", 20, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 14);
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "bodies-co", STORE_MATCH_CONTAINING, "figures are in the second", 0, 20, &rows, &n,
				    &total, &err), PAT_OK);
	assert_int_equal(total, 14);
	store_rows_free(rows, n);

	/* An indexed, compressed message deleted: its words leave the index. */
	assert_int_equal(store_delete(&l, "bodies-co", id[0], &err), PAT_OK);
	assert_int_equal(fts_hits("zeppelin"), 14);
	assert_int_equal(dq_leader_exec_sql(&l, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')", NULL, 0,
					    NULL), PAT_OK);
	assert_int_equal(store_delete_matching(&l, "bodies-co", NULL, &changed, &err), PAT_OK);
	assert_int_equal(changed, 14);
	assert_int_equal(fts_hits("zeppelin"), 0);
	assert_int_equal(fts_hits("quarterly"), 0);

	/* pat_text() of each form. */
	p = dq_blob((const uint8_t *)"not zstd", 8);
	assert_true(sql_text("SELECT pat_text(?)", &p, 1, got, sizeof got));
	assert_string_equal(got, "not zstd");
	assert_false(sql_text("SELECT pat_text(NULL)", NULL, 0, got, sizeof got));
	{
		/* A frame header that claims 2^40 bytes, and a frame cut short. */
		static const uint8_t huge[] = { 0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0 };
		uint8_t *cut;
		size_t cut_len;

		p = dq_blob(huge, sizeof huge);
		assert_int_not_equal(dq_leader_query_sql(&l, "SELECT pat_text(?)", &p, 1, &(struct dq_rows){ 0 }), PAT_OK);
		/* (dqlite 1.11 reports such a failure by the result column's name, not the message) */
		assert_int_equal(l.client.fail_code, 1 /* SQLITE_ERROR */);
		assert_int_equal(store_pack_raw(long_body, strlen(long_body), &cut, &cut_len, &err), PAT_OK);
		p = dq_blob(cut, cut_len - 4);
		assert_int_not_equal(dq_leader_query_sql(&l, "SELECT pat_text(?)", &p, 1, &(struct dq_rows){ 0 }), PAT_OK);
		assert_int_equal(l.client.fail_code, 1);
		mem_free(cut);
	}
}

/* Three messages of one tenant, and the same three for another tenant that no search of the
 * first may ever return. */
static char finder_ids[3][ULID_SIZE], intruder_ids[3][ULID_SIZE];

static void put_search_fixture(const char *tenant, char ids[3][ULID_SIZE])
{
	uint8_t *packed;
	struct store_message *m = make_batch(tenant, 3, &packed);
	struct pat_err err;

	m[0].from = "Alice <alice@shop.example>";
	m[0].to = "bob@corp.example";
	m[0].subject = "Your invoice 42";
	m[0].message_id = "inv42@shop.example";
	m[0].body_text = "Thanks for the teapots.";
	m[0].size = 1000;
	m[0].attachments = 1;
	m[0].tags = "billing,Urgent";
	m[0].read = true;
	m[0].received_at = 1704888000000; /* 2024-01-10T12:00Z */
	m[1].from = "Carol <carol@news.example>";
	m[1].to = "dana@corp.example";
	m[1].cc = "team@corp.example";
	m[1].reply_to = "noreply@news.example";
	m[1].subject = "Weekly newsletter";
	m[1].body_text = "Teapot sale this week only.";
	m[1].size = 3 << 20;
	m[1].inline_parts = 2;
	m[1].received_at = 1704974400000; /* 2024-01-11T12:00Z */
	m[2].from = "alerts@ops.example";
	m[2].to = "bob@corp.example";
	m[2].bcc = "audit@corp.example";
	m[2].subject = "Disk almost full";
	m[2].body_text = "server one";
	m[2].size = 500;
	m[2].received_at = 1705060800000; /* 2024-01-12T12:00Z */
	assert_int_equal(store_put_batch(&l, m, 3, &err), PAT_OK);
	for (int i = 0; i < 3; i++)
		memcpy(ids[i], m[i].id, ULID_SIZE);
	mem_free(packed);
	free(m);
}

/* The messages search finds for tenant, newest first, as indices into ids ("21": m2, m1). */
static void expect_found(const char *tenant, char ids[3][ULID_SIZE], const char *search, const char *want)
{
	struct store_row *rows;
	struct query q;
	struct pat_err err;
	int64_t total;
	size_t n;
	char got[8] = "";

	if (query_parse(search, NULL, &q, &err) != PAT_OK)
		fail_msg("%s: %s", search, err.msg);
	if (store_find_matching(&l, tenant, &q.filter, 0, 50, &rows, &n, &total, NULL, &err) != PAT_OK)
		fail_msg("%s: %s", search, err.msg);
	for (size_t i = 0; i < n && i < 7; i++) {
		char c = '?';

		for (int k = 0; k < 3; k++)
			if (strcmp(rows[i].m.id, ids[k]) == 0)
				c = (char)('0' + k);
		assert_string_equal(rows[i].m.tenant, tenant);
		got[i] = c;
		got[i + 1] = '\0';
	}
	if (strcmp(got, want) != 0)
		fail_msg("search \"%s\" for %s found \"%s\", expected \"%s\"", search, tenant, got, want);
	assert_int_equal(total, (int64_t)strlen(want));
	store_rows_free(rows, n);
	query_free(&q);
}

static void searches_with_every_operator(void **state)
{
	static const struct {
		const char *search, *want;
	} cases[] = {
		{ "", "210" },
		{ "invoice", "0" },
		{ "INVOICE 42", "0" },
		{ "teapot", "10" },          /* stemmed: "teapots" too */
		{ "teapots", "10" },
		{ "teap", "" },              /* whole words ... */
		{ "teap*", "10" },           /* ... but for a trailing '*' */
		{ "tea*pot", "" },
		{ "invoice -teapot", "" },
		{ "teapot -invoice", "1" },
		{ "teapot -subject:invoice", "1" },
		{ "teapot sale -alice", "1" },
		{ "-teapot", "2" },
		{ "!teapot", "2" },
		{ "\"sale this\"", "1" },
		{ "\"this sale\"", "" },
		{ "from:alice", "0" },
		{ "FROM:ALICE@SHOP", "0" },
		{ "from:<alice@shop.example>", "0" },
		{ "to:bob@corp", "20" },
		{ "-to:bob", "1" },
		{ "cc:team", "1" },
		{ "bcc:audit", "2" },
		{ "reply-to:noreply", "1" },
		{ "addressed:corp.example", "210" },
		{ "addressed:audit", "2" },
		{ "-addressed:news.example", "20" },
		{ "subject:newsletter", "1" },
		{ "subject:\"almost full\"", "2" },
		{ "subject:newsl", "" },     /* the subject's words, as free text */
		{ "subject:newsl*", "1" },
		{ "subject:teapot", "" },    /* in the body, not the subject */
		{ "subject:disk is:unread", "2" },
		{ "subject:invoice is:read", "0" },
		{ "subject:invoice is:unread", "" },
		{ "-subject:newsletter", "20" },
		{ "message-id:inv42", "0" },
		{ "tag:urgent", "0" },
		{ "tag:BILLING", "0" },
		{ "tag:urg", "" },           /* a tag matches whole */
		{ "is:tagged", "0" },
		{ "-is:tagged", "21" },
		{ "is:read", "0" },
		{ "is:unread", "21" },
		{ "-is:read", "21" },
		{ "has:attachment", "0" },
		{ "-has:attachments", "21" },
		{ "has:inline", "1" },
		{ "larger:1M", "1" },
		{ "smaller:1K", "20" },
		{ "-larger:1000", "20" },
		{ "after:2024-01-11", "21" },
		{ "before:2024-01-11", "0" },
		{ "after:2024-01-11 before:2024-01-12", "1" },
		{ "-after:\"2024-01-11 12:00\"", "0" },
		{ "teapot is:unread", "1" },
		{ "to:bob -subject:disk has:attachment", "0" },
		{ "x:y", "" },
		{ "it's \"quoted\"\"\" '); DELETE FROM messages; --", "" },
	};

	(void)state;
	put_search_fixture("finder", finder_ids);
	put_search_fixture("intruder", intruder_ids);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		expect_found("finder", finder_ids, cases[i].search, cases[i].want);
		/* The other tenant's copies are found only for it. */
		expect_found("intruder", intruder_ids, cases[i].search, cases[i].want);
	}
}

static void search_pages_and_counts(void **state)
{
	struct store_row *rows;
	struct query q;
	struct pat_err err;
	int64_t total, unread;
	size_t n;

	(void)state;
	assert_int_equal(store_find_matching(&l, "finder", NULL, 1, 1, &rows, &n, &total, &unread, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_int_equal(total, 3);
	assert_int_equal(unread, 2);
	assert_string_equal(rows[0].m.id, finder_ids[1]);
	assert_string_equal(rows[0].m.subject, "Weekly newsletter");
	assert_int_equal(rows[0].m.inline_parts, 2);
	store_rows_free(rows, n);
	assert_int_equal(query_parse("teapot", NULL, &q, &err), PAT_OK);
	assert_int_equal(store_find_matching(&l, "finder", &q.filter, 5, 10, &rows, &n, &total, &unread, &err), PAT_OK);
	assert_int_equal(n, 0); /* past the end */
	assert_int_equal(total, 2);
	assert_int_equal(unread, 1);
	store_rows_free(rows, n);
	query_free(&q);
	assert_int_equal(store_find_matching(&l, "nobody", NULL, 0, 10, &rows, &n, &total, &unread, &err), PAT_OK);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	store_rows_free(rows, n);
}

static void read_marks_by_id_and_search(void **state)
{
	const char *ids[] = { finder_ids[1], "01ARYZ6S41TSV4RRFFQ69G5FAV", intruder_ids[2] };
	struct query q;
	struct pat_err err;
	int64_t changed, total, unread;

	(void)state;
	/* By id: another tenant's id and an unknown one change nothing. */
	assert_int_equal(store_set_read(&l, "finder", true, ids, 3, NULL, &changed, &err), PAT_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(store_set_read(&l, "finder", true, ids, 3, NULL, &changed, &err), PAT_OK);
	assert_int_equal(changed, 0); /* read already */
	expect_found("finder", finder_ids, "is:unread", "2");
	expect_found("intruder", intruder_ids, "is:unread", "21");
	/* By search. */
	assert_int_equal(query_parse("subject:disk", NULL, &q, &err), PAT_OK);
	assert_int_equal(store_set_read(&l, "finder", true, NULL, 0, &q.filter, &changed, &err), PAT_OK);
	assert_int_equal(changed, 1);
	query_free(&q);
	expect_found("finder", finder_ids, "is:unread", "");
	/* Everything back to unread (no ids, no search). */
	assert_int_equal(store_set_read(&l, "finder", false, NULL, 0, NULL, &changed, &err), PAT_OK);
	assert_int_equal(changed, 3);
	assert_int_equal(store_count(&l, "finder", &total, &unread, &err), PAT_OK);
	assert_int_equal(unread, 3);
	expect_found("intruder", intruder_ids, "is:read", "0");
	/* A search through the full-text index works in an update too. */
	assert_int_equal(query_parse("teapot", NULL, &q, &err), PAT_OK);
	assert_int_equal(store_set_read(&l, "finder", true, NULL, 0, &q.filter, &changed, &err), PAT_OK);
	assert_int_equal(changed, 2);
	query_free(&q);
	expect_found("finder", finder_ids, "is:read", "10");
}

static void tags_set_list_rename(void **state)
{
	const char *ids[] = { finder_ids[1], finder_ids[2], intruder_ids[0] };
	const char *tags[] = { " News ", "later", "news" };
	const char *bad[] = { "a,b" };
	struct pat_err err;
	int64_t changed;
	char **list;
	size_t n;

	(void)state;
	assert_int_equal(store_tags_set(&l, "finder", ids, 3, tags, 3, &changed, &err), PAT_OK);
	assert_int_equal(changed, 2);
	assert_int_equal(store_tags_set(&l, "finder", ids, 1, bad, 1, &changed, &err), PAT_EINVAL);
	assert_contains(err.msg, "comma");
	expect_found("finder", finder_ids, "tag:news", "21");
	expect_found("intruder", intruder_ids, "tag:news", "");
	assert_int_equal(store_tags_list(&l, "finder", &list, &n, &err), PAT_OK);
	assert_int_equal(n, 4);
	assert_string_equal(list[0], "billing");
	assert_string_equal(list[1], "later");
	assert_string_equal(list[2], "News"); /* once, as first written */
	assert_string_equal(list[3], "Urgent");
	store_tags_free(list, n);
	assert_int_equal(store_tag_rename(&l, "finder", "NEWS", "digest", &changed, &err), PAT_OK);
	assert_int_equal(changed, 2);
	expect_found("finder", finder_ids, "tag:digest", "21");
	expect_found("finder", finder_ids, "tag:news", "");
	/* Renaming onto a tag a message has already leaves it once. */
	assert_int_equal(store_tag_rename(&l, "finder", "later", "Digest", &changed, &err), PAT_OK);
	{
		struct store_row r;

		assert_int_equal(store_get(&l, "finder", finder_ids[1], &r, &err), PAT_OK);
		assert_string_equal(r.m.tags, "digest");
		store_row_free(&r);
	}
	/* Deleting a tag: rename to nothing. */
	assert_int_equal(store_tag_rename(&l, "finder", "digest", NULL, &changed, &err), PAT_OK);
	assert_int_equal(changed, 2);
	expect_found("finder", finder_ids, "is:tagged", "0");
	assert_int_equal(store_tags_set(&l, "finder", ids, 1, NULL, 0, &changed, &err), PAT_OK);
	assert_int_equal(store_tags_list(&l, "intruder", &list, &n, &err), PAT_OK);
	assert_int_equal(n, 2); /* billing, Urgent: untouched */
	store_tags_free(list, n);
}

static void deletes_by_search(void **state)
{
	struct store_row *rows;
	struct query q;
	struct pat_err err;
	int64_t deleted, total, unread;
	size_t n;

	(void)state;
	assert_int_equal(query_parse("teapot", NULL, &q, &err), PAT_OK);
	assert_int_equal(store_delete_matching(&l, "finder", &q.filter, &deleted, &err), PAT_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(store_delete_matching(&l, "finder", &q.filter, &deleted, &err), PAT_OK);
	assert_int_equal(deleted, 0);
	query_free(&q);
	expect_found("finder", finder_ids, "", "2");
	expect_found("intruder", intruder_ids, "teapot", "10");
	/* Their index entries went with them. */
	assert_int_equal(store_search(&l, "finder", "teapots", 10, &rows, &n, &err), PAT_OK);
	assert_int_equal(n, 0);
	store_rows_free(rows, n);
	assert_int_equal(store_delete_matching(&l, "finder", NULL, &deleted, &err), PAT_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(store_count(&l, "intruder", &total, &unread, &err), PAT_OK);
	assert_int_equal(total, 3);
	assert_int_equal(store_delete_matching(&l, "intruder", NULL, &deleted, &err), PAT_OK);
	assert_int_equal(deleted, 3);
}

/* A backup restored into a new cluster keeps its messages searchable. */
/* MailHog's paging and substring search: offsets, totals, kinds, case and LIKE's wildcards. */
static void find_pages_and_matches_substrings(void **state)
{
	uint8_t *packed;
	struct store_message *m = make_batch("find-co", 5, &packed);
	struct store_row *rows;
	struct pat_err err;
	int64_t total = -1;
	size_t n;

	(void)state;
	m[0].mail_from = "Alice@Example.COM";
	m[1].to = "Bob Builder <bob@site.example>";
	m[2].subject = "100% off_sale";
	m[3].body_text = "Your code is 31337.";
	m[4].cc = "carol@cc.example";
	assert_int_equal(store_put_batch(&l, m, 5, &err), PAT_OK);
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_ALL, NULL, 0, 2, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(total, 5);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].m.id, m[4].id); /* newest first */
	assert_string_equal(rows[1].m.id, m[3].id);
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_ALL, NULL, 4, 2, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].m.id, m[0].id);
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_ALL, NULL, 2000000000, 2, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(n, 0);
	assert_int_equal(total, 5);
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_FROM, "alice@example", 0, 10, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(total, 1);
	assert_string_equal(rows[0].m.id, m[0].id);
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_TO, "BUILDER", 0, 10, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(total, 1);
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_TO, "carol@", 0, 10, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(total, 1); /* Cc counts as a recipient */
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_CONTAINING, "0% off_", 0, 10, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(total, 1);
	assert_string_equal(rows[0].m.id, m[2].id);
	store_rows_free(rows, n);
	/* '%' and '_' are literal: "1_0" matches nothing, although LIKE would take '_' as any. */
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_CONTAINING, "1_0", 0, 10, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(total, 0);
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "find-co", STORE_MATCH_CONTAINING, "code is 313", 0, 10, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(total, 1); /* the body text */
	assert_string_equal(rows[0].m.id, m[3].id);
	store_rows_free(rows, n);
	assert_int_equal(store_find(&l, "elsewhere-co", STORE_MATCH_CONTAINING, "example", 0, 10, &rows, &n, &total, &err), PAT_OK);
	assert_int_equal(total, 0); /* another tenant sees none of it */
	store_rows_free(rows, n);
	assert_int_equal(store_delete_all(&l, "find-co", NULL, &err), PAT_OK);
	mem_free(packed);
	free(m);
}

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
	struct dq_rows up;
	bool row = false;
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
	/* What was indexed before stays indexed: the mark starts at the newest message. */
	assert_int_equal(dq_leader_query_sql(&ol, "SELECT upto FROM fts_state", NULL, 0, &up), PAT_OK);
	assert_int_equal(dq_rows_next(&up, &row), PAT_OK);
	assert_true(row);
	assert_int_equal(up.values[0].integer, 7);
	dq_rows_close(&up);
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

/* ---- a schema change under way ----
 *
 * A gateway opens a new connection to write while another connection changes the schema (a
 * new cluster: the node registering itself as the store migrates). dqlite refuses such a
 * statement for a moment ("no such table: messages", SQLITE_SCHEMA); the store must ride it
 * out, as it does "database is locked", not fail the message. */
static atomic_int ddl_stop, ddl_done;

static void *change_schema(void *arg)
{
	struct dq_leader x;
	char sql[64];

	(void)arg;
	if (dq_leader_init(&x, cluster.seeds, "pat", 5000, 15000) != PAT_OK)
		return NULL;
	for (int k = 0; !ddl_stop; k++) {
		snprintf(sql, sizeof sql, "CREATE TABLE side_%d (v)", k);
		if (dq_leader_exec_sql(&x, sql, NULL, 0, NULL) == PAT_OK)
			ddl_done++;
		if (k % 4 == 3) {
			/* A new connection of its own now and then, as a starting node has. */
			dq_leader_close(&x);
			if (dq_leader_init(&x, cluster.seeds, "pat", 5000, 15000) != PAT_OK)
				return NULL;
		}
	}
	dq_leader_close(&x);
	return NULL;
}

static void new_connections_write_through_a_schema_change(void **state)
{
	enum { N = 150 };
	struct pat_err err;
	uint8_t *packed;
	struct store_message *m = make_batch("schema-change", N, &packed);
	int64_t total, unread;
	pthread_t t;
	int during;

	(void)state;
	ddl_stop = 0;
	ddl_done = 0;
	assert_int_equal(pthread_create(&t, NULL, change_schema, NULL), 0);
	while (ddl_done == 0)
		usleep(1000);
	for (int i = 0; i < N; i++) {
		struct dq_leader w;
		struct store_row row;

		assert_int_equal(dq_leader_init(&w, cluster.seeds, "pat", 5000, 15000), PAT_OK);
		if (store_put_batch(&w, &m[i], 1, &err) != PAT_OK)
			fail_msg("message %d of %d: %s", i + 1, N, err.msg);
		dq_leader_close(&w);
		assert_int_equal(dq_leader_init(&w, cluster.seeds, "pat", 5000, 15000), PAT_OK);
		if (store_get(&w, "schema-change", m[i].id, &row, &err) != PAT_OK)
			fail_msg("reading message %d of %d: %s", i + 1, N, err.msg);
		store_row_free(&row);
		dq_leader_close(&w);
	}
	during = ddl_done;
	ddl_stop = 1;
	pthread_join(t, NULL);
	/* The schema did change while the messages went in. */
	assert_true(during > 1);
	assert_int_equal(store_count(&l, "schema-change", &total, &unread, &err), PAT_OK);
	assert_int_equal(total, N);
	free(m);
	mem_free(packed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(migrations_run_once),
		cmocka_unit_test(batches_pages_and_tenants),
		cmocka_unit_test(big_batches_keep_every_column),
		cmocka_unit_test(a_batch_larger_than_a_statement),
		cmocka_unit_test(a_bad_message_fails_the_whole_batch),
		cmocka_unit_test(search_finds_subject_addresses_and_body),
		cmocka_unit_test(index_follows_behind_the_writes),
		cmocka_unit_test(long_bodies_are_stored_compressed),
		cmocka_unit_test(find_pages_and_matches_substrings),
		cmocka_unit_test(searches_with_every_operator),
		cmocka_unit_test(search_pages_and_counts),
		cmocka_unit_test(read_marks_by_id_and_search),
		cmocka_unit_test(tags_set_list_rename),
		cmocka_unit_test(deletes_by_search),
		cmocka_unit_test(backup_and_restore_keep_search),
		cmocka_unit_test(schema_2_data_is_upgraded),
		cmocka_unit_test(audit_chain_catches_tampering),
		cmocka_unit_test(new_connections_write_through_a_schema_change),
	};
	return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
