/* gateway_metrics: the Prometheus metrics of the SMTP gateway and the HTTP API, in the process
 * registry (lib/metrics); the HTTP route /metrics answers metrics_render(). docs/OPERATIONS.md
 * lists them. */
#ifndef PAT_GATEWAY_GATEWAY_METRICS_H
#define PAT_GATEWAY_GATEWAY_METRICS_H

#include "lib/metrics.h"

/* Why an SMTP command or connection was refused: the `reason` label of
 * pat_smtp_rejections_total. */
enum gateway_rejection {
	GATEWAY_REJECT_SIZE,       /* message larger than max_message_size (552) */
	GATEWAY_REJECT_RECIPIENTS, /* more than max_recipients (452 4.5.3) */
	GATEWAY_REJECT_SYNTAX,     /* unknown command, bad syntax or sequence (500-504, 555) */
	GATEWAY_REJECT_AUTH,       /* authentication required, failed or cancelled (530, 535, x.7.x) */
	GATEWAY_REJECT_LIMITS,     /* too many connections, in all or from one address (421 4.7.0) */
	GATEWAY_REJECT__COUNT
};

struct gateway_metrics {
	struct metric_family *received;   /* pat_emails_received_total{tenant,region}: stored and answered 250 */
	struct metric *failed;            /* pat_emails_failed_total: answered 451 (not stored) */
	struct metric *processing;        /* pat_email_processing_duration_seconds: end of DATA to 250 */
	struct metric *sessions;          /* pat_smtp_sessions: open now */
	struct metric *connections;       /* pat_smtp_connections_total: accepted by the listener */
	struct metric *rejections[GATEWAY_REJECT__COUNT]; /* pat_smtp_rejections_total{reason} */
	struct metric_family *api;        /* pat_api_requests_duration_seconds{route,method,code} */
	struct metric_family *build_info; /* pat_build_info{version,commit}: always 1 */
};

/* The metrics, registered on first use (any thread). Never NULL; a field is NULL when memory
 * ran out at registration, which the metric_* functions accept. */
const struct gateway_metrics *gateway_metrics(void);

/* Count an SMTP reply by its codes: a refusal under its reason, a 451 as a failed message;
 * other replies count nothing. */
void gateway_metrics_smtp_reply(const char *reply);
/* The reason a reply counts under, or -1. */
int gateway_metrics_rejection(const char *reply);

/* A message stored for tenant in region. */
void gateway_metrics_received(const char *tenant, const char *region);

/* One HTTP API request: route is the route's pattern (/api/v1/message/{id}), not the path, so
 * that ids do not multiply the series. */
void gateway_metrics_api_request(const char *route, const char *method, int code, double seconds);

/* Publish pat_build_info{version, commit} = 1. */
void gateway_metrics_build_info(const char *version, const char *commit);

#endif
