/* Unit tests for gateway/mailhog (MailHog's Message JSON and MIME parts) and the JSON text
 * helper of gateway/http: splitting as MailHog splits, broken and odd messages, bytes that are
 * not UTF-8, and every allocation failure. */
#include "tests/lib/testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/http.h"
#include "gateway/mailhog.h"
#include "lib/mem.h"

static struct store_message message(void)
{
	struct store_message m;

	memset(&m, 0, sizeof m);
	strcpy(m.id, "01ARZ3NDEKTSV4RRFFQ69G5FAV");
	m.received_at = 1700000000123;
	m.helo = "client.test";
	m.mail_from = "a@example.com";
	m.rcpt_to = "b@example.com,c@example.net";
	return m;
}

static json_t *render(const char *raw)
{
	struct store_message m = message();
	json_t *j = mailhog_message(&m, raw, strlen(raw));

	assert_non_null(j);
	return j;
}

static const char *str_at(json_t *j, const char *k1, const char *k2, size_t i)
{
	json_t *v = json_object_get(j, k1);

	if (k2 != NULL)
		v = json_object_get(v, k2);
	if (json_is_array(v))
		v = json_array_get(v, i);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void paths_and_envelope(void **state)
{
	json_t *j = render("Subject: x\r\n\r\nbody\r\n");
	json_t *to = json_object_get(j, "To");

	(void)state;
	assert_string_equal(str_at(j, "ID", NULL, 0), "01ARZ3NDEKTSV4RRFFQ69G5FAV");
	assert_string_equal(str_at(j, "Created", NULL, 0), "2023-11-14T22:13:20.123Z");
	assert_string_equal(str_at(j, "From", "Mailbox", 0), "a");
	assert_string_equal(str_at(j, "From", "Domain", 0), "example.com");
	assert_true(json_is_null(json_object_get(json_object_get(j, "From"), "Relays")));
	assert_int_equal(json_array_size(to), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(to, 1), "Domain")), "example.net");
	assert_string_equal(str_at(j, "Raw", "To", 1), "c@example.net");
	assert_string_equal(str_at(j, "Raw", "Helo", 0), "client.test");
	json_decref(j);
	{
		struct store_message m = message();

		m.mail_from = "@relay1,@relay2:x@y.z";
		m.rcpt_to = "";
		j = mailhog_message(&m, "", 0);
		assert_non_null(j);
		assert_int_equal(json_array_size(json_object_get(json_object_get(j, "From"), "Relays")), 2);
		assert_string_equal(str_at(j, "From", "Mailbox", 0), "x");
		assert_int_equal(json_array_size(json_object_get(j, "To")), 0);
		/* No blank line: no headers, the whole message is the body (as MailHog). */
		assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "Content"), "Size")), 0);
		json_decref(j);
	}
}

static void headers_as_mailhog_splits_them(void **state)
{
	json_t *j = render("Subject: one\r\nX-Multi: a\r\nX-Multi: b\r\nX-Folded: start\r\n\tcontinued\r\n"
			   "no colon here\r\nX-Empty:\r\nMessage-Id: <m@x>\r\n\r\nbody\r\n");
	json_t *h = json_object_get(json_object_get(j, "Content"), "Headers");

	(void)state;
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "Subject"), 0)), "one");
	assert_int_equal(json_array_size(json_object_get(h, "X-Multi")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "X-Folded"), 0)), "start\tcontinued");
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "X-Empty"), 0)), "");
	assert_null(json_object_get(h, "Message-ID")); /* it has one (Message-Id): none added */
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "Return-Path"), 0)), "<a@example.com>");
	assert_string_equal(str_at(j, "Content", "Body", 0), "body\r\n");
	assert_true(json_is_null(json_object_get(j, "MIME")));
	json_decref(j);
}

