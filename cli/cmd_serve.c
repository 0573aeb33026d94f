/* cmd_serve: `pat serve` and `pat gateway`.
 *
 * `pat gateway` accepts mail over SMTP and serves the HTTP API for a cluster it reaches through
 * [gateway] cluster: the schema, the group-commit writer, the SMTP server, the HTTP server.
 * `pat serve` is the same in front of a single-node cluster it runs itself (node 1 in [node]
 * data_dir).
 *
 * Threads: the libuv loop runs SMTP and HTTP; the writer thread commits; HTTP worker threads
 * make the API's store calls; in `pat serve` a duties thread does the node's periodic work
 * (they make blocking calls, which the loop must never make). SIGTERM or SIGINT stops it in
 * order: no new connections, every message and request already received is answered, then the
 * node stops.
 *
 * Under systemd (Type=notify) READY=1 is sent once the schema check reached the leader and both
 * listeners are bound; WATCHDOG=1 comes from a timer on the loop that runs SMTP and HTTP, at
 * half the watchdog interval, so a loop that stops turning stops the pings; STOPPING=1 is sent
 * on the signal. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cli.h"
#include "gateway/api.h"
#include "gateway/http.h"
#include "gateway/gateway_metrics.h"
#include "gateway/ingest.h"
#include "gateway/smtp.h"
#include "gateway/tenants.h"
#include "gateway/tls.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/sdnotify.h"
#include "lib/timeutil.h"
#include "ml/watch.h"
#include "node/duties.h"
#include "node/node_metrics.h"
#include "node/server.h"
#include "node/store.h"
#include "node/writer.h"

struct front {
	const char *who;              /* "pat serve" or "pat gateway", for messages */
	struct smtp_server smtp;
	struct chaos chaos;
	struct http_server http;
	struct writer writer;
	uv_signal_t sigterm, sigint;
	struct sdnotify notify;       /* systemd's notification socket (off without one) */
	uv_timer_t watchdog;          /* WATCHDOG=1 pings, when systemd asks for them */
	bool watchdog_on;
	struct auth_users users;
	struct tenant_map domains;
	SSL_CTX *tls;                 /* STARTTLS, or NULL */
	SSL_CTX *http_tls;            /* HTTPS, or NULL */
	bool duties_wanted;           /* pat serve (a self-signed certificate when none is set) */
	/* pat serve only */
	struct node_duties *duties;
	pthread_t duties_thread;
	volatile bool stopping;
	struct node_server *node;     /* the embedded node, restarted when its writes are stuck */
	struct node_options node_options;
	pthread_mutex_t node_mu;      /* restart against shutdown */
	bool node_down;               /* stopped for good */
	/* the anomaly detector (pat serve with [anomaly] in_serve) */
	pthread_t detector_thread;
	bool detector_running;
	struct watch_options detector;
	char detector_target[96];
	volatile sig_atomic_t detector_stop;
	struct dq_leader detector_audit;  /* the node, whose audit log records the detector's actions */
};

static void *run_detector(void *arg)
{
	struct front *f = arg;
	struct pat_err err;

	if (watch_run(&f->detector, &f->detector_stop, &err) != PAT_OK)
		log_error("the anomaly detector stopped", "error=%s", err.msg);
	return NULL;
}

/* The writer found the embedded node answering every write with a disk I/O error (a dqlite
 * 1.11.1 fault that lasts until the node restarts): restart it. Writer thread. */
static void restart_node(void *data)
{
	struct front *f = data;
	struct pat_err err;

	pthread_mutex_lock(&f->node_mu);
	if (!f->node_down) {
		node_server_stop(f->node);
		if (node_server_start(f->node, &f->node_options, &err) != PAT_OK) {
			log_error("the node did not restart", "error=%s", err.msg);
			f->node_down = true;
		} else {
			log_warn("node restarted after persistent disk I/O errors", "id=%llu", (unsigned long long)f->node->id);
		}
	}
	pthread_mutex_unlock(&f->node_mu);
}

