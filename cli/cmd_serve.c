/* cmd_serve: `pat serve`, a complete Pat in one process: a single-node cluster (node 1 in
 * [node] data_dir), the schema, the group-commit writer and the SMTP gateway.
 *
 * Threads: the libuv loop runs SMTP; the writer thread commits; a duties thread does the
 * node's periodic work (it makes blocking calls, which the loop must never make). SIGTERM or
 * SIGINT stops it in order: no new connections, every message already received is committed
 * and answered, then the node stops. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cli.h"
#include "gateway/ingest.h"
#include "gateway/smtp.h"
#include "gateway/tenants.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/log.h"
#include "node/duties.h"
#include "node/server.h"
#include "node/store.h"
#include "node/writer.h"

struct serve {
	struct node_duties duties;
	pthread_t duties_thread;
	volatile bool stopping;
	struct smtp_server smtp;
	struct writer writer;
	uv_signal_t sigterm, sigint;
};

static void *run_duties(void *arg)
{
	struct serve *sv = arg;

	while (!sv->stopping) {
		node_duties_run(&sv->duties);
		for (int i = 0; i < 10 && !sv->stopping; i++)
			usleep(100000);
	}
	return NULL;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct serve *sv = h->data;

	log_info("stopping on signal", "signal=%s", signum == SIGTERM ? "TERM" : "INT");
	uv_signal_stop(&sv->sigterm);
	uv_signal_stop(&sv->sigint);
	uv_close((uv_handle_t *)&sv->sigterm, NULL);
	uv_close((uv_handle_t *)&sv->sigint, NULL);
	smtp_server_close(&sv->smtp);
	/* Commit and answer what was received; the answers reach the loop through its wakeup. */
	writer_stop(&sv->writer);
}

