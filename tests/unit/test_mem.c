/* Unit tests for lib/mem: allocation wrappers and failure injection. */
#include "tests/lib/testutil.h"

#include <string.h>

#include "lib/mem.h"

static void wrappers_allocate(void **state)
{
	char *s, *t;
	int *z;

	(void)state;
	s = mem_strdup("envelope");
	assert_string_equal(s, "envelope");
	t = mem_strndup("recipient", 4);
	assert_string_equal(t, "reci");
	z = mem_calloc(4, sizeof *z);
	assert_int_equal(z[0] | z[1] | z[2] | z[3], 0);
	s = mem_realloc(s, 100);
	assert_string_equal(s, "envelope");
	mem_free(s);
	mem_free(t);
	mem_free(z);
	mem_free(NULL);
}

static void nth_allocation_fails_once(void **state)
{
	void *a, *b, *c;

	(void)state;
	mem_fail_after(1, false);
	a = mem_alloc(8);
	b = mem_alloc(8);
	c = mem_alloc(8);
	assert_non_null(a);
	assert_null(b);
	assert_non_null(c);
	assert_int_equal(mem_count(), 3);
	mem_fail_reset();
	mem_free(a);
	mem_free(c);
}

static void sticky_failure_keeps_failing(void **state)
{
	(void)state;
	mem_fail_after(0, true);
	assert_null(mem_alloc(1));
	assert_null(mem_calloc(1, 1));
	assert_null(mem_strdup("x"));
	assert_null(mem_realloc(NULL, 1));
	mem_fail_reset();
	void *p = mem_alloc(1);
	assert_non_null(p);
	mem_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(wrappers_allocate),
		cmocka_unit_test(nth_allocation_fails_once),
		cmocka_unit_test(sticky_failure_keeps_failing),
	};
	return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