static void multipart_parts(void **state)
{
	static const char raw[] = "Content-Type: Multipart/Mixed; charset=x; boundary=\"b 1\"\r\n\r\n"
				  "preamble\r\n--b 1\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
				  "--b 1\r\n\r\nno headers: left out\r\n"
				  "--b 1\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
				  "--in\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--in--\r\n"
				  "--b 1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
				  "aGVs\r\nbG8g\r\nd29y bGQ=\r\n--b 1--\r\nepilogue\r\n";
	json_t *j = render(raw);
	json_t *parts = json_object_get(json_object_get(j, "MIME"), "Parts");
	struct mailhog_part p;
	struct pat_err err;

	(void)state;
	assert_int_equal(json_array_size(parts), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(parts, 0), "Body")), "hello");
	assert_true(json_is_null(json_object_get(json_array_get(parts, 0), "MIME")));
	assert_int_equal(json_array_size(json_object_get(json_object_get(json_array_get(parts, 1), "MIME"), "Parts")), 1);
	json_decref(j);
	assert_int_equal(mailhog_part(raw, strlen(raw), 2, &p, &err), PAT_OK);
	assert_string_equal(p.content_type, "application/octet-stream");
	assert_int_equal(p.len, 11);
	assert_memory_equal(p.data, "hello world", 11);
	mailhog_part_free(&p);
	assert_int_equal(mailhog_part(raw, strlen(raw), 0, &p, &err), PAT_OK);
	assert_int_equal(p.len, 5);
	mailhog_part_free(&p);
	assert_int_equal(mailhog_part(raw, strlen(raw), 3, &p, &err), PAT_ENOTFOUND);
	assert_int_equal(mailhog_part("Subject: x\r\n\r\nx", 15, 0, &p, &err), PAT_ENOTFOUND);
	/* multipart without a boundary: not split */
	j = render("Content-Type: multipart/mixed\r\n\r\n--x\r\nA: b\r\n\r\nc\r\n");
	assert_true(json_is_null(json_object_get(j, "MIME")));
	json_decref(j);
}

static void deep_nesting_stops(void **state)
{
	char raw[8192] = "";
	json_t *j, *mime;
	int depth = 0;

	(void)state;
	for (int i = 0; i < 20; i++) {
		char line[128];

		snprintf(line, sizeof line, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		strcat(raw, line);
	}
	strcat(raw, "Content-Type: text/plain\r\n\r\nleaf\r\n");
	j = render(raw);
	for (mime = json_object_get(j, "MIME"); json_is_object(mime); depth++)
		mime = json_object_get(json_array_get(json_object_get(mime, "Parts"), 0), "MIME");
	assert_true(depth > 3 && depth <= 9);
	json_decref(j);
}

static void text_that_is_not_utf8(void **state)
{
	static const char *const cases[][2] = {
		{ "plain", "plain" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
		{ "caf\xe9!", "caf\xef\xbf\xbd!" },
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                 /* overlong */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* a surrogate */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
		{ "end\xf0\x9f", "end\xef\xbf\xbd\xef\xbf\xbd" },           /* cut short */
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *j = http_json_text(cases[i][0], strlen(cases[i][0]));
		char *dump;

		assert_non_null(j);
		assert_string_equal(json_string_value(j), cases[i][1]);
		dump = json_dumps(j, JSON_ENCODE_ANY);
		assert_non_null(dump); /* jansson can write it: it is UTF-8 */
		free(dump);
		json_decref(j);
	}
}

/* Every allocation of ours may fail: the result is NULL or an error, never a crash or a leak. */
static void allocation_failures(void **state)
{
	static const char raw[] = "Subject: s\r\nX-Folded: a\r\n b\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
				  "--q\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n--q--\r\n";
	struct store_message m = message();
	struct mailhog_part p;
	struct pat_err err;
	bool done = false;

	(void)state;
	for (long n = 0; !done && n < 1000; n++) {
		json_t *j;

		mem_fail_after(n, true);
		j = mailhog_message(&m, raw, sizeof raw - 1);
		mem_fail_reset();
		done = j != NULL;
		json_decref(j);
	}
	assert_true(done);
	done = false;
	for (long n = 0; !done && n < 1000; n++) {
		int rv;

		mem_fail_after(n, true);
		rv = mailhog_part(raw, sizeof raw - 1, 0, &p, &err);
		mem_fail_reset();
		if (rv == PAT_OK) {
			assert_memory_equal(p.data, "hi", 2);
			mailhog_part_free(&p);
			done = true;
		} else {
			assert_int_equal(rv, PAT_ENOMEM);
		}
	}
	assert_true(done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths_and_envelope),
		cmocka_unit_test(headers_as_mailhog_splits_them),
		cmocka_unit_test(multipart_parts),
		cmocka_unit_test(deep_nesting_stops),
		cmocka_unit_test(text_that_is_not_utf8),
		cmocka_unit_test(allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
