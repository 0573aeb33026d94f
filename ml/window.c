/* window: see window.h. */
#include "ml/window.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *const window_feature_names[WINDOW_FEATURES] = {
	"ingest_rate", "latency_p95_seconds", "latency_p99_seconds", "error_rate", "queue_messages",
};

#define HISTOGRAM "pat_email_processing_duration_seconds_bucket"

int window_snapshot_read(struct window_snapshot *s, const struct prom_scrape *scrape, struct pat_err *err)
{
	int found = 0;

	memset(s, 0, sizeof *s);
	promtext_sum(scrape, "pat_smtp_connections_total", &found);
	if (!found)
		return err_set(err, PAT_EINVAL, "not a Pat gateway's metrics: no pat_smtp_connections_total");
	s->received = promtext_sum(scrape, "pat_emails_received_total", NULL);
	s->errors = promtext_sum(scrape, "pat_smtp_rejections_total", NULL) +
		    promtext_sum(scrape, "pat_emails_failed_total", NULL);
	s->queue = promtext_sum(scrape, "pat_store_queue_messages", NULL);
	for (size_t i = 0; i < scrape->n; i++) {
		const struct prom_sample *p = &scrape->samples[i];
		const char *le;
		char *end;
		double bound;
		size_t j;

		if (p->timestamp_ms > s->at_ms)
			s->at_ms = p->timestamp_ms;
		if (strcmp(p->name, HISTOGRAM) != 0)
			continue;
		if ((le = prom_label(p, "le")) == NULL)
			return err_set(err, PAT_EINVAL, "%s without an le label", HISTOGRAM);
		bound = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, &end);
		if (!isinf(bound) && (*end != '\0' || end == le || isnan(bound)))
			return err_set(err, PAT_EINVAL, "%s: le=\"%s\" is not a number", HISTOGRAM, le);
		for (j = 0; j < s->n_buckets && s->le[j] < bound; j++)
			;
		if (j == s->n_buckets || s->le[j] != bound) { /* a new bound: insert in order */
			if (s->n_buckets == WINDOW_MAX_BUCKETS)
				return err_set(err, PAT_EINVAL, "%s has more than %d buckets", HISTOGRAM, WINDOW_MAX_BUCKETS);
			memmove(&s->le[j + 1], &s->le[j], (s->n_buckets - j) * sizeof s->le[0]);
			memmove(&s->count[j + 1], &s->count[j], (s->n_buckets - j) * sizeof s->count[0]);
			s->le[j] = bound;
			s->count[j] = 0;
			s->n_buckets++;
		}
		s->count[j] += p->value;
	}
	if (s->n_buckets > 0 && !isinf(s->le[s->n_buckets - 1]))
		return err_set(err, PAT_EINVAL, "%s has no le=\"+Inf\" bucket", HISTOGRAM);
	return PAT_OK;
}

static double delta(double prev, double cur)
{
	return cur >= prev ? cur - prev : cur; /* reset: counted from zero */
}

double window_quantile(double q, const double *le, const double *count, size_t n)
{
	double total, rank, start, before;
	size_t i;

	if (n < 2 || !(count[n - 1] > 0))
		return NAN;
	total = count[n - 1];
	rank = q * total;
	for (i = 0; i < n - 1 && count[i] < rank; i++)
		;
	if (i == n - 1)
		return le[n - 2]; /* in the +Inf bucket: the highest finite bound */
	if (i == 0 && le[0] <= 0)
		return le[0];
	start = i == 0 ? 0 : le[i - 1];
	before = i == 0 ? 0 : count[i - 1];
	if (count[i] - before <= 0)
		return le[i];
	return start + (le[i] - start) * (rank - before) / (count[i] - before);
}

void window_build(const struct window_snapshot *prev, const struct window_snapshot *cur, double seconds,
		  int64_t end_ms, struct window *w)
{
	double received = delta(prev->received, cur->received), errors = delta(prev->errors, cur->errors);
	double counts[WINDOW_MAX_BUCKETS];
	bool reset = cur->n_buckets > 0 && prev->n_buckets == cur->n_buckets &&
		     cur->count[cur->n_buckets - 1] < prev->count[prev->n_buckets - 1];

	memset(w, 0, sizeof *w);
	w->end_ms = end_ms;
	w->seconds = seconds;
	w->f[WINDOW_RATE] = seconds > 0 ? received / seconds : 0;
	w->f[WINDOW_ERRORS] = received + errors > 0 ? errors / (received + errors) : 0;
	w->f[WINDOW_QUEUE] = cur->queue;
	/* Bucket deltas; a bound the previous scrape lacked counts from zero. */
	for (size_t i = 0; i < cur->n_buckets; i++) {
		double before = 0;

		for (size_t j = 0; !reset && j < prev->n_buckets; j++)
			if (prev->le[j] == cur->le[i])
				before = prev->count[j];
		counts[i] = delta(before, cur->count[i]);
	}
	for (size_t i = 1; i < cur->n_buckets; i++) /* keep them cumulative whatever happened */
		if (counts[i] < counts[i - 1])
			counts[i] = counts[i - 1];
	w->f[WINDOW_P95] = window_quantile(0.95, cur->le, counts, cur->n_buckets);
	w->f[WINDOW_P99] = window_quantile(0.99, cur->le, counts, cur->n_buckets);
}
