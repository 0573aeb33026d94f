/* Integration tests of Mailpit's API v1 and Pat's API v3 on a real `pat serve`: mail sent over
 * SMTP and through POST /api/v1/send, then every endpoint read the way Mailpit's clients read
 * it: lists and searches (every search operator, end to end), the message view, headers, raw
 * source and parts, read flags, tags, deletion, info and webui; bad input of every kind
 * answered with its status and a JSON error; tenants kept apart through X-Pat-Tenant; live
 * events on /api/events and /api/v3/events; and the npm `mailpit-api` client, unchanged. */
#include "tests/lib/testutil.h"
#include "tests/lib/http_client.h"
#include "tests/lib/serve.h"
#include "tests/lib/smtp_client.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static struct ts_serve serve;

/* Messages of the default tenant sent over SMTP in setup, oldest first. */
static char id_plain[64], id_report[64], id_news[64];

static const char attachment[] = "\x00\x01\x02 binary \xff attachment bytes";
#define ATTACHMENT_LEN (sizeof attachment - 1)

/* ---- requests with a tenant and a body ---- */

/* A change that Mailpit answers with "ok" in text/plain. */
static void call_done(const char *method, const char *target, const char *tenant, const char *body)
{
	struct response r;

	call_ok(method, target, tenant, body, &r);
	assert_string_equal(r.body, "ok");
	assert_non_null(strstr(header(&r, "content-type"), "text/plain"));
	response_free(&r);
}

/* POST /api/v1/send for tenant; the new id goes to id. */
static void api_send(const char *tenant, const char *json, char *id)
{
	struct response r;

	call_ok("POST", "/api/v1/send", tenant, json, &r);
	snprintf(id, 64, "%s", jstr(r.json, "ID"));
	response_free(&r);
}

/* A short message for tenant from a fixed sender. */
static void api_send_simple(const char *tenant, const char *subject, char *id)
{
	char json[512];

	snprintf(json, sizeof json,
		 "{\"From\": {\"Email\": \"robot@example.com\"}, \"To\": [{\"Email\": \"qa@example.com\"}], "
		 "\"Subject\": \"%s\", \"Text\": \"body of %s\"}", subject, subject);
	api_send(tenant, json, id);
}

/* %-encode for a query string. */
static void urlencode(char *out, size_t n, const char *in)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p != '\0' && o + 4 < n; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
			out[o++] = (char)*p;
		else
			o += (size_t)snprintf(out + o, n - o, "%%%02X", *p);
	}
	out[o] = '\0';
}

/* The ids of a list answer's messages, in order, each as its index in ids ("210"; '?' for
 * another id). */
static void indices(json_t *messages, char ids[][64], size_t n_ids, char *out)
{
	size_t k = 0;

	for (size_t i = 0; i < json_array_size(messages) && k < 15; i++) {
		json_t *m = json_array_get(messages, i);
		const char *id = json_string_value(json_object_get(m, "ID"));
		char c = '?';

		for (size_t j = 0; id != NULL && j < n_ids; j++)
			if (strcmp(id, ids[j]) == 0)
				c = (char)('0' + j);
		out[k++] = c;
	}
	out[k] = '\0';
}

/* GET /api/v1/search for tenant: the indices (into ids) of what it finds, newest first. */
static void expect_found(const char *tenant, char ids[][64], size_t n_ids, const char *query, const char *want)
{
	char target[1200], enc[1024], got[16];
	struct response r;

	urlencode(enc, sizeof enc, query);
	snprintf(target, sizeof target, "/api/v1/search?query=%s", enc);
	call_ok("GET", target, tenant, NULL, &r);
	indices(jget(r.json, "messages"), ids, n_ids, got);
	if (strcmp(got, want) != 0)
		fail_msg("search \"%s\" found \"%s\", expected \"%s\"", query, got, want);
	assert_int_equal(jint(r.json, "messages_count"), (long long)strlen(want));
	assert_int_equal(jint(r.json, "count"), (long long)strlen(want));
	response_free(&r);
}

/* ---- fixture ---- */

static int setup(void **state)
{
	static const char *const extra[] = { "--set", "http.max_body_size=64KiB", "--set", "smtp.hostname=pat.test",
					     "--set", "http.workers=2", NULL };
	static const char *const to_bob[] = { "bob@example.org", NULL };
	static const char *const to_two[] = { "dave@example.com", "erin@example.net", NULL };
	char report[4096], b64[128];

	(void)state;
	ts_serve_init(&serve, true);
	ts_serve_start(&serve, extra);
	http_client_port(serve.http_port);
	smtp_send_mail(serve.smtp_port, "alice@example.com", to_bob,
		       "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: Hello Bob\r\n"
		       "\r\nJust a plain line about teapots.\r\n",
		       id_plain);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)attachment, ATTACHMENT_LEN);
	snprintf(report, sizeof report,
		 "From: Carol <carol@example.com>\r\nTo: dave@example.com\r\nCc: erin@example.net\r\n"
		 "Subject: Quarterly report\r\nX-Tags: finance, Q3\r\n"
		 "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
		 "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
		 "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe text part.\r\n"
		 "--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The HTML part.</p>\r\n"
		 "--inner--\r\n"
		 "--outer\r\nContent-Type: application/x-test\r\nContent-Transfer-Encoding: base64\r\n"
		 "Content-Disposition: attachment; filename=\"data.bin\"\r\n\r\n%s\r\n"
		 "--outer--\r\n",
		 b64);
	smtp_send_mail(serve.smtp_port, "carol@example.com", to_two, report, id_report);
	smtp_send_mail(serve.smtp_port, "news@shop.example", to_bob,
		       "From: Shop News <news@shop.example>\r\nTo: bob@example.org\r\nReply-To: noreply@shop.example\r\n"
		       "Message-ID: <news-1@shop.example>\r\nSubject: Weekly newsletter\r\n\r\nTeapot sale this week.\r\n",
		       id_news);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ts_serve_close(&serve);
	return 0;
}

/* ---- lists ---- */

static void list_in_mailpit_shape(void **state)
{
	char ids[3][64];
	char got[16];
	struct response r;
	json_t *m;

	(void)state;
	memcpy(ids[0], id_plain, 64);
	memcpy(ids[1], id_report, 64);
	memcpy(ids[2], id_news, 64);
	get_ok("/api/v1/messages", &r);
	assert_string_equal(header(&r, "content-type"), "application/json");
	assert_int_equal(jint(r.json, "total"), 3);
	assert_int_equal(jint(r.json, "unread"), 3);
	assert_int_equal(jint(r.json, "count"), 3);
	assert_int_equal(jint(r.json, "messages_count"), 3);
	assert_int_equal(jint(r.json, "messages_unread"), 3);
	assert_int_equal(jint(r.json, "start"), 0);
	assert_string_equal(jstr(r.json, "tags.0"), "finance");
	assert_string_equal(jstr(r.json, "tags.1"), "Q3");
	indices(jget(r.json, "messages"), ids, 3, got);
	assert_string_equal(got, "210");
	m = jget(r.json, "messages.1"); /* the report */
	assert_string_equal(jstr(m, "ID"), id_report);
	assert_string_equal(jstr(m, "From.Name"), "Carol");
	assert_string_equal(jstr(m, "From.Address"), "carol@example.com");
	assert_string_equal(jstr(m, "To.0.Address"), "dave@example.com");
	assert_string_equal(jstr(m, "Cc.0.Address"), "erin@example.net");
	assert_int_equal(json_array_size(jget(m, "Bcc")), 0);
	assert_string_equal(jstr(m, "Subject"), "Quarterly report");
	assert_int_equal(jint(m, "Attachments"), 1);
	assert_true(json_is_false(jget(m, "Read")));
	assert_string_equal(jstr(m, "Tags.0"), "finance");
	assert_string_equal(jstr(m, "Snippet"), "The text part.");
	assert_true(jint(m, "Size") > 300);
	assert_true(strlen(jstr(m, "Created")) >= 20);
	assert_string_equal(jstr(jget(r.json, "messages.0"), "ReplyTo.0.Address"), "noreply@shop.example");
	response_free(&r);
}

