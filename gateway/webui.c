/* webui: see webui.h. */
#include "gateway/webui.h"

#include <string.h>

/* Content types by extension. */
static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
};

const struct webui_asset *webui_find(const char *name)
{
	for (size_t i = 0; i < webui_n_assets; i++)
		if (strcmp(webui_assets[i].name, name) == 0)
			return &webui_assets[i];
	return NULL;
}

const char *webui_content_type(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		size_t e = strlen(types[i].ext);

		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

/* The headers of every UI response, errors included: the page may load nothing from
 * elsewhere, run no inline script, and be framed by no one. */
static void security_headers(struct http_call *c)
{
	http_reply_header(c, "content-security-policy", WEBUI_CSP);
	http_reply_header(c, "x-content-type-options", "nosniff");
	http_reply_header(c, "referrer-policy", "no-referrer");
}

/* Does If-None-Match name etag (or "*")? */
static bool etag_matches(const char *if_none_match, const char *etag)
{
	return if_none_match != NULL && (strcmp(if_none_match, "*") == 0 || strstr(if_none_match, etag) != NULL);
}

static void reply_asset(struct http_call *c, const char *name)
{
	const struct webui_asset *a = webui_find(name);

	/* Hidden files and anything not embedded are unknown; nothing is read from disk. */
	if (a == NULL || name[0] == '.') {
		http_reply_error(c, 404, "no such file of the web UI: %.64s", name);
		security_headers(c);
		return;
	}
	if (etag_matches(c->req.if_none_match, a->etag))
		http_reply_bytes(c, 304, NULL, "", 0, NULL);
	else
		http_reply_bytes(c, 200, webui_content_type(a->name), a->data, a->len, NULL);
	/* Revalidated on every use: a new build's files are seen at once, an unchanged file costs a
	 * 304. */
	http_reply_header(c, "etag", a->etag);
	http_reply_header(c, "cache-control", "no-cache");
	security_headers(c);
}

void webui_get_index(struct http_call *c, struct dq_leader *l)
{
	(void)l;
	reply_asset(c, "index.html");
}

void webui_get_asset(struct http_call *c, struct dq_leader *l)
{
	(void)l;
	reply_asset(c, c->req.params[0]);
}
