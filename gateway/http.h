/* http: Pat's HTTP/1.1 server (libh2o) on the gateway's libuv loop: one route table, one
 * auth-and-tenant middleware every request passes, JSON errors, and worker threads that run
 * the handlers' blocking store calls, each with its own leader connection, so that the loop
 * never waits on the cluster.
 *
 * A request's life: the loop parses it (h2o), checks its size, finds its route (404 unknown
 * path, 405 wrong method), checks its query parameters (400), resolves who is calling and for
 * which tenant, and then runs the handler: on the loop when the route needs no store, else on
 * a worker thread. The handler fills a struct http_response; the loop sends it. */
#ifndef PAT_GATEWAY_HTTP_H
#define PAT_GATEWAY_HTTP_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/leader.h"
#include "lib/buf.h"
#include "lib/err.h"

#define HTTP_MAX_PARAMS 4  /* {name} segments in a route pattern */
#define HTTP_MAX_QUERY 16  /* query parameters in a request */
#define HTTP_MAX_HEADERS 8  /* headers a handler may add to a response */
#define HTTP_TENANT_HEADER "x-pat-tenant"
/* The query parameter that names the tenant on routes that accept it (the live event streams
 * and a message's HTML for the UI's frame: a browser's EventSource, WebSocket and frames cannot
 * send headers). Validated as X-Pat-Tenant is. */
#define HTTP_TENANT_QUERY "tenant"

/* What a handler reads. Strings are NUL-terminated and percent-decoded. */
struct http_request {
	const char *method;                  /* "GET", "DELETE", ... (HEAD is served as GET) */
	const char *path;                    /* as sent, without the query */
	const char *params[HTTP_MAX_PARAMS]; /* the {name} segments of the route, in order */
	const char *query_names[HTTP_MAX_QUERY];
	const char *query_values[HTTP_MAX_QUERY];
	size_t n_query;
	const char *body;                    /* the request body ("" when none) */
	size_t body_len;
	const char *tenant;                  /* whose data the request reads or changes */
	const char *principal;               /* who is calling ("anonymous" without auth) */
	const char *if_none_match;           /* the If-None-Match header, or NULL */
};

/* What a handler writes: http_reply_*() fill it. */
struct http_response {
	int status;                /* 0 until a reply is set */
	char *content_type;        /* Content-Type (mem_alloc'ed), or NULL for none */
	struct buf body;
	char *disposition;         /* Content-Disposition value (mem_alloc'ed), or NULL */
	char allow[48];            /* Allow header of a 405, or "" */
	char *header_names[HTTP_MAX_HEADERS];  /* more headers (lower-case names; mem_alloc'ed) */
	char *header_values[HTTP_MAX_HEADERS];
	size_t n_headers;
};

struct http_call {
	struct http_request req;
	struct http_response res;
	void *app;                 /* http_options.app */
};

/* A handler: fills c->res. l is the worker's leader connection for routes with .store set,
 * NULL for the others (which run on the loop thread and must not block). */
typedef void (*http_handler_fn)(struct http_call *c, struct dq_leader *l);

/* Live events: a route with events set streams every new message of the caller's tenant,
 * rendered by http_options.render_event. */
enum http_events {
	HTTP_EVENTS_NONE,      /* an ordinary request */
	HTTP_EVENTS_SSE,       /* text/event-stream: "event: data" per message, "keepalive" each minute */
	HTTP_EVENTS_WEBSOCKET, /* a WebSocket: one text message per message */
};

/* What a live event announces. */
enum http_event_kind {
	HTTP_EVENT_NEW,      /* a message was stored */
	HTTP_EVENT_DELETED,  /* a message was deleted (id "": all of the tenant's) */
};

/* Each event stream route names the rendering its subscribers get (http_route.event_format);
 * an event is rendered once per format that has a subscriber of its tenant. */
#define HTTP_EVENT_FORMATS 4

/* One row of the route table. */
struct http_route {
	const char *method;   /* "GET", "POST", "DELETE", ... */
	const char *pattern;  /* "/api/v1/messages/{id}": literal segments and {name} segments */
	http_handler_fn handler;
	bool store;           /* runs on a worker thread with a leader connection */
	bool open;            /* served without credentials (health checks) */
	const char *query;    /* accepted query parameters, comma-separated ("start,limit"), or NULL */
	enum http_events events; /* a live event stream (handler unused) */
	int event_format;     /* the rendering its stream gets, 0 to HTTP_EVENT_FORMATS - 1 */
};

/* How callers prove who they are. Only "none" exists in this build; OIDC bearer tokens and API
 * keys plug into http.c's authenticate(). */
enum http_auth { HTTP_AUTH_NONE };

