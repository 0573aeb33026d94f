/* http: see http.h.
 *
 * libh2o (Debian's libuv build) parses HTTP/1.1, keeps connections alive, enforces the body
 * limit and the request timeout, and runs TLS; everything else is here. One h2o handler on "/"
 * receives every request and hands it to the router, so h2o never answers a path itself.
 * Errors h2o produces on its own (413 for a body over the limit, 400 for a malformed request)
 * pass through a filter that rewrites them as JSON, so that every error a client sees is
 * {"error": "..."}.
 *
 * Threads. The loop thread owns h2o and every request. A request whose route needs the store
 * becomes a job: its strings are copied, a worker thread runs the handler with the worker's own
 * leader connection (kept across requests), and the job comes back through `wakeup`. If the
 * client went away meanwhile, h2o has disposed of the request; a small object in the request's
 * memory pool tells the job so (its dispose callback), and the answer is dropped.
 *
 * Shutdown. h2o's context keeps handles of its own (timers, a wakeup) that would keep the loop
 * running forever; they are unreferenced once created, so the loop lives exactly as long as the
 * listener, the connections and `wakeup` do. Closing stops the listener, asks h2o to stop
 * keeping connections alive, expires the idle ones at once, and closes `wakeup` when the last
 * job is answered. The h2o context is disposed of after the loop has ended.
 *
 * Live event streams are in http_events.c. */
#include "gateway/gateway_metrics.h"
#include "gateway/http_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gateway/tenants.h"
#include "lib/addr.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "lib/str.h"

#define MAX_PATH 4096

/* The h2o handler on "/": every request comes here. */
struct route_handler {
	h2o_handler_t super;
	struct http_server *server;
};

/* The filter that turns h2o's own error pages into JSON. */
struct json_errors {
	h2o_filter_t super;
	struct http_server *server;
};

/* An accepted connection (h2o owns it once h2o_accept() has it). */
struct http_conn {
	uv_tcp_t tcp;
	struct http_server *server;
};

struct http_worker {
	pthread_t thread;
	struct http_server *server;
	struct dq_leader leader; /* this worker's connection, kept across requests */
	bool leader_ready;
	bool started;
};

static struct h2o_state *state(struct http_server *s)
{
	return s->h2o;
}

/* ---- JSON and replies ---- */

json_t *http_json_text(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	bool repairing = false;
	json_t *j;

	if (s == NULL)
		return json_string("");
	/* jansson checks UTF-8 only in its checking constructors, which refuse bad input: check
	 * here, and repair when needed. */
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		bool ok = len > 0 && i + len <= n;

		for (size_t k = 1; ok && k < len; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		if (ok && len == 2)
			ok = c >= 0xc2; /* not overlong */
		if (ok && len == 3) {
			unsigned cp = ((c & 0x0fu) << 12) | (((unsigned char)s[i + 1] & 0x3fu) << 6) |
				      ((unsigned char)s[i + 2] & 0x3fu);

			ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
		}
		if (ok && len == 4) {
			unsigned cp = ((c & 0x07u) << 18) | (((unsigned char)s[i + 1] & 0x3fu) << 12) |
				      (((unsigned char)s[i + 2] & 0x3fu) << 6) | ((unsigned char)s[i + 3] & 0x3fu);

			ok = cp >= 0x10000 && cp <= 0x10ffff;
		}
		if (!ok && !repairing) {
			repairing = true;
			if (buf_reserve(&b, n + 16) != PAT_OK || buf_append(&b, s, i) != PAT_OK)
				goto nomem;
		}
		if (!ok) {
			if (buf_append(&b, "\xef\xbf\xbd", 3) != PAT_OK)
				goto nomem;
			i++;
			continue;
		}
		if (repairing && buf_append(&b, s + i, len) != PAT_OK)
			goto nomem;
		i += len;
	}
	if (!repairing)
		return json_stringn_nocheck(s, n);
	j = json_stringn_nocheck(b.data, b.len);
	buf_free(&b);
	return j;
nomem:
	buf_free(&b);
	return NULL;
}

static void response_reset(struct http_response *r)
{
	for (size_t i = 0; i < r->n_headers; i++) {
		mem_free(r->header_names[i]);
		mem_free(r->header_values[i]);
	}
	buf_free(&r->body);
	mem_free(r->content_type);
	mem_free(r->disposition);
	memset(r, 0, sizeof *r);
}

void http_reply_bytes(struct http_call *c, int status, const char *content_type, const void *data, size_t n,
		      const char *disposition)
{
	response_reset(&c->res);
	if (buf_append(&c->res.body, data, n) != PAT_OK ||
	    (content_type != NULL && (c->res.content_type = mem_strdup(content_type)) == NULL) ||
	    (disposition != NULL && (c->res.disposition = mem_strdup(disposition)) == NULL)) {
		response_reset(&c->res);
		c->res.status = 500; /* no body: there is no memory for one */
		return;
	}
	c->res.status = status;
}

