/* Unit tests for lib/log: the logfmt line, quoting that cannot be forged, levels, conversions. */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"

static int fd = -1;

static int setup(void **state)
{
	(void)state;
	fd = memfd_create("log", 0);
	if (fd < 0)
		return -1;
	log_set_fd(fd);
	log_set_level(LOG_LEVEL_INFO);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_fd(2);
	log_set_level(LOG_LEVEL_INFO);
	close(fd);
	return 0;
}

/* Everything logged since the last call (caller frees). */
static char *captured(void)
{
	off_t n = lseek(fd, 0, SEEK_CUR);
	char *text = calloc(1, (size_t)n + 1);

	if (pread(fd, text, (size_t)n, 0) != n)
		fail_msg("pread");
	if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		fail_msg("truncate");
	return text;
}

/* The part of the line after the timestamp. */
static const char *after_ts(const char *line)
{
	const char *p = strstr(line, " level=");

	assert_non_null(p);
	return p + 1;
}

static void line_format(void **state)
{
	char *out;

	(void)state;
	log_info("config loaded", "file=%s keys=%d", "/etc/pat/pat.conf", 12);
	out = captured();
	assert_true(strncmp(out, "ts=", 3) == 0);
	assert_int_equal(out[3 + 4], '-');
	assert_int_equal(out[3 + 23], 'Z'); /* 2026-11-24T02:44:38.123Z */
	assert_string_equal(after_ts(out), "level=info msg=\"config loaded\" file=/etc/pat/pat.conf keys=12\n");
	free(out);
	log_warn("x", "");
	out = captured();
	assert_string_equal(after_ts(out), "level=warn msg=x\n");
	free(out);
}

static void values_cannot_forge_fields(void **state)
{
	char *out;

	(void)state;
	log_error("bad client", "peer=%s", "x\" level=debug msg=forged");
	out = captured();
	assert_string_equal(after_ts(out), "level=error msg=\"bad client\" peer=\"x\\\" level=debug msg=forged\"\n");
	free(out);
	log_info("m", "a=%s b=%s c=%s d=%s e=%s", "two\nlines", "tab\there", "back\\slash", "", "k=v");
	out = captured();
	assert_string_equal(after_ts(out),
			    "level=info msg=m a=\"two\\nlines\" b=\"tab\\there\" c=\"back\\\\slash\" d=\"\" e=\"k=v\"\n");
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
	free(out);
	log_info("m", "ctl=%s", "\x01\x7f\r");
	out = captured();
	assert_string_equal(after_ts(out), "level=info msg=m ctl=\"\\u0001\\u007f\\r\"\n");
	free(out);
}

static void levels(void **state)
{
	enum log_level l;
	char *out;

	(void)state;
	log_debug("hidden", "n=%d", 1);
	out = captured();
	assert_string_equal(out, "");
	free(out);
	assert_false(log_enabled(LOG_LEVEL_DEBUG));
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("shown", "n=%d", 1);
	out = captured();
	assert_contains(out, "level=debug msg=shown n=1");
	free(out);
	log_set_level(LOG_LEVEL_ERROR);
	log_warn("dropped", "");
	out = captured();
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(log_get_level(), LOG_LEVEL_ERROR);

	static const struct {
		const char *name;
		enum log_level level;
	} names[] = { { "debug", LOG_LEVEL_DEBUG }, { "INFO", LOG_LEVEL_INFO }, { "Warn", LOG_LEVEL_WARN },
		      { "warning", LOG_LEVEL_WARN }, { "error", LOG_LEVEL_ERROR } };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		assert_int_equal(log_level_parse(names[i].name, &l), PAT_OK);
		assert_int_equal(l, names[i].level);
	}
	assert_int_equal(log_level_parse("loud", &l), PAT_EINVAL);
	assert_int_equal(log_level_parse("", &l), PAT_EINVAL);
	assert_string_equal(log_level_name(LOG_LEVEL_WARN), "warn");
	assert_string_equal(log_level_name((enum log_level)9), "unknown");
}

static void conversions(void **state)
{
	char *out;
	int x = 0;
	const char *volatile nothing = NULL; /* volatile: the compiler may not see it is NULL */

	(void)state;
	log_info("c", "d=%d i=%i u=%u x=%x X=%X o=%o c=%c hh=%hhd h=%hd l=%ld ll=%lld z=%zu j=%jd t=%td",
		 -1, 2, 3u, 255u, 255u, 8u, 'q', (signed char)-5, (short)-6, -7L, -8LL, (size_t)9, (intmax_t)10,
		 (ptrdiff_t)11);
	out = captured();
	assert_contains(out, "d=-1 i=2 u=3 x=ff X=FF o=10 c=q hh=-5 h=-6 l=-7 ll=-8 z=9 j=10 t=11\n");
	free(out);
	log_info("c", "f=%.2f e=%.1e g=%g w=%5d|p=%-3d| s=%.3s ws=%*d ps=%.*s pct=%d%% lf=%Lf",
		 1.5, 12000.0, 0.25, 42, 7, "abcdef", 4, 3, 2, "xyz", 50, (long double)2.5);
	out = captured();
	assert_contains(out, "f=1.50 e=1.2e+04 g=0.25 w=\"   42|p=7  |\" s=abc ws=\"   3\" ps=xy pct=50% lf=2.500000\n");
	free(out);
	log_info("c", "null=%s ptr=%p", nothing, (void *)&x);
	out = captured();
	assert_contains(out, "null=(null) ptr=0x");
	free(out);
	log_info("c", "flag other=1");
	out = captured();
	assert_contains(out, "msg=c flag=true other=1\n");
	free(out);
}

static void long_lines_are_cut(void **state)
{
	char *big = malloc(10001), *out;

	(void)state;
	memset(big, 'v', 10000);
	big[10000] = '\0';
	log_info("big", "value=%s after=1", big);
	out = captured();
	assert_true(strlen(out) <= LOG_LINE_MAX);
	assert_true(strlen(out) > LOG_LINE_MAX - 100);
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
	assert_true(strstr(out, " truncated=true\n") != NULL);
	free(out);
	free(big);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(line_format), T(values_cannot_forge_fields), T(levels), T(conversions), T(long_lines_are_cut),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