struct http_options {
	const char *listen;            /* HOST:PORT (port 0: any free port) */
	SSL_CTX *tls;                  /* HTTPS when set */
	enum http_auth auth;
	bool allow_unauthenticated;    /* permit a non-loopback listener with HTTP_AUTH_NONE */
	const char *tenant;            /* the listener's tenant (X-Pat-Tenant overrides it) */
	size_t max_body_size;          /* request bodies larger are answered 413 */
	size_t max_header_size;        /* request lines + headers larger are answered 431 */
	uint64_t request_timeout_ms;   /* how long a client may take to send a request */
	unsigned workers;              /* threads for the handlers' store calls */
	const char *seeds;             /* cluster addresses the workers reach the leader through */
	const char *db;                /* database name */
	int store_timeout_ms;          /* deadline of each store request */
	const struct http_route *routes;
	size_t n_routes;
	void *app;                     /* handed to handlers in http_call.app */
	/* Renders an event in one format into out (on a worker thread); an error, or nothing
	 * written, skips it for that format. NULL: no live events. */
	int (*render_event)(void *app, struct dq_leader *l, const char *tenant, enum http_event_kind kind, const char *id,
			    int format, struct buf *out);
	uint64_t keepalive_ms;         /* SSE keepalive events (0: every minute) */
};

struct http_job;
struct http_worker;
struct http_notice;
struct http_subscriber;

struct http_stats {
	uint64_t requests;  /* requests routed */
	uint64_t errors;    /* answered 4xx or 5xx */
	unsigned open;      /* connections open now */
	unsigned streams;   /* live event streams open now */
	uint64_t events;    /* messages sent to streams */
};

struct http_server {
	struct http_options o;
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_async_t wakeup;             /* jobs done on worker threads */
	void *h2o;                     /* the libh2o configuration and context (http.c) */
	int port;                      /* the port bound */
	char address[300];             /* the address bound, for logs */
	pthread_mutex_t mu;            /* guards the queues below */
	pthread_cond_t work;           /* a job was queued, or stopping */
	struct http_job *queue, *queue_tail; /* waiting for a worker */
	struct http_job *done;         /* answered, waiting for the loop */
	struct http_notice *notices;   /* messages stored, waiting for the loop */
	bool notices_closed;           /* publishing has stopped (guarded by mu) */
	struct http_subscriber *subscribers; /* live event streams (loop thread) */
	uv_timer_t events_timer;       /* keepalives; at shutdown, closes the last streams */
	struct http_worker *workers;
	unsigned n_workers;
	unsigned in_flight;            /* jobs not yet answered on the loop (loop thread) */
	bool stopping;                 /* workers: leave when the queue is empty */
	bool closing;                  /* no new connections; close when idle */
	bool started;
	struct http_stats stats;
};

/* PAT_OK when listen may be served with auth; else PAT_ECONFIG with the reason: a listener
 * other machines can reach needs authentication, or allow_unauthenticated. */
int http_listen_allowed(const char *listen, enum http_auth auth, bool allow_unauthenticated, struct pat_err *err);

/* Bind, listen and start the workers. Refuses (PAT_ECONFIG) a non-loopback listener without
 * authentication unless allow_unauthenticated. */
int http_server_start(struct http_server *s, uv_loop_t *loop, const struct http_options *o, struct pat_err *err);
/* Stop accepting, close idle connections, answer what is in progress, then release the loop's
 * handles: the loop ends once every response is sent. Loop thread. */
void http_server_close(struct http_server *s);
/* After the loop has ended: stop the workers and free everything. */
void http_server_free(struct http_server *s);

/* A message was stored (any thread): the live event streams of its tenant get it. */
void http_server_publish(struct http_server *s, const char *tenant, const char *id);
/* Messages were deleted (any thread; id NULL or "": all of the tenant's). */
void http_server_publish_deleted(struct http_server *s, const char *tenant, const char *id);

/* Replies, for handlers (each replaces any earlier reply). */
/* body (owned: the reference is stolen) serialised as the response; NULL body: 500. */
void http_reply_json(struct http_call *c, int status, json_t *body);
/* {"error": "..."} with status. */
void http_reply_error(struct http_call *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The status a store failure deserves (404 not found, 400 bad input, 503 cluster unavailable,
 * 500 otherwise) with err's message. */
void http_reply_store_error(struct http_call *c, int code, const struct pat_err *err);
/* Bytes as they are, with a content type and optionally a Content-Disposition. */
void http_reply_bytes(struct http_call *c, int status, const char *content_type, const void *data, size_t n,
		      const char *disposition);

/* One more response header, added after the reply it belongs to (a reply starts afresh). name
 * is lower-case. A handler that sets cache-control replaces the default "no-store". On ENOMEM,
 * or beyond HTTP_MAX_HEADERS, the response becomes a 500. */
void http_reply_header(struct http_call *c, const char *name, const char *value);

/* A query parameter's decoded value, or NULL when absent. */
const char *http_query(const struct http_call *c, const char *name);

/* A JSON string from bytes that may not be UTF-8: invalid sequences become U+FFFD, as Go's
 * encoder does. NULL on ENOMEM. */
json_t *http_json_text(const char *s, size_t n);

#endif
