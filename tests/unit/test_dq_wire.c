/* Unit tests for consensus/dq_wire: exact request bytes, and decoding that never trusts its
 * input (every truncation and byte flip of a valid row is an error or a value, never a crash). */
#include "tests/lib/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "consensus/dq_wire.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"

static void le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void request_bytes(void **state)
{
	struct buf b = BUF_INIT;
	struct dq_encoder e;
	struct dq_value params[] = { dq_int(-2), dq_text("hi"), dq_null(), dq_blob("xyz", 3), dq_float(1.5) };
	uint8_t want[8 + 8 + 8 + 8 + 8 + 8 + 8 + 16 + 8] = { 0 };
	double d = 1.5;
	uint64_t bits;

	(void)state;
	dq_enc_begin(&e, &b, DQ_REQ_QUERY_SQL, 0);
	dq_enc_u64(&e, 7);
	dq_enc_params(&e, params, 5);
	assert_int_equal(dq_enc_end(&e), PAT_OK);
	/* header: 8 words of body, type 9 */
	want[0] = 8;
	want[4] = DQ_REQ_QUERY_SQL;
	le(want + 8, 7);
	/* params header: count, five type bytes, padding to 8 */
	want[16] = 5;
	want[17] = DQ_INTEGER;
	want[18] = DQ_TEXT;
	want[19] = DQ_NULL;
	want[20] = DQ_BLOB;
	want[21] = DQ_FLOAT;
	le(want + 24, (uint64_t)-2);
	memcpy(want + 32, "hi", 2);   /* text padded to 8 */
	le(want + 40, 0);             /* null */
	le(want + 48, 3);             /* blob length */
	memcpy(want + 56, "xyz", 3);  /* blob bytes padded */
	memcpy(&bits, &d, 8);
	le(want + 64, bits);
	assert_int_equal(b.len, 72);
	assert_memory_equal(b.data, want, 72);
	buf_free(&b);
}

static void text_padding(void **state)
{
	struct buf b = BUF_INIT;
	struct dq_encoder e;

	(void)state;
	dq_enc_begin(&e, &b, DQ_REQ_OPEN, 0);
	dq_enc_text(&e, "1234567"); /* 7 + NUL = 8 */
	dq_enc_text(&e, "12345678"); /* 8 + NUL = 16 */
	dq_enc_text(&e, "");        /* NUL = 8 */
	assert_int_equal(dq_enc_end(&e), PAT_OK);
	assert_int_equal(b.len, 8 + 8 + 16 + 8);
	assert_int_equal((uint8_t)b.data[0], 4);
	buf_free(&b);
}

static void bad_params_are_refused(void **state)
{
	struct dq_value many[DQ_MAX_PARAMS + 1];
	struct dq_value nul = { .type = DQ_TEXT, .bytes = { "a\0b", 3 } };
	struct dq_value odd = { .type = 42 };
	struct buf b = BUF_INIT;
	struct dq_encoder e;

	(void)state;
	for (size_t i = 0; i <= DQ_MAX_PARAMS; i++)
		many[i] = dq_int((int64_t)i);
	dq_enc_begin(&e, &b, DQ_REQ_EXEC_SQL, 0);
	dq_enc_params(&e, many, DQ_MAX_PARAMS);
	assert_int_equal(dq_enc_end(&e), PAT_OK); /* 255 is the most */
	buf_reset(&b);
	dq_enc_begin(&e, &b, DQ_REQ_EXEC_SQL, 0);
	dq_enc_params(&e, many, DQ_MAX_PARAMS + 1);
	assert_int_equal(dq_enc_end(&e), PAT_EINVAL);
	buf_reset(&b);
	dq_enc_begin(&e, &b, DQ_REQ_EXEC_SQL, 0);
	dq_enc_params(&e, &nul, 1);
	assert_int_equal(dq_enc_end(&e), PAT_EINVAL);
	buf_reset(&b);
	dq_enc_begin(&e, &b, DQ_REQ_EXEC_SQL, 0);
	dq_enc_params(&e, &odd, 1);
	assert_int_equal(dq_enc_end(&e), PAT_EINVAL);
	buf_free(&b);
}

