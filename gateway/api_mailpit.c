/* api_mailpit: Mailpit's API v1 (docs/API.md), for the clients Mailpit's users have: lists and
 * searches in Mailpit's shape, the message view, headers, raw source and parts from
 * gateway/mime, read flags, tags, deletion, POST /api/v1/send (a MIME message built with GMime
 * and stored through ingest, like mail that came over SMTP), /api/v1/info and /api/v1/webui.
 *
 * Where Mailpit accepts bad input silently, Pat answers 400 with a JSON error: a start or
 * limit that is not a whole number, a date or search Pat cannot read, a body that is not the
 * JSON object the endpoint takes. Successful changes answer "ok" in text/plain, as Mailpit. */
#include "gateway/api_private.h"
#include "gateway/chaos.h"

#include <gio/gio.h>
#include <gmime/gmime.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/gateway_metrics.h"
#include "gateway/mime.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "lib/ulid.h"

#define MAX_IDS 5000   /* ids in one request body */
#define MAX_TAGS 100   /* tags given to a message at once */
#define TAG_MAX INGEST_TAG_MAX

/* ---- request helpers ---- */

static void reply_ok(struct http_call *c)
{
	http_reply_bytes(c, 200, "text/plain; charset=utf-8", "ok", 2, NULL);
}

/* Mailpit's start and limit: start from 0; limit absent or 0 is 50, above API_MAX_LIMIT is that. */
static bool paging(struct http_call *c, unsigned *start, unsigned *limit)
{
	*start = 0;
	*limit = 0;
	if (!api__query_number(c, "start", 2147483647UL, start) || !api__query_number(c, "limit", 2147483647UL, limit))
		return false;
	if (*limit == 0)
		*limit = API_MAILPIT_LIMIT;
	if (*limit > API_MAX_LIMIT)
		*limit = API_MAX_LIMIT;
	return true;
}

/* The body as a JSON object; an empty body is *out NULL when empty_ok. false after a 400. */
static bool body_object(struct http_call *c, bool empty_ok, const char *example, json_t **out)
{
	json_error_t jerr;
	size_t i = 0;

	*out = NULL;
	while (i < c->req.body_len && strchr(" \t\r\n", c->req.body[i]) != NULL)
		i++;
	if (i == c->req.body_len) {
		if (empty_ok)
			return true;
		http_reply_error(c, 400, "the body must be a JSON object such as %s", example);
		return false;
	}
	*out = json_loadb(c->req.body, c->req.body_len, 0, &jerr);
	if (*out == NULL || !json_is_object(*out)) {
		http_reply_error(c, 400, "the body must be a JSON object such as %s%s%s", example, *out == NULL ? ": " : "",
				 *out == NULL ? jerr.text : "");
		json_decref(*out);
		*out = NULL;
		return false;
	}
	return true;
}

/* An array of strings (absent or null: n 0). The strings stay owned by obj. false after a 400. */
static bool string_array(struct http_call *c, json_t *obj, const char *name, size_t max, const char ***out, size_t *n)
{
	json_t *v = api__member(obj, name), *item;
	size_t i;

	*out = NULL;
	*n = 0;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_array(v) || json_array_size(v) > max) {
		http_reply_error(c, 400, "%s must be an array of at most %zu strings", name, max);
		return false;
	}
	if (json_array_size(v) == 0)
		return true;
	if ((*out = mem_calloc(json_array_size(v), sizeof **out)) == NULL) {
		http_reply_error(c, 500, "out of memory");
		return false;
	}
	json_array_foreach(v, i, item) {
		if (!json_is_string(item)) {
			http_reply_error(c, 400, "%s must be an array of strings", name);
			mem_free(*out);
			*out = NULL;
			return false;
		}
		(*out)[i] = json_string_value(item);
	}
	*n = json_array_size(v);
	return true;
}

bool api__parse_search(struct http_call *c, const char *search, const char *before, struct query *q)
{
	struct buf text = BUF_INIT;
	struct pat_err err;
	int rv;

	if (before != NULL && (before[0] == '\0' || strchr(before, '"') != NULL)) {
		http_reply_error(c, 400, "before: \"%.64s\" is not a date", before);
		return false;
	}
	buf_append_str(&text, "");
	if (search != NULL)
		buf_append_str(&text, search);
	if (before != NULL)
		buf_printf(&text, " before:\"%s\"", before);
	if (text.data == NULL) {
		http_reply_error(c, 500, "out of memory");
		return false;
	}
	rv = query_parse(text.data, http_query(c, "tz"), q, &err);
	buf_free(&text);
	if (rv != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return false;
	}
	return true;
}

static atomic_uint_fast64_t deleted_total; /* messages deleted through this process's API */

void api__count_deleted(int64_t n)
{
	if (n > 0)
		atomic_fetch_add(&deleted_total, (uint_fast64_t)n);
}

void api__announce_deleted(struct http_call *c, const char *id)
{
	const struct api_context *app = c->app;

	if (app != NULL && app->http != NULL)
		http_server_publish_deleted(app->http, c->req.tenant, id);
}

/* The row of id: a ULID of the tenant's, or "latest" (the newest message). false after
 * replying 404 (or a store error). */
