/* Integration tests of the `pat` executable: help, usage errors, unbuilt commands, version,
 * and configuration as a user meets it (files, PAT_* variables, flags, secrets). */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* Run pat with the arguments that follow env, up to a NULL. */
static void pat(struct tu_proc *p, const char *const *env, ...)
{
	const char *argv[16] = { tu_pat_bin() };
	size_t n = 1;
	va_list ap;

	va_start(ap, env);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	tu_run(p, argv, env, NULL);
}
#define PAT(p, ...) pat((p), NULL, __VA_ARGS__, (const char *)NULL)
#define PAT_ENV(p, env, ...) pat((p), (env), __VA_ARGS__, (const char *)NULL)

static const char *const commands[] = { "serve", "node", "gateway", "compliance", "anomaly", "cluster",
					"load", "sendmail", "config", "version", "help" };
static const char *const unbuilt[] = { "compliance" };

static void help_lists_every_command(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "help");
	assert_int_equal(p.status, 0);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		char line[64];

		snprintf(line, sizeof line, "\n  %s ", commands[i]);
		assert_contains(p.out, line);
	}
	assert_contains(p.out, "(not in this build yet)");
	tu_proc_free(&p);
}

static void no_command_prints_help_and_fails(void **state)
{
	struct tu_proc p;
	const char *argv[] = { tu_pat_bin(), NULL };

	(void)state;
	tu_run(&p, argv, NULL, NULL);
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "Usage: pat COMMAND");
	tu_proc_free(&p);
}

static void help_for_each_command(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		struct tu_proc a, b;
		char usage[64];

		snprintf(usage, sizeof usage, "Usage: pat %s", commands[i]);
		PAT(&a, "help", commands[i]);
		PAT(&b, commands[i], "--help");
		assert_int_equal(a.status, 0);
		assert_int_equal(b.status, 0);
		assert_contains(a.out, usage);
		assert_string_equal(a.out, b.out);
		tu_proc_free(&a);
		tu_proc_free(&b);
	}
}

static void config_usage_lists_options(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "-h");
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "--role ROLE");
	assert_contains(p.out, "--config FILE");
	assert_contains(p.out, "--log-level LEVEL");
	assert_contains(p.out, "(log.level)");
	assert_contains(p.out, "--set KEY=VALUE");
	tu_proc_free(&p);
}

static void unknown_command_is_named(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "frobnicate");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unknown command 'frobnicate'");
	tu_proc_free(&p);
	PAT(&p, "help", "frobnicate");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unknown command 'frobnicate'");
	tu_proc_free(&p);
	PAT(&p, "help", "config", "extra");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unexpected argument 'extra'");
	tu_proc_free(&p);
}

static void unknown_flag_is_named(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "check", "--frobnicate");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "pat config: unknown option '--frobnicate'");
	tu_proc_free(&p);
	PAT(&p, "version", "--frobnicate");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "pat version: unknown option '--frobnicate'");
	tu_proc_free(&p);
	/* version takes no configuration options */
	PAT(&p, "version", "--config", "x");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unknown option '--config'");
	tu_proc_free(&p);
}

static void option_without_value(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "check", "--config");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "option '--config' needs a value (FILE)");
	tu_proc_free(&p);
	PAT(&p, "config", "check", "--set", "novalue");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "option '--set novalue' is not KEY=VALUE");
	tu_proc_free(&p);
}

static void unbuilt_commands_say_so(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof unbuilt / sizeof unbuilt[0]; i++) {
		struct tu_proc p;
		char want[64];

		PAT(&p, unbuilt[i]);
		snprintf(want, sizeof want, "pat %s: not available in this build of Pat yet", unbuilt[i]);
		assert_int_equal(p.status, 2);
		assert_contains(p.err, want);
		assert_string_equal(p.out, "");
		tu_proc_free(&p);
		PAT(&p, "help", unbuilt[i]);
		assert_contains(p.out, "Not available in this build of Pat yet.");
		tu_proc_free(&p);
	}
}

