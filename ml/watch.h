/* watch: the anomaly service. Every interval it scrapes each watched gateway's /metrics, makes
 * a window from that scrape and the previous one, feeds the target's own detector, and sends
 * each anomaly to the sinks. One thread, blocking calls: scrapes, alerts and hooks take turns. */
#ifndef PAT_ML_WATCH_H
#define PAT_ML_WATCH_H

#include <signal.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "ml/detector.h"
#include "ml/sinks.h"

struct watch_options {
	const char *targets;        /* metrics URLs, comma-separated (http, https, or file for replays) */
	int64_t interval_ms;        /* between scrapes */
	int scrape_timeout_ms;      /* 0: the interval, at most 10 s */
	struct detector_options detector;
	struct sink_options sinks;
};

/* Scrape until *stop is set (a signal handler may set it); failures of a target are logged and
 * it is tried again next interval. PAT_EINVAL for bad options (no target, a bad URL). */
int watch_run(const struct watch_options *o, volatile sig_atomic_t *stop, struct pat_err *err);

/* GET url into out (appended). PAT_EIO / PAT_ETIMEDOUT / PAT_EREMOTE (a status other than 200). */
int watch_scrape(const char *url, int timeout_ms, struct buf *out, struct pat_err *err);

/* The instance label of a target: "host:port" of an http(s) URL, the path of a file URL. */
void watch_instance(const char *url, char *out, size_t n);

#endif
