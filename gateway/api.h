/* api: Pat's HTTP endpoints: the route table (health checks and MailHog's API) and the
 * handlers behind it. Every route is served by gateway/http; MailHog's JSON comes from
 * gateway/mailhog. */
#ifndef PAT_GATEWAY_API_H
#define PAT_GATEWAY_API_H

#include <stddef.h>

#include "gateway/http.h"

/* MailHog's page size: limit defaults to 50 and is capped at 250. */
#define API_MAILHOG_LIMIT 50
#define API_MAILHOG_MAX_LIMIT 250

/* What handlers need to know about the server: pass as http_options.app. */
struct api_context {
	const char *hostname;   /* this gateway's name (the release's sender is nobody@hostname) */
	long relay_timeout_ms;  /* how long a release may take */
};

/* The route table: pass as http_options.routes / n_routes. */
extern const struct http_route api_routes[];
extern const size_t api_n_routes;

/* http_options.render_event: a new message as MailHog's Message JSON (MailHog's
 * /api/v1/events and /api/v2/websocket send exactly that). */
int api_render_event(void *app, struct dq_leader *l, const char *tenant, const char *id, struct buf *out);

#endif
