/* Unit tests for lib/err: the error convention every module follows. */
#include "tests/lib/testutil.h"

#include <errno.h>
#include <string.h>

#include "lib/err.h"

static void set_returns_code_and_formats(void **state)
{
	struct pat_err e;

	(void)state;
	err_clear(&e);
	assert_int_equal(e.code, PAT_OK);
	assert_string_equal(e.msg, "");
	assert_int_equal(err_set(&e, PAT_EINVAL, "bad %s at %d", "size", 3), PAT_EINVAL);
	assert_int_equal(e.code, PAT_EINVAL);
	assert_string_equal(e.msg, "bad size at 3");
}

static void null_err_is_allowed(void **state)
{
	(void)state;
	assert_int_equal(err_set(NULL, PAT_EIO, "x"), PAT_EIO);
	assert_int_equal(err_set_errno(NULL, PAT_EIO, ENOENT, "x"), PAT_EIO);
	assert_int_equal(err_prefix(NULL, "x"), PAT_OK);
	err_clear(NULL);
}

static void errno_appends_strerror(void **state)
{
	struct pat_err e;

	(void)state;
	assert_int_equal(err_set_errno(&e, PAT_EIO, ENOENT, "open %s", "/nope"), PAT_EIO);
	assert_string_equal(e.msg, "open /nope: No such file or directory");
}

static void prefix_adds_context(void **state)
{
	struct pat_err e;

	(void)state;
	err_set(&e, PAT_ECONFIG, "bad key");
	assert_int_equal(err_prefix(&e, "loading %s", "pat.conf"), PAT_ECONFIG);
	assert_string_equal(e.msg, "loading pat.conf: bad key");
}

static void long_messages_are_truncated(void **state)
{
	struct pat_err e;
	char big[2 * PAT_ERR_MSG_MAX];

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	err_set(&e, PAT_EINVAL, "%s", big);
	assert_int_equal(strlen(e.msg), PAT_ERR_MSG_MAX - 1);
	err_prefix(&e, "ctx");
	assert_int_equal(strlen(e.msg), PAT_ERR_MSG_MAX - 1);
	assert_memory_equal(e.msg, "ctx: xxx", 8);
}

static void names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(err_name(PAT_OK), "OK");
	assert_string_equal(err_name(PAT_ENOMEM), "ENOMEM");
	assert_string_equal(err_name(PAT_ECONFIG), "ECONFIG");
	assert_string_equal(err_name(PAT_ELIMIT), "ELIMIT");
	assert_string_equal(err_name(PAT_ENOTLEADER), "ENOTLEADER");
	assert_string_equal(err_name(PAT_EREMOTE), "EREMOTE");
	assert_string_equal(err_name(-1), "EUNKNOWN");
	assert_string_equal(err_name(PAT_E__COUNT), "EUNKNOWN");
	for (int c = 0; c < PAT_E__COUNT; c++)
		assert_non_null(err_name(c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_returns_code_and_formats),
		cmocka_unit_test(null_err_is_allowed),
		cmocka_unit_test(errno_appends_strerror),
		cmocka_unit_test(prefix_adds_context),
		cmocka_unit_test(long_messages_are_truncated),
		cmocka_unit_test(names_are_stable),
	};
	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
