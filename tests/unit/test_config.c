/* Unit tests for lib/config: layering, origins, every kind of configuration error, secrets. */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/config.h"
#include "lib/err.h"
#include "lib/mem.h"

#define ROLE_WORKER 0x1u

struct settings {
	int64_t n;
	bool b;
	int64_t d;
	uint64_t sz;
	char *addr;
	char *list;
	int level;
	char *name;
	char *path;
	char *str;
	struct conf_secret secret;
	int64_t req;
};

static const char *const levels[] = { "low", "high", NULL };

#define F(f) offsetof(struct settings, f)
static const struct conf_key keys[] = {
	{ "core", "n", CONF_INT, F(n), "10", 1, 100, .help = "a number" },
	{ "core", "b", CONF_BOOL, F(b), "false", .help = "a switch" },
	{ "core", "d", CONF_DURATION, F(d), "30s", 1000, 3600000, .help = "a duration" },
	{ "core", "sz", CONF_SIZE, F(sz), "1MiB", 1024, 1024LL * 1024 * 1024, .help = "a size" },
	{ "core", "addr", CONF_ADDRESS, F(addr), "127.0.0.1:25", .flags = CONF_F_PORT_ZERO, .help = "an address" },
	{ "core", "list", CONF_ADDRESS_LIST, F(list), NULL, .help = "addresses" },
	{ "core", "level", CONF_ENUM, F(level), "low", .choices = levels, .help = "a choice" },
	{ "extra", "name", CONF_NAME, F(name), "x", .help = "a name" },
	{ "extra", "path", CONF_PATH, F(path), NULL, .help = "a path" },
	{ "extra", "str", CONF_STRING, F(str), NULL, .help = "text" },
	{ "extra", "secret_file", CONF_SECRET_FILE, F(secret), NULL, .help = "a secret" },
	{ "extra", "req", CONF_INT, F(req), NULL, 1, 9, .required = ROLE_WORKER, .help = "needed by workers" },
};
#define N_KEYS (sizeof keys / sizeof keys[0])

