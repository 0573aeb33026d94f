/* api_private: what the files of gateway/api share (api.c: the route table, health checks and
 * MailHog's API; api_mailpit.c: Mailpit's API v1; api_v3.c: Pat's own API v3). Not for other
 * modules. */
#ifndef PAT_GATEWAY_API_PRIVATE_H
#define PAT_GATEWAY_API_PRIVATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "gateway/api.h"
#include "gateway/query.h"
#include "node/store.h"

/* The renderings of live events (http_route.event_format). */
enum api_event_format {
	API_EVENTS_MAILHOG, /* MailHog's Message JSON per new message */
	API_EVENTS_MAILPIT, /* Mailpit's {"Type": "new" | "delete" | "truncate", "Data": ...} */
	API_EVENTS_V3,      /* Pat's {"type": "new" | "deleted", ...} */
};

/* Mailpit's page size when none is given, and the largest page Pat serves. */
#define API_MAILPIT_LIMIT 50
#define API_MAX_LIMIT 1000

/* ---- api.c ---- */

/* A whole number from the query: digits only, at most max. true with *out unchanged when the
 * parameter is absent; false (and a 400) when it is not such a number. */
bool api__query_number(struct http_call *c, const char *name, unsigned long max, unsigned *out);
/* The raw message of a stored row (mem_free it); NULL after replying 500 (when c is set) when
 * it is damaged. */
char *api__raw_of(struct http_call *c, const struct store_row *r, size_t *len);
/* A header value safe to send back: printable ASCII only. */
void api__safe_header_value(char *out, size_t n, const char *in);
/* A member of a JSON object, its name compared ignoring case (as Go's decoder does). */
json_t *api__member(json_t *obj, const char *name);
/* A string member, or NULL when absent; false (and a 400) when it is there but not a string. */
bool api__string_member(struct http_call *c, json_t *obj, const char *name, const char **out);

/* ---- api_mailpit.c ---- */

void api__mailpit_list(struct http_call *c, struct dq_leader *l);
void api__mailpit_set_read(struct http_call *c, struct dq_leader *l);
void api__mailpit_delete(struct http_call *c, struct dq_leader *l);
void api__mailpit_search(struct http_call *c, struct dq_leader *l);
void api__mailpit_delete_search(struct http_call *c, struct dq_leader *l);
void api__mailpit_message(struct http_call *c, struct dq_leader *l);
void api__mailpit_headers(struct http_call *c, struct dq_leader *l);
void api__mailpit_raw(struct http_call *c, struct dq_leader *l);
void api__mailpit_part(struct http_call *c, struct dq_leader *l);
void api__mailpit_thumb(struct http_call *c, struct dq_leader *l);
void api__mailpit_tags(struct http_call *c, struct dq_leader *l);
void api__mailpit_set_tags(struct http_call *c, struct dq_leader *l);
void api__mailpit_rename_tag(struct http_call *c, struct dq_leader *l);
void api__mailpit_delete_tag(struct http_call *c, struct dq_leader *l);
void api__mailpit_send(struct http_call *c, struct dq_leader *l);
void api__mailpit_info(struct http_call *c, struct dq_leader *l);
void api__mailpit_webui(struct http_call *c, struct dq_leader *l);
void api__mailpit_get_chaos(struct http_call *c, struct dq_leader *l);
void api__mailpit_set_chaos(struct http_call *c, struct dq_leader *l);
void api__mailpit_view(struct http_call *c, struct dq_leader *l);
/* A Mailpit summary event of a new message, or {"Type":"delete"|"truncate"} (render_event). */
int api__mailpit_event(struct dq_leader *l, const char *tenant, enum http_event_kind kind, const char *id,
		       struct buf *out);

/* Shared with api_v3.c: */
/* The view of a stored row's raw message (mime_view_free), NULL after replying. */
struct mime_view;
struct mime_view *api__view_of(struct http_call *c, const struct store_row *row);
/* One part's bytes as the response, with its type and a Content-Disposition naming its file. */
void api__reply_part(struct http_call *c, const struct store_row *row, const char *part_id);
/* A search in Mailpit's syntax (NULL: all) with an optional `before` date, into q; false after
 * replying 400. */
bool api__parse_search(struct http_call *c, const char *search, const char *before, struct query *q);
/* Delete the tenant's messages matching f a page at a time, announcing each. */
int api__delete_found(struct http_call *c, struct dq_leader *l, const struct store_filter *f, int64_t *deleted,
		      struct pat_err *err);
/* Count messages deleted through the API (Mailpit's RuntimeStats.MessagesDeleted). */
void api__count_deleted(int64_t n);
/* Tell the live event streams of the tenant that messages went (id NULL: all of them). */
void api__announce_deleted(struct http_call *c, const char *id);

/* ---- api_v3.c ---- */

void api__v3_list(struct http_call *c, struct dq_leader *l);
void api__v3_search(struct http_call *c, struct dq_leader *l);
void api__v3_message(struct http_call *c, struct dq_leader *l);
void api__v3_raw(struct http_call *c, struct dq_leader *l);
void api__v3_parts(struct http_call *c, struct dq_leader *l);
void api__v3_attachments(struct http_call *c, struct dq_leader *l);
void api__v3_part(struct http_call *c, struct dq_leader *l);
/* Shared with api_mailpit.c (its /view/{id}.html): a row's HTML body as a document of its own,
 * its cid: images inlined (a 404 when it has none), and the strict policy every such answer
 * carries, errors included (api__html_headers after the reply). */
void api__reply_html(struct http_call *c, const struct store_row *row);
void api__html_headers(struct http_call *c);
void api__v3_html(struct http_call *c, struct dq_leader *l);
void api__v3_delete(struct http_call *c, struct dq_leader *l);
void api__v3_delete_all(struct http_call *c, struct dq_leader *l);
int api__v3_event(struct dq_leader *l, const char *tenant, enum http_event_kind kind, const char *id, struct buf *out);

#endif