static void config_action_errors(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "config");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "missing action: check or show");
	tu_proc_free(&p);
	PAT(&p, "config", "frob");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unknown action 'frob'");
	tu_proc_free(&p);
	PAT(&p, "config", "check", "extra");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unexpected argument 'extra'");
	tu_proc_free(&p);
	PAT(&p, "config", "check", "--role", "mailman");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unknown role 'mailman': expected node, gateway, serve, anomaly or netsim");
	tu_proc_free(&p);
}

static void version_prints_version_and_commit(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "version");
	assert_int_equal(p.status, 0);
	assert_true(strncmp(p.out, "pat ", 4) == 0);
	assert_contains(p.out, " (commit ");
	tu_proc_free(&p);
	PAT(&p, "version", "--json");
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "{\"version\": \"");
	assert_contains(p.out, "\"commit\": \"");
	tu_proc_free(&p);
	PAT(&p, "version", "now");
	assert_int_equal(p.status, 2);
	assert_contains(p.err, "unexpected argument 'now'");
	tu_proc_free(&p);
}

static void check_good_file(void **state)
{
	char *conf = tu_write_file(dir, "good.conf", "[smtp]\nlisten = 0.0.0.0:2525\nmax_message_size = 10MB\n"
					     "[log]\nlevel = warn\n");
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "check", "--config", conf);
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "configuration OK (");
	assert_contains(p.out, conf);
	tu_proc_free(&p);
	free(conf);
}

static void check_bad_file_reports_every_error_with_line(void **state)
{
	char *conf = tu_write_file(dir, "bad.conf",
				   "[smtp]\n"
				   "listen = localhost\n"
				   "max_message_size = 10 parsecs\n"
				   "max_recipients = many\n"
				   "command_timeout = 30\n"
				   "colour = blue\n"
				   "[imap]\n");
	char want[512];
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "check", "--config", conf);
	assert_int_equal(p.status, 1);
	snprintf(want, sizeof want, "pat config: %s:2: [smtp] listen: \"localhost\" is not an address", conf);
	assert_contains(p.err, want);
	snprintf(want, sizeof want, "%s:3: [smtp] max_message_size: \"10 parsecs\" is not a size; expected a size", conf);
	assert_contains(p.err, want);
	snprintf(want, sizeof want, "%s:4: [smtp] max_recipients: \"many\" is not a number; expected a whole number from 1 to 100000", conf);
	assert_contains(p.err, want);
	snprintf(want, sizeof want, "%s:5: [smtp] command_timeout: \"30\" is not a duration", conf);
	assert_contains(p.err, want);
	snprintf(want, sizeof want, "%s:6: unknown key \"colour\" in section [smtp]", conf);
	assert_contains(p.err, want);
	snprintf(want, sizeof want, "%s:7: unknown section [imap]", conf);
	assert_contains(p.err, want);
	assert_string_equal(p.out, "");
	tu_proc_free(&p);
	free(conf);
}

static void missing_config_file(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "check", "--config", "/nonexistent/pat.conf");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "/nonexistent/pat.conf: cannot read the configuration file: No such file or directory");
	tu_proc_free(&p);
}

static void environment_overrides_file_and_flags_override_environment(void **state)
{
	char *conf = tu_write_file(dir, "layers.conf", "[smtp]\nmax_recipients = 40\nmax_connections = 7\n");
	const char *env[] = { "PAT_SMTP_MAX_RECIPIENTS=50", "PAT_TOKEN=not-ours", NULL };
	char want[512];
	struct tu_proc p;

	(void)state;
	PAT_ENV(&p, env, "config", "show", "--config", conf);
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "max_recipients = 50  ; environment PAT_SMTP_MAX_RECIPIENTS\n");
	snprintf(want, sizeof want, "max_connections = 7  ; %s:3\n", conf);
	assert_contains(p.out, want);
	assert_contains(p.out, "max_message_size = 25MiB  ; default\n");
	tu_proc_free(&p);

	PAT_ENV(&p, env, "config", "show", "--config", conf, "--set", "smtp.max_recipients=60");
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "max_recipients = 60  ; flag --set\n");
	tu_proc_free(&p);
	free(conf);
}

