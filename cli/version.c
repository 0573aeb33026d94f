/* version: Pat's version and the commit it was built from (stamped by the Makefile). */
#include <stdio.h>

#include "cli/cli.h"

#ifndef PAT_VERSION
#define PAT_VERSION "unknown"
#endif
#ifndef PAT_GIT_REV
#define PAT_GIT_REV "unknown"
#endif

const char *cli_version(void)
{
	return PAT_VERSION;
}

const char *cli_commit(void)
{
	return PAT_GIT_REV;
}

int cli_cmd_version(struct cli_args *args)
{
	if (args->n_positional > 0) {
		fprintf(stderr, "pat version: unexpected argument '%s' (see 'pat version --help')\n", args->positional[0]);
		return CLI_EXIT_USAGE;
	}
	if (args->values[0] != NULL) /* --json */
		printf("{\"version\": \"%s\", \"commit\": \"%s\"}\n", cli_version(), cli_commit());
	else
		printf("pat %s (commit %s)\n", cli_version(), cli_commit());
	return CLI_EXIT_OK;
}
