/* Integration tests of the web UI: a real `pat serve` on free ports serves the embedded page
 * and its files with their security headers (also on errors and 304s), unknown files are JSON
 * 404s, the event streams take their tenant from the `tenant` query parameter, and the UI
 * passes its checks in headless Chromium (tests/e2e/webui.test.js, run with node and
 * playwright-core from tests/e2e's lockfile). */
#include "tests/lib/testutil.h"
#include "tests/lib/serve.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define CSP                                                                                                            \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "          \
	"frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* Recipient domains and the tenants they belong to: one for the browser, one for the
 * event-stream test, so that neither sees the other's mail. */
#define BROWSER_DOMAIN "other.test"
#define BROWSER_TENANT "other-team"
#define EVENTS_DOMAIN "events.test"
#define EVENTS_TENANT "events-team"
#define HTML_DOMAIN "html.test"
#define HTML_TENANT "html-team"

/* The policy of a message's HTML served on its own (GET /api/v3/messages/{id}/html). */
#define HTML_CSP                                                                                                       \
	"default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; "              \
	"form-action 'none'; frame-ancestors 'self'; sandbox"

static struct ts_serve serve;

/* ---- a small HTTP/1.1 client: one request per connection ---- */

struct response {
	int status;
	char *headers; /* the status line and headers */
	char *body;
	size_t body_len;
};

