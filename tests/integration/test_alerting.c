/* Integration tests of the anomaly sinks and of `pat anomaly watch` against a real Alertmanager
 * (Debian's prometheus-alertmanager 0.25) on loopback: an anomaly arrives with the right labels
 * and annotations (GET /api/v2/alerts); a refused POST is not retried, an unreachable one is;
 * a scaling hook receives the record on stdin once, and rate-limiting suppresses a second run of
 * the same kind; a hook that hangs is killed. `pat anomaly watch` scrapes a gateway's metrics
 * (replayed from a file that a thread keeps rewriting, so the rates are exact), learns the
 * calm, and alerts on a traffic spike; and the detector inside a real `pat serve`, fed real
 * SMTP by `pat load`, does the same. */
#include "tests/lib/testutil.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "consensus/leader.h"
#include "node/store.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "ml/detector.h"
#include "ml/sinks.h"
#include "ml/watch.h"

#define ALERTMANAGER "/usr/bin/prometheus-alertmanager"

static char *dir, am_url[64];
static pid_t am_pid;

static int setup(void **state)
{
	char config[4200], storage[4200], listen[64], log_path[4200];
	int port = tu_free_port();
	char *path;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	dir = tu_mkdtemp();
	path = tu_write_file(dir, "alertmanager.yml", "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n");
	snprintf(config, sizeof config, "--config.file=%s", path);
	free(path);
	snprintf(storage, sizeof storage, "--storage.path=%s/am-data", dir);
	snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
	snprintf(log_path, sizeof log_path, "%s/alertmanager.log", dir);
	snprintf(am_url, sizeof am_url, "http://127.0.0.1:%d", port);
	{
		const char *argv[] = { ALERTMANAGER, config, storage, listen, "--cluster.listen-address=", NULL };

		am_pid = tu_spawn(argv, NULL, log_path);
	}
	if (!tu_wait_port(port, 30000))
		return -1;
	for (int i = 0; i < 300; i++) { /* listening is not ready: wait for /-/ready */
		struct buf b = BUF_INIT;
		struct pat_err err;
		char url[128];
		int rv;

		snprintf(url, sizeof url, "%s/-/ready", am_url);
		rv = watch_scrape(url, 1000, &b, &err);
		buf_free(&b);
		if (rv == PAT_OK)
			return 0;
		usleep(100000);
	}
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	if (am_pid > 0)
		tu_stop(am_pid, SIGTERM);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* Alertmanager's alerts. */
static json_t *alerts(void)
{
	struct buf b = BUF_INIT;
	struct pat_err err;
	char url[128];
	json_t *doc;

	snprintf(url, sizeof url, "%s/api/v2/alerts", am_url);
	assert_int_equal(watch_scrape(url, 5000, &b, &err), PAT_OK);
	doc = json_loads(buf_str(&b), 0, NULL);
	buf_free(&b);
	assert_non_null(doc);
	assert_true(json_is_array(doc));
	return doc;
}

/* The alert with these labels, or NULL. */
static json_t *find_alert(json_t *list, const char *kind, const char *instance)
{
	size_t i;
	json_t *a;

	json_array_foreach(list, i, a) {
		json_t *labels = json_object_get(a, "labels");
		const char *k = json_string_value(json_object_get(labels, "kind"));
		const char *in = json_string_value(json_object_get(labels, "instance"));

		if (k != NULL && in != NULL && strcmp(k, kind) == 0 && strcmp(in, instance) == 0)
			return a;
	}
	return NULL;
}

static struct anomaly sample_anomaly(enum anomaly_kind kind)
{
	struct anomaly a = { .kind = kind, .score = 0.71, .critical = false, .baseline_windows = 360 };

	a.window.end_ms = time_wall_ms();
	a.window.seconds = 10;
	for (int f = 0; f < WINDOW_FEATURES; f++) {
		a.window.f[f] = 1 + f;
		a.baseline[f] = 1 + f;
	}
	a.window.f[WINDOW_QUEUE] = 900;
	a.deviation[WINDOW_QUEUE] = 11.5;
	return a;
}

static void an_anomaly_reaches_alertmanager_with_its_labels(void **state)
{
	struct sink_options o = { .alertmanager_url = am_url };
	struct anomaly a = sample_anomaly(ANOMALY_QUEUE);
	struct sinks s;
	json_t *list, *alert, *labels, *annotations;

	(void)state;
	sinks_init(&s, &o);
	assert_int_equal(sinks_dispatch(&s, &a, "gw-1.test:8025", time_mono_ms()), 0);
	list = alerts();
	alert = find_alert(list, "queue_growth", "gw-1.test:8025");
	assert_non_null(alert);
	labels = json_object_get(alert, "labels");
	assert_string_equal(json_string_value(json_object_get(labels, "alertname")), "PatAnomaly");
	assert_string_equal(json_string_value(json_object_get(labels, "severity")), "warning");
	annotations = json_object_get(alert, "annotations");
	assert_contains(json_string_value(json_object_get(annotations, "summary")),
			"queue growth on gw-1.test:8025: queue_messages 900 messages against a baseline of 5 messages");
	assert_contains(json_string_value(json_object_get(annotations, "description")), "queue_messages=900 (baseline 5, deviation 11.5);");
	assert_string_equal(json_string_value(json_object_get(json_object_get(alert, "status"), "state")), "active");
	json_decref(list);
}

static void refused_posts_are_not_retried_and_lost_ones_are(void **state)
{
	struct sink_options o = { .retries = 2, .backoff_ms = 20, .timeout_ms = 2000 };
	struct pat_err err;
	char url[128];
	long status;

	(void)state;
	snprintf(url, sizeof url, "%s/api/v2/alerts", am_url);
	/* Alertmanager refuses an alert without labels: 400, and no second try. */
	assert_int_equal(sink_post_json(url, "[{\"labels\":{}}]", &o, &status, &err), PAT_EREMOTE);
	assert_int_equal(status, 400);
	assert_contains(err.msg, "HTTP status 400");
	/* Nobody listens: every attempt fails. */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v2/alerts", tu_free_port());
	assert_int_equal(sink_post_json(url, "[]", &o, &status, &err), PAT_EIO);
	assert_int_equal(status, 0);
	assert_contains(err.msg, "POST http://127.0.0.1:");
}

static char *hook_script(const char *name, const char *body)
{
	char *path = tu_write_file(dir, name, body);

	chmod(path, 0700);
	return path;
}

static void a_hook_gets_the_record_once_per_interval(void **state)
{
	char script[9000], out[4200], *hook, *text;
	struct sink_options o = { .hook_min_interval_ms = 3600 * 1000 };
	struct anomaly spike = sample_anomaly(ANOMALY_TRAFFIC_SPIKE), queue = sample_anomaly(ANOMALY_QUEUE);
	struct sinks s;
	json_t *doc;
	int64_t now = time_mono_ms();

	(void)state;
	snprintf(out, sizeof out, "%s/hook.out", dir);
	snprintf(script, sizeof script, "#!/bin/sh\ncat >> '%s'\necho \" kind=$PAT_ANOMALY_KIND\" >> '%s'\n", out, out);
	hook = hook_script("hook.sh", script);
	o.hook_command = hook;
	sinks_init(&s, &o);
	assert_int_equal(sinks_dispatch(&s, &spike, "gw-1.test:8025", now), 0);
	assert_int_equal(sinks_dispatch(&s, &spike, "gw-1.test:8025", now + 1000), 0); /* suppressed */
	assert_int_equal(s.hooks_run, 1);
	assert_int_equal(s.hooks_suppressed, 1);
	text = tu_read_file(out, NULL);
	assert_non_null(text);
	/* One record, then the kind from the environment. */
	assert_non_null(strstr(text, " kind=traffic_spike\n"));
	*strstr(text, " kind=traffic_spike\n") = '\0';
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")), "traffic_spike");
	assert_string_equal(json_string_value(json_object_get(doc, "instance")), "gw-1.test:8025");
	assert_true(json_real_value(json_object_get(json_object_get(doc, "features"), "queue_messages")) == 900);
	json_decref(doc);
	free(text);
	/* Another kind is not held back by the first; the same kind is again once the interval passed. */
	assert_int_equal(sinks_dispatch(&s, &queue, "gw-1.test:8025", now + 2000), 0);
	assert_int_equal(sinks_dispatch(&s, &spike, "gw-1.test:8025", now + 3600 * 1000 + 1), 0);
	assert_int_equal(s.hooks_run, 3);
	text = tu_read_file(out, NULL);
	assert_non_null(strstr(text, " kind=queue_growth\n"));
	assert_non_null(strstr(strstr(text, " kind=queue_growth\n"), " kind=traffic_spike\n"));
	free(text);
	free(hook);
}

static void hooks_that_fail_or_hang_are_reported(void **state)
{
	char *hang = hook_script("hang.sh", "#!/bin/sh\nexec sleep 30\n");
	char *fails = hook_script("fails.sh", "#!/bin/sh\ncat > /dev/null\nexit 3\n");
	char *deaf = hook_script("deaf.sh", "#!/bin/sh\nexit 0\n");
	char missing[4200], big[200000];
	struct pat_err err;
	int status;

	(void)state;
	assert_int_equal(sink_run_hook(hang, "{}", NULL, 300, &status, &err), PAT_ETIMEDOUT);
	assert_int_equal(status, 128 + SIGKILL);
	assert_contains(err.msg, "did not finish within 300 ms; killed");
	assert_int_equal(sink_run_hook(fails, "{}", "queue_growth", 5000, &status, &err), PAT_OK);
	assert_int_equal(status, 3);
	snprintf(missing, sizeof missing, "%s/no-such-hook", dir);
	assert_int_equal(sink_run_hook(missing, "{}", NULL, 5000, &status, &err), PAT_EIO);
	assert_int_equal(status, 127);
	/* A hook that exits without reading a large record does not hurt us (no SIGPIPE). */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(sink_run_hook(deaf, big, NULL, 5000, &status, &err), PAT_OK);
	assert_int_equal(status, 0);
	free(hang);
	free(fails);
	free(deaf);
}

/* ---- pat anomaly watch, end to end ---- */

static atomic_bool replaying;
static atomic_int rate = 200; /* messages per second the replayed gateway takes */
static atomic_bool slow;      /* its accept latency degraded: messages take 1 to 10 s */

/* Rewrite the gateway's metrics every 20 ms: counters grow with time, at `rate`; normally 90%
 * of messages are accepted within 10 ms and the rest within 100 ms. */
static void *replay(void *arg)
{
	const char *path = arg;
	char tmp[4200];
	double received = 0, le_001 = 0, le_01 = 0, le_10 = 0, sum = 0;
	int64_t last = time_mono_ms();

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	while (atomic_load(&replaying)) {
		int64_t now = time_mono_ms();
		double n = atomic_load(&rate) * (double)(now - last) / 1000.0;
		FILE *f;

		received += n;
		if (atomic_load(&slow)) {
			le_10 += n;
			sum += n * 5;
		} else {
			le_001 += n * 0.9;
			le_01 += n * 0.1;
			sum += n * 0.01;
		}
		last = now;
		f = fopen(tmp, "w");
		if (f == NULL)
			break;
		/* Each sample stamped with when it was written, so that a replay thread the
		 * scheduler held back for a moment is not read as a drop in traffic. */
		long long ts = (long long)time_wall_ms();

		fprintf(f, "# HELP pat_smtp_connections_total x\n# TYPE pat_smtp_connections_total counter\n"
			   "pat_smtp_connections_total %.0f %lld\n"
			   "# HELP pat_emails_received_total x\n# TYPE pat_emails_received_total counter\n"
			   "pat_emails_received_total{tenant=\"default\",region=\"local\"} %.0f %lld\n"
			   "# HELP pat_smtp_rejections_total x\n# TYPE pat_smtp_rejections_total counter\n"
			   "pat_smtp_rejections_total{reason=\"size\"} %.0f %lld\n"
			   "# HELP pat_email_processing_duration_seconds x\n# TYPE pat_email_processing_duration_seconds histogram\n"
			   "pat_email_processing_duration_seconds_bucket{le=\"0.01\"} %.0f %lld\n"
			   "pat_email_processing_duration_seconds_bucket{le=\"0.1\"} %.0f %lld\n"
			   "pat_email_processing_duration_seconds_bucket{le=\"1\"} %.0f %lld\n"
			   "pat_email_processing_duration_seconds_bucket{le=\"10\"} %.0f %lld\n"
			   "pat_email_processing_duration_seconds_bucket{le=\"+Inf\"} %.0f %lld\n"
			   "pat_email_processing_duration_seconds_sum %.3f %lld\n"
			   "pat_email_processing_duration_seconds_count %.0f %lld\n"
			   "# HELP pat_store_queue_messages x\n# TYPE pat_store_queue_messages gauge\n"
			   "pat_store_queue_messages 2 %lld\n",
			received / 10, ts, received, ts, received / 100, ts, le_001, ts, le_001 + le_01, ts, le_001 + le_01, ts,
			le_001 + le_01 + le_10, ts, le_001 + le_01 + le_10, ts, sum, ts, le_001 + le_01 + le_10, ts, ts);
		fclose(f);
		rename(tmp, path);
		usleep(20000);
	}
	return NULL;
}

static void watch_alerts_on_a_traffic_spike(void **state)
{
	char metrics[4200], url[4300], hook_out[4200], script[9000], log_path[4200], *hook, *text = NULL;
	char am_set[128], hook_set[4300];
	pthread_t thread;
	pid_t pid;
	json_t *list = NULL, *alert = NULL;

	(void)state;
	snprintf(metrics, sizeof metrics, "%s/gateway.metrics", dir);
	snprintf(url, sizeof url, "anomaly.watch=file://%s", metrics);
	snprintf(hook_out, sizeof hook_out, "%s/watch-hook.out", dir);
	snprintf(script, sizeof script, "#!/bin/sh\ncat >> '%s'\necho >> '%s'\n", hook_out, hook_out);
	hook = hook_script("watch-hook.sh", script);
	snprintf(am_set, sizeof am_set, "anomaly.alertmanager_url=%s", am_url);
	snprintf(hook_set, sizeof hook_set, "anomaly.hook_command=%s", hook);
	snprintf(log_path, sizeof log_path, "%s/watch.log", dir);
	atomic_store(&replaying, true);
	assert_int_equal(pthread_create(&thread, NULL, replay, metrics), 0);
	usleep(100000);
	{
		const char *argv[] = { tu_pat_bin(), "anomaly", "watch", "--set", url, "--set", "anomaly.interval=200ms",
				       "--set", "anomaly.baseline_windows=60", "--set", "anomaly.retrain_interval=2s",
				       "--set", am_set, "--set", hook_set, "--set", "anomaly.hook_min_interval=1h", NULL };

		pid = tu_spawn(argv, NULL, log_path);
	}
	sleep(9); /* 30 windows to learn from, and a few scored */
	atomic_store(&rate, 3000);
	for (int i = 0; i < 100 && alert == NULL; i++) {
		usleep(100000);
		json_decref(list);
		list = alerts();
		alert = find_alert(list, "traffic_spike", metrics);
	}
	sleep(1); /* a second anomalous window: alerted again, but the hook is not run again */
	assert_int_equal(tu_stop(pid, SIGTERM), 0);
	atomic_store(&replaying, false);
	pthread_join(thread, NULL);
	if (alert == NULL) {
		char *log = tu_read_file(log_path, NULL);

		fail_msg("no traffic_spike alert; pat anomaly watch said:\n%s", log ? log : "");
	}
	assert_string_equal(json_string_value(json_object_get(json_object_get(alert, "labels"), "alertname")), "PatAnomaly");
	json_decref(list);
	text = tu_read_file(hook_out, NULL);
	assert_non_null(text);
	assert_contains(text, "\"kind\":\"traffic_spike\"");
	assert_null(strstr(strstr(text, "\"kind\":\"traffic_spike\"") + 1, "\"kind\":\"traffic_spike\""));
	free(text);
	text = tu_read_file(log_path, NULL);
	assert_contains(text, "msg=\"alert delivered\" sink=alertmanager");
	assert_contains(text, "msg=\"scaling hook ran\"");
	/* The calm raised nothing, and the spike was not taken for something else. */
	assert_not_contains(text, "kind=traffic_drop");
	assert_not_contains(text, "kind=latency_degradation");
	assert_not_contains(text, "kind=error_rate_increase");
	assert_not_contains(text, "kind=queue_growth");
	free(text);
	free(hook);
}

/* An injected latency degradation (the replayed gateway's messages now take seconds) is one
 * latency_degradation alert, and one hook run, and nothing else. */
static void watch_alerts_on_latency_degradation(void **state)
{
	char metrics[4200], url[4300], hook_out[4200], script[9000], log_path[4200], *hook, *text = NULL;
	char am_set[128], hook_set[4300];
	pthread_t thread;
	pid_t pid;
	json_t *list = NULL, *alert = NULL;

	(void)state;
	snprintf(metrics, sizeof metrics, "%s/slow-gateway.metrics", dir);
	snprintf(url, sizeof url, "anomaly.watch=file://%s", metrics);
	snprintf(hook_out, sizeof hook_out, "%s/slow-hook.out", dir);
	snprintf(script, sizeof script, "#!/bin/sh\ncat >> '%s'\necho >> '%s'\n", hook_out, hook_out);
	hook = hook_script("slow-hook.sh", script);
	snprintf(am_set, sizeof am_set, "anomaly.alertmanager_url=%s", am_url);
	snprintf(hook_set, sizeof hook_set, "anomaly.hook_command=%s", hook);
	snprintf(log_path, sizeof log_path, "%s/slow-watch.log", dir);
	atomic_store(&rate, 200);
	atomic_store(&slow, false);
	atomic_store(&replaying, true);
	assert_int_equal(pthread_create(&thread, NULL, replay, metrics), 0);
	usleep(100000);
	{
		const char *argv[] = { tu_pat_bin(), "anomaly", "watch", "--set", url, "--set", "anomaly.interval=200ms",
				       "--set", "anomaly.baseline_windows=60", "--set", "anomaly.retrain_interval=2s",
				       "--set", am_set, "--set", hook_set, "--set", "anomaly.hook_min_interval=1h", NULL };

		pid = tu_spawn(argv, NULL, log_path);
	}
	sleep(9); /* the calm */
	list = alerts();
	assert_null(find_alert(list, "latency_degradation", metrics));
	json_decref(list);
	list = NULL;
	atomic_store(&slow, true);
	for (int i = 0; i < 100 && alert == NULL; i++) {
		usleep(100000);
		json_decref(list);
		list = alerts();
		alert = find_alert(list, "latency_degradation", metrics);
	}
	sleep(1); /* a second slow window: the hook is not run again */
	assert_int_equal(tu_stop(pid, SIGTERM), 0);
	atomic_store(&replaying, false);
	pthread_join(thread, NULL);
	if (alert == NULL) {
		char *log = tu_read_file(log_path, NULL);

		fail_msg("no latency_degradation alert; pat anomaly watch said:\n%s", log ? log : "");
	}
	json_decref(list);
	text = tu_read_file(hook_out, NULL);
	assert_non_null(text);
	assert_contains(text, "\"kind\":\"latency_degradation\"");
	assert_null(strstr(strstr(text, "\"kind\":\"latency_degradation\"") + 1, "\"kind\":\"latency_degradation\""));
	free(text);
	text = tu_read_file(log_path, NULL);
	assert_contains(text, "msg=\"scaling hook ran\"");
	assert_not_contains(text, "kind=traffic_spike");
	assert_not_contains(text, "kind=traffic_drop");
	assert_not_contains(text, "kind=error_rate_increase");
	free(text);
	free(hook);
}

/* The detector inside a real `pat serve`, on its own /metrics, fed by real SMTP: a calm flow
 * raises nothing; a burst of mail is a traffic spike, alerted once to Alertmanager with the
 * gateway as instance, and the scaling hook runs once. */
static void serve_alerts_on_a_real_traffic_spike(void **state)
{
	char data[4200], smtp[32], http[32], node[64], am_set[128], hook_set[4300], hook_out[4200], script[9000];
	char log_path[4200], instance[64], *hook, *text;
	int smtp_port = tu_free_port(), http_port = tu_free_port();
	const char *calm[] = { tu_pat_bin(), "load", "--smtp", smtp, "--connections", "2", "--rate", "40", "--messages", "600",
			       NULL };
	const char *burst[] = { tu_pat_bin(), "load", "--smtp", smtp, "--connections", "16", "--messages", "8000", NULL };
	json_t *list = NULL, *alert = NULL;
	pid_t serve, calm_pid;
	struct tu_proc p;

	(void)state;
	snprintf(data, sizeof data, "%s/serve-data", dir);
	snprintf(smtp, sizeof smtp, "127.0.0.1:%d", smtp_port);
	snprintf(http, sizeof http, "127.0.0.1:%d", http_port);
	snprintf(instance, sizeof instance, "127.0.0.1:%d", http_port);
	snprintf(node, sizeof node, "node.address=127.0.0.1:%d", tu_free_port());
	snprintf(hook_out, sizeof hook_out, "%s/serve-hook.out", dir);
	snprintf(script, sizeof script, "#!/bin/sh\ncat >> '%s'\necho >> '%s'\n", hook_out, hook_out);
	hook = hook_script("serve-hook.sh", script);
	snprintf(am_set, sizeof am_set, "anomaly.alertmanager_url=%s", am_url);
	snprintf(hook_set, sizeof hook_set, "anomaly.hook_command=%s", hook);
	snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
	{
		const char *argv[] = { tu_pat_bin(), "serve", "--data", data, "--smtp", smtp, "--http", http, "--set", node,
				       "--set", "anomaly.interval=250ms", "--set", "anomaly.baseline_windows=40",
				       "--set", "anomaly.threshold=0.7",
				       "--set", "anomaly.retrain_interval=2s", "--set", am_set, "--set", hook_set,
				       "--set", "anomaly.hook_min_interval=1h", NULL };

		serve = tu_spawn(argv, NULL, log_path);
	}
	assert_true(tu_wait_port(http_port, 30000));
	calm_pid = tu_spawn(calm, NULL, "/dev/null");
	sleep(12); /* about 48 windows of a steady 40 messages a second */
	list = alerts();
	if (find_alert(list, "traffic_spike", instance) != NULL || find_alert(list, "traffic_drop", instance) != NULL) {
		char *log = tu_read_file(log_path, NULL);

		fail_msg("the calm flow raised an alert; pat serve said:\n%s", log ? log : "");
	}
	json_decref(list);
	list = NULL;
	tu_run(&p, burst, NULL, NULL);
	assert_int_equal(p.status, 0);
	tu_proc_free(&p);
	for (int i = 0; i < 100 && alert == NULL; i++) {
		json_decref(list);
		list = alerts();
		alert = find_alert(list, "traffic_spike", instance);
		if (alert == NULL)
			usleep(100000);
	}
	tu_stop(calm_pid, SIGTERM);
	assert_int_equal(tu_stop(serve, SIGTERM), 0);
	if (alert == NULL) {
		text = tu_read_file(log_path, NULL);
		fail_msg("no traffic_spike alert for %s; pat serve said:\n%s", instance, text ? text : "");
	}
	assert_string_equal(json_string_value(json_object_get(json_object_get(alert, "labels"), "alertname")), "PatAnomaly");
	json_decref(list);
	text = tu_read_file(hook_out, NULL);
	assert_non_null(text);
	assert_contains(text, "\"kind\":\"traffic_spike\"");
	assert_null(strstr(strstr(text, "\"kind\":\"traffic_spike\"") + 1, "\"kind\":\"traffic_spike\""));
	free(text);
	text = tu_read_file(log_path, NULL);
	assert_contains(text, "msg=\"alert delivered\" sink=alertmanager");
	assert_contains(text, "msg=\"scaling hook ran\"");
	free(text);
	/* Each action is in the audit log of Pat's own actions, and the chain holds. */
	{
		const char *argv[] = { tu_pat_bin(), "serve", "--data", data, "--smtp", smtp, "--http", http, "--set", node, NULL };
		struct dq_leader l;
		struct dq_rows rows;
		struct pat_err err;
		int64_t n_rows = 0, bad = -1;
		bool row, alerted = false, hooked = false;

		serve = tu_spawn(argv, NULL, log_path);
		assert_true(tu_wait_port(http_port, 30000));
		assert_int_equal(dq_leader_init(&l, node + strlen("node.address="), "pat", 5000, 15000), PAT_OK);
		assert_int_equal(dq_leader_query_sql(&l, "SELECT action, subject, detail FROM audit_log WHERE tenant = '_pat' ORDER BY seq",
						     NULL, 0, &rows), PAT_OK);
		while (dq_rows_next(&rows, &row) == PAT_OK && row) {
			const char *action = rows.values[0].bytes.ptr, *detail = rows.values[2].bytes.ptr;

			if (strcmp(action, "anomaly.alert") == 0 && strcmp(rows.values[1].bytes.ptr, "alertmanager") == 0 &&
			    strstr(detail, "\"kind\":\"traffic_spike\"") != NULL && strstr(detail, "\"ok\":true") != NULL)
				alerted = true;
			if (strcmp(action, "anomaly.hook") == 0 && strstr(detail, "\"kind\":\"traffic_spike\"") != NULL)
				hooked = true;
		}
		dq_rows_close(&rows);
		assert_true(alerted);
		assert_true(hooked);
		assert_int_equal(store_audit_verify(&l, "_pat", &n_rows, &bad, &err), PAT_OK);
		assert_true(n_rows >= 2);
		assert_int_equal(bad, 0);
		dq_leader_close(&l);
		assert_int_equal(tu_stop(serve, SIGTERM), 0);
	}
	free(hook);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_anomaly_reaches_alertmanager_with_its_labels),
		cmocka_unit_test(refused_posts_are_not_retried_and_lost_ones_are),
		cmocka_unit_test(a_hook_gets_the_record_once_per_interval),
		cmocka_unit_test(hooks_that_fail_or_hang_are_reported),
		cmocka_unit_test(watch_alerts_on_a_traffic_spike),
		cmocka_unit_test(watch_alerts_on_latency_degradation),
		cmocka_unit_test(serve_alerts_on_a_real_traffic_spike),
	};
	return cmocka_run_group_tests_name("alerting", tests, setup, teardown);
}
