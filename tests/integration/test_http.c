/* Integration tests of Pat's HTTP API: a real `pat serve` on free ports, mail sent over SMTP,
 * then every MailHog endpoint read the way MailHog's clients read it, and bad input of every
 * kind (unknown ids and routes, wrong methods, bad paging, oversized bodies and headers,
 * malformed paths) answered with the right status and a JSON error. Also: tenants through
 * X-Pat-Tenant, the refusal of an unauthenticated public listener, HTTPS on `pat gateway`,
 * MailHog's release and live events, the real npm `mailhog` client, and a clean stop with a
 * kept-alive connection and event streams open. */
#include "tests/lib/testutil.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "node/store.h"

static char *dir, *log_path, node_address[32];
static int smtp_port, http_port;
static pid_t pid;

/* Ids of the messages sent in setup, oldest first. */
static char id_plain[64], id_multi[64], id_latin1[64];

static const char attachment[] = "\x00\x01\x02 binary \xff attachment bytes";
#define ATTACHMENT_LEN (sizeof attachment - 1)

/* ---- a raw HTTP/1.1 client: requests exactly as written, nothing normalised ---- */

struct http_conn {
	int fd;
	SSL *ssl;
	char buf[1 << 20];
	size_t len;
};

struct response {
	int status;
	char headers[8192];
	char *body;
	size_t body_len;
	json_t *json;
};

static void http_open_port(struct http_conn *c, int port)
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

static void http_open(struct http_conn *c)
{
	http_open_port(c, http_port);
}

static void http_close(struct http_conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(c->fd);
}

static void raw_send(struct http_conn *c, const void *data, size_t n)
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

#define RAW(c, s) raw_send((c), (s), strlen(s))

static ssize_t raw_recv(struct http_conn *c)
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
static const char *header(const struct response *r, const char *name)
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
static void read_response(struct http_conn *c, struct response *r, bool head)
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

