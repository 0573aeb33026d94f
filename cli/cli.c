/* cli: see cli.h. Option parsing is written here rather than with getopt_long() because a bad
 * word must produce Pat's own message (naming it and the command) and exit status 2, and
 * because options map straight onto configuration keys. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

extern char **environ;

/* Options every configurable command takes. */
static const struct cli_option common_options[] = {
	{ "--config", "FILE", NULL, "configuration file (default " CLI_DEFAULT_CONFIG " when it exists)" },
	{ "--log-level", "LEVEL", "log.level", "debug, info, warn or error" },
	{ "--set", "KEY=VALUE", NULL, "set any configuration key, e.g. --set smtp.max_recipients=500" },
	{ NULL, NULL, NULL, NULL },
};

const struct cli_command *cli_find_command(const char *name)
{
	for (const struct cli_command *c = cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void print_option(FILE *out, const struct cli_option *o)
{
	char left[64];

	snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	if (o->key != NULL)
		fprintf(out, "  %-22s %s (%s)\n", left, o->help, o->key);
	else
		fprintf(out, "  %-22s %s\n", left, o->help);
}

void cli_print_usage(const struct cli_command *cmd, FILE *out)
{
	fprintf(out, "Usage: pat %s%s%s\n\n%s\n", cmd->name, cmd->synopsis[0] ? " " : "", cmd->synopsis,
		cmd->description);
	if (cmd->run == NULL) {
		fprintf(out, "\nNot available in this build of Pat yet.\n");
		return;
	}
	fprintf(out, "\nOptions:\n");
	for (const struct cli_option *o = cmd->options; o != NULL && o->name != NULL; o++)
		print_option(out, o);
	if (cmd->config)
		for (const struct cli_option *o = common_options; o->name != NULL; o++)
			print_option(out, o);
	fprintf(out, "  %-22s %s\n", "-h, --help", "show this help");
}

static int usage_error(const struct cli_command *cmd, const char *fmt, const char *word, const char *extra)
{
	fprintf(stderr, "pat %s: ", cmd->name);
	fprintf(stderr, fmt, word, extra);
	fprintf(stderr, " (see 'pat %s --help')\n", cmd->name);
	return CLI_EXIT_USAGE;
}

/* Find the option `name` (which may carry "=value") in a table; *inline_value gets the part
 * after '='. */
static const struct cli_option *match(const struct cli_option *table, const char *word,
				      const char **inline_value)
{
	for (const struct cli_option *o = table; o != NULL && o->name != NULL; o++) {
		size_t n = strlen(o->name);

		if (strncmp(word, o->name, n) != 0)
			continue;
		if (word[n] == '\0') {
			*inline_value = NULL;
			return o;
		}
		if (word[n] == '=' && o->arg != NULL) {
			*inline_value = word + n + 1;
			return o;
		}
	}
	return NULL;
}

static int add_set(struct cli_args *a, const char *flag, const char *key, const char *value)
{
	if (a->n_sets >= (int)(sizeof a->sets / sizeof a->sets[0])) {
		fprintf(stderr, "pat %s: too many configuration options; put them in a --config file\n", a->cmd->name);
		return CLI_EXIT_USAGE;
	}
	a->sets[a->n_sets].flag = flag;
	a->sets[a->n_sets].key = key;
	a->sets[a->n_sets].value = mem_strdup(value);
	if (a->sets[a->n_sets].value == NULL) {
		fprintf(stderr, "pat %s: out of memory\n", a->cmd->name);
		return CLI_EXIT_FAILURE;
	}
	a->n_sets++;
	return CLI_EXIT_OK;
}

int cli_parse_args(const struct cli_command *cmd, int argc, char **argv, struct cli_args *a, bool *done)
{
	bool options_end = false;

	memset(a, 0, sizeof *a);
	*done = false;
	a->cmd = cmd;
	a->positional = mem_calloc((size_t)argc + 1, sizeof *a->positional);
	if (a->positional == NULL) {
		fprintf(stderr, "pat %s: out of memory\n", cmd->name);
		return CLI_EXIT_FAILURE;
	}
	for (int i = 0; i < argc; i++) {
		const char *word = argv[i], *value = NULL;
		const struct cli_option *o = NULL;
		bool common = false;
		int rv;

		if (options_end || word[0] != '-' || word[1] == '\0') {
			a->positional[a->n_positional++] = argv[i];
			continue;
		}
		if (strcmp(word, "--") == 0) {
			options_end = true;
			continue;
		}
		if (strcmp(word, "-h") == 0 || strcmp(word, "--help") == 0) {
			cli_print_usage(cmd, stdout);
			*done = true;
			return CLI_EXIT_OK;
		}
		if (cmd->run == NULL)
			continue; /* an unbuilt command's options are unknown; it says so later */
		o = match(cmd->options, word, &value);
		if (o == NULL && cmd->config) {
			o = match(common_options, word, &value);
			common = o != NULL;
		}
		if (o == NULL)
			return usage_error(cmd, "unknown option '%s'%s", word, "");
		if (o->arg == NULL) {
			a->values[o - cmd->options] = "";
			continue;
		}
		if (value == NULL) {
			if (i + 1 >= argc)
				return usage_error(cmd, "option '%s' needs a value (%s)", o->name, o->arg);
			value = argv[++i];
		}
		if (o->key != NULL) {
			if ((rv = add_set(a, o->name, o->key, value)) != CLI_EXIT_OK)
				return rv;
		} else if (common && strcmp(o->name, "--config") == 0) {
			a->config_file = value;
		} else if (common) { /* --set KEY=VALUE */
			const char *eq = strchr(value, '=');

			if (eq == NULL || eq == value)
				return usage_error(cmd, "option '--set %s' is not KEY=VALUE%s", value,
						   ", e.g. --set smtp.listen=127.0.0.1:2525");
			/* Key and value share one buffer, split at the '='. */
			if ((rv = add_set(a, "--set", NULL, value)) != CLI_EXIT_OK)
				return rv;
			a->sets[a->n_sets - 1].value[eq - value] = '\0';
			a->sets[a->n_sets - 1].key = a->sets[a->n_sets - 1].value;
		} else {
			a->values[o - cmd->options] = value;
		}
	}
	return CLI_EXIT_OK;
}

void cli_args_free(struct cli_args *a)
{
	for (int i = 0; i < a->n_sets; i++)
		mem_free(a->sets[i].value);
	mem_free(a->positional);
	memset(a, 0, sizeof *a);
}

static void print_errors(const struct conf *c, const char *cmd)
{
	for (size_t i = 0; i < conf_error_count(c); i++)
		fprintf(stderr, "pat %s: %s\n", cmd, conf_error_at(c, i));
}

/* systemd's StateDirectory= sets $STATE_DIRECTORY (several paths separated by ':' when the unit
 * names several): a relative [node] data_dir lives in the first of them, so a unit with
 * DynamicUser= keeps its node's data where systemd made room for it. */
static int resolve_data_dir(struct pat_settings *s)
{
	const char *state = getenv("STATE_DIRECTORY");
	size_t len;
	char *joined;

	if (s->node.data_dir == NULL || s->node.data_dir[0] == '/' || state == NULL || state[0] != '/')
		return PAT_OK;
	len = strcspn(state, ":");
	joined = str_printf("%.*s/%s", (int)len, state, s->node.data_dir);
	if (joined == NULL)
		return PAT_ENOMEM;
	mem_free(s->node.data_dir);
	s->node.data_dir = joined;
	return PAT_OK;
}

int cli_load_config(struct cli_args *a, unsigned roles, const char *role_name, struct conf *c,
		    struct pat_settings *s)
{
	const char *file = a->config_file;
	enum log_level level;
	int rv;

	memset(s, 0, sizeof *s);
	rv = conf_init(c, settings_keys, settings_n_keys, s);
	if (rv != PAT_OK) {
		print_errors(c, a->cmd->name);
		fprintf(stderr, "pat %s: cannot set up the built-in configuration (%s)\n", a->cmd->name, err_name(rv));
		return CLI_EXIT_FAILURE;
	}
	if (file == NULL && access(CLI_DEFAULT_CONFIG, F_OK) == 0)
		file = CLI_DEFAULT_CONFIG;
	if (file != NULL)
		conf_load_file(c, file);
	conf_load_env(c, "PAT_", environ);
	for (int i = 0; i < a->n_sets; i++) {
		const char *value = a->sets[i].value;

		if (a->sets[i].key == a->sets[i].value) /* --set: the value follows the key's NUL */
			value += strlen(a->sets[i].key) + 1;
		conf_set(c, a->sets[i].key, value, a->sets[i].flag);
	}
	if (conf_error_count(c) == 0)
		conf_finish(c, roles, role_name, settings_rules, NULL);
	if (conf_error_count(c) > 0) {
		print_errors(c, a->cmd->name);
		return CLI_EXIT_FAILURE;
	}
	if ((roles & (SETTINGS_ROLE_NODE | SETTINGS_ROLE_SERVE)) != 0 && resolve_data_dir(s) != PAT_OK) {
		fprintf(stderr, "pat %s: out of memory\n", a->cmd->name);
		return CLI_EXIT_FAILURE;
	}
	level = (enum log_level)s->log.level;
	log_set_level(level);
	return CLI_EXIT_OK;
}
