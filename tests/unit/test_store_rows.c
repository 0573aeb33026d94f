/* Unit tests for node/store_rows: a batch encoded and read back through pat_batch in SQLite
 * (an in-memory database of this process, given Pat's SQL like a node's), and every batch
 * that pat_batch must refuse. */
#include "tests/lib/testutil.h"

#include <sqlite3.h>
#include <string.h>

#include "lib/mem.h"
#include "node/store.h"
#include "node/store_rows.h"

static sqlite3 *open_db(void)
{
	struct pat_err err;
	sqlite3 *db = NULL;

	assert_int_equal(store_register_sql(&err), PAT_OK);
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	return db;
}

/* A row of the 24 columns: texts named after their column, numbers from k. */
static void make_row(struct dq_value row[STORE_ROWS_COLUMNS], int k, char texts[STORE_ROWS_COLUMNS][32])
{
	for (int c = 0; c < STORE_ROWS_COLUMNS; c++) {
		snprintf(texts[c], 32, "r%d c%d \xc3\xa9", k, c);
		row[c] = dq_text(texts[c]);
	}
	row[2] = dq_int(1700000000000LL + k); /* received_at */
	row[14] = dq_int(-k);                  /* size: a negative number survives too */
	row[15] = dq_null();                   /* attachments */
	row[21] = dq_blob("\0\1\2\xff", 4);    /* raw: bytes with a NUL */
	row[22] = dq_text("");                 /* body: empty text, not NULL */
}

/* Run sql with blob (NULL: a NULL argument) bound to ?1; the rows it gives, or -1 with the
 * error in msg. */
static int run(sqlite3 *db, const char *sql, const struct buf *blob, char *msg, size_t n)
{
	sqlite3_stmt *st;
	int rows = 0, rc;

	msg[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(msg, n, "%s", sqlite3_errmsg(db));
		return -1;
	}
	if (blob != NULL)
		sqlite3_bind_blob(st, 1, blob->data, (int)blob->len, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		rows++;
	if (rc != SQLITE_DONE) {
		snprintf(msg, n, "%s", sqlite3_errmsg(db));
		rows = -1;
	}
	sqlite3_finalize(st);
	return rows;
}

/* good with its byte at is set to value: refused, the message naming why. */
static void refused_with(sqlite3 *db, const struct buf *good, size_t at, int value, const char *why)
{
	struct buf bad = BUF_INIT;
	char msg[256];

	buf_append(&bad, good->data, good->len);
	bad.data[at] = (char)value;
	assert_int_equal(run(db, "SELECT * FROM pat_batch(?)", &bad, msg, sizeof msg), -1);
	if (strstr(msg, why) == NULL)
		fail_msg("byte %zu set to %d: \"%s\", not \"%s\"", at, value, msg, why);
	buf_free(&bad);
}

static void every_value_comes_back(void **state)
{
	sqlite3 *db = open_db();
	struct dq_value row[STORE_ROWS_COLUMNS];
	char texts[3][STORE_ROWS_COLUMNS][32];
	struct buf b = BUF_INIT;
	struct pat_err err;
	sqlite3_stmt *st;

	(void)state;
	assert_int_equal(store_rows_begin(&b, &err), PAT_OK);
	for (int k = 0; k < 3; k++) {
		make_row(row, k, texts[k]);
		assert_int_equal(store_rows_add(&b, row, &err), PAT_OK);
	}
	assert_int_equal(store_rows_count(&b), 3);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT " STORE_ROWS_COLUMN_NAMES " FROM pat_batch(?)", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, b.data, (int)b.len, SQLITE_STATIC);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		for (int c = 0; c < STORE_ROWS_COLUMNS; c++) {
			switch (c) {
			case 2:
			case 14:
				assert_int_equal(sqlite3_column_type(st, c), SQLITE_INTEGER);
				assert_int_equal(sqlite3_column_int64(st, c), c == 2 ? 1700000000000LL + k : -k);
				break;
			case 15:
				assert_int_equal(sqlite3_column_type(st, c), SQLITE_NULL);
				break;
			case 21:
				assert_int_equal(sqlite3_column_type(st, c), SQLITE_BLOB);
				assert_int_equal(sqlite3_column_bytes(st, c), 4);
				assert_memory_equal(sqlite3_column_blob(st, c), "\0\1\2\xff", 4);
				break;
			case 22:
				assert_int_equal(sqlite3_column_type(st, c), SQLITE_TEXT);
				assert_string_equal((const char *)sqlite3_column_text(st, c), "");
				break;
			default:
				assert_int_equal(sqlite3_column_type(st, c), SQLITE_TEXT);
				assert_string_equal((const char *)sqlite3_column_text(st, c), texts[k][c]);
			}
		}
	}
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	buf_free(&b);
	sqlite3_close(db);
}

/* What the writer runs, against a table of the same columns: a second run of the same batch
 * adds nothing. */
