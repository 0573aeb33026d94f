/* cmd_node: `pat node`, one dqlite storage node of a Pat cluster.
 *
 * The process starts the node, joins the cluster when it is new and [node] join is set, and
 * then waits for SIGTERM or SIGINT, on which it stops the node cleanly (in-flight requests
 * finish; the Raft log on disk stays consistent). Signals are taken synchronously with
 * sigtimedwait() so that no work happens in a signal handler.
 *
 * The node's periodic duties (joining, registering, the leader's roles check) run on a thread
 * of their own, once a second: their requests may legitimately block for up to ASSIGN_MS of
 * node/duties.c (a promotion waits for the new voter to catch up), longer than a watchdog
 * interval. Under systemd (Type=notify) the main loop says READY=1 once the node is a
 * registered member of the cluster (bootstrapped, or joined), STOPPING=1 on the signal, and
 * WATCHDOG=1 at half the watchdog interval, but only while the duties thread is alive: a round
 * of duties that has not finished after DUTIES_STUCK_MS stops the pings, and systemd restarts
 * the node.
 *
 * When the duties find the node answering every write with a disk I/O error (a dqlite 1.11.1
 * fault that lasts until the node restarts: duties.stuck), the duties thread restarts the node
 * in place; if it cannot, the process exits with status 1 (and systemd starts it again). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/sdnotify.h"
#include "lib/timeutil.h"
#include "node/duties.h"
#include "node/server.h"

/* A round of duties running longer than this is stuck (its longest request takes 30 s). */
#define DUTIES_STUCK_MS 90000

/* The duties thread and what the main loop learns from it. */
struct duties_runner {
	struct node_duties *duties;
	struct node_server *server;        /* restarted when the duties find it stuck */
	const struct node_options *options;
	atomic_bool stop;         /* set by the main loop */
	atomic_bool ready;        /* joined and registered */
	atomic_bool failed;       /* the node could not be restarted: exit 1 */
	atomic_llong busy_since;  /* time_mono_ms() a round started, 0 between rounds */
};

/* dqlite 1.11.1 keeps a node failing every write until it restarts. Duties thread. */
static bool restart_node(struct duties_runner *r)
{
	struct pat_err err;

	r->duties->stuck = false;
	dq_client_close(&r->duties->leader.client);
	node_server_stop(r->server);
	if (node_server_start(r->server, r->options, &err) != PAT_OK) {
		log_error("node failed to restart", "id=%llu error=%s", (unsigned long long)r->options->id, err.msg);
		atomic_store(&r->failed, true);
		return false;
	}
	log_warn("node restarted after persistent disk I/O errors", "id=%llu", (unsigned long long)r->options->id);
	return true;
}

static void *run_duties(void *arg)
{
	struct duties_runner *r = arg;

	while (!atomic_load(&r->stop)) {
		atomic_store(&r->busy_since, (long long)time_mono_ms());
		node_duties_run(r->duties);
		if (r->duties->stuck && !restart_node(r)) {
			atomic_store(&r->busy_since, 0);
			return NULL;
		}
		atomic_store(&r->busy_since, 0);
		if (r->duties->joined && r->duties->registered)
			atomic_store(&r->ready, true);
		for (int i = 0; i < 10 && !atomic_load(&r->stop); i++)
			usleep(100000);
	}
	return NULL;
}

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
	struct duties_runner runner;
	pthread_t duties_thread;
	int64_t next_ping = 0;
	uint64_t ping_ms;
	bool ready = false, stuck = false;
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
	runner.duties = &duties;
	runner.server = &server;
	runner.options = &o;
	atomic_init(&runner.stop, false);
	atomic_init(&runner.ready, false);
	atomic_init(&runner.failed, false);
	atomic_init(&runner.busy_since, 0);
	if (pthread_create(&duties_thread, NULL, run_duties, &runner) != 0) {
		fprintf(stderr, "pat node: cannot start the duties thread\n");
		node_duties_close(&duties);
		node_server_stop(&server);
		sdnotify_close(&notify);
		conf_close(&c);
		return CLI_EXIT_FAILURE;
	}
	for (;;) {
		/* Wake every 100 ms at most: readiness is seen soon, and pings come on time. */
		int64_t now = time_mono_ms(), wake = 100, busy;
		struct timespec tick;
		int sig;

		if (ping_ms > 0 && next_ping - now < wake)
			wake = next_ping > now ? next_ping - now : 0;
		tick.tv_sec = (time_t)(wake / 1000);
		tick.tv_nsec = (long)(wake % 1000) * 1000000L;
		sig = sigtimedwait(&stop, NULL, &tick);
		if (sig > 0) {
			log_info("stopping on signal", "signal=%s", sig == SIGTERM ? "TERM" : sig == SIGINT ? "INT" : "HUP");
			sdnotify_send(&notify, "STOPPING=1\nSTATUS=stopping", &err);
			break;
		}
		if (atomic_load(&runner.failed)) {
			rv = CLI_EXIT_FAILURE;
			break;
		}
		now = time_mono_ms();
		if (!ready && atomic_load(&runner.ready)) {
			ready = true;
			log_info("node ready", "id=%llu address=%s", (unsigned long long)o.id, o.address);
			if (sdnotify_sendf(&notify, &err, "READY=1\nSTATUS=node %llu serving at %s",
					   (unsigned long long)o.id, o.address) != PAT_OK)
				log_warn("cannot notify systemd", "error=%s", err.msg);
		}
		busy = (int64_t)atomic_load(&runner.busy_since);
		if (busy != 0 && now - busy > DUTIES_STUCK_MS) {
			if (!stuck)
				log_error("node duties stuck; no more watchdog pings", "busy_ms=%lld", (long long)(now - busy));
			stuck = true;
			continue;
		}
		stuck = false;
		if (ping_ms > 0 && now >= next_ping) {
			sdnotify_send(&notify, "WATCHDOG=1", &err);
			next_ping = now + (int64_t)ping_ms;
		}
	}
	atomic_store(&runner.stop, true);
	pthread_join(duties_thread, NULL);
	node_duties_close(&duties);
	node_server_stop(&server);
	sdnotify_close(&notify);
	conf_close(&c);
	return rv;
}