static bool load_id(struct http_call *c, struct dq_leader *l, const char *id, struct store_row *row)
{
	struct pat_err err;
	int rv;

	if (id != NULL && strcmp(id, "latest") == 0) {
		struct store_row *rows = NULL;
		size_t n = 0;

		if ((rv = store_list(l, c->req.tenant, NULL, 1, &rows, &n, &err)) != PAT_OK) {
			http_reply_store_error(c, rv, &err);
			return false;
		}
		if (n == 0) {
			http_reply_error(c, 404, "there are no messages");
			store_rows_free(rows, n);
			return false;
		}
		*row = rows[0];
		memset(&rows[0], 0, sizeof rows[0]);
		store_rows_free(rows, n);
		return true;
	}
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

/* The row of the route's {id}. */
static bool load(struct http_call *c, struct dq_leader *l, struct store_row *row)
{
	return load_id(c, l, c->req.params[0], row);
}

struct mime_view *api__view_of(struct http_call *c, const struct store_row *row)
{
	struct mime_view *v = NULL;
	struct pat_err err;
	size_t len = 0;
	char *raw = api__raw_of(c, row, &len);

	if (raw == NULL)
		return NULL;
	if (mime_view_parse(raw, len, &v, &err) != PAT_OK) {
		http_reply_store_error(c, err.code, &err);
		v = NULL;
	}
	mem_free(raw);
	return v;
}

/* ---- lists and searches ---- */

/* The tenant's tags as a JSON array; NULL after replying. */
static json_t *tags_json(struct http_call *c, struct dq_leader *l)
{
	struct pat_err err;
	char **tags = NULL;
	size_t n = 0;
	json_t *a;
	int rv;

	if ((rv = store_tags_list(l, c->req.tenant, &tags, &n, &err)) != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return NULL;
	}
	a = json_array();
	for (size_t i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, json_string(tags[i])) != 0) {
			json_decref(a);
			a = NULL;
		}
	store_tags_free(tags, n);
	if (a == NULL)
		http_reply_error(c, 500, "out of memory");
	return a;
}

/* Summaries of rows as a JSON array; NULL on ENOMEM. */
static json_t *summaries(const struct store_row *rows, size_t n)
{
	json_t *a = json_array();
	struct pat_err err;

	for (size_t i = 0; a != NULL && i < n; i++) {
		json_t *one = NULL;

		if (mime_json_summary(&rows[i].m, &one, &err) != PAT_OK || json_array_append_new(a, one) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* One page in Mailpit's list shape. search NULL: the whole mailbox. */
static void reply_list(struct http_call *c, struct dq_leader *l, const char *search)
{
	struct store_row *rows = NULL;
	unsigned start, limit;
	int64_t matches = 0, matches_unread = 0, total = 0, unread = 0;
	struct pat_err err;
	struct query q;
	json_t *tags, *messages;
	size_t n = 0;
	int rv;

	if (!paging(c, &start, &limit) || !api__parse_search(c, search, http_query(c, "before"), &q))
		return;
	rv = store_find_matching(l, c->req.tenant, &q.filter, start, limit, &rows, &n, &matches, &matches_unread, &err);
	query_free(&q);
	if (rv == PAT_OK)
		rv = store_count(l, c->req.tenant, &total, &unread, &err);
	if (rv != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		store_rows_free(rows, n);
		return;
	}
	if ((tags = tags_json(c, l)) != NULL) {
		messages = summaries(rows, n);
		if (search == NULL) { /* Mailpit counts the mailbox in a list, the matches in a search */
			matches = total;
			matches_unread = unread;
		}
		http_reply_json(c, 200, messages == NULL ? NULL : json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}",
			"total", (json_int_t)total, "unread", (json_int_t)unread, "count", (json_int_t)n,
			"messages_count", (json_int_t)matches, "messages_unread", (json_int_t)matches_unread,
			"start", (json_int_t)start, "tags", tags, "messages", messages));
		if (messages == NULL)
			json_decref(tags);
	}
	store_rows_free(rows, n);
}

void api__mailpit_list(struct http_call *c, struct dq_leader *l)
{
	reply_list(c, l, NULL);
}

/* The query parameter, trimmed and non-empty; NULL after a 400. */
static char *search_text(struct http_call *c)
{
	const char *v = http_query(c, "query");
	char *s;

	if (v == NULL || (s = mem_strdup(v)) == NULL || str_trim(s)[0] == '\0') {
		if (v != NULL)
			mem_free(s);
		http_reply_error(c, 400, "query: the search is missing");
		return NULL;
	}
	return s;
}

void api__mailpit_search(struct http_call *c, struct dq_leader *l)
{
	char *search = search_text(c);

	if (search != NULL)
		reply_list(c, l, str_trim(search));
	mem_free(search);
}

/* Delete the matching messages a page at a time, announcing each. */
int api__delete_found(struct http_call *c, struct dq_leader *l, const struct store_filter *f, int64_t *deleted,
			struct pat_err *err)
{
	int rv = PAT_OK;

	*deleted = 0;
	for (;;) {
		struct store_row *rows = NULL;
		const char **ids;
		int64_t total = 0, gone = 0;
		size_t n = 0;

		if ((rv = store_find_matching(l, c->req.tenant, f, 0, API_MAX_LIMIT, &rows, &n, &total, NULL, err)) != PAT_OK)
			return rv;
		if (n == 0)
			break;
		if ((ids = mem_calloc(n, sizeof *ids)) == NULL) {
			store_rows_free(rows, n);
			return err_set(err, PAT_ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < n; i++)
			ids[i] = rows[i].m.id;
		rv = store_delete_ids(l, c->req.tenant, ids, n, &gone, err);
		for (size_t i = 0; rv == PAT_OK && i < n; i++)
			api__announce_deleted(c, ids[i]);
		mem_free(ids);
		store_rows_free(rows, n);
		if (rv != PAT_OK)
			return rv;
		*deleted += gone;
		api__count_deleted(gone);
		if (gone == 0 || (int64_t)n == total)
			break;
	}
	return rv;
}

void api__mailpit_delete_search(struct http_call *c, struct dq_leader *l)
{
	char *search = search_text(c);
	struct pat_err err;
	struct query q;
	int64_t deleted = 0;
	int rv;

	if (search == NULL)
		return;
	if (api__parse_search(c, str_trim(search), NULL, &q)) {
		if ((rv = api__delete_found(c, l, &q.filter, &deleted, &err)) != PAT_OK) {
			http_reply_store_error(c, rv, &err);
		} else {
			log_info("messages deleted", "tenant=%s count=%lld search=%s by=%s", c->req.tenant, (long long)deleted,
				 search, c->req.principal);
			reply_ok(c);
		}
		query_free(&q);
	}
	mem_free(search);
}

/* PUT /api/v1/messages {Read, IDs} | {Read, Search} | {Read}: mark read or unread. */
void api__mailpit_set_read(struct http_call *c, struct dq_leader *l)
{
	static const char example[] = "{\"Read\": true, \"IDs\": [\"...\"]} or {\"Read\": true, \"Search\": \"from:a\"}";
	json_t *body, *read_v;
	const char **ids = NULL, *search = NULL;
	struct pat_err err;
	struct query q;
	bool read = false;
	int64_t changed = 0;
	size_t n = 0;
	int rv;

	if (!body_object(c, true, example, &body))
		return;
	read_v = body != NULL ? api__member(body, "Read") : NULL;
	if (read_v != NULL && !json_is_null(read_v) && !json_is_boolean(read_v)) {
		http_reply_error(c, 400, "Read must be true or false");
		goto out;
	}
	read = json_is_true(read_v);
	if (body != NULL && (!string_array(c, body, "IDs", MAX_IDS, &ids, &n) || !api__string_member(c, body, "Search", &search)))
		goto out;
	if (search != NULL && search[0] == '\0')
		search = NULL;
	if (n > 0 && search != NULL) {
		http_reply_error(c, 400, "give IDs or Search, not both");
		goto out;
	}
	if (n > 0) {
		rv = store_set_read(l, c->req.tenant, read, ids, n, NULL, &changed, &err);
	} else {
		if (!api__parse_search(c, search, NULL, &q))
			goto out;
		rv = store_set_read(l, c->req.tenant, read, NULL, 0, &q.filter, &changed, &err);
		query_free(&q);
	}
	if (rv != PAT_OK)
		http_reply_store_error(c, rv, &err);
	else
		reply_ok(c);
out:
	mem_free(ids);
	json_decref(body);
}

/* DELETE /api/v1/messages {IDs}; without a body or IDs: every message of the tenant. MailHog's
 * DELETE /api/v1/messages, which its clients send without a body, is the same request: without
 * a body the answer is MailHog's empty 200 (its npm client parses any body as JSON), with one
 * Mailpit's "ok". */
void api__mailpit_delete(struct http_call *c, struct dq_leader *l)
{
	json_t *body;
	const char **ids = NULL;
	struct pat_err err;
	int64_t deleted = 0;
	size_t n = 0;
	int rv;

	if (!body_object(c, true, "{\"IDs\": [\"...\"]}", &body))
		return;
	if (body != NULL && !string_array(c, body, "IDs", MAX_IDS, &ids, &n))
		goto out;
	if (n > 0)
		rv = store_delete_ids(l, c->req.tenant, ids, n, &deleted, &err);
	else
		rv = store_delete_all(l, c->req.tenant, &deleted, &err);
	if (rv != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		goto out;
	}
	log_info("messages deleted", "tenant=%s count=%lld by=%s", c->req.tenant, (long long)deleted, c->req.principal);
	api__count_deleted(deleted);
	if (n > 0)
		for (size_t i = 0; i < n; i++)
			api__announce_deleted(c, ids[i]);
	else
		api__announce_deleted(c, NULL);
	if (body == NULL)
		http_reply_bytes(c, 200, NULL, "", 0, NULL); /* MailHog's answer: its clients read a body as JSON */
	else
		reply_ok(c);
out:
	mem_free(ids);
	json_decref(body);
}

/* ---- one message ---- */

void api__mailpit_message(struct http_call *c, struct dq_leader *l)
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
		} else if (!row.m.read) {
			/* Mailpit marks a message read when it is opened. */
			const char *ids[1] = { row.m.id };

			if ((rv = store_set_read(l, c->req.tenant, true, ids, 1, NULL, NULL, &err)) != PAT_OK) {
				json_decref(j);
				j = NULL;
				http_reply_store_error(c, rv, &err);
			}
		}
		if (j != NULL)
			http_reply_json(c, 200, j);
		mime_view_free(v);
	}
	store_row_free(&row);
}

