/* detector: see detector.h. */
#include "ml/detector.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/timeutil.h"

const char *const anomaly_kind_names[ANOMALY_KINDS] = {
	"traffic_spike", "traffic_drop", "latency_degradation", "error_rate_increase", "queue_growth",
};

/* The smallest scale of each feature: 0.2 messages/s, 1 ms, 1 percentage point, 5 messages. */
static const double scale_floor[WINDOW_FEATURES] = { 0.2, 0.001, 0.001, 0.01, 5 };
#define RELATIVE_FLOOR 0.1
#define Z_MAX 1e6
/* Reference values spread uniformly over the squashed range +-ANCHOR_BOX, one per
 * ANCHOR_EVERY baseline windows: they give the forest's splits room beyond the baseline's
 * extremes, so that a value far outside them is isolated in few splits (without them every such
 * value would share the path of the most extreme baseline window and score like it). */
#define ANCHOR_EVERY 8
#define ANCHOR_BOX 8.0
#define JITTER 0.25

int detector_init(struct detector *d, const struct detector_options *o, struct pat_err *err)
{
	memset(d, 0, sizeof *d);
	d->o = *o;
	if (d->o.baseline_windows < 8)
		return err_set(err, PAT_EINVAL, "the baseline needs at least 8 windows, not %zu", d->o.baseline_windows);
	if (d->o.min_windows == 0)
		d->o.min_windows = d->o.baseline_windows < 30 ? d->o.baseline_windows : 30;
	if (d->o.min_windows < 8 || d->o.min_windows > d->o.baseline_windows)
		return err_set(err, PAT_EINVAL, "min_windows must be from 8 to the baseline's %zu windows",
			       d->o.baseline_windows);
	if (d->o.retrain_every == 0)
		d->o.retrain_every = 30;
	if (d->o.threshold == 0)
		d->o.threshold = 0.6;
	if (!(d->o.threshold > 0 && d->o.threshold < 1))
		return err_set(err, PAT_EINVAL, "the threshold must lie between 0 and 1, not %g", d->o.threshold);
	if (d->o.min_deviation == 0)
		d->o.min_deviation = 4;
	if (d->o.trees == 0)
		d->o.trees = IFOREST_DEFAULT_TREES;
	d->ring = mem_calloc(d->o.baseline_windows, sizeof *d->ring);
	if (d->ring == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	return PAT_OK;
}

void detector_free(struct detector *d)
{
	if (d->trained)
		for (int f = 0; f < WINDOW_FEATURES; f++)
			iforest_free(&d->forest[f]);
	mem_free(d->ring);
	memset(d, 0, sizeof *d);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of the non-NaN values of v (n of them; sorted in place); NaN when there are none. */
static double median_of(double *v, size_t n)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[m++] = v[i];
	if (m == 0)
		return NAN;
	qsort(v, m, sizeof *v, cmp_double);
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

static double z_of(const struct detector *d, const struct window *w, int f)
{
	double x = w->f[f], z;

	if (isnan(x) || isnan(d->median[f]))
		return 0;
	z = (x - d->median[f]) / d->scale[f];
	return z > Z_MAX ? Z_MAX : z < -Z_MAX ? -Z_MAX : z;
}

/* Deterministic jitter in [-0.5, 0.5): splitmix64. */
static double jitter(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0 - 0.5;
}

/* sign(z) log(1 + |z|): the forest sees the calm middle in detail and the tails compressed. */
static double squash(double z)
{
	return z >= 0 ? log1p(z) : -log1p(-z);
}

static int train(struct detector *d, struct pat_err *err)
{
	size_t n = d->n, total = n + n / ANCHOR_EVERY;
	double *col = mem_alloc(total * sizeof *col);
	struct iforest_params p = { d->o.trees, IFOREST_DEFAULT_SAMPLE, d->o.seed };
	struct iforest forest[WINDOW_FEATURES];
	uint64_t noise = d->o.seed ^ (d->trainings * 0x5851f42d4c957f2dULL);
	int f, rv = PAT_OK;

	if (col == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	for (f = 0; f < WINDOW_FEATURES; f++) {
		double med, mad;

		for (size_t i = 0; i < n; i++)
			col[i] = d->ring[i].f[f];
		med = median_of(col, n);
		for (size_t i = 0; i < n; i++)
			col[i] = isnan(d->ring[i].f[f]) || isnan(med) ? NAN : fabs(d->ring[i].f[f] - med);
		mad = median_of(col, n);
		d->median[f] = med;
		d->scale[f] = scale_floor[f];
		if (!isnan(mad) && 1.4826 * mad > d->scale[f])
			d->scale[f] = 1.4826 * mad;
		if (!isnan(med) && RELATIVE_FLOOR * fabs(med) > d->scale[f])
			d->scale[f] = RELATIVE_FLOOR * fabs(med);
	}
	for (f = 0; f < WINDOW_FEATURES && rv == PAT_OK; f++) {
		for (size_t i = 0; i < n; i++)
			col[i] = squash(z_of(d, &d->ring[i], f)) + 2 * JITTER * jitter(&noise);
		for (size_t i = n; i < total; i++)
			col[i] = 2 * ANCHOR_BOX * jitter(&noise);
		rv = iforest_fit(&forest[f], col, total, 1, &p, err);
	}
	mem_free(col);
	if (rv != PAT_OK) {
		for (int g = 0; g < f - 1; g++)
			iforest_free(&forest[g]);
		return rv;
	}
	if (d->trained)
		for (f = 0; f < WINDOW_FEATURES; f++)
			iforest_free(&d->forest[f]);
	memcpy(d->forest, forest, sizeof forest);
	d->trained = true;
	d->trained_on = n;
	d->since_training = 0;
	d->trainings++;
	return PAT_OK;
}

/* Departures that matter: the feature, the direction, the kind they show. */
static const struct {
	int feature;
	double sign;
	enum anomaly_kind kind;
} departures[] = {
	{ WINDOW_RATE, +1, ANOMALY_TRAFFIC_SPIKE }, { WINDOW_RATE, -1, ANOMALY_TRAFFIC_DROP },
	{ WINDOW_P95, +1, ANOMALY_LATENCY },        { WINDOW_P99, +1, ANOMALY_LATENCY },
	{ WINDOW_ERRORS, +1, ANOMALY_ERRORS },      { WINDOW_QUEUE, +1, ANOMALY_QUEUE },
};

int detector_feed(struct detector *d, const struct window *w, struct detector_verdict *v, struct pat_err *err)
{
	memset(v, 0, sizeof *v);
	if (d->trained) {
		double z[WINDOW_FEATURES], score[WINDOW_FEATURES], best = 0, best_dev = 0;
		int kind = -1;

		v->scored = true;
		for (int f = 0; f < WINDOW_FEATURES; f++) {
			double x;

			z[f] = z_of(d, w, f);
			x = squash(z[f]);
			score[f] = iforest_score(&d->forest[f], &x);
			v->score = score[f] > v->score ? score[f] : v->score;
		}
		/* The kind: the most isolated feature among those departed far enough the wrong way. */
		for (size_t i = 0; i < sizeof departures / sizeof departures[0]; i++) {
			int f = departures[i].feature;
			double dev = departures[i].sign * z[f];

			if (dev >= d->o.min_deviation && (score[f] > best || (score[f] == best && dev > best_dev))) {
				best = score[f];
				best_dev = dev;
				kind = (int)departures[i].kind;
			}
		}
		if (kind >= 0 && best >= d->o.threshold) {
			struct anomaly *a = &v->anomaly;

			v->anomalous = true;
			a->kind = (enum anomaly_kind)kind;
			a->score = best;
			a->critical = best_dev >= 3 * d->o.min_deviation;
			a->window = *w;
			memcpy(a->baseline, d->median, sizeof a->baseline);
			memcpy(a->deviation, z, sizeof a->deviation);
			a->baseline_windows = d->trained_on;
		}
	}
	d->ring[d->next] = *w;
	d->next = (d->next + 1) % d->o.baseline_windows;
	if (d->n < d->o.baseline_windows)
		d->n++;
	d->since_training++;
	if ((!d->trained && d->n >= d->o.min_windows) || (d->trained && d->since_training >= d->o.retrain_every))
		return train(d, err);
	return PAT_OK;
}

const char *anomaly_severity(const struct anomaly *a)
{
	return a->critical ? "critical" : "warning";
}

void anomaly_summary(const struct anomaly *a, const char *instance, char *out, size_t n)
{
	static const char *const what[ANOMALY_KINDS] = { "traffic spike", "traffic drop", "latency degradation",
							  "error rate increase", "queue growth" };
	static const char *const units[WINDOW_FEATURES] = { "/s", " s", " s", "", " messages" };
	int f = a->kind == ANOMALY_TRAFFIC_SPIKE || a->kind == ANOMALY_TRAFFIC_DROP ? WINDOW_RATE
		: a->kind == ANOMALY_LATENCY ? (a->deviation[WINDOW_P99] > a->deviation[WINDOW_P95] ? WINDOW_P99 : WINDOW_P95)
		: a->kind == ANOMALY_ERRORS ? WINDOW_ERRORS
					    : WINDOW_QUEUE;

	snprintf(out, n, "%s on %s: %s %.4g%s against a baseline of %.4g%s (score %.2f)", what[a->kind], instance,
		 window_feature_names[f], a->window.f[f], units[f], a->baseline[f], units[f], a->score);
}

/* A number, or null for NaN (JSON has no NaN). */
static json_t *number(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

int anomaly_to_json(const struct anomaly *a, const char *instance, char **json, struct pat_err *err)
{
	json_t *doc = json_object(), *features = json_object(), *baseline = json_object(), *deviation = json_object();
	char time[TIME_RFC3339_SIZE], summary[512], *text;
	int bad = doc == NULL || features == NULL || baseline == NULL || deviation == NULL;

	*json = NULL;
	time_format_rfc3339(time, sizeof time, a->window.end_ms);
	anomaly_summary(a, instance, summary, sizeof summary);
	for (int f = 0; f < WINDOW_FEATURES && !bad; f++) {
		bad |= json_object_set_new(features, window_feature_names[f], number(a->window.f[f]));
		bad |= json_object_set_new(baseline, window_feature_names[f], number(a->baseline[f]));
		bad |= json_object_set_new(deviation, window_feature_names[f], number(a->deviation[f]));
	}
	if (!bad) {
		bad |= json_object_set_new(doc, "kind", json_string(anomaly_kind_names[a->kind]));
		bad |= json_object_set_new(doc, "severity", json_string(anomaly_severity(a)));
		bad |= json_object_set_new(doc, "score", json_real(a->score));
		bad |= json_object_set_new(doc, "instance", json_string(instance));
		bad |= json_object_set_new(doc, "time", json_string(time));
		bad |= json_object_set_new(doc, "window_seconds", json_real(a->window.seconds));
		bad |= json_object_set_new(doc, "features", features);
		bad |= json_object_set_new(doc, "baseline", baseline);
		bad |= json_object_set_new(doc, "deviation", deviation);
		bad |= json_object_set_new(doc, "baseline_windows", json_integer((json_int_t)a->baseline_windows));
		bad |= json_object_set_new(doc, "summary", json_string(summary));
		features = baseline = deviation = NULL; /* the document owns them now, whatever happened */
	}
	text = bad ? NULL : json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(features);
	json_decref(baseline);
	json_decref(deviation);
	json_decref(doc);
	if (text != NULL) {
		*json = mem_strdup(text);
		free(text);
	}
	return *json != NULL ? PAT_OK : err_set(err, PAT_ENOMEM, "out of memory building the anomaly record");
}