void http_reply_header(struct http_call *c, const char *name, const char *value)
{
	struct http_response *r = &c->res;
	char *n = NULL, *v = NULL;

	if (r->n_headers == HTTP_MAX_HEADERS || (n = mem_strdup(name)) == NULL || (v = mem_strdup(value)) == NULL) {
		mem_free(n);
		response_reset(r);
		r->status = 500;
		return;
	}
	r->header_names[r->n_headers] = n;
	r->header_values[r->n_headers++] = v;
}

void http_reply_json(struct http_call *c, int status, json_t *body)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (text == NULL) {
		http_reply_bytes(c, 500, "application/json", "{\"error\":\"out of memory\"}", 25, NULL);
		return;
	}
	http_reply_bytes(c, status, "application/json", text, strlen(text), NULL);
	free(text);
}

static void reply_verror(struct http_call *c, int status, const char *fmt, va_list ap)
{
	char msg[PAT_ERR_MSG_MAX];

	vsnprintf(msg, sizeof msg, fmt, ap);
	http_reply_json(c, status, json_pack("{s:o}", "error", http_json_text(msg, strlen(msg))));
}

void http_reply_error(struct http_call *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_verror(c, status, fmt, ap);
	va_end(ap);
}

void http_reply_store_error(struct http_call *c, int code, const struct pat_err *err)
{
	int status;

	switch (code) {
	case PAT_ENOTFOUND: status = 404; break;
	case PAT_EINVAL: status = 400; break;
	case PAT_ETIMEDOUT:
	case PAT_ECLOSED:
	case PAT_ENOTLEADER:
	case PAT_EBUSY:
	case PAT_EIO: status = 503; break;
	default: status = 500; break;
	}
	http_reply_error(c, status, "%s", err != NULL && err->msg[0] != '\0' ? err->msg : err_name(code));
}

const char *http_query(const struct http_call *c, const char *name)
{
	for (size_t i = 0; i < c->req.n_query; i++)
		if (strcmp(c->req.query_names[i], name) == 0)
			return c->req.query_values[i];
	return NULL;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
	}
}

/* ---- jobs ---- */

static char *job_own(struct http_job *j, char *s)
{
	if (s == NULL)
		return NULL;
	if (j->n_owned == JOB_MAX_OWNED) {
		mem_free(s);
		return NULL;
	}
	j->owned[j->n_owned++] = s;
	return s;
}

void http__job_free(struct http_job *j)
{
	for (size_t i = 0; i < j->n_owned; i++)
		mem_free(j->owned[i]);
	response_reset(&j->call.res);
	mem_free(j->event_tenant);
	mem_free(j->event_id);
	for (int f = 0; f < HTTP_EVENT_FORMATS; f++)
		buf_free(&j->event[f]);
	mem_free(j);
}

static void on_request_gone(void *p)
{
	struct job_link *link = p;

	if (link->job != NULL)
		link->job->req = NULL;
}

static void log_error_response(struct http_server *s, const char *method, const char *path, int status,
			       const char *body, size_t len)
{
	char msg[256] = "";
	json_t *j = status >= 400 && len > 0 ? json_loadb(body, len, 0, NULL) : NULL;

	if (j != NULL && json_is_string(json_object_get(j, "error")))
		str_copy(msg, json_string_value(json_object_get(j, "error")), sizeof msg);
	json_decref(j);
	s->stats.errors++;
	if (status >= 500)
		log_warn("http request failed", "method=%s path=%s status=%d error=%s", method, path, status, msg);
	else
		log_info("http request refused", "method=%s path=%s status=%d error=%s", method, path, status, msg);
}