static void list_paging(void **state)
{
	struct response r;

	(void)state;
	get_ok("/api/v1/messages?start=1&limit=1", &r);
	assert_int_equal(jint(r.json, "count"), 1);
	assert_int_equal(jint(r.json, "start"), 1);
	assert_int_equal(jint(r.json, "total"), 3);
	assert_string_equal(jstr(r.json, "messages.0.ID"), id_report);
	response_free(&r);
	get_ok("/api/v1/messages?start=7", &r);
	assert_int_equal(jint(r.json, "count"), 0);
	assert_int_equal(json_array_size(jget(r.json, "messages")), 0);
	response_free(&r);
	get_ok("/api/v1/messages?limit=0", &r); /* 0 is the default, 50 */
	assert_int_equal(jint(r.json, "count"), 3);
	response_free(&r);
	get_ok("/api/v1/messages?before=2000-01-01", &r);
	assert_int_equal(jint(r.json, "count"), 0);
	response_free(&r);
	get_ok("/api/v1/messages?before=2999-01-01&tz=Europe/Paris", &r);
	assert_int_equal(jint(r.json, "count"), 3);
	response_free(&r);
	get_error("/api/v1/messages?limit=abc", 400);
	get_error("/api/v1/messages?start=-1", 400);
	get_error("/api/v1/messages?limit=1e3", 400);
	get_error("/api/v1/messages?start=1&start=2", 400);
	get_error("/api/v1/messages?before=yesterday-ish", 400);
	get_error("/api/v1/messages?before=2024-01-01&tz=Mars/Olympus", 400);
	get_error("/api/v1/messages?sort=asc", 400);
	get_error("/api/v1/search?query=teapot&limit=-5", 400);
}

/* Every search operator, end to end, in a tenant of its own. */
static void search_operators(void **state)
{
	static const char tenant[] = "finder";
	char ids[3][64], json[40000], image[24100], pixels[18000];
	struct response r;

	(void)state;
	api_send(tenant, "{\"From\": {\"Email\": \"alice@shop.example\", \"Name\": \"Alice\"}, "
			 "\"To\": [{\"Email\": \"bob@corp.example\"}], \"Subject\": \"Your invoice 42\", "
			 "\"Text\": \"Thanks for the teapots.\", \"Tags\": [\"billing\", \"Urgent\"], "
			 "\"Attachments\": [{\"Content\": \"aW52b2ljZQ==\", \"Filename\": \"invoice.pdf\", "
			 "\"ContentType\": \"application/pdf\"}]}", ids[0]);
	for (size_t i = 0; i < sizeof pixels; i++)
		pixels[i] = (char)(i * 7 + 3);
	EVP_EncodeBlock((unsigned char *)image, (const unsigned char *)pixels, sizeof pixels);
	snprintf(json, sizeof json,
		 "{\"From\": {\"Email\": \"carol@news.example\", \"Name\": \"Carol\"}, "
		 "\"To\": [{\"Email\": \"dana@corp.example\"}], \"Cc\": [{\"Email\": \"team@corp.example\"}], "
		 "\"ReplyTo\": [{\"Email\": \"noreply@news.example\"}], \"Subject\": \"Weekly newsletter\", "
		 "\"Text\": \"Teapot sale this week only.\", \"HTML\": \"<p>Teapot sale <img src=cid:logo></p>\", "
		 "\"Attachments\": [{\"Content\": \"%s\", \"Filename\": \"logo.png\", \"ContentType\": \"image/png\", "
		 "\"ContentID\": \"logo\"}]}", image);
	api_send(tenant, json, ids[1]);
	api_send(tenant, "{\"From\": {\"Email\": \"alerts@ops.example\"}, \"To\": [{\"Email\": \"bob@corp.example\"}], "
			 "\"Bcc\": [\"audit@corp.example\"], \"Subject\": \"Disk almost full\", \"Text\": \"server one\"}",
		 ids[2]);
	call_done("PUT", "/api/v1/messages", tenant, "{\"IDs\": [\"dummy\"], \"Read\": true}");
	snprintf(json, sizeof json, "{\"IDs\": [\"%s\"], \"Read\": true}", ids[0]);
	call_done("PUT", "/api/v1/messages", tenant, json);

	expect_found(tenant, ids, 3, "invoice", "0");
	expect_found(tenant, ids, 3, "INVOICE 42", "0");
	expect_found(tenant, ids, 3, "teapot", "10");
	expect_found(tenant, ids, 3, "-teapot", "2");
	expect_found(tenant, ids, 3, "!teapot", "2");
	expect_found(tenant, ids, 3, "\"sale this\"", "1");
	expect_found(tenant, ids, 3, "\"this sale\"", "");
	expect_found(tenant, ids, 3, "from:alice", "0");
	expect_found(tenant, ids, 3, "FROM:ALICE@SHOP", "0");
	expect_found(tenant, ids, 3, "to:bob@corp", "20");
	expect_found(tenant, ids, 3, "-to:bob", "1");
	expect_found(tenant, ids, 3, "cc:team", "1");
	expect_found(tenant, ids, 3, "bcc:audit", "2");
	expect_found(tenant, ids, 3, "reply-to:noreply", "1");
	expect_found(tenant, ids, 3, "addressed:corp.example", "210");
	expect_found(tenant, ids, 3, "addressed:audit", "2");
	expect_found(tenant, ids, 3, "subject:newsletter", "1");
	expect_found(tenant, ids, 3, "subject:\"almost full\"", "2");
	expect_found(tenant, ids, 3, "-subject:newsletter", "20");
	expect_found(tenant, ids, 3, "tag:urgent", "0");
	expect_found(tenant, ids, 3, "tag:BILLING", "0");
	expect_found(tenant, ids, 3, "tag:urg", "");
	expect_found(tenant, ids, 3, "is:tagged", "0");
	expect_found(tenant, ids, 3, "-is:tagged", "21");
	expect_found(tenant, ids, 3, "is:read", "0");
	expect_found(tenant, ids, 3, "is:unread", "21");
	expect_found(tenant, ids, 3, "has:attachment", "0");
	expect_found(tenant, ids, 3, "has:inline", "1");
	expect_found(tenant, ids, 3, "larger:10K", "1");
	expect_found(tenant, ids, 3, "smaller:10K", "20");
	expect_found(tenant, ids, 3, "after:2020-01-01", "210");
	expect_found(tenant, ids, 3, "before:2020-01-01", "");
	expect_found(tenant, ids, 3, "teapot is:unread", "1");
	expect_found(tenant, ids, 3, "to:bob -subject:disk has:attachment", "0");
	expect_found(tenant, ids, 3, "x:y", "");
	expect_found(tenant, ids, 3, "it's \"quoted\"\"\" '); DELETE FROM messages; --", "");
	/* message-id: in the default tenant, whose newsletter carries its own */
	{
		char def[3][64];

		memcpy(def[0], id_plain, 64);
		memcpy(def[1], id_report, 64);
		memcpy(def[2], id_news, 64);
		expect_found(NULL, def, 3, "message-id:news-1@shop", "2");
		expect_found(NULL, def, 3, "tag:q3", "1");
	}
	/* Counts of a search: the matches and the mailbox. */
	call_ok("GET", "/api/v1/search?query=to%3Abob&limit=1", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "messages_count"), 2);
	assert_int_equal(jint(r.json, "messages_unread"), 1);
	assert_int_equal(jint(r.json, "count"), 1);
	assert_int_equal(jint(r.json, "total"), 3);
	assert_int_equal(jint(r.json, "unread"), 2);
	response_free(&r);
	call_error("GET", "/api/v1/search", tenant, NULL, 400);
	call_error("GET", "/api/v1/search?query=", tenant, NULL, 400);
	call_error("GET", "/api/v1/search?query=%20%20", tenant, NULL, 400);
	call_error("GET", "/api/v1/search?query=larger%3Ahuge", tenant, NULL, 400);
	call_error("GET", "/api/v1/search?query=after%3Asoon", tenant, NULL, 400);
	call_error("GET", "/api/v1/search?query=%22open", tenant, NULL, 400);
	call_error("GET", "/api/v1/search?query=after%3A2024-01-01&tz=Nowhere%2FAtAll", tenant, NULL, 400);
	call_error("GET", "/api/v1/search?query=a&kind=from", tenant, NULL, 400);
}

