/* cmd_config: `pat config check` and `pat config show`. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/err.h"

static const struct {
	const char *name;
	unsigned role;
	const char *who;
} roles[] = {
	{ "node", SETTINGS_ROLE_NODE, "pat node" },
	{ "gateway", SETTINGS_ROLE_GATEWAY, "pat gateway" },
	{ "serve", SETTINGS_ROLE_SERVE, "pat serve" },
	{ "anomaly", SETTINGS_ROLE_ANOMALY, "pat anomaly watch" },
	{ "netsim", SETTINGS_ROLE_NETSIM, "pat netsim" },
};

int cli_cmd_config(struct cli_args *args)
{
	const char *action = args->n_positional > 0 ? args->positional[0] : NULL;
	const char *role_name = args->values[0]; /* --role */
	unsigned role = 0;
	const char *who = "";
	struct pat_settings s;
	struct conf c;
	int rv;

	if (action == NULL || (strcmp(action, "check") != 0 && strcmp(action, "show") != 0)) {
		if (action == NULL)
			fprintf(stderr, "pat config: missing action: check or show (see 'pat config --help')\n");
		else
			fprintf(stderr, "pat config: unknown action '%s': expected check or show (see 'pat config --help')\n", action);
		return CLI_EXIT_USAGE;
	}
	if (args->n_positional > 1) {
		fprintf(stderr, "pat config: unexpected argument '%s' (see 'pat config --help')\n", args->positional[1]);
		return CLI_EXIT_USAGE;
	}
	if (role_name != NULL) {
		for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
			if (strcmp(role_name, roles[i].name) == 0)
				role = roles[i].role, who = roles[i].who;
		if (role == 0) {
			fprintf(stderr, "pat config: unknown role '%s': expected node, gateway, serve, anomaly or netsim (see 'pat config --help')\n", role_name);
			return CLI_EXIT_USAGE;
		}
	}
	rv = cli_load_config(args, role, who, &c, &s);
	if (rv == CLI_EXIT_OK && strcmp(action, "show") == 0) {
		struct buf out = BUF_INIT;

		if (conf_show(&c, &out) != PAT_OK) {
			fprintf(stderr, "pat config: out of memory\n");
			rv = CLI_EXIT_FAILURE;
		} else {
			fputs(buf_str(&out), stdout);
		}
		buf_free(&out);
	} else if (rv == CLI_EXIT_OK) {
		printf("configuration OK (%s)\n", c.file != NULL ? c.file : "built-in defaults, no file");
	}
	conf_close(&c);
	return rv;
}
