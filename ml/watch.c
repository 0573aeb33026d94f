/* watch: see watch.h. */
#include "ml/watch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "ml/promtext.h"
#include "ml/window.h"

#define SCRAPE_MAX_BYTES (32u << 20)

/* One watched gateway. */
struct target {
	char *url;
	char instance[256];
	struct detector detector;
	struct window_snapshot last;  /* the previous scrape */
	bool have_last;
	int64_t last_ms;              /* its time (monotonic) */
	bool failing;                 /* the last scrape failed (log the recovery once) */
};

static size_t collect(char *data, size_t size, size_t n, void *user)
{
	struct buf *b = user;

	if (b->len + size * n > SCRAPE_MAX_BYTES || buf_append(b, data, size * n) != PAT_OK)
		return 0; /* too large, or out of memory: abort the transfer */
	return size * n;
}

int watch_scrape(const char *url, int timeout_ms, struct buf *out, struct pat_err *err)
{
	CURL *curl;
	CURLcode c;
	long status = 0;
	int rv = PAT_OK;

	sinks_global_init();
	if ((curl = curl_easy_init()) == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "pat-anomaly");
	c = curl_easy_perform(curl);
	if (c != CURLE_OK)
		rv = err_set(err, c == CURLE_OPERATION_TIMEDOUT ? PAT_ETIMEDOUT : PAT_EIO, "GET %s: %s", url,
			     c == CURLE_WRITE_ERROR ? "larger than 32 MiB, or out of memory" : curl_easy_strerror(c));
	else if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status != 0 && status != 200)
		rv = err_set(err, PAT_EREMOTE, "GET %s: HTTP status %ld", url, status);
	curl_easy_cleanup(curl);
	return rv;
}

void watch_instance(const char *url, char *out, size_t n)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;

	str_copy(out, url, n);
	if (u == NULL)
		return;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
		if (strcmp(scheme, "file") == 0) {
			if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK)
				str_copy(out, path, n);
		} else if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
			   curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
			snprintf(out, n, "%s:%s", host, port);
		}
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
}

/* Scrape one target and feed its detector. A window shorter than min_window_ms is not
 * scored: the next scrape makes it longer (see below). */
static void poll_target(struct target *t, int timeout_ms, int64_t min_window_ms, struct sinks *sinks)
{
	struct buf text = BUF_INIT;
	struct prom_scrape scrape = { NULL, 0 };
	struct window_snapshot snap;
	struct detector_verdict v;
	struct pat_err err;
	int64_t now = time_mono_ms();
	int rv;

	rv = watch_scrape(t->url, timeout_ms, &text, &err);
	if (rv == PAT_OK)
		rv = promtext_parse(&scrape, text.data != NULL ? text.data : "", text.len, &err);
	if (rv == PAT_OK)
		rv = window_snapshot_read(&snap, &scrape, &err);
	promtext_free(&scrape);
	buf_free(&text);
	if (rv != PAT_OK) {
		if (!t->failing)
			log_warn("scrape failed", "instance=%s url=%s error=%s", t->instance, t->url, err.msg);
		t->failing = true;
		t->have_last = false; /* the next window starts from the next good scrape */
		return;
	}
	if (t->failing)
		log_info("scrape recovered", "instance=%s url=%s", t->instance, t->url);
	t->failing = false;
	if (t->have_last) {
		struct window w;
		double seconds = (double)(now - t->last_ms) / 1000.0;

		/* Samples that carry their own timestamps (a file written by a script, or a scrape
		 * relayed late) are timed by them, not by when they were read: a writer that fell
		 * behind by a fraction of a second would otherwise look like a drop in traffic and
		 * then a spike. Nothing newer than the last time: no window. */
		if (snap.at_ms > 0 && t->last.at_ms > 0) {
			if (snap.at_ms <= t->last.at_ms)
				return;
			seconds = (double)(snap.at_ms - t->last.at_ms) / 1000.0;
		}
		/* Two scrapes close together (the one before was late) make a window of a few
		 * counts, where one rejection more or less is a rate of several percent: keep the
		 * last scrape as the window's start and let the next one close it. */
		if (seconds * 1000.0 < (double)min_window_ms)
			return;
		window_build(&t->last, &snap, seconds, time_wall_ms(), &w);
		if (detector_feed(&t->detector, &w, &v, &err) != PAT_OK)
			log_error("detector failed", "instance=%s error=%s", t->instance, err.msg);
		log_debug("window", "instance=%s rate=%.3f p95=%.4f p99=%.4f errors=%.4f queue=%.0f scored=%d score=%.3f",
			  t->instance, w.f[WINDOW_RATE], w.f[WINDOW_P95], w.f[WINDOW_P99], w.f[WINDOW_ERRORS],
			  w.f[WINDOW_QUEUE], v.scored, v.score);
		if (v.anomalous)
			sinks_dispatch(sinks, &v.anomaly, t->instance, now);
	}
	t->last = snap;
	t->last_ms = now;
	t->have_last = true;
}

static void free_targets(struct target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mem_free(t[i].url);
		if (t[i].detector.ring != NULL)
			detector_free(&t[i].detector);
	}
	mem_free(t);
}

int watch_run(const struct watch_options *o, volatile sig_atomic_t *stop, struct pat_err *err)
{
	struct target *targets = NULL;
	struct sinks sinks;
	size_t n = 0, cap = 0;
	const char *p = o->targets;
	int timeout_ms = o->scrape_timeout_ms > 0 ? o->scrape_timeout_ms
			 : o->interval_ms < 10000 ? (int)o->interval_ms : 10000;
	int rv = PAT_OK;

	if (p == NULL || *p == '\0')
		return err_set(err, PAT_EINVAL, "nothing to watch: no metrics URL given");
	if (o->interval_ms <= 0)
		return err_set(err, PAT_EINVAL, "the interval must be above zero");
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (len > 0) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				struct target *nt = mem_realloc(targets, ncap * sizeof *nt);

				if (nt == NULL) {
					rv = err_set(err, PAT_ENOMEM, "out of memory");
					goto out;
				}
				targets = nt;
				cap = ncap;
			}
			memset(&targets[n], 0, sizeof targets[n]);
			if ((targets[n].url = mem_strndup(p, len)) == NULL) {
				rv = err_set(err, PAT_ENOMEM, "out of memory");
				goto out;
			}
			n++;
			str_trim(targets[n - 1].url);
			watch_instance(targets[n - 1].url, targets[n - 1].instance, sizeof targets[n - 1].instance);
			if ((rv = detector_init(&targets[n - 1].detector, &o->detector, err)) != PAT_OK)
				goto out;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	sinks_init(&sinks, &o->sinks);
	log_info("anomaly detector watching", "targets=%zu interval_ms=%lld baseline_windows=%zu", n,
		 (long long)o->interval_ms, o->detector.baseline_windows);
	while (!*stop) {
		int64_t next = time_mono_ms() + o->interval_ms;

		for (size_t i = 0; i < n && !*stop; i++)
			poll_target(&targets[i], timeout_ms, o->interval_ms / 2, &sinks);
		while (!*stop && time_mono_ms() < next) {
			int64_t left = next - time_mono_ms();
			struct timespec t = { 0, (long)(left < 100 ? left : 100) * 1000000 };

			if (left > 0)
				nanosleep(&t, NULL);
		}
	}
	log_info("anomaly detector stopped", "");
out:
	free_targets(targets, n);
	return rv;
}
