/* webui: Pat's web UI: a page (index.html) and its assets (app.js, app.css), embedded in the
 * executable at build time and served by the gateway with strict security headers.
 *
 * The files live in gateway/webui/; deploy/embed.sh turns them into C arrays
 * (build/gen/webui_assets.c, never checked in), so nothing is read from disk at run time. The
 * page talks to the HTTP API only: it is plain JavaScript with no build step. */
#ifndef PAT_GATEWAY_WEBUI_H
#define PAT_GATEWAY_WEBUI_H

#include <stddef.h>

#include "gateway/http.h"

/* What every UI response carries (errors included). */
#define WEBUI_CSP                                                                                                      \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "          \
	"frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* One embedded file. */
struct webui_asset {
	const char *name;          /* its file name ("app.js") */
	const unsigned char *data; /* its bytes (NUL-terminated, the NUL not counted) */
	size_t len;
	const char *etag;          /* a strong ETag from its content, quoted */
};

/* The embedded files (build/gen/webui_assets.c). */
extern const struct webui_asset webui_assets[];
extern const size_t webui_n_assets;

/* The asset called name, or NULL. */
const struct webui_asset *webui_find(const char *name);
/* The Content-Type of a file name by its extension (application/octet-stream when unknown). */
const char *webui_content_type(const char *name);

/* Handlers (on the loop thread; no store): GET / (index.html) and GET /ui/{file}. */
void webui_get_index(struct http_call *c, struct dq_leader *l);
void webui_get_asset(struct http_call *c, struct dq_leader *l);

#endif
