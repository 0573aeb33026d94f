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

/* The route table: pass as http_options.routes / n_routes. */
extern const struct http_route api_routes[];
extern const size_t api_n_routes;

#endif