void http__job_finish(struct http_job *j)
{
	struct http_server *s = j->server;
	struct http_response *r = &j->call.res;
	h2o_req_t *req = j->req;

	if (j->is_event) {
		http__broadcast(s, j->event_tenant, j->event);
		http__job_free(j);
		return;
	}
	if (j->link != NULL)
		j->link->job = NULL;
	if (req != NULL) {
		if (r->status == 0)
			http_reply_error(&j->call, 500, "the request was not answered");
		req->res.status = r->status;
		req->res.reason = reason(r->status);
		if (r->content_type != NULL) {
			h2o_iovec_t v = h2o_strdup(&req->pool, r->content_type, SIZE_MAX);

			h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, v.base, v.len);
		}
		if (r->disposition != NULL) {
			h2o_iovec_t v = h2o_strdup(&req->pool, r->disposition, SIZE_MAX);

			h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL, v.base, v.len);
		}
		if (r->allow[0] != '\0') {
			h2o_iovec_t v = h2o_strdup(&req->pool, r->allow, SIZE_MAX);

			h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, v.base, v.len);
		}
		for (size_t i = 0; i < r->n_headers; i++) {
			h2o_iovec_t n = h2o_strdup(&req->pool, r->header_names[i], SIZE_MAX);
			h2o_iovec_t v = h2o_strdup(&req->pool, r->header_values[i], SIZE_MAX);

			h2o_add_header_by_str(&req->pool, &req->res.headers, n.base, n.len, 1, NULL, v.base, v.len);
		}
		if (h2o_find_header(&req->res.headers, H2O_TOKEN_CACHE_CONTROL, -1) == -1)
			h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
		if (r->status >= 400)
			log_error_response(s, j->call.req.method ? j->call.req.method : "?",
					   j->call.req.path ? j->call.req.path : "?", r->status, r->body.data, r->body.len);
		req->res.content_length = r->body.len;
		h2o_send_inline(req, r->body.data != NULL ? r->body.data : "", r->body.len);
		/* Routes by pattern, so that ids in paths cannot grow the label sets. */
		gateway_metrics_api_request(j->route != NULL ? j->route->pattern : "unmatched",
					    j->call.req.method != NULL ? j->call.req.method : "?", r->status,
					    (double)(time_mono_ns() - j->start_ns) / 1e9);
	}
	http__job_free(j);
}

static void release_if_idle(struct http_server *s)
{
	if (s->closing && s->in_flight == 0 && !uv_is_closing((uv_handle_t *)&s->wakeup)) {
		pthread_mutex_lock(&s->mu); /* no publisher is inside uv_async_send() */
		uv_close((uv_handle_t *)&s->wakeup, NULL);
		pthread_mutex_unlock(&s->mu);
	}
}

void http__queue_job(struct http_server *s, struct http_job *j)
{
	s->in_flight++;
	pthread_mutex_lock(&s->mu);
	if (s->queue_tail != NULL)
		s->queue_tail->next = j;
	else
		s->queue = j;
	s->queue_tail = j;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mu);
}

/* Jobs answered by workers, back on the loop. */
static void on_wakeup(uv_async_t *h)
{
	struct http_server *s = h->data;
	struct http_job *done, *next;

	pthread_mutex_lock(&s->mu);
	done = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->mu);
	for (; done != NULL; done = next) {
		next = done->next;
		s->in_flight--;
		http__job_finish(done);
	}
	http__take_notices(s);
	release_if_idle(s);
}

static void *worker_run(void *arg)
{
	struct http_worker *w = arg;
	struct http_server *s = w->server;

	for (;;) {
		struct http_job *j;

		pthread_mutex_lock(&s->mu);
		while (s->queue == NULL && !s->stopping)
			pthread_cond_wait(&s->work, &s->mu);
		j = s->queue;
		if (j != NULL) {
			s->queue = j->next;
			if (s->queue == NULL)
				s->queue_tail = NULL;
		}
		pthread_mutex_unlock(&s->mu);
		if (j == NULL)
			break;
		if (!w->leader_ready && j->is_event) {
			if (dq_leader_init(&w->leader, s->o.seeds, s->o.db, s->o.store_timeout_ms, s->o.store_timeout_ms) == PAT_OK)
				w->leader_ready = true;
		} else if (!w->leader_ready) {
			if (dq_leader_init(&w->leader, s->o.seeds, s->o.db, s->o.store_timeout_ms, s->o.store_timeout_ms) ==
			    PAT_OK)
				w->leader_ready = true;
			else
				http_reply_store_error(&j->call, w->leader.err.code, &w->leader.err);
		}
		if (j->is_event) {
			for (int f = 0; f < HTTP_EVENT_FORMATS; f++)
				if (!w->leader_ready || (j->event_formats & (1u << f)) == 0 ||
				    s->o.render_event(s->o.app, &w->leader, j->event_tenant, j->event_kind, j->event_id, f,
						      &j->event[f]) != PAT_OK)
					buf_free(&j->event[f]);
		} else if (w->leader_ready) {
			j->route->handler(&j->call, &w->leader);
		}
		pthread_mutex_lock(&s->mu);
		j->next = s->done;
		s->done = j;
		pthread_mutex_unlock(&s->mu);
		uv_async_send(&s->wakeup);
	}
	if (w->leader_ready)
		dq_leader_close(&w->leader);
	return NULL;
}

/* ---- parsing ---- */

static int hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode n bytes (and '+' as space when plus); NULL with *bad set on a bad escape or a
 * NUL byte, NULL without on ENOMEM. */
