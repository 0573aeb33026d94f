/* Unit tests for lib/addr: HOST:PORT addresses and lists. */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/err.h"

static void good_addresses(void **state)
{
	struct addr_hostport a;
	const char *why = NULL;

	(void)state;
	assert_int_equal(addr_parse("127.0.0.1:1025", false, &a, &why), PAT_OK);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 1025);
	assert_false(a.ipv6);
	assert_int_equal(addr_parse("[::1]:8025", false, &a, &why), PAT_OK);
	assert_string_equal(a.host, "::1");
	assert_true(a.ipv6);
	assert_int_equal(addr_parse("mail-1.eu-west.example.com:25", false, &a, &why), PAT_OK);
	assert_string_equal(a.host, "mail-1.eu-west.example.com");
	assert_int_equal(addr_parse("localhost:65535", false, &a, &why), PAT_OK);
	assert_int_equal(a.port, 65535);
	assert_int_equal(addr_parse("0.0.0.0:0", true, &a, &why), PAT_OK);
	assert_int_equal(a.port, 0);
}

static void bad_addresses(void **state)
{
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{ "", "empty address" },
		{ "localhost", "missing ':PORT'" },
		{ ":25", "missing host" },
		{ "127.0.0.1:0", "bad port: expected 1-65535" },
		{ "127.0.0.1:65536", "bad port" },
		{ "127.0.0.1:", "bad port" },
		{ "127.0.0.1:x", "bad port" },
		{ "999.1.1.1:25", "bad host" },
		{ "::1:25", "in brackets" },
		{ "[::1]", "missing ':PORT' after ']'" },
		{ "[::1:25", "missing ']'" },
		{ "[zz]:1", "bad IPv6 address" },
		{ "-a.example:1", "bad host" },
		{ "a-.example:1", "bad host" },
		{ "a..b:1", "bad host" },
		{ "under_score.example:1", "bad host" },
	};
	struct addr_hostport a;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *why = NULL;

		if (addr_parse(bad[i].text, false, &a, &why) != PAT_EINVAL)
			fail_msg("\"%s\" was accepted", bad[i].text);
		assert_non_null(why);
		assert_contains(why, bad[i].why);
	}
}

static void name_lengths(void **state)
{
	char label64[80], name254[300];
	struct addr_hostport a;
	const char *why;

	(void)state;
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".example:1");
	assert_int_equal(addr_parse(label64, false, &a, &why), PAT_EINVAL);
	strcpy(label64 + 63, ".example:1");
	assert_int_equal(addr_parse(label64, false, &a, &why), PAT_OK);
	for (int i = 0; i < 254; i++)
		name254[i] = (i % 2) ? '.' : 'a';
	name254[253] = 'a';
	strcpy(name254 + 254, ":1");
	assert_int_equal(addr_parse(name254, false, &a, &why), PAT_EINVAL);
}

struct collected {
	int n;
	char hosts[8][300];
	int stop_at;
};

static int collect(const struct addr_hostport *a, void *data)
{
	struct collected *c = data;

	if (c->n == c->stop_at)
		return PAT_ELIMIT;
	snprintf(c->hosts[c->n++], sizeof c->hosts[0], "%s:%u", a->host, a->port);
	return PAT_OK;
}

static void lists(void **state)
{
	struct collected c = { .stop_at = -1 };
	const char *why = NULL;

	(void)state;
	assert_int_equal(addr_parse_list(" a.example:1 ,10.0.0.2:2,[::1]:3", false, collect, &c, &why), PAT_OK);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.hosts[0], "a.example:1");
	assert_string_equal(c.hosts[2], "::1:3");
	assert_int_equal(addr_parse_list("a:1,,b:2", false, NULL, NULL, &why), PAT_EINVAL);
	assert_string_equal(why, "empty item in the list");
	assert_int_equal(addr_parse_list("a:1,", false, NULL, NULL, &why), PAT_EINVAL);
	assert_int_equal(addr_parse_list("", false, NULL, NULL, &why), PAT_EINVAL);
	assert_int_equal(addr_parse_list("a:1,b", false, NULL, NULL, &why), PAT_EINVAL);
	assert_string_equal(why, "missing ':PORT'");
	memset(&c, 0, sizeof c);
	c.stop_at = 1;
	assert_int_equal(addr_parse_list("a:1,b:2,c:3", false, collect, &c, &why), PAT_ELIMIT);
	assert_int_equal(c.n, 1);
}

static void loopback(void **state)
{
	static const struct {
		const char *text;
		bool loopback;
	} cases[] = {
		{ "127.0.0.1:1", true }, { "127.8.9.10:1", true }, { "[::1]:1", true }, { "LocalHost:1", true },
		{ "10.0.0.1:1", false }, { "[::]:1", false }, { "0.0.0.0:1", false }, { "example.com:1", false },
	};
	struct addr_hostport a;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(addr_parse(cases[i].text, false, &a, NULL), PAT_OK);
		if (addr_is_loopback(&a) != cases[i].loopback)
			fail_msg("%s: loopback should be %d", cases[i].text, cases[i].loopback);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_addresses), cmocka_unit_test(bad_addresses), cmocka_unit_test(name_lengths),
		cmocka_unit_test(lists), cmocka_unit_test(loopback),
	};
	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
