/* http_events: MailHog's live events: an SSE stream (/api/v1/events) or a WebSocket
 * (/api/v2/websocket) per subscriber, each receiving every new message of its tenant.
 *
 * ingest announces a committed message from the writer thread (http_server_publish); the loop
 * takes the notice and, when a stream of that tenant is open, a worker renders the message; the
 * loop then writes it to every stream of the tenant. An SSE stream sends one buffer at a time
 * through an h2o generator (what arrives meanwhile waits, up to STREAM_MAX_PENDING); a WebSocket
 * goes through h2o's wslay binding. Everything here runs on the loop thread except
 * http_server_publish(). */
#include "gateway/http_private.h"

#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#define STREAM_MAX_PENDING (8u << 20) /* bytes a slow event stream may fall behind */

/* The formats the open streams of tenant want (bit f: format f). */
static unsigned wanted_formats(struct http_server *s, const char *tenant)
{
	unsigned formats = 0;

	for (struct http_subscriber *sub = s->subscribers; sub != NULL; sub = sub->next)
		if (!sub->closing && strcmp(sub->tenant, tenant) == 0)
			formats |= 1u << sub->format;
	return formats;
}

/* Stored messages announced: render those someone is waiting for (on a worker). */
void http__take_notices(struct http_server *s)
{
	struct http_notice *n, *next;

	pthread_mutex_lock(&s->mu);
	n = s->notices;
	s->notices = NULL;
	pthread_mutex_unlock(&s->mu);
	for (; n != NULL; n = next) {
		next = n->next;
		unsigned formats = s->closing || s->o.render_event == NULL ? 0 : wanted_formats(s, n->tenant);

		if (formats != 0) {
			struct http_job *j = mem_calloc(1, sizeof *j);

			if (j != NULL) {
				j->server = s;
				j->is_event = true;
				j->event_kind = n->kind;
				j->event_formats = formats;
				j->event_tenant = n->tenant;
				j->event_id = n->id;
				n->tenant = n->id = NULL;
				http__queue_job(s, j);
			}
		}
		mem_free(n->tenant);
		mem_free(n->id);
		mem_free(n);
	}
}

static void publish(struct http_server *s, enum http_event_kind kind, const char *tenant, const char *id)
{
	struct http_notice *n = mem_calloc(1, sizeof *n);

	if (n != NULL)
		n->kind = kind;
	if (n == NULL || (n->tenant = mem_strdup(tenant)) == NULL || (n->id = mem_strdup(id != NULL ? id : "")) == NULL) {
		if (n != NULL) {
			mem_free(n->tenant);
			mem_free(n);
		}
		return; /* the event is lost; the message is stored all the same */
	}
	pthread_mutex_lock(&s->mu);
	if (!s->started || s->notices_closed) {
		pthread_mutex_unlock(&s->mu);
		mem_free(n->tenant);
		mem_free(n->id);
		mem_free(n);
		return;
	}
	/* In order: a deletion announced after the message's arrival is sent after it. */
	{
		struct http_notice **pp = &s->notices;

		while (*pp != NULL)
			pp = &(*pp)->next;
		*pp = n;
	}
	uv_async_send(&s->wakeup);
	pthread_mutex_unlock(&s->mu);
}

void http_server_publish(struct http_server *s, const char *tenant, const char *id)
{
	publish(s, HTTP_EVENT_NEW, tenant, id);
}

void http_server_publish_deleted(struct http_server *s, const char *tenant, const char *id)
{
	publish(s, HTTP_EVENT_DELETED, tenant, id);
}

static void unlink_subscriber(struct http_server *s, struct http_subscriber *sub)
{
	for (struct http_subscriber **pp = &s->subscribers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == sub) {
			*pp = sub->next;
			s->stats.streams--;
			return;
		}
}