static char *decode(const char *s, size_t n, bool plus, bool *bad)
{
	char *out = mem_alloc(n + 1), *o = out;

	*bad = false;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi = i + 2 < n ? hex(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex(s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				*bad = true;
				mem_free(out);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		} else if (c == '\0') {
			*bad = true;
			mem_free(out);
			return NULL;
		}
		*o++ = c;
	}
	*o = '\0';
	return out;
}

/* Does the decoded path (split in segs) match pattern? Fills params. */
static bool pattern_match(const char *pattern, char *const *segs, size_t n, const char **params)
{
	size_t i = 0, k = 0;
	const char *p = pattern;

	while (*p == '/') {
		const char *end = strchr(p + 1, '/');
		size_t len = end != NULL ? (size_t)(end - p - 1) : strlen(p + 1);

		if (i >= n)
			return false;
		if (len >= 2 && p[1] == '{' && p[len] == '}') {
			if (segs[i][0] == '\0' || k >= HTTP_MAX_PARAMS)
				return false;
			params[k++] = segs[i];
		} else if (strlen(segs[i]) != len || memcmp(segs[i], p + 1, len) != 0) {
			return false;
		}
		i++;
		p += len + 1;
	}
	return i == n;
}

/* Route the request; on failure the job gets its 404 or 405. */
static const struct http_route *route(struct http_server *s, struct http_job *j, char *const *segs, size_t n)
{
	const char *method = strcmp(j->call.req.method, "HEAD") == 0 ? "GET" : j->call.req.method;
	const struct http_route *found = NULL;
	char *allow = j->call.res.allow;
	const char *params[HTTP_MAX_PARAMS];

	allow[0] = '\0';
	for (size_t i = 0; i < s->o.n_routes; i++) {
		const struct http_route *r = &s->o.routes[i];

		if (!pattern_match(r->pattern, segs, n, params))
			continue;
		if (strcmp(r->method, method) == 0) {
			found = r;
			memcpy(j->call.req.params, params, sizeof params);
			break;
		}
		if (strstr(allow, r->method) == NULL && strlen(allow) + strlen(r->method) + 3 < sizeof j->call.res.allow) {
			if (allow[0] != '\0')
				strcat(allow, ", ");
			strcat(allow, r->method);
		}
	}
	if (found != NULL) {
		allow[0] = '\0';
		return found;
	}
	if (allow[0] != '\0') {
		char keep[sizeof j->call.res.allow];

		str_copy(keep, allow, sizeof keep);
		http_reply_error(&j->call, 405, "%s is not allowed on %s; allowed: %s", j->call.req.method, j->call.req.path,
				 keep);
		str_copy(j->call.res.allow, keep, sizeof j->call.res.allow);
	} else {
		http_reply_error(&j->call, 404, "no such endpoint: %s %s", j->call.req.method, j->call.req.path);
	}
	return NULL;
}

