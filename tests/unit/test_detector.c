/* Unit tests for the anomaly detector's core: the Prometheus text parser (on text that the real
 * promtool accepts, and on broken text), windows built from two scrapes (rates, quantiles from
 * bucket deltas, counter resets), and the detector on synthetic series: a calm series raises
 * nothing; a traffic spike, a drop, a latency degradation, an error-rate increase and queue
 * growth are each found and named; and the anomaly record's JSON. */
#include "tests/lib/testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/mem.h"
#include "lib/metrics.h"
#include "ml/detector.h"
#include "ml/promtext.h"
#include "ml/window.h"

/* ---- the parser ---- */

static void parses_samples_labels_escapes_and_special_values(void **state)
{
	static const char text[] =
		"# HELP pat_smtp_rejections_total Refusals.\n"
		"# TYPE pat_smtp_rejections_total counter\n"
		"pat_smtp_rejections_total{reason=\"size\"} 3\n"
		"pat_smtp_rejections_total{reason=\"say \\\"hi\\\"\\\\\\n\",other=\"x\",} 4 1700000000000\r\n"
		"\n"
		"  # a comment\n"
		"up 1\n"
		"h_bucket{le=\"+Inf\"} +Inf\n"
		"g -Inf\n"
		"n NaN\n"
		"e 1.5e-3\n"
		"colon:name_total{ a=\"b\" } 2";
	struct prom_scrape s;
	struct pat_err err;
	int found;

	(void)state;
	assert_int_equal(promtext_parse(&s, text, strlen(text), &err), PAT_OK);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.samples[0].name, "pat_smtp_rejections_total");
	assert_string_equal(prom_label(&s.samples[0], "reason"), "size");
	assert_string_equal(prom_label(&s.samples[1], "reason"), "say \"hi\"\\\n");
	assert_string_equal(prom_label(&s.samples[1], "other"), "x");
	assert_null(prom_label(&s.samples[1], "nope"));
	assert_true(s.samples[1].value == 4);
	assert_true(s.samples[1].timestamp_ms == 1700000000000LL);
	assert_true(s.samples[0].timestamp_ms == 0);
	assert_true(isinf(s.samples[3].value) && s.samples[3].value > 0);
	assert_true(isinf(s.samples[4].value) && s.samples[4].value < 0);
	assert_true(isnan(s.samples[5].value));
	assert_true(s.samples[6].value == 0.0015);
	assert_string_equal(s.samples[7].name, "colon:name_total");
	assert_string_equal(prom_label(&s.samples[7], "a"), "b");
	assert_true(promtext_sum(&s, "pat_smtp_rejections_total", &found) == 7 && found);
	assert_true(promtext_sum(&s, "absent", &found) == 0 && !found);
	promtext_free(&s);
}

static void broken_text_names_the_line(void **state)
{
	const struct {
		const char *text;
		const char *why;
	} cases[] = {
		{ "ok 1\n{a=\"b\"} 1\n", "line 2: expected a metric name" },
		{ "m{a=\"b} 1\n", "line 1: unterminated label value" },
		{ "m{a=\"\\q\"} 1\n", "line 1: bad escape" },
		{ "m{a=b} 1\n", "line 1: expected =\" after label a" },
		{ "m{a=\"b\" c=\"d\"} 1\n", "expected , or }" },
		{ "m\n", "line 1: expected a space and a value after m" },
		{ "m one\n", "line 1: the value of m is not a number" },
		{ "m 1 2 3\n", "unexpected text after the timestamp" },
		{ "m 1 99999999999999999999\n", "line 1: the timestamp is too large" },
		{ "m 1 soon\n", "unexpected text after the value" },
		{ "m nan\n", "not a number" },
		{ "m{9=\"x\"} 1\n", "expected a label name" },
	};
	struct prom_scrape s;
	struct pat_err err;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(promtext_parse(&s, cases[i].text, strlen(cases[i].text), &err), PAT_EINVAL);
		assert_contains(err.msg, cases[i].why);
		assert_int_equal(s.n, 0);
		assert_null(s.samples);
	}
	/* A NUL byte inside a line. */
	assert_int_equal(promtext_parse(&s, "m 1\nx\0y 2\n", 10, &err), PAT_EINVAL);
	assert_contains(err.msg, "line 2: NUL byte");
}

