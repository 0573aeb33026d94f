/* api: see api.h. One row per endpoint; a handler reads the request, calls the store with the
 * request's tenant, and replies. Handlers with a store run on worker threads (http.c). */
#include "gateway/api.h"
#include "gateway/api_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/mailhog.h"
#include "gateway/relay.h"
#include "gateway/webui.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/metrics.h"
#include "lib/str.h"
#include "lib/ulid.h"
#include "node/store.h"

/* ---- request helpers ---- */

/* A whole number from the query: digits only, at most max. true with *out unchanged when the
 * parameter is absent; false (and a 400) when it is not such a number. */
bool api__query_number(struct http_call *c, const char *name, unsigned long max, unsigned *out)
{
	const char *v = http_query(c, name);
	unsigned long n = 0;

	if (v == NULL)
		return true;
	if (v[0] == '\0' || strlen(v) > 10 || strspn(v, "0123456789") != strlen(v) || (n = strtoul(v, NULL, 10)) > max) {
		http_reply_error(c, 400, "%s: \"%.32s\" is not a whole number from 0 to %lu", name, v, max);
		return false;
	}
	*out = (unsigned)n;
	return true;
}

/* MailHog's start and limit: start from 0; limit 0 or absent is 50, above 250 is 250. */
static bool paging(struct http_call *c, unsigned *start, unsigned *limit)
{
	*start = 0;
	*limit = 0;
	if (!api__query_number(c, "start", 2147483647UL, start) || !api__query_number(c, "limit", 2147483647UL, limit))
		return false;
	if (*limit == 0)
		*limit = API_MAILHOG_LIMIT;
	if (*limit > API_MAILHOG_MAX_LIMIT)
		*limit = API_MAILHOG_MAX_LIMIT;
	return true;
}

/* The {id} parameter when it can name a message: a ULID. Anything else names no message. */
static const char *message_id(struct http_call *c)
{
	const char *id = c->req.params[0];

	if (id == NULL || !ulid_valid(id)) {
		http_reply_error(c, 404, "no message %.64s", id != NULL ? id : "");
		return NULL;
	}
	return id;
}

/* The raw message of a stored row (mem_free it); NULL after replying 500 when damaged. */
char *api__raw_of(struct http_call *c, const struct store_row *r, size_t *len)
{
	struct pat_err err;
	uint8_t *raw = NULL;

	if (store_unpack_raw(r->m.raw, r->m.raw_len, (size_t)(r->m.size > 0 ? r->m.size : 0), &raw, len, &err) != PAT_OK) {
		log_warn("stored message unreadable", "tenant=%s id=%s error=%s", r->m.tenant, r->m.id, err.msg);
		if (c != NULL)
			http_reply_store_error(c, err.code == PAT_ENOMEM ? PAT_ENOMEM : PAT_EIO, &err);
		return NULL;
	}
	return (char *)raw;
}

/* ---- health ---- */

static void get_healthz(struct http_call *c, struct dq_leader *l)
{
	(void)l;
	http_reply_json(c, 200, json_pack("{s:s}", "status", "ok"));
}

/* Prometheus text: this process's metrics (gateway, and the node's in pat serve). */
static void get_metrics(struct http_call *c, struct dq_leader *l)
{
	struct buf out = BUF_INIT;

	(void)l;
	if (metrics_render(&out) != PAT_OK) {
		buf_free(&out);
		http_reply_error(c, 500, "the metrics could not be rendered");
		return;
	}
	http_reply_bytes(c, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len, NULL);
	buf_free(&out);
}

static void get_readyz(struct http_call *c, struct dq_leader *l)
{
	struct pat_err err;
	int version = 0;
	int rv = store_schema_version(l, &version, &err);

	if (rv != PAT_OK) {
		http_reply_json(c, 503, json_pack("{s:s,s:s+}", "status", "unavailable", "error", "the cluster's leader cannot be reached: ", err.msg));
		return;
	}
	if (version != STORE_SCHEMA_VERSION) {
		http_reply_json(c, 503, json_pack("{s:s,s:s,s:i,s:i}", "status", "unavailable", "error",
						  "the database schema is not the version this build writes", "schema", version,
						  "expected_schema", STORE_SCHEMA_VERSION));
		return;
	}
	http_reply_json(c, 200, json_pack("{s:s,s:i,s:s}", "status", "ready", "schema", version, "leader", l->leader_address));
}

