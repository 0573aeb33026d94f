/* Unit tests for lib/str and lib/buf: the string and buffer helpers every module shares. */
#include "tests/lib/testutil.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/str.h"

static void copy_truncates_and_terminates(void **state)
{
	char small[5] = "zzzz", big[32];

	(void)state;
	assert_true(str_copy(big, "tenant", sizeof big));
	assert_string_equal(big, "tenant");
	assert_false(str_copy(small, "recipient", sizeof small));
	assert_string_equal(small, "reci");
	assert_true(str_copy(small, "abcd", sizeof small));
	assert_false(str_copy(small, "abcde", sizeof small));
	assert_true(str_copy(small, "", 0));
	assert_false(str_copy(small, "x", 0));
}

static void trim_and_lower(void **state)
{
	char a[] = " \t hello world \r\n", b[] = "   ", c[] = "", d[] = "MiXeD \xc3\x89T\xc3\xa9";

	(void)state;
	assert_string_equal(str_trim(a), "hello world");
	assert_string_equal(str_trim(b), "");
	assert_string_equal(str_trim(c), "");
	assert_string_equal(str_lower(d), "mixed \xc3\x89t\xc3\xa9"); /* non-ASCII bytes untouched */
}

static void comparisons(void **state)
{
	(void)state;
	assert_true(str_eq_nocase("MAIL FROM", "mail from"));
	assert_false(str_eq_nocase("MAIL", "MAIL FROM"));
	assert_false(str_eq_nocase("MAIL FROM", "MAIL"));
	assert_true(str_eq_nocase("", ""));
	assert_true(str_has_prefix("smtp.listen", "smtp."));
	assert_false(str_has_prefix("smtp", "smtp."));
	assert_true(str_has_prefix_nocase("EHLO example", "ehlo "));
	assert_false(str_has_prefix_nocase("EH", "ehlo"));
	assert_true(str_has_suffix("message.eml", ".eml"));
	assert_false(str_has_suffix("eml", ".eml"));
	assert_true(str_has_suffix("x", ""));
}

static void printf_allocates(void **state)
{
	char *s;

	(void)state;
	s = str_printf("%s:%d", "127.0.0.1", 1025);
	assert_string_equal(s, "127.0.0.1:1025");
	mem_free(s);
	mem_fail_after(0, true);
	assert_null(str_printf("%d", 1));
	mem_fail_reset();
}

static void buf_grows(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_string_equal(buf_str(&b), "");
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_append_char(&b, (char)('a' + i % 26)), PAT_OK);
	assert_int_equal(b.len, 100000);
	assert_int_equal(strlen(b.data), 100000);
	assert_int_equal(b.data[26], 'a');
	assert_int_equal(buf_printf(&b, "|%05d|", 42), PAT_OK);
	assert_string_equal(b.data + 100000, "|00042|");
	assert_int_equal(buf_append(&b, "xyz", 0), PAT_OK);
	assert_int_equal(b.len, 100007);
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void buf_reset_keeps_memory(void **state)
{
	struct buf b;
	size_t cap;

	(void)state;
	buf_init(&b);
	buf_append_str(&b, "subject");
	cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap);
	assert_string_equal(buf_str(&b), "");
	buf_append_str(&b, "x");
	assert_string_equal(buf_str(&b), "x");
	buf_free(&b);
}

static void buf_detach_hands_over(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	(void)state;
	s = buf_detach(&b);
	assert_string_equal(s, "");
	mem_free(s);
	buf_append_str(&b, "raw message");
	s = buf_detach(&b);
	assert_string_equal(s, "raw message");
	assert_null(b.data);
	mem_free(s);
}

static void buf_enomem_leaves_buffer_usable(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_append_str(&b, "kept");
	mem_fail_after(0, true);
	assert_int_equal(buf_append(&b, "x", 1000), PAT_ENOMEM);
	assert_int_equal(buf_printf(&b, "%01000d", 1), PAT_ENOMEM);
	mem_fail_reset();
	assert_string_equal(buf_str(&b), "kept");
	assert_int_equal(b.len, 4);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), PAT_ENOMEM);
	assert_int_equal(buf_reserve(&b, SIZE_MAX - 2), PAT_ENOMEM);
	assert_int_equal(buf_append_str(&b, "!"), PAT_OK);
	assert_string_equal(buf_str(&b), "kept!");
	buf_free(&b);
}

static void read_stream_reads_everything(void **state)
{
	size_t n = 200000;
	char *text = malloc(n);
	struct buf b = BUF_INIT;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < n; i++)
		text[i] = (char)('a' + i % 26);
	f = fmemopen(text, n, "r");
	assert_int_equal(buf_read_stream(&b, f), PAT_OK);
	fclose(f);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, text, n);
	assert_int_equal(b.data[n], '\0');
	buf_free(&b);
	/* Out of memory part-way is an error, not a short read. */
	f = fmemopen(text, n, "r");
	mem_fail_after(1, true);
	assert_int_equal(buf_read_stream(&b, f), PAT_ENOMEM);
	mem_fail_reset();
	fclose(f);
	assert_true(b.len < n);
	buf_free(&b);
	free(text);
}

static void next_line_skips_blanks_and_comments(void **state)
{
	static const char text[] = "# header\n\n  first  \r\n#x\nsecond\n0123456789012345\nlast";
	char buf[16];
	size_t off = 0, line = 0;

	(void)state;
	assert_int_equal(str_next_line(text, sizeof text - 1, &off, buf, sizeof buf, &line), 1);
	assert_string_equal(buf, "first");
	assert_int_equal(line, 3);
	assert_int_equal(str_next_line(text, sizeof text - 1, &off, buf, sizeof buf, &line), 1);
	assert_string_equal(buf, "second");
	assert_int_equal(line, 5);
	assert_int_equal(str_next_line(text, sizeof text - 1, &off, buf, sizeof buf, &line), -1);
	assert_int_equal(line, 6); /* 16 characters do not fit in 16 bytes with the NUL */
	off = sizeof text - 5;
	assert_int_equal(str_next_line(text, sizeof text - 1, &off, buf, sizeof buf, &line), 1);
	assert_string_equal(buf, "last");
	assert_int_equal(str_next_line(text, sizeof text - 1, &off, buf, sizeof buf, &line), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copy_truncates_and_terminates),
		cmocka_unit_test(trim_and_lower),
		cmocka_unit_test(comparisons),
		cmocka_unit_test(printf_allocates),
		cmocka_unit_test(buf_grows),
		cmocka_unit_test(buf_reset_keeps_memory),
		cmocka_unit_test(buf_detach_hands_over),
		cmocka_unit_test(buf_enomem_leaves_buffer_usable),
		cmocka_unit_test(next_line_skips_blanks_and_comments),
		cmocka_unit_test(read_stream_reads_everything),
	};
	return cmocka_run_group_tests_name("str+buf", tests, NULL, NULL);
}