/* ---- one message ---- */

static void message_view_marks_read(void **state)
{
	char target[160];
	struct response r;

	(void)state;
	snprintf(target, sizeof target, "/api/v1/message/%s", id_report);
	get_ok(target, &r);
	assert_string_equal(jstr(r.json, "ID"), id_report);
	assert_string_equal(jstr(r.json, "Subject"), "Quarterly report");
	assert_string_equal(jstr(r.json, "From.Address"), "carol@example.com");
	assert_string_equal(jstr(r.json, "Cc.0.Address"), "erin@example.net");
	assert_string_equal(jstr(r.json, "Text"), "The text part.");
	assert_non_null(strstr(jstr(r.json, "HTML"), "<p>The HTML part.</p>"));
	assert_string_equal(jstr(r.json, "Attachments.0.PartID"), "2");
	assert_string_equal(jstr(r.json, "Attachments.0.FileName"), "data.bin");
	assert_string_equal(jstr(r.json, "Attachments.0.ContentType"), "application/x-test");
	assert_int_equal(jint(r.json, "Attachments.0.Size"), ATTACHMENT_LEN);
	assert_int_equal(json_array_size(jget(r.json, "Inline")), 0);
	assert_string_equal(jstr(r.json, "Tags.1"), "Q3");
	response_free(&r);
	/* Opened: read. */
	get_ok("/api/v1/messages", &r);
	assert_int_equal(jint(r.json, "unread"), 2);
	assert_true(json_is_true(jget(r.json, "messages.1.Read")));
	response_free(&r);
	/* latest: the newest message. */
	get_ok("/api/v1/message/latest", &r);
	assert_string_equal(jstr(r.json, "ID"), id_news);
	assert_string_equal(jstr(r.json, "MessageID"), "news-1@shop.example");
	assert_string_equal(jstr(r.json, "ReplyTo.0.Address"), "noreply@shop.example");
	response_free(&r);
	call_error("GET", "/api/v1/message/latest", "nobody-here", NULL, 404);
	get_error("/api/v1/message/01ARZ3NDEKTSV4RRFFQ69G5FAV", 404);
	get_error("/api/v1/message/not-an-id", 404);
	get_error("/api/v1/message/01ARZ3NDEKTSV4RRFFQ69G5FAV/headers", 404);
	get_error("/api/v1/message/01ARZ3NDEKTSV4RRFFQ69G5FAV/raw", 404);
	get_error("/api/v1/message/01ARZ3NDEKTSV4RRFFQ69G5FAV/part/1", 404);
	get_error("/api/v1/message/..%2F..%2Fetc%2Fpasswd", 404);
	snprintf(target, sizeof target, "/api/v1/message/%s?x=1", id_report);
	get_error(target, 400);
}

static void headers_and_raw(void **state)
{
	char target[160];
	struct response r;

	(void)state;
	snprintf(target, sizeof target, "/api/v1/message/%s/headers", id_news);
	get_ok(target, &r);
	assert_string_equal(jstr(r.json, "Subject.0"), "Weekly newsletter");
	assert_string_equal(jstr(r.json, "Reply-To.0"), "noreply@shop.example");
	assert_string_equal(jstr(r.json, "Message-Id.0"), "<news-1@shop.example>");
	assert_non_null(strstr(jstr(r.json, "Received.0"), "pat.test"));
	response_free(&r);
	snprintf(target, sizeof target, "/api/v1/message/%s/raw", id_news);
	get_ok(target, &r);
	assert_string_equal(header(&r, "content-type"), "text/plain; charset=utf-8");
	assert_string_equal(header(&r, "content-disposition"), "");
	assert_true(strncmp(r.body, "Received: from client.test", 26) == 0);
	assert_non_null(strstr(r.body, "\r\nSubject: Weekly newsletter\r\n\r\nTeapot sale this week.\r\n"));
	response_free(&r);
	snprintf(target, sizeof target, "/api/v1/message/%s/raw?dl=1", id_news);
	get_ok(target, &r);
	assert_non_null(strstr(header(&r, "content-disposition"), ".eml\""));
	response_free(&r);
	get_ok("/api/v1/message/latest/headers", &r);
	assert_string_equal(jstr(r.json, "From.0"), "Shop News <news@shop.example>");
	response_free(&r);
}

static void parts(void **state)
{
	static const char *const bad[] = { "..%2F..%2Fetc%2Fpasswd", "..", "abc", "1.", ".1", "01", "1..2", "-1",
					   "99999999", "1%2F2" };
	char target[256];
	struct response r;

	(void)state;
	snprintf(target, sizeof target, "/api/v1/message/%s/part/2", id_report);
	get_ok(target, &r);
	assert_int_equal(r.body_len, ATTACHMENT_LEN);
	assert_memory_equal(r.body, attachment, ATTACHMENT_LEN);
	assert_string_equal(header(&r, "content-type"), "application/x-test");
	assert_string_equal(header(&r, "content-disposition"), "inline; filename=\"data.bin\"");
	response_free(&r);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(target, sizeof target, "/api/v1/message/%s/part/%s", id_report, bad[i]);
		get_error(target, 400);
	}
	snprintf(target, sizeof target, "/api/v1/message/%s/part/9", id_report);
	get_error(target, 404);
	snprintf(target, sizeof target, "/api/v1/message/%s/part/1.0", id_report); /* a multipart's own id */
	get_error(target, 404);
	snprintf(target, sizeof target, "/api/v1/message/%s/part/2/thumb", id_report);
	get_error(target, 404);
	snprintf(target, sizeof target, "/api/v1/message/%s/part/..%%2Fx/thumb", id_report);
	get_error(target, 400);
	/* A path that walks out of the route is no route at all. */
	snprintf(target, sizeof target, "/api/v1/message/%s/part/../../../etc/passwd", id_report);
	get_error(target, 404);
}

