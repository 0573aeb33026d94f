/* metrics: see metrics.h.
 *
 * Values live in 64-bit atomics: counters and gauges hold the bits of a double (added to with a
 * compare-and-swap loop, which is uncontended almost always), histograms one count per bucket
 * (not cumulative: an observation touches one bucket) plus the bits of their sum. A family
 * finds its series through an open-addressing hash table whose slots are filled once and never
 * emptied, so a reader needs no lock: it loads a slot with acquire order and compares. Only
 * creating a series takes the family's mutex. Series are also kept in creation order for
 * rendering; `n_series` is published after the series it counts, so a renderer that reads it
 * sees complete series only. Nothing is freed before metrics_free(). */
#include "lib/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/mem.h"

struct metric {
	struct metric_family *f;
	char **values;              /* one per label name; NULL for a family without labels */
	uint64_t hash;              /* of the values */
	_Atomic uint64_t value;     /* counter, gauge: bits of a double; histogram: bits of the sum */
	_Atomic uint64_t *counts;   /* histogram: n_buckets + 1 counts, the last one for +Inf */
};

struct metric_family {
	struct metric_family *next; /* registration order */
	char *name;
	char *help;
	enum metric_type type;
	char **labels;              /* n_labels names */
	size_t n_labels;
	double *buckets;            /* histogram bounds */
	size_t n_buckets;
	size_t max_series;          /* cap on label sets (the overflow series not counted) */
	pthread_mutex_t mu;         /* serialises creating series */
	_Atomic(struct metric *) *table; /* open addressing, table_mask + 1 slots, never emptied */
	size_t table_mask;
	struct metric **series;     /* creation order, max_series slots */
	_Atomic size_t n_series;    /* published after series[n - 1] is complete */
	struct metric *overflow;    /* made at registration, so there is always somewhere to count */
	atomic_bool overflow_used;  /* rendered only once something went there */
};

struct collector {
	metrics_collect_fn fn;
	void *data;
	bool owns_data;         /* metrics_free() frees data (the process metrics' own) */
	struct collector *next;
};

struct metrics {
	pthread_mutex_t mu;          /* guards the lists, serialises renders */
	struct metric_family *first, *last;
	struct collector *collectors;
};

/* ---- doubles in atomics ---- */

static uint64_t bits_of(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof b);
	return b;
}

static double double_of(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof v);
	return v;
}

static void atomic_add_double(_Atomic uint64_t *a, double v)
{
	uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(a, &old, bits_of(double_of(old) + v), memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* ---- names and values ---- */

static bool valid_name(const char *s, bool colons)
{
	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      (colons && *s == ':')))
			return false;
	return true;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0; /* overlong, surrogate or beyond Unicode */
	return len;
}

/* True when v can be used as it is: valid UTF-8, not too long. */
static bool clean_value(const char *v)
{
	size_t n = strlen(v);

	if (n > METRICS_LABEL_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)v + i, n - i);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* v made usable into out (METRICS_LABEL_VALUE_MAX + 1 bytes): '?' for each invalid byte, cut
 * at a character boundary. */
static void clean_copy(const char *v, char *out)
{
	size_t n = strlen(v), o = 0;

	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq((const unsigned char *)v + i, n - i);

		if (k == 0) {
			if (o + 1 > METRICS_LABEL_VALUE_MAX)
				break;
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + k > METRICS_LABEL_VALUE_MAX)
			break;
		memcpy(out + o, v + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
}

static uint64_t hash_values(const char *const *v, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)v[i]; *p != '\0'; p++)
			h = (h ^ *p) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL; /* separator: ("a","bc") differs from ("ab","c") */
	}
	return h;
}

/* ---- series ---- */

static void series_free(struct metric *m, size_t n_labels)
{
	if (m == NULL)
		return;
	if (m->values != NULL)
		for (size_t i = 0; i < n_labels; i++)
			mem_free(m->values[i]);
	mem_free(m->values);
	mem_free((void *)m->counts);
	mem_free(m);
}