static void *run_duties(void *arg)
{
	struct front *f = arg;

	while (!f->stopping) {
		node_duties_run(f->duties);
		if (f->duties->stuck) {
			f->duties->stuck = false;
			dq_client_close(&f->duties->leader.client);
			restart_node(f);
		}
		for (int i = 0; i < 10 && !f->stopping; i++)
			usleep(100000);
	}
	return NULL;
}

static void on_watchdog(uv_timer_t *t)
{
	struct front *f = t->data;
	struct pat_err err;

	if (sdnotify_send(&f->notify, "WATCHDOG=1", &err) != PAT_OK)
		log_warn("cannot notify systemd", "error=%s", err.msg);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct front *f = h->data;
	struct pat_err err;

	log_info("stopping on signal", "signal=%s", signum == SIGTERM ? "TERM" : "INT");
	sdnotify_send(&f->notify, "STOPPING=1\nSTATUS=stopping: answering what was received", &err);
	if (f->watchdog_on) {
		uv_timer_stop(&f->watchdog);
		uv_close((uv_handle_t *)&f->watchdog, NULL);
		f->watchdog_on = false;
	}
	f->detector_stop = 1;
	uv_signal_stop(&f->sigterm);
	uv_signal_stop(&f->sigint);
	uv_close((uv_handle_t *)&f->sigterm, NULL);
	uv_close((uv_handle_t *)&f->sigint, NULL);
	smtp_server_close(&f->smtp);
	http_server_close(&f->http);
	/* Commit and answer what was received; the answers reach the loop through its wakeup. */
	writer_stop(&f->writer);
}

/* ingest's stored hook: new messages go to the HTTP server's live event streams. */
static void publish_stored(void *data, const char *tenant, const char *id)
{
	http_server_publish(data, tenant, id);
}

/* A whole file (mem_free it), or NULL when it cannot be read in full. */
static char *read_text_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	struct buf b = BUF_INIT;
	int rv;

	if (f == NULL)
		return NULL;
	rv = buf_read_stream(&b, f);
	fclose(f);
	if (rv != PAT_OK) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return buf_detach(&b);
}

/* What both commands check before starting anything. */
static int prepare(struct front *f, const struct pat_settings *s)
{
	struct pat_err err;

	if (http_listen_allowed(s->http.listen, HTTP_AUTH_NONE, s->http.allow_unauthenticated, &err) != PAT_OK) {
		fprintf(stderr, "%s: %s\n", f->who, err.msg);
		return CLI_EXIT_FAILURE;
	}
	if (s->http.tls_cert_file != NULL &&
	    tls_context_from_pem(&f->http_tls, s->http.tls_cert_file, s->http.tls_key.value, s->http.tls_key.len, &err) != PAT_OK) {
		fprintf(stderr, "%s: [http] tls_cert_file %s: %s\n", f->who, s->http.tls_cert_file, err.msg);
		return CLI_EXIT_FAILURE;
	}
	if (s->smtp.tls_cert_file != NULL) {
		if (tls_context_from_pem(&f->tls, s->smtp.tls_cert_file, s->smtp.tls_key.value, s->smtp.tls_key.len, &err) != PAT_OK) {
			fprintf(stderr, "%s: [smtp] tls_cert_file %s: %s\n", f->who, s->smtp.tls_cert_file, err.msg);
			return CLI_EXIT_FAILURE;
		}
	} else if (f->duties_wanted) {
		/* pat serve offers STARTTLS out of the box, with a certificate of its own. */
		char host[256] = "localhost";

		if (s->smtp.hostname != NULL)
			snprintf(host, sizeof host, "%s", s->smtp.hostname);
		else
			gethostname(host, sizeof host - 1);
		if (tls_context_self_signed(&f->tls, host, &err) != PAT_OK) {
			fprintf(stderr, "%s: %s\n", f->who, err.msg);
			return CLI_EXIT_FAILURE;
		}
	}
	if (s->smtp.auth == SMTP_AUTH_USERS &&
	    auth_users_parse(&f->users, s->smtp.users.value, s->smtp.users.len, s->smtp.users.path, &err) != PAT_OK) {
		fprintf(stderr, "%s: [smtp] users_file: %s\n", f->who, err.msg);
		return CLI_EXIT_FAILURE;
	}
	if (s->smtp.tenant_domains_file != NULL) {
		size_t len = 0;
		char *text = read_text_file(s->smtp.tenant_domains_file, &len);

		if (text == NULL || tenant_map_parse(&f->domains, text, len, s->smtp.tenant_domains_file, &err) != PAT_OK) {
			fprintf(stderr, "%s: [smtp] tenant_domains_file: %s\n", f->who, text == NULL ? "cannot read it" : err.msg);
			mem_free(text);
			auth_users_free(&f->users);
			return CLI_EXIT_FAILURE;
		}
		mem_free(text);
	}
	return CLI_EXIT_OK;
}