/* ---- changes ---- */

static void read_flags(void **state)
{
	static const char tenant[] = "reader";
	char a[64], b[64], c[64], body[256], target[160];
	struct response r;

	(void)state;
	api_send_simple(tenant, "one", a);
	api_send_simple(tenant, "two", b);
	api_send_simple(tenant, "three", c);
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "unread"), 3);
	response_free(&r);
	snprintf(body, sizeof body, "{\"IDs\": [\"%s\"], \"Read\": true}", a);
	call_done("PUT", "/api/v1/messages", tenant, body);
	call_ok("GET", "/api/v1/search?query=is%3Aread", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "messages_count"), 1);
	assert_string_equal(jstr(r.json, "messages.0.ID"), a);
	assert_int_equal(jint(r.json, "unread"), 2);
	response_free(&r);
	call_done("PUT", "/api/v1/messages", tenant, "{\"Search\": \"subject:two\", \"Read\": true}");
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "unread"), 1);
	response_free(&r);
	call_done("PUT", "/api/v1/messages", tenant, "{\"read\": true}"); /* names in any case, as Go's decoder */
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "unread"), 0);
	response_free(&r);
	call_done("PUT", "/api/v1/messages", tenant, "{}"); /* Read false, all */
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "unread"), 3);
	response_free(&r);
	call_done("PUT", "/api/v1/messages?tz=Asia/Tokyo", tenant, "{\"Search\": \"after:2020-01-01\", \"Read\": true}");
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "unread"), 0);
	response_free(&r);
	call_done("PUT", "/api/v1/messages", tenant, "");
	snprintf(target, sizeof target, "/api/v1/message/%s", c);
	call_ok("GET", target, tenant, NULL, &r);
	response_free(&r);
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "unread"), 2);
	assert_true(json_is_true(jget(r.json, "messages.0.Read")));
	response_free(&r);
	snprintf(body, sizeof body, "{\"IDs\": [\"%s\"], \"Search\": \"x\", \"Read\": true}", a);
	call_error("PUT", "/api/v1/messages", tenant, body, 400);
	call_error("PUT", "/api/v1/messages", tenant, "{\"Read\": \"yes\"}", 400);
	call_error("PUT", "/api/v1/messages", tenant, "{bad", 400);
	call_error("PUT", "/api/v1/messages", tenant, "[true]", 400);
	call_error("PUT", "/api/v1/messages", tenant, "{\"IDs\": \"a\"}", 400);
	call_error("PUT", "/api/v1/messages", tenant, "{\"IDs\": [1, 2]}", 400);
	call_error("PUT", "/api/v1/messages", tenant, "{\"Search\": \"larger:huge\"}", 400);
	call_error("PUT", "/api/v1/messages?tz=Bad%2FZone", tenant, "{\"Search\": \"after:2020-01-01\"}", 400);
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "unread"), 2); /* nothing changed */
	response_free(&r);
}

static void tags(void **state)
{
	static const char tenant[] = "tagger";
	char a[64], b[64], body[256];
	struct response r;

	(void)state;
	api_send_simple(tenant, "first", a);
	api_send_simple(tenant, "second", b);
	call_ok("GET", "/api/v1/tags", tenant, NULL, &r);
	assert_true(json_is_array(r.json));
	assert_int_equal(json_array_size(r.json), 0);
	response_free(&r);
	snprintf(body, sizeof body, "{\"Tags\": [\"red\", \"Blue  green!\", \"red\"], \"IDs\": [\"%s\", \"%s\"]}", a, b);
	call_done("PUT", "/api/v1/tags", tenant, body);
	call_ok("GET", "/api/v1/tags", tenant, NULL, &r);
	assert_int_equal(json_array_size(r.json), 2);
	assert_string_equal(jstr(r.json, "0"), "Blue green");
	assert_string_equal(jstr(r.json, "1"), "red");
	response_free(&r);
	call_ok("GET", "/api/v1/search?query=tag%3Ared", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "messages_count"), 2);
	assert_string_equal(jstr(r.json, "messages.0.Tags.0"), "red");
	response_free(&r);
	call_done("PUT", "/api/v1/tags/red", tenant, "{\"Name\": \"crimson\"}");
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_string_equal(jstr(r.json, "tags.0"), "Blue green");
	assert_string_equal(jstr(r.json, "tags.1"), "crimson");
	response_free(&r);
	call_done("DELETE", "/api/v1/tags/Blue%20green", tenant, NULL);
	call_ok("GET", "/api/v1/tags", tenant, NULL, &r);
	assert_int_equal(json_array_size(r.json), 1);
	assert_string_equal(jstr(r.json, "0"), "crimson");
	response_free(&r);
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r); /* deleting a tag keeps the messages */
	assert_int_equal(jint(r.json, "total"), 2);
	response_free(&r);
	snprintf(body, sizeof body, "{\"IDs\": [\"%s\"]}", a); /* no Tags: none */
	call_done("PUT", "/api/v1/tags", tenant, body);
	call_ok("GET", "/api/v1/search?query=is%3Atagged", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "messages_count"), 1);
	assert_string_equal(jstr(r.json, "messages.0.ID"), b);
	response_free(&r);
	call_error("PUT", "/api/v1/tags", tenant, "nope", 400);
	call_error("PUT", "/api/v1/tags", tenant, "", 400);
	call_error("PUT", "/api/v1/tags", tenant, "{\"Tags\": \"x\", \"IDs\": []}", 400);
	call_error("PUT", "/api/v1/tags/crimson", tenant, "{}", 400);
	call_error("PUT", "/api/v1/tags/crimson", tenant, "{\"Name\": \"!!!\"}", 400);
	call_error("PUT", "/api/v1/tags/crimson", tenant, "{\"Name\": 5}", 400);
	call_error("POST", "/api/v1/tags", tenant, "{}", 405);
	/* Another tenant sees none of these tags. */
	call_ok("GET", "/api/v1/tags", "tag-free", NULL, &r);
	assert_int_equal(json_array_size(r.json), 0);
	response_free(&r);
}