void api__mailpit_headers(struct http_call *c, struct dq_leader *l)
{
	struct store_row row;
	struct mime_view *v;
	struct pat_err err;
	json_t *j = NULL;
	int rv;

	if (!load(c, l, &row))
		return;
	if ((v = api__view_of(c, &row)) != NULL) {
		if ((rv = mime_json_headers(v, &j, &err)) != PAT_OK)
			http_reply_store_error(c, rv, &err);
		else
			http_reply_json(c, 200, j);
		mime_view_free(v);
	}
	store_row_free(&row);
}

void api__mailpit_raw(struct http_call *c, struct dq_leader *l)
{
	const char *dl = http_query(c, "dl");
	struct store_row row;
	char disposition[96];
	size_t len = 0;
	char *raw;

	if (!load(c, l, &row))
		return;
	if ((raw = api__raw_of(c, &row, &len)) != NULL) {
		snprintf(disposition, sizeof disposition, "attachment; filename=\"%s.eml\"", row.m.id);
		http_reply_bytes(c, 200, "text/plain; charset=utf-8", raw, len,
				 dl != NULL && strcmp(dl, "1") == 0 ? disposition : NULL);
	}
	mem_free(raw);
	store_row_free(&row);
}

/* GET /view/{id}.html and /view/{id}.txt (Mailpit's views; {id} may be "latest"): the HTML body
 * as a document of its own under the strict policy of /api/v3/messages/{id}/html, or the text
 * body as plain text. Anything else under /view/ is a 404. */
void api__mailpit_view(struct http_call *c, struct dq_leader *l)
{
	const char *file = c->req.params[0], *dot = file != NULL ? strrchr(file, '.') : NULL;
	bool html = dot != NULL && strcmp(dot, ".html") == 0;
	char id[64];
	struct store_row row;
	struct mime_view *v;

	if (dot == NULL || dot == file || (!html && strcmp(dot, ".txt") != 0) || (size_t)(dot - file) >= sizeof id) {
		http_reply_error(c, 404, "no view %.64s: a message's view is /view/{id}.html or /view/{id}.txt", file != NULL ? file : "");
		if (html)
			api__html_headers(c);
		return;
	}
	memcpy(id, file, (size_t)(dot - file));
	id[dot - file] = '\0';
	if (load_id(c, l, id, &row)) {
		if (html) {
			api__reply_html(c, &row);
		} else if ((v = api__view_of(c, &row)) != NULL) {
			http_reply_bytes(c, 200, "text/plain; charset=utf-8", v->text, strlen(v->text), NULL);
			http_reply_header(c, "x-content-type-options", "nosniff");
			mime_view_free(v);
		}
		store_row_free(&row);
	}
	if (html)
		api__html_headers(c);
}