/* Is name one of the comma-separated accepted names? */
static bool accepted(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

/* Split and decode the query string; on failure the job gets its 400. */
static bool parse_query(struct http_job *j, const char *q, size_t len)
{
	struct http_request *rq = &j->call.req;
	size_t i = 0;

	while (i < len) {
		size_t end = i, eq;
		char *name, *value;
		bool bad = false, bad2 = false;

		while (end < len && q[end] != '&')
			end++;
		if (end == i) {
			i++;
			continue;
		}
		for (eq = i; eq < end && q[eq] != '='; eq++)
			;
		name = job_own(j, decode(q + i, eq - i, true, &bad));
		value = job_own(j, decode(q + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0, true, &bad2));
		if (bad || bad2) {
			http_reply_error(&j->call, 400, "the query string has a bad %%-escape or a NUL byte");
			return false;
		}
		if (name == NULL || value == NULL) {
			http_reply_error(&j->call, 500, "out of memory");
			return false;
		}
		if (!accepted(j->route->query, name)) {
			if (j->route->query == NULL)
				http_reply_error(&j->call, 400, "unknown query parameter '%s'; %s takes none", name, j->route->pattern);
			else
				http_reply_error(&j->call, 400, "unknown query parameter '%s'; expected one of: %s", name,
						 j->route->query);
			return false;
		}
		if (http_query(&j->call, name) != NULL) {
			http_reply_error(&j->call, 400, "query parameter '%s' given twice", name);
			return false;
		}
		if (rq->n_query == HTTP_MAX_QUERY) {
			http_reply_error(&j->call, 400, "too many query parameters");
			return false;
		}
		rq->query_names[rq->n_query] = name;
		rq->query_values[rq->n_query++] = value;
		i = end + 1;
	}
	return true;
}

/* The auth and tenant middleware every request passes: who is calling, and whose data the
 * request reads or changes. In this build there are no credentials: every caller is
 * "anonymous" and uses the listener's tenant, or the one X-Pat-Tenant names. A route that
 * accepts the `tenant` query parameter (the live event streams, which a browser opens with
 * EventSource or WebSocket, and a message's HTML, which the UI loads in a frame: none can send
 * headers) takes the tenant from there too, checked the same way; naming two different
 * tenants at once is refused.
 *
 * Where OIDC bearer tokens and API keys go: read the Authorization header here, verify it, set
 * the principal and the tenants it may use, answer 401 without valid credentials (routes with
 * .open excepted) and 403 when X-Pat-Tenant names a tenant the principal may not use. */
static bool authenticate(struct http_server *s, h2o_req_t *req, struct http_job *j)
{
	struct http_request *rq = &j->call.req;
	const char *header = NULL, *query = http_query(&j->call, HTTP_TENANT_QUERY);
	ssize_t i;

	switch (s->o.auth) {
	case HTTP_AUTH_NONE:
		rq->principal = "anonymous";
		break;
	}
	rq->tenant = s->o.tenant;
	i = h2o_find_header_by_str(&req->headers, H2O_STRLIT(HTTP_TENANT_HEADER), -1);
	if (i != -1) {
		const h2o_iovec_t *v = &req->headers.entries[i].value;
		char *name = job_own(j, mem_strndup(v->base, v->len));

		if (name == NULL) {
			http_reply_error(&j->call, 500, "out of memory");
			return false;
		}
		if (strlen(name) != v->len || !tenant_name_valid(name)) {
			http_reply_error(&j->call, 400,
					 "X-Pat-Tenant: \"%.64s\" is not a tenant name; expected 1 to 63 lower-case letters, digits and '-'",
					 name);
			return false;
		}
		header = rq->tenant = name;
	}
	if (query != NULL) {
		if (!tenant_name_valid(query)) {
			http_reply_error(&j->call, 400,
					 "tenant: \"%.64s\" is not a tenant name; expected 1 to 63 lower-case letters, digits and '-'",
					 query);
			return false;
		}
		if (header != NULL && strcmp(header, query) != 0) {
			http_reply_error(&j->call, 400, "X-Pat-Tenant (\"%s\") and the tenant query parameter (\"%s\") disagree",
					 header, query);
			return false;
		}
		rq->tenant = query;
	}
	return true;
}

/* Everything the loop does with a new request before its handler runs. false: the job has its
 * answer already (an error). */
static bool prepare(struct http_server *s, h2o_req_t *req, struct http_job *j)
{
	struct http_request *rq = &j->call.req;
	const char *raw = req->input.path.base;
	size_t raw_len = req->input.path.len, path_len, header_bytes;
	char *segs[MAX_SEGMENTS];
	size_t n_segs = 0;
	bool bad = false;
	ssize_t inm;

	rq->method = job_own(j, mem_strndup(req->input.method.base, req->input.method.len));
	for (path_len = 0; path_len < raw_len && raw[path_len] != '?'; path_len++)
		;
	rq->path = job_own(j, mem_strndup(raw, path_len > MAX_PATH ? MAX_PATH : path_len));
	rq->body = "";
	if (rq->method == NULL || rq->path == NULL) {
		http_reply_error(&j->call, 500, "out of memory");
		return false;
	}
	header_bytes = req->input.method.len + raw_len + 12;
	for (size_t i = 0; i < req->headers.size; i++)
		header_bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
	if (header_bytes > s->o.max_header_size) {
		http_reply_error(&j->call, 431, "the request line and headers are %zu bytes; at most %zu are allowed (http.max_header_size)",
				 header_bytes, s->o.max_header_size);
		return false;
	}
	if (path_len > MAX_PATH) {
		http_reply_error(&j->call, 414, "the path is longer than %d bytes", MAX_PATH);
		return false;
	}
	if (path_len == 0 || raw[0] != '/') {
		http_reply_error(&j->call, 400, "the request target must be a path starting with '/'");
		return false;
	}
	/* Segments, each percent-decoded: "/a/b%2Fc" is ["a", "b/c"]. */
	for (size_t i = 1; i <= path_len;) {
		size_t end = i;

		while (end < path_len && raw[end] != '/')
			end++;
		if (n_segs == MAX_SEGMENTS) {
			http_reply_error(&j->call, 404, "no such endpoint: %s %s", rq->method, rq->path);
			return false;
		}
		segs[n_segs] = job_own(j, decode(raw + i, end - i, false, &bad));
		if (bad) {
			http_reply_error(&j->call, 400, "the path has a bad %%-escape or a NUL byte");
			return false;
		}
		if (segs[n_segs] == NULL) {
			http_reply_error(&j->call, 500, "out of memory");
			return false;
		}
		n_segs++;
		i = end + 1;
	}
	if ((j->route = route(s, j, segs, n_segs)) == NULL)
		return false;
	if (path_len < raw_len && !parse_query(j, raw + path_len + 1, raw_len - path_len - 1))
		return false;
	if (!authenticate(s, req, j))
		return false;
	inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
	if (inm != -1 && (rq->if_none_match = job_own(j, mem_strndup(req->headers.entries[inm].value.base,
									 req->headers.entries[inm].value.len))) == NULL) {
		http_reply_error(&j->call, 500, "out of memory");
		return false;
	}
	if (req->entity.base != NULL && req->entity.len > 0) {
		char *body = job_own(j, mem_strndup(req->entity.base, req->entity.len));

		if (body == NULL) {
			http_reply_error(&j->call, 500, "out of memory");
			return false;
		}
		rq->body = body;
		rq->body_len = req->entity.len;
	}
	return true;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct http_server *s = ((struct route_handler *)self)->server;
	struct http_job *j = mem_calloc(1, sizeof *j);

	if (j != NULL)
		j->start_ns = time_mono_ns();

	if (j == NULL) {
		h2o_send_error_500(req, "Internal Server Error", "out of memory", 0);
		return 0;
	}
	j->server = s;
	j->req = req;
	j->call.app = s->o.app;
	j->link = h2o_mem_alloc_shared(&req->pool, sizeof *j->link, on_request_gone);
	j->link->job = j;
	s->stats.requests++;
	if (prepare(s, req, j) && j->route->events != HTTP_EVENTS_NONE && !s->closing) {
		http__start_stream(s, req, j);
		return 0;
	}
	if (j->call.res.status == 0 && s->closing)
		http_reply_error(&j->call, 503, "the server is stopping");
	if (j->call.res.status != 0 || !j->route->store) {
		if (j->call.res.status == 0)
			j->route->handler(&j->call, NULL);
		http__job_finish(j);
		return 0;
	}
	http__queue_job(s, j);
	return 0;
}

/* ---- h2o's own errors as JSON ---- */

struct json_ostream {
	h2o_ostream_t super;
	h2o_iovec_t json; /* the replacement body, in the request's pool */
};

static void json_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t st)
{
	struct json_ostream *o = (struct json_ostream *)self;

	(void)bufs;
	(void)bufcnt;
	if (h2o_send_state_is_in_progress(st)) {
		h2o_ostream_send_next(self, req, NULL, 0, st);
		return;
	}
	h2o_ostream_send_next(self, req, &o->json, 1, st);
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
	struct http_server *s = ((struct json_errors *)self)->server;
	ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
	char msg[200];
	json_t *j;
	char *text;

	if (req->res.status < 400 ||
	    (ct != -1 && h2o_memis(req->res.headers.entries[ct].value.base, req->res.headers.entries[ct].value.len,
				   H2O_STRLIT("application/json")))) {
		h2o_setup_next_ostream(req, slot);
		return;
	}
	/* An error page h2o wrote itself. */
	if (req->res.status == 413)
		snprintf(msg, sizeof msg, "the request body is larger than %zu bytes (http.max_body_size)", s->o.max_body_size);
	else
		snprintf(msg, sizeof msg, "%s", req->res.reason != NULL ? req->res.reason : "bad request");
	str_lower(msg);
	j = json_pack("{s:s}", "error", msg);
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text != NULL) {
		struct json_ostream *o = (struct json_ostream *)h2o_add_ostream(req, sizeof *o, slot);

		o->json = h2o_strdup(&req->pool, text, SIZE_MAX);
		o->super.do_send = json_do_send;
		free(text);
		if (ct != -1)
			h2o_delete_header(&req->res.headers, ct);
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
		req->res.content_length = o->json.len;
		slot = &o->super.next;
		s->stats.errors++;
		log_info("http request refused", "method=%.*s path=%.*s status=%d error=%s", (int)req->input.method.len,
			 req->input.method.base, (int)(req->input.path.len > 200 ? 200 : req->input.path.len),
			 req->input.path.base, req->res.status, msg);
	}
	h2o_setup_next_ostream(req, slot);
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
	struct http_conn *c = (struct http_conn *)h;

	c->server->stats.open--;
	mem_free(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct http_server *s = listener->data;
	struct http_conn *c;
	h2o_socket_t *sock;

	if (status != 0 || s->closing)
		return;
	c = mem_calloc(1, sizeof *c);
	if (c == NULL)
		return;
	c->server = s;
	uv_tcp_init(s->loop, &c->tcp);
	if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)mem_free);
		return;
	}
	s->stats.open++;
	/* Responses go out as headers then body: without TCP_NODELAY the body waits for the
	 * client's delayed ACK of the headers, 40 ms on Linux (measured: every store-backed
	 * response took 44 ms). */
	uv_tcp_nodelay(&c->tcp, 1);
	sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
	h2o_accept(&state(s)->accept, sock);
}