/* Schema, writer and SMTP in front of the cluster at seeds; runs until a signal stops it. */
static int run_front(struct front *f, const struct pat_settings *s, const char *seeds, const char *region)
{
	uv_loop_t *loop = uv_default_loop();
	char hostname[256] = "localhost";
	struct pat_err err;
	struct ingest in;
	struct api_context api;

	if (s->smtp.hostname != NULL)
		snprintf(hostname, sizeof hostname, "%s", s->smtp.hostname);
	else
		gethostname(hostname, sizeof hostname - 1);
	if (sdnotify_init(&f->notify, &err) != PAT_OK)
		log_warn("systemd notifications off", "error=%s", err.msg);
	ingest_global_init();
	/* Every family is in the registry from the start, so /metrics shows zeros, not gaps. */
	gateway_metrics_build_info(cli_version(), cli_commit());
	node_metrics();
	{
		struct dq_leader l;

		if (dq_leader_init(&l, seeds, NODE_DB, 5000, 30000) != PAT_OK || store_migrate(&l, NULL, &err) != PAT_OK) {
			fprintf(stderr, "%s: cannot prepare the database through %s: %s\n", f->who, seeds,
				err.msg[0] ? err.msg : l.err.msg);
			dq_leader_close(&l);
			return CLI_EXIT_FAILURE;
		}
		dq_leader_close(&l);
	}
	{
		struct writer_options w = { seeds, (size_t)s->store.batch_max_rows, (size_t)s->store.batch_max_bytes,
					    (size_t)s->store.queue_max_bytes, (int)s->store.commit_timeout,
					    (int)s->store.commit_timeout, f->node != NULL ? restart_node : NULL, f };

		if (writer_start(&f->writer, &w, &err) != PAT_OK) {
			fprintf(stderr, "%s: %s\n", f->who, err.msg);
			return CLI_EXIT_FAILURE;
		}
	}
	in = (struct ingest){ .writer = &f->writer, .tenant = s->smtp.tenant, .domains = &f->domains, .hostname = hostname,
			      .region = region, .gateway = hostname };
	chaos_init(&f->chaos, s->smtp.chaos);
	api = (struct api_context){ .hostname = hostname, .relay_timeout_ms = 30000, .ingest = &in, .http = &f->http,
				    .version = cli_version(), .started_ms = time_wall_ms(), .chaos = &f->chaos };
	{
		struct http_options o = {
			.listen = s->http.listen, .tls = f->http_tls, .auth = HTTP_AUTH_NONE,
			.allow_unauthenticated = s->http.allow_unauthenticated, .tenant = s->smtp.tenant,
			.max_body_size = (size_t)s->http.max_body_size, .max_header_size = (size_t)s->http.max_header_size,
			.request_timeout_ms = (uint64_t)s->http.request_timeout, .workers = (unsigned)s->http.workers,
			.seeds = seeds, .db = NODE_DB, .store_timeout_ms = (int)s->store.commit_timeout,
			.routes = api_routes, .n_routes = api_n_routes, .app = &api, .render_event = api_render_event,
		};

		if (http_server_start(&f->http, loop, &o, &err) != PAT_OK) {
			fprintf(stderr, "%s: %s\n", f->who, err.msg);
			writer_stop(&f->writer);
			uv_run(loop, UV_RUN_DEFAULT);
			http_server_free(&f->http);
			return CLI_EXIT_FAILURE;
		}
		in.stored = publish_stored;
		in.stored_data = &f->http;
	}
	{
		struct smtp_options o = {
			.listen = s->smtp.listen, .hostname = hostname, .max_message_size = (size_t)s->smtp.max_message_size,
			.max_recipients = (unsigned)s->smtp.max_recipients, .max_connections = (unsigned)s->smtp.max_connections,
			.max_connections_per_ip = (unsigned)s->smtp.max_connections_per_ip,
			.command_timeout_ms = s->smtp.command_timeout, .data_timeout_ms = s->smtp.data_timeout,
			.auth = s->smtp.auth == SMTP_AUTH_ANY ? SMTP_AUTH_MODE_ANY
				: s->smtp.auth == SMTP_AUTH_USERS ? SMTP_AUTH_MODE_USERS : SMTP_AUTH_MODE_OFF,
			.users = &f->users, .tls = f->tls, .chaos = &f->chaos, .deliver = ingest_deliver,
			.deliver_data = &in,
		};

		if (smtp_server_start(&f->smtp, loop, &o, &err) != PAT_OK) {
			fprintf(stderr, "%s: %s\n", f->who, err.msg);
			http_server_close(&f->http);
			writer_stop(&f->writer);
			uv_run(loop, UV_RUN_DEFAULT);
			http_server_free(&f->http);
			return CLI_EXIT_FAILURE;
		}
	}
	if (f->duties != NULL)
		pthread_create(&f->duties_thread, NULL, run_duties, f);
	uv_signal_init(loop, &f->sigterm);
	uv_signal_init(loop, &f->sigint);
	f->sigterm.data = f->sigint.data = f;
	uv_signal_start(&f->sigterm, on_signal, SIGTERM);
	uv_signal_start(&f->sigint, on_signal, SIGINT);
	if (f->duties_wanted && s->anomaly.in_serve) {
		/* The detector watches this process's own /metrics unless [anomaly] watch names others. */
		snprintf(f->detector_target, sizeof f->detector_target, "http://127.0.0.1:%d/metrics", f->http.port);
		cli_watch_options(s, s->anomaly.watch != NULL ? s->anomaly.watch : f->detector_target, &f->detector);
		if (dq_leader_init(&f->detector_audit, seeds, "pat", 5000, 10000) == PAT_OK) {
			f->detector.sinks.audit = cli_anomaly_audit;
			f->detector.sinks.audit_data = &f->detector_audit;
		} else {
			log_error("the detector's actions will not be audited", "error=%s", f->detector_audit.err.msg);
			dq_leader_close(&f->detector_audit);
		}
		f->detector_running = pthread_create(&f->detector_thread, NULL, run_detector, f) == 0;
		if (!f->detector_running)
			dq_leader_close(&f->detector_audit);
	}
	log_info("ready", "command=%s smtp=%s smtp_port=%d http=%s http_port=%d cluster=%s", f->who, s->smtp.listen,
		 f->smtp.port, f->http.address, f->http.port, seeds);
	{
		uint64_t ping_ms = sdnotify_watchdog_interval_ms(&f->notify);

		if (sdnotify_sendf(&f->notify, &err, "READY=1\nSTATUS=SMTP on port %d, HTTP on port %d, cluster %s",
				   f->smtp.port, f->http.port, seeds) != PAT_OK)
			log_warn("cannot notify systemd", "error=%s", err.msg);
		if (ping_ms > 0) {
			uv_timer_init(loop, &f->watchdog);
			f->watchdog.data = f;
			uv_timer_start(&f->watchdog, on_watchdog, 0, ping_ms);
			f->watchdog_on = true;
		}
	}
	uv_run(loop, UV_RUN_DEFAULT);
	if (f->detector_running) {
		f->detector_stop = 1;
		pthread_join(f->detector_thread, NULL);
		dq_leader_close(&f->detector_audit);
	}
	http_server_free(&f->http);
	if (f->duties != NULL) {
		f->stopping = true;
		pthread_join(f->duties_thread, NULL);
	}
	uv_loop_close(loop);
	return CLI_EXIT_OK;
}

