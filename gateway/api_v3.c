/* api_v3: Pat's own message API (docs/API.md): lists and searches paged by a cursor (the id of
 * the last message seen), so that pages never skip or repeat a message while mail arrives;
 * one message, its raw source and its parts; deletion; and a WebSocket of new and deleted
 * messages. Messages and parts are shown in the shapes Mailpit's API uses (gateway/mime), so a
 * client reads one vocabulary. Reading a message here does not mark it read. */
#include "gateway/api_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/mime.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/ulid.h"

#define V3_LIMIT 50

/* ?before=ID&limit=N; false after a 400. */
static bool cursor(struct http_call *c, const char **before, unsigned *limit)
{
	*before = http_query(c, "before");
	*limit = 0;
	if (*before != NULL && !ulid_valid(*before)) {
		http_reply_error(c, 400, "before: \"%.64s\" is not a message id", *before);
		return false;
	}
	if (!api__query_number(c, "limit", API_MAX_LIMIT, limit))
		return false;
	if (*limit == 0)
		*limit = V3_LIMIT;
	return true;
}

/* A page of the messages matching search (NULL: all): {messages, next, remaining}. */
static void reply_page(struct http_call *c, struct dq_leader *l, const char *search)
{
	struct store_row *rows = NULL;
	const char *before;
	unsigned limit;
	int64_t matches = 0;
	struct pat_err err;
	struct query q;
	json_t *list;
	size_t n = 0;
	int rv;

	if (!cursor(c, &before, &limit) || !api__parse_search(c, search, NULL, &q))
		return;
	if (before != NULL) {
		if (q.filter.n == STORE_FILTER_MAX_TERMS) {
			http_reply_error(c, 400, "q: too many search terms");
			query_free(&q);
			return;
		}
		q.terms[q.filter.n++] = (struct store_term){ STORE_TERM_ID_BELOW, false, before, 0 };
	}
	rv = store_find_matching(l, c->req.tenant, &q.filter, 0, limit, &rows, &n, &matches, NULL, &err);
	query_free(&q);
	if (rv != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return;
	}
	list = json_array();
	for (size_t i = 0; list != NULL && i < n; i++) {
		json_t *one = NULL;

		if (mime_json_summary(&rows[i].m, &one, &err) != PAT_OK || json_array_append_new(list, one) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	http_reply_json(c, 200, list == NULL ? NULL : json_pack("{s:o,s:o,s:I}", "messages", list, "next",
		(int64_t)n < matches && n > 0 ? json_string(rows[n - 1].m.id) : json_null(), "remaining", (json_int_t)matches));
	store_rows_free(rows, n);
}

void api__v3_list(struct http_call *c, struct dq_leader *l)
{
	reply_page(c, l, NULL);
}

void api__v3_search(struct http_call *c, struct dq_leader *l)
{
	const char *q = http_query(c, "q");

	if (q == NULL) {
		http_reply_error(c, 400, "q: the search is missing (Mailpit's syntax: from:a@example.com subject:\"two words\" ...)");
		return;
	}
	reply_page(c, l, q);
}

/* The row of {id}; false after replying 404 (or a store error). */
static bool load(struct http_call *c, struct dq_leader *l, struct store_row *row)
{
	const char *id = c->req.params[0];
	struct pat_err err;
	int rv;

	if (id == NULL || !ulid_valid(id)) {
		http_reply_error(c, 404, "no message %.64s", id != NULL ? id : "");
		return false;
	}
	if ((rv = store_get(l, c->req.tenant, id, row, &err)) != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return false;
	}
	return true;
}

void api__v3_message(struct http_call *c, struct dq_leader *l)
{
	struct store_row row;
	struct mime_view *v;
	struct pat_err err;
	json_t *j = NULL;
	int rv;

	if (!load(c, l, &row))
		return;
	if ((v = api__view_of(c, &row)) != NULL) {
		if ((rv = mime_json_message(v, &row.m, &j, &err)) != PAT_OK) {
			http_reply_store_error(c, rv, &err);
		} else {
			json_object_set_new(j, "Read", json_boolean(row.m.read));
			http_reply_json(c, 200, j);
		}
		mime_view_free(v);
	}
	store_row_free(&row);
}

void api__v3_raw(struct http_call *c, struct dq_leader *l)
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

static json_t *part_json(const struct mime_part *p, const char *disposition)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:{s:s,s:s,s:s}}", "PartID", p->part_id, "Disposition", disposition,
			 "FileName", p->file_name != NULL ? p->file_name : "", "ContentType",
			 p->content_type != NULL ? p->content_type : "", "ContentID", p->content_id != NULL ? p->content_id : "",
			 "Size", (json_int_t)p->size, "Checksums", "MD5", p->md5, "SHA1", p->sha1, "SHA256", p->sha256);
}