static void bad_environment_variable_is_named(void **state)
{
	const char *env[] = { "PAT_SMTP_LISTEN=nowhere", "PAT_SMTP_LISTENING=1", NULL };
	struct tu_proc p;

	(void)state;
	PAT_ENV(&p, env, "config", "check");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "environment PAT_SMTP_LISTEN: [smtp] listen: \"nowhere\" is not an address");
	assert_contains(p.err, "environment PAT_SMTP_LISTENING: unknown key \"listening\" in section [smtp]");
	tu_proc_free(&p);
}

static void log_level_flag(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "show", "--log-level", "debug");
	assert_int_equal(p.status, 0);
	assert_contains(p.out, "[log]\nlevel = debug  ; flag --log-level\n");
	tu_proc_free(&p);
	PAT(&p, "config", "show", "--log-level=loud");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "flag --log-level: [log] level: \"loud\" is not allowed; expected one of: debug, info, warn, error");
	tu_proc_free(&p);
}

static void role_requirements(void **state)
{
	const char *env[] = { "PAT_NODE_ID=3", NULL };
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "check", "--role", "node");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[node] id is required by pat node but not set");
	assert_contains(p.err, "PAT_NODE_ID");
	tu_proc_free(&p);
	PAT_ENV(&p, env, "config", "check", "--role", "node");
	assert_int_equal(p.status, 0);
	tu_proc_free(&p);
	PAT(&p, "config", "check", "--role", "gateway");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[gateway] cluster is required by pat gateway but not set");
	tu_proc_free(&p);
	PAT(&p, "config", "check", "--role=gateway", "--set", "gateway.cluster=10.0.0.1:9001, 10.0.0.2:9001");
	assert_int_equal(p.status, 0);
	tu_proc_free(&p);
}

static void secrets_are_read_from_files_and_redacted(void **state)
{
	char *users = tu_write_file(dir, "users", "alice:wonderland-password\n");
	char *conf, text[512];
	struct tu_proc p;

	(void)state;
	snprintf(text, sizeof text, "[smtp]\nauth = users\nusers_file = %s\n", users);
	conf = tu_write_file(dir, "secret.conf", text);
	PAT(&p, "config", "show", "--config", conf);
	assert_int_equal(p.status, 0);
	assert_contains(p.out, users);
	assert_contains(p.out, "secret contents not shown");
	assert_not_contains(p.out, "wonderland");
	assert_not_contains(p.err, "wonderland");
	tu_proc_free(&p);
	free(conf);
	free(users);
}

static void secret_rules(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "check", "--set", "smtp.auth=users");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[smtp] auth: auth = users needs the users; set [smtp] users_file");
	tu_proc_free(&p);
	PAT(&p, "config", "check", "--set", "smtp.users_file=/nonexistent/users");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "flag --set: [smtp] users_file: cannot read secret file \"/nonexistent/users\"");
	tu_proc_free(&p);
	PAT(&p, "config", "check", "--set", "http.tls_cert_file=/etc/ssl/cert.pem");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[http] tls_cert_file: a certificate needs its private key; set [http] tls_key_file too");
	tu_proc_free(&p);
}

static void join_may_not_name_the_node_itself(void **state)
{
	struct tu_proc p;

	(void)state;
	PAT(&p, "config", "check", "--set", "node.address=10.0.0.1:9001", "--set", "node.join=10.0.0.2:9001,10.0.0.1:9001");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[node] join: \"10.0.0.2:9001,10.0.0.1:9001\" lists this node's own address 10.0.0.1:9001");
	tu_proc_free(&p);
}