static void parser_survives_allocation_failures(void **state)
{
	static const char text[] = "a{x=\"1\",y=\"2\"} 1\nb 2\nc{z=\"3\"} 3\n";

	(void)state;
	for (long n = 0;; n++) {
		struct prom_scrape s;
		struct pat_err err;
		int rv;

		mem_fail_after(n, true);
		rv = promtext_parse(&s, text, strlen(text), &err);
		mem_fail_reset();
		if (rv == PAT_OK) {
			assert_int_equal(s.n, 3);
			promtext_free(&s);
			break;
		}
		assert_int_equal(rv, PAT_ENOMEM);
		assert_null(s.samples);
	}
}

/* ---- windows from scrapes ---- */

static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };

/* A gateway's registry: the families the detector reads, as lib/metrics renders them. */
struct gateway {
	struct metrics *r;
	struct metric_family *received, *rejections;
	struct metric *failed, *processing, *queue, *connections;
};

static void gateway_init(struct gateway *g)
{
	static const char *const tr[] = { "tenant", "region", NULL }, *const reason[] = { "reason", NULL };
	struct metric_family *f;
	struct pat_err err;

	assert_int_equal(metrics_new(&g->r), PAT_OK);
	assert_int_equal(metrics_register(g->r, &(struct metric_desc){ .name = "pat_emails_received_total", .help = "x",
		.type = METRIC_COUNTER, .labels = tr }, &g->received, &err), PAT_OK);
	assert_int_equal(metrics_register(g->r, &(struct metric_desc){ .name = "pat_smtp_rejections_total", .help = "x",
		.type = METRIC_COUNTER, .labels = reason }, &g->rejections, &err), PAT_OK);
	assert_int_equal(metrics_register(g->r, &(struct metric_desc){ .name = "pat_emails_failed_total", .help = "x",
		.type = METRIC_COUNTER }, &f, &err), PAT_OK);
	g->failed = metrics_series(f, NULL);
	assert_int_equal(metrics_register(g->r, &(struct metric_desc){ .name = "pat_email_processing_duration_seconds",
		.help = "x", .type = METRIC_HISTOGRAM, .buckets = buckets, .n_buckets = 8 }, &f, &err), PAT_OK);
	g->processing = metrics_series(f, NULL);
	assert_int_equal(metrics_register(g->r, &(struct metric_desc){ .name = "pat_store_queue_messages", .help = "x",
		.type = METRIC_GAUGE }, &f, &err), PAT_OK);
	g->queue = metrics_series(f, NULL);
	assert_int_equal(metrics_register(g->r, &(struct metric_desc){ .name = "pat_smtp_connections_total", .help = "x",
		.type = METRIC_COUNTER }, &f, &err), PAT_OK);
	g->connections = metrics_series(f, NULL);
}

/* Scrape it: render, check with promtool, parse, read. */
static void scrape(struct gateway *g, struct window_snapshot *snap, bool check)
{
	struct buf out = BUF_INIT;
	struct prom_scrape s;
	struct pat_err err;

	assert_int_equal(metrics_render_registry(g->r, &out), PAT_OK);
	if (check) {
		const char *argv[] = { "promtool", "check", "metrics", NULL };
		struct tu_proc p;

		tu_run(&p, argv, NULL, buf_str(&out));
		assert_int_equal(p.status, 0);
		tu_proc_free(&p);
	}
	assert_int_equal(promtext_parse(&s, out.data, out.len, &err), PAT_OK);
	assert_int_equal(window_snapshot_read(snap, &s, &err), PAT_OK);
	promtext_free(&s);
	buf_free(&out);
}

/* Samples with their own timestamps (a textfile written by a script): the snapshot is as
 * new as its newest sample, and Pat's own exposition, which has none, gives 0. */
static void snapshot_takes_the_newest_timestamp(void **state)
{
	static const char text[] = "pat_smtp_connections_total 3 1700000000100\n"
				   "pat_emails_received_total{tenant=\"a\"} 5 1700000000300\n"
				   "pat_store_queue_messages 1\n";
	struct prom_scrape s;
	struct window_snapshot snap;
	struct pat_err err;

	(void)state;
	assert_int_equal(promtext_parse(&s, text, strlen(text), &err), PAT_OK);
	assert_int_equal(window_snapshot_read(&snap, &s, &err), PAT_OK);
	assert_true(snap.at_ms == 1700000000300LL);
	assert_true(snap.received == 5);
	promtext_free(&s);
}

