/* gateway_metrics: see gateway_metrics.h. SMTP refusals are counted where every reply passes
 * (smtp.c's reply()), classified by a table of reply codes, so a new refusal anywhere in the
 * command table is counted without another call. */
#include "gateway/gateway_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct gateway_metrics metrics;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *const reason_names[GATEWAY_REJECT__COUNT] = { "size", "recipients", "syntax", "auth", "limits" };

/* Reply prefixes and what they count as; the first match wins, so specific rows come first. */
static const struct {
	const char *prefix;
	int reason;
} reply_codes[] = {
	{ "552 ", GATEWAY_REJECT_SIZE },
	{ "452 4.5.3", GATEWAY_REJECT_RECIPIENTS },
	{ "421 4.7.0", GATEWAY_REJECT_LIMITS },
	{ "530 ", GATEWAY_REJECT_AUTH },
	{ "535 ", GATEWAY_REJECT_AUTH },
	{ "501 5.7.", GATEWAY_REJECT_AUTH },
	{ "500 ", GATEWAY_REJECT_SYNTAX },
	{ "501 ", GATEWAY_REJECT_SYNTAX },
	{ "502 ", GATEWAY_REJECT_SYNTAX },
	{ "503 ", GATEWAY_REJECT_SYNTAX },
	{ "504 ", GATEWAY_REJECT_SYNTAX },
	{ "555 ", GATEWAY_REJECT_SYNTAX },
};

/* End of DATA to the 250: milliseconds when the commit is local, seconds when it is slow. */
static const double processing_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
static const double api_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

static struct metric_family *family(const struct metric_desc *d)
{
	struct metric_family *f = NULL;
	struct metrics *r = metrics_default();
	struct pat_err err;

	if (r != NULL)
		metrics_register(r, d, &f, &err);
	return f;
}

static void init(void)
{
	static const char *const received_labels[] = { "tenant", "region", NULL };
	static const char *const reason_label[] = { "reason", NULL };
	static const char *const api_labels[] = { "route", "method", "code", NULL };
	static const char *const build_labels[] = { "version", "commit", NULL };
	struct metric_family *rejections;

	metrics.received = family(&(struct metric_desc){
		.name = "pat_emails_received_total", .type = METRIC_COUNTER, .labels = received_labels,
		.max_series = 1000,
		.help = "Messages stored and answered 250, by tenant and by the region of the gateway that took them." });
	metrics.failed = metrics_series(family(&(struct metric_desc){
		.name = "pat_emails_failed_total", .type = METRIC_COUNTER,
		.help = "Messages answered 451 because they could not be stored (the sender retries)." }), NULL);
	metrics.processing = metrics_series(family(&(struct metric_desc){
		.name = "pat_email_processing_duration_seconds", .type = METRIC_HISTOGRAM, .buckets = processing_buckets,
		.n_buckets = sizeof processing_buckets / sizeof processing_buckets[0],
		.help = "Time from the end of a message's DATA to its 250 reply (parsing, compression, group commit)." }), NULL);
	metrics.sessions = metrics_series(family(&(struct metric_desc){
		.name = "pat_smtp_sessions", .type = METRIC_GAUGE, .help = "SMTP sessions open now." }), NULL);
	metrics.connections = metrics_series(family(&(struct metric_desc){
		.name = "pat_smtp_connections_total", .type = METRIC_COUNTER,
		.help = "SMTP connections accepted by the listener, refused ones included." }), NULL);
	rejections = family(&(struct metric_desc){
		.name = "pat_smtp_rejections_total", .type = METRIC_COUNTER, .labels = reason_label,
		.help = "SMTP commands and connections refused, by reason: size, recipients, syntax, auth, limits." });
	for (int i = 0; i < GATEWAY_REJECT__COUNT; i++)
		metrics.rejections[i] = metrics_with(rejections, reason_names[i]);
	metrics.api = family(&(struct metric_desc){
		.name = "pat_api_requests_duration_seconds", .type = METRIC_HISTOGRAM, .labels = api_labels,
		.buckets = api_buckets, .n_buckets = sizeof api_buckets / sizeof api_buckets[0], .max_series = 500,
		.help = "HTTP API requests by route pattern, method and status code, and how long they took." });
	metrics.build_info = family(&(struct metric_desc){
		.name = "pat_build_info", .type = METRIC_GAUGE, .labels = build_labels, .max_series = 4,
		.help = "Always 1; the labels name the running version of Pat and the commit it was built from." });
}

const struct gateway_metrics *gateway_metrics(void)
{
	pthread_once(&once, init);
	return &metrics;
}

int gateway_metrics_rejection(const char *reply)
{
	for (size_t i = 0; i < sizeof reply_codes / sizeof reply_codes[0]; i++)
		if (strncmp(reply, reply_codes[i].prefix, strlen(reply_codes[i].prefix)) == 0)
			return reply_codes[i].reason;
	return -1;
}

void gateway_metrics_smtp_reply(const char *reply)
{
	const struct gateway_metrics *m = gateway_metrics();
	int reason;

	if (reply[0] != '4' && reply[0] != '5')
		return; /* the common case: one comparison */
	if ((reason = gateway_metrics_rejection(reply)) >= 0)
		metric_inc(m->rejections[reason]);
	else if (strncmp(reply, "451 ", 4) == 0)
		metric_inc(m->failed);
}

void gateway_metrics_received(const char *tenant, const char *region)
{
	metric_inc(metrics_with(gateway_metrics()->received, tenant != NULL ? tenant : "",
				region != NULL ? region : ""));
}

void gateway_metrics_api_request(const char *route, const char *method, int code, double seconds)
{
	char status[16];

	snprintf(status, sizeof status, "%d", code);
	metric_observe(metrics_with(gateway_metrics()->api, route, method, status), seconds);
}

void gateway_metrics_build_info(const char *version, const char *commit)
{
	metric_set(metrics_with(gateway_metrics()->build_info, version, commit), 1);
}