static void serve_refuses_bad_users_and_domain_files(void **state)
{
	char *users = tu_write_file(dir, "bad-users", "alice\n");
	char users_set[4200], data_set[4200];
	struct tu_proc p;

	(void)state;
	snprintf(users_set, sizeof users_set, "smtp.users_file=%s", users);
	snprintf(data_set, sizeof data_set, "%s/never", dir);
	PAT(&p, "serve", "--data", data_set, "--set", "smtp.auth=users", "--set", users_set);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[smtp] users_file:");
	assert_contains(p.err, "bad-users:1: expected user:password");
	tu_proc_free(&p);
	PAT(&p, "serve", "--data", data_set, "--set", "smtp.tenant_domains_file=/nonexistent/domains");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[smtp] tenant_domains_file: cannot read it");
	tu_proc_free(&p);
	PAT(&p, "serve", "--set", "smtp.tls_cert_file=/etc/hostname", "--set", "smtp.tls_key_file=/etc/hostname");
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "[smtp] tls_cert_file /etc/hostname: cannot load the certificate");
	tu_proc_free(&p);
	free(users);
}

/* docs/CONFIGURATION.md documents every key `pat config show` prints, in its section. */
static void every_key_is_documented(void **state)
{
	char path[4096], *doc, *line, *save = NULL;
	char section_heading[96] = "";
	const char *section_at = NULL;
	struct tu_proc p;
	int keys = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/docs/CONFIGURATION.md", tu_source_dir());
	doc = tu_read_file(path, NULL);
	assert_non_null(doc);
	PAT(&p, "config", "show");
	assert_int_equal(p.status, 0);
	for (line = strtok_r(p.out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char key[64], row[96];
		const char *next;

		if (line[0] == '[') {
			snprintf(section_heading, sizeof section_heading, "### %s", line);
			section_at = strstr(doc, section_heading);
			if (section_at == NULL)
				fail_msg("docs/CONFIGURATION.md has no heading \"%s\"", section_heading);
			continue;
		}
		if (sscanf(line, "# %63s =", key) != 1 && sscanf(line, "%63s =", key) != 1)
			continue;
		assert_non_null(section_at);
		snprintf(row, sizeof row, "| `%s` |", key);
		next = strstr(section_at + 4, "### ");
		if (strstr(section_at, row) == NULL || (next != NULL && strstr(section_at, row) > next))
			fail_msg("docs/CONFIGURATION.md does not document %s under \"%s\"", key, section_heading);
		keys++;
	}
	assert_true(keys > 20);
	tu_proc_free(&p);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(help_lists_every_command),
		cmocka_unit_test(no_command_prints_help_and_fails),
		cmocka_unit_test(help_for_each_command),
		cmocka_unit_test(config_usage_lists_options),
		cmocka_unit_test(unknown_command_is_named),
		cmocka_unit_test(unknown_flag_is_named),
		cmocka_unit_test(option_without_value),
		cmocka_unit_test(unbuilt_commands_say_so),
		cmocka_unit_test(config_action_errors),
		cmocka_unit_test(version_prints_version_and_commit),
		cmocka_unit_test(check_good_file),
		cmocka_unit_test(check_bad_file_reports_every_error_with_line),
		cmocka_unit_test(missing_config_file),
		cmocka_unit_test(environment_overrides_file_and_flags_override_environment),
		cmocka_unit_test(bad_environment_variable_is_named),
		cmocka_unit_test(log_level_flag),
		cmocka_unit_test(role_requirements),
		cmocka_unit_test(secrets_are_read_from_files_and_redacted),
		cmocka_unit_test(secret_rules),
		cmocka_unit_test(join_may_not_name_the_node_itself),
		cmocka_unit_test(every_key_is_documented),
		cmocka_unit_test(serve_refuses_bad_users_and_domain_files),
	};
	return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