static void send_with_attachment(void **state)
{
	static const char tenant[] = "sender";
	char b64[128], json[2048], id[64], target[160];
	struct response r;

	(void)state;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)attachment, ATTACHMENT_LEN);
	snprintf(json, sizeof json,
		 "{\"From\": {\"Email\": \"app@example.com\", \"Name\": \"The App\"}, "
		 "\"To\": [{\"Email\": \"user@example.com\", \"Name\": \"Zoë User\"}], "
		 "\"Cc\": [{\"Email\": \"cc@example.com\"}], \"Bcc\": [\"hidden@example.com\"], "
		 "\"ReplyTo\": [{\"Email\": \"support@example.com\"}], \"Subject\": \"Your report – ready\", "
		 "\"Text\": \"Hello, your report is attached.\", \"HTML\": \"<p>Hello, your <b>report</b>.</p>\", "
		 "\"Attachments\": [{\"Content\": \"%s\", \"Filename\": \"report data.bin\", "
		 "\"ContentType\": \"application/x-test\"}, "
		 "{\"Content\": \"data:text/csv;base64,YSxiCjEsMgo=\", \"Filename\": \"t.csv\"}], "
		 "\"Tags\": [\"api\", \"Reports\"], \"Headers\": {\"X-Custom\": \"yes\"}}",
		 b64);
	api_send(tenant, json, id);
	snprintf(target, sizeof target, "/api/v1/message/%s", id);
	call_ok("GET", target, tenant, NULL, &r);
	assert_string_equal(jstr(r.json, "From.Name"), "The App");
	assert_string_equal(jstr(r.json, "From.Address"), "app@example.com");
	assert_string_equal(jstr(r.json, "To.0.Name"), "Zoë User");
	assert_string_equal(jstr(r.json, "Cc.0.Address"), "cc@example.com");
	assert_string_equal(jstr(r.json, "Bcc.0.Address"), "hidden@example.com");
	assert_string_equal(jstr(r.json, "ReplyTo.0.Address"), "support@example.com");
	assert_string_equal(jstr(r.json, "Subject"), "Your report – ready");
	assert_string_equal(jstr(r.json, "Text"), "Hello, your report is attached.");
	assert_string_equal(jstr(r.json, "HTML"), "<p>Hello, your <b>report</b>.</p>");
	assert_int_equal(json_array_size(jget(r.json, "Attachments")), 2);
	assert_string_equal(jstr(r.json, "Attachments.0.FileName"), "report data.bin");
	assert_int_equal(jint(r.json, "Attachments.0.Size"), ATTACHMENT_LEN);
	assert_string_equal(jstr(r.json, "Attachments.1.FileName"), "t.csv");
	assert_string_equal(jstr(r.json, "Tags.0"), "api");
	assert_string_equal(jstr(r.json, "Tags.1"), "Reports");
	assert_string_equal(jstr(r.json, "MessageID") + strlen(jstr(r.json, "MessageID")) - 9, "@pat.test");
	{
		char part[160];

		snprintf(part, sizeof part, "/api/v1/message/%s/part/%s", id, jstr(r.json, "Attachments.0.PartID"));
		response_free(&r);
		call_ok("GET", part, tenant, NULL, &r);
		assert_int_equal(r.body_len, ATTACHMENT_LEN);
		assert_memory_equal(r.body, attachment, ATTACHMENT_LEN);
		assert_string_equal(header(&r, "content-type"), "application/x-test");
		assert_string_equal(header(&r, "content-disposition"), "inline; filename=\"report%20data.bin\"");
		response_free(&r);
		snprintf(part, sizeof part, "/api/v1/message/%s/part/3", id);
		call_ok("GET", part, tenant, NULL, &r);
		assert_string_equal(r.body, "a,b\n1,2\n");
		assert_non_null(strstr(header(&r, "content-type"), "text/csv"));
	}
	response_free(&r);
	snprintf(target, sizeof target, "/api/v1/message/%s/headers", id);
	call_ok("GET", target, tenant, NULL, &r);
	assert_string_equal(jstr(r.json, "X-Custom.0"), "yes");
	assert_string_equal(jstr(r.json, "X-Tags.0"), "api, Reports");
	response_free(&r);
	snprintf(target, sizeof target, "/api/v1/message/%s/raw", id);
	call_ok("GET", target, tenant, NULL, &r);
	assert_non_null(strstr(r.body, "(Pat) with HTTP id "));
	assert_non_null(strstr(r.body, "\r\nX-Custom: yes\r\n"));
	response_free(&r);
	/* Stored like SMTP's mail: the search index has it. */
	call_ok("GET", "/api/v1/search?query=attached%20has%3Aattachment%20tag%3Aapi", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "messages_count"), 1);
	response_free(&r);

	/* Bad requests change nothing. */
	call_error("POST", "/api/v1/send", tenant, "", 400);
	call_error("POST", "/api/v1/send", tenant, "[]", 400);
	call_error("POST", "/api/v1/send", tenant, "{\"From\": ", 400);
	call_error("POST", "/api/v1/send", tenant, "{\"To\": [{\"Email\": \"a@example.com\"}]}", 400);
	call_error("POST", "/api/v1/send", tenant, "{\"From\": {\"Email\": \"nobody\"}, \"To\": [{\"Email\": \"a@example.com\"}]}", 400);
	call_error("POST", "/api/v1/send", tenant, "{\"From\": {\"Email\": \"a@example.com\"}}", 400);
	call_error("POST", "/api/v1/send", tenant,
		   "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com>, <c@example.com\"}]}", 400);
	call_error("POST", "/api/v1/send", tenant, "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": \"b@example.com\"}", 400);
	call_error("POST", "/api/v1/send", tenant,
		   "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], \"Subject\": 7}", 400);
	call_error("POST", "/api/v1/send", tenant,
		   "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], "
		   "\"Subject\": \"a\\r\\nBcc: evil@example.com\"}", 400);
	call_error("POST", "/api/v1/send", tenant,
		   "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], "
		   "\"Attachments\": [{\"Content\": \"%%%\", \"Filename\": \"x.bin\"}]}", 400);
	call_error("POST", "/api/v1/send", tenant,
		   "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], "
		   "\"Attachments\": [{\"Content\": \"YQ==\"}]}", 400);
	call_error("POST", "/api/v1/send", tenant,
		   "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], "
		   "\"Headers\": {\"Subject\": \"twice\"}}", 400);
	call_error("POST", "/api/v1/send", tenant,
		   "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], "
		   "\"Headers\": {\"X-A\": \"a\\r\\nBcc: evil@example.com\"}}", 400);
	call_error("POST", "/api/v1/send", tenant,
		   "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], "
		   "\"Headers\": {\"Bad Name\": \"x\"}}", 400);
	{
		/* More than http.max_body_size (64 KiB here). */
		size_t n = 70 * 1024;
		char *big = malloc(n + 256);
		size_t at;

		snprintf(big, n + 256, "{\"From\": {\"Email\": \"a@example.com\"}, \"To\": [{\"Email\": \"b@example.com\"}], \"Text\": \"");
		at = strlen(big);
		memset(big + at, 'x', n);
		strcpy(big + at + n, "\"}");
		call_error("POST", "/api/v1/send", tenant, big, 413);
		free(big);
	}
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "total"), 1);
	response_free(&r);
	call_error("GET", "/api/v1/send", tenant, NULL, 405);
}

static void deletes(void **state)
{
	static const char tenant[] = "deleter";
	char a[64], b[64], c[64], d[64], body[256], target[160];
	struct response r;

	(void)state;
	api_send_simple(tenant, "alpha", a);
	api_send_simple(tenant, "beta", b);
	api_send_simple(tenant, "gamma", c);
	api_send_simple(tenant, "delta", d);
	snprintf(body, sizeof body, "{\"IDs\": [\"%s\", \"01ARZ3NDEKTSV4RRFFQ69G5FAV\", \"junk\"]}", a);
	call_done("DELETE", "/api/v1/messages", tenant, body);
	snprintf(target, sizeof target, "/api/v1/message/%s", a);
	call_error("GET", target, tenant, NULL, 404);
	call_done("DELETE", "/api/v1/search?query=subject%3Abeta", tenant, NULL);
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "total"), 2);
	assert_string_equal(jstr(r.json, "messages.0.ID"), d);
	assert_string_equal(jstr(r.json, "messages.1.ID"), c);
	response_free(&r);
	call_done("DELETE", "/api/v1/search?query=nothing-matches-this", tenant, NULL);
	call_error("DELETE", "/api/v1/search", tenant, NULL, 400);
	call_error("DELETE", "/api/v1/search?query=larger%3Aforty", tenant, NULL, 400);
	call_error("DELETE", "/api/v1/messages", tenant, "{bad", 400);
	call_error("DELETE", "/api/v1/messages", tenant, "{\"IDs\": [3]}", 400);
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "total"), 2);
	response_free(&r);
	call_done("DELETE", "/api/v1/messages", tenant, "{\"IDs\": []}"); /* no IDs: all, as Mailpit */
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "total"), 0);
	response_free(&r);
	api_send_simple(tenant, "epsilon", a);
	call_ok("DELETE", "/api/v1/messages", tenant, NULL, &r); /* no body: all, answered as MailHog */
	assert_int_equal(r.body_len, 0);
	response_free(&r);
	call_ok("GET", "/api/v1/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "total"), 0);
	response_free(&r);
}