static void response_free(struct response *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* One request on an open connection; extra: more header lines ("Name: value\r\n..."). */
static void exchange(struct http_conn *c, const char *method, const char *target, const char *extra, const char *body,
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
static void request(const char *method, const char *target, const char *extra, struct response *r)
{
	struct http_conn *c = malloc(sizeof *c);

	http_open(c);
	exchange(c, method, target, extra, NULL, 0, r);
	http_close(c);
	free(c);
}

static void get(const char *target, struct response *r)
{
	request("GET", target, NULL, r);
}

/* The response is a JSON error with this status. */
static void expect_error(struct response *r, int status)
{
	if (r->status != status)
		fail_msg("expected status %d, got %d:\n%s%s", status, r->status, r->headers, r->body);
	if (r->json == NULL || !json_is_string(json_object_get(r->json, "error")) ||
	    json_string_length(json_object_get(r->json, "error")) == 0)
		fail_msg("expected a JSON error body, got \"%s\" (%s)", r->body, header(r, "content-type"));
}

static void get_error(const char *target, int status)
{
	struct response r;

	get(target, &r);
	expect_error(&r, status);
	response_free(&r);
}

static void get_ok(const char *target, struct response *r)
{
	get(target, r);
	if (r->status != 200)
		fail_msg("GET %s: expected 200, got %d: %s", target, r->status, r->body);
}

static const char *jstr(json_t *j, const char *path)
{
	/* "a.b.0.c": object keys and array indexes */
	char buf[256], *save = NULL;

	snprintf(buf, sizeof buf, "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k != NULL && j != NULL; k = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, strtoul(k, NULL, 10)) : json_object_get(j, k);
	if (!json_is_string(j))
		fail_msg("%s is not a string", path);
	return json_string_value(j);
}

static json_t *jget(json_t *j, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof buf, "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k != NULL && j != NULL; k = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, strtoul(k, NULL, 10)) : json_object_get(j, k);
	if (j == NULL)
		fail_msg("%s is missing", path);
	return j;
}

static long long jint(json_t *j, const char *path)
{
	json_t *v = jget(j, path);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

/* ---- SMTP ---- */

static char smtp_buf[65536];
static size_t smtp_len;

static char *smtp_reply(int fd)
{
	for (;;) {
		char *line = smtp_buf, *nl;

		while ((nl = memchr(line, '\n', smtp_len - (size_t)(line - smtp_buf))) != NULL) {
			if (nl - line >= 4 && line[3] == ' ') {
				size_t n = (size_t)(nl - smtp_buf) + 1;
				char *r = strndup(smtp_buf, n);

				memmove(smtp_buf, smtp_buf + n, smtp_len - n);
				smtp_len -= n;
				return r;
			}
			line = nl + 1;
		}
		{
			ssize_t r = recv(fd, smtp_buf + smtp_len, sizeof smtp_buf - smtp_len - 1, 0);

			if (r <= 0)
				return strdup("");
			smtp_len += (size_t)r;
		}
	}
}

static void smtp_expect(int fd, const char *prefix)
{
	char *r = smtp_reply(fd);

	if (strncmp(r, prefix, strlen(prefix)) != 0)
		fail_msg("expected an SMTP reply starting \"%s\", got \"%s\"", prefix, r);
	free(r);
}

static void smtp_send(int fd, const char *s)
{
	send(fd, s, strlen(s), MSG_NOSIGNAL);
}

/* Send one message (CRLF line ends, no line starting with '.'); its id goes to id. */
static void send_mail(const char *from, const char *const *rcpts, const char *data, char *id)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)smtp_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 20, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char line[512], *r;

	smtp_len = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	smtp_expect(fd, "220");
	smtp_send(fd, "EHLO client.test\r\n");
	smtp_expect(fd, "250");
	snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", from);
	smtp_send(fd, line);
	smtp_expect(fd, "250");
	for (; *rcpts != NULL; rcpts++) {
		snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", *rcpts);
		smtp_send(fd, line);
		smtp_expect(fd, "250");
	}
	smtp_send(fd, "DATA\r\n");
	smtp_expect(fd, "354");
	send(fd, data, strlen(data), MSG_NOSIGNAL);
	smtp_send(fd, ".\r\n");
	r = smtp_reply(fd);
	if (sscanf(r, "250 2.0.0 Ok: queued as %63s", id) != 1)
		fail_msg("message not accepted: %s", r);
	free(r);
	smtp_send(fd, "QUIT\r\n");
	close(fd);
}

/* ---- fixture ---- */

static void start_serve(void)
{
	char data[4200], node_set[64], smtp[32], http[32];
	const char *argv[] = { tu_pat_bin(), "serve", "--data", data, "--smtp", smtp, "--http", http, "--set", node_set,
			       "--set", "http.max_body_size=64KiB", "--set", "http.max_header_size=8KiB",
			       "--set", "smtp.hostname=pat.test", "--set", "http.workers=2", NULL };

	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(node_set, sizeof node_set, "node.address=%s", node_address);
	snprintf(smtp, sizeof smtp, "127.0.0.1:%d", smtp_port);
	snprintf(http, sizeof http, "127.0.0.1:%d", http_port);
	pid = tu_spawn(argv, NULL, log_path);
	if (!tu_wait_port(smtp_port, 30000) || !tu_wait_port(http_port, 30000)) {
		char *log = tu_read_file(log_path, NULL);

		fail_msg("pat serve did not listen; its log:\n%s", log ? log : "");
	}
}

static int setup(void **state)
{
	static const char *const to_bob[] = { "bob@example.org", NULL };
	static const char *const to_two[] = { "dave@example.com", "erin@example.net", NULL };
	char multi[4096], b64[128];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	dir = tu_mkdtemp();
	if (asprintf(&log_path, "%s/serve.log", dir) < 0)
		return -1;
	smtp_port = tu_free_port();
	http_port = tu_free_port();
	snprintf(node_address, sizeof node_address, "127.0.0.1:%d", tu_free_port());
	start_serve();
	send_mail("alice@example.com", to_bob,
		  "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: Hello Bob\r\n"
		  "X-Folded: first\r\n  second\r\n\r\nJust a plain line.\r\n",
		  id_plain);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)attachment, ATTACHMENT_LEN);
	snprintf(multi, sizeof multi,
		 "From: carol@example.com\r\nTo: dave@example.com, erin@example.net\r\nSubject: Report\r\n"
		 "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
		 "preamble without headers\r\n"
		 "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
		 "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe text part.\r\n"
		 "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The HTML part.</p>\r\n"
		 "--inner--\r\n"
		 "--outer\r\nContent-Type: application/x-test\r\nContent-Transfer-Encoding: base64\r\n"
		 "Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n%s\r\n"
		 "--outer--\r\n",
		 b64);
	send_mail("carol@example.com", to_two, multi, id_multi);
	send_mail("legacy@example.com", to_bob,
		  "From: legacy@example.com\r\nTo: bob@example.org\r\nSubject: caf\xe9\r\n\r\nLatin-1 bytes: \xe9\xe8\r\n",
		  id_latin1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (pid > 0)
		assert_int_equal(tu_stop(pid, SIGTERM), 0);
	{
		char *log = tu_read_file(log_path, NULL);

		if (log != NULL && (strstr(log, "Sanitizer") || strstr(log, "runtime error:")))
			fail_msg("pat serve reported a sanitizer error:\n%s", log);
		free(log);
	}
	tu_rmtree(dir);
	free(dir);
	free(log_path);
	return 0;
}

/* ---- tests ---- */

static void health_and_readiness(void **state)
{
	struct response r;

	(void)state;
	get_ok("/healthz", &r);
	assert_string_equal(jstr(r.json, "status"), "ok");
	response_free(&r);
	get_ok("/readyz", &r);
	assert_string_equal(jstr(r.json, "status"), "ready");
	assert_int_equal(jint(r.json, "schema"), STORE_SCHEMA_VERSION);
	assert_string_equal(jstr(r.json, "leader"), node_address);
	response_free(&r);
	request("HEAD", "/healthz", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	response_free(&r);
}

/* /metrics: Prometheus text that promtool accepts, counting what this server did. */
static void metrics_for_prometheus(void **state)
{
	const char *argv[] = { "/usr/bin/promtool", "check", "metrics", NULL };
	struct response r;
	struct tu_proc p;

	(void)state;
	get_ok("/api/v2/messages?limit=1", &r);
	response_free(&r);
	get_ok("/metrics", &r);
	assert_contains(header(&r, "content-type"), "text/plain; version=0.0.4");
	assert_contains(r.body, "# TYPE pat_emails_received_total counter");
	assert_contains(r.body, "pat_emails_received_total{tenant=\"default\"");
	assert_contains(r.body, "pat_smtp_connections_total ");
	assert_contains(r.body, "pat_store_commit_duration_seconds_bucket{le=\"+Inf\"}");
	assert_contains(r.body, "pat_api_requests_duration_seconds_count{route=\"/api/v2/messages\",method=\"GET\",code=\"200\"}");
	assert_contains(r.body, "process_resident_memory_bytes ");
	tu_run(&p, argv, NULL, r.body);
	if (p.status != 0)
		fail_msg("promtool check metrics failed (%d):\n%s%s", p.status, p.out, p.err);
	tu_proc_free(&p);
	response_free(&r);
	get_error("/metrics?format=json", 400);
}

static void v2_messages_in_mailhog_shape(void **state)
{
	struct response r;
	json_t *m;

	(void)state;
	get_ok("/api/v2/messages", &r);
	assert_int_equal(jint(r.json, "total"), 3);
	assert_int_equal(jint(r.json, "count"), 3);
	assert_int_equal(jint(r.json, "start"), 0);
	/* Newest first. */
	assert_string_equal(jstr(r.json, "items.0.ID"), id_latin1);
	assert_string_equal(jstr(r.json, "items.1.ID"), id_multi);
	assert_string_equal(jstr(r.json, "items.2.ID"), id_plain);
	m = jget(r.json, "items.2");
	assert_true(json_is_null(jget(m, "From.Relays")));
	assert_string_equal(jstr(m, "From.Mailbox"), "alice");
	assert_string_equal(jstr(m, "From.Domain"), "example.com");
	assert_string_equal(jstr(m, "From.Params"), "");
	assert_int_equal(json_array_size(jget(m, "To")), 1);
	assert_string_equal(jstr(m, "To.0.Mailbox"), "bob");
	assert_string_equal(jstr(m, "To.0.Domain"), "example.org");
	assert_string_equal(jstr(m, "Content.Headers.Subject.0"), "Hello Bob");
	assert_string_equal(jstr(m, "Content.Headers.From.0"), "Alice <alice@example.com>");
	assert_string_equal(jstr(m, "Content.Headers.X-Folded.0"), "first  second"); /* joined as MailHog joins */
	assert_string_equal(jstr(m, "Content.Headers.Return-Path.0"), "<alice@example.com>");
	assert_true(json_is_array(jget(m, "Content.Headers.Message-ID")));
	assert_true(strstr(jstr(m, "Content.Headers.Received.0"), id_plain) != NULL);
	assert_string_equal(jstr(m, "Content.Body"), "Just a plain line.\r\n");
	assert_true(jint(m, "Content.Size") > 100);
	assert_true(json_is_null(jget(m, "Content.MIME")));
	assert_true(json_is_null(jget(m, "MIME")));
	assert_int_equal(strlen(jstr(m, "Created")), 24);
	assert_int_equal(jstr(m, "Created")[23], 'Z');
	assert_string_equal(jstr(m, "Raw.From"), "alice@example.com");
	assert_string_equal(jstr(m, "Raw.To.0"), "bob@example.org");
	assert_string_equal(jstr(m, "Raw.Helo"), "client.test");
	assert_true(strstr(jstr(m, "Raw.Data"), "Subject: Hello Bob\r\n") != NULL);
	assert_int_equal(strlen(jstr(m, "Raw.Data")), jint(m, "Content.Size"));
	/* Bytes that are not UTF-8 arrive as U+FFFD, and the JSON stays valid. */
	assert_string_equal(jstr(r.json, "items.0.Content.Headers.Subject.0"), "caf\xef\xbf\xbd");
	response_free(&r);
}

static void v2_paging(void **state)
{
	static const char *const bad[] = { "limit=-1", "limit=abc", "start=-5", "start=99999999999", "limit=1e3",
					   "limit=", "start=1.5", "limit=%2B1", "start=0x10", "limit=%zz", "limit=1&limit=2",
					   "page=2", "start=4294967296" };
	struct response r;
	char target[128];

	(void)state;
	get_ok("/api/v2/messages?start=1&limit=1", &r);
	assert_int_equal(jint(r.json, "total"), 3);
	assert_int_equal(jint(r.json, "count"), 1);
	assert_int_equal(jint(r.json, "start"), 1);
	assert_string_equal(jstr(r.json, "items.0.ID"), id_multi);
	response_free(&r);
	get_ok("/api/v2/messages?limit=1000000", &r); /* capped at 250, like MailHog */
	assert_int_equal(jint(r.json, "count"), 3);
	response_free(&r);
	get_ok("/api/v2/messages?start=2000000000&limit=0", &r);
	assert_int_equal(jint(r.json, "count"), 0);
	assert_int_equal(jint(r.json, "total"), 3);
	assert_int_equal(json_array_size(jget(r.json, "items")), 0);
	response_free(&r);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(target, sizeof target, "/api/v2/messages?%s", bad[i]);
		get_error(target, 400);
	}
}

static void v2_search(void **state)
{
	static const char *const bad[] = { "query=x", "kind=subject&query=x", "kind=from", "kind=from&query=",
					   "kind=FROM&query=x", "kind=to&query=x&limit=-1", "kind=to&query=x&start=z",
					   "kind=to&query=x&sort=asc" };
	struct response r;
	char target[128];

	(void)state;
	get_ok("/api/v2/search?kind=from&query=ALICE%40EXAMPLE", &r);
	assert_int_equal(jint(r.json, "total"), 1);
	assert_int_equal(jint(r.json, "count"), 1);
	assert_string_equal(jstr(r.json, "items.0.ID"), id_plain);
	response_free(&r);
	get_ok("/api/v2/search?kind=to&query=erin%40", &r);
	assert_int_equal(jint(r.json, "total"), 1);
	assert_string_equal(jstr(r.json, "items.0.ID"), id_multi);
	response_free(&r);
	get_ok("/api/v2/search?kind=to&query=bob&start=1&limit=1", &r);
	assert_int_equal(jint(r.json, "total"), 2);
	assert_int_equal(jint(r.json, "count"), 1);
	assert_int_equal(jint(r.json, "start"), 1);
	assert_string_equal(jstr(r.json, "items.0.ID"), id_plain);
	response_free(&r);
	get_ok("/api/v2/search?kind=containing&query=hello+BOB", &r);
	assert_int_equal(jint(r.json, "total"), 1);
	response_free(&r);
	get_ok("/api/v2/search?kind=containing&query=a+plain+line", &r); /* the body */
	assert_int_equal(jint(r.json, "total"), 1);
	assert_string_equal(jstr(r.json, "items.0.ID"), id_plain);
	response_free(&r);
	get_ok("/api/v2/search?kind=containing&query=%25", &r); /* a literal '%', found nowhere */
	assert_int_equal(jint(r.json, "total"), 0);
	response_free(&r);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(target, sizeof target, "/api/v2/search?%s", bad[i]);
		get_error(target, 400);
	}
}

