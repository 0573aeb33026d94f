/* http_private: what gateway/http's files share (http.c: the server, the router, the
 * workers; http_events.c: live event streams). Not for other modules. */
#ifndef PAT_GATEWAY_HTTP_PRIVATE_H
#define PAT_GATEWAY_HTTP_PRIVATE_H

#define H2O_USE_LIBUV 1
#include <h2o.h>
#include <h2o/websocket.h>

#include "gateway/http.h"

#define MAX_SEGMENTS 16 /* path segments of a request at most */

/* libh2o's configuration and context. */
struct h2o_state {
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept;
	bool ctx_ready;
};

/* The link from a request's memory pool to its job: disposed with the request. */
struct job_link {
	struct http_job *job; /* NULL once the job is answered */
};

/* method, path, tenant, body, If-None-Match, each segment, each query name and value (one
 * pair more than accepted: the one found to be too many) */
#define JOB_MAX_OWNED (8 + MAX_SEGMENTS + 2 * (HTTP_MAX_QUERY + 1))

struct http_job {
	struct http_call call;
	const struct http_route *route;
	struct http_server *server;
	h2o_req_t *req;               /* NULL once h2o has disposed of the request (loop thread) */
	struct job_link *link;
	char *owned[JOB_MAX_OWNED];   /* strings call.req points to */
	size_t n_owned;
	struct http_job *next;        /* queue links */
	int64_t start_ns;             /* when the request arrived (pat_api_requests_duration_seconds) */
	/* A live event to render instead of a request: */
	bool is_event;
	enum http_event_kind event_kind;
	char *event_tenant, *event_id;
	unsigned event_formats;       /* bit f: a subscriber wants format f */
	struct buf event[HTTP_EVENT_FORMATS]; /* the event rendered in each wanted format */
};

/* A message stored, announced from another thread. */
struct http_notice {
	enum http_event_kind kind;
	char *tenant, *id;
	struct http_notice *next;
};

/* A live event stream. An SSE stream lives in its request's memory pool (h2o frees it with the
 * request); a WebSocket one is ours. */
struct http_subscriber {
	h2o_generator_t generator;    /* SSE: h2o asks for more, or stops */
	struct http_server *server;
	enum http_events kind;
	int format;                   /* the rendering it gets (its route's event_format) */
	char tenant[64];
	h2o_req_t *req;               /* SSE */
	h2o_websocket_conn_t *ws;     /* WebSocket */
	struct buf pending, inflight; /* SSE: bytes waiting, and bytes h2o is sending */
	bool sending;                 /* SSE: h2o has inflight */
	bool closing;                 /* ending: the final chunk goes after what is pending */
	bool gone;                    /* SSE: h2o stopped the response; send nothing more */
	struct http_subscriber *next;
};

/* http.c */
void http__job_free(struct http_job *j);
/* Send the job's response (loop thread) and free the job. */
void http__job_finish(struct http_job *j);
/* Hand a job to the workers. */
void http__queue_job(struct http_server *s, struct http_job *j);

/* http_events.c */
/* Stored messages announced: render those someone is waiting for (on a worker). */
void http__take_notices(struct http_server *s);
/* A rendered event (one buffer per format) to every stream of its tenant. */
void http__broadcast(struct http_server *s, const char *tenant, const struct buf *events);
/* Turn the request into a live event stream of its tenant (or answer why not). */
void http__start_stream(struct http_server *s, h2o_req_t *req, struct http_job *j);
/* End every stream; true when none is left. */
bool http__close_streams(struct http_server *s);
/* events_timer: keepalives, and at shutdown the streams that could not end yet. */
void http__on_events_timer(uv_timer_t *t);

#endif