static void encoding_out_of_memory(void **state)
{
	struct dq_value p = dq_text("a long enough text value to need memory");
	bool ok = false;

	(void)state;
	for (long n = 0; n < 20 && !ok; n++) {
		struct buf b = BUF_INIT;
		struct dq_encoder e;
		int rv;

		mem_fail_after(n, true);
		dq_enc_begin(&e, &b, DQ_REQ_EXEC_SQL, 0);
		dq_enc_text(&e, "INSERT INTO t VALUES (?)");
		dq_enc_params(&e, &p, 1);
		rv = dq_enc_end(&e);
		mem_fail_reset();
		assert_true(rv == PAT_OK || rv == PAT_ENOMEM);
		ok = rv == PAT_OK;
		buf_free(&b);
	}
	assert_true(ok);
}

/* A row of (integer 5, text "mail", blob "abc", null, float 2.5) as dqlite sends it. */
static size_t sample_row(uint8_t *out)
{
	double d = 2.5;
	uint64_t bits;
	size_t n = 0;

	memset(out, 0, 64);
	out[0] = DQ_INTEGER | DQ_TEXT << 4;
	out[1] = DQ_BLOB | DQ_NULL << 4;
	out[2] = DQ_FLOAT;
	n = 8;
	le(out + n, 5), n += 8;
	memcpy(out + n, "mail", 4), n += 8;
	le(out + n, 3), n += 8;
	memcpy(out + n, "abc", 3), n += 8;
	le(out + n, 0), n += 8;
	memcpy(&bits, &d, 8);
	le(out + n, bits), n += 8;
	return n;
}

static void decode_row(void **state)
{
	uint8_t row[64];
	size_t n = sample_row(row);
	struct dq_cursor c = { row, n };
	struct dq_value v[5];

	(void)state;
	assert_int_equal(dq_dec_row(&c, 5, v), PAT_OK);
	assert_int_equal(c.left, 0);
	assert_int_equal(v[0].type, DQ_INTEGER);
	assert_int_equal(v[0].integer, 5);
	assert_int_equal(v[1].type, DQ_TEXT);
	assert_string_equal(v[1].bytes.ptr, "mail");
	assert_int_equal(v[1].bytes.len, 4);
	assert_int_equal(v[2].type, DQ_BLOB);
	assert_memory_equal(v[2].bytes.ptr, "abc", 3);
	assert_int_equal(v[3].type, DQ_NULL);
	assert_int_equal(v[4].type, DQ_FLOAT);
	assert_true(v[4].real == 2.5);
}

static void truncated_rows_are_errors(void **state)
{
	uint8_t row[64];
	size_t n = sample_row(row);

	(void)state;
	for (size_t len = 0; len < n; len++) {
		/* A fresh copy of exactly len bytes, so ASan sees any over-read. */
		uint8_t *copy = malloc(len ? len : 1);
		struct dq_cursor c = { copy, len };
		struct dq_value v[5];

		memcpy(copy, row, len);
		assert_int_equal(dq_dec_row(&c, 5, v), PAT_EPROTO);
		free(copy);
	}
}

static void flipped_bytes_never_crash(void **state)
{
	uint8_t row[64];
	size_t n = sample_row(row);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			uint8_t *copy = malloc(n);
			struct dq_cursor c = { copy, n };
			struct dq_value v[5];
			int rv;

			memcpy(copy, row, n);
			copy[i] ^= (uint8_t)(1u << bit);
			rv = dq_dec_row(&c, 5, v);
			assert_true(rv == PAT_OK || rv == PAT_EPROTO);
			if (rv == PAT_OK)
				assert_true(c.left <= n);
			free(copy);
		}
	}
}