/* h2o's context handles are unreferenced (see the top of this file). */
struct handle_set {
	uv_handle_t *h[256];
	size_t n;
};

static void remember_handle(uv_handle_t *h, void *arg)
{
	struct handle_set *set = arg;

	if (set->n < sizeof set->h / sizeof set->h[0])
		set->h[set->n++] = h;
}

static void unref_new_handle(uv_handle_t *h, void *arg)
{
	struct handle_set *set = arg;

	for (size_t i = 0; i < set->n; i++)
		if (set->h[i] == h)
			return;
	uv_unref(h);
}

int http_listen_allowed(const char *listen, enum http_auth auth, bool allow_unauthenticated, struct pat_err *err)
{
	struct addr_hostport a;
	const char *why = "";

	if (addr_parse(listen, true, &a, &why) != PAT_OK)
		return err_set(err, PAT_EINVAL, "bad HTTP listen address %s: %s", listen, why);
	if (auth == HTTP_AUTH_NONE && !addr_is_loopback(&a) && !allow_unauthenticated)
		return err_set(err, PAT_ECONFIG,
			       "refusing to serve HTTP on %s without authentication: anyone who can reach it could read and "
			       "delete every message. Listen on a loopback address (http.listen = 127.0.0.1:8025), or set "
			       "http.allow_unauthenticated = true to accept that",
			       listen);
	return PAT_OK;
}

