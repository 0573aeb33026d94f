/* Unit tests for lib/metrics: counters, gauges and histograms, label sets and their cap,
 * escaping, updates from several threads, allocation failures, and rendering that the real
 * `promtool check metrics` (Prometheus 2.42) accepts without a lint warning. */
#include "tests/lib/testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/metrics.h"

static const char *const tenant_region[] = { "tenant", "region", NULL };
static const char *const reason[] = { "reason", NULL };
static const double latency_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

static struct metric_family *reg(struct metrics *r, const char *name, enum metric_type type, const char *const *labels)
{
	struct metric_desc d = { .name = name, .help = "Help text.", .type = type, .labels = labels };
	struct metric_family *f = NULL;
	struct pat_err err;

	if (type == METRIC_HISTOGRAM) {
		d.buckets = latency_buckets;
		d.n_buckets = sizeof latency_buckets / sizeof latency_buckets[0];
	}
	assert_int_equal(metrics_register(r, &d, &f, &err), PAT_OK);
	assert_non_null(f);
	return f;
}

/* What `promtool check metrics` says about text: "" when it is clean. */
static void promtool_accepts(const char *text)
{
	const char *argv[] = { "promtool", "check", "metrics", NULL };
	struct tu_proc p;

	tu_run(&p, argv, NULL, text);
	if (p.status != 0)
		fprintf(stderr, "promtool (status %d) on:\n%s\nsaid:\n%s%s\n", p.status, text, p.out, p.err);
	assert_int_equal(p.status, 0);
	assert_string_equal(p.out, "");
	assert_string_equal(p.err, "");
	tu_proc_free(&p);
}

static void counter_gauge_histogram_render_exactly(void **state)
{
	struct metrics *r;
	struct metric_family *c, *g, *h;
	struct metric *m;
	struct buf out = BUF_INIT;
	static const double b3[] = { 0.1, 1, 10 };
	struct metric_desc hd = { .name = "job_seconds", .help = "Job time.", .type = METRIC_HISTOGRAM,
				  .buckets = b3, .n_buckets = 3 };
	struct pat_err err;

	(void)state;
	assert_int_equal(metrics_new(&r), PAT_OK);
	c = reg(r, "pat_emails_received_total", METRIC_COUNTER, tenant_region);
	g = reg(r, "pat_smtp_sessions", METRIC_GAUGE, NULL);
	assert_int_equal(metrics_register(r, &hd, &h, &err), PAT_OK);

	m = metrics_with(c, "acme", "eu-west");
	metric_inc(m);
	metric_add(m, 2);
	metric_add(m, -5);  /* a counter never goes down */
	metric_add(m, NAN);
	assert_true(metric_value(m) == 3);
	assert_ptr_equal(metrics_with(c, "acme", "eu-west"), m); /* the same series every time */
	metric_inc(metrics_with(c, "globex", "us-east"));

	metric_add(metrics_series(g, NULL), 5);
	metric_add(metrics_series(g, NULL), -2);
	assert_true(metric_value(metrics_series(g, NULL)) == 3);

	m = metrics_series(h, NULL);
	metric_observe(m, 0.05);
	metric_observe(m, 0.1);  /* le is inclusive */
	metric_observe(m, 3);
	metric_observe(m, 100);  /* +Inf only */
	metric_observe(m, NAN);  /* ignored */
	assert_int_equal(metric_count(m), 4);
	assert_true(fabs(metric_value(m) - 103.15) < 1e-9);

	assert_int_equal(metrics_render_registry(r, &out), PAT_OK);
	assert_string_equal(buf_str(&out),
			    "# HELP pat_emails_received_total Help text.\n"
			    "# TYPE pat_emails_received_total counter\n"
			    "pat_emails_received_total{tenant=\"acme\",region=\"eu-west\"} 3\n"
			    "pat_emails_received_total{tenant=\"globex\",region=\"us-east\"} 1\n"
			    "# HELP pat_smtp_sessions Help text.\n"
			    "# TYPE pat_smtp_sessions gauge\n"
			    "pat_smtp_sessions 3\n"
			    "# HELP job_seconds Job time.\n"
			    "# TYPE job_seconds histogram\n"
			    "job_seconds_bucket{le=\"0.1\"} 2\n"
			    "job_seconds_bucket{le=\"1\"} 2\n"
			    "job_seconds_bucket{le=\"10\"} 3\n"
			    "job_seconds_bucket{le=\"+Inf\"} 4\n"
			    "job_seconds_sum 103.15\n"
			    "job_seconds_count 4\n");
	promtool_accepts(buf_str(&out));
	buf_free(&out);
	metrics_free(r);
}