static void v1_message_and_mime(void **state)
{
	struct response r;
	char target[160];
	json_t *parts;

	(void)state;
	snprintf(target, sizeof target, "/api/v1/messages/%s", id_multi);
	get_ok(target, &r);
	assert_string_equal(jstr(r.json, "ID"), id_multi);
	assert_int_equal(json_array_size(jget(r.json, "To")), 2);
	assert_string_equal(jstr(r.json, "To.1.Mailbox"), "erin");
	assert_string_equal(jstr(r.json, "Raw.To.1"), "erin@example.net");
	assert_true(json_is_null(jget(r.json, "Content.MIME")));
	/* The preamble has no headers and is left out; the parts are top-level. */
	parts = jget(r.json, "MIME.Parts");
	assert_int_equal(json_array_size(parts), 2);
	assert_true(strstr(jstr(parts, "0.Headers.Content-Type.0"), "multipart/alternative") != NULL);
	assert_int_equal(json_array_size(jget(parts, "0.MIME.Parts")), 2);
	assert_string_equal(jstr(parts, "0.MIME.Parts.0.Body"), "The text part.");
	assert_string_equal(jstr(parts, "0.MIME.Parts.1.Body"), "<p>The HTML part.</p>");
	assert_string_equal(jstr(parts, "1.Headers.Content-Type.0"), "application/x-test");
	assert_true(json_is_null(jget(parts, "1.MIME")));
	assert_true(jint(parts, "1.Size") > 0);
	response_free(&r);
}