static int bind_listener(struct http_server *s, struct pat_err *err)
{
	struct addr_hostport a;
	struct sockaddr_storage ss;
	const char *why = "";
	int len = sizeof ss, rv;

	if (addr_parse(s->o.listen, true, &a, &why) != PAT_OK)
		return err_set(err, PAT_EINVAL, "bad HTTP listen address %s: %s", s->o.listen, why);
	if ((rv = http_listen_allowed(s->o.listen, s->o.auth, s->o.allow_unauthenticated, err)) != PAT_OK)
		return rv;
	if (a.ipv6)
		rv = uv_ip6_addr(a.host, a.port, (struct sockaddr_in6 *)&ss);
	else
		rv = uv_ip4_addr(strcmp(a.host, "localhost") == 0 ? "127.0.0.1" : a.host, a.port, (struct sockaddr_in *)&ss);
	if (rv != 0)
		return err_set(err, PAT_EINVAL, "HTTP listen address %s must be an IP address", s->o.listen);
	uv_tcp_init(s->loop, &s->listener);
	s->listener.data = s;
	if ((rv = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&s->listener, 511, on_connection)) != 0) {
		uv_close((uv_handle_t *)&s->listener, NULL);
		return err_set(err, PAT_EIO, "cannot listen for HTTP on %s: %s", s->o.listen, uv_strerror(rv));
	}
	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) == 0)
		s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	snprintf(s->address, sizeof s->address, "%s%s%s:%d", a.ipv6 ? "[" : "", a.host, a.ipv6 ? "]" : "", s->port);
	return PAT_OK;
}

