/* Integration tests of Pat's HTTP API: a real `pat serve` on free ports, mail sent over SMTP,
 * then every MailHog endpoint read the way MailHog's clients read it, and bad input of every
 * kind (unknown ids and routes, wrong methods, bad paging, oversized bodies and headers,
 * malformed paths) answered with the right status and a JSON error. Also: tenants through
 * X-Pat-Tenant, the refusal of an unauthenticated public listener, HTTPS on `pat gateway`,
 * MailHog's release and live events, the real npm `mailhog` client, and a clean stop with a
 * kept-alive connection and event streams open. */
#include "tests/lib/testutil.h"
#include "tests/lib/http_client.h"
#include "tests/lib/serve.h"
#include "tests/lib/smtp_client.h"

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

static struct ts_serve serve;

/* Ids of the messages sent in setup, oldest first. */
static char id_plain[64], id_multi[64], id_latin1[64];

static const char attachment[] = "\x00\x01\x02 binary \xff attachment bytes";
#define ATTACHMENT_LEN (sizeof attachment - 1)

/* ---- fixture ---- */

static int setup(void **state)
{
	static const char *const extra[] = { "--set", "http.max_body_size=64KiB", "--set", "http.max_header_size=8KiB",
					     "--set", "smtp.hostname=pat.test", "--set", "http.workers=2", NULL };
	static const char *const to_bob[] = { "bob@example.org", NULL };
	static const char *const to_two[] = { "dave@example.com", "erin@example.net", NULL };
	char multi[4096], b64[128];

	(void)state;
	ts_serve_init(&serve, true);
	ts_serve_start(&serve, extra);
	http_client_port(serve.http_port);
	smtp_send_mail(serve.smtp_port, "alice@example.com", to_bob,
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
	smtp_send_mail(serve.smtp_port, "carol@example.com", to_two, multi, id_multi);
	smtp_send_mail(serve.smtp_port, "legacy@example.com", to_bob,
		       "From: legacy@example.com\r\nTo: bob@example.org\r\nSubject: caf\xe9\r\n\r\nLatin-1 bytes: \xe9\xe8\r\n",
		       id_latin1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ts_serve_close(&serve);
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
	assert_string_equal(jstr(r.json, "leader"), serve.node_address);
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
		 serve.smtp_port);
	http_open(c);
	exchange(c, "POST", target, "Content-Type: application/json\r\n", body, strlen(body), &r);
	if (r.status != 200)
		fail_msg("release failed: %d %s", r.status, r.body);
	response_free(&r);
	snprintf(body, sizeof body,
		 "{\"Host\": \"127.0.0.1\", \"Port\": %d, \"Email\": \"released@example.com\", \"Username\": \"u\","
		 " \"Password\": \"p\", \"Mechanism\": \"PLAIN\"}",
		 serve.smtp_port);
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
	snprintf(body, sizeof body, "{\"Host\": \"127.0.0.1\", \"Port\": %d, \"Email\": \"x@example.com\"}", serve.smtp_port);
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
	ws_open(ws, "/api/v2/websocket", NULL);
	smtp_send_mail(serve.smtp_port, "live@example.com", to, "Subject: live one\r\n\r\nfirst\r\n", id1);
	smtp_send_mail(serve.smtp_port, "live@example.com", to, "Subject: live two\r\n\r\nsecond\r\n", id2);
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
	const char *gw[] = { tu_pat_bin(), "gateway", "--cluster", serve.node_address, "--http", "[::]:0", NULL };
	struct tu_proc p;

	(void)state;
	snprintf(data, sizeof data, "%s/public", serve.dir);
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
	const char *argv[] = { tu_pat_bin(), "gateway", "--cluster", serve.node_address, "--smtp", smtp, "--http", http,
			       "--set", cert_set, "--set", key_set, NULL };
	int port = tu_free_port();
	struct http_conn *c = malloc(sizeof *c);
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct response r;
	pid_t gw;

	(void)state;
	snprintf(cert, sizeof cert, "%s/http.crt", serve.dir);
	snprintf(key, sizeof key, "%s/http.key", serve.dir);
	write_certificate(cert, key);
	snprintf(cert_set, sizeof cert_set, "http.tls_cert_file=%s", cert);
	snprintf(key_set, sizeof key_set, "http.tls_key_file=%s", key);
	snprintf(http, sizeof http, "127.0.0.1:%d", port);
	snprintf(smtp, sizeof smtp, "127.0.0.1:%d", tu_free_port());
	snprintf(log2, sizeof log2, "%s/gateway.log", serve.dir);
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
	char e2e[4200], http_env[64], smtp_env[64];
	const char *env[] = { http_env, smtp_env, NULL };

	(void)state;
	snprintf(e2e, sizeof e2e, "%s/e2e", serve.dir);
	snprintf(http_env, sizeof http_env, "PAT_HTTP_PORT=%d", serve.http_port);
	snprintf(smtp_env, sizeof smtp_env, "PAT_SMTP_PORT=%d", serve.smtp_port);
	tu_e2e_run(e2e, "mailhog.test.js", env, 60000, "the mailhog client's checks");
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
	ws_open(ws, "/api/v2/websocket", NULL);
	assert_int_equal(tu_stop(serve.pid, SIGTERM), 0);
	serve.pid = 0;
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
	log = tu_read_file(serve.log_path, NULL);
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
