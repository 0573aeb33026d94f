/* cli: what the `pat` subcommands share: the command table's shape, option parsing, usage
 * text and configuration loading. */
#ifndef PAT_CLI_CLI_H
#define PAT_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "cli/settings.h"
#include "lib/config.h"

/* Exit statuses of every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1 /* the command ran and failed (invalid configuration, I/O, ...) */
#define CLI_EXIT_USAGE 2   /* the command line was wrong, or the command is not built */

#define CLI_MAX_OPTIONS 16

/* One option of a subcommand. */
struct cli_option {
	const char *name; /* "--smtp", or "-t" */
	const char *arg;  /* the value's name in usage ("ADDR:PORT"); NULL: a switch */
	const char *key;  /* configuration key the option sets ("smtp.listen"), or NULL */
	const char *help; /* one line */
};

struct cli_command;

/* A parsed command line. */
struct cli_args {
	const struct cli_command *cmd; /* the subcommand */
	const char *config_file;       /* --config FILE, or NULL */
	const char *values[CLI_MAX_OPTIONS]; /* value of each of cmd->options (a switch: "") */
	char **positional;             /* arguments that are not options, in order */
	int n_positional;
	/* Options that set configuration keys, applied after the file and the environment. */
	struct {
		const char *flag;  /* as written, for messages */
		const char *key;   /* "section.key" */
		char *value;
	} sets[64];
	int n_sets;
};

/* A subcommand. */
struct cli_command {
	const char *name;     /* "serve" */
	const char *synopsis; /* "[OPTIONS]" */
	const char *summary;  /* one line for `pat help` */
	const char *description; /* paragraphs for `pat help CMD` */
	const struct cli_option *options; /* NULL-name terminated, or NULL */
	int (*run)(struct cli_args *args); /* NULL: not part of this build */
	bool config;          /* accepts --config, --log-level and --set */
};

extern const struct cli_command cli_commands[];
const struct cli_command *cli_find_command(const char *name);

/* Parse argv (after the subcommand's name). On --help prints usage and returns CLI_EXIT_OK
 * with *done set; on a bad word prints the error and returns CLI_EXIT_USAGE. */
int cli_parse_args(const struct cli_command *cmd, int argc, char **argv, struct cli_args *args, bool *done);
void cli_args_free(struct cli_args *args);

void cli_print_usage(const struct cli_command *cmd, FILE *out);

/* Load the configuration: built-in defaults, the file (--config FILE, else /etc/pat/pat.conf
 * when it exists), PAT_* environment variables, then the flags; check what `roles` need and
 * read secrets; set the log level. Prints every error (prefixed with "pat CMD: ") and returns
 * CLI_EXIT_FAILURE when the configuration is invalid. The caller conf_close()es c in all cases. */
int cli_load_config(struct cli_args *args, unsigned roles, const char *role_name, struct conf *c,
		    struct pat_settings *s);

/* The default configuration file. */
#define CLI_DEFAULT_CONFIG "/etc/pat/pat.conf"

/* Version text, "pat 0.1.0 (commit 0123456789ab)". */
const char *cli_version(void);
const char *cli_commit(void);

int cli_cmd_config(struct cli_args *args);
int cli_cmd_version(struct cli_args *args);
int cli_cmd_node(struct cli_args *args);
int cli_cmd_cluster(struct cli_args *args);
int cli_cmd_anomaly(struct cli_args *args);
int cli_cmd_serve(struct cli_args *args);
int cli_cmd_sendmail(struct cli_args *args);
int cli_cmd_gateway(struct cli_args *args);
int cli_cmd_load(struct cli_args *args);

struct watch_options;
/* The anomaly service's options from [anomaly], watching targets (cmd_anomaly.c). */
void cli_watch_options(const struct pat_settings *s, const char *targets, struct watch_options *o);
/* The sinks' audit callback: data is a struct dq_leader to the cluster; each action becomes an
 * audit-log row of STORE_SYSTEM_TENANT (actor "pat anomaly"). */
void cli_anomaly_audit(void *data, const char *action, const char *subject, const char *detail);

#endif