struct fixture {
	char *dir;
	struct conf c;
	struct settings s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	f->dir = tu_mkdtemp();
	assert_int_equal(conf_init(&f->c, keys, N_KEYS, &f->s), PAT_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	conf_close(&f->c);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	unsetenv("CREDENTIALS_DIRECTORY");
	mem_fail_reset();
	return 0;
}

/* Load text as a file; return the code and leave the path in *path (freed by the caller). */
static int load(struct fixture *f, const char *text, char **path)
{
	char *p = tu_write_file(f->dir, "pat.conf", text);
	int rv = conf_load_file(&f->c, p);

	if (path != NULL)
		*path = p;
	else
		free(p);
	return rv;
}

/* The one error recorded must contain every needle. */
static void assert_one_error(struct fixture *f, const char *const *needles)
{
	if (conf_error_count(&f->c) != 1) {
		for (size_t i = 0; i < conf_error_count(&f->c); i++)
			print_error("error %zu: %s\n", i, conf_error_at(&f->c, i));
		assert_int_equal(conf_error_count(&f->c), 1);
	}
	for (size_t i = 0; needles[i] != NULL; i++)
		assert_contains(conf_error_at(&f->c, 0), needles[i]);
}

#define EXPECT_ERROR(f, ...) assert_one_error((f), (const char *const[]){ __VA_ARGS__, NULL })

static void defaults_apply_with_default_origin(void **state)
{
	struct fixture *f = *state;
	char o[128];

	assert_int_equal(f->s.n, 10);
	assert_false(f->s.b);
	assert_int_equal(f->s.d, 30000);
	assert_int_equal(f->s.sz, 1024 * 1024);
	assert_string_equal(f->s.addr, "127.0.0.1:25");
	assert_null(f->s.list);
	assert_int_equal(f->s.level, 0);
	assert_string_equal(f->s.name, "x");
	assert_false(conf_is_set(&f->c, "extra", "req"));
	assert_true(conf_is_set(&f->c, "core", "n"));
	assert_string_equal(conf_origin_text(&f->c, 0, o, sizeof o), "default");
	assert_int_equal(conf_find(&f->c, "core", "nope"), -1);
}

static void file_env_and_flags_override_in_order(void **state)
{
	struct fixture *f = *state;
	char *path, o[256], want[300];
	char *env[] = { "PAT_CORE_N=30", "PAT_CORE_LEVEL=HIGH", "HOME=/root", NULL };

	assert_int_equal(load(f, "; comment\n# another\n[core]\nn = 20\nb = yes\nd = 1m30s\nsz = 2MB\n"
				 "level = low\n[extra]\nname = us-east\n", &path), PAT_OK);
	assert_int_equal(f->s.n, 20);
	assert_true(f->s.b);
	assert_int_equal(f->s.d, 90000);
	assert_int_equal(f->s.sz, 2 * 1024 * 1024);
	assert_string_equal(f->s.name, "us-east");
	snprintf(want, sizeof want, "%s:4", path);
	assert_string_equal(conf_origin_text(&f->c, 0, o, sizeof o), want);

	assert_int_equal(conf_load_env(&f->c, "PAT_", env), PAT_OK);
	assert_int_equal(f->s.n, 30);
	assert_int_equal(f->s.level, 1);
	assert_string_equal(conf_origin_text(&f->c, 0, o, sizeof o), "environment PAT_CORE_N");

	assert_int_equal(conf_set(&f->c, "core.n", "40", "--n"), PAT_OK);
	assert_int_equal(f->s.n, 40);
	assert_string_equal(conf_origin_text(&f->c, 0, o, sizeof o), "flag --n");
	assert_int_equal(conf_finish(&f->c, 0, "", NULL, NULL), PAT_OK);
	assert_int_equal(conf_error_count(&f->c), 0);
	free(path);
}

static void unknown_section_names_file_line_and_choices(void **state)
{
	struct fixture *f = *state;
	char *path, want[300];

	assert_int_equal(load(f, "[core]\nn = 5\n\n[smtpp]\n", &path), PAT_ECONFIG);
	snprintf(want, sizeof want, "%s:4: unknown section [smtpp]", path);
	EXPECT_ERROR(f, want, "expected one of: core, extra");
	free(path);
}

static void unknown_key_names_line_and_keys(void **state)
{
	struct fixture *f = *state;
	char *path, want[300];

	assert_int_equal(load(f, "[core]\nn = 5\nnn = 6\n", &path), PAT_ECONFIG);
	snprintf(want, sizeof want, "%s:3: unknown key \"nn\" in section [core]", path);
	EXPECT_ERROR(f, want, "expected one of: n, b, d, sz, addr, list, level");
	assert_int_equal(f->s.n, 5);
	free(path);
}

static void keys_in_unknown_sections_are_reported_once(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[bogus]\na = 1\nb = 2\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "unknown section [bogus]");
}

static void bad_number_says_what_was_expected(void **state)
{
	struct fixture *f = *state;
	char *path, want[300];

	assert_int_equal(load(f, "[core]\nn = ten\n", &path), PAT_ECONFIG);
	snprintf(want, sizeof want, "%s:2: [core] n: \"ten\" is not a number", path);
	EXPECT_ERROR(f, want, "expected a whole number from 1 to 100");
	assert_int_equal(f->s.n, 10);
	free(path);
}

static void number_out_of_range(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nn = 101\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":2: [core] n: \"101\" is out of range", "from 1 to 100");
}

static void bad_bool(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nb = maybe\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":2: [core] b: \"maybe\" is not a boolean", "expected true or false");
}

static void bad_duration(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nd = 30\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":2: [core] d: \"30\" is not a duration", "such as 30s, 5m, 1h30m or 250ms",
		     "between 1s and 1h");
}

static void duration_out_of_range(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nd = 2h\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "\"2h\" is out of range", "between 1s and 1h");
	assert_int_equal(f->s.d, 30000);
}

static void bad_size(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nsz = 12XB\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":2: [core] sz: \"12XB\" is not a size", "such as 25MB, 512KiB",
		     "between 1KiB and 1GiB");
}

