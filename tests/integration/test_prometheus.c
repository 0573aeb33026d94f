/* A real Prometheus (Debian's prometheus 2.42) scrapes a running `pat serve` on loopback and
 * sees the mail it accepted; every query of the Grafana dashboard in deploy/grafana is valid
 * PromQL that Prometheus evaluates, over metrics Pat really exposes. */
#include "tests/lib/testutil.h"

#include <ctype.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "ml/watch.h"

#define PROMETHEUS "/usr/bin/prometheus"

static char *dir, prom_url[64], metrics_url[64];
static pid_t serve_pid, prom_pid;

static int setup(void **state)
{
	int smtp_port = tu_free_port(), http_port = tu_free_port(), prom_port = tu_free_port();
	char data[4200], smtp[32], http[32], node[64], log_path[4200], config[4200], storage[4200], listen[64];
	char yml[512], *path;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	dir = tu_mkdtemp();
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(smtp, sizeof smtp, "127.0.0.1:%d", smtp_port);
	snprintf(http, sizeof http, "127.0.0.1:%d", http_port);
	snprintf(node, sizeof node, "node.address=127.0.0.1:%d", tu_free_port());
	snprintf(log_path, sizeof log_path, "%s/serve.log", dir);
	snprintf(metrics_url, sizeof metrics_url, "http://127.0.0.1:%d/metrics", http_port);
	{
		const char *argv[] = { tu_pat_bin(), "serve", "--data", data, "--smtp", smtp, "--http", http, "--set", node, NULL };

		serve_pid = tu_spawn(argv, NULL, log_path);
	}
	if (!tu_wait_port(http_port, 30000))
		return -1;
	{
		const char *argv[] = { tu_pat_bin(), "load", "--smtp", smtp, "--connections", "2", "--messages", "20", NULL };
		struct tu_proc p;

		tu_run(&p, argv, NULL, NULL);
		if (p.status != 0)
			return -1;
		tu_proc_free(&p);
	}
	snprintf(yml, sizeof yml,
		 "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
		 "scrape_configs:\n  - job_name: pat\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n", http_port);
	path = tu_write_file(dir, "prometheus.yml", yml);
	snprintf(config, sizeof config, "--config.file=%s", path);
	free(path);
	snprintf(storage, sizeof storage, "--storage.tsdb.path=%s/prom-data", dir);
	snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", prom_port);
	snprintf(prom_url, sizeof prom_url, "http://127.0.0.1:%d", prom_port);
	snprintf(log_path, sizeof log_path, "%s/prometheus.log", dir);
	{
		const char *argv[] = { PROMETHEUS, config, storage, listen, NULL };

		prom_pid = tu_spawn(argv, NULL, log_path);
	}
	return tu_wait_port(prom_port, 30000) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (prom_pid > 0)
		tu_stop(prom_pid, SIGTERM);
	if (serve_pid > 0)
		assert_int_equal(tu_stop(serve_pid, SIGTERM), 0);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

/* Prometheus's answer to an instant query (json_decref it), or NULL when it cannot be asked. */
static json_t *query(const char *promql)
{
	struct buf url = BUF_INIT, body = BUF_INIT;
	struct pat_err err;
	json_t *doc = NULL;

	buf_printf(&url, "%s/api/v1/query?query=", prom_url);
	for (const char *p = promql; *p != '\0'; p++) {
		if (isalnum((unsigned char)*p) || strchr("-_.~", *p) != NULL)
			buf_append_char(&url, *p);
		else
			buf_printf(&url, "%%%02X", (unsigned char)*p);
	}
	if (watch_scrape(buf_str(&url), 5000, &body, &err) == PAT_OK || body.len > 0)
		doc = json_loads(buf_str(&body), 0, NULL);
	buf_free(&url);
	buf_free(&body);
	return doc;
}

/* The first sample's value of an instant query, or -1. */
static double value_of(const char *promql)
{
	json_t *doc = query(promql), *v;
	double x = -1;

	v = json_object_get(json_array_get(json_object_get(json_object_get(doc, "data"), "result"), 0), "value");
	if (json_is_string(json_array_get(v, 1)))
		x = strtod(json_string_value(json_array_get(v, 1)), NULL);
	json_decref(doc);
	return x;
}

static void prometheus_scrapes_pat_serve(void **state)
{
	double up = -1, received = -1;

	(void)state;
	for (int i = 0; i < 300 && (up != 1 || received < 20); i++) {
		usleep(200000);
		up = value_of("up{job=\"pat\"}");
		received = value_of("sum(pat_emails_received_total)");
	}
	if (up != 1 || received < 20) {
		char log_path[4200], *log;

		snprintf(log_path, sizeof log_path, "%s/prometheus.log", dir);
		log = tu_read_file(log_path, NULL);
		fail_msg("Prometheus saw up=%g and %g messages received; its log:\n%s", up, received, log ? log : "");
	}
}

/* Every expression of the dashboard: valid PromQL, over metric families Pat exposes. */
static void the_grafana_dashboard_queries_real_metrics(void **state)
{
	char path[4200];
	struct buf metrics = BUF_INIT;
	struct pat_err err;
	json_error_t jerr;
	json_t *dash, *panel, *target;
	size_t i, k;
	int exprs = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/deploy/grafana/pat-dashboard.json", tu_source_dir());
	dash = json_load_file(path, 0, &jerr);
	if (dash == NULL)
		fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
	assert_int_equal(watch_scrape(metrics_url, 5000, &metrics, &err), PAT_OK);
	json_array_foreach(json_object_get(dash, "panels"), i, panel) {
		json_array_foreach(json_object_get(panel, "targets"), k, target) {
			const char *expr = json_string_value(json_object_get(target, "expr"));
			json_t *answer;

			assert_non_null(expr);
			answer = query(expr);
			if (answer == NULL || strcmp(json_string_value(json_object_get(answer, "status")), "success") != 0)
				fail_msg("panel \"%s\": Prometheus refused %s: %s", json_string_value(json_object_get(panel, "title")),
					 expr, answer ? json_string_value(json_object_get(answer, "error")) : "no answer");
			json_decref(answer);
			/* Each pat_* name must be a family Pat exposes (histograms by their base name). */
			for (const char *p = strstr(expr, "pat_"); p != NULL; p = strstr(p + 1, "pat_")) {
				char name[128], type_line[160];
				size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
				char *suffix;

				snprintf(name, sizeof name, "%.*s", (int)n, p);
				if ((suffix = strstr(name, "_bucket")) != NULL || (suffix = strstr(name, "_count")) != NULL ||
				    (suffix = strstr(name, "_sum")) != NULL)
					*suffix = '\0';
				snprintf(type_line, sizeof type_line, "# TYPE %s ", name);
				if (strstr(buf_str(&metrics), type_line) == NULL)
					fail_msg("panel \"%s\" uses %s, which pat serve does not expose",
						 json_string_value(json_object_get(panel, "title")), name);
			}
			exprs++;
		}
	}
	assert_true(exprs >= 10);
	buf_free(&metrics);
	json_decref(dash);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prometheus_scrapes_pat_serve),
		cmocka_unit_test(the_grafana_dashboard_queries_real_metrics),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