static struct metric *series_new(struct metric_family *f, const char *const *values, uint64_t hash)
{
	struct metric *m = mem_calloc(1, sizeof *m);

	if (m == NULL)
		return NULL;
	m->f = f;
	m->hash = hash;
	atomic_init(&m->value, bits_of(0.0));
	if (f->type == METRIC_HISTOGRAM) {
		m->counts = mem_calloc(f->n_buckets + 1, sizeof *m->counts);
		if (m->counts == NULL)
			goto fail;
		for (size_t i = 0; i <= f->n_buckets; i++)
			atomic_init(&m->counts[i], 0);
	}
	if (f->n_labels > 0) {
		m->values = mem_calloc(f->n_labels, sizeof *m->values);
		if (m->values == NULL)
			goto fail;
		for (size_t i = 0; i < f->n_labels; i++)
			if ((m->values[i] = mem_strdup(values[i])) == NULL)
				goto fail;
	}
	return m;
fail:
	series_free(m, f->n_labels);
	return NULL;
}

static bool same_values(const struct metric *m, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->values[i], values[i]) != 0)
			return false;
	return true;
}

/* The slot holding these values, or the empty slot where they would go. */
static size_t probe(struct metric_family *f, const char *const *values, uint64_t hash, struct metric **found)
{
	size_t i = (size_t)hash & f->table_mask;

	for (;;) {
		struct metric *m = atomic_load_explicit(&f->table[i], memory_order_acquire);

		if (m == NULL || (m->hash == hash && same_values(m, values, f->n_labels))) {
			*found = m;
			return i;
		}
		i = (i + 1) & f->table_mask;
	}
}

struct metric *metrics_series(struct metric_family *f, const char *const *values)
{
	char clean[METRICS_MAX_LABELS][METRICS_LABEL_VALUE_MAX + 1];
	const char *v[METRICS_MAX_LABELS];
	struct metric *m;
	size_t n = 0, slot, count;
	uint64_t hash;

	if (f == NULL)
		return NULL;
	if (f->n_labels == 0)
		return f->overflow; /* a family without labels has exactly one series */
	while (values != NULL && n <= f->n_labels && values[n] != NULL)
		n++;
	if (n != f->n_labels)
		goto overflow;
	for (size_t i = 0; i < n; i++) {
		if (clean_value(values[i])) {
			v[i] = values[i];
		} else {
			clean_copy(values[i], clean[i]);
			v[i] = clean[i];
		}
	}
	hash = hash_values(v, n);
	probe(f, v, hash, &m);
	if (m != NULL)
		return m;
	pthread_mutex_lock(&f->mu);
	slot = probe(f, v, hash, &m); /* someone may have made it meanwhile */
	count = atomic_load_explicit(&f->n_series, memory_order_relaxed);
	if (m == NULL && count < f->max_series && (m = series_new(f, v, hash)) != NULL) {
		f->series[count] = m;
		atomic_store_explicit(&f->table[slot], m, memory_order_release);
		atomic_store_explicit(&f->n_series, count + 1, memory_order_release);
	}
	pthread_mutex_unlock(&f->mu);
	if (m != NULL)
		return m;
overflow:
	atomic_store_explicit(&f->overflow_used, true, memory_order_relaxed);
	return f->overflow;
}

void metric_inc(struct metric *m)
{
	metric_add(m, 1.0);
}

void metric_add(struct metric *m, double v)
{
	if (m == NULL || m->f->type == METRIC_HISTOGRAM)
		return;
	if (m->f->type == METRIC_COUNTER && !(v >= 0))
		return;
	atomic_add_double(&m->value, v);
}

void metric_set(struct metric *m, double v)
{
	if (m == NULL || m->f->type == METRIC_HISTOGRAM)
		return;
	atomic_store_explicit(&m->value, bits_of(v), memory_order_relaxed);
}

