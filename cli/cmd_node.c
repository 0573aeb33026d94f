/* cmd_node: `pat node`, one dqlite storage node of a Pat cluster.
 *
 * The process starts the node, joins the cluster when it is new and [node] join is set, and
 * then waits for SIGTERM or SIGINT, on which it stops the node cleanly (in-flight requests
 * finish; the Raft log on disk stays consistent). Signals are taken synchronously with
 * sigtimedwait() so that no work happens in a signal handler, and the same loop runs the
 * node's periodic duties.
 *
 * Under systemd (Type=notify) it says READY=1 once the node is a registered member of the
 * cluster (bootstrapped, or joined), STOPPING=1 on the signal, and WATCHDOG=1 from the same
 * loop, so a loop that stops turning stops the pings and systemd restarts the node. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/sdnotify.h"
#include "lib/timeutil.h"
#include "node/duties.h"
#include "node/server.h"

int cli_cmd_node(struct cli_args *args)
{
	struct node_options o;
	struct node_server server;
	struct node_duties duties;
	struct pat_settings s;
	struct pat_err err;
	struct sdnotify notify;
	struct conf c;
	sigset_t stop;
	int64_t next_duties = 0, next_ping = 0;
	uint64_t ping_ms;
	bool ready = false;
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
	o.network_latency_ms = (unsigned)s.cluster.network_latency;
	if (sdnotify_init(&notify, &err) != PAT_OK)
		log_warn("systemd notifications off", "error=%s", err.msg);
	ping_ms = sdnotify_watchdog_interval_ms(&notify);
	rv = node_server_start(&server, &o, &err);
	if (rv != PAT_OK) {
		log_error("node failed to start", "id=%lld error=%s", (long long)s.node.id, err.msg);
		fprintf(stderr, "pat node: %s\n", err.msg);
		sdnotify_close(&notify);
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
			sdnotify_close(&notify);
			conf_close(&c);
			return CLI_EXIT_FAILURE;
		}
	}
	log_info("node started; joining and registering", "id=%llu address=%s", (unsigned long long)o.id, o.address);
	rv = CLI_EXIT_OK;
	for (;;) {
		/* Wake for the duties once a second, and as often as the watchdog needs. */
		int64_t now = time_mono_ms(), wake = next_duties;
		struct timespec tick;
		int sig;

		if (ping_ms > 0 && next_ping < wake)
			wake = next_ping;
		wake = wake > now ? wake - now : 0;
		tick.tv_sec = (time_t)(wake / 1000);
		tick.tv_nsec = (long)(wake % 1000) * 1000000L;
		sig = sigtimedwait(&stop, NULL, &tick);
		if (sig > 0) {
			log_info("stopping on signal", "signal=%s", sig == SIGTERM ? "TERM" : sig == SIGINT ? "INT" : "HUP");
			sdnotify_send(&notify, "STOPPING=1\nSTATUS=stopping", &err);
			break;
		}
		now = time_mono_ms();
		if (now >= next_duties) {
			node_duties_run(&duties);
			next_duties = now + 1000;
		}
		if (!ready && duties.joined && duties.registered) {
			ready = true;
			log_info("node ready", "id=%llu address=%s", (unsigned long long)o.id, o.address);
			if (sdnotify_sendf(&notify, &err, "READY=1\nSTATUS=node %llu serving at %s",
					   (unsigned long long)o.id, o.address) != PAT_OK)
				log_warn("cannot notify systemd", "error=%s", err.msg);
		}
		if (ping_ms > 0 && now >= next_ping) {
			sdnotify_send(&notify, "WATCHDOG=1", &err);
			next_ping = now + (int64_t)ping_ms;
		}
	}
	node_duties_close(&duties);
	node_server_stop(&server);
	sdnotify_close(&notify);
	conf_close(&c);
	return rv;
}