static void size_out_of_range(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nsz = 2GB\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "\"2GB\" is out of range");
}

static void bad_address(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\naddr = localhost\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":2: [core] addr: \"localhost\" is not an address (missing ':PORT')",
		     "expected HOST:PORT");
}

static void bad_port(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\naddr = 127.0.0.1:70000\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "bad port: expected 0-65535");
}

static void address_is_normalised_and_port_zero_allowed(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\naddr = [::1]:0\nlist = a.example:1 , 10.0.0.2:2,[::1]:3\n", NULL), PAT_OK);
	assert_string_equal(f->s.addr, "[::1]:0");
	assert_string_equal(f->s.list, "a.example:1,10.0.0.2:2,[::1]:3");
}

static void bad_address_list(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nlist = a:1,,b:2\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "[core] list: \"a:1,,b:2\" is not a list of addresses (empty item in the list)");
}

static void list_port_zero_is_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nlist = a:0\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "bad port: expected 1-65535");
}

static void bad_enum_lists_choices(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nlevel = medium\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "[core] level: \"medium\" is not allowed; expected one of: low, high");
}

static void bad_name(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[extra]\nname = US_East\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "\"US_East\" is not a valid name", "lower-case letters, digits and '-'");
}

static void control_characters_are_refused(void **state)
{
	struct fixture *f = *state;
	char *env[] = { "PAT_EXTRA_STR=a\tb", NULL };

	assert_int_equal(conf_load_env(&f->c, "PAT_", env), PAT_ECONFIG);
	EXPECT_ERROR(f, "environment PAT_EXTRA_STR: [extra] str: the value contains control characters");
	assert_null(f->s.str);
}

static void missing_required_names_key_and_ways_to_set_it(void **state)
{
	struct fixture *f = *state;
	char *path;

	assert_int_equal(load(f, "[core]\nn = 5\n", &path), PAT_OK);
	assert_int_equal(conf_finish(&f->c, ROLE_WORKER, "pat worker", NULL, NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, path, "[extra] req is required by pat worker but not set", "PAT_EXTRA_REQ",
		     "--set extra.req=VALUE", "needed by workers");
	free(path);
}

static void required_is_only_for_its_role(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(conf_finish(&f->c, 0x2u, "pat other", NULL, NULL), PAT_OK);
}

static void duplicate_key_names_first_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nn = 5\nb = true\nn = 6\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":4: [core] n is set twice (first on line 2)");
	assert_int_equal(f->s.n, 5);
}

static void key_outside_section(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "n = 5\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":1: key \"n\" is outside any section");
}

static void syntax_error_names_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nn = 5\nthis line has no equals sign\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":3: syntax error", "key = value");
}

static void unterminated_section_is_a_syntax_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core\nn = 5\n", NULL), PAT_ECONFIG);
	/* inih reports the bad line after the keys that follow it. */
	assert_int_equal(conf_error_count(&f->c), 2);
	assert_contains(conf_error_at(&f->c, 0), ":2: key \"n\" is outside any section");
	assert_contains(conf_error_at(&f->c, 1), ":1: syntax error");
}

static void overlong_line_is_refused_not_cut(void **state)
{
	struct fixture *f = *state;
	char text[600];

	snprintf(text, sizeof text, "[extra]\nstr = %0300d\nname = y\n", 7);
	assert_int_equal(load(f, text, NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":2: the line is 306 characters long; at most 198 are allowed");
	assert_null(f->s.str);
	assert_string_equal(f->s.name, "y"); /* the next line is still read */
}

static void nul_byte_is_refused(void **state)
{
	struct fixture *f = *state;
	char *path = tu_write_file(f->dir, "nul.conf", "");
	FILE *fp = fopen(path, "w");

	fwrite("[core]\nn = 5\0 6\n", 1, 16, fp);
	fclose(fp);
	assert_int_equal(conf_load_file(&f->c, path), PAT_ECONFIG);
	EXPECT_ERROR(f, ":2: the line contains a NUL byte");
	assert_int_equal(f->s.n, 10);
	free(path);
}

static void missing_file_is_an_io_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(conf_load_file(&f->c, "/nonexistent/pat.conf"), PAT_EIO);
	EXPECT_ERROR(f, "/nonexistent/pat.conf: cannot read the configuration file: No such file or directory");
}

