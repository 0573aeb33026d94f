/* Integration tests of Pat's metrics where they are counted: an SMTP server, the ingest path and
 * the group-commit writer run in this process in front of a real `pat node`, a client talks
 * SMTP to them, and the process registry must show each message, refusal, session, batch and
 * failure exactly where it happened; the whole rendering must pass `promtool check metrics`. */
#include "tests/lib/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "gateway/gateway_metrics.h"
#include "gateway/ingest.h"
#include "gateway/smtp.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/metrics.h"
#include "node/duties.h"
#include "node/node_metrics.h"
#include "node/store.h"
#include "node/writer.h"
#include "tests/lib/cluster.h"
#include "tests/lib/smtp_client.h"

static struct tc_cluster cluster;
static struct writer writer;
static struct smtp_server smtp;
static struct ingest in;
static uv_loop_t loop;
static uv_async_t stop;
static pthread_t loop_thread;

static void on_stop(uv_async_t *a)
{
	smtp_server_close(&smtp);
	uv_close((uv_handle_t *)a, NULL);
}

static void *run_loop(void *arg)
{
	(void)arg;
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

static int setup(void **state)
{
	struct writer_options w = { NULL, 64, 1 << 20, 8 << 20, 1000, 1500, NULL, NULL };
	struct smtp_options o = { .listen = "127.0.0.1:0", .hostname = "pat.test", .max_message_size = 4096,
				  .max_recipients = 2, .max_connections = 16, .max_connections_per_ip = 2,
				  .command_timeout_ms = 10000, .data_timeout_ms = 10000, .auth = SMTP_AUTH_MODE_ANY,
				  .deliver = ingest_deliver, .deliver_data = &in };
	struct dq_leader l;
	struct pat_err err;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	tc_init(&cluster, 1, NULL);
	tc_start(&cluster, 0, NULL);
	if (dq_leader_init(&l, cluster.seeds, NODE_DB, 5000, 20000) != PAT_OK || store_migrate(&l, NULL, &err) != PAT_OK)
		return -1;
	dq_leader_close(&l);
	ingest_global_init();
	w.seeds = cluster.seeds;
	if (writer_start(&writer, &w, &err) != PAT_OK)
		return -1;
	in = (struct ingest){ .writer = &writer, .tenant = "default", .hostname = "pat.test", .region = "eu-west", .gateway = "pat.test" };
	uv_loop_init(&loop);
	uv_async_init(&loop, &stop, on_stop);
	if (smtp_server_start(&smtp, &loop, &o, &err) != PAT_OK)
		return -1;
	return pthread_create(&loop_thread, NULL, run_loop, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	uv_async_send(&stop);
	pthread_join(loop_thread, NULL);
	writer_stop(&writer);
	uv_loop_close(&loop);
	tc_close(&cluster);
	return 0;
}

/* Every command must go out whole. */
#define SEND(c, s) assert_true(smtp_send((c), (s)))

/* The session count drops when the server has closed the session, a moment after QUIT. */
static void wait_sessions(double want)
{
	for (int i = 0; i < 500 && metric_value(gateway_metrics()->sessions) != want; i++)
		usleep(10000);
	assert_true(metric_value(gateway_metrics()->sessions) == want);
}

static double rejections(enum gateway_rejection r)
{
	return metric_value(gateway_metrics()->rejections[r]);
}

static void promtool_accepts_everything(void)
{
	const char *argv[] = { "promtool", "check", "metrics", NULL };
	struct buf out = BUF_INIT;
	struct tu_proc p;

	assert_int_equal(metrics_render(&out), PAT_OK);
	tu_run(&p, argv, NULL, buf_str(&out));
	if (p.status != 0 || p.out[0] != '\0' || p.err[0] != '\0')
		fail_msg("promtool (status %d) said:\n%s%s\non:\n%s", p.status, p.out, p.err, buf_str(&out));
	tu_proc_free(&p);
	buf_free(&out);
}

/* ---- tests ---- */

static void messages_and_sessions_are_counted(void **state)
{
	const struct gateway_metrics *g = gateway_metrics();
	const struct node_metrics *n = node_metrics();
	struct metric *received = metrics_with(g->received, "default", "eu-west");
	double before = metric_value(received), connections = metric_value(g->connections);
	uint64_t processed = metric_count(g->processing), batches = metric_count(n->batch_rows);
	double rows = metric_value(n->batch_rows), failures = metric_value(n->commit_failures);
	struct smtp_conn c;

	(void)state;
	wait_sessions(0);
	smtp_hello(&c, smtp.port);
	assert_true(metric_value(g->sessions) == 1);
	for (int i = 0; i < 3; i++) {
		SEND(&c, "MAIL FROM:<app@example.com>\r\nRCPT TO:<qa@example.com>\r\nDATA\r\n");
		smtp_expect(&c, "250 2.1.0");
		smtp_expect(&c, "250 2.1.5");
		smtp_expect(&c, "354 ");
		SEND(&c, "Subject: counted\r\n\r\nhello\r\n.\r\n");
		smtp_expect(&c, "250 2.0.0 Ok: queued as ");
	}
	SEND(&c, "QUIT\r\n");
	smtp_expect(&c, "221 ");
	smtp_close(&c);
	wait_sessions(0);
	assert_true(metric_value(received) == before + 3);
	assert_true(metric_value(g->connections) == connections + 1);
	assert_int_equal(metric_count(g->processing), processed + 3);
	/* Every message went through a committed batch. */
	assert_true(metric_value(n->batch_rows) == rows + 3);
	assert_true(metric_count(n->batch_rows) > batches);
	assert_int_equal(metric_count(n->commit_seconds), metric_count(n->batch_rows));
	assert_true(metric_value(n->commit_failures) == failures);
	assert_true(metric_value(n->queue_messages) == 0);
	assert_true(metric_value(n->queue_bytes) == 0);
	promtool_accepts_everything();
}

static void refusals_are_counted_by_reason(void **state)
{
	double size = rejections(GATEWAY_REJECT_SIZE), rcpt = rejections(GATEWAY_REJECT_RECIPIENTS);
	double syntax = rejections(GATEWAY_REJECT_SYNTAX), auth = rejections(GATEWAY_REJECT_AUTH);
	double limits = rejections(GATEWAY_REJECT_LIMITS), connections = metric_value(gateway_metrics()->connections);
	struct smtp_conn a, b, c;
	char big[6000];

	(void)state;
	wait_sessions(0);
	smtp_hello(&a, smtp.port);
	SEND(&a, "MAIL FROM:<app@example.com> SIZE=100000\r\n");
	smtp_expect(&a, "552 5.3.4");
	SEND(&a, "MAIL FROM:<app@example.com>\r\n");
	smtp_expect(&a, "250 ");
	SEND(&a, "RCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n");
	smtp_expect(&a, "250 ");
	smtp_expect(&a, "250 ");
	smtp_expect(&a, "452 4.5.3");
	SEND(&a, "DATA\r\n");
	smtp_expect(&a, "354 ");
	memset(big, 'x', sizeof big - 8);
	memcpy(big + sizeof big - 8, "\r\n.\r\n", 6);
	SEND(&a, big); /* larger than max_message_size */
	smtp_expect(&a, "552 5.3.4");
	SEND(&a, "FROB\r\nMAIL FROM:broken\r\n");
	smtp_expect(&a, "500 ");
	smtp_expect(&a, "501 ");
	SEND(&a, "AUTH PLAIN\r\n*\r\n");
	smtp_expect(&a, "334");
	smtp_expect(&a, "501 5.7.0");
	/* Two sessions from this address at most: the third is refused. */
	smtp_hello(&b, smtp.port);
	smtp_open(&c, smtp.port);
	smtp_expect(&c, "421 4.7.0");
	smtp_close(&c);
	assert_true(rejections(GATEWAY_REJECT_SIZE) == size + 2);
	assert_true(rejections(GATEWAY_REJECT_RECIPIENTS) == rcpt + 1);
	assert_true(rejections(GATEWAY_REJECT_SYNTAX) == syntax + 2);
	assert_true(rejections(GATEWAY_REJECT_AUTH) == auth + 1);
	assert_true(rejections(GATEWAY_REJECT_LIMITS) == limits + 1);
	assert_true(metric_value(gateway_metrics()->connections) == connections + 3);
	smtp_close(&a);
	smtp_close(&b);
	wait_sessions(0);
}

static void the_leader_reports_the_cluster(void **state)
{
	struct dq_leader l;
	const struct node_metrics *n = node_metrics();

	(void)state;
	assert_int_equal(dq_leader_init(&l, cluster.nodes[0].address, NODE_DB, 5000, 5000), PAT_OK);
	assert_true(node_roles_adjust(&l, 1, 3, 3) >= 0);
	dq_leader_close(&l);
	assert_true(metric_value(n->leader) == 1);
	assert_true(metric_value(n->members[0]) == 1); /* one voter, itself */
	/* Asked as another node, it is not the leader. */
	assert_int_equal(dq_leader_init(&l, cluster.nodes[0].address, NODE_DB, 5000, 5000), PAT_OK);
	assert_int_equal(node_roles_adjust(&l, 2, 3, 3), 0);
	dq_leader_close(&l);
	assert_true(metric_value(n->leader) == 0);
	assert_true(metric_value(n->members[0]) == 0);
}

/* Last: with the node gone, the commit fails, the message is answered 451 and counted. */
static void failed_commits_are_counted(void **state)
{
	const struct gateway_metrics *g = gateway_metrics();
	const struct node_metrics *n = node_metrics();
	double failed = metric_value(g->failed), failures = metric_value(n->commit_failures);
	uint64_t processed = metric_count(g->processing);
	struct smtp_conn c;

	(void)state;
	tc_stop(&cluster, 0, SIGKILL);
	smtp_hello(&c, smtp.port);
	SEND(&c, "MAIL FROM:<app@example.com>\r\nRCPT TO:<qa@example.com>\r\nDATA\r\n");
	smtp_expect(&c, "250 ");
	smtp_expect(&c, "250 ");
	smtp_expect(&c, "354 ");
	SEND(&c, "Subject: lost\r\n\r\nhello\r\n.\r\n");
	smtp_expect(&c, "451 4.3.0");
	smtp_close(&c);
	assert_true(metric_value(g->failed) == failed + 1);
	assert_true(metric_value(n->commit_failures) >= failures + 1);
	assert_int_equal(metric_count(g->processing), processed); /* only 250s are timed */
	assert_true(metric_value(n->queue_messages) == 0);
	wait_sessions(0);
	promtool_accepts_everything();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(messages_and_sessions_are_counted),
		cmocka_unit_test(refusals_are_counted_by_reason),
		cmocka_unit_test(the_leader_reports_the_cluster),
		cmocka_unit_test(failed_commits_are_counted),
	};
	return cmocka_run_group_tests_name("instrumentation", tests, setup, teardown);
}