/* A file name for a Content-Disposition: unreserved characters kept, the rest %-escaped (as
 * Mailpit's url.PathEscape does), so no quote or line break reaches the header. */
static void disposition_name(char *out, size_t n, const char *name)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && o + 4 < n; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~!$&'()*+,;=:@", *p) != NULL) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hexd[*p >> 4];
			out[o++] = hexd[*p & 15];
		}
	}
	out[o] = '\0';
}

void api__reply_part(struct http_call *c, const struct store_row *row, const char *part_id)
{
	struct mime_view *v = NULL;
	struct pat_err err;
	uint8_t *data = NULL;
	size_t data_len = 0, len = 0;
	char *type = NULL, *raw;
	char safe_type[256], name[600], disposition[700];
	const char *file = NULL;
	int rv;

	if ((raw = api__raw_of(c, row, &len)) == NULL)
		return;
	if ((rv = mime_part_content(raw, len, part_id, &data, &data_len, &type, &err)) != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		goto out;
	}
	if (mime_view_parse(raw, len, &v, &err) == PAT_OK) {
		for (size_t i = 0; file == NULL && i < v->n_attachments; i++)
			if (strcmp(v->attachments[i].part_id, part_id) == 0)
				file = v->attachments[i].file_name;
		for (size_t i = 0; file == NULL && i < v->n_inline; i++)
			if (strcmp(v->inline_parts[i].part_id, part_id) == 0)
				file = v->inline_parts[i].file_name;
	}
	if (file == NULL || file[0] == '\0') {
		snprintf(name, sizeof name, "part-%s", part_id);
	} else {
		disposition_name(name, sizeof name, file);
	}
	snprintf(disposition, sizeof disposition, "inline; filename=\"%s\"", name);
	api__safe_header_value(safe_type, sizeof safe_type, type);
	http_reply_bytes(c, 200, safe_type[0] != '\0' ? safe_type : "application/octet-stream", data, data_len, disposition);
out:
	mime_view_free(v);
	mem_free(data);
	mem_free(type);
	mem_free(raw);
}

/* The {part} parameter when it is a part id; false after a 400 (a path such as "../x" included). */
static bool part_param(struct http_call *c, const char **part)
{
	*part = c->req.params[1];
	if (*part == NULL || !mime_part_id_valid(*part)) {
		http_reply_error(c, 400, "part: \"%.64s\" is not a part id (such as 1, 2 or 1.2)", *part != NULL ? *part : "");
		return false;
	}
	return true;
}

void api__mailpit_part(struct http_call *c, struct dq_leader *l)
{
	struct store_row row;
	const char *part;

	if (!part_param(c, &part) || !load(c, l, &row))
		return;
	api__reply_part(c, &row, part);
	store_row_free(&row);
}

void api__mailpit_thumb(struct http_call *c, struct dq_leader *l)
{
	const char *part;

	(void)l;
	if (part_param(c, &part))
		http_reply_error(c, 404, "thumbnails are not supported");
}

/* ---- tags ---- */

void api__mailpit_tags(struct http_call *c, struct dq_leader *l)
{
	json_t *tags = tags_json(c, l);

	if (tags != NULL)
		http_reply_json(c, 200, tags);
}

/* PUT /api/v1/tags {Tags, IDs}: the messages of IDs get exactly Tags (none: no tags). */
void api__mailpit_set_tags(struct http_call *c, struct dq_leader *l)
{
	json_t *body;
	const char **ids = NULL, **given = NULL;
	const char *tags[MAX_TAGS];
	char cleaned[MAX_TAGS][TAG_MAX + 1];
	size_t n_ids = 0, n_given = 0, n_tags = 0;
	struct pat_err err;
	int rv;

	if (!body_object(c, false, "{\"Tags\": [\"a\", \"b\"], \"IDs\": [\"...\"]}", &body))
		return;
	if (!string_array(c, body, "IDs", MAX_IDS, &ids, &n_ids) || !string_array(c, body, "Tags", MAX_TAGS, &given, &n_given))
		goto out;
	for (size_t i = 0; i < n_given; i++) {
		ingest_clean_tag(cleaned[n_tags], given[i]);
		if (cleaned[n_tags][0] != '\0') {
			tags[n_tags] = cleaned[n_tags];
			n_tags++;
		}
	}
	if ((rv = store_tags_set(l, c->req.tenant, ids, n_ids, tags, n_tags, NULL, &err)) != PAT_OK)
		http_reply_store_error(c, rv, &err);
	else
		reply_ok(c);
out:
	mem_free(ids);
	mem_free(given);
	json_decref(body);
}

/* PUT /api/v1/tags/{tag} {Name}: rename a tag on every message. */
void api__mailpit_rename_tag(struct http_call *c, struct dq_leader *l)
{
	json_t *body;
	const char *name;
	char to[TAG_MAX + 1];
	struct pat_err err;
	int rv;

	if (!body_object(c, false, "{\"Name\": \"new name\"}", &body))
		return;
	if (api__string_member(c, body, "Name", &name)) {
		ingest_clean_tag(to, name != NULL ? name : "");
		if (to[0] == '\0')
			http_reply_error(c, 400, "Name: a tag needs at least one letter, digit, '-', '_', '.' or '@'");
		else if ((rv = store_tag_rename(l, c->req.tenant, c->req.params[0], to, NULL, &err)) != PAT_OK)
			http_reply_store_error(c, rv, &err);
		else
			reply_ok(c);
	}
	json_decref(body);
}

