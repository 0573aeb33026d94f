/* http_client: see http_client.h. */
#include "tests/lib/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/lib/testutil.h"

static int http_port;

void http_client_port(int port)
{
	http_port = port;
}

void http_open_port(struct http_conn *c, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 20, 0 };

	c->len = 0;
	c->ssl = NULL;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

void http_open(struct http_conn *c)
{
	http_open_port(c, http_port);
}

void http_close(struct http_conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
}

void raw_send(struct http_conn *c, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = c->ssl != NULL ? SSL_write(c->ssl, p, (int)n) : send(c->fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

ssize_t raw_recv(struct http_conn *c)
{
	ssize_t r;

	if (c->len == sizeof c->buf)
		return -1;
	r = c->ssl != NULL ? SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - c->len))
			   : recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
	if (r > 0)
		c->len += (size_t)r;
	return r;
}

/* The value of a response header (case-insensitive), or "" when absent. */
const char *header(const struct response *r, const char *name)
{
	static char value[1024];
	size_t n = strlen(name);

	value[0] = '\0';
	for (const char *line = strstr(r->headers, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
		const char *p = line + 2;

		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *end = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(value, sizeof value, "%.*s", (int)(end != NULL ? end - v : (long)strlen(v)), v);
			break;
		}
	}
	return value;
}

/* Read one response; a HEAD response has no body whatever its Content-Length says. */
void read_response(struct http_conn *c, struct response *r, bool head)
{
	char *end;
	size_t hlen, need;
	const char *cl;

	memset(r, 0, sizeof *r);
	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
		if (raw_recv(c) <= 0)
			fail_msg("the connection closed before a response's headers (%zu bytes read)", c->len);
	hlen = (size_t)(end - c->buf) + 4;
	assert_true(hlen < sizeof r->headers);
	memcpy(r->headers, c->buf, hlen);
	r->headers[hlen] = '\0';
	assert_int_equal(sscanf(r->headers, "HTTP/1.1 %d", &r->status), 1);
	cl = header(r, "content-length");
	if (cl[0] == '\0')
		fail_msg("a response without Content-Length:\n%s", r->headers);
	need = head ? 0 : strtoul(cl, NULL, 10);
	while (c->len < hlen + need)
		if (raw_recv(c) <= 0)
			fail_msg("the connection closed in a response's body");
	r->body = malloc(need + 1);
	memcpy(r->body, c->buf + hlen, need);
	r->body[need] = '\0';
	r->body_len = need;
	memmove(c->buf, c->buf + hlen + need, c->len - hlen - need);
	c->len -= hlen + need;
	if (strstr(header(r, "content-type"), "application/json") != NULL)
		r->json = json_loadb(r->body, r->body_len, 0, NULL);
}