static void v1_downloads(void **state)
{
	struct response r, msg;
	char target[160], want[160];

	(void)state;
	snprintf(target, sizeof target, "/api/v1/messages/%s", id_plain);
	get_ok(target, &msg);
	snprintf(target, sizeof target, "/api/v1/messages/%s/download", id_plain);
	get_ok(target, &r);
	assert_string_equal(header(&r, "content-type"), "message/rfc822");
	snprintf(want, sizeof want, "attachment; filename=\"%s.eml\"", id_plain);
	assert_string_equal(header(&r, "content-disposition"), want);
	assert_string_equal(r.body, jstr(msg.json, "Raw.Data"));
	response_free(&r);
	response_free(&msg);
	snprintf(target, sizeof target, "/api/v1/messages/%s/mime/part/1/download", id_multi);
	get_ok(target, &r);
	assert_string_equal(header(&r, "content-type"), "application/x-test");
	snprintf(want, sizeof want, "attachment; filename=\"%s-part-1\"", id_multi);
	assert_string_equal(header(&r, "content-disposition"), want);
	assert_int_equal(r.body_len, ATTACHMENT_LEN);
	assert_memory_equal(r.body, attachment, ATTACHMENT_LEN); /* base64-decoded */
	response_free(&r);
	snprintf(target, sizeof target, "/api/v1/messages/%s/mime/part/0/download", id_multi);
	get_ok(target, &r);
	assert_true(strstr(r.body, "The text part.") != NULL);
	response_free(&r);
	snprintf(target, sizeof target, "/api/v1/messages/%s/mime/part/2/download", id_multi);
	get_error(target, 404);
	snprintf(target, sizeof target, "/api/v1/messages/%s/mime/part/0/download", id_plain); /* not multipart */
	get_error(target, 404);
	snprintf(target, sizeof target, "/api/v1/messages/%s/mime/part/x/download", id_multi);
	get_error(target, 400);
	snprintf(target, sizeof target, "/api/v1/messages/%s/mime/part/-1/download", id_multi);
	get_error(target, 400);
	snprintf(target, sizeof target, "/api/v1/messages/%s/mime/part/99999999999/download", id_multi);
	get_error(target, 400);
}

