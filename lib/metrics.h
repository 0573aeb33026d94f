/* metrics: a Prometheus metrics registry: counters, gauges and histograms with bounded label
 * sets, updated from any thread without locks and rendered in the text exposition format 0.0.4.
 *
 * A family (one metric name, its help text, type and label names) is registered once, usually
 * at start-up. Its series (one per set of label values) are found or created by
 * metrics_series(); a family keeps at most `max_series` of them, and every label set beyond
 * that shares one overflow series whose label values are all METRICS_OVERFLOW, so a flood of
 * tenants or routes costs a bounded amount of memory. Looking a series up takes no lock once it
 * exists; updates are atomic operations. A caller that updates the same series often keeps the
 * pointer, which stays valid for the registry's lifetime.
 *
 * Every update function accepts NULL (a family that could not be registered, say, for want of
 * memory) and then does nothing: instrumented code never needs an error path of its own.
 *
 *     static const char *const reasons[] = { "reason", NULL };
 *     struct metric_desc d = { "pat_smtp_rejections_total", "Commands refused.", METRIC_COUNTER, reasons };
 *     metrics_register(r, &d, &fam, &err);
 *     metric_inc(metrics_with(fam, "size"));
 */
#ifndef PAT_LIB_METRICS_H
#define PAT_LIB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

enum metric_type {
	METRIC_COUNTER,   /* only goes up (metric_inc, metric_add) */
	METRIC_GAUGE,     /* goes up and down (metric_set, metric_add) */
	METRIC_HISTOGRAM, /* observations counted in buckets (metric_observe) */
};

/* The label value of the series that takes every label set beyond a family's cap. It starts
 * with '_', which tenant and region names (letters, digits, '-') never do. */
#define METRICS_OVERFLOW "_overflow"
/* Label sets a family keeps when its description does not say. */
#define METRICS_DEFAULT_MAX_SERIES 100
/* Label names per family at most. */
#define METRICS_MAX_LABELS 8
/* Longer label values are cut (at a character boundary) to this many bytes. */
#define METRICS_LABEL_VALUE_MAX 128

/* What a family is. The registry copies everything it needs. */
struct metric_desc {
	const char *name;          /* [a-zA-Z_:][a-zA-Z0-9_:]* */
	const char *help;          /* one line for # HELP */
	enum metric_type type;
	const char *const *labels; /* label names, NULL-terminated; NULL: no labels */
	const double *buckets;     /* histograms: upper bounds, strictly increasing, finite (+Inf is implied) */
	size_t n_buckets;
	size_t max_series;         /* label sets kept before the overflow series; 0: the default */
};

struct metrics;        /* a registry */
struct metric_family;  /* one metric name */
struct metric;         /* one series: a family and a set of label values */

int metrics_new(struct metrics **out);
void metrics_free(struct metrics *r);

/* Add a family. PAT_EINVAL (naming the problem) for a bad or duplicate name, bad label names
 * (or "le" on a histogram), or buckets that are not strictly increasing; PAT_ENOMEM. */
int metrics_register(struct metrics *r, const struct metric_desc *d, struct metric_family **out, struct pat_err *err);

/* The series of f for these label values (as many as the family has label names; NULL for
 * a family without labels). Never NULL unless f is: past the cap, on a wrong number of values
 * or when memory runs out, the overflow series. Invalid UTF-8 in a value is replaced by '?'. */
struct metric *metrics_series(struct metric_family *f, const char *const *values);
#define metrics_with(f, ...) metrics_series((f), (const char *const[]){ __VA_ARGS__, NULL })

void metric_inc(struct metric *m);
/* Counters: v < 0 (or NaN) is ignored. Gauges: any v. */
void metric_add(struct metric *m, double v);
/* Gauges, and counters that mirror a total kept elsewhere (process CPU time). */
void metric_set(struct metric *m, double v);
/* Histograms: count v in the first bucket whose bound is >= v, and add it to the sum. */
void metric_observe(struct metric *m, double v);

/* Read back (tests, and callers that mirror a value): a counter's or gauge's value, a
 * histogram's sum; and a histogram's count. */
double metric_value(const struct metric *m);
uint64_t metric_count(const struct metric *m);
/* Series a family holds now, the overflow series included once it has been used. */
size_t metrics_family_series(const struct metric_family *f);

/* A function run at the start of every render, to bring gauges up to date. */
typedef void (*metrics_collect_fn)(void *data);
int metrics_add_collector(struct metrics *r, metrics_collect_fn fn, void *data);

/* Append every family in the text exposition format 0.0.4 (Content-Type:
 * text/plain; version=0.0.4; charset=utf-8). PAT_ENOMEM. */
int metrics_render_registry(struct metrics *r, struct buf *out);

/* The standard process metrics, read from /proc at each render: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes, process_start_time_seconds,
 * process_open_fds, process_max_fds. */
int metrics_register_process(struct metrics *r, struct pat_err *err);

/* The process's registry, made on first use with the process metrics in it; NULL only when
 * memory ran out then. Pat's modules register their families here. */
struct metrics *metrics_default(void);
/* Render the process's registry: what GET /metrics answers. PAT_ENOMEM. */
int metrics_render(struct buf *out);

#endif