void metric_observe(struct metric *m, double v)
{
	const struct metric_family *f;
	size_t lo = 0, hi;

	if (m == NULL || m->f->type != METRIC_HISTOGRAM || isnan(v))
		return;
	f = m->f;
	hi = f->n_buckets;
	while (lo < hi) { /* the first bound >= v; n_buckets (+Inf) when none */
		size_t mid = (lo + hi) / 2;

		if (f->buckets[mid] >= v)
			hi = mid;
		else
			lo = mid + 1;
	}
	atomic_fetch_add_explicit(&m->counts[lo], 1, memory_order_relaxed);
	atomic_add_double(&m->value, v);
}

double metric_value(const struct metric *m)
{
	return m != NULL ? double_of(atomic_load_explicit(&((struct metric *)m)->value, memory_order_relaxed)) : 0;
}

uint64_t metric_count(const struct metric *m)
{
	uint64_t n = 0;

	if (m == NULL || m->counts == NULL)
		return 0;
	for (size_t i = 0; i <= m->f->n_buckets; i++)
		n += atomic_load_explicit(&m->counts[i], memory_order_relaxed);
	return n;
}

size_t metrics_family_series(const struct metric_family *f)
{
	struct metric_family *mf = (struct metric_family *)f;

	if (f == NULL)
		return 0;
	if (f->n_labels == 0)
		return 1;
	return atomic_load_explicit(&mf->n_series, memory_order_acquire) +
	       (atomic_load_explicit(&mf->overflow_used, memory_order_relaxed) ? 1 : 0);
}

/* ---- registry ---- */

int metrics_new(struct metrics **out)
{
	struct metrics *r = mem_calloc(1, sizeof *r);

	*out = NULL;
	if (r == NULL)
		return PAT_ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	*out = r;
	return PAT_OK;
}

static void family_free(struct metric_family *f)
{
	size_t n = atomic_load(&f->n_series);

	for (size_t i = 0; i < n; i++)
		series_free(f->series[i], f->n_labels);
	series_free(f->overflow, f->n_labels);
	if (f->labels != NULL)
		for (size_t i = 0; i < f->n_labels; i++)
			mem_free(f->labels[i]);
	mem_free(f->labels);
	mem_free(f->name);
	mem_free(f->help);
	mem_free(f->buckets);
	mem_free((void *)f->table);
	mem_free(f->series);
	pthread_mutex_destroy(&f->mu);
	mem_free(f);
}

void metrics_free(struct metrics *r)
{
	if (r == NULL)
		return;
	for (struct metric_family *f = r->first, *next; f != NULL; f = next) {
		next = f->next;
		family_free(f);
	}
	for (struct collector *c = r->collectors, *next; c != NULL; c = next) {
		next = c->next;
		if (c->owns_data)
			mem_free(c->data);
		mem_free(c);
	}
	pthread_mutex_destroy(&r->mu);
	mem_free(r);
}

static int check_desc(struct metrics *r, const struct metric_desc *d, size_t n_labels, struct pat_err *err)
{
	if (!valid_name(d->name, true))
		return err_set(err, PAT_EINVAL, "metric name \"%s\" is not valid: expected [a-zA-Z_:][a-zA-Z0-9_:]*",
			       d->name != NULL ? d->name : "");
	if (d->type != METRIC_COUNTER && d->type != METRIC_GAUGE && d->type != METRIC_HISTOGRAM)
		return err_set(err, PAT_EINVAL, "metric %s: unknown type %d", d->name, (int)d->type);
	if (n_labels > METRICS_MAX_LABELS)
		return err_set(err, PAT_EINVAL, "metric %s: %zu labels; at most %d", d->name, n_labels, METRICS_MAX_LABELS);
	for (size_t i = 0; i < n_labels; i++) {
		const char *l = d->labels[i];

		if (!valid_name(l, false) || strncmp(l, "__", 2) == 0)
			return err_set(err, PAT_EINVAL, "metric %s: label name \"%s\" is not valid: expected "
					"[a-zA-Z_][a-zA-Z0-9_]* not starting with __", d->name, l);
		if (d->type == METRIC_HISTOGRAM && strcmp(l, "le") == 0)
			return err_set(err, PAT_EINVAL, "metric %s: a histogram may not have a label named le", d->name);
		for (size_t j = 0; j < i; j++)
			if (strcmp(d->labels[j], l) == 0)
				return err_set(err, PAT_EINVAL, "metric %s: label %s appears twice", d->name, l);
	}
	if (d->type == METRIC_HISTOGRAM) {
		if (d->n_buckets == 0 || d->buckets == NULL)
			return err_set(err, PAT_EINVAL, "metric %s: a histogram needs buckets", d->name);
		for (size_t i = 0; i < d->n_buckets; i++)
			if (!isfinite(d->buckets[i]) || (i > 0 && !(d->buckets[i] > d->buckets[i - 1])))
				return err_set(err, PAT_EINVAL, "metric %s: buckets must be finite and strictly increasing "
						"(bucket %zu is %g)", d->name, i + 1, d->buckets[i]);
	}
	for (struct metric_family *f = r->first; f != NULL; f = f->next)
		if (strcmp(f->name, d->name) == 0)
			return err_set(err, PAT_EINVAL, "metric %s is registered already", d->name);
	return PAT_OK;
}