int cli_cmd_serve(struct cli_args *args)
{
	static struct serve sv;
	struct pat_settings s;
	struct node_server node;
	struct pat_err err;
	struct conf c;
	struct ingest in;
	char hostname[256] = "localhost";
	uv_loop_t *loop = uv_default_loop();
	int rv;

	if (args->n_positional > 0) {
		fprintf(stderr, "pat serve: unexpected argument '%s' (see 'pat serve --help')\n", args->positional[0]);
		return CLI_EXIT_USAGE;
	}
	if ((rv = cli_load_config(args, SETTINGS_ROLE_SERVE, "pat serve", &c, &s)) != CLI_EXIT_OK) {
		conf_close(&c);
		return rv;
	}
	static struct auth_users users;
	static struct tenant_map domains;

	if (s.smtp.auth == SMTP_AUTH_USERS &&
	    auth_users_parse(&users, s.smtp.users.value, s.smtp.users.len, s.smtp.users.path, &err) != PAT_OK) {
		fprintf(stderr, "pat serve: [smtp] users_file: %s\n", err.msg);
		conf_close(&c);
		return CLI_EXIT_FAILURE;
	}
	if (s.smtp.tenant_domains_file != NULL) {
		char *text;
		size_t len = 0;
		FILE *f = fopen(s.smtp.tenant_domains_file, "r");

		text = NULL;
		if (f != NULL) {
			size_t cap = 0;
			ssize_t r;
			char *line = NULL;
			struct buf b = BUF_INIT;

			while ((r = getline(&line, &cap, f)) >= 0)
				buf_append(&b, line, (size_t)r);
			free(line);
			fclose(f);
			len = b.len;
			text = buf_detach(&b);
		}
		if (text == NULL || tenant_map_parse(&domains, text, len, s.smtp.tenant_domains_file, &err) != PAT_OK) {
			fprintf(stderr, "pat serve: [smtp] tenant_domains_file: %s\n", text == NULL ? "cannot read it" : err.msg);
			mem_free(text);
			auth_users_free(&users);
			conf_close(&c);
			return CLI_EXIT_FAILURE;
		}
		mem_free(text);
	}
	if (s.smtp.tls_cert_file != NULL) {
		fprintf(stderr, "pat serve: STARTTLS ([smtp] tls_cert_file) is not available in this build of Pat yet\n");
		conf_close(&c);
		return CLI_EXIT_FAILURE;
	}
	if (s.smtp.hostname != NULL)
		snprintf(hostname, sizeof hostname, "%s", s.smtp.hostname);
	else
		gethostname(hostname, sizeof hostname - 1);
	ingest_global_init();

	{
		struct node_options o = { .id = NODE_BOOTSTRAP_ID, .address = s.node.address, .data_dir = s.node.data_dir,
					  .region = s.node.region, .joining = false };

		if (node_server_start(&node, &o, &err) != PAT_OK) {
			fprintf(stderr, "pat serve: %s\n", err.msg);
			conf_close(&c);
			return CLI_EXIT_FAILURE;
		}
	}
	{
		struct node_duty_options d = { .id = NODE_BOOTSTRAP_ID, .address = s.node.address, .region = s.node.region,
					       .weight = (uint64_t)s.node.weight, .voters = (unsigned)s.cluster.voters,
					       .standbys = (unsigned)s.cluster.standbys };

		node_duties_init(&sv.duties, &d, node.fresh, &err);
	}
	{
		struct dq_leader l;

		if (dq_leader_init(&l, s.node.address, NODE_DB, 5000, 30000) != PAT_OK || store_migrate(&l, NULL, &err) != PAT_OK) {
			fprintf(stderr, "pat serve: cannot prepare the database: %s\n", err.msg[0] ? err.msg : l.err.msg);
			dq_leader_close(&l);
			node_duties_close(&sv.duties);
			node_server_stop(&node);
			conf_close(&c);
			return CLI_EXIT_FAILURE;
		}
		dq_leader_close(&l);
	}
	{
		struct writer_options w = { s.node.address, (size_t)s.store.batch_max_rows, (size_t)s.store.batch_max_bytes,
					    (size_t)s.store.queue_max_bytes, (int)s.store.commit_timeout,
					    (int)s.store.commit_timeout };

		if (writer_start(&sv.writer, &w, &err) != PAT_OK) {
			fprintf(stderr, "pat serve: %s\n", err.msg);
			node_duties_close(&sv.duties);
			node_server_stop(&node);
			conf_close(&c);
			return CLI_EXIT_FAILURE;
		}
	}
	in = (struct ingest){ &sv.writer, s.smtp.tenant, &domains, hostname, s.node.region, hostname };
	{
		struct smtp_options o = {
			.listen = s.smtp.listen, .hostname = hostname, .max_message_size = (size_t)s.smtp.max_message_size,
			.max_recipients = (unsigned)s.smtp.max_recipients, .max_connections = (unsigned)s.smtp.max_connections,
			.max_connections_per_ip = (unsigned)s.smtp.max_connections_per_ip,
			.command_timeout_ms = s.smtp.command_timeout, .data_timeout_ms = s.smtp.data_timeout,
			.auth = s.smtp.auth == SMTP_AUTH_ANY ? SMTP_AUTH_MODE_ANY
				: s.smtp.auth == SMTP_AUTH_USERS ? SMTP_AUTH_MODE_USERS : SMTP_AUTH_MODE_OFF,
			.users = &users,
			.deliver = ingest_deliver, .deliver_data = &in,
		};

		if (smtp_server_start(&sv.smtp, loop, &o, &err) != PAT_OK) {
			fprintf(stderr, "pat serve: %s\n", err.msg);
			writer_stop(&sv.writer);
			node_duties_close(&sv.duties);
			node_server_stop(&node);
			conf_close(&c);
			return CLI_EXIT_FAILURE;
		}
	}
	pthread_create(&sv.duties_thread, NULL, run_duties, &sv);
	uv_signal_init(loop, &sv.sigterm);
	uv_signal_init(loop, &sv.sigint);
	sv.sigterm.data = sv.sigint.data = &sv;
	uv_signal_start(&sv.sigterm, on_signal, SIGTERM);
	uv_signal_start(&sv.sigint, on_signal, SIGINT);
	log_info("pat serve ready", "smtp=%s smtp_port=%d node=%s data_dir=%s http=not-in-this-build",
		 s.smtp.listen, sv.smtp.port, s.node.address, s.node.data_dir);
	uv_run(loop, UV_RUN_DEFAULT);
	sv.stopping = true;
	pthread_join(sv.duties_thread, NULL);
	node_duties_close(&sv.duties);
	node_server_stop(&node);
	uv_loop_close(loop);
	auth_users_free(&users);
	tenant_map_free(&domains);
	conf_close(&c);
	log_info("pat serve stopped", "");
	return CLI_EXIT_OK;
}