void response_free(struct response *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

void exchange(struct http_conn *c, const char *method, const char *target, const char *extra, const char *body,
	      size_t body_len, struct response *r)
{
	char head[16384];
	int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: pat.test\r\n%s", method, target, extra ? extra : "");

	if (body != NULL)
		n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", body_len);
	n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
	raw_send(c, head, (size_t)n);
	if (body != NULL)
		raw_send(c, body, body_len);
	read_response(c, r, strcmp(method, "HEAD") == 0);
}

/* One request on a new connection. */
void request(const char *method, const char *target, const char *extra, struct response *r)
{
	struct http_conn *c = malloc(sizeof *c);

	http_open(c);
	exchange(c, method, target, extra, NULL, 0, r);
	http_close(c);
	free(c);
}

void get(const char *target, struct response *r)
{
	request("GET", target, NULL, r);
}

/* The response is a JSON error with this status. */
void expect_error(struct response *r, int status)
{
	if (r->status != status)
		fail_msg("expected status %d, got %d:\n%s%s", status, r->status, r->headers, r->body);
	if (r->json == NULL || !json_is_string(json_object_get(r->json, "error")) ||
	    json_string_length(json_object_get(r->json, "error")) == 0)
		fail_msg("expected a JSON error body, got \"%s\" (%s)", r->body, header(r, "content-type"));
}

void get_error(const char *target, int status)
{
	struct response r;

	get(target, &r);
	expect_error(&r, status);
	response_free(&r);
}

void get_ok(const char *target, struct response *r)
{
	get(target, r);
	if (r->status != 200)
		fail_msg("GET %s: expected 200, got %d: %s", target, r->status, r->body);
}

/* The value at path, or NULL. */
static json_t *lookup(json_t *j, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof buf, "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k != NULL && j != NULL; k = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, strtoul(k, NULL, 10)) : json_object_get(j, k);
	return j;
}

const char *jstr(json_t *j, const char *path)
{
	j = lookup(j, path);
	if (!json_is_string(j))
		fail_msg("%s is not a string", path);
	return json_string_value(j);
}

json_t *jget(json_t *j, const char *path)
{
	j = lookup(j, path);
	if (j == NULL)
		fail_msg("%s is missing", path);
	return j;
}

long long jint(json_t *j, const char *path)
{
	json_t *v = jget(j, path);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

void call(const char *method, const char *target, const char *tenant, const char *body, struct response *r)
{
	struct http_conn *c = malloc(sizeof *c);
	char extra[128] = "";

	if (tenant != NULL)
		snprintf(extra, sizeof extra, "X-Pat-Tenant: %s\r\n", tenant);
	http_open(c);
	exchange(c, method, target, extra, body, body != NULL ? strlen(body) : 0, r);
	http_close(c);
	free(c);
}

void call_ok(const char *method, const char *target, const char *tenant, const char *body, struct response *r)
{
	call(method, target, tenant, body, r);
	if (r->status != 200)
		fail_msg("%s %s (%s): expected 200, got %d: %s", method, target, tenant ? tenant : "default", r->status, r->body);
}

void call_error(const char *method, const char *target, const char *tenant, const char *body, int status)
{
	struct response r;

	call(method, target, tenant, body, &r);
	expect_error(&r, status);
	response_free(&r);
}

/* Read until needle appears in c's buffer (after offset from); its position. */
char *wait_for(struct http_conn *c, size_t from, const char *needle)
{
	char *p;

	while ((p = memmem(c->buf + from, c->len - from, needle, strlen(needle))) == NULL)
		if (raw_recv(c) <= 0)
			fail_msg("the stream ended before \"%s\"; it sent:\n%.*s", needle, (int)c->len, c->buf);
	return p;
}

void ws_open(struct http_conn *c, const char *path, const char *tenant)
{
	char head[512], extra[128] = "";

	if (tenant != NULL)
		snprintf(extra, sizeof extra, "X-Pat-Tenant: %s\r\n", tenant);
	http_open(c);
	snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: pat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", path, extra);
	RAW(c, head);
	wait_for(c, 0, "\r\n\r\n");
	assert_non_null(strstr(c->buf, "HTTP/1.1 101"));
	assert_non_null(strcasestr(c->buf, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")); /* RFC 6455's example accept key */
	{
		size_t hlen = (size_t)((char *)memmem(c->buf, c->len, "\r\n\r\n", 4) - c->buf) + 4;

		memmove(c->buf, c->buf + hlen, c->len - hlen);
		c->len -= hlen;
	}
}

/* The next WebSocket text message (the server's frames are not masked); NULL on a close frame. */
json_t *ws_next(struct http_conn *c)
{
	for (;;) {
		size_t hdr = 2, len;
		unsigned op;

		while (c->len < 2)
			if (raw_recv(c) <= 0)
				return NULL;
		op = (unsigned char)c->buf[0] & 0x0f;
		len = (unsigned char)c->buf[1] & 0x7f;
		if (len == 126)
			hdr = 4;
		else if (len == 127)
			hdr = 10;
		while (c->len < hdr)
			if (raw_recv(c) <= 0)
				return NULL;
		if (len == 126)
			len = ((size_t)(unsigned char)c->buf[2] << 8) | (unsigned char)c->buf[3];
		else if (len == 127) {
			len = 0;
			for (int i = 2; i < 10; i++)
				len = (len << 8) | (unsigned char)c->buf[i];
		}
		while (c->len < hdr + len)
			if (raw_recv(c) <= 0)
				return NULL;
		if (op == 0x8)
			return NULL;
		if (op == 0x1) {
			json_t *j = json_loadb(c->buf + hdr, len, 0, NULL);

			memmove(c->buf, c->buf + hdr + len, c->len - hdr - len);
			c->len -= hdr + len;
			assert_non_null(j);
			return j;
		}
		memmove(c->buf, c->buf + hdr + len, c->len - hdr - len); /* ping or pong */
		c->len -= hdr + len;
	}
}