/* DELETE /api/v1/tags/{tag}: the tag goes from every message (the messages stay). */
void api__mailpit_delete_tag(struct http_call *c, struct dq_leader *l)
{
	struct pat_err err;
	int rv;

	if ((rv = store_tag_rename(l, c->req.tenant, c->req.params[0], NULL, NULL, &err)) != PAT_OK)
		http_reply_store_error(c, rv, &err);
	else
		reply_ok(c);
}

/* ---- send ---- */

/* An addr-spec Pat accepts from the API: local@domain in printable ASCII or UTF-8, without
 * spaces, brackets, quotes, commas or line breaks (nothing that could add a recipient or a
 * header). */
static bool address_ok(const char *a)
{
	const char *at = a != NULL ? strchr(a, '@') : NULL;

	if (at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@') != NULL || strlen(a) > 254)
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || strchr("<>()[]\\,;:\"", *p) != NULL)
			return false;
	return true;
}

/* A text that goes into a header: no line breaks or NULs. */
static bool header_text_ok(const char *s)
{
	return s == NULL || strpbrk(s, "\r\n") == NULL;
}

struct send_state {
	struct http_call *c;
	GMimeMessage *msg;
	struct buf rcpt;     /* envelope recipients, comma-separated */
};

/* {Email, Name} (or, for Bcc as Mailpit takes it, a plain string) added to the list of type. */
static bool add_address(struct send_state *st, json_t *v, const char *field, GMimeAddressType type)
{
	const char *email = NULL, *name = NULL;

	if (json_is_string(v)) {
		email = json_string_value(v);
	} else if (json_is_object(v)) {
		if (!api__string_member(st->c, v, "Email", &email) || !api__string_member(st->c, v, "Name", &name))
			return false;
	}
	if (!address_ok(email) || !header_text_ok(name)) {
		http_reply_error(st->c, 400, "%s: \"%.100s\" is not an email address", field, email != NULL ? email : "");
		return false;
	}
	g_mime_message_add_mailbox(st->msg, type, name != NULL ? name : "", email);
	if (type != GMIME_ADDRESS_TYPE_REPLY_TO)
		buf_printf(&st->rcpt, "%s%s", st->rcpt.len ? "," : "", email);
	return true;
}

static bool add_addresses(struct send_state *st, json_t *body, const char *field, GMimeAddressType type)
{
	json_t *list = api__member(body, field), *v;
	size_t i;

	if (list == NULL || json_is_null(list))
		return true;
	if (!json_is_array(list) || json_array_size(list) > 1000) {
		http_reply_error(st->c, 400, "%s must be an array of addresses ({\"Email\": \"...\", \"Name\": \"...\"})", field);
		return false;
	}
	json_array_foreach(list, i, v)
		if (!add_address(st, v, field, type))
			return false;
	return true;
}

/* Strict base64 (padding optional, whitespace skipped); the part after the last comma, so a
 * data: URL works as in Mailpit. mem_alloc()ed; NULL when it is not base64. */