/* Hand h2o what is pending, unless it is still sending; the final chunk once closing. */
static void sse_flush(struct http_subscriber *sub)
{
	h2o_iovec_t v;

	if (sub->gone || sub->sending || sub->req == NULL)
		return;
	if (sub->pending.len > 0) {
		sub->inflight = sub->pending;
		buf_init(&sub->pending);
		sub->sending = true;
		v = h2o_iovec_init(sub->inflight.data, sub->inflight.len);
		h2o_send(sub->req, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
	} else if (sub->closing) {
		sub->sending = true;
		sub->gone = true;
		h2o_send(sub->req, NULL, 0, H2O_SEND_STATE_FINAL);
	}
}

static void sse_proceed(h2o_generator_t *g, h2o_req_t *req)
{
	struct http_subscriber *sub = H2O_STRUCT_FROM_MEMBER(struct http_subscriber, generator, g);

	(void)req;
	buf_free(&sub->inflight);
	sub->sending = false;
	sse_flush(sub);
}

static void sse_stop(h2o_generator_t *g, h2o_req_t *req)
{
	struct http_subscriber *sub = H2O_STRUCT_FROM_MEMBER(struct http_subscriber, generator, g);

	(void)req;
	sub->gone = true;
	unlink_subscriber(sub->server, sub);
}

static void sse_dispose(void *p)
{
	struct http_subscriber *sub = p;

	unlink_subscriber(sub->server, sub);
	buf_free(&sub->pending);
	buf_free(&sub->inflight);
}

static void sse_append(struct http_subscriber *sub, const char *event, const char *data, size_t len)
{
	if (sub->gone || sub->closing)
		return;
	if (sub->pending.len > STREAM_MAX_PENDING) {
		log_warn("event stream falls behind; events dropped", "tenant=%s", sub->tenant);
		return;
	}
	if (buf_printf(&sub->pending, "event: %s\ndata: ", event) != PAT_OK || buf_append(&sub->pending, data, len) != PAT_OK ||
	    buf_append(&sub->pending, "\n\n", 2) != PAT_OK)
		return;
	sse_flush(sub);
}

static void on_ws_message(h2o_websocket_conn_t *conn, const struct wslay_event_on_msg_recv_arg *arg)
{
	struct http_subscriber *sub = conn->data;

	if (arg != NULL)
		return; /* what a client says is not read */
	unlink_subscriber(sub->server, sub);
	h2o_websocket_close(conn);
	mem_free(sub);
}

static void ws_send(struct http_subscriber *sub, const char *data, size_t len)
{
	struct wslay_event_msg msg = { WSLAY_TEXT_FRAME, (const uint8_t *)data, len };

	if (sub->closing)
		return;
	if (wslay_event_queue_msg(sub->ws->ws_ctx, &msg) != 0)
		return;
	/* Until the upgrade completes, the message waits in wslay's queue; h2o sends it then. */
	if (sub->ws->sock != NULL)
		h2o_websocket_proceed(sub->ws); /* may close the connection, and free sub */
}

void http__broadcast(struct http_server *s, const char *tenant, const struct buf *events)
{
	struct http_subscriber *sub, *next;

	for (sub = s->subscribers; sub != NULL; sub = next) {
		const struct buf *event;

		next = sub->next;
		if (sub->closing || strcmp(sub->tenant, tenant) != 0)
			continue;
		event = &events[sub->format];
		if (event->len == 0)
			continue;
		s->stats.events++;
		if (sub->kind == HTTP_EVENTS_SSE)
			sse_append(sub, "data", event->data, event->len);
		else
			ws_send(sub, event->data, event->len);
	}
}

/* End every stream: SSE streams after what is pending, WebSockets at once (or, while the
 * upgrade is still being written, at a later tick). true when none is left. */
bool http__close_streams(struct http_server *s)
{
	struct http_subscriber *sub, *next;

	for (sub = s->subscribers; sub != NULL; sub = next) {
		next = sub->next;
		if (sub->kind == HTTP_EVENTS_SSE) {
			sub->closing = true;
			sse_flush(sub);
		} else if (sub->ws->sock != NULL) {
			unlink_subscriber(s, sub);
			h2o_websocket_close(sub->ws);
			mem_free(sub);
		}
	}
	return s->subscribers == NULL;
}

void http__on_events_timer(uv_timer_t *t)
{
	struct http_server *s = t->data;

	if (s->closing) {
		if (http__close_streams(s))
			uv_close((uv_handle_t *)t, NULL);
		return;
	}
	for (struct http_subscriber *sub = s->subscribers, *next; sub != NULL; sub = next) {
		next = sub->next;
		if (sub->kind == HTTP_EVENTS_SSE)
			sse_append(sub, "keepalive", "", 0);
	}
}

/* Turn the request into a live event stream of its tenant. */
void http__start_stream(struct http_server *s, h2o_req_t *req, struct http_job *j)
{
	struct http_subscriber *sub;

	if (s->o.render_event == NULL) {
		http_reply_error(&j->call, 404, "live events are not served here");
		http__job_finish(j);
		return;
	}
	if (j->route->events == HTTP_EVENTS_WEBSOCKET) {
		const char *key = NULL;

		if (h2o_is_websocket_handshake(req, &key) != 0 || key == NULL) {
			http_reply_error(&j->call, 400, "%s is a WebSocket: send a WebSocket handshake (Upgrade: websocket)",
					 j->call.req.path);
			http__job_finish(j);
			return;
		}
		if ((sub = mem_calloc(1, sizeof *sub)) == NULL) {
			http_reply_error(&j->call, 500, "out of memory");
			http__job_finish(j);
			return;
		}
		sub->kind = HTTP_EVENTS_WEBSOCKET;
		sub->ws = h2o_upgrade_to_websocket(req, key, sub, on_ws_message);
	} else {
		sub = h2o_mem_alloc_shared(&req->pool, sizeof *sub, sse_dispose);
		memset(sub, 0, sizeof *sub);
		sub->kind = HTTP_EVENTS_SSE;
		sub->req = req;
		sub->generator.proceed = sse_proceed;
		sub->generator.stop = sse_stop;
		req->res.status = 200;
		req->res.reason = "OK";
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
		h2o_start_response(req, &sub->generator);
		buf_append_str(&sub->pending, ": new messages arrive as events named data\n\n");
	}
	sub->server = s;
	sub->format = j->route->event_format >= 0 && j->route->event_format < HTTP_EVENT_FORMATS ? j->route->event_format : 0;
	str_copy(sub->tenant, j->call.req.tenant, sizeof sub->tenant);
	sub->next = s->subscribers;
	s->subscribers = sub;
	s->stats.streams++;
	log_info("event stream opened", "tenant=%s kind=%s", sub->tenant,
		 sub->kind == HTTP_EVENTS_SSE ? "sse" : "websocket");
	if (sub->kind == HTTP_EVENTS_SSE)
		sse_flush(sub);
	j->link->job = NULL;
	http__job_free(j);
}