int http_server_start(struct http_server *s, uv_loop_t *loop, const struct http_options *o, struct pat_err *err)
{
	struct h2o_state *h;
	h2o_hostconf_t *host;
	h2o_pathconf_t *path;
	struct route_handler *handler;
	struct json_errors *filter;
	struct handle_set before = { .n = 0 };
	int rv;

	memset(s, 0, sizeof *s);
	s->o = *o;
	s->loop = loop;
	if (s->o.workers == 0)
		s->o.workers = 1;
	if ((rv = bind_listener(s, err)) != PAT_OK)
		return rv;
	h = s->h2o = mem_calloc(1, sizeof *h);
	s->workers = mem_calloc(s->o.workers, sizeof *s->workers);
	if (h == NULL || s->workers == NULL) {
		uv_close((uv_handle_t *)&s->listener, NULL);
		mem_free(h);
		mem_free(s->workers);
		s->h2o = NULL;
		s->workers = NULL;
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	h2o_config_init(&h->config);
	h->config.server_name = h2o_iovec_init(H2O_STRLIT("Pat"));
	h->config.max_request_entity_size = s->o.max_body_size;
	h->config.http1.req_timeout = s->o.request_timeout_ms;
	h->config.http1.upgrade_to_http2 = 0;
	host = h2o_config_register_host(&h->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	path = h2o_config_register_path(host, "/", 0);
	handler = (struct route_handler *)h2o_create_handler(path, sizeof *handler);
	handler->server = s;
	handler->super.on_req = on_req;
	filter = (struct json_errors *)h2o_create_filter(path, sizeof *filter);
	filter->server = s;
	filter->super.on_setup_ostream = on_setup_ostream;
	/* Errors found before a request is routed (a malformed request, a body over the limit). */
	filter = (struct json_errors *)h2o_create_filter(&host->fallback_path, sizeof *filter);
	filter->server = s;
	filter->super.on_setup_ostream = on_setup_ostream;
	uv_walk(loop, remember_handle, &before);
	h2o_context_init(&h->ctx, loop, &h->config);
	uv_walk(loop, unref_new_handle, &before);
	h->ctx_ready = true;
	h->accept.ctx = &h->ctx;
	h->accept.hosts = h->config.hosts;
	h->accept.ssl_ctx = s->o.tls;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	uv_async_init(loop, &s->wakeup, on_wakeup);
	s->wakeup.data = s;
	uv_timer_init(loop, &s->events_timer);
	s->events_timer.data = s;
	uv_timer_start(&s->events_timer, http__on_events_timer, s->o.keepalive_ms ? s->o.keepalive_ms : 60000,
		       s->o.keepalive_ms ? s->o.keepalive_ms : 60000);
	uv_unref((uv_handle_t *)&s->events_timer); /* keepalives alone do not keep the loop running */
	pthread_mutex_lock(&s->mu);
	s->started = true;
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->o.workers; i++) {
		s->workers[i].server = s;
		if (pthread_create(&s->workers[i].thread, NULL, worker_run, &s->workers[i]) != 0) {
			log_warn("cannot start an HTTP worker thread", "started=%u wanted=%u", i, s->o.workers);
			break;
		}
		s->workers[i].started = true;
		s->n_workers++;
	}
	if (s->n_workers == 0) {
		http_server_close(s);
		return err_set(err, PAT_EIO, "cannot start the HTTP worker threads");
	}
	log_info("http listening", "address=%s port=%d tls=%s workers=%u", s->o.listen, s->port,
		 s->o.tls != NULL ? "on" : "off", s->n_workers);
	return PAT_OK;
}

void http_server_close(struct http_server *s)
{
	struct h2o_state *h = state(s);

	if (!s->started || s->closing)
		return;
	s->closing = true;
	if (!uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, NULL);
	/* Responses from now on close their connections; idle ones (and those still sending their
	 * request or handshake) time out at once. (h2o_context_request_shutdown() would also start
	 * HTTP/2's graceful shutdown timer, which Pat, serving HTTP/1.1 only, does not need.) */
	h->ctx.shutdown_requested = 1;
	pthread_mutex_lock(&s->mu);
	s->notices_closed = true;
	pthread_mutex_unlock(&s->mu);
	/* Event streams end; what cannot end yet is retried each tick. */
	if (http__close_streams(s))
		uv_close((uv_handle_t *)&s->events_timer, NULL);
	else
		uv_timer_start(&s->events_timer, http__on_events_timer, 20, 20);
	h->ctx.http1.req_timeout.timeout = 0;
	h->ctx.handshake_timeout.timeout = 0;
	h2o_timeout_run(s->loop, &h->ctx.http1.req_timeout, uv_now(s->loop));
	h2o_timeout_run(s->loop, &h->ctx.handshake_timeout, uv_now(s->loop));
	release_if_idle(s);
}

void http_server_free(struct http_server *s)
{
	struct h2o_state *h = state(s);

	if (!s->started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->o.workers; i++)
		if (s->workers[i].started)
			pthread_join(s->workers[i].thread, NULL);
	/* Jobs a worker answered after the loop ended have no request left. */
	while (s->done != NULL) {
		struct http_job *j = s->done;

		s->done = j->next;
		http__job_free(j);
	}
	while (s->notices != NULL) {
		struct http_notice *n = s->notices;

		s->notices = n->next;
		mem_free(n->tenant);
		mem_free(n->id);
		mem_free(n);
	}
	if (!uv_is_closing((uv_handle_t *)&s->events_timer))
		uv_close((uv_handle_t *)&s->events_timer, NULL); /* h2o_context_dispose() runs the loop once */
	if (h->ctx_ready) {
		if (h2o_timeout_is_linked(&h->ctx.http2._graceful_shutdown_timeout))
			h2o_timeout_unlink(&h->ctx.http2._graceful_shutdown_timeout);
		h2o_context_dispose(&h->ctx);
	}
	h2o_config_dispose(&h->config);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	mem_free(s->workers);
	mem_free(h);
	s->h2o = NULL;
	s->workers = NULL;
	s->started = false;
}