static void labeled_histogram_and_gauge_values(void **state)
{
	struct metrics *r;
	struct metric_family *h, *g;
	struct buf out = BUF_INIT;
	static const char *const api[] = { "route", "method", "code", NULL };

	(void)state;
	assert_int_equal(metrics_new(&r), PAT_OK);
	h = reg(r, "pat_api_requests_duration_seconds", METRIC_HISTOGRAM, api);
	g = reg(r, "temperature_celsius", METRIC_GAUGE, NULL);
	metric_observe(metrics_with(h, "/api/v2/messages", "GET", "200"), 0.003);
	metric_observe(metrics_with(h, "/api/v2/messages", "GET", "200"), 0.3);
	metric_observe(metrics_with(h, "/api/v1/message/{id}", "DELETE", "404"), 0.02);
	metric_set(metrics_series(g, NULL), -1.5e-7);
	assert_int_equal(metrics_render_registry(r, &out), PAT_OK);
	assert_contains(buf_str(&out), "pat_api_requests_duration_seconds_bucket{route=\"/api/v2/messages\",method=\"GET\",code=\"200\",le=\"0.005\"} 1\n");
	assert_contains(buf_str(&out), "pat_api_requests_duration_seconds_bucket{route=\"/api/v2/messages\",method=\"GET\",code=\"200\",le=\"0.25\"} 1\n");
	assert_contains(buf_str(&out), "pat_api_requests_duration_seconds_bucket{route=\"/api/v2/messages\",method=\"GET\",code=\"200\",le=\"0.5\"} 2\n");
	assert_contains(buf_str(&out), "pat_api_requests_duration_seconds_count{route=\"/api/v1/message/{id}\",method=\"DELETE\",code=\"404\"} 1\n");
	assert_contains(buf_str(&out), "temperature_celsius -1.5e-07\n");
	promtool_accepts(buf_str(&out));
	buf_free(&out);
	metrics_free(r);
}