static void bad_types_and_slots(void **state)
{
	uint8_t row[16] = { 0x0e }; /* type 14 does not exist */
	struct dq_cursor c = { row, sizeof row };
	struct dq_value v[2];

	(void)state;
	assert_int_equal(dq_dec_row(&c, 1, v), PAT_EPROTO);
	/* One column, but a second slot is filled: not a row. */
	memset(row, 0, sizeof row);
	row[0] = DQ_INTEGER | DQ_INTEGER << 4;
	c = (struct dq_cursor){ row, sizeof row };
	assert_int_equal(dq_dec_row(&c, 1, v), PAT_EPROTO);
	/* Zero columns is never a row. */
	c = (struct dq_cursor){ row, sizeof row };
	assert_int_equal(dq_dec_row(&c, 0, v), PAT_EPROTO);
	/* A blob longer than what is left. */
	memset(row, 0, sizeof row);
	row[0] = DQ_BLOB;
	le(row + 8, 1ULL << 40);
	c = (struct dq_cursor){ row, sizeof row };
	assert_int_equal(dq_dec_row(&c, 1, v), PAT_EPROTO);
}

static void text_and_numbers(void **state)
{
	uint8_t t[16] = "abc"; /* NUL at 3, padded to 8 */
	uint8_t nonul[8] = "abcdefgh";
	struct dq_cursor c = { t, 16 };
	const char *s;
	size_t len;
	uint64_t v;
	uint32_t w;
	uint8_t header[8] = { 2, 0, 0, 0, DQ_RESP_ROWS, 0, 0, 0 };
	uint8_t type;

	(void)state;
	assert_int_equal(dq_dec_text(&c, &s, &len), PAT_OK);
	assert_string_equal(s, "abc");
	assert_int_equal(len, 3);
	assert_int_equal(c.left, 8);
	c = (struct dq_cursor){ nonul, 8 };
	assert_int_equal(dq_dec_text(&c, &s, &len), PAT_EPROTO);
	c = (struct dq_cursor){ t, 5 }; /* NUL inside, padding missing */
	assert_int_equal(dq_dec_text(&c, &s, &len), PAT_EPROTO);
	c = (struct dq_cursor){ t, 7 };
	assert_int_equal(dq_dec_u64(&c, &v), PAT_EPROTO);
	c = (struct dq_cursor){ t, 3 };
	assert_int_equal(dq_dec_u32(&c, &w), PAT_EPROTO);
	dq_dec_header(header, &v, &type);
	assert_int_equal(v, 16);
	assert_int_equal(type, DQ_RESP_ROWS);
}

static void random_input_never_crashes(void **state)
{
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(rand_r(&seed) % 80);
		uint8_t *data = malloc(len ? len : 1);
		struct dq_cursor c = { data, len };
		struct dq_value v[20];
		unsigned n = 1 + (unsigned)(rand_r(&seed) % 20);

		for (size_t i = 0; i < len; i++)
			data[i] = (uint8_t)rand_r(&seed);
		/* Often make the type slots plausible, so decoding goes deeper. */
		if (len > 0 && round % 2 == 0)
			for (size_t i = 0; i < len && i < 8; i++)
				data[i] = (uint8_t)((1 + rand_r(&seed) % 5) | (1 + rand_r(&seed) % 5) << 4);
		(void)dq_dec_row(&c, n, v);
		free(data);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_bytes),
		cmocka_unit_test(text_padding),
		cmocka_unit_test(bad_params_are_refused),
		cmocka_unit_test(encoding_out_of_memory),
		cmocka_unit_test(decode_row),
		cmocka_unit_test(truncated_rows_are_errors),
		cmocka_unit_test(flipped_bytes_never_crash),
		cmocka_unit_test(bad_types_and_slots),
		cmocka_unit_test(text_and_numbers),
		cmocka_unit_test(random_input_never_crashes),
	};
	return cmocka_run_group_tests_name("dq_wire", tests, NULL, NULL);
}