static void unknown_ids_and_paths(void **state)
{
	static const char *const not_found[] = {
		"/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV",      /* well-formed, not stored */
		"/api/v1/messages/not-an-id",
		"/api/v1/messages/..%2F..%2Fetc%2Fpasswd",
		"/api/v1/messages/../../../etc/passwd",
		"/api/v1/messages/%2e%2e",
		"/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/download",
		"/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/mime/part/0/download",
		"/api/v1/messages/",
		"/api/v2/messages/",
		"/api//v2/messages",
		"/nothing/here",
		"/ui/", /* "/" is the web UI (test_webui.c) */
		"/api/v2/jim",
	};

	(void)state;
	for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++)
		get_error(not_found[i], 404);
	get_error("/api/v1/messages/%00", 400);
	get_error("/api/v1/messages/%zz", 400);
	get_error("/healthz?x=1", 400);
}

static void wrong_methods(void **state)
{
	struct response r;

	(void)state;
	request("POST", "/api/v2/messages", NULL, &r);
	expect_error(&r, 405);
	assert_string_equal(header(&r, "allow"), "GET");
	response_free(&r);
	request("PATCH", "/api/v1/messages", NULL, &r);
	expect_error(&r, 405);
	assert_string_equal(header(&r, "allow"), "GET, PUT, DELETE");
	response_free(&r);
	request("PATCH", "/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", NULL, &r);
	expect_error(&r, 405);
	response_free(&r);
	request("DELETE", "/healthz", NULL, &r);
	expect_error(&r, 405);
	response_free(&r);
}