static void label_values_and_help_are_escaped(void **state)
{
	struct metrics *r;
	struct metric_family *c;
	struct metric_desc d = { .name = "odd_total", .help = "Back\\slash and\nnewline \"quoted\".", .type = METRIC_COUNTER,
				 .labels = reason };
	struct buf out = BUF_INIT;
	struct pat_err err;
	char longer[400];

	(void)state;
	assert_int_equal(metrics_new(&r), PAT_OK);
	assert_int_equal(metrics_register(r, &d, &c, &err), PAT_OK);
	metric_inc(metrics_with(c, "say \"hi\"\\n\nthere"));
	metric_inc(metrics_with(c, "bad \xff\xfe utf-8 \xc3\xa9"));
	metric_inc(metrics_with(c, ""));
	memset(longer, 'x', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	metric_inc(metrics_with(c, longer));
	metric_inc(metrics_with(c, longer)); /* cut the same way: the same series */
	assert_int_equal(metrics_render_registry(r, &out), PAT_OK);
	assert_contains(buf_str(&out), "# HELP odd_total Back\\\\slash and\\nnewline \"quoted\".\n");
	assert_contains(buf_str(&out), "odd_total{reason=\"say \\\"hi\\\"\\\\n\\nthere\"} 1\n");
	assert_contains(buf_str(&out), "odd_total{reason=\"bad ?? utf-8 \xc3\xa9\"} 1\n");
	assert_contains(buf_str(&out), "odd_total{reason=\"\"} 1\n");
	longer[METRICS_LABEL_VALUE_MAX] = '\0';
	{
		char line[600];

		snprintf(line, sizeof line, "odd_total{reason=\"%s\"} 2\n", longer);
		assert_contains(buf_str(&out), line);
	}
	assert_int_equal(metrics_family_series(c), 4);
	promtool_accepts(buf_str(&out));
	buf_free(&out);
	metrics_free(r);
}

static void label_sets_beyond_the_cap_share_the_overflow_series(void **state)
{
	struct metrics *r;
	struct metric_family *c;
	struct metric_desc d = { .name = "pat_emails_received_total", .help = "Messages.", .type = METRIC_COUNTER,
				 .labels = tenant_region, .max_series = 10 };
	struct buf out = BUF_INIT;
	struct pat_err err;
	char tenant[32];

	(void)state;
	assert_int_equal(metrics_new(&r), PAT_OK);
	assert_int_equal(metrics_register(r, &d, &c, &err), PAT_OK);
	for (int i = 0; i < 10000; i++) {
		snprintf(tenant, sizeof tenant, "tenant-%d", i);
		metric_inc(metrics_with(c, tenant, "local"));
	}
	/* Ten real series and one overflow that took the other 9990. */
	assert_int_equal(metrics_family_series(c), 11);
	assert_true(metric_value(metrics_with(c, "tenant-3", "local")) == 1);
	assert_true(metric_value(metrics_with(c, "tenant-5000", "local")) == 9990);
	/* A wrong number of values goes to the overflow series too, never crashes. */
	metric_inc(metrics_with(c, "only-one"));
	metric_inc(metrics_series(c, NULL));
	assert_true(metric_value(metrics_with(c, METRICS_OVERFLOW, METRICS_OVERFLOW)) == 9992);
	assert_int_equal(metrics_render_registry(r, &out), PAT_OK);
	assert_contains(buf_str(&out), "pat_emails_received_total{tenant=\"_overflow\",region=\"_overflow\"} 9992\n");
	promtool_accepts(buf_str(&out));
	buf_free(&out);
	metrics_free(r);
}

static void bad_descriptions_are_refused(void **state)
{
	static const char *const le[] = { "le", NULL };
	static const char *const reserved[] = { "__name", NULL };
	static const char *const twice[] = { "a", "a", NULL };
	static const char *const dash[] = { "bad-name", NULL };
	static const double down[] = { 1, 0.5 };
	static const double inf[] = { 1, INFINITY };
	const struct {
		struct metric_desc d;
		const char *why;
	} cases[] = {
		{ { .name = "", .type = METRIC_COUNTER }, "not valid" },
		{ { .name = "9lives", .type = METRIC_COUNTER }, "not valid" },
		{ { .name = "has space", .type = METRIC_GAUGE }, "not valid" },
		{ { .name = "h", .type = METRIC_HISTOGRAM }, "needs buckets" },
		{ { .name = "h", .type = METRIC_HISTOGRAM, .buckets = down, .n_buckets = 2 }, "strictly increasing" },
		{ { .name = "h", .type = METRIC_HISTOGRAM, .buckets = inf, .n_buckets = 2 }, "finite" },
		{ { .name = "h", .type = METRIC_HISTOGRAM, .labels = le, .buckets = down, .n_buckets = 1 }, "label named le" },
		{ { .name = "g", .type = METRIC_GAUGE, .labels = reserved }, "not starting with __" },
		{ { .name = "g", .type = METRIC_GAUGE, .labels = twice }, "appears twice" },
		{ { .name = "g", .type = METRIC_GAUGE, .labels = dash }, "not valid" },
		{ { .name = "taken_total", .type = METRIC_COUNTER }, "registered already" },
	};
	struct metrics *r;
	struct metric_family *f;
	struct pat_err err;

	(void)state;
	assert_int_equal(metrics_new(&r), PAT_OK);
	reg(r, "taken_total", METRIC_COUNTER, NULL);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(metrics_register(r, &cases[i].d, &f, &err), PAT_EINVAL);
		assert_null(f);
		assert_contains(err.msg, cases[i].why);
	}
	/* NULL families and series are inert. */
	metric_inc(metrics_with(NULL, "x"));
	metric_observe(NULL, 1);
	metric_set(NULL, 1);
	assert_true(metric_value(NULL) == 0);
	metrics_free(r);
}

static void allocation_failures_leave_everything_usable(void **state)
{
	long n;

	(void)state;
	for (n = 0;; n++) {
		struct metrics *r = NULL;
		struct metric_family *f = NULL;
		struct metric_desc d = { .name = "pat_smtp_rejections_total", .help = "x", .type = METRIC_COUNTER,
					 .labels = reason };
		struct pat_err err;
		struct buf out = BUF_INIT;
		int rv;

		mem_fail_after(n, true);
		rv = metrics_new(&r);
		if (rv == PAT_OK) {
			rv = metrics_register(r, &d, &f, &err);
			if (rv == PAT_OK)
				rv = metrics_register_process(r, &err);
		}
		/* Series creation never fails: past an allocation failure, the overflow series counts. */
		metric_inc(metrics_with(f, "size"));
		mem_fail_reset();
		if (f != NULL)
			metric_inc(metrics_with(f, "size"));
		if (r != NULL) {
			assert_int_equal(metrics_render_registry(r, &out), PAT_OK);
			buf_free(&out);
		}
		metrics_free(r);
		if (rv == PAT_OK) {
			assert_true(n > 5);
			break;
		}
		assert_int_equal(rv, PAT_ENOMEM);
	}
}

