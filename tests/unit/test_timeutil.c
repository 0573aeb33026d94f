/* Unit tests for lib/timeutil: clocks and timestamp formats. */
#include "tests/lib/testutil.h"

#include <locale.h>
#include <string.h>

#include "lib/timeutil.h"

static void rfc3339(void **state)
{
	char out[TIME_RFC3339_SIZE];

	(void)state;
	assert_int_equal(time_format_rfc3339(out, sizeof out, 0), 24);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	time_format_rfc3339(out, sizeof out, 1700000000123LL);
	assert_string_equal(out, "2023-11-14T22:13:20.123Z");
	time_format_rfc3339(out, sizeof out, -1);
	assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

static void rfc5322_is_english(void **state)
{
	char out[TIME_RFC5322_SIZE];

	(void)state;
	setlocale(LC_ALL, "");
	time_format_rfc5322(out, sizeof out, 1700000000);
	assert_string_equal(out, "Tue, 14 Nov 2023 22:13:20 +0000");
	time_format_rfc5322(out, sizeof out, 0);
	assert_string_equal(out, "Thu, 1 Jan 1970 00:00:00 +0000");
}

static void clocks(void **state)
{
	int64_t last = time_mono_ns(), wall = time_wall_ms();

	(void)state;
	for (int i = 0; i < 10000; i++) {
		int64_t now = time_mono_ns();

		assert_true(now >= last);
		last = now;
	}
	assert_true(time_mono_ms() >= last / 1000000);
	assert_true(wall > 1700000000000LL); /* after 2023: the clock is the wall clock */
}

/* A deadline for pthread_cond_timedwait(): the wall clock plus ms, its nanoseconds carried
 * into seconds; and a sleep that lasts at least as long as asked. */
static void deadlines_and_sleeps(void **state)
{
	int64_t before = time_wall_ms(), t0;
	struct timespec at = time_wall_after(1999);
	int64_t at_ms = (int64_t)at.tv_sec * 1000 + at.tv_nsec / 1000000;

	(void)state;
	assert_true(at.tv_nsec >= 0 && at.tv_nsec < 1000000000);
	assert_true(at_ms >= before + 1999);
	assert_true(at_ms <= time_wall_ms() + 1999);
	t0 = time_mono_ms();
	time_sleep_ms(30);
	assert_true(time_mono_ms() - t0 >= 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc3339), cmocka_unit_test(rfc5322_is_english), cmocka_unit_test(clocks),
		cmocka_unit_test(deadlines_and_sleeps),
	};
	return cmocka_run_group_tests_name("timeutil", tests, NULL, NULL);
}