/* {parts: [...]}: attachments, and inline parts too when with_inline. */
static void reply_parts(struct http_call *c, struct dq_leader *l, bool with_inline)
{
	struct store_row row;
	struct mime_view *v;
	json_t *list;

	if (!load(c, l, &row))
		return;
	if ((v = api__view_of(c, &row)) != NULL) {
		list = json_array();
		for (size_t i = 0; list != NULL && with_inline && i < v->n_inline; i++)
			if (json_array_append_new(list, part_json(&v->inline_parts[i], "inline")) != 0) {
				json_decref(list);
				list = NULL;
			}
		for (size_t i = 0; list != NULL && i < v->n_attachments; i++)
			if (json_array_append_new(list, part_json(&v->attachments[i], "attachment")) != 0) {
				json_decref(list);
				list = NULL;
			}
		http_reply_json(c, 200, list == NULL ? NULL : json_pack("{s:o}", with_inline ? "parts" : "attachments", list));
		mime_view_free(v);
	}
	store_row_free(&row);
}

void api__v3_parts(struct http_call *c, struct dq_leader *l)
{
	reply_parts(c, l, true);
}

void api__v3_attachments(struct http_call *c, struct dq_leader *l)
{
	reply_parts(c, l, false);
}

void api__v3_part(struct http_call *c, struct dq_leader *l)
{
	const char *part = c->req.params[1];
	struct store_row row;

	if (part == NULL || !mime_part_id_valid(part)) {
		http_reply_error(c, 400, "part: \"%.64s\" is not a part id (such as 1, 2 or 1.2)", part != NULL ? part : "");
		return;
	}
	if (!load(c, l, &row))
		return;
	api__reply_part(c, &row, part);
	store_row_free(&row);
}

/* What a message's HTML may do where it is shown: apply its own styles and show images inlined
 * as data: URLs (its cid: parts become such URLs), and nothing else: no script, no request to
 * anywhere, no form, no base URL; framed only by the UI's own pages, and sandboxed (an opaque
 * origin) even when opened on its own. */
#define V3_HTML_CSP                                                                                                    \
	"default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; "              \
	"form-action 'none'; frame-ancestors 'self'; sandbox"
/* Inline parts larger than this stay cid: URLs (not shown) rather than swell the page. */
#define V3_HTML_MAX_PART (5u << 20)

void api__reply_html(struct http_call *c, const struct store_row *row)
{
	struct mime_view *v = NULL;
	struct pat_err err;
	char *raw, *html = NULL;
	size_t len = 0;
	int rv;

	if ((raw = api__raw_of(c, row, &len)) != NULL && (rv = mime_view_parse(raw, len, &v, &err)) != PAT_OK)
		http_reply_store_error(c, rv, &err);
	else if (v != NULL && v->html[0] == '\0')
		http_reply_error(c, 404, "message %s has no HTML body", row->m.id);
	else if (v != NULL && (rv = mime_html_inline_parts(raw, len, v, V3_HTML_MAX_PART, &html, &err)) != PAT_OK)
		http_reply_store_error(c, rv, &err);
	else if (html != NULL)
		http_reply_bytes(c, 200, "text/html; charset=utf-8", html, strlen(html), NULL);
	mime_view_free(v);
	mem_free(html);
	mem_free(raw);
}