static void all_errors_are_collected(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nn = x\nb = x\nd = x\nsz = x\n[nope]\n", NULL), PAT_ECONFIG);
	assert_int_equal(conf_error_count(&f->c), 5);
}

static void env_unknown_key_of_known_section_is_an_error(void **state)
{
	struct fixture *f = *state;
	char *env[] = { "PAT_CORE_NUMBER=3", "PAT_TOKEN=ghp_xyz", "PAT=1", "PATH=/bin", NULL };

	assert_int_equal(conf_load_env(&f->c, "PAT_", env), PAT_ECONFIG);
	EXPECT_ERROR(f, "environment PAT_CORE_NUMBER: unknown key \"number\" in section [core]");
}

static void env_bad_value_keeps_previous_value_and_origin(void **state)
{
	struct fixture *f = *state;
	char *env[] = { "PAT_CORE_N=500", NULL };
	char o[128];

	assert_int_equal(load(f, "[core]\nn = 7\n", NULL), PAT_OK);
	assert_int_equal(conf_load_env(&f->c, "PAT_", env), PAT_ECONFIG);
	EXPECT_ERROR(f, "environment PAT_CORE_N: [core] n: \"500\" is out of range");
	assert_int_equal(f->s.n, 7);
	assert_contains(conf_origin_text(&f->c, 0, o, sizeof o), "pat.conf:2");
}

static void flag_errors(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(conf_set(&f->c, "nodot", "1", "--set"), PAT_ECONFIG);
	assert_int_equal(conf_set(&f->c, "nope.n", "1", "--set"), PAT_ECONFIG);
	assert_int_equal(conf_set(&f->c, "core.nope", "1", "--set"), PAT_ECONFIG);
	assert_int_equal(conf_set(&f->c, "core.n", "0", "--set"), PAT_ECONFIG);
	assert_int_equal(conf_error_count(&f->c), 4);
	assert_contains(conf_error_at(&f->c, 0), "flag --set: \"nodot\" is not a key; expected SECTION.KEY");
	assert_contains(conf_error_at(&f->c, 1), "flag --set: unknown section [nope]");
	assert_contains(conf_error_at(&f->c, 2), "flag --set: unknown key \"nope\" in section [core]");
	assert_contains(conf_error_at(&f->c, 3), "flag --set: [core] n: \"0\" is out of range");
}

static void empty_value_unsets_optional_key(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(conf_set(&f->c, "extra.path", "/x", "--path"), PAT_OK);
	assert_true(conf_is_set(&f->c, "extra", "path"));
	assert_int_equal(conf_set(&f->c, "extra.path", "", "--path"), PAT_OK);
	assert_false(conf_is_set(&f->c, "extra", "path"));
	assert_null(f->s.path);
	/* A number cannot be empty. */
	assert_int_equal(conf_set(&f->c, "core.n", "", "--n"), PAT_ECONFIG);
}