int metrics_register(struct metrics *r, const struct metric_desc *d, struct metric_family **out, struct pat_err *err)
{
	const char *overflow[METRICS_MAX_LABELS];
	struct metric_family *f;
	size_t n_labels = 0, slots = 4;
	int rv;

	*out = NULL;
	while (d->labels != NULL && d->labels[n_labels] != NULL)
		n_labels++;
	pthread_mutex_lock(&r->mu);
	if ((rv = check_desc(r, d, n_labels, err)) != PAT_OK)
		goto out;
	rv = err_set(err, PAT_ENOMEM, "out of memory registering metric %s", d->name);
	if ((f = mem_calloc(1, sizeof *f)) == NULL)
		goto out;
	pthread_mutex_init(&f->mu, NULL);
	f->type = d->type;
	f->n_labels = n_labels;
	f->max_series = n_labels == 0 ? 0 : d->max_series > 0 ? d->max_series : METRICS_DEFAULT_MAX_SERIES;
	while (slots < 2 * f->max_series)
		slots *= 2;
	f->table_mask = slots - 1;
	f->name = mem_strdup(d->name);
	f->help = mem_strdup(d->help != NULL ? d->help : "");
	f->table = mem_calloc(slots, sizeof *f->table);
	f->series = mem_calloc(f->max_series + 1, sizeof *f->series);
	f->labels = n_labels > 0 ? mem_calloc(n_labels, sizeof *f->labels) : NULL;
	if (f->name == NULL || f->help == NULL || f->table == NULL || f->series == NULL || (n_labels > 0 && f->labels == NULL))
		goto fail;
	for (size_t i = 0; i < slots; i++)
		atomic_init(&f->table[i], NULL);
	atomic_init(&f->n_series, 0);
	atomic_init(&f->overflow_used, false);
	for (size_t i = 0; i < n_labels; i++) {
		if ((f->labels[i] = mem_strdup(d->labels[i])) == NULL)
			goto fail;
		overflow[i] = METRICS_OVERFLOW;
	}
	if (d->type == METRIC_HISTOGRAM) {
		f->n_buckets = d->n_buckets;
		if ((f->buckets = mem_alloc(d->n_buckets * sizeof *f->buckets)) == NULL)
			goto fail;
		memcpy(f->buckets, d->buckets, d->n_buckets * sizeof *f->buckets);
	}
	if ((f->overflow = series_new(f, overflow, 0)) == NULL)
		goto fail;
	if (r->last != NULL)
		r->last->next = f;
	else
		r->first = f;
	r->last = f;
	*out = f;
	err_clear(err);
	rv = PAT_OK;
	goto out;
fail:
	family_free(f);
out:
	pthread_mutex_unlock(&r->mu);
	return rv;
}