static uint8_t *base64_decode(const char *text, size_t *len)
{
	const char *s = strrchr(text, ',') != NULL ? strrchr(text, ',') + 1 : text;
	size_t n = strlen(s), o = 0;
	uint8_t *out = mem_alloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0, pad = 0;

	if (out == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", *k;

		if (*s == ' ' || *s == '\r' || *s == '\n' || *s == '\t')
			continue;
		if (*s == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (k = strchr(alpha, *s)) == NULL) {
			mem_free(out);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)(k - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (pad > 2 || bits >= 6) {
		mem_free(out);
		return NULL;
	}
	*len = o;
	return out;
}

/* A text part in UTF-8, quoted-printable or base64 as GMime finds best. */
static GMimeObject *text_part(const char *subtype, const char *text)
{
	GMimeTextPart *p = g_mime_text_part_new_with_subtype(subtype);

	g_mime_text_part_set_text(p, text);
	g_mime_part_set_content_encoding(GMIME_PART(p),
					 g_mime_part_get_best_content_encoding(GMIME_PART(p), GMIME_ENCODING_CONSTRAINT_7BIT));
	return GMIME_OBJECT(p);
}

/* Attachments[{Content, Filename, ContentType?, ContentID?}] into *mixed (attachments) and
 * *related (those with a ContentID: inline). */
static bool add_attachments(struct send_state *st, json_t *body, GPtrArray *attached, GPtrArray *inlined)
{
	json_t *list = api__member(body, "Attachments"), *a;
	size_t i;

	if (list == NULL || json_is_null(list))
		return true;
	if (!json_is_array(list)) {
		http_reply_error(st->c, 400, "Attachments must be an array of {\"Content\": base64, \"Filename\": \"...\"}");
		return false;
	}
	json_array_foreach(list, i, a) {
		const char *content, *filename, *type, *cid;
		GMimeContentType *ct;
		GMimeDataWrapper *w;
		GMimeStream *stream;
		GMimePart *part;
		uint8_t *data;
		size_t len = 0;
		char *guessed = NULL;

		if (!json_is_object(a)) {
			http_reply_error(st->c, 400, "Attachments[%zu] must be an object", i);
			return false;
		}
		if (!api__string_member(st->c, a, "Content", &content) || !api__string_member(st->c, a, "Filename", &filename) ||
		    !api__string_member(st->c, a, "ContentType", &type) || !api__string_member(st->c, a, "ContentID", &cid))
			return false;
		if (filename == NULL || filename[0] == '\0' || !header_text_ok(filename) || !header_text_ok(cid) ||
		    strpbrk(cid != NULL ? cid : "", "<> ") != NULL) {
			http_reply_error(st->c, 400, "Attachments[%zu]: a Filename is required, without line breaks", i);
			return false;
		}
		if (content == NULL || (data = base64_decode(content, &len)) == NULL) {
			http_reply_error(st->c, 400, "Attachments[%zu] (%.100s): Content is not base64", i, filename);
			return false;
		}
		if (type == NULL || type[0] == '\0') {
			gchar *g = g_content_type_guess(filename, data, len, NULL);
			gchar *mime_type = g != NULL ? g_content_type_get_mime_type(g) : NULL;

			guessed = mem_strdup(mime_type != NULL ? mime_type : "application/octet-stream");
			g_free(mime_type);
			g_free(g);
			type = guessed;
		}
		if (type == NULL || !header_text_ok(type) || (ct = g_mime_content_type_parse(NULL, type)) == NULL) {
			http_reply_error(st->c, 400, "Attachments[%zu]: ContentType \"%.100s\" is not a media type", i,
					 type != NULL ? type : "");
			mem_free(guessed);
			mem_free(data);
			return false;
		}
		part = g_mime_part_new();
		g_mime_object_set_content_type(GMIME_OBJECT(part), ct);
		g_object_unref(ct);
		stream = g_mime_stream_mem_new_with_buffer((const char *)data, len);
		w = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
		g_mime_part_set_content(part, w);
		g_object_unref(w);
		g_object_unref(stream);
		g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
		if (cid != NULL && cid[0] != '\0') {
			g_mime_object_set_disposition(GMIME_OBJECT(part), GMIME_DISPOSITION_INLINE);
			g_mime_part_set_content_id(part, cid);
			g_ptr_array_add(inlined, part);
		} else {
			g_mime_object_set_disposition(GMIME_OBJECT(part), GMIME_DISPOSITION_ATTACHMENT);
			g_ptr_array_add(attached, part);
		}
		g_mime_part_set_filename(part, filename); /* after the disposition, which it lives in */
		mem_free(guessed);
		mem_free(data);
	}
	return true;
}

/* The headers Headers{} may not set: the ones the request's own fields make. */
static bool header_restricted(const char *name)
{
	static const char *const restricted[] = { "To", "From", "Cc", "Bcc", "Reply-To", "Date", "Subject",
						  "Content-Type", "Mime-Version", "X-Tags", "Message-Id",
						  "Content-Transfer-Encoding", "Received" };

	for (size_t i = 0; i < sizeof restricted / sizeof restricted[0]; i++)
		if (strcasecmp(name, restricted[i]) == 0)
			return true;
	return false;
}

static bool header_name_ok(const char *name)
{
	if (name[0] == '\0' || strlen(name) > 76)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == ':')
			return false;
	return true;
}

/* The body of the message: text, HTML, or both as alternatives; then related inline parts;
 * then attachments in a multipart/mixed. A new reference. */
static GMimeObject *message_body(const char *text, const char *html, GPtrArray *attached, GPtrArray *inlined)
{
	GMimeObject *body;

	if (html != NULL && html[0] != '\0' && text != NULL && text[0] != '\0') {
		GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
		GMimeObject *t = text_part("plain", text), *h = text_part("html", html);

		g_mime_multipart_add(alt, t);
		g_mime_multipart_add(alt, h);
		g_object_unref(t);
		g_object_unref(h);
		body = GMIME_OBJECT(alt);
	} else if (html != NULL && html[0] != '\0') {
		body = text_part("html", html);
	} else {
		body = text_part("plain", text != NULL ? text : "");
	}
	if (inlined->len > 0) {
		GMimeMultipart *rel = g_mime_multipart_new_with_subtype("related");

		g_mime_multipart_add(rel, body);
		g_object_unref(body);
		for (guint i = 0; i < inlined->len; i++)
			g_mime_multipart_add(rel, inlined->pdata[i]);
		body = GMIME_OBJECT(rel);
	}
	if (attached->len > 0) {
		GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");

		g_mime_multipart_add(mixed, body);
		g_object_unref(body);
		for (guint i = 0; i < attached->len; i++)
			g_mime_multipart_add(mixed, attached->pdata[i]);
		body = GMIME_OBJECT(mixed);
	}
	return body;
}

/* POST /api/v1/send: build the message, store it as SMTP's are stored, answer {ID}. */
void api__mailpit_send(struct http_call *c, struct dq_leader *l)
{
	const struct api_context *app = c->app;
	struct send_state st = { c, NULL, BUF_INIT };
	GPtrArray *attached = g_ptr_array_new_with_free_func(g_object_unref);
	GPtrArray *inlined = g_ptr_array_new_with_free_func(g_object_unref);
	const char *subject, *text, *html, *from_email = NULL, *from_name = NULL;
	const char **tags = NULL;
	size_t n_tags = 0;
	json_t *body = NULL, *from, *headers;
	GMimeFormatOptions *fmt = NULL;
	GMimeObject *content;
	GDateTime *now;
	char id[ULID_SIZE], *message_id = NULL, *raw = NULL;
	struct pat_err err;
	int rv;

	(void)l;
	if (app == NULL || app->ingest == NULL) {
		http_reply_error(c, 404, "sending is not served here");
		goto out;
	}
	if (!body_object(c, false, "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], "
				   "\"Subject\": \"Hi\", \"Text\": \"Hello\"}", &body))
		goto out;
	if (!api__string_member(c, body, "Subject", &subject) || !api__string_member(c, body, "Text", &text) ||
	    !api__string_member(c, body, "HTML", &html) || !string_array(c, body, "Tags", MAX_TAGS, &tags, &n_tags))
		goto out;
	mime_global_init();
	st.msg = g_mime_message_new(TRUE);
	from = api__member(body, "From");
	if (json_is_object(from) && (!api__string_member(c, from, "Email", &from_email) ||
				     !api__string_member(c, from, "Name", &from_name)))
		goto out;
	if (!address_ok(from_email) || !header_text_ok(from_name)) {
		http_reply_error(c, 400, "From: an object {\"Email\": \"...\", \"Name\": \"...\"} with an email address is required");
		goto out;
	}
	g_mime_message_add_mailbox(st.msg, GMIME_ADDRESS_TYPE_FROM, from_name != NULL ? from_name : "", from_email);
	if (!add_addresses(&st, body, "To", GMIME_ADDRESS_TYPE_TO) || !add_addresses(&st, body, "Cc", GMIME_ADDRESS_TYPE_CC) ||
	    !add_addresses(&st, body, "Bcc", GMIME_ADDRESS_TYPE_BCC) ||
	    !add_addresses(&st, body, "ReplyTo", GMIME_ADDRESS_TYPE_REPLY_TO))
		goto out;
	if (st.rcpt.len == 0) {
		http_reply_error(c, 400, "To, Cc or Bcc: at least one recipient is required");
		goto out;
	}
	if (!header_text_ok(subject)) {
		http_reply_error(c, 400, "Subject may not hold line breaks");
		goto out;
	}
	g_mime_message_set_subject(st.msg, subject != NULL ? subject : "", "utf-8");
	now = g_date_time_new_now_utc();
	g_mime_message_set_date(st.msg, now);
	g_date_time_unref(now);
	message_id = g_mime_utils_generate_message_id(app->hostname != NULL ? app->hostname : "localhost");
	g_mime_message_set_message_id(st.msg, message_id);
	if (n_tags > 0) {
		struct buf joined = BUF_INIT;

		for (size_t i = 0; i < n_tags; i++) {
			char t[TAG_MAX + 1];

			ingest_clean_tag(t, tags[i]);
			if (t[0] != '\0')
				buf_printf(&joined, "%s%s", joined.len ? ", " : "", t);
		}
		if (joined.len > 0)
			g_mime_object_set_header(GMIME_OBJECT(st.msg), "X-Tags", joined.data, "utf-8");
		buf_free(&joined);
	}
	headers = api__member(body, "Headers");
	if (headers != NULL && !json_is_null(headers)) {
		const char *name;
		json_t *v;

		if (!json_is_object(headers)) {
			http_reply_error(c, 400, "Headers must be an object {\"X-Name\": \"value\"}");
			goto out;
		}
		json_object_foreach(headers, name, v) {
			if (!header_name_ok(name) || header_restricted(name)) {
				http_reply_error(c, 400, "Headers: \"%.76s\" cannot be set here", name);
				goto out;
			}
			if (!json_is_string(v) || !header_text_ok(json_string_value(v))) {
				http_reply_error(c, 400, "Headers: %s must be a string without line breaks", name);
				goto out;
			}
			g_mime_object_append_header(GMIME_OBJECT(st.msg), name, json_string_value(v), "utf-8");
		}
	}
	if (!add_attachments(&st, body, attached, inlined))
		goto out;
	content = message_body(text, html, attached, inlined);
	g_mime_message_set_mime_part(st.msg, content);
	g_object_unref(content);
	fmt = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(fmt, GMIME_NEWLINE_FORMAT_DOS);
	raw = g_mime_object_to_string(GMIME_OBJECT(st.msg), fmt);
	if (raw == NULL || st.rcpt.data == NULL) {
		http_reply_error(c, 500, "out of memory");
		goto out;
	}
	rv = ingest_submit(app->ingest, c->req.tenant, "api", from_email, st.rcpt.data, raw, strlen(raw), id, &err);
	if (rv != PAT_OK) {
		http_reply_error(c, rv == PAT_ELIMIT || rv == PAT_ECLOSED ? 503 : rv == PAT_ENOMEM ? 500 : 503, "%s", err.msg);
		goto out;
	}
	log_info("message sent through the API", "tenant=%s id=%s by=%s", c->req.tenant, id, c->req.principal);
	http_reply_json(c, 200, json_pack("{s:s}", "ID", id));
out:
	if (fmt != NULL)
		g_mime_format_options_free(fmt);
	g_free(raw);
	g_free(message_id);
	if (st.msg != NULL)
		g_object_unref(st.msg);
	g_ptr_array_unref(attached);
	g_ptr_array_unref(inlined);
	buf_free(&st.rcpt);
	mem_free(tags);
	json_decref(body);
}

/* ---- about the server ---- */

/* Resident memory of this process, from /proc. */
static uint64_t resident_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size = 0, rss = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (uint64_t)rss * 4096u;
}