/* ---- MailHog v2 ---- */

/* {total, count, start, items} from rows. */
static void reply_page(struct http_call *c, struct store_row *rows, size_t n, int64_t total, unsigned start)
{
	json_t *items = json_array();

	for (size_t i = 0; items != NULL && i < n; i++) {
		size_t len = 0;
		char *raw = api__raw_of(NULL, &rows[i], &len);

		/* A damaged message is listed with what its row says rather than hiding the others. */
		if (json_array_append_new(items, mailhog_message(&rows[i].m, raw != NULL ? raw : "", raw != NULL ? len : 0)) != 0) {
			json_decref(items);
			items = NULL;
		}
		mem_free(raw);
	}
	http_reply_json(c, 200, items == NULL ? NULL : json_pack("{s:I,s:I,s:I,s:o}", "total", (json_int_t)total, "count",
								  (json_int_t)n, "start", (json_int_t)start, "items", items));
}

static void get_v2_messages(struct http_call *c, struct dq_leader *l)
{
	struct store_row *rows = NULL;
	unsigned start, limit;
	int64_t total = 0;
	size_t n = 0;
	struct pat_err err;
	int rv;

	if (!paging(c, &start, &limit))
		return;
	rv = store_find(l, c->req.tenant, STORE_MATCH_ALL, NULL, start, limit, &rows, &n, &total, &err);
	if (rv != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return;
	}
	reply_page(c, rows, n, total, start);
	store_rows_free(rows, n);
}

static void get_v2_search(struct http_call *c, struct dq_leader *l)
{
	static const struct {
		const char *name;
		enum store_match match;
	} kinds[] = { { "from", STORE_MATCH_FROM }, { "to", STORE_MATCH_TO }, { "containing", STORE_MATCH_CONTAINING } };
	const char *kind = http_query(c, "kind"), *query = http_query(c, "query");
	struct store_row *rows = NULL;
	unsigned start, limit;
	int64_t total = 0;
	size_t n = 0, k;
	struct pat_err err;
	int rv;

	for (k = 0; kind != NULL && k < sizeof kinds / sizeof kinds[0]; k++)
		if (strcmp(kind, kinds[k].name) == 0)
			break;
	if (kind == NULL || k == sizeof kinds / sizeof kinds[0]) {
		http_reply_error(c, 400, "kind: \"%.32s\" is not a kind of search; expected from, to or containing",
				 kind != NULL ? kind : "");
		return;
	}
	if (query == NULL || query[0] == '\0') {
		http_reply_error(c, 400, "query: the text to search for is missing");
		return;
	}
	if (!paging(c, &start, &limit))
		return;
	rv = store_find(l, c->req.tenant, kinds[k].match, query, start, limit, &rows, &n, &total, &err);
	if (rv != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return;
	}
	reply_page(c, rows, n, total, start);
	store_rows_free(rows, n);
}

/* ---- MailHog v1 ---- */

/* The stored row of {id}; false after replying (404 or a store error). */
static bool load(struct http_call *c, struct dq_leader *l, struct store_row *row)
{
	const char *id = message_id(c);
	struct pat_err err;
	int rv;

	if (id == NULL)
		return false;
	if ((rv = store_get(l, c->req.tenant, id, row, &err)) != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return false;
	}
	return true;
}

static void get_v1_message(struct http_call *c, struct dq_leader *l)
{
	struct store_row row;
	size_t len = 0;
	char *raw;

	if (!load(c, l, &row))
		return;
	if ((raw = api__raw_of(c, &row, &len)) != NULL)
		http_reply_json(c, 200, mailhog_message(&row.m, raw, len));
	mem_free(raw);
	store_row_free(&row);
}

static void delete_v1_message(struct http_call *c, struct dq_leader *l)
{
	const char *id = message_id(c);
	struct pat_err err;
	int rv;

	if (id == NULL)
		return;
	if ((rv = store_delete(l, c->req.tenant, id, &err)) != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return;
	}
	log_info("message deleted", "tenant=%s id=%s by=%s", c->req.tenant, id, c->req.principal);
	api__count_deleted(1);
	api__announce_deleted(c, id);
	http_reply_bytes(c, 200, NULL, "", 0, NULL); /* MailHog answers with an empty 200 */
}

