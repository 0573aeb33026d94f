/* Unit tests for lib/units: integers, booleans, durations and sizes as people write them. */
#include "tests/lib/testutil.h"

#include <string.h>

#include "lib/err.h"
#include "lib/units.h"

static void ints(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(units_parse_int("42", 0, 100, &v), PAT_OK);
	assert_int_equal(v, 42);
	assert_int_equal(units_parse_int("-7", -10, 10, &v), PAT_OK);
	assert_int_equal(v, -7);
	assert_int_equal(units_parse_int("+7", -10, 10, &v), PAT_OK);
	assert_int_equal(v, 7);
	assert_int_equal(units_parse_int("101", 0, 100, &v), PAT_ELIMIT);
	assert_int_equal(units_parse_int("-1", 0, 100, &v), PAT_ELIMIT);
	assert_int_equal(units_parse_int("99999999999999999999", INT64_MIN, INT64_MAX, &v), PAT_ELIMIT);
	static const char *const bad[] = { "", "+", "-", " 1", "1 ", "1x", "0x10", "1.5", "ten", NULL };
	for (size_t i = 0; bad[i] != NULL; i++)
		assert_int_equal(units_parse_int(bad[i], INT64_MIN, INT64_MAX, &v), PAT_EINVAL);
	assert_int_equal(units_parse_int(NULL, 0, 1, &v), PAT_EINVAL);
}

static void bools(void **state)
{
	static const char *const yes[] = { "true", "TRUE", "Yes", "on", "1", NULL };
	static const char *const no[] = { "false", "No", "OFF", "0", NULL };
	static const char *const bad[] = { "", "maybe", "2", "y", "truee", NULL };
	bool b;

	(void)state;
	for (size_t i = 0; yes[i] != NULL; i++) {
		b = false;
		assert_int_equal(units_parse_bool(yes[i], &b), PAT_OK);
		assert_true(b);
	}
	for (size_t i = 0; no[i] != NULL; i++) {
		b = true;
		assert_int_equal(units_parse_bool(no[i], &b), PAT_OK);
		assert_false(b);
	}
	for (size_t i = 0; bad[i] != NULL; i++)
		assert_int_equal(units_parse_bool(bad[i], &b), PAT_EINVAL);
}

static void durations(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} good[] = {
		{ "0", 0 }, { "90s", 90000 }, { "1h30m", 5400000 }, { "1.5s", 1500 }, { "250ms", 250 },
		{ "2d", 172800000 }, { "1m30s500ms", 90500 }, { "5m", 300000 }, { "0s", 0 },
	};
	static const char *const bad[] = { "", "30", "5x", "-1s", "ms", "s", "1h 30m", "1.s5", NULL };
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(units_parse_duration(good[i].text, &ms), PAT_OK);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; bad[i] != NULL; i++)
		if (units_parse_duration(bad[i], &ms) != PAT_EINVAL)
			fail_msg("\"%s\" was accepted as a duration", bad[i]);
	assert_int_equal(units_parse_duration("999999999999999d", &ms), PAT_ELIMIT);
}

static void sizes(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{ "1048576", 1048576 }, { "25MB", 25u << 20 }, { "25 MB", 25u << 20 }, { "512KiB", 512u << 10 },
		{ "1.5M", 3u << 19 }, { "1g", 1u << 30 }, { "0", 0 }, { "10b", 10 }, { "2TiB", 2ULL << 40 },
	};
	static const char *const bad[] = { "", "1.5", "10XB", "-1", "MB", "1  MB", "1MBs", NULL };
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(units_parse_size(good[i].text, &v), PAT_OK);
		assert_int_equal(v, good[i].bytes);
	}
	for (size_t i = 0; bad[i] != NULL; i++)
		if (units_parse_size(bad[i], &v) != PAT_EINVAL)
			fail_msg("\"%s\" was accepted as a size", bad[i]);
	assert_int_equal(units_parse_size("99999999TiB", &v), PAT_ELIMIT);
}

static void formatting(void **state)
{
	char out[32];
	uint64_t v;
	int64_t ms;

	(void)state;
	units_format_size(out, sizeof out, 25u << 20);
	assert_string_equal(out, "25MiB");
	units_format_size(out, sizeof out, 1536);
	assert_string_equal(out, "1536"); /* not exact in any unit */
	units_format_size(out, sizeof out, 0);
	assert_string_equal(out, "0");
	units_format_size(out, sizeof out, 3ULL << 40);
	assert_string_equal(out, "3TiB");
	units_format_duration(out, sizeof out, 5400000);
	assert_string_equal(out, "1h30m");
	units_format_duration(out, sizeof out, 0);
	assert_string_equal(out, "0s");
	units_format_duration(out, sizeof out, 90061001);
	assert_string_equal(out, "1d1h1m1s1ms");
	/* Printing then parsing gives the value back. */
	assert_int_equal(units_parse_size("25MiB", &v), PAT_OK);
	units_format_size(out, sizeof out, v);
	assert_int_equal(units_parse_size(out, &v), PAT_OK);
	assert_int_equal(v, 25u << 20);
	units_format_duration(out, sizeof out, 90061001);
	assert_int_equal(units_parse_duration(out, &ms), PAT_OK);
	assert_int_equal(ms, 90061001);
	/* A small buffer is never overrun and stays terminated. */
	char tiny[4] = "zzz";
	units_format_duration(tiny, sizeof tiny, 90061001);
	assert_int_equal(strlen(tiny), 3);
	units_format_size(tiny, sizeof tiny, 123456789);
	assert_int_equal(strlen(tiny), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ints), cmocka_unit_test(bools), cmocka_unit_test(durations),
		cmocka_unit_test(sizes), cmocka_unit_test(formatting),
	};
	return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}