void api__html_headers(struct http_call *c)
{
	http_reply_header(c, "content-security-policy", V3_HTML_CSP);
	http_reply_header(c, "x-content-type-options", "nosniff");
	http_reply_header(c, "referrer-policy", "no-referrer");
}

/* GET /api/v3/messages/{id}/html[?tenant=NAME]: the HTML body as a document of its own, for the
 * web UI's sandboxed frame (which cannot send X-Pat-Tenant, hence the query). Every answer,
 * errors included, carries the policy above. A message without an HTML body is a 404. */
void api__v3_html(struct http_call *c, struct dq_leader *l)
{
	struct store_row row;

	if (load(c, l, &row)) {
		api__reply_html(c, &row);
		store_row_free(&row);
	}
	api__html_headers(c);
}

void api__v3_delete(struct http_call *c, struct dq_leader *l)
{
	const char *id = c->req.params[0];
	struct pat_err err;
	int rv;

	if (id == NULL || !ulid_valid(id)) {
		http_reply_error(c, 404, "no message %.64s", id != NULL ? id : "");
		return;
	}
	if ((rv = store_delete(l, c->req.tenant, id, &err)) != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return;
	}
	log_info("message deleted", "tenant=%s id=%s by=%s", c->req.tenant, id, c->req.principal);
	api__count_deleted(1);
	api__announce_deleted(c, id);
	http_reply_json(c, 200, json_pack("{s:i}", "deleted", 1));
}

/* DELETE /api/v3/messages[?q=search]: every message of the tenant, or those matching. */
void api__v3_delete_all(struct http_call *c, struct dq_leader *l)
{
	const char *search = http_query(c, "q");
	struct pat_err err;
	struct query q;
	int64_t deleted = 0;
	int rv;

	if (search == NULL) {
		rv = store_delete_all(l, c->req.tenant, &deleted, &err);
	} else {
		if (!api__parse_search(c, search, NULL, &q))
			return;
		rv = api__delete_found(c, l, &q.filter, &deleted, &err);
		query_free(&q);
	}
	if (rv != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return;
	}
	log_info("messages deleted", "tenant=%s count=%lld by=%s", c->req.tenant, (long long)deleted, c->req.principal);
	if (search == NULL) {
		api__count_deleted(deleted);
		api__announce_deleted(c, NULL);
	}
	http_reply_json(c, 200, json_pack("{s:I}", "deleted", (json_int_t)deleted));
}

int api__v3_event(struct dq_leader *l, const char *tenant, enum http_event_kind kind, const char *id, struct buf *out)
{
	struct store_row row;
	struct pat_err err;
	json_t *summary = NULL, *event;
	char *text;
	int rv;

	if (kind == HTTP_EVENT_DELETED) {
		event = id != NULL && id[0] != '\0' ? json_pack("{s:s,s:s}", "type", "deleted", "id", id)
						    : json_pack("{s:s,s:b}", "type", "deleted", "all", 1);
	} else {
		if ((rv = store_get(l, tenant, id, &row, &err)) != PAT_OK)
			return rv;
		rv = mime_json_summary(&row.m, &summary, &err);
		store_row_free(&row);
		if (rv != PAT_OK)
			return rv;
		event = json_pack("{s:s,s:s,s:o}", "type", "new", "id", id, "message", summary);
	}
	text = event != NULL ? json_dumps(event, JSON_COMPACT) : NULL;
	json_decref(event);
	rv = text != NULL ? buf_append_str(out, text) : PAT_ENOMEM;
	free(text);
	return rv;
}