/* X-Pat-Tenant keeps tenants apart on every endpoint. */
static void tenant_isolation(void **state)
{
	char mine[64], body[256], target[160];
	struct response r;

	(void)state;
	api_send_simple("alpha-team", "private plans", mine);
	snprintf(target, sizeof target, "/api/v1/message/%s", mine);
	call_error("GET", target, "beta-team", NULL, 404);
	call_error("GET", target, NULL, NULL, 404);
	snprintf(target, sizeof target, "/api/v1/message/%s/raw", mine);
	call_error("GET", target, "beta-team", NULL, 404);
	snprintf(target, sizeof target, "/api/v3/messages/%s", mine);
	call_error("GET", target, "beta-team", NULL, 404);
	call_ok("GET", "/api/v1/search?query=private", "beta-team", NULL, &r);
	assert_int_equal(jint(r.json, "messages_count"), 0);
	response_free(&r);
	call_error("GET", "/api/v1/message/latest", "beta-team", NULL, 404);
	snprintf(body, sizeof body, "{\"IDs\": [\"%s\"], \"Read\": true}", mine);
	call_done("PUT", "/api/v1/messages", "beta-team", body);
	snprintf(body, sizeof body, "{\"Tags\": [\"stolen\"], \"IDs\": [\"%s\"]}", mine);
	call_done("PUT", "/api/v1/tags", "beta-team", body);
	snprintf(body, sizeof body, "{\"IDs\": [\"%s\"]}", mine);
	call_done("DELETE", "/api/v1/messages", "beta-team", body);
	call_done("DELETE", "/api/v1/search?query=private", "beta-team", NULL);
	call_ok("DELETE", "/api/v3/messages", "beta-team", NULL, &r);
	response_free(&r);
	/* Untouched: unread, untagged, there. */
	call_ok("GET", "/api/v1/messages", "alpha-team", NULL, &r);
	assert_int_equal(jint(r.json, "total"), 1);
	assert_int_equal(jint(r.json, "unread"), 1);
	assert_int_equal(json_array_size(jget(r.json, "tags")), 0);
	assert_string_equal(jstr(r.json, "messages.0.ID"), mine);
	response_free(&r);
	call_ok("GET", "/api/v1/info", "alpha-team", NULL, &r);
	assert_int_equal(jint(r.json, "Messages"), 1);
	response_free(&r);
	call_error("GET", "/api/v1/messages", "Bad_Tenant", NULL, 400);
}

static void info_and_webui(void **state)
{
	struct response r;

	(void)state;
	call_ok("GET", "/api/v1/info", "finder", NULL, &r);
	assert_string_equal(jstr(r.json, "Database"), "dqlite");
	assert_string_equal(jstr(r.json, "LatestVersion"), "");
	assert_true(strlen(jstr(r.json, "Version")) > 0);
	assert_int_equal(jint(r.json, "Messages"), 3);
	assert_int_equal(jint(r.json, "Unread"), 2);
	assert_true(jint(r.json, "DatabaseSize") > 0);
	assert_int_equal(jint(r.json, "Tags.billing"), 1);
	assert_int_equal(jint(r.json, "Tags.Urgent"), 1);
	assert_true(jint(r.json, "RuntimeStats.SMTPAccepted") >= 6);
	assert_true(jint(r.json, "RuntimeStats.SMTPAcceptedSize") > 1000);
	assert_true(jint(r.json, "RuntimeStats.Memory") > 0);
	assert_int_equal(jint(r.json, "RuntimeStats.MessagesDeleted"), 5); /* by deletes, before */
	jint(r.json, "RuntimeStats.Uptime");
	response_free(&r);
	get_ok("/api/v1/webui", &r);
	assert_true(json_is_false(jget(r.json, "MessageRelay.Enabled")));
	assert_true(json_is_false(jget(r.json, "SpamAssassin")));
	assert_true(json_is_false(jget(r.json, "ChaosEnabled")));
	assert_string_equal(jstr(r.json, "Label"), "Pat");
	response_free(&r);
}

/* ---- chaos ---- */

/* Off unless [smtp] chaos = true: both routes say so, and SMTP is left alone. */
static void chaos_is_off_by_default(void **state)
{
	struct response r;

	(void)state;
	call("GET", "/api/v1/chaos", NULL, NULL, &r);
	expect_error(&r, 400);
	assert_non_null(strstr(jstr(r.json, "error"), "Chaos is not enabled"));
	response_free(&r);
	call_error("PUT", "/api/v1/chaos", NULL, "{\"Sender\": {\"ErrorCode\": 451, \"Probability\": 100}}", 400);
}

/* Mailpit's chaos triggers on a server that enables them: set, read back, applied to MAIL,
 * RCPT and AUTH with the chosen codes, bad settings refused whole, {} turning all off. */