void api__mailpit_info(struct http_call *c, struct dq_leader *l)
{
	const struct api_context *app = c->app;
	int64_t total = 0, unread = 0, bytes = 0;
	uint64_t accepted = 0, accepted_bytes = 0;
	double rejected = 0;
	struct pat_err err;
	char **tags = NULL;
	size_t n = 0;
	json_t *tag_counts;
	int rv;

	if ((rv = store_count(l, c->req.tenant, &total, &unread, &err)) != PAT_OK ||
	    (rv = store_stored_bytes(l, c->req.tenant, &bytes, &err)) != PAT_OK ||
	    (rv = store_tags_list(l, c->req.tenant, &tags, &n, &err)) != PAT_OK) {
		http_reply_store_error(c, rv, &err);
		return;
	}
	tag_counts = json_object();
	for (size_t i = 0; tag_counts != NULL && i < n; i++) {
		struct store_term t = { STORE_TERM_TAG, false, tags[i], 0 };
		struct store_filter f = { &t, 1 };
		struct store_row *rows = NULL;
		size_t got = 0;
		int64_t count = 0;

		if ((rv = store_find_matching(l, c->req.tenant, &f, 0, 0, &rows, &got, &count, NULL, &err)) != PAT_OK) {
			json_decref(tag_counts);
			store_tags_free(tags, n);
			http_reply_store_error(c, rv, &err);
			return;
		}
		store_rows_free(rows, got);
		json_object_set_new(tag_counts, tags[i], json_integer((json_int_t)count));
	}
	store_tags_free(tags, n);
	ingest_totals(&accepted, &accepted_bytes);
	for (int i = 0; i < GATEWAY_REJECT__COUNT; i++)
		rejected += metric_value(gateway_metrics()->rejections[i]);
	http_reply_json(c, 200, tag_counts == NULL ? NULL : json_pack(
		"{s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
		"Version", app != NULL && app->version != NULL ? app->version : "", "LatestVersion", "",
		"Database", "dqlite", "DatabaseSize", (json_int_t)bytes, "Messages", (json_int_t)total,
		"Unread", (json_int_t)unread, "Tags", tag_counts, "RuntimeStats",
		"Uptime", (json_int_t)(app != NULL && app->started_ms > 0 ? (time_wall_ms() - app->started_ms) / 1000 : 0),
		"Memory", (json_int_t)resident_bytes(), "MessagesDeleted", (json_int_t)atomic_load(&deleted_total),
		"SMTPAccepted", (json_int_t)accepted, "SMTPAcceptedSize", (json_int_t)accepted_bytes,
		"SMTPRejected", (json_int_t)rejected, "SMTPIgnored", (json_int_t)0));
}