static void continuation_lines_extend_lists_only(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[core]\nlist = a.example:1,\n  b.example:2\n", NULL), PAT_ECONFIG);
	/* "a.example:1," alone is a list with an empty item: report it, then the joined list. */
	conf_close(&f->c);
	assert_int_equal(conf_init(&f->c, keys, N_KEYS, &f->s), PAT_OK);
	assert_int_equal(load(f, "[core]\nlist = a.example:1\n  b.example:2\n", NULL), PAT_OK);
	assert_string_equal(f->s.list, "a.example:1,b.example:2");
	conf_close(&f->c);
	assert_int_equal(conf_init(&f->c, keys, N_KEYS, &f->s), PAT_OK);
	assert_int_equal(load(f, "[core]\nn = 5\n  6\n", NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, ":3: [core] n: only lists may continue on an indented line");
}

static void secret_is_read_and_never_shown(void **state)
{
	struct fixture *f = *state;
	char *secret = tu_write_file(f->dir, "key.pem", "s3cr3t-value\n");
	char text[512];
	struct buf out = BUF_INIT;

	snprintf(text, sizeof text, "[extra]\nsecret_file = %s\nreq = 1\n", secret);
	assert_int_equal(load(f, text, NULL), PAT_OK);
	assert_null(f->s.secret.value); /* read only at the end */
	assert_int_equal(conf_finish(&f->c, ROLE_WORKER, "pat worker", NULL, NULL), PAT_OK);
	assert_string_equal(f->s.secret.value, "s3cr3t-value");
	assert_int_equal(f->s.secret.len, 12);
	assert_int_equal(conf_show(&f->c, &out), PAT_OK);
	assert_contains(buf_str(&out), secret);
	assert_contains(buf_str(&out), "secret contents not shown");
	assert_not_contains(buf_str(&out), "s3cr3t");
	buf_free(&out);
	free(secret);
}

static void missing_secret_names_origin(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[extra]\nsecret_file = /nonexistent/key\n", NULL), PAT_OK);
	assert_int_equal(conf_finish(&f->c, 0, "", NULL, NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "pat.conf:2: [extra] secret_file: cannot read secret file \"/nonexistent/key\": No such file");
}

static void empty_secret_is_an_error(void **state)
{
	struct fixture *f = *state;
	char *secret = tu_write_file(f->dir, "empty", "\n");

	assert_int_equal(conf_set(&f->c, "extra.secret_file", secret, "--set"), PAT_OK);
	assert_int_equal(conf_finish(&f->c, 0, "", NULL, NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "flag --set: [extra] secret_file: secret file", "is empty");
	free(secret);
}

static void secret_that_is_a_directory_is_an_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(conf_set(&f->c, "extra.secret_file", f->dir, "--set"), PAT_OK);
	assert_int_equal(conf_finish(&f->c, 0, "", NULL, NULL), PAT_ECONFIG);
	EXPECT_ERROR(f, "is not a regular file");
}

static void secret_relative_path_uses_credentials_directory(void **state)
{
	struct fixture *f = *state;
	char *secret = tu_write_file(f->dir, "smtp-key", "from-systemd");

	setenv("CREDENTIALS_DIRECTORY", f->dir, 1);
	assert_int_equal(conf_set(&f->c, "extra.secret_file", "smtp-key", "--set"), PAT_OK);
	assert_int_equal(conf_finish(&f->c, 0, "", NULL, NULL), PAT_OK);
	assert_string_equal(f->s.secret.value, "from-systemd");
	free(secret);
}

static int rule_n_below_20_with_b(struct conf *c, void *data)
{
	const struct settings *s = c->target;

	*(int *)data += 1;
	if (s->b && s->n >= 20)
		conf_key_error(c, 0, "with b set, n must be below 20");
	return PAT_OK;
}

static void rules_run_and_report(void **state)
{
	struct fixture *f = *state;
	int calls = 0;

	assert_int_equal(load(f, "[core]\nn = 25\nb = on\n", NULL), PAT_OK);
	assert_int_equal(conf_finish(&f->c, 0, "", rule_n_below_20_with_b, &calls), PAT_ECONFIG);
	assert_int_equal(calls, 1);
	EXPECT_ERROR(f, "pat.conf:2: [core] n: with b set, n must be below 20");
}

static void show_output_is_a_loadable_config(void **state)
{
	struct fixture *f = *state;
	struct buf out = BUF_INIT;
	struct settings again = { 0 };
	struct conf c2;
	char *path;

	assert_int_equal(load(f, "[core]\nn = 42\nd = 45m30s\nsz = 3MiB\nlist = a.b:1,c.d:2\nlevel = high\n"
				 "[extra]\nstr = hello world\n", NULL), PAT_OK);
	assert_int_equal(conf_show(&f->c, &out), PAT_OK);
	assert_contains(buf_str(&out), "[core]\nn = 42  ; ");
	assert_contains(buf_str(&out), "d = 45m30s  ; ");
	assert_contains(buf_str(&out), "b = false  ; default");
	assert_contains(buf_str(&out), "# path =  (unset; a path)");
	path = tu_write_file(f->dir, "shown.conf", buf_str(&out));
	assert_int_equal(conf_init(&c2, keys, N_KEYS, &again), PAT_OK);
	if (conf_load_file(&c2, path) != PAT_OK)
		fail_msg("%s\n%s", conf_error_at(&c2, 0), buf_str(&out));
	assert_int_equal(again.n, 42);
	assert_int_equal(again.d, (45 * 60 + 30) * 1000);
	assert_int_equal(again.sz, 3 * 1024 * 1024);
	assert_int_equal(again.level, 1);
	assert_string_equal(again.list, "a.b:1,c.d:2");
	assert_string_equal(again.str, "hello world");
	conf_close(&c2);
	buf_free(&out);
	free(path);
}

/* Every allocation of init, load and finish may fail: each failure is reported as ENOMEM
 * (or a recorded error) and leaks nothing; the sanitizer run checks the leaks. */
static void allocation_failures_are_reported(void **state)
{
	struct fixture *f = *state;
	char *path = tu_write_file(f->dir, "oom.conf", "[core]\nn = 5\nlist = a:1,b:2\n[extra]\nstr = x\n");
	char *secret = tu_write_file(f->dir, "s", "v");
	char *env[] = { "PAT_CORE_B=true", NULL };
	bool succeeded = false;

	for (long n = 0; n < 2000 && !succeeded; n++) {
		struct settings s = { 0 };
		struct conf c;
		int rv;

		mem_fail_after(n, true);
		rv = conf_init(&c, keys, N_KEYS, &s);
		if (rv == PAT_OK)
			rv = conf_load_file(&c, path);
		if (rv == PAT_OK)
			rv = conf_load_env(&c, "PAT_", env);
		if (rv == PAT_OK)
			rv = conf_set(&c, "extra.secret_file", secret, "--set");
		if (rv == PAT_OK)
			rv = conf_finish(&c, 0, "", NULL, NULL);
		mem_fail_reset();
		if (rv == PAT_OK) {
			assert_int_equal(s.n, 5);
			assert_true(s.b);
			assert_string_equal(s.secret.value, "v");
			succeeded = true;
		} else {
			assert_true(rv == PAT_ENOMEM || rv == PAT_ECONFIG || rv == PAT_EIO);
		}
		conf_close(&c);
	}
	assert_true(succeeded);
	free(path);
	free(secret);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(defaults_apply_with_default_origin),
		T(file_env_and_flags_override_in_order),
		T(unknown_section_names_file_line_and_choices),
		T(unknown_key_names_line_and_keys),
		T(keys_in_unknown_sections_are_reported_once),
		T(bad_number_says_what_was_expected),
		T(number_out_of_range),
		T(bad_bool),
		T(bad_duration),
		T(duration_out_of_range),
		T(bad_size),
		T(size_out_of_range),
		T(bad_address),
		T(bad_port),
		T(address_is_normalised_and_port_zero_allowed),
		T(bad_address_list),
		T(list_port_zero_is_refused),
		T(bad_enum_lists_choices),
		T(bad_name),
		T(control_characters_are_refused),
		T(missing_required_names_key_and_ways_to_set_it),
		T(required_is_only_for_its_role),
		T(duplicate_key_names_first_line),
		T(key_outside_section),
		T(syntax_error_names_line),
		T(unterminated_section_is_a_syntax_error),
		T(overlong_line_is_refused_not_cut),
		T(nul_byte_is_refused),
		T(missing_file_is_an_io_error),
		T(all_errors_are_collected),
		T(env_unknown_key_of_known_section_is_an_error),
		T(env_bad_value_keeps_previous_value_and_origin),
		T(flag_errors),
		T(empty_value_unsets_optional_key),
		T(continuation_lines_extend_lists_only),
		T(secret_is_read_and_never_shown),
		T(missing_secret_names_origin),
		T(empty_secret_is_an_error),
		T(secret_that_is_a_directory_is_an_error),
		T(secret_relative_path_uses_credentials_directory),
		T(rules_run_and_report),
		T(show_output_is_a_loadable_config),
		T(allocation_failures_are_reported),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