static void windows_come_from_two_scrapes(void **state)
{
	struct gateway g;
	struct window_snapshot a, b;
	struct window w;

	(void)state;
	gateway_init(&g);
	metric_inc(g.connections);
	scrape(&g, &a, true);
	/* 10 s: 100 messages for two tenants, 90 fast and 10 slow; 5 refusals and 5 failures. */
	for (int i = 0; i < 100; i++) {
		metric_inc(metrics_with(g.received, i % 2 ? "acme" : "globex", "eu-west"));
		metric_observe(g.processing, i < 90 ? 0.003 : 0.3);
	}
	metric_add(metrics_with(g.rejections, "size"), 3);
	metric_add(metrics_with(g.rejections, "auth"), 2);
	metric_add(g.failed, 5);
	metric_set(g.queue, 42);
	scrape(&g, &b, true);
	assert_int_equal(b.n_buckets, 9);
	assert_true(isinf(b.le[8]));
	window_build(&a, &b, 10, 1000, &w);
	assert_true(w.f[WINDOW_RATE] == 10);
	assert_true(fabs(w.f[WINDOW_ERRORS] - 10.0 / 110) < 1e-12);
	assert_true(w.f[WINDOW_QUEUE] == 42);
	/* rank 95 of 100: in (0.25, 0.5], 5 of its 10 observations in: 0.375. */
	assert_true(fabs(w.f[WINDOW_P95] - 0.375) < 1e-12);
	assert_true(fabs(w.f[WINDOW_P99] - 0.475) < 1e-12);
	/* A quiet window: no rate, no latency. */
	window_build(&b, &b, 10, 2000, &w);
	assert_true(w.f[WINDOW_RATE] == 0 && w.f[WINDOW_ERRORS] == 0);
	assert_true(isnan(w.f[WINDOW_P95]) && isnan(w.f[WINDOW_P99]));
	/* The gateway restarted: its counters start again from zero. */
	metrics_free(g.r);
	gateway_init(&g);
	metric_add(metrics_with(g.received, "acme", "eu-west"), 20);
	metric_observe(g.processing, 0.007);
	scrape(&g, &a, false);
	window_build(&b, &a, 10, 3000, &w);
	assert_true(w.f[WINDOW_RATE] == 2);
	assert_true(w.f[WINDOW_P95] > 0.005 && w.f[WINDOW_P95] <= 0.01);
	metrics_free(g.r);
}

static void quantiles_follow_histogram_quantile(void **state)
{
	static const double le[] = { 0.1, 0.5, 1, INFINITY };
	static const double in_inf[] = { 0, 0, 0, 10 };
	static const double first[] = { 10, 10, 10, 10 };
	static const double none[] = { 0, 0, 0, 0 };

	(void)state;
	assert_true(window_quantile(0.99, le, in_inf, 4) == 1);      /* the highest finite bound */
	assert_true(fabs(window_quantile(0.5, le, first, 4) - 0.05) < 1e-12);
	assert_true(isnan(window_quantile(0.5, le, none, 4)));
	assert_true(isnan(window_quantile(0.5, le, first, 1)));
}

static void snapshots_refuse_what_is_not_a_gateway(void **state)
{
	static const char *const texts[] = {
		"up 1\n",
		"pat_smtp_connections_total 1\npat_email_processing_duration_seconds_bucket{le=\"x\"} 1\n",
		"pat_smtp_connections_total 1\npat_email_processing_duration_seconds_bucket 1\n",
		"pat_smtp_connections_total 1\npat_email_processing_duration_seconds_bucket{le=\"1\"} 1\n",
	};
	static const char *const why[] = { "no pat_smtp_connections_total", "is not a number", "without an le label",
					   "no le=\"+Inf\"" };

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct prom_scrape s;
		struct window_snapshot snap;
		struct pat_err err;

		assert_int_equal(promtext_parse(&s, texts[i], strlen(texts[i]), &err), PAT_OK);
		assert_int_equal(window_snapshot_read(&snap, &s, &err), PAT_EINVAL);
		assert_contains(err.msg, why[i]);
		promtext_free(&s);
	}
}

/* ---- the detector on synthetic series ---- */

static uint64_t rng_state = 12345;

/* Roughly normal noise (the sum of four uniforms), mean 0, standard deviation about 1. */
static double noise(void)
{
	double s = 0;

	for (int i = 0; i < 4; i++) {
		rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
		s += (double)(rng_state >> 11) / 9007199254740992.0 - 0.5;
	}
	return s * sqrt(3.0);
}

static struct window calm(int i)
{
	struct window w = { .end_ms = 1700000000000 + i * 10000, .seconds = 10 };

	w.f[WINDOW_RATE] = 100 + 5 * noise();
	w.f[WINDOW_P95] = 0.020 + 0.002 * noise();
	w.f[WINDOW_P99] = 0.040 + 0.004 * noise();
	w.f[WINDOW_ERRORS] = fabs(0.01 + 0.002 * noise());
	w.f[WINDOW_QUEUE] = round(fabs(3 + 2 * noise()));
	return w;
}