static void chaos_triggers_fail_smtp_commands(void **state)
{
	static const char *const extra[] = { "--set", "smtp.chaos=true", "--set", "smtp.hostname=pat.test", NULL };
	static const char *const to_bob[] = { "bob@example.org", NULL };
	struct ts_serve chaotic;
	struct smtp_conn c;
	struct response r;
	char id[64];

	(void)state;
	ts_serve_init(&chaotic, true);
	ts_serve_start(&chaotic, extra);
	http_client_port(chaotic.http_port);

	call_ok("GET", "/api/v1/chaos", NULL, NULL, &r);
	assert_int_equal(jint(r.json, "Sender.ErrorCode"), 451);
	assert_int_equal(jint(r.json, "Sender.Probability"), 0);
	assert_int_equal(jint(r.json, "Recipient.ErrorCode"), 451);
	assert_int_equal(jint(r.json, "Authentication.ErrorCode"), 535);
	response_free(&r);
	get_ok("/api/v1/webui", &r);
	assert_true(json_is_true(jget(r.json, "ChaosEnabled")));
	response_free(&r);

	/* Bad settings: refused, and nothing of them kept. */
	call_error("PUT", "/api/v1/chaos", NULL, "{\"Sender\": {\"ErrorCode\": 399, \"Probability\": 100}}", 400);
	call_error("PUT", "/api/v1/chaos", NULL, "{\"Sender\": {\"ErrorCode\": 600}}", 400);
	call_error("PUT", "/api/v1/chaos", NULL, "{\"Recipient\": {\"Probability\": 101}}", 400);
	call_error("PUT", "/api/v1/chaos", NULL, "{\"Sender\": {\"Probability\": 100}, \"Recipient\": {\"Probability\": -1}}", 400);
	call_error("PUT", "/api/v1/chaos", NULL, "{\"Sender\": {\"Probability\": \"all\"}}", 400);
	call_error("PUT", "/api/v1/chaos", NULL, "{\"Sender\": 100}", 400);
	call_error("PUT", "/api/v1/chaos", NULL, "[1]", 400);
	call_error("PUT", "/api/v1/chaos", NULL, "", 400);
	call_ok("GET", "/api/v1/chaos", NULL, NULL, &r);
	assert_int_equal(jint(r.json, "Sender.Probability"), 0);
	response_free(&r);
	smtp_send_mail(chaotic.smtp_port, "alice@example.com", to_bob, "Subject: calm\r\n\r\nStill accepted.\r\n", id);

	/* Every MAIL FROM fails with 451; the session goes on. */
	call_ok("PUT", "/api/v1/chaos", NULL, "{\"Sender\": {\"ErrorCode\": 451, \"Probability\": 100}}", &r);
	assert_int_equal(jint(r.json, "Sender.Probability"), 100);
	assert_int_equal(jint(r.json, "Recipient.Probability"), 0);
	response_free(&r);
	smtp_hello(&c, chaotic.smtp_port);
	smtp_send(&c, "MAIL FROM:<alice@example.com>\r\n");
	smtp_expect(&c, "451 4.3.0 Chaos sender error");
	smtp_send(&c, "NOOP\r\n");
	smtp_expect(&c, "250");
	smtp_close(&c);

	/* A trigger left out goes back to its default, off; RCPT fails with 550, AUTH with 535. */
	call_ok("PUT", "/api/v1/chaos", NULL,
		"{\"recipient\": {\"ErrorCode\": 550, \"Probability\": 100}, \"Authentication\": {\"Probability\": 100}}", &r);
	assert_int_equal(jint(r.json, "Sender.Probability"), 0);
	assert_int_equal(jint(r.json, "Sender.ErrorCode"), 451);
	assert_int_equal(jint(r.json, "Recipient.ErrorCode"), 550);
	response_free(&r);
	smtp_hello(&c, chaotic.smtp_port);
	smtp_send(&c, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	smtp_expect(&c, "535 5.7.0 Chaos authentication error");
	smtp_send(&c, "MAIL FROM:<alice@example.com>\r\n");
	smtp_expect(&c, "250");
	smtp_send(&c, "RCPT TO:<bob@example.org>\r\n");
	smtp_expect(&c, "550 5.3.0 Chaos recipient error");
	smtp_send(&c, "DATA\r\n");
	smtp_expect(&c, "503");
	smtp_close(&c);

	/* {} turns everything off again. */
	call_ok("PUT", "/api/v1/chaos", NULL, "{}", &r);
	assert_int_equal(jint(r.json, "Recipient.Probability"), 0);
	assert_int_equal(jint(r.json, "Recipient.ErrorCode"), 451);
	assert_int_equal(jint(r.json, "Authentication.Probability"), 0);
	response_free(&r);
	smtp_send_mail(chaotic.smtp_port, "alice@example.com", to_bob, "Subject: calm again\r\n\r\nAccepted.\r\n", id);

	http_client_port(serve.http_port);
	ts_serve_close(&chaotic);
}

/* ---- Pat's API v3 ---- */

static void v3_cursor_paging_and_search(void **state)
{
	static const char tenant[] = "cursor";
	char a[64], b[64], c[64], target[200];
	struct response r;

	(void)state;
	api_send_simple(tenant, "one", a);
	api_send_simple(tenant, "two", b);
	api_send_simple(tenant, "three", c);
	call_ok("GET", "/api/v3/messages?limit=2", tenant, NULL, &r);
	assert_int_equal(json_array_size(jget(r.json, "messages")), 2);
	assert_string_equal(jstr(r.json, "messages.0.ID"), c);
	assert_string_equal(jstr(r.json, "messages.1.ID"), b);
	assert_string_equal(jstr(r.json, "next"), b);
	assert_int_equal(jint(r.json, "remaining"), 3);
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages?limit=2&before=%s", b);
	call_ok("GET", target, tenant, NULL, &r);
	assert_int_equal(json_array_size(jget(r.json, "messages")), 1);
	assert_string_equal(jstr(r.json, "messages.0.ID"), a);
	assert_true(json_is_null(jget(r.json, "next")));
	assert_int_equal(jint(r.json, "remaining"), 1);
	response_free(&r);
	/* A message that arrives between pages moves no page. */
	{
		char d[64];

		api_send_simple(tenant, "four", d);
		call_ok("GET", target, tenant, NULL, &r);
		assert_string_equal(jstr(r.json, "messages.0.ID"), a);
		response_free(&r);
		call_ok("GET", "/api/v3/messages", tenant, NULL, &r);
		assert_string_equal(jstr(r.json, "messages.0.ID"), d);
		assert_int_equal(json_array_size(jget(r.json, "messages")), 4);
		response_free(&r);
	}
	call_ok("GET", "/api/v3/search?q=subject%3At*", tenant, NULL, &r); /* two, three: words beginning with t */
	assert_int_equal(json_array_size(jget(r.json, "messages")), 2);
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/search?q=subject%%3At*&limit=1&before=%s", c);
	call_ok("GET", target, tenant, NULL, &r);
	assert_string_equal(jstr(r.json, "messages.0.ID"), b);
	assert_true(json_is_null(jget(r.json, "next")));
	response_free(&r);
	call_ok("GET", "/api/v3/search?q=", tenant, NULL, &r); /* an empty search: everything */
	assert_int_equal(json_array_size(jget(r.json, "messages")), 4);
	response_free(&r);
	call_error("GET", "/api/v3/messages?before=not-an-id", tenant, NULL, 400);
	call_error("GET", "/api/v3/messages?limit=abc", tenant, NULL, 400);
	call_error("GET", "/api/v3/messages?limit=5000", tenant, NULL, 400);
	call_error("GET", "/api/v3/messages?start=1", tenant, NULL, 400);
	call_error("GET", "/api/v3/search", tenant, NULL, 400);
	call_error("GET", "/api/v3/search?q=larger%3Abig", tenant, NULL, 400);
}

static void v3_messages_and_parts(void **state)
{
	static const char tenant[] = "v3-reader";
	char b64[128], json[2048], id[64], target[200];
	struct response r;

	(void)state;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)attachment, ATTACHMENT_LEN);
	snprintf(json, sizeof json,
		 "{\"From\": {\"Email\": \"app@example.com\"}, \"To\": [{\"Email\": \"user@example.com\"}], "
		 "\"Subject\": \"v3\", \"Text\": \"text\", \"HTML\": \"<img src=cid:pic>\", "
		 "\"Attachments\": [{\"Content\": \"%s\", \"Filename\": \"a.bin\", \"ContentType\": \"application/x-test\"}, "
		 "{\"Content\": \"iVBORw0KGgo=\", \"Filename\": \"pic.png\", \"ContentType\": \"image/png\", \"ContentID\": \"pic\"}]}",
		 b64);
	api_send(tenant, json, id);
	snprintf(target, sizeof target, "/api/v3/messages/%s", id);
	call_ok("GET", target, tenant, NULL, &r);
	assert_string_equal(jstr(r.json, "Subject"), "v3");
	assert_true(json_is_false(jget(r.json, "Read")));
	response_free(&r);
	call_ok("GET", "/api/v3/messages", tenant, NULL, &r); /* reading here does not mark it read */
	assert_true(json_is_false(jget(r.json, "messages.0.Read")));
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages/%s/raw", id);
	call_ok("GET", target, tenant, NULL, &r);
	assert_string_equal(header(&r, "content-type"), "message/rfc822");
	assert_non_null(strstr(r.body, "Subject: v3\r\n"));
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages/%s/parts", id);
	call_ok("GET", target, tenant, NULL, &r);
	assert_int_equal(json_array_size(jget(r.json, "parts")), 2);
	assert_string_equal(jstr(r.json, "parts.0.Disposition"), "inline");
	assert_string_equal(jstr(r.json, "parts.0.ContentID"), "pic");
	assert_string_equal(jstr(r.json, "parts.1.Disposition"), "attachment");
	assert_string_equal(jstr(r.json, "parts.1.FileName"), "a.bin");
	assert_int_equal(strlen(jstr(r.json, "parts.1.Checksums.SHA256")), 64);
	{
		char part[200];

		snprintf(part, sizeof part, "/api/v3/messages/%s/parts/%s", id, jstr(r.json, "parts.1.PartID"));
		response_free(&r);
		call_ok("GET", part, tenant, NULL, &r);
		assert_int_equal(r.body_len, ATTACHMENT_LEN);
		assert_memory_equal(r.body, attachment, ATTACHMENT_LEN);
		assert_string_equal(header(&r, "content-disposition"), "inline; filename=\"a.bin\"");
	}
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages/%s/attachments", id);
	call_ok("GET", target, tenant, NULL, &r);
	assert_int_equal(json_array_size(jget(r.json, "attachments")), 1);
	assert_string_equal(jstr(r.json, "attachments.0.FileName"), "a.bin");
	response_free(&r);
	snprintf(target, sizeof target, "/api/v3/messages/%s/parts/..%%2F..%%2Fetc", id);
	call_error("GET", target, tenant, NULL, 400);
	snprintf(target, sizeof target, "/api/v3/messages/%s/parts/42", id);
	call_error("GET", target, tenant, NULL, 404);
	call_error("GET", "/api/v3/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", tenant, NULL, 404);
	call_error("GET", "/api/v3/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/parts", tenant, NULL, 404);
	call_error("GET", "/api/v3/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV/raw", tenant, NULL, 404);
	call_error("GET", "/api/v3/messages/nope/attachments", tenant, NULL, 404);
	/* Deletion. */
	snprintf(target, sizeof target, "/api/v3/messages/%s", id);
	call_ok("DELETE", target, tenant, NULL, &r);
	assert_int_equal(jint(r.json, "deleted"), 1);
	response_free(&r);
	call_error("DELETE", target, tenant, NULL, 404);
	call_error("DELETE", "/api/v3/messages/nope", tenant, NULL, 404);
	api_send_simple(tenant, "keep", id);
	api_send_simple(tenant, "drop", id);
	call_ok("DELETE", "/api/v3/messages?q=subject%3Adrop", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "deleted"), 1);
	response_free(&r);
	call_error("DELETE", "/api/v3/messages?q=%22open", tenant, NULL, 400);
	call_ok("DELETE", "/api/v3/messages", tenant, NULL, &r);
	assert_int_equal(jint(r.json, "deleted"), 1);
	response_free(&r);
	call_ok("GET", "/api/v3/messages", tenant, NULL, &r);
	assert_int_equal(json_array_size(jget(r.json, "messages")), 0);
	assert_true(json_is_null(jget(r.json, "next")));
	response_free(&r);
}

