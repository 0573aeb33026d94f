/* Unit tests for gateway/auth (users file, passwords, CRAM-MD5) and gateway/tenants. */
#include "tests/lib/testutil.h"

#include <string.h>

#include "gateway/auth.h"
#include "gateway/tenants.h"
#include "lib/err.h"

static void users_file(void **state)
{
	static const char text[] = "# comment\n\ntim:tanstaaftanstaaf\nalice:wonder:land:acme\nbob:b:globex\n";
	struct auth_users u;
	struct pat_err err;
	const struct auth_user *e;

	(void)state;
	assert_int_equal(auth_users_parse(&u, text, strlen(text), "users", &err), PAT_OK);
	assert_int_equal(u.n, 3);
	assert_null(u.users[0].tenant);
	assert_string_equal(u.users[2].tenant, "globex");
	assert_non_null(e = auth_check_password(&u, "tim", "tanstaaftanstaaf"));
	assert_null(auth_check_password(&u, "tim", "tanstaaftanstaa"));
	assert_null(auth_check_password(&u, "tim", "tanstaaftanstaaff"));
	assert_null(auth_check_password(&u, "nobody", "x"));
	/* RFC 2195's example. */
	assert_non_null(auth_check_cram_md5(&u, "tim", "<1896.697170952@postoffice.reston.mci.net>",
					    "b913a602c7eda7a495b4e6e7334d3890"));
	assert_null(auth_check_cram_md5(&u, "tim", "<1896.697170952@postoffice.reston.mci.net>",
					"b913a602c7eda7a495b4e6e7334d3891"));
	assert_null(auth_check_cram_md5(&u, "tim", "<other@challenge>", "b913a602c7eda7a495b4e6e7334d3890"));
	auth_users_free(&u);
}

static void bad_users_files(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "alice\n", "users:1: expected user:password" },
		{ "ok:pw\n:nopass\n", "users:2: expected user:password" },
		{ "alice:\n", "users:1: expected user:password" },
		{ "a:1\na:2\n", "users:2: user a is named twice" },
		{ "# only a comment\n", "users: no users" },
	};
	struct auth_users u;
	struct pat_err err;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(auth_users_parse(&u, cases[i].text, strlen(cases[i].text), "users", &err), PAT_EINVAL);
		assert_contains(err.msg, cases[i].want);
		assert_null(u.users);
	}
}

static void tenant_resolution(void **state)
{
	static const char text[] = "# domain tenant\nAcme.Example acme\nglobex.example globex\n";
	struct tenant_map m;
	struct pat_err err;

	(void)state;
	assert_int_equal(tenant_map_parse(&m, text, strlen(text), "domains", &err), PAT_OK);
	assert_string_equal(tenant_resolve(&m, "initech", "x@acme.example", "lobby"), "initech");
	assert_string_equal(tenant_resolve(&m, "", "x@ACME.example,y@globex.example", "lobby"), "acme");
	assert_string_equal(tenant_resolve(&m, NULL, "y@globex.example", "lobby"), "globex");
	assert_string_equal(tenant_resolve(&m, "", "y@other.example", "lobby"), "lobby");
	assert_string_equal(tenant_resolve(&m, "", "no-at-sign", "lobby"), "lobby");
	assert_string_equal(tenant_resolve(NULL, "", "y@acme.example", "lobby"), "lobby");
	tenant_map_free(&m);
	assert_int_equal(tenant_map_parse(&m, "acme.example\n", 13, "domains", &err), PAT_EINVAL);
	assert_contains(err.msg, "domains:1: expected \"domain tenant\"");
	assert_int_equal(tenant_map_parse(&m, "a.example Acme\n", 15, "domains", &err), PAT_EINVAL);
	assert_int_equal(tenant_map_parse(&m, "x@a.example acme\n", 17, "domains", &err), PAT_EINVAL);
	assert_int_equal(tenant_map_parse(&m, "a b c\n", 6, "domains", &err), PAT_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(users_file),
		cmocka_unit_test(bad_users_files),
		cmocka_unit_test(tenant_resolution),
	};
	return cmocka_run_group_tests_name("gateway auth and tenants", tests, NULL, NULL);
}