static int add_collector(struct metrics *r, metrics_collect_fn fn, void *data, bool owns_data)
{
	struct collector *c = mem_calloc(1, sizeof *c);

	if (c == NULL)
		return PAT_ENOMEM;
	c->fn = fn;
	c->data = data;
	c->owns_data = owns_data;
	pthread_mutex_lock(&r->mu);
	c->next = r->collectors;
	r->collectors = c;
	pthread_mutex_unlock(&r->mu);
	return PAT_OK;
}

int metrics_add_collector(struct metrics *r, metrics_collect_fn fn, void *data)
{
	return add_collector(r, fn, data, false);
}

/* ---- rendering ---- */

/* A sample value as Prometheus writes it: the shortest text that reads back the same. */
static void format_double(char *out, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
	} else if (isinf(v)) {
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
	} else {
		snprintf(out, n, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, n, "%.17g", v);
	}
}

/* Escape for # HELP (backslash, newline) or for a label value (also the double quote). */
static int append_escaped(struct buf *out, const char *s, bool quote)
{
	int rv = PAT_OK;

	for (const char *run = s;; s++) {
		if (*s != '\0' && *s != '\\' && *s != '\n' && !(quote && *s == '"'))
			continue;
		rv |= buf_append(out, run, (size_t)(s - run));
		if (*s == '\0')
			break;
		rv |= buf_append_str(out, *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : "\\\"");
		run = s + 1;
	}
	return rv;
}

/* name{labels[,le="bound"]} value */
static int sample(struct buf *out, const struct metric *m, const char *suffix, const char *le, double value)
{
	const struct metric_family *f = m->f;
	char text[64];
	int rv = buf_printf(out, "%s%s", f->name, suffix);

	if (f->n_labels > 0 || le != NULL) {
		rv |= buf_append_char(out, '{');
		for (size_t i = 0; i < f->n_labels; i++) {
			rv |= buf_printf(out, "%s%s=\"", i > 0 ? "," : "", f->labels[i]);
			rv |= append_escaped(out, m->values[i], true);
			rv |= buf_append_char(out, '"');
		}
		if (le != NULL)
			rv |= buf_printf(out, "%sle=\"%s\"", f->n_labels > 0 ? "," : "", le);
		rv |= buf_append_char(out, '}');
	}
	format_double(text, sizeof text, value);
	rv |= buf_printf(out, " %s\n", text);
	return rv;
}