static void get_v1_download(struct http_call *c, struct dq_leader *l)
{
	struct store_row row;
	char disposition[96];
	size_t len = 0;
	char *raw;

	if (!load(c, l, &row))
		return;
	if ((raw = api__raw_of(c, &row, &len)) != NULL) {
		snprintf(disposition, sizeof disposition, "attachment; filename=\"%s.eml\"", row.m.id);
		http_reply_bytes(c, 200, "message/rfc822", raw, len, disposition);
	}
	mem_free(raw);
	store_row_free(&row);
}

/* A header value safe to send back: printable ASCII only. */
void api__safe_header_value(char *out, size_t n, const char *in)
{
	size_t o = 0;

	for (; in != NULL && *in != '\0' && o + 1 < n; in++)
		if (*in >= 0x20 && *in < 0x7f)
			out[o++] = *in;
	out[o] = '\0';
	str_trim(out);
}

static void get_v1_part(struct http_call *c, struct dq_leader *l)
{
	const char *n_text = c->req.params[1];
	struct mailhog_part part;
	struct store_row row;
	char disposition[128], type[256];
	struct pat_err err;
	size_t len = 0;
	unsigned long n;
	char *raw;
	int rv;

	if (n_text == NULL || strlen(n_text) > 6 || strspn(n_text, "0123456789") != strlen(n_text)) {
		http_reply_error(c, 400, "part: \"%.32s\" is not a part number (0 is the first part)", n_text != NULL ? n_text : "");
		return;
	}
	n = strtoul(n_text, NULL, 10);
	if (!load(c, l, &row))
		return;
	if ((raw = api__raw_of(c, &row, &len)) != NULL) {
		if ((rv = mailhog_part(raw, len, (unsigned)n, &part, &err)) != PAT_OK) {
			http_reply_store_error(c, rv, &err);
		} else {
			api__safe_header_value(type, sizeof type, part.content_type);
			snprintf(disposition, sizeof disposition, "attachment; filename=\"%s-part-%lu\"", row.m.id, n);
			http_reply_bytes(c, 200, type[0] != '\0' ? type : "application/octet-stream", part.data, part.len,
					 disposition);
			mailhog_part_free(&part);
		}
	}
	mem_free(raw);
	store_row_free(&row);
}

/* A member of a JSON object, its name compared ignoring case (Go's decoder matches field names
 * that way, and MailHog's clients send "host" as well as "Host"). */
json_t *api__member(json_t *obj, const char *name)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
		if (strcasecmp(key, name) == 0)
			return v;
	return NULL;
}