/* What Mailpit's web UI reads about the server: Pat relays only through MailHog's release
 * endpoint, has no SpamAssassin or chaos, and keeps duplicate Message-IDs. */
void api__mailpit_webui(struct http_call *c, struct dq_leader *l)
{
	const struct api_context *app = c->app;

	(void)l;
	http_reply_json(c, 200, json_pack("{s:s,s:{s:b,s:s,s:s,s:s,s:s,s:s,s:b,s:s},s:b,s:b,s:b,s:b}", "Label", "Pat",
					  "MessageRelay", "Enabled", 0, "SMTPServer", "", "ReturnPath", "",
					  "AllowedRecipients", "", "BlockedRecipients", "", "OverrideFrom", "",
					  "PreserveMessageIDs", 0, "RecipientAllowlist", "", "SpamAssassin", 0,
					  "ChaosEnabled", app->chaos != NULL && app->chaos->enabled, "DuplicatesIgnored", 0,
					  "HideDeleteAllButton", 0));
}

/* ---- chaos (gateway/chaos.h) ---- */

/* The triggers, or a 400 when chaos is off. NULL after the 400. */
static struct chaos *chaos_on(struct http_call *c)
{
	const struct api_context *app = c->app;

	if (app->chaos == NULL || !app->chaos->enabled) {
		http_reply_error(c, 400, "Chaos is not enabled: set [smtp] chaos = true (PAT_SMTP_CHAOS=true) on this gateway");
		return NULL;
	}
	return app->chaos;
}

static void reply_chaos(struct http_call *c, struct chaos *chaos)
{
	struct chaos_setting s[CHAOS__COUNT];
	json_t *body = json_object();

	chaos_get(chaos, s);
	for (int t = 0; body != NULL && t < CHAOS__COUNT; t++)
		json_object_set_new(body, chaos_trigger_name((enum chaos_trigger)t),
				    json_pack("{s:i,s:i}", "ErrorCode", s[t].code, "Probability", s[t].probability));
	http_reply_json(c, 200, body);
}

void api__mailpit_get_chaos(struct http_call *c, struct dq_leader *l)
{
	struct chaos *chaos = chaos_on(c);

	(void)l;
	if (chaos != NULL)
		reply_chaos(c, chaos);
}

/* An integer member of a trigger (absent or null: 0, which means the default); false after a
 * 400. */
static bool chaos_number(struct http_call *c, json_t *trigger, const char *trigger_name, const char *name, int *out)
{
	json_t *v = api__member(trigger, name);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < -1000000 || json_integer_value(v) > 1000000) {
		http_reply_error(c, 400, "%s.%s must be an integer", trigger_name, name);
		return false;
	}
	*out = (int)json_integer_value(v);
	return true;
}

/* PUT: every trigger at once, as Mailpit: one left out goes back to its default code with
 * probability 0, and {} turns them all off. */
void api__mailpit_set_chaos(struct http_call *c, struct dq_leader *l)
{
	struct chaos *chaos = chaos_on(c);
	struct chaos_setting s[CHAOS__COUNT];
	struct pat_err err;
	json_t *body;

	(void)l;
	if (chaos == NULL ||
	    !body_object(c, false, "{\"Sender\": {\"ErrorCode\": 451, \"Probability\": 10}}", &body))
		return;
	for (int t = 0; t < CHAOS__COUNT; t++) {
		const char *name = chaos_trigger_name((enum chaos_trigger)t);
		json_t *trigger = api__member(body, name);

		s[t].code = 0;
		s[t].probability = 0;
		if (trigger != NULL && !json_is_null(trigger)) {
			if (!json_is_object(trigger)) {
				http_reply_error(c, 400, "%s must be an object such as {\"ErrorCode\": 451, \"Probability\": 10}",
						 name);
				json_decref(body);
				return;
			}
			if (!chaos_number(c, trigger, name, "ErrorCode", &s[t].code) ||
			    !chaos_number(c, trigger, name, "Probability", &s[t].probability)) {
				json_decref(body);
				return;
			}
		}
		if (s[t].code == 0)
			s[t].code = chaos_default_code((enum chaos_trigger)t);
	}
	json_decref(body);
	if (chaos_set(chaos, s, &err) != PAT_OK) {
		log_warn("chaos triggers refused", "error=%s", err.msg);
		http_reply_error(c, 400, "%s", err.msg);
		return;
	}
	reply_chaos(c, chaos);
}

/* ---- live events ---- */

int api__mailpit_event(struct dq_leader *l, const char *tenant, enum http_event_kind kind, const char *id,
		       struct buf *out)
{
	struct store_row row;
	struct pat_err err;
	json_t *data = NULL, *event;
	char *text;
	int rv;

	if (kind == HTTP_EVENT_DELETED) {
		event = id != NULL && id[0] != '\0' ? json_pack("{s:s,s:{s:s}}", "Type", "delete", "Data", "ID", id)
						    : json_pack("{s:s,s:n}", "Type", "truncate", "Data");
	} else {
		if ((rv = store_get(l, tenant, id, &row, &err)) != PAT_OK)
			return rv;
		rv = mime_json_summary(&row.m, &data, &err);
		store_row_free(&row);
		if (rv != PAT_OK)
			return rv;
		event = json_pack("{s:s,s:o}", "Type", "new", "Data", data);
	}
	text = event != NULL ? json_dumps(event, JSON_COMPACT) : NULL;
	json_decref(event);
	rv = text != NULL ? buf_append_str(out, text) : PAT_ENOMEM;
	free(text);
	return rv;
}