static bool no_arguments(struct cli_args *args)
{
	if (args->n_positional == 0)
		return true;
	fprintf(stderr, "pat %s: unexpected argument '%s' (see 'pat %s --help')\n", args->cmd->name, args->positional[0],
		args->cmd->name);
	return false;
}

int cli_cmd_serve(struct cli_args *args)
{
	static struct front f = { .who = "pat serve", .duties_wanted = true, .node_mu = PTHREAD_MUTEX_INITIALIZER,
				  .notify.fd = -1 };
	static struct node_duties duties;
	struct pat_settings s;
	struct node_server node;
	struct pat_err err;
	struct conf c;
	int rv;

	if (!no_arguments(args))
		return CLI_EXIT_USAGE;
	if ((rv = cli_load_config(args, SETTINGS_ROLE_SERVE, "pat serve", &c, &s)) != CLI_EXIT_OK ||
	    (rv = prepare(&f, &s)) != CLI_EXIT_OK)
		goto out;
	{
		struct node_options o = { .id = NODE_BOOTSTRAP_ID, .address = s.node.address, .data_dir = s.node.data_dir,
					  .region = s.node.region, .joining = false,
					  .snapshot_threshold = (unsigned)s.node.snapshot_threshold,
					  .snapshot_trailing = (unsigned)s.node.snapshot_trailing,
					  .network_latency_ms = (unsigned)s.cluster.network_latency };

		if (node_server_start(&node, &o, &err) != PAT_OK) {
			fprintf(stderr, "pat serve: %s\n", err.msg);
			rv = CLI_EXIT_FAILURE;
			goto out;
		}
		f.node = &node;
		f.node_options = o;
	}
	{
		struct node_duty_options d = { .id = NODE_BOOTSTRAP_ID, .address = s.node.address, .region = s.node.region,
					       .weight = (uint64_t)s.node.weight, .voters = (unsigned)s.cluster.voters,
					       .standbys = (unsigned)s.cluster.standbys };

		node_duties_init(&duties, &d, node.fresh, &err);
	}
	f.duties = &duties;
	rv = run_front(&f, &s, s.node.address, s.node.region);
	node_duties_close(&duties);
	pthread_mutex_lock(&f.node_mu);
	f.node_down = true;
	node_server_stop(&node);
	pthread_mutex_unlock(&f.node_mu);
	if (rv == CLI_EXIT_OK)
		log_info("pat serve stopped", "");
out:
	auth_users_free(&f.users);
	tenant_map_free(&f.domains);
	SSL_CTX_free(f.tls);
	SSL_CTX_free(f.http_tls);
	sdnotify_close(&f.notify);
	conf_close(&c);
	return rv;
}

int cli_cmd_gateway(struct cli_args *args)
{
	static struct front f = { .who = "pat gateway", .notify.fd = -1 };
	struct pat_settings s;
	struct conf c;
	int rv;

	if (!no_arguments(args))
		return CLI_EXIT_USAGE;
	if ((rv = cli_load_config(args, SETTINGS_ROLE_GATEWAY, "pat gateway", &c, &s)) == CLI_EXIT_OK &&
	    (rv = prepare(&f, &s)) == CLI_EXIT_OK) {
		rv = run_front(&f, &s, s.gateway.cluster, s.gateway.region);
		if (rv == CLI_EXIT_OK)
			log_info("pat gateway stopped", "");
	}
	auth_users_free(&f.users);
	tenant_map_free(&f.domains);
	SSL_CTX_free(f.tls);
	SSL_CTX_free(f.http_tls);
	sdnotify_close(&f.notify);
	conf_close(&c);
	return rv;
}