/* ---- threads ---- */

#define THREADS 4
#define ROUNDS 50000

struct shared {
	struct metric_family *counter, *hist, *gauge;
};

static void *hammer(void *arg)
{
	struct shared *s = arg;
	const char *tenants[] = { "a", "b", "c", "d", "e", "f", "g", "h" };

	for (int i = 0; i < ROUNDS; i++) {
		metric_inc(metrics_with(s->counter, tenants[i % 8], "local"));
		metric_observe(metrics_series(s->hist, NULL), (i % 100) / 1000.0);
		metric_add(metrics_series(s->gauge, NULL), 1);
		metric_add(metrics_series(s->gauge, NULL), -1);
	}
	return NULL;
}

static void *render_while_busy(void *arg)
{
	struct metrics *r = arg;

	for (int i = 0; i < 50; i++) {
		struct buf out = BUF_INIT;

		assert_int_equal(metrics_render_registry(r, &out), PAT_OK);
		buf_free(&out);
	}
	return NULL;
}

static void updates_from_several_threads_are_all_counted(void **state)
{
	struct metrics *r;
	struct shared s;
	pthread_t t[THREADS], renderer;
	double total = 0;
	const char *tenants[] = { "a", "b", "c", "d", "e", "f", "g", "h" };
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(metrics_new(&r), PAT_OK);
	s.counter = reg(r, "pat_emails_received_total", METRIC_COUNTER, tenant_region);
	s.hist = reg(r, "pat_email_processing_duration_seconds", METRIC_HISTOGRAM, NULL);
	s.gauge = reg(r, "pat_smtp_sessions", METRIC_GAUGE, NULL);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &s), 0);
	assert_int_equal(pthread_create(&renderer, NULL, render_while_busy, r), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_join(renderer, NULL);
	for (int i = 0; i < 8; i++)
		total += metric_value(metrics_with(s.counter, tenants[i], "local"));
	assert_true(total == (double)THREADS * ROUNDS);
	assert_int_equal(metrics_family_series(s.counter), 8);
	assert_int_equal(metric_count(metrics_series(s.hist, NULL)), (uint64_t)THREADS * ROUNDS);
	assert_true(metric_value(metrics_series(s.gauge, NULL)) == 0);
	assert_int_equal(metrics_render_registry(r, &out), PAT_OK);
	promtool_accepts(buf_str(&out));
	buf_free(&out);
	metrics_free(r);
}

static void process_metrics_come_from_proc(void **state)
{
	struct buf out = BUF_INIT;
	struct metrics *r = metrics_default();
	double v;
	const char *p;

	(void)state;
	assert_non_null(r);
	assert_ptr_equal(metrics_default(), r);
	assert_int_equal(metrics_render(&out), PAT_OK);
	assert_contains(buf_str(&out), "# TYPE process_cpu_seconds_total counter\n");
	assert_contains(buf_str(&out), "# TYPE process_open_fds gauge\n");
	p = strstr(buf_str(&out), "\nprocess_resident_memory_bytes ");
	assert_non_null(p);
	v = strtod(p + strlen("\nprocess_resident_memory_bytes "), NULL);
	assert_true(v > 1024 * 1024); /* more than a megabyte resident */
	p = strstr(buf_str(&out), "\nprocess_start_time_seconds ");
	assert_non_null(p);
	v = strtod(p + strlen("\nprocess_start_time_seconds "), NULL);
	assert_true(v > 1.6e9 && v < 4e9);
	p = strstr(buf_str(&out), "\nprocess_open_fds ");
	assert_non_null(p);
	assert_true(strtod(p + strlen("\nprocess_open_fds "), NULL) >= 3);
	promtool_accepts(buf_str(&out));
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counter_gauge_histogram_render_exactly),
		cmocka_unit_test(labeled_histogram_and_gauge_values),
		cmocka_unit_test(label_values_and_help_are_escaped),
		cmocka_unit_test(label_sets_beyond_the_cap_share_the_overflow_series),
		cmocka_unit_test(bad_descriptions_are_refused),
		cmocka_unit_test(allocation_failures_leave_everything_usable),
		cmocka_unit_test(updates_from_several_threads_are_all_counted),
		cmocka_unit_test(process_metrics_come_from_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
