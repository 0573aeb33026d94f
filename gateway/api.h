/* api: Pat's HTTP endpoints: the route table (health checks, MailHog's API, Mailpit's API v1
 * and Pat's own API v3) and the handlers behind it. Every route is served by gateway/http;
 * MailHog's JSON comes from gateway/mailhog, Mailpit's from gateway/mime. */
#ifndef PAT_GATEWAY_API_H
#define PAT_GATEWAY_API_H

#include <stddef.h>

#include "gateway/http.h"
#include "gateway/ingest.h"

/* MailHog's page size: limit defaults to 50 and is capped at 250. */
#define API_MAILHOG_LIMIT 50
#define API_MAILHOG_MAX_LIMIT 250

/* What handlers need to know about the server: pass as http_options.app. */
struct api_context {
	const char *hostname;   /* this gateway's name (the release's sender is nobody@hostname) */
	long relay_timeout_ms;  /* how long a release may take */
	struct ingest *ingest;  /* where POST /api/v1/send stores its message (NULL: not served) */
	struct http_server *http; /* told of deletions, for live events (NULL: not told) */
	const char *version;    /* Pat's version, for /api/v1/info */
	int64_t started_ms;     /* wall clock at start, for /api/v1/info's uptime */
	struct chaos *chaos;    /* Mailpit's chaos triggers (GET/PUT /api/v1/chaos), or NULL */
};

/* The route table: pass as http_options.routes / n_routes. */
extern const struct http_route api_routes[];
extern const size_t api_n_routes;

/* http_options.render_event: MailHog's streams (/api/v1/events, /api/v2/websocket) get each new
 * message as MailHog's Message JSON; Mailpit's /api/events and Pat's /api/v3/events get their
 * own JSON of new and deleted messages. */
int api_render_event(void *app, struct dq_leader *l, const char *tenant, enum http_event_kind kind, const char *id,
		     int format, struct buf *out);

#endif