/* A string member, or NULL when absent; false (and a 400) when it is there but not a string. */
bool api__string_member(struct http_call *c, json_t *obj, const char *name, const char **out)
{
	json_t *v = api__member(obj, name);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		http_reply_error(c, 400, "%s must be a string", name);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* POST /api/v1/messages/{id}/release {Host, Port, Email, Username, Password, Mechanism, Name,
 * Save}: send the message on to an SMTP server, for Email. */
static void post_v1_release(struct http_call *c, struct dq_leader *l)
{
	const struct api_context *app = c->app;
	const char *host, *email, *user, *password, *mechanism, *name;
	struct relay_target t = { 0 };
	json_error_t jerr;
	json_t *body, *port;
	struct store_row row;
	struct pat_err err;
	char from[300];
	size_t len = 0;
	char *raw;
	int rv;

	body = json_loadb(c->req.body, c->req.body_len, 0, &jerr);
	if (body == NULL || !json_is_object(body)) {
		http_reply_error(c, 400, "the body must be a JSON object such as {\"Host\": \"smtp.example.com\", \"Port\": \"25\", "
					 "\"Email\": \"someone@example.com\"}%s%s",
				 body == NULL ? ": " : "", body == NULL ? jerr.text : "");
		json_decref(body);
		return;
	}
	if (!api__string_member(c, body, "Host", &host) || !api__string_member(c, body, "Email", &email) ||
	    !api__string_member(c, body, "Username", &user) || !api__string_member(c, body, "Password", &password) ||
	    !api__string_member(c, body, "Mechanism", &mechanism) || !api__string_member(c, body, "Name", &name))
		goto out;
	if (name != NULL && name[0] != '\0') {
		http_reply_error(c, 400, "Name: no outgoing SMTP server is saved as \"%.64s\" (this build saves none)", name);
		goto out;
	}
	port = api__member(body, "Port");
	if (json_is_integer(port))
		t.port = json_integer_value(port) > 0 && json_integer_value(port) < 65536 ? (unsigned)json_integer_value(port) : 0;
	else if (json_is_string(port) && strlen(json_string_value(port)) <= 5 &&
		 strspn(json_string_value(port), "0123456789") == strlen(json_string_value(port)))
		t.port = (unsigned)strtoul(json_string_value(port), NULL, 10);
	if (host == NULL || host[0] == '\0' || email == NULL || email[0] == '\0' || t.port == 0 || t.port > 65535) {
		http_reply_error(c, 400, "Host, Port (1-65535) and Email are required");
		goto out;
	}
	if (user != NULL && user[0] == '\0' && (password == NULL || password[0] == '\0'))
		user = NULL;
	if (user != NULL || (password != NULL && password[0] != '\0')) {
		if (mechanism != NULL && strcasecmp(mechanism, "PLAIN") == 0) {
			t.mechanism = "PLAIN";
		} else if (mechanism != NULL && strcasecmp(mechanism, "CRAMMD5") == 0) {
			t.mechanism = "CRAM-MD5";
		} else {
			http_reply_error(c, 400, "Mechanism: \"%.32s\" is not supported; expected PLAIN or CRAMMD5",
					 mechanism != NULL ? mechanism : "");
			goto out;
		}
		t.username = user != NULL ? user : "";
		t.password = password;
	}
	if (!load(c, l, &row))
		goto out;
	if ((raw = api__raw_of(c, &row, &len)) != NULL) {
		snprintf(from, sizeof from, "nobody@%s", app != NULL && app->hostname != NULL ? app->hostname : "localhost");
		t.host = host;
		t.from = from;
		t.to = email;
		t.timeout_ms = app != NULL && app->relay_timeout_ms > 0 ? app->relay_timeout_ms : 30000;
		rv = relay_send(&t, raw, len, &err);
		if (rv == PAT_OK) {
			log_info("message released", "tenant=%s id=%s to=%s relay=%s:%u by=%s", c->req.tenant, row.m.id, email,
				 host, t.port, c->req.principal);
			http_reply_bytes(c, 200, NULL, "", 0, NULL);
		} else {
			http_reply_error(c, rv == PAT_EINVAL ? 400 : 502, "%s", err.msg);
		}
	}
	mem_free(raw);
	store_row_free(&row);
out:
	json_decref(body);
}

int api_render_event(void *app, struct dq_leader *l, const char *tenant, enum http_event_kind kind, const char *id,
		     int format, struct buf *out)
{
	struct store_row row;
	struct pat_err err;
	size_t len = 0;
	char *raw, *text = NULL;
	int rv;

	(void)app;
	if (format == API_EVENTS_MAILPIT)
		return api__mailpit_event(l, tenant, kind, id, out);
	if (format == API_EVENTS_V3)
		return api__v3_event(l, tenant, kind, id, out);
	if (kind != HTTP_EVENT_NEW)
		return PAT_OK; /* MailHog's streams announce new messages only */
	if ((rv = store_get(l, tenant, id, &row, &err)) != PAT_OK) {
		if (rv != PAT_ENOTFOUND) /* deleted already: nothing to tell */
			log_warn("new message not read for live events", "tenant=%s id=%s error=%s", tenant, id, err.msg);
		return rv;
	}
	if ((raw = api__raw_of(NULL, &row, &len)) != NULL) {
		json_t *j = mailhog_message(&row.m, raw, len);

		text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	}
	rv = text != NULL ? buf_append_str(out, text) : PAT_ENOMEM;
	free(text);
	mem_free(raw);
	store_row_free(&row);
	return rv;
}

/* The route table. */
const struct http_route api_routes[] = {
	/* method, pattern, handler, store, open, query, events, event format */
	/* The web UI */
	{ "GET", "/", webui_get_index, false, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/ui/{file}", webui_get_asset, false, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/healthz", get_healthz, false, true, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/livez", get_healthz, false, true, NULL, HTTP_EVENTS_NONE, 0 }, /* Mailpit's name */
	{ "GET", "/readyz", get_readyz, true, true, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/metrics", get_metrics, false, true, NULL, HTTP_EVENTS_NONE, 0 },
	/* MailHog */
	{ "GET", "/api/v2/messages", get_v2_messages, true, false, "start,limit", HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v2/search", get_v2_search, true, false, "kind,query,start,limit", HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v2/websocket", NULL, false, false, HTTP_TENANT_QUERY, HTTP_EVENTS_WEBSOCKET, API_EVENTS_MAILHOG },
	{ "GET", "/api/v1/events", NULL, false, false, HTTP_TENANT_QUERY, HTTP_EVENTS_SSE, API_EVENTS_MAILHOG },
	{ "GET", "/api/v1/messages/{id}", get_v1_message, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "DELETE", "/api/v1/messages/{id}", delete_v1_message, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/messages/{id}/download", get_v1_download, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "POST", "/api/v1/messages/{id}/release", post_v1_release, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/messages/{id}/mime/part/{n}/download", get_v1_part, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	/* Mailpit v1 (GET /api/v1/messages is Mailpit's list; MailHog's bare list there is not served;
	 * DELETE /api/v1/messages without a body deletes all, as both do) */
	{ "GET", "/api/v1/messages", api__mailpit_list, true, false, "start,limit,before,tz", HTTP_EVENTS_NONE, 0 },
	{ "PUT", "/api/v1/messages", api__mailpit_set_read, true, false, "tz", HTTP_EVENTS_NONE, 0 },
	{ "DELETE", "/api/v1/messages", api__mailpit_delete, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/search", api__mailpit_search, true, false, "query,start,limit,before,tz", HTTP_EVENTS_NONE, 0 },
	{ "DELETE", "/api/v1/search", api__mailpit_delete_search, true, false, "query,tz", HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/message/{id}", api__mailpit_message, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/message/{id}/headers", api__mailpit_headers, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/message/{id}/raw", api__mailpit_raw, true, false, "dl", HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/message/{id}/part/{part}", api__mailpit_part, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/message/{id}/part/{part}/thumb", api__mailpit_thumb, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/tags", api__mailpit_tags, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "PUT", "/api/v1/tags", api__mailpit_set_tags, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "PUT", "/api/v1/tags/{tag}", api__mailpit_rename_tag, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "DELETE", "/api/v1/tags/{tag}", api__mailpit_delete_tag, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "POST", "/api/v1/send", api__mailpit_send, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/info", api__mailpit_info, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/webui", api__mailpit_webui, false, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v1/chaos", api__mailpit_get_chaos, false, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "PUT", "/api/v1/chaos", api__mailpit_set_chaos, false, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/events", NULL, false, false, HTTP_TENANT_QUERY, HTTP_EVENTS_WEBSOCKET, API_EVENTS_MAILPIT },
	{ "GET", "/view/{file}", api__mailpit_view, true, false, HTTP_TENANT_QUERY, HTTP_EVENTS_NONE, 0 },
	/* Pat v3 */
	{ "GET", "/api/v3/messages", api__v3_list, true, false, "before,limit", HTTP_EVENTS_NONE, 0 },
	{ "DELETE", "/api/v3/messages", api__v3_delete_all, true, false, "q,tz", HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v3/search", api__v3_search, true, false, "q,before,limit,tz", HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v3/messages/{id}", api__v3_message, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "DELETE", "/api/v3/messages/{id}", api__v3_delete, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v3/messages/{id}/raw", api__v3_raw, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v3/messages/{id}/parts", api__v3_parts, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v3/messages/{id}/parts/{part}", api__v3_part, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v3/messages/{id}/html", api__v3_html, true, false, HTTP_TENANT_QUERY, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v3/messages/{id}/attachments", api__v3_attachments, true, false, NULL, HTTP_EVENTS_NONE, 0 },
	{ "GET", "/api/v3/events", NULL, false, false, HTTP_TENANT_QUERY, HTTP_EVENTS_WEBSOCKET, API_EVENTS_V3 },
};

const size_t api_n_routes = sizeof api_routes / sizeof api_routes[0];