static int render_series(struct buf *out, const struct metric *m)
{
	const struct metric_family *f = m->f;
	uint64_t cumulative = 0;
	char le[64];
	int rv = PAT_OK;

	if (f->type != METRIC_HISTOGRAM)
		return sample(out, m, "", NULL, metric_value(m));
	/* _count is the +Inf bucket by construction, so the two always agree. */
	for (size_t i = 0; i <= f->n_buckets; i++) {
		cumulative += atomic_load_explicit(&m->counts[i], memory_order_relaxed);
		if (i < f->n_buckets)
			format_double(le, sizeof le, f->buckets[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		rv |= sample(out, m, "_bucket", le, (double)cumulative);
	}
	rv |= sample(out, m, "_sum", NULL, metric_value(m));
	rv |= sample(out, m, "_count", NULL, (double)cumulative);
	return rv;
}

static int render_family(struct buf *out, struct metric_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	size_t n = atomic_load_explicit(&f->n_series, memory_order_acquire);
	int rv = buf_printf(out, "# HELP %s ", f->name);

	rv |= append_escaped(out, f->help, false);
	rv |= buf_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
	for (size_t i = 0; i < n; i++)
		rv |= render_series(out, f->series[i]);
	if (f->n_labels == 0 || atomic_load_explicit(&f->overflow_used, memory_order_relaxed))
		rv |= render_series(out, f->overflow);
	return rv;
}

int metrics_render_registry(struct metrics *r, struct buf *out)
{
	size_t start = out->len;
	int rv = PAT_OK;

	pthread_mutex_lock(&r->mu);
	for (struct collector *c = r->collectors; c != NULL; c = c->next)
		c->fn(c->data);
	for (struct metric_family *f = r->first; f != NULL && rv == PAT_OK; f = f->next)
		rv = render_family(out, f) != PAT_OK ? PAT_ENOMEM : PAT_OK;
	pthread_mutex_unlock(&r->mu);
	if (rv != PAT_OK && out->data != NULL) {
		out->len = start; /* never half a family */
		out->data[start] = '\0';
	}
	return rv;
}

/* ---- process metrics ---- */

struct process_metrics {
	struct metric *cpu, *rss, *vsize, *start, *fds, *max_fds;
};

static void collect_process(void *data)
{
	struct process_metrics *p = data;
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char text[1024], *s;
	FILE *f;
	size_t n;

	if ((f = fopen("/proc/self/stat", "r")) != NULL) {
		n = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		text[n] = '\0';
		/* Fields after the command name, which is in parentheses and may hold anything. */
		if ((s = strrchr(text, ')')) != NULL && ticks > 0) {
			unsigned long utime, stime, vsize;
			unsigned long long starttime;
			long rss;

			if (sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu %lu %ld",
				   &utime, &stime, &starttime, &vsize, &rss) == 5) {
				metric_set(p->cpu, (double)(utime + stime) / (double)ticks);
				metric_set(p->vsize, (double)vsize);
				metric_set(p->rss, (double)rss * (double)page);
				if ((f = fopen("/proc/stat", "r")) != NULL) {
					char line[256];
					unsigned long long btime;

					while (fgets(line, sizeof line, f) != NULL)
						if (sscanf(line, "btime %llu", &btime) == 1)
							metric_set(p->start, (double)btime + (double)starttime / (double)ticks);
					fclose(f);
				}
			}
		}
	}
	{
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;
		long count = 0;

		if (d != NULL) {
			while ((e = readdir(d)) != NULL)
				count += e->d_name[0] != '.';
			closedir(d);
			metric_set(p->fds, (double)(count - 1)); /* not the directory stream's own */
		}
	}
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
			metric_set(p->max_fds, rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
	}
}

int metrics_register_process(struct metrics *r, struct pat_err *err)
{
	static const struct metric_desc descs[] = {
		{ .name = "process_cpu_seconds_total", .help = "Total user and system CPU time spent in seconds.", .type = METRIC_COUNTER },
		{ .name = "process_resident_memory_bytes", .help = "Resident memory size in bytes.", .type = METRIC_GAUGE },
		{ .name = "process_virtual_memory_bytes", .help = "Virtual memory size in bytes.", .type = METRIC_GAUGE },
		{ .name = "process_start_time_seconds", .help = "Start time of the process since unix epoch in seconds.", .type = METRIC_GAUGE },
		{ .name = "process_open_fds", .help = "Number of open file descriptors.", .type = METRIC_GAUGE },
		{ .name = "process_max_fds", .help = "Maximum number of open file descriptors.", .type = METRIC_GAUGE },
	};
	struct process_metrics *p = mem_calloc(1, sizeof *p);
	int rv;

	if (p == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	struct metric **slots[] = { &p->cpu, &p->rss, &p->vsize, &p->start, &p->fds, &p->max_fds };
	for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
		struct metric_family *f;

		if ((rv = metrics_register(r, &descs[i], &f, err)) != PAT_OK) {
			mem_free(p);
			return rv;
		}
		*slots[i] = metrics_series(f, NULL);
	}
	if (add_collector(r, collect_process, p, true) != PAT_OK) {
		mem_free(p);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	return PAT_OK;
}

/* ---- the process's registry ---- */

static struct metrics *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
	struct metrics *r;
	struct pat_err err;

	if (metrics_new(&r) != PAT_OK)
		return;
	if (metrics_register_process(r, &err) != PAT_OK) {
		metrics_free(r);
		return;
	}
	default_registry = r;
}

struct metrics *metrics_default(void)
{
	pthread_once(&default_once, default_init);
	return default_registry;
}

int metrics_render(struct buf *out)
{
	struct metrics *r = metrics_default();

	return r != NULL ? metrics_render_registry(r, out) : PAT_ENOMEM;
}
