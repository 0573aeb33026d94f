/* sinks: where anomalies go. Alerts: Alertmanager (POST /api/v2/alerts, labels alertname=PatAnomaly,
 * kind, severity, instance; annotations summary and description) and a generic webhook (POST of
 * the anomaly record). Scaling hooks: an executable run with the record on its standard input,
 * and a hook URL the record is POSTed to, each kind at most once per hook_min_interval.
 *
 * HTTP goes through libcurl with a timeout per attempt and retries with exponential backoff on
 * network errors, 5xx and 429 answers (never on other 4xx: a refused alert will not become
 * acceptable by asking again). Everything blocks: the caller (the watch loop) runs it between
 * scrapes. */
#ifndef PAT_ML_SINKS_H
#define PAT_ML_SINKS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"
#include "ml/detector.h"

struct sink_options {
	const char *alertmanager_url;  /* Alertmanager's base URL (http://host:9093), or NULL */
	const char *webhook_url;       /* receives every anomaly record, or NULL */
	const char *hook_command;      /* executable run with the record on stdin, or NULL */
	const char *hook_url;          /* receives the record when a hook is due, or NULL */
	int64_t hook_min_interval_ms;  /* per kind, between two hook runs */
	int timeout_ms;                /* per HTTP attempt; 0: 5000 */
	int retries;                   /* attempts after the first; -1: none; 0: 3 */
	int backoff_ms;                /* wait before the first retry, doubled each time; 0: 500 */
	int hook_timeout_ms;           /* the hook command is killed after this; 0: 30000 */
	/* Told of every action taken (an alert sent, a hook run) and its outcome, for the audit
	 * log; NULL: logged only. action: "anomaly.alert" or "anomaly.hook"; subject: the sink
	 * ("alertmanager", "webhook", the hook command or URL); detail: JSON. */
	void (*audit)(void *data, const char *action, const char *subject, const char *detail);
	void *audit_data;
};

struct sinks {
	struct sink_options o;
	bool hooked[ANOMALY_KINDS];           /* a hook ran for this kind */
	int64_t last_hook_ms[ANOMALY_KINDS];  /* when (monotonic) */
	unsigned hooks_run, hooks_suppressed; /* for logs and tests */
};

/* libcurl's global set-up, once per process (any thread). */
void sinks_global_init(void);

void sinks_init(struct sinks *s, const struct sink_options *o);

/* Send an anomaly everywhere configured; now_ms is the monotonic clock (for the rate limit).
 * Each outcome is logged; the number of sinks that failed is returned. */
int sinks_dispatch(struct sinks *s, const struct anomaly *a, const char *instance, int64_t now_ms);

/* Alertmanager's body for an anomaly: a JSON array of one alert (mem_free it). */
int sink_alert_json(const struct anomaly *a, const char *instance, char **json, struct pat_err *err);

/* POST json to url with o's timeout and retries; *status gets the last HTTP status (0: none).
 * PAT_OK on 2xx; PAT_EREMOTE on another status; PAT_EIO or PAT_ETIMEDOUT on network failures. */
int sink_post_json(const char *url, const char *json, const struct sink_options *o, long *status,
		   struct pat_err *err);

/* Run path with json on its standard input (and PAT_ANOMALY_KIND set when kind is not NULL),
 * waiting at most timeout_ms; *exit_status gets its exit status (128 + signal when killed).
 * PAT_ETIMEDOUT when it had to be killed, PAT_EIO when it could not be started. */
int sink_run_hook(const char *path, const char *json, const char *kind, int timeout_ms, int *exit_status,
		  struct pat_err *err);

#endif
