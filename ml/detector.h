/* detector: the live anomaly detector's core. It keeps a rolling baseline of recent windows
 * (ml/window.h), retrains isolation forests (ml/iforest.h) on it periodically, scores each
 * new window, and classifies an anomalous one by how it departs from the baseline's medians:
 * a traffic spike or drop, a latency degradation, an error-rate increase or queue growth.
 * Pure computation: windows in, verdicts out; the caller does the scraping and alerting.
 *
 * Features are compared on a robust scale: z = (x - median) / scale, where scale is the larger
 * of 1.4826 x the median absolute deviation, 10 % of the median, and a floor per feature (so a
 * baseline that never moved does not make every small change infinite). Each feature has its
 * own forest, trained on the baseline's sign(z) log(1 + |z|) with a small deterministic jitter
 * plus sparse reference values spread over a wide range. One forest over all five features
 * was measured first and rejected: a split picks a feature at random, so a window that departs
 * in one feature only is isolated no sooner than the calm ones (a 30-scale spike scored 0.50,
 * calm windows up to 0.61); and without reference values every value beyond the baseline's
 * extremes follows the most extreme window's path and scores like it.
 *
 * A window's score is its most isolated feature's. It is anomalous when a feature has departed
 * by at least min_deviation in a direction that matters (more or less traffic; slower; more
 * errors; a longer queue) and that feature's score reaches the threshold; the most isolated
 * such feature names the kind. Every window joins the baseline, anomalous ones included, so a
 * lasting change of level becomes the new normal once it fills the baseline's median. */
#ifndef PAT_ML_DETECTOR_H
#define PAT_ML_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "ml/iforest.h"
#include "ml/window.h"

enum anomaly_kind {
	ANOMALY_TRAFFIC_SPIKE,
	ANOMALY_TRAFFIC_DROP,
	ANOMALY_LATENCY,
	ANOMALY_ERRORS,
	ANOMALY_QUEUE,
	ANOMALY_KINDS
};

/* "traffic_spike", "traffic_drop", "latency_degradation", "error_rate_increase", "queue_growth". */
extern const char *const anomaly_kind_names[ANOMALY_KINDS];

struct detector_options {
	size_t baseline_windows; /* windows kept in the rolling baseline (at least 8) */
	size_t min_windows;      /* windows needed before the first model; 0: min(30, baseline_windows) */
	size_t retrain_every;    /* windows between retrainings; 0: 30 */
	double threshold;        /* forest score from which a window may be anomalous; 0: 0.6 */
	double min_deviation;    /* robust z from which a feature counts as departed; 0: 4 */
	unsigned trees;          /* 0: 100 */
	uint64_t seed;           /* the forest's and the jitter's */
};

/* One anomalous window and what it was compared with. */
struct anomaly {
	enum anomaly_kind kind;
	double score;                      /* forest score, (0, 1] */
	bool critical;                     /* departure of at least 3 x min_deviation */
	struct window window;
	double baseline[WINDOW_FEATURES];  /* the baseline's medians */
	double deviation[WINDOW_FEATURES]; /* robust z of each feature (0 for a NaN feature) */
	size_t baseline_windows;           /* windows the model was trained on */
};

struct detector_verdict {
	bool scored;             /* a model exists and scored the window */
	double score;            /* when scored */
	bool anomalous;
	struct anomaly anomaly;  /* when anomalous */
};

struct detector {
	struct detector_options o;
	struct window *ring;             /* baseline_windows slots */
	size_t n;                        /* windows in it */
	size_t next;                     /* slot the next window goes to */
	struct iforest forest[WINDOW_FEATURES]; /* one per feature */
	bool trained;
	size_t since_training;           /* windows added since the model was made */
	size_t trained_on;               /* windows the model was made from */
	uint64_t trainings;              /* models made so far */
	double median[WINDOW_FEATURES];  /* of the windows the model was made from */
	double scale[WINDOW_FEATURES];
};

int detector_init(struct detector *d, const struct detector_options *o, struct pat_err *err);
void detector_free(struct detector *d);

/* Score w with the current model (none yet: not scored), then add it to the baseline and
 * retrain when due. w's NaN features (latency with no message) count as the median. */
int detector_feed(struct detector *d, const struct window *w, struct detector_verdict *v, struct pat_err *err);

/* "warning" or "critical". */
const char *anomaly_severity(const struct anomaly *a);
/* One line for people: "traffic spike on INSTANCE: ingest_rate 312/s, baseline 101/s". */
void anomaly_summary(const struct anomaly *a, const char *instance, char *out, size_t n);
/* The anomaly record as JSON (mem_free it): kind, severity, score, instance, time (RFC 3339),
 * window_seconds, features, baseline, deviation, baseline_windows, summary. */
int anomaly_to_json(const struct anomaly *a, const char *instance, char **json, struct pat_err *err);

#endif
