/* window: what the anomaly detector looks at. A gateway's metrics are scraped every interval;
 * two scrapes in a row make one window of five features: the ingest rate (from the counter's
 * delta), the 95th and 99th percentile of the processing time (from the histogram's bucket
 * deltas, as Prometheus's histogram_quantile computes them), the error rate and the queue depth.
 * Pure computation. */
#ifndef PAT_ML_WINDOW_H
#define PAT_ML_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "ml/promtext.h"

enum window_feature {
	WINDOW_RATE,   /* messages stored per second */
	WINDOW_P95,    /* seconds from end of DATA to 250, 95th percentile (NaN: no message) */
	WINDOW_P99,    /* the same, 99th percentile */
	WINDOW_ERRORS, /* refusals and 451s per SMTP outcome: errors / (errors + stored), 0..1 */
	WINDOW_QUEUE,  /* messages waiting for the group-commit writer at the window's end */
	WINDOW_FEATURES
};

/* "ingest_rate", "latency_p95_seconds", "latency_p99_seconds", "error_rate", "queue_messages". */
extern const char *const window_feature_names[WINDOW_FEATURES];

#define WINDOW_MAX_BUCKETS 64

/* The totals a window is computed from, read off one scrape. */
struct window_snapshot {
	double received;                  /* pat_emails_received_total, all series */
	double errors;                    /* pat_smtp_rejections_total + pat_emails_failed_total */
	double queue;                     /* pat_store_queue_messages */
	size_t n_buckets;                 /* of pat_email_processing_duration_seconds */
	double le[WINDOW_MAX_BUCKETS];    /* bounds, increasing; the last is +Inf */
	double count[WINDOW_MAX_BUCKETS]; /* cumulative counts, summed over series */
	long long at_ms;                  /* the newest sample timestamp given (Unix ms), 0: none */
};

struct window {
	int64_t end_ms;               /* wall clock at the second scrape */
	double seconds;               /* between the two scrapes */
	double f[WINDOW_FEATURES];
};

/* Read a scrape. PAT_EINVAL when it is not a Pat gateway's (no pat_smtp_connections_total) or
 * its histogram is malformed (more than WINDOW_MAX_BUCKETS bounds, a bad le, no +Inf). */
int window_snapshot_read(struct window_snapshot *s, const struct prom_scrape *scrape, struct pat_err *err);

/* The window between two snapshots `seconds` apart. A counter that went down (a restart)
 * counts from zero. */
void window_build(const struct window_snapshot *prev, const struct window_snapshot *cur, double seconds,
		  int64_t end_ms, struct window *w);

/* The q-quantile (0 < q < 1) of cumulative bucket counts, as histogram_quantile(): linear within
 * the bucket, the highest finite bound when it falls in +Inf, NaN without observations. */
double window_quantile(double q, const double *le, const double *count, size_t n);

#endif
