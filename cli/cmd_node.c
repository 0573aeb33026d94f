/* cmd_node: `pat node`, one dqlite storage node of a Pat cluster.
 *
 * The process starts the node, joins the cluster when it is new and [node] join is set, and
 * then waits for SIGTERM or SIGINT, on which it stops the node cleanly (in-flight requests
 * finish; the Raft log on disk stays consistent). Signals are taken synchronously with
 * sigtimedwait() so that no work happens in a signal handler, and the same loop runs the
 * node's periodic duties. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lib/err.h"
#include "lib/log.h"
#include "node/duties.h"
#include "node/server.h"

int cli_cmd_node(struct cli_args *args)
{
	struct node_options o;
	struct node_server server;
	struct node_duties duties;
	struct pat_settings s;
	struct pat_err err;
	struct conf c;
	sigset_t stop;
	int rv;

	if (args->n_positional > 0) {
		fprintf(stderr, "pat node: unexpected argument '%s' (see 'pat node --help')\n", args->positional[0]);
		return CLI_EXIT_USAGE;
	}
	rv = cli_load_config(args, SETTINGS_ROLE_NODE, "pat node", &c, &s);
	if (rv != CLI_EXIT_OK) {
		conf_close(&c);
		return rv;
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	/* Block before any thread starts, so that every thread inherits the mask and the
	 * signals wait for sigtimedwait() below. */
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	memset(&o, 0, sizeof o);
	o.id = (uint64_t)s.node.id;
	o.address = s.node.address;
	o.data_dir = s.node.data_dir;
	o.region = s.node.region;
	o.joining = s.node.join != NULL;
	o.snapshot_threshold = (unsigned)s.node.snapshot_threshold;
	o.snapshot_trailing = (unsigned)s.node.snapshot_trailing;
	rv = node_server_start(&server, &o, &err);
	if (rv != PAT_OK) {
		log_error("node failed to start", "id=%lld error=%s", (long long)s.node.id, err.msg);
		fprintf(stderr, "pat node: %s\n", err.msg);
		conf_close(&c);
		return CLI_EXIT_FAILURE;
	}
	{
		struct node_duty_options d = {
			.id = o.id, .address = o.address, .region = o.region, .weight = (uint64_t)s.node.weight,
			.join = s.node.join, .voters = (unsigned)s.cluster.voters, .standbys = (unsigned)s.cluster.standbys,
		};

		if (node_duties_init(&duties, &d, server.fresh, &err) != PAT_OK) {
			fprintf(stderr, "pat node: %s\n", err.msg);
			node_duties_close(&duties);
			node_server_stop(&server);
			conf_close(&c);
			return CLI_EXIT_FAILURE;
		}
	}
	log_info("node ready", "id=%llu address=%s", (unsigned long long)o.id, o.address);
	rv = CLI_EXIT_OK;
	for (;;) {
		struct timespec tick = { .tv_sec = 1, .tv_nsec = 0 };
		int sig = sigtimedwait(&stop, NULL, &tick);

		if (sig > 0) {
			log_info("stopping on signal", "signal=%s", sig == SIGTERM ? "TERM" : sig == SIGINT ? "INT" : "HUP");
			break;
		}
		node_duties_run(&duties);
		if (duties.stuck) {
			/* dqlite 1.11.1 keeps this node failing every write until it restarts. */
			duties.stuck = false;
			dq_client_close(&duties.leader.client);
			node_server_stop(&server);
			if (node_server_start(&server, &o, &err) != PAT_OK) {
				log_error("node failed to restart", "id=%llu error=%s", (unsigned long long)o.id, err.msg);
				rv = CLI_EXIT_FAILURE;
				break;
			}
			log_warn("node restarted after persistent disk I/O errors", "id=%llu", (unsigned long long)o.id);
		}
	}
	node_duties_close(&duties);
	node_server_stop(&server);
	conf_close(&c);
	return rv;
}