static void inserts_a_batch_once(void **state)
{
	sqlite3 *db = open_db();
	struct dq_value row[STORE_ROWS_COLUMNS];
	char texts[STORE_ROWS_COLUMNS][32], ids[50][32], msg[256];
	struct buf b = BUF_INIT;
	struct pat_err err;

	(void)state;
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE messages (seq INTEGER PRIMARY KEY, " STORE_ROWS_COLUMN_NAMES
					  ", UNIQUE (tenant, id))", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_rows_begin(&b, &err), PAT_OK);
	for (int k = 0; k < 50; k++) {
		make_row(row, k, texts);
		snprintf(ids[k], sizeof ids[k], "id-%02d", k);
		row[0] = dq_text(ids[k]);
		row[1] = dq_text("acme");
		assert_int_equal(store_rows_add(&b, row, &err), PAT_OK);
	}
	static const char sql[] = "INSERT INTO messages (" STORE_ROWS_COLUMN_NAMES ") SELECT * FROM pat_batch(?)"
				  " WHERE true ON CONFLICT (tenant, id) DO NOTHING";
	assert_int_equal(run(db, sql, &b, msg, sizeof msg), 0);
	assert_int_equal(sqlite3_changes(db), 50);
	assert_int_equal(run(db, sql, &b, msg, sizeof msg), 0);
	assert_int_equal(sqlite3_changes(db), 0);
	assert_int_equal(run(db, "SELECT 1 FROM messages WHERE tenant = 'acme' AND id LIKE 'id-%'", NULL, msg, sizeof msg),
			 50);
	buf_free(&b);
	sqlite3_close(db);
}

/* A batch that is not what the writer makes is refused whole, saying why; NULL is no rows. */
static void damaged_batches_are_refused(void **state)
{
	sqlite3 *db = open_db();
	struct dq_value row[STORE_ROWS_COLUMNS];
	char texts[STORE_ROWS_COLUMNS][32], msg[256];
	struct buf good = BUF_INIT, bad = BUF_INIT;
	struct pat_err err;
	static const char sel[] = "SELECT * FROM pat_batch(?)";

	(void)state;
	assert_int_equal(store_rows_begin(&good, &err), PAT_OK);
	make_row(row, 1, texts);
	assert_int_equal(store_rows_add(&good, row, &err), PAT_OK);
	assert_int_equal(run(db, sel, &good, msg, sizeof msg), 1);

	/* Cut short anywhere: a value runs past the end (or the header is missing). */
	for (size_t cut = 0; cut < good.len; cut += 7) {
		buf_reset(&bad);
		buf_append(&bad, good.data, cut);
		assert_int_equal(run(db, sel, &bad, msg, sizeof msg), -1);
		assert_non_null(strstr(msg, cut < 8 ? "shorter than its header" : "runs past its end"));
	}
	/* A byte too many. */
	buf_reset(&bad);
	buf_append(&bad, good.data, good.len);
	buf_append_char(&bad, 0);
	assert_int_equal(run(db, sel, &bad, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "bytes after its last row"));
	refused_with(db, &good, 8, 9, "no known type");             /* the first value's type */
	refused_with(db, &good, 0, 23, "not of the 24 columns");     /* rows of another width */
	refused_with(db, &good, 4, 2, "runs past its end");          /* more rows than there are */
	/* Not a BLOB, no argument at all, and NULL (no rows). */
	assert_int_equal(run(db, "SELECT * FROM pat_batch('text')", NULL, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "must be a BLOB"));
	assert_int_equal(run(db, "SELECT * FROM pat_batch", NULL, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "a batch is needed"));
	assert_int_equal(run(db, sel, NULL, msg, sizeof msg), 0);
	/* A damaged batch inserts nothing, not even the rows before the damage. */
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (" STORE_ROWS_COLUMN_NAMES ")", NULL, NULL, NULL), SQLITE_OK);
	buf_reset(&bad);
	buf_append(&bad, good.data, good.len);
	assert_int_equal(store_rows_add(&bad, row, &err), PAT_OK);
	bad.len -= 3;
	assert_int_equal(run(db, "INSERT INTO t SELECT * FROM pat_batch(?)", &bad, msg, sizeof msg), -1);
	assert_int_equal(run(db, "SELECT * FROM t", NULL, msg, sizeof msg), 0);
	buf_free(&good);
	buf_free(&bad);
	sqlite3_close(db);
}

/* What the encoder refuses: a value of a type a batch does not carry, a row before a begin. */
static void the_encoder_refuses_what_it_cannot_carry(void **state)
{
	struct dq_value row[STORE_ROWS_COLUMNS];
	char texts[STORE_ROWS_COLUMNS][32];
	struct buf b = BUF_INIT;
	struct pat_err err;

	(void)state;
	make_row(row, 1, texts);
	assert_int_equal(store_rows_add(&b, row, &err), PAT_EINVAL);
	assert_int_equal(store_rows_begin(&b, &err), PAT_OK);
	row[7] = dq_float(1.5);
	assert_int_equal(store_rows_add(&b, row, &err), PAT_EINVAL);
	assert_non_null(strstr(err.msg, "column 8"));
	assert_int_equal(store_rows_count(&b), 0);
	assert_int_equal(b.len, 8); /* nothing of the refused row was kept */
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_value_comes_back),
		cmocka_unit_test(inserts_a_batch_once),
		cmocka_unit_test(damaged_batches_are_refused),
		cmocka_unit_test(the_encoder_refuses_what_it_cannot_carry),
	};
	return cmocka_run_group_tests_name("store_rows", tests, NULL, NULL);
}