/* ---- live events ---- */

static void live_events(void **state)
{
	struct http_conn *mp = malloc(sizeof *mp), *v3 = malloc(sizeof *v3), *quiet = malloc(sizeof *quiet);
	char id[64], other[64], body[200];
	struct response r;
	json_t *j;

	(void)state;
	ws_open(mp, "/api/events", "watch");
	ws_open(v3, "/api/v3/events", "watch");
	ws_open(quiet, "/api/v3/events", "quiet");
	api_send_simple("watch", "watched", id);
	j = ws_next(mp);
	assert_non_null(j);
	assert_string_equal(jstr(j, "Type"), "new");
	assert_string_equal(jstr(j, "Data.ID"), id);
	assert_string_equal(jstr(j, "Data.Subject"), "watched");
	json_decref(j);
	j = ws_next(v3);
	assert_non_null(j);
	assert_string_equal(jstr(j, "type"), "new");
	assert_string_equal(jstr(j, "id"), id);
	assert_string_equal(jstr(j, "message.Subject"), "watched");
	json_decref(j);
	snprintf(body, sizeof body, "{\"IDs\": [\"%s\"]}", id);
	call_done("DELETE", "/api/v1/messages", "watch", body);
	j = ws_next(mp);
	assert_string_equal(jstr(j, "Type"), "delete");
	assert_string_equal(jstr(j, "Data.ID"), id);
	json_decref(j);
	j = ws_next(v3);
	assert_string_equal(jstr(j, "type"), "deleted");
	assert_string_equal(jstr(j, "id"), id);
	json_decref(j);
	call_ok("DELETE", "/api/v3/messages", "watch", NULL, &r);
	response_free(&r);
	j = ws_next(mp);
	assert_string_equal(jstr(j, "Type"), "truncate");
	json_decref(j);
	j = ws_next(v3);
	assert_string_equal(jstr(j, "type"), "deleted");
	assert_true(json_is_true(jget(j, "all")));
	json_decref(j);
	/* The other tenant's stream heard none of it: its first event is its own message. */
	api_send_simple("quiet", "mine", other);
	j = ws_next(quiet);
	assert_string_equal(jstr(j, "id"), other);
	json_decref(j);
	call_error("GET", "/api/events", "watch", NULL, 400); /* not a WebSocket handshake */
	http_close(mp);
	http_close(v3);
	http_close(quiet);
	free(mp);
	free(v3);
	free(quiet);
}

/* ---- the npm client ---- */

/* The npm `mailpit-api` client, installed from tests/e2e's lockfile with `npm ci`, runs its
 * checks (tests/e2e/mailpit.test.js) against this server. */
static void the_npm_mailpit_client(void **state)
{
	char e2e[4200], http_env[64], smtp_env[64];
	const char *env[] = { http_env, smtp_env, NULL };

	(void)state;
	snprintf(e2e, sizeof e2e, "%s/e2e", serve.dir);
	snprintf(http_env, sizeof http_env, "PAT_HTTP_PORT=%d", serve.http_port);
	snprintf(smtp_env, sizeof smtp_env, "PAT_SMTP_PORT=%d", serve.smtp_port);
	tu_e2e_run(e2e, "mailpit.test.js", env, 60000, "the mailpit-api client's checks");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(list_in_mailpit_shape),
		cmocka_unit_test(list_paging),
		cmocka_unit_test(search_operators),
		cmocka_unit_test(message_view_marks_read),
		cmocka_unit_test(headers_and_raw),
		cmocka_unit_test(parts),
		cmocka_unit_test(read_flags),
		cmocka_unit_test(tags),
		cmocka_unit_test(send_with_attachment),
		cmocka_unit_test(deletes),
		cmocka_unit_test(tenant_isolation),
		cmocka_unit_test(info_and_webui),
		cmocka_unit_test(chaos_is_off_by_default),
		cmocka_unit_test(chaos_triggers_fail_smtp_commands),
		cmocka_unit_test(v3_cursor_paging_and_search),
		cmocka_unit_test(v3_messages_and_parts),
		cmocka_unit_test(live_events),
		cmocka_unit_test(the_npm_mailpit_client),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