static void limits_and_malformed_requests(void **state)
{
	struct http_conn *c = malloc(sizeof *c);
	struct response r;
	size_t big = 100 * 1024;
	char *body = malloc(big), *hdr = malloc(12 * 1024);

	(void)state;
	memset(body, '{', big);
	http_open(c);
	exchange(c, "DELETE", "/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", NULL, body, big, &r);
	expect_error(&r, 413);
	assert_contains(jstr(r.json, "error"), "max_body_size");
	response_free(&r);
	http_close(c);
	/* A body under the limit on an endpoint that takes none is simply not read as anything. */
	http_open(c);
	exchange(c, "POST", "/api/v2/messages", "Content-Type: application/json\r\n", "{not json", 9, &r);
	expect_error(&r, 405);
	response_free(&r);
	http_close(c);
	memcpy(hdr, "X-Big: ", 7);
	memset(hdr + 7, 'a', 10 * 1024);
	memcpy(hdr + 7 + 10 * 1024, "\r\n", 3);
	request("GET", "/healthz", hdr, &r);
	expect_error(&r, 431);
	response_free(&r);
	http_open(c);
	RAW(c, "POST /api/v2/messages HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
	read_response(c, &r, false);
	expect_error(&r, 400);
	response_free(&r);
	http_close(c);
	/* What is not HTTP at all gets h2o's own fixed reply, before anything of Pat's runs. */
	http_open(c);
	RAW(c, "NOT-HTTP\r\n\r\n");
	read_response(c, &r, false);
	assert_int_equal(r.status, 400);
	response_free(&r);
	http_close(c);
	free(body);
	free(hdr);
	free(c);
}

static void keep_alive_serves_many_requests(void **state)
{
	struct http_conn *c = malloc(sizeof *c);
	struct response r;

	(void)state;
	http_open(c);
	for (int i = 0; i < 20; i++) {
		exchange(c, "GET", i % 2 ? "/healthz" : "/api/v2/messages?limit=1", NULL, NULL, 0, &r);
		assert_int_equal(r.status, 200);
		assert_non_null(r.json);
		response_free(&r);
	}
	/* An error does not end the connection either. */
	exchange(c, "GET", "/nope", NULL, NULL, 0, &r);
	expect_error(&r, 404);
	response_free(&r);
	exchange(c, "GET", "/healthz", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	http_close(c);
	free(c);
}

static void tenants_through_the_header(void **state)
{
	struct response r;

	(void)state;
	request("GET", "/api/v2/messages", "X-Pat-Tenant: other-team\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(jint(r.json, "total"), 0);
	response_free(&r);
	{
		char target[160];

		snprintf(target, sizeof target, "/api/v1/messages/%s", id_plain);
		request("GET", target, "X-Pat-Tenant: other-team\r\n", &r);
		expect_error(&r, 404); /* another tenant's message does not exist for it */
		response_free(&r);
		request("DELETE", target, "X-Pat-Tenant: other-team\r\n", &r);
		expect_error(&r, 404);
		response_free(&r);
	}
	request("DELETE", "/api/v1/messages", "X-Pat-Tenant: other-team\r\n", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	request("GET", "/api/v2/messages", "X-Pat-Tenant: default\r\n", &r);
	assert_int_equal(jint(r.json, "total"), 3); /* untouched */
	response_free(&r);
	request("GET", "/api/v2/messages", "X-Pat-Tenant: Not_A_Tenant!\r\n", &r);
	expect_error(&r, 400);
	response_free(&r);
	request("GET", "/api/v2/messages", "X-Pat-Tenant: \r\n", &r);
	expect_error(&r, 400);
	response_free(&r);
}

/* MailHog's release: the message goes on over SMTP; here to Pat's own SMTP listener. */
static void v1_release(void **state)
{
	static const char *const bad[] = {
		"{not json", "[1, 2]", "", "{\"Port\": \"25\", \"Email\": \"x@example.com\"}",
		"{\"Host\": \"127.0.0.1\", \"Email\": \"x@example.com\"}",
		"{\"Host\": \"127.0.0.1\", \"Port\": \"0\", \"Email\": \"x@example.com\"}",
		"{\"Host\": \"127.0.0.1\", \"Port\": 70000, \"Email\": \"x@example.com\"}",
		"{\"Host\": \"127.0.0.1\", \"Port\": \"25\"}",
		"{\"Host\": \"evil/host\", \"Port\": \"25\", \"Email\": \"x@example.com\"}",
		"{\"Host\": 5, \"Port\": \"25\", \"Email\": \"x@example.com\"}",
		"{\"Host\": \"127.0.0.1\", \"Port\": \"25\", \"Email\": \"x@example.com\", \"Username\": \"u\", \"Mechanism\": \"LOGIN\"}",
		"{\"Name\": \"saved\"}",
	};
	struct http_conn *c = malloc(sizeof *c);
	char target[160], body[256];
	struct response r;

	(void)state;
	snprintf(target, sizeof target, "/api/v1/messages/%s/release", id_plain);
	/* Field names in any case, the port as a string or a number, as MailHog takes them. */
	snprintf(body, sizeof body, "{\"host\": \"127.0.0.1\", \"port\": \"%d\", \"email\": \"released@example.com\"}",
		 smtp_port);
	http_open(c);
	exchange(c, "POST", target, "Content-Type: application/json\r\n", body, strlen(body), &r);
	if (r.status != 200)
		fail_msg("release failed: %d %s", r.status, r.body);
	response_free(&r);
	snprintf(body, sizeof body,
		 "{\"Host\": \"127.0.0.1\", \"Port\": %d, \"Email\": \"released@example.com\", \"Username\": \"u\","
		 " \"Password\": \"p\", \"Mechanism\": \"PLAIN\"}",
		 smtp_port);
	exchange(c, "POST", target, NULL, body, strlen(body), &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		exchange(c, "POST", target, NULL, bad[i], strlen(bad[i]), &r);
		expect_error(&r, 400);
		response_free(&r);
	}
	/* A server that cannot be reached: the gateway's failure, not the client's. */
	snprintf(body, sizeof body, "{\"Host\": \"127.0.0.1\", \"Port\": %d, \"Email\": \"x@example.com\"}", tu_free_port());
	exchange(c, "POST", target, NULL, body, strlen(body), &r);
	expect_error(&r, 502);
	response_free(&r);
	snprintf(body, sizeof body, "{\"Host\": \"127.0.0.1\", \"Port\": %d, \"Email\": \"x@example.com\"}", smtp_port);
	exchange(c, "POST", "/api/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/release", NULL, body, strlen(body), &r);
	expect_error(&r, 404);
	response_free(&r);
	exchange(c, "GET", target, NULL, NULL, 0, &r);
	expect_error(&r, 405);
	response_free(&r);
	http_close(c);
	free(c);
	get_ok("/api/v2/search?kind=to&query=released%40example.com", &r);
	assert_int_equal(jint(r.json, "total"), 2);
	assert_string_equal(jstr(r.json, "items.0.Raw.From"), "nobody@pat.test");
	assert_true(strstr(jstr(r.json, "items.0.Raw.Data"), "Subject: Hello Bob\r\n") != NULL);
	response_free(&r);
}

/* ---- live events ---- */

/* Read until needle appears in c's buffer (after offset from); its position. */
static char *wait_for(struct http_conn *c, size_t from, const char *needle)
{
	char *p;

	while ((p = memmem(c->buf + from, c->len - from, needle, strlen(needle))) == NULL)
		if (raw_recv(c) <= 0)
			fail_msg("the stream ended before \"%s\"; it sent:\n%.*s", needle, (int)c->len, c->buf);
	return p;
}

static void sse_open(struct http_conn *c, const char *tenant)
{
	char extra[128] = "";

	if (tenant != NULL)
		snprintf(extra, sizeof extra, "X-Pat-Tenant: %s\r\n", tenant);
	http_open(c);
	{
		char head[512];
		int n = snprintf(head, sizeof head, "GET /api/v1/events HTTP/1.1\r\nHost: pat.test\r\n%s\r\n", extra);

		raw_send(c, head, (size_t)n);
	}
	wait_for(c, 0, "events named data");
	assert_non_null(strstr(c->buf, "HTTP/1.1 200"));
	assert_non_null(strcasestr(c->buf, "content-type: text/event-stream"));
}

/* The next "data" event's JSON. */
static json_t *sse_next(struct http_conn *c, size_t *from)
{
	char *start = wait_for(c, *from, "event: data\ndata: ") + strlen("event: data\ndata: "), *end;
	json_t *j;

	end = wait_for(c, (size_t)(start - c->buf), "\n\n");
	j = json_loadb(start, (size_t)(end - start), 0, NULL);
	assert_non_null(j);
	*from = (size_t)(end - c->buf) + 2;
	return j;
}

static void ws_open(struct http_conn *c)
{
	http_open(c);
	RAW(c, "GET /api/v2/websocket HTTP/1.1\r\nHost: pat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
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
static json_t *ws_next(struct http_conn *c)
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

static void live_events(void **state)
{
	static const char *const to[] = { "watcher@example.com", NULL };
	struct http_conn *sse = malloc(sizeof *sse), *ws = malloc(sizeof *ws), *other = malloc(sizeof *other);
	char id1[64], id2[64];
	size_t from = 0;
	struct response r;
	json_t *j;

	(void)state;
	sse_open(sse, NULL);
	sse_open(other, "other-team");
	ws_open(ws);
	send_mail("live@example.com", to, "Subject: live one\r\n\r\nfirst\r\n", id1);
	send_mail("live@example.com", to, "Subject: live two\r\n\r\nsecond\r\n", id2);
	j = sse_next(sse, &from);
	assert_string_equal(jstr(j, "ID"), id1);
	assert_string_equal(jstr(j, "Content.Headers.Subject.0"), "live one");
	assert_string_equal(jstr(j, "Raw.From"), "live@example.com");
	json_decref(j);
	j = sse_next(sse, &from);
	assert_string_equal(jstr(j, "ID"), id2);
	json_decref(j);
	j = ws_next(ws);
	assert_non_null(j);
	assert_string_equal(jstr(j, "ID"), id1);
	assert_string_equal(jstr(j, "To.0.Mailbox"), "watcher");
	json_decref(j);
	j = ws_next(ws);
	assert_non_null(j);
	assert_string_equal(jstr(j, "ID"), id2);
	json_decref(j);
	/* Another tenant's stream was sent the same moment, and got nothing. */
	{
		ssize_t n = recv(other->fd, other->buf + other->len, sizeof other->buf - other->len, MSG_DONTWAIT);

		if (n > 0)
			other->len += (size_t)n;
		assert_null(memmem(other->buf, other->len, "event: data", 11));
	}
	http_close(sse);
	http_close(ws);
	http_close(other);
	free(sse);
	free(ws);
	free(other);
	/* Not a WebSocket handshake; not a stream with a query. */
	get_error("/api/v2/websocket", 400);
	get_error("/api/v1/events?since=1", 400);
	request("POST", "/api/v1/events", NULL, &r);
	expect_error(&r, 405);
	response_free(&r);
}

static void deletes(void **state)
{
	struct response r;
	char target[160];
	long long before;

	(void)state;
	get_ok("/api/v2/messages", &r);
	before = jint(r.json, "total");
	response_free(&r);
	snprintf(target, sizeof target, "/api/v1/messages/%s", id_latin1);
	request("DELETE", target, NULL, &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	get_error(target, 404);
	request("DELETE", target, NULL, &r);
	expect_error(&r, 404);
	response_free(&r);
	get_ok("/api/v2/messages", &r);
	assert_int_equal(jint(r.json, "total"), before - 1);
	response_free(&r);
	request("DELETE", "/api/v1/messages", NULL, &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	get_ok("/api/v2/messages", &r);
	assert_int_equal(jint(r.json, "total"), 0);
	assert_int_equal(json_array_size(jget(r.json, "items")), 0);
	response_free(&r);
}

static void public_listener_needs_auth(void **state)
{
	char data[4200], set[64];
	const char *argv[] = { tu_pat_bin(), "serve", "--data", data, "--http", "0.0.0.0:0", "--smtp", "127.0.0.1:0",
			       "--set", set, NULL };
	const char *gw[] = { tu_pat_bin(), "gateway", "--cluster", node_address, "--http", "[::]:0", NULL };
	struct tu_proc p;

	(void)state;
	snprintf(data, sizeof data, "%s/public", dir);
	snprintf(set, sizeof set, "node.address=127.0.0.1:%d", tu_free_port());
	tu_run(&p, argv, NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "refusing to serve HTTP on 0.0.0.0:0 without authentication");
	assert_contains(p.err, "http.allow_unauthenticated");
	tu_proc_free(&p);
	tu_run(&p, gw, NULL, NULL);
	assert_int_equal(p.status, 1);
	assert_contains(p.err, "refusing to serve HTTP on [::]:0");
	tu_proc_free(&p);
}

/* A self-signed certificate and key for 127.0.0.1, written as PEM files. */
static void write_certificate(const char *cert_path, const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	assert_non_null(key);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	f = fopen(cert_path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(key_path, 0600);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void gateway_serves_https(void **state)
{
	char cert[4300], key[4300], cert_set[4400], key_set[4400], http[32], smtp[32], log2[4300];
	const char *argv[] = { tu_pat_bin(), "gateway", "--cluster", node_address, "--smtp", smtp, "--http", http,
			       "--set", cert_set, "--set", key_set, NULL };
	int port = tu_free_port();
	struct http_conn *c = malloc(sizeof *c);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct response r;
	pid_t gw;

	(void)state;
	snprintf(cert, sizeof cert, "%s/http.crt", dir);
	snprintf(key, sizeof key, "%s/http.key", dir);
	write_certificate(cert, key);
	snprintf(cert_set, sizeof cert_set, "http.tls_cert_file=%s", cert);
	snprintf(key_set, sizeof key_set, "http.tls_key_file=%s", key);
	snprintf(http, sizeof http, "127.0.0.1:%d", port);
	snprintf(smtp, sizeof smtp, "127.0.0.1:%d", tu_free_port());
	snprintf(log2, sizeof log2, "%s/gateway.log", dir);
	gw = tu_spawn(argv, NULL, log2);
	assert_true(tu_wait_port(port, 30000));
	http_open_port(c, port);
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1)
		fail_msg("TLS handshake with pat gateway failed");
	exchange(c, "GET", "/readyz", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "status"), "ready");
	response_free(&r);
	exchange(c, "GET", "/api/v2/messages", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	http_close(c);
	SSL_CTX_free(ctx);
	free(c);
	assert_int_equal(tu_stop(gw, SIGTERM), 0);
	{
		char *log = tu_read_file(log2, NULL);

		assert_contains(log, "tls=on");
		if (strstr(log, "Sanitizer") || strstr(log, "runtime error:"))
			fail_msg("pat gateway reported a sanitizer error:\n%s", log);
		free(log);
	}
}

/* The npm `mailhog` client, installed from tests/e2e's lockfile with `npm ci`, runs its
 * checks (tests/e2e/mailhog.test.js) against this server. */
static void the_npm_mailhog_client(void **state)
{
	static const char *const files[] = { "package.json", "package-lock.json", "mailhog.test.js" };
	char e2e[4200], script[4300], http_env[64], smtp_env[64];
	const char *node[] = { "node", script, NULL };
	const char *env[] = { http_env, smtp_env, NULL };
	struct tu_proc p;

	(void)state;
	snprintf(e2e, sizeof e2e, "%s/e2e", dir);
	tu_e2e_prepare(e2e, files, sizeof files / sizeof files[0]);
	snprintf(script, sizeof script, "%s/mailhog.test.js", e2e);
	snprintf(http_env, sizeof http_env, "PAT_HTTP_PORT=%d", http_port);
	snprintf(smtp_env, sizeof smtp_env, "PAT_SMTP_PORT=%d", smtp_port);
	tu_run(&p, node, env, NULL);
	if (p.status != 0)
		fail_msg("the mailhog client's checks failed (status %d):\n%s%s", p.status, p.out, p.err);
	assert_contains(p.out, "all checks passed");
	tu_proc_free(&p);
}

/* The server stops on SIGTERM although a client keeps a connection open. */
static void stops_with_a_kept_alive_connection(void **state)
{
	struct http_conn *c = malloc(sizeof *c);
	struct response r;
	char *log;

	struct http_conn *sse = malloc(sizeof *sse), *ws = malloc(sizeof *ws);

	(void)state;
	http_open(c);
	exchange(c, "GET", "/healthz", NULL, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	sse_open(sse, NULL);
	ws_open(ws);
	assert_int_equal(tu_stop(pid, SIGTERM), 0);
	pid = 0;
	assert_true(recv(c->fd, c->buf, sizeof c->buf, 0) <= 0); /* closed by the server */
	http_close(c);
	free(c);
	/* Streams end: the SSE response with its last chunk, the WebSocket with the connection. */
	while (raw_recv(sse) > 0)
		;
	assert_non_null(memmem(sse->buf, sse->len, "0\r\n\r\n", 5));
	assert_null(ws_next(ws));
	http_close(sse);
	http_close(ws);
	free(sse);
	free(ws);
	log = tu_read_file(log_path, NULL);
	assert_contains(log, "pat serve stopped");
	assert_contains(log, "http_port=");
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(health_and_readiness),
		cmocka_unit_test(metrics_for_prometheus),
		cmocka_unit_test(v2_messages_in_mailhog_shape),
		cmocka_unit_test(v2_paging),
		cmocka_unit_test(v2_search),
		cmocka_unit_test(v1_message_and_mime),
		cmocka_unit_test(v1_downloads),
		cmocka_unit_test(unknown_ids_and_paths),
		cmocka_unit_test(wrong_methods),
		cmocka_unit_test(limits_and_malformed_requests),
		cmocka_unit_test(keep_alive_serves_many_requests),
		cmocka_unit_test(tenants_through_the_header),
		cmocka_unit_test(public_listener_needs_auth),
		cmocka_unit_test(gateway_serves_https),
		cmocka_unit_test(v1_release),
		cmocka_unit_test(live_events),
		cmocka_unit_test(deletes),
		cmocka_unit_test(the_npm_mailhog_client),
		cmocka_unit_test(stops_with_a_kept_alive_connection),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
