/* promtext: the Prometheus text exposition format 0.0.4 read back into samples: what a scrape
 * of a gateway's /metrics returns, for the anomaly detector. Pure: text in, samples out. */
#ifndef PAT_ML_PROMTEXT_H
#define PAT_ML_PROMTEXT_H

#include <stddef.h>

#include "lib/err.h"

struct prom_label {
	char *name;
	char *value; /* unescaped */
};

struct prom_sample {
	char *name;                /* as written: pat_x_bucket, pat_x_sum, ... */
	struct prom_label *labels; /* in the order written */
	size_t n_labels;
	double value;              /* +Inf, -Inf and NaN included */
	long long timestamp_ms;    /* the sample's own timestamp (Unix ms), 0 when it has none */
};

struct prom_scrape {
	struct prom_sample *samples;
	size_t n;
};

/* Parse text (len bytes, need not be NUL-terminated). Comments (# HELP, # TYPE, others) and
 * blank lines are skipped; a sample's timestamp is kept in timestamp_ms. PAT_EINVAL names the line and
 * what was wrong (bad name, unterminated or badly escaped label value, missing or bad value);
 * nothing is kept then. PAT_ENOMEM. */
int promtext_parse(struct prom_scrape *s, const char *text, size_t len, struct pat_err *err);
void promtext_free(struct prom_scrape *s);

/* A sample's label value, or NULL when it has no such label. */
const char *prom_label(const struct prom_sample *s, const char *name);

/* Sum of the samples named name (whatever their labels). *found tells whether there was one. */
double promtext_sum(const struct prom_scrape *s, const char *name, int *found);

#endif