static void detector_after_calm(struct detector *d, int windows, int *anomalies)
{
	struct detector_options o = { .baseline_windows = 360, .retrain_every = 30, .seed = 7 };
	struct detector_verdict v;
	struct pat_err err;

	assert_int_equal(detector_init(d, &o, &err), PAT_OK);
	*anomalies = 0;
	for (int i = 0; i < windows; i++) {
		struct window w = calm(i);

		assert_int_equal(detector_feed(d, &w, &v, &err), PAT_OK);
		if (i < 29)
			assert_false(v.scored); /* no model before 30 windows */
		if (v.anomalous) {
			(*anomalies)++;
			print_message("calm window %d flagged: %s score %.3f\n", i, anomaly_kind_names[v.anomaly.kind], v.score);
		}
	}
}

static void a_calm_series_raises_nothing(void **state)
{
	struct detector d;
	int anomalies;

	(void)state;
	detector_after_calm(&d, 1000, &anomalies);
	assert_int_equal(anomalies, 0);
	assert_true(d.trainings > 1); /* retrained as it went */
	assert_int_equal(d.n, 360);
	detector_free(&d);
}

/* Feed one changed window after a calm hour and return the verdict. */
static struct detector_verdict after_calm(void (*change)(struct window *w))
{
	struct detector d;
	struct detector_verdict v;
	struct window w;
	struct pat_err err;
	int anomalies;

	detector_after_calm(&d, 400, &anomalies);
	assert_int_equal(anomalies, 0);
	w = calm(400);
	change(&w);
	assert_int_equal(detector_feed(&d, &w, &v, &err), PAT_OK);
	assert_true(v.scored);
	detector_free(&d);
	return v;
}

static void spike(struct window *w) { w->f[WINDOW_RATE] *= 4; }
static void drop(struct window *w) { w->f[WINDOW_RATE] = 5; }
static void slow(struct window *w) { w->f[WINDOW_P95] = 0.4; w->f[WINDOW_P99] = 0.9; }
static void errors(struct window *w) { w->f[WINDOW_ERRORS] = 0.25; }
static void queue(struct window *w) { w->f[WINDOW_QUEUE] = 400; }
/* A realistic spike: more traffic, a little slower, a longer queue; traffic dominates. */
static void busy(struct window *w) { w->f[WINDOW_RATE] = 900; w->f[WINDOW_P95] = 0.03; w->f[WINDOW_QUEUE] = 40; }
/* Better than usual is not an anomaly. */
static void faster(struct window *w) { w->f[WINDOW_P95] = 0.002; w->f[WINDOW_P99] = 0.004; w->f[WINDOW_ERRORS] = 0; }

static void each_kind_is_found_and_named(void **state)
{
	const struct {
		void (*change)(struct window *w);
		enum anomaly_kind kind;
	} cases[] = {
		{ spike, ANOMALY_TRAFFIC_SPIKE }, { drop, ANOMALY_TRAFFIC_DROP }, { slow, ANOMALY_LATENCY },
		{ errors, ANOMALY_ERRORS },       { queue, ANOMALY_QUEUE },       { busy, ANOMALY_TRAFFIC_SPIKE },
	};
	struct detector_verdict v;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		v = after_calm(cases[i].change);
		print_message("%s: score %.3f\n", anomaly_kind_names[cases[i].kind], v.score);
		assert_true(v.anomalous);
		assert_int_equal(v.anomaly.kind, cases[i].kind);
		assert_true(v.anomaly.score >= 0.6);
		assert_true(fabs(v.anomaly.baseline[WINDOW_RATE] - 100) < 3);
		assert_int_equal(v.anomaly.baseline_windows, 360);
	}
	v = after_calm(faster);
	assert_false(v.anomalous);
}

static void a_quiet_window_compares_latency_with_the_median(void **state)
{
	struct detector d;
	struct detector_verdict v;
	struct window w;
	struct pat_err err;
	int anomalies;

	(void)state;
	detector_after_calm(&d, 100, &anomalies);
	w = calm(100);
	w.f[WINDOW_P95] = w.f[WINDOW_P99] = NAN; /* no message finished, at the usual rate: nothing to see */
	assert_int_equal(detector_feed(&d, &w, &v, &err), PAT_OK);
	assert_false(v.anomalous);
	detector_free(&d);
}

