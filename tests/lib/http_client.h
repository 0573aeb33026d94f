/* http_client: the raw HTTP/1.1 client of the integration tests that talk to Pat's HTTP API:
 * requests exactly as written (nothing normalised), responses read by Content-Length, JSON
 * looked up by path, and MailHog's and Mailpit's live events over WebSocket. */
#ifndef PAT_TESTS_HTTP_CLIENT_H
#define PAT_TESTS_HTTP_CLIENT_H

#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

/* One connection; a test may put TLS on it (ssl) after http_open. */
struct http_conn {
	int fd;            /* the TCP socket */
	SSL *ssl;          /* NULL: plain TCP */
	char buf[1 << 20]; /* what was read and not consumed yet */
	size_t len;        /* bytes in buf */
};

/* One response. */
struct response {
	int status;          /* from the status line */
	char headers[8192];  /* the status line and headers, with the blank line, NUL-terminated */
	char *body;          /* NUL-terminated (body_len bytes before the NUL) */
	size_t body_len;
	json_t *json;        /* the body parsed, when the type is application/json and it parses */
};

/* The port that http_open, request and the get and call helpers connect to (the test's
 * `pat serve`). */
void http_client_port(int port);

/* Connect to 127.0.0.1:port (20 s receive timeout); the test fails when it cannot. */
void http_open_port(struct http_conn *c, int port);
/* The same on http_client_port's port. */
void http_open(struct http_conn *c);
/* Shut TLS down (when on) and close. */
void http_close(struct http_conn *c);

/* Send all of data (as far as the peer takes it). */
void raw_send(struct http_conn *c, const void *data, size_t n);
#define RAW(c, s) raw_send((c), (s), strlen(s))
/* Read once more into c->buf; what recv (or SSL_read) returned, -1 when buf is full. */
ssize_t raw_recv(struct http_conn *c);
/* Read until needle appears in c's buffer (after offset from); its position. The test fails
 * when the stream ends first. */
char *wait_for(struct http_conn *c, size_t from, const char *needle);

/* The value of a response header (case-insensitive), or "" when absent; valid until the next
 * call. */
const char *header(const struct response *r, const char *name);
/* Read one response; a HEAD response has no body whatever its Content-Length says. */
void read_response(struct http_conn *c, struct response *r, bool head);
void response_free(struct response *r);

/* One request on an open connection; extra: more header lines ("Name: value\r\n...") or NULL;
 * body: NULL for none (then no Content-Length). */
void exchange(struct http_conn *c, const char *method, const char *target, const char *extra, const char *body,
	      size_t body_len, struct response *r);
/* One request on a new connection. */
void request(const char *method, const char *target, const char *extra, struct response *r);
void get(const char *target, struct response *r);
/* GET that must answer 200. */
void get_ok(const char *target, struct response *r);
/* GET that must answer a JSON error with this status. */
void get_error(const char *target, int status);
/* The response is a JSON error ({"error": "..."}, not empty) with this status. */
void expect_error(struct response *r, int status);

/* A request on a new connection as tenant (X-Pat-Tenant; NULL: none) with a body (NULL: none). */
void call(const char *method, const char *target, const char *tenant, const char *body, struct response *r);
/* The same, and it must answer 200. */
void call_ok(const char *method, const char *target, const char *tenant, const char *body, struct response *r);
/* The same, and it must answer a JSON error with this status. */
void call_error(const char *method, const char *target, const char *tenant, const char *body, int status);

/* The value at path ("a.b.0.c": object keys and array indexes) of j; the test fails when it is
 * missing (jget), not a string (jstr) or not an integer (jint). */
json_t *jget(json_t *j, const char *path);
const char *jstr(json_t *j, const char *path);
long long jint(json_t *j, const char *path);

/* Open a WebSocket on path (X-Pat-Tenant: tenant unless NULL) and check the handshake (RFC
 * 6455's example key and its accept value); the 101's headers are consumed. */
void ws_open(struct http_conn *c, const char *path, const char *tenant);
/* The next WebSocket text message as JSON (the server's frames are not masked); NULL on a close
 * frame or the end of the stream. */
json_t *ws_next(struct http_conn *c);

#endif
