/* main: the `pat` executable. Dispatches to a subcommand from the table in commands.c:
 *
 *     pat COMMAND [OPTIONS] [ARGS]     pat help [COMMAND]     pat COMMAND --help
 *
 * Exit status: 0 success, 1 the command failed, 2 a bad command line or a command that is
 * not part of this build. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void print_help(FILE *out)
{
	fprintf(out,
		"Pat: an email-testing platform. Applications send mail over SMTP; people and test\n"
		"suites read it back over HTTP, live events and a web UI.\n\n"
		"Usage: pat COMMAND [OPTIONS] [ARGS]\n\nCommands:\n");
	for (const struct cli_command *c = cli_commands; c->name != NULL; c++)
		fprintf(out, "  %-11s %s%s\n", c->name, c->summary,
			c->run == NULL && strcmp(c->name, "help") != 0 ? " (not in this build yet)" : "");
	fprintf(out, "\nRun 'pat help COMMAND' or 'pat COMMAND --help' for a command's options.\n"
		     "Configuration: " CLI_DEFAULT_CONFIG ", PAT_<SECTION>_<KEY> variables and flags;\n"
		     "see 'pat config show'.\n");
}

static int cmd_help(int argc, char **argv)
{
	const struct cli_command *c;

	if (argc == 0) {
		print_help(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 1) {
		fprintf(stderr, "pat help: unexpected argument '%s' (usage: pat help [COMMAND])\n", argv[1]);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
		cli_print_usage(cli_find_command("help"), stdout);
		return CLI_EXIT_OK;
	}
	c = cli_find_command(argv[0]);
	if (c == NULL) {
		fprintf(stderr, "pat help: unknown command '%s' (see 'pat help')\n", argv[0]);
		return CLI_EXIT_USAGE;
	}
	cli_print_usage(c, stdout);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	const struct cli_command *cmd;
	struct cli_args args;
	bool done;
	int rv;

	/* A peer closing a socket must be an error return, never a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		print_help(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		print_help(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("pat %s (commit %s)\n", cli_version(), cli_commit());
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0)
		return cmd_help(argc - 2, argv + 2);
	cmd = cli_find_command(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "pat: unknown command '%s' (see 'pat help')\n", argv[1]);
		return CLI_EXIT_USAGE;
	}
	rv = cli_parse_args(cmd, argc - 2, argv + 2, &args, &done);
	if (rv == CLI_EXIT_OK && !done) {
		if (cmd->run == NULL) {
			fprintf(stderr, "pat %s: not available in this build of Pat yet: %s.\n", cmd->name, cmd->summary);
			rv = CLI_EXIT_USAGE;
		} else {
			rv = cmd->run(&args);
		}
	}
	cli_args_free(&args);
	return rv;
}
