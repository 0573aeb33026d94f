/* Unit tests for lib/ulid: format, time, order. */
#include "tests/lib/testutil.h"

#include <string.h>

#include "lib/timeutil.h"
#include "lib/ulid.h"

static void known_value(void **state)
{
	uint8_t zero[10] = { 0 }, ones[10];
	char id[ULID_SIZE];

	(void)state;
	memset(ones, 0xff, sizeof ones);
	ulid_make(id, 0, zero);
	assert_string_equal(id, "00000000000000000000000000");
	ulid_make(id, (1ULL << 48) - 1, ones);
	assert_string_equal(id, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
	/* 1469918176385 ms is 01ARYZ6S41 in ULID's own examples. */
	ulid_make(id, 1469918176385ULL, zero);
	assert_memory_equal(id, "01ARYZ6S41", 10);
	assert_true(ulid_time(id) == 1469918176385ULL);
}

static void new_ids_increase(void **state)
{
	char prev[ULID_SIZE], id[ULID_SIZE];
	int64_t now = time_wall_ms();

	(void)state;
	ulid_new(prev);
	assert_true(ulid_valid(prev));
	assert_true((int64_t)ulid_time(prev) >= now - 1000 && (int64_t)ulid_time(prev) <= now + 1000);
	for (int i = 0; i < 100000; i++) {
		ulid_new(id);
		if (strcmp(id, prev) <= 0)
			fail_msg("%s does not sort after %s", id, prev);
		memcpy(prev, id, sizeof id);
	}
}

static void validation(void **state)
{
	(void)state;
	assert_true(ulid_valid("01ARYZ6S41TSV4RRFFQ69G5FAV"));
	assert_false(ulid_valid("01ARYZ6S41TSV4RRFFQ69G5FA"));   /* short */
	assert_false(ulid_valid("01ARYZ6S41TSV4RRFFQ69G5FAVX")); /* long */
	assert_false(ulid_valid("81ARYZ6S41TSV4RRFFQ69G5FAV"));  /* overflows 128 bits */
	assert_false(ulid_valid("01ARYZ6S41TSV4RRFFQ69G5FAU"));  /* U is not Crockford */
	assert_false(ulid_valid("01aryz6s41tsv4rrffq69g5fav"));  /* lower case is not stored */
	assert_false(ulid_valid("' OR 1=1 --"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_value),
		cmocka_unit_test(new_ids_increase),
		cmocka_unit_test(validation),
	};
	return cmocka_run_group_tests_name("ulid", tests, NULL, NULL);
}