static void bad_options_are_refused(void **state)
{
	struct detector d;
	struct pat_err err;

	(void)state;
	assert_int_equal(detector_init(&d, &(struct detector_options){ .baseline_windows = 4 }, &err), PAT_EINVAL);
	assert_contains(err.msg, "at least 8 windows");
	assert_int_equal(detector_init(&d, &(struct detector_options){ .baseline_windows = 10, .threshold = 1.5 }, &err),
			 PAT_EINVAL);
	assert_contains(err.msg, "between 0 and 1");
	assert_int_equal(detector_init(&d, &(struct detector_options){ .baseline_windows = 10, .min_windows = 20 }, &err),
			 PAT_EINVAL);
}

/* Training that runs out of memory fails cleanly, keeps the old model, and works next time. */
static void training_survives_allocation_failures(void **state)
{
	(void)state;
	for (long n = 0;; n++) {
		struct detector_options o = { .baseline_windows = 8, .retrain_every = 1, .seed = 3 };
		struct detector d;
		struct detector_verdict v;
		struct window w;
		struct pat_err err;
		int rv;

		assert_int_equal(detector_init(&d, &o, &err), PAT_OK);
		for (int i = 0; i < 8; i++) { /* the eighth trains the first model */
			w = calm(i);
			assert_int_equal(detector_feed(&d, &w, &v, &err), PAT_OK);
		}
		w = calm(8);
		mem_fail_after(n, true);
		rv = detector_feed(&d, &w, &v, &err); /* retrains */
		mem_fail_reset();
		assert_true(d.trained);
		if (rv == PAT_OK) {
			assert_int_equal(d.trainings, 2);
			detector_free(&d);
			break;
		}
		assert_int_equal(rv, PAT_ENOMEM);
		assert_int_equal(d.trainings, 1);
		w = calm(9);
		assert_int_equal(detector_feed(&d, &w, &v, &err), PAT_OK);
		assert_true(v.scored);
		assert_int_equal(d.trainings, 2);
		detector_free(&d);
	}
}

static void the_record_is_json(void **state)
{
	struct detector_verdict v = after_calm(slow);
	json_t *doc;
	json_error_t jerr;
	char *text;
	struct pat_err err;

	(void)state;
	assert_true(v.anomalous);
	assert_int_equal(anomaly_to_json(&v.anomaly, "gw-1:8025", &text, &err), PAT_OK);
	doc = json_loads(text, 0, &jerr);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "kind")), "latency_degradation");
	assert_string_equal(json_string_value(json_object_get(doc, "severity")), "critical");
	assert_string_equal(json_string_value(json_object_get(doc, "instance")), "gw-1:8025");
	assert_string_equal(json_string_value(json_object_get(doc, "time")), "2023-11-14T23:20:00.000Z");
	assert_true(json_real_value(json_object_get(doc, "score")) >= 0.6);
	assert_true(json_real_value(json_object_get(json_object_get(doc, "features"), "latency_p99_seconds")) == 0.9);
	assert_true(fabs(json_real_value(json_object_get(json_object_get(doc, "baseline"), "latency_p99_seconds")) - 0.04) < 0.005);
	assert_true(json_real_value(json_object_get(json_object_get(doc, "deviation"), "latency_p99_seconds")) > 12);
	assert_int_equal(json_integer_value(json_object_get(doc, "baseline_windows")), 360);
	assert_contains(json_string_value(json_object_get(doc, "summary")), "latency degradation on gw-1:8025: latency_p99_seconds 0.9 s");
	json_decref(doc);
	mem_free(text);
	/* NaN features become null. */
	v.anomaly.window.f[WINDOW_P95] = NAN;
	assert_int_equal(anomaly_to_json(&v.anomaly, "gw-1:8025", &text, &err), PAT_OK);
	assert_contains(text, "\"latency_p95_seconds\":null");
	mem_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_samples_labels_escapes_and_special_values),
		cmocka_unit_test(broken_text_names_the_line),
		cmocka_unit_test(parser_survives_allocation_failures),
		cmocka_unit_test(snapshot_takes_the_newest_timestamp),
		cmocka_unit_test(windows_come_from_two_scrapes),
		cmocka_unit_test(quantiles_follow_histogram_quantile),
		cmocka_unit_test(snapshots_refuse_what_is_not_a_gateway),
		cmocka_unit_test(a_calm_series_raises_nothing),
		cmocka_unit_test(each_kind_is_found_and_named),
		cmocka_unit_test(a_quiet_window_compares_latency_with_the_median),
		cmocka_unit_test(bad_options_are_refused),
		cmocka_unit_test(training_survives_allocation_failures),
		cmocka_unit_test(the_record_is_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