static int connect_http(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)serve.http_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 20, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		assert_true(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

/* method target with extra header lines ("Name: value\r\n..."); the whole answer, read until
 * the server closes the connection. */
static void request(const char *method, const char *target, const char *extra, struct response *r)
{
	char head[4096], *all = NULL, *end;
	size_t len = 0, cap = 0;
	int fd = connect_http();

	snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: pat.test\r\nConnection: close\r\n%s\r\n", method, target,
		 extra != NULL ? extra : "");
	send_all(fd, head);
	for (;;) {
		ssize_t n;

		if (cap - len < 65536) {
			cap = cap * 2 + 65536;
			all = realloc(all, cap + 1);
			assert_non_null(all);
		}
		n = recv(fd, all + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	assert_non_null(all);
	all[len] = '\0';
	end = strstr(all, "\r\n\r\n");
	if (end == NULL)
		fail_msg("no complete response to %s %s: %s", method, target, all);
	memset(r, 0, sizeof *r);
	r->headers = strndup(all, (size_t)(end - all) + 2);
	r->body_len = len - (size_t)(end + 4 - all);
	r->body = malloc(r->body_len + 1);
	memcpy(r->body, end + 4, r->body_len);
	r->body[r->body_len] = '\0';
	assert_int_equal(sscanf(all, "HTTP/1.1 %d", &r->status), 1);
	free(all);
}

static void response_free(struct response *r)
{
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* A response header's value (case-insensitive name), or "" when absent. */
static const char *header(const struct response *r, const char *name)
{
	static char value[2048];
	size_t n = strlen(name);

	value[0] = '\0';
	for (const char *line = strstr(r->headers, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
		const char *p = line + 2, *v, *end;

		if (strncasecmp(p, name, n) != 0 || p[n] != ':')
			continue;
		for (v = p + n + 1; *v == ' '; v++)
			;
		end = strstr(v, "\r\n");
		snprintf(value, sizeof value, "%.*s", (int)(end != NULL ? end - v : (long)strlen(v)), v);
		break;
	}
	return value;
}

/* The headers of every response of the UI or of a message's HTML: its policy, no sniffing,
 * no referrer. */
static void expect_policy_headers(const struct response *r, const char *csp, const char *what)
{
	if (strcmp(header(r, "content-security-policy"), csp) != 0)
		fail_msg("%s: Content-Security-Policy is \"%s\"", what, header(r, "content-security-policy"));
	if (strcmp(header(r, "x-content-type-options"), "nosniff") != 0)
		fail_msg("%s: X-Content-Type-Options is \"%s\"", what, header(r, "x-content-type-options"));
	if (strcmp(header(r, "referrer-policy"), "no-referrer") != 0)
		fail_msg("%s: Referrer-Policy is \"%s\"", what, header(r, "referrer-policy"));
}

/* The security headers of every UI response. */
static void expect_security_headers(const struct response *r, const char *what)
{
	expect_policy_headers(r, CSP, what);
}

/* A JSON error with this status. */
static void expect_json_error(const struct response *r, int status, const char *what)
{
	json_t *j;

	if (r->status != status)
		fail_msg("%s: expected %d, got %d:\n%s\n%s", what, status, r->status, r->headers, r->body);
	if (strcmp(header(r, "content-type"), "application/json") != 0)
		fail_msg("%s: an error that is not JSON: %s", what, header(r, "content-type"));
	j = json_loads(r->body, 0, NULL);
	if (j == NULL || !json_is_string(json_object_get(j, "error")))
		fail_msg("%s: not a JSON error: %s", what, r->body);
	json_decref(j);
}

/* ---- fixture ---- */

static int setup(void **state)
{
	char *domains, domains_set[4300];
	const char *extra[] = { "--set", domains_set, "--set", "http.workers=2", NULL };

	(void)state;
	ts_serve_init(&serve, true);
	domains = tu_write_file(serve.dir, "domains", BROWSER_DOMAIN " " BROWSER_TENANT "\n" EVENTS_DOMAIN " " EVENTS_TENANT "\n"
							HTML_DOMAIN " " HTML_TENANT "\n");
	snprintf(domains_set, sizeof domains_set, "smtp.tenant_domains_file=%s", domains);
	free(domains);
	ts_serve_start(&serve, extra);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ts_serve_close(&serve);
	return 0;
}

/* ---- tests ---- */

/* The page and each file: the bytes of gateway/webui/ as they are, the right type, an ETag that
 * revalidates to a 304, and the security headers, on GET and HEAD alike. */
static void ui_files_with_security_headers(void **state)
{
	static const struct {
		const char *target, *file, *type;
	} files[] = {
		{ "/", "index.html", "text/html; charset=utf-8" },
		{ "/ui/index.html", "index.html", "text/html; charset=utf-8" },
		{ "/ui/app.js", "app.js", "text/javascript; charset=utf-8" },
		{ "/ui/app.css", "app.css", "text/css; charset=utf-8" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char src[4300], inm[256], etag[200];
		struct response r;
		size_t len = 0;
		char *want;

		snprintf(src, sizeof src, "%s/gateway/webui/%s", tu_source_dir(), files[i].file);
		want = tu_read_file(src, &len);
		assert_non_null(want);
		request("GET", files[i].target, NULL, &r);
		if (r.status != 200)
			fail_msg("GET %s: %d %s", files[i].target, r.status, r.body);
		assert_string_equal(header(&r, "content-type"), files[i].type);
		assert_int_equal(r.body_len, len);
		assert_memory_equal(r.body, want, len);
		expect_security_headers(&r, files[i].target);
		assert_string_equal(header(&r, "cache-control"), "no-cache");
		snprintf(etag, sizeof etag, "%s", header(&r, "etag"));
		assert_true(strlen(etag) > 2 && etag[0] == '"');
		response_free(&r);
		free(want);

		request("HEAD", files[i].target, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 0);
		expect_security_headers(&r, files[i].target);
		response_free(&r);

		snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", etag);
		request("GET", files[i].target, inm, &r);
		assert_int_equal(r.status, 304);
		assert_int_equal(r.body_len, 0);
		assert_string_equal(header(&r, "etag"), etag);
		expect_security_headers(&r, files[i].target);
		response_free(&r);

		request("GET", files[i].target, "If-None-Match: \"something-else\"\r\n", &r);
		assert_int_equal(r.status, 200);
		response_free(&r);
	}
}

/* A file the UI does not have is a JSON 404, with the security headers; nothing is read from
 * disk, whatever the name. */
static void unknown_files_are_json_404s(void **state)
{
	static const char *const unknown[] = {
		"/ui/nope.js", "/ui/.hidden", "/ui/..%2Fwebui.c", "/ui/..%2F..%2Fgateway%2Fwebui.c",
		"/ui/%2Fetc%2Fpasswd", "/ui/APP.JS", "/ui/app.js.map",
	};
	struct response r;

	(void)state;
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		request("GET", unknown[i], NULL, &r);
		expect_json_error(&r, 404, unknown[i]);
		expect_security_headers(&r, unknown[i]);
		response_free(&r);
	}
	/* What the router answers before the UI sees it: JSON too. */
	request("GET", "/ui/", NULL, &r);
	expect_json_error(&r, 404, "/ui/");
	response_free(&r);
	request("GET", "/ui/a/b.js", NULL, &r);
	expect_json_error(&r, 404, "/ui/a/b.js");
	response_free(&r);
	request("POST", "/", NULL, &r);
	expect_json_error(&r, 405, "POST /");
	response_free(&r);
	request("GET", "/?x=1", NULL, &r);
	expect_json_error(&r, 400, "/?x=1");
	response_free(&r);
	/* The UI passes the same tenant middleware as the API. */
	request("GET", "/", "X-Pat-Tenant: Not A Tenant\r\n", &r);
	expect_json_error(&r, 400, "/ with a bad X-Pat-Tenant");
	response_free(&r);
}

/* Read from fd until needle arrives (20 s at most); false when the stream ends first. */
static bool read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle)
{
	while (memmem(buf, *len, needle, strlen(needle)) == NULL) {
		ssize_t n = recv(fd, buf + *len, cap - *len - 1, 0);

		if (n <= 0)
			return false;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
	return true;
}

/* Send data (a whole message) over SMTP to one recipient. */
static void send_message(const char *to, const char *data)
{
	char server[32], data_arg[4200], *file = tu_write_file(serve.dir, "message.eml", data);
	const char *argv[] = { "swaks", "--server", server, "--from", "sender@example.com", "--to", to, "--data", data_arg,
			       NULL };
	struct tu_proc p;

	snprintf(server, sizeof server, "127.0.0.1:%d", serve.smtp_port);
	snprintf(data_arg, sizeof data_arg, "@%s", file);
	tu_run(&p, argv, NULL, NULL);
	if (p.status != 0)
		fail_msg("swaks failed (%d):\n%s%s", p.status, p.out, p.err);
	tu_proc_free(&p);
	free(file);
}

static void send_mail(const char *to, const char *subject)
{
	char data[512];

	snprintf(data, sizeof data, "From: sender@example.com\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n", to, subject);
	send_message(to, data);
}

/* The event streams take their tenant from `tenant` in the query (EventSource cannot send
 * headers), checked like X-Pat-Tenant; other routes do not accept it. */
static void event_streams_take_the_tenant_from_the_query(void **state)
{
	static char buf[1 << 16];
	size_t len = 0;
	struct response r;
	int fd;

	(void)state;
	request("GET", "/api/v1/events?tenant=Not_Valid", NULL, &r);
	expect_json_error(&r, 400, "a bad tenant");
	response_free(&r);
	request("GET", "/api/v1/events?tenant=", NULL, &r);
	expect_json_error(&r, 400, "an empty tenant");
	response_free(&r);
	request("GET", "/api/v1/events?tenant=a&tenant=b", NULL, &r);
	expect_json_error(&r, 400, "two tenants");
	response_free(&r);
	request("GET", "/api/v1/events?tenant=" EVENTS_TENANT, "X-Pat-Tenant: default\r\n", &r);
	expect_json_error(&r, 400, "header and query disagree");
	response_free(&r);
	request("GET", "/api/v2/websocket?tenant=-x", NULL, &r);
	expect_json_error(&r, 400, "a bad tenant on the WebSocket");
	response_free(&r);
	request("GET", "/api/v2/messages?tenant=" EVENTS_TENANT, NULL, &r);
	expect_json_error(&r, 400, "tenant on a route without events");
	response_free(&r);

	/* A stream of the tenant gets its mail, and a stream of the default tenant does not. */
	{
		int other = connect_http();
		char obuf[4096];
		size_t olen = 0;

		send_all(other, "GET /api/v1/events HTTP/1.1\r\nHost: pat.test\r\n\r\n");
		assert_true(read_until(other, obuf, sizeof obuf, &olen, "events named data"));
		fd = connect_http();
		send_all(fd, "GET /api/v1/events?tenant=" EVENTS_TENANT " HTTP/1.1\r\nHost: pat.test\r\nX-Pat-Tenant: "
			     EVENTS_TENANT "\r\n\r\n");
		assert_true(read_until(fd, buf, sizeof buf, &len, "events named data"));
		assert_non_null(strstr(buf, "HTTP/1.1 200"));
		send_mail("someone@" EVENTS_DOMAIN, "for the events team");
		if (!read_until(fd, buf, sizeof buf, &len, "for the events team"))
			fail_msg("the tenant's stream ended without its message:\n%s", buf);
		assert_non_null(strstr(buf, "event: data\ndata: {"));
		{
			ssize_t n = recv(other, obuf + olen, sizeof obuf - olen - 1, MSG_DONTWAIT);

			if (n > 0)
				olen += (size_t)n;
			obuf[olen] = '\0';
			assert_null(strstr(obuf, "for the events team"));
		}
		close(other);
		close(fd);
	}
	request("GET", "/api/v2/messages", "X-Pat-Tenant: " EVENTS_TENANT "\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"total\":1"));
	response_free(&r);
}

/* The id of the message of tenant with this subject (the test fails when there is none). */
static char *message_id_of(const char *tenant, const char *subject)
{
	char extra[128];
	struct response r;
	json_t *j, *m;
	size_t i;
	char *id = NULL;

	snprintf(extra, sizeof extra, "X-Pat-Tenant: %s\r\n", tenant);
	request("GET", "/api/v3/messages", extra, &r);
	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	json_array_foreach(json_object_get(j, "messages"), i, m)
		if (strcmp(json_string_value(json_object_get(m, "Subject")), subject) == 0)
			id = strdup(json_string_value(json_object_get(m, "ID")));
	if (id == NULL)
		fail_msg("no message \"%s\" of %s: %s", subject, tenant, r.body);
	json_decref(j);
	response_free(&r);
	return id;
}

/* The headers every answer of the HTML route carries, errors included. */
static void expect_html_headers(const struct response *r, const char *what)
{
	expect_policy_headers(r, HTML_CSP, what);
}

/* A message's HTML body as a document of its own, for the UI's sandboxed frame: its styles kept,
 * its cid: images inlined as data: URLs, under a policy that allows nothing else; in the
 * caller's tenant (named by the header or, for a frame, the query); JSON 404s for an unknown id,
 * another tenant's message and a message without HTML. */
static void message_html_on_its_own(void **state)
{
	static const char styled[] =
		"From: a@example.com\r\nTo: b@" HTML_DOMAIN "\r\nSubject: styled\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n"
		"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
		"<html><head><style>#g { color: rgb(1, 2, 3) }</style></head><body>"
		"<h1 id=\"g\" style=\"font-weight: 700\">Gr\xc3\xbc\xc3\x9f" "e</h1><img src=\"cid:logo@pat\">"
		"<img src=\"cid:nope@pat\"><script>alert(1)</script></body></html>\r\n"
		"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@pat>\r\nContent-Disposition: inline\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\nUGF0\r\n--rel--\r\n";
	static const char plain[] = "From: a@example.com\r\nTo: b@" HTML_DOMAIN "\r\nSubject: plain\r\n\r\nno HTML here\r\n";
	char target[256], *id, *plain_id;
	struct response r;

	(void)state;
	send_message("b@" HTML_DOMAIN, styled);
	send_message("b@" HTML_DOMAIN, plain);
	id = message_id_of(HTML_TENANT, "styled");
	plain_id = message_id_of(HTML_TENANT, "plain");

	/* The tenant in the query, as the UI's frame names it. */
	snprintf(target, sizeof target, "/api/v3/messages/%s/html?tenant=" HTML_TENANT, id);
	request("GET", target, NULL, &r);
	if (r.status != 200)
		fail_msg("GET %s: %d %s", target, r.status, r.body);
	assert_string_equal(header(&r, "content-type"), "text/html; charset=utf-8");
	expect_html_headers(&r, target);
	assert_string_equal(header(&r, "cache-control"), "no-store");
	assert_non_null(strstr(r.body, "<style>#g { color: rgb(1, 2, 3) }</style>"));
	assert_non_null(strstr(r.body, "style=\"font-weight: 700\">Gr\xc3\xbc\xc3\x9f" "e</h1>"));
	assert_non_null(strstr(r.body, "<img src=\"data:image/png;base64,UGF0\">"));
	assert_null(strstr(r.body, "cid:logo@pat"));
	assert_non_null(strstr(r.body, "<img src=\"cid:nope@pat\">"));
	response_free(&r);

	/* The tenant in the header, as every other API call names it. */
	snprintf(target, sizeof target, "/api/v3/messages/%s/html", id);
	request("GET", target, "X-Pat-Tenant: " HTML_TENANT "\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "base64,UGF0"));
	response_free(&r);

	/* Another tenant's message is unknown, by the header, the query or the listener's tenant. */
	request("GET", target, NULL, &r);
	expect_json_error(&r, 404, "the message in the default tenant");
	expect_html_headers(&r, "the message in the default tenant");
	response_free(&r);
	request("GET", target, "X-Pat-Tenant: " EVENTS_TENANT "\r\n", &r);
	expect_json_error(&r, 404, "the message in another tenant");
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages/%s/html?tenant=" BROWSER_TENANT, id);
	request("GET", target, NULL, &r);
	expect_json_error(&r, 404, "the message in another tenant, by the query");
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages/%s/html?tenant=" HTML_TENANT, id);
	request("GET", target, "X-Pat-Tenant: " EVENTS_TENANT "\r\n", &r);
	expect_json_error(&r, 400, "header and query disagree");
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages/%s/html?tenant=Not_A_Tenant", id);
	request("GET", target, NULL, &r);
	expect_json_error(&r, 400, "a bad tenant");
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages/%s/html?x=1", id);
	request("GET", target, "X-Pat-Tenant: " HTML_TENANT "\r\n", &r);
	expect_json_error(&r, 400, "an unknown query parameter");
	response_free(&r);

	/* Unknown ids: well-formed, and not ids at all. */
	request("GET", "/api/v3/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/html?tenant=" HTML_TENANT, NULL, &r);
	expect_json_error(&r, 404, "an unknown id");
	expect_html_headers(&r, "an unknown id");
	response_free(&r);
	request("GET", "/api/v3/messages/..%2F..%2Fetc/html?tenant=" HTML_TENANT, NULL, &r);
	expect_json_error(&r, 404, "not an id");
	response_free(&r);

	/* A message without HTML. */
	snprintf(target, sizeof target, "/api/v3/messages/%s/html?tenant=" HTML_TENANT, plain_id);
	request("GET", target, NULL, &r);
	expect_json_error(&r, 404, "a message without HTML");
	expect_html_headers(&r, "a message without HTML");
	assert_non_null(strstr(r.body, "has no HTML body"));
	response_free(&r);

	request("DELETE", "/api/v3/messages", "X-Pat-Tenant: " HTML_TENANT "\r\n", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	free(id);
	free(plain_id);
}

/* Mailpit's views of a message: /view/{id}.html (the same document and policy as v3's) and
 * /view/{id}.txt (its text), "latest" for the newest; /livez as Mailpit names its liveness. */
static void mailpit_views(void **state)
{
	static const char html_msg[] =
		"From: a@example.com\r\nTo: b@" HTML_DOMAIN "\r\nSubject: viewed\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
		"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain words\r\n"
		"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p style=\"color: red\">html words</p>\r\n--alt--\r\n";
	static const char plain[] = "From: a@example.com\r\nTo: b@" HTML_DOMAIN "\r\nSubject: plain view\r\n\r\nonly text\r\n";
	char target[256], *id, *plain_id;
	struct response r;

	(void)state;
	send_message("b@" HTML_DOMAIN, html_msg);
	send_message("b@" HTML_DOMAIN, plain);
	id = message_id_of(HTML_TENANT, "viewed");
	plain_id = message_id_of(HTML_TENANT, "plain view");

	snprintf(target, sizeof target, "/view/%s.html?tenant=" HTML_TENANT, id);
	request("GET", target, NULL, &r);
	if (r.status != 200)
		fail_msg("GET %s: %d %s", target, r.status, r.body);
	assert_string_equal(header(&r, "content-type"), "text/html; charset=utf-8");
	expect_html_headers(&r, target);
	assert_non_null(strstr(r.body, "<p style=\"color: red\">html words</p>"));
	response_free(&r);
	snprintf(target, sizeof target, "/view/%s.txt", id);
	request("GET", target, "X-Pat-Tenant: " HTML_TENANT "\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "content-type"), "text/plain; charset=utf-8");
	assert_non_null(strstr(r.body, "plain words"));
	assert_null(strstr(r.body, "html words"));
	response_free(&r);
	/* latest: the plain message, sent last; its HTML view is a 404 with the policy. */
	request("GET", "/view/latest.txt?tenant=" HTML_TENANT, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "only text"));
	response_free(&r);
	request("GET", "/view/latest.html?tenant=" HTML_TENANT, NULL, &r);
	expect_json_error(&r, 404, "the newest message has no HTML");
	expect_html_headers(&r, "the newest message has no HTML");
	response_free(&r);
	/* Another tenant's message, an unknown id, and what is not a view. */
	snprintf(target, sizeof target, "/view/%s.txt", plain_id);
	request("GET", target, NULL, &r);
	expect_json_error(&r, 404, "the message in the default tenant");
	response_free(&r);
	request("GET", "/view/01ARZ3NDEKTSV4RRFFQ69G5FAV.html?tenant=" HTML_TENANT, NULL, &r);
	expect_json_error(&r, 404, "an unknown id");
	expect_html_headers(&r, "an unknown id");
	response_free(&r);
	snprintf(target, sizeof target, "/view/%s.pdf?tenant=" HTML_TENANT, id);
	request("GET", target, NULL, &r);
	expect_json_error(&r, 404, "a .pdf view");
	assert_non_null(strstr(r.body, "/view/{id}.html"));
	response_free(&r);
	request("GET", "/view/.html?tenant=" HTML_TENANT, NULL, &r);
	expect_json_error(&r, 404, "no id");
	response_free(&r);
	request("GET", "/view/..%2F..%2Fetc%2Fpasswd.txt?tenant=" HTML_TENANT, NULL, &r);
	expect_json_error(&r, 404, "a path for an id");
	response_free(&r);

	request("GET", "/livez", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"ok\""));
	response_free(&r);

	request("DELETE", "/api/v3/messages", "X-Pat-Tenant: " HTML_TENANT "\r\n", &r);
	assert_int_equal(r.status, 200);
	response_free(&r);
	free(id);
	free(plain_id);
}

/* The UI's checks in headless Chromium (tests/e2e/webui.test.js). */
static void the_web_ui_in_a_browser(void **state)
{
	char e2e[4200], http_env[64], smtp_env[64];
	const char *env[] = { http_env, smtp_env, "PAT_OTHER_DOMAIN=" BROWSER_DOMAIN, "PAT_OTHER_TENANT=" BROWSER_TENANT,
			      NULL };

	(void)state;
	if (access("/usr/bin/chromium", X_OK) != 0)
		fail_msg("/usr/bin/chromium is missing: deploy/install-deps.sh installs Debian's chromium");
	snprintf(e2e, sizeof e2e, "%s/e2e", serve.dir);
	snprintf(http_env, sizeof http_env, "PAT_HTTP_PORT=%d", serve.http_port);
	snprintf(smtp_env, sizeof smtp_env, "PAT_SMTP_PORT=%d", serve.smtp_port);
	/* A browser on a busy machine may take longer than a minute: the script has its own
	 * deadline (150 s), and this one is a backstop. */
	tu_e2e_run(e2e, "webui.test.js", env, 240000, "the web UI's checks");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ui_files_with_security_headers),
		cmocka_unit_test(unknown_files_are_json_404s),
		cmocka_unit_test(event_streams_take_the_tenant_from_the_query),
		cmocka_unit_test(message_html_on_its_own),
		cmocka_unit_test(mailpit_views),
		cmocka_unit_test(the_web_ui_in_a_browser),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
