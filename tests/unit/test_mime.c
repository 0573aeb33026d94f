/* Unit tests for gateway/mime: every message of the CPython email corpus in ../shared/corpus
 * (none may crash, leak or produce JSON jansson refuses), concrete results for several of
 * them, and handcrafted messages for what the corpus lacks (Content-ID images in
 * multipart/related, RFC 2231 and RFC 2047 names, charsets, junk). */
#include "tests/lib/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/mime.h"
#include "lib/err.h"
#include "lib/mem.h"

static char *corpus_file(const char *name, size_t *len)
{
	char path[4096];
	char *text;

	snprintf(path, sizeof path, "%s/../shared/corpus/cpython-email/%s", tu_source_dir(), name);
	text = tu_read_file(path, len);
	if (text == NULL)
		fail_msg("cannot read %s", path);
	return text;
}

static struct mime_view *view_of(const char *raw, size_t len)
{
	struct mime_view *v = NULL;
	struct pat_err err;

	assert_int_equal(mime_view_parse(raw, len, &v, &err), PAT_OK);
	assert_non_null(v);
	return v;
}

static struct mime_view *view_of_file(const char *name)
{
	size_t len;
	char *raw = corpus_file(name, &len);
	struct mime_view *v = view_of(raw, len);

	free(raw);
	return v;
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	assert_non_null(s);
	return s;
}

/* Everything a handler would do with a message: view, both JSON documents, every part. */
static void exercise(const char *raw, size_t len, const char *name)
{
	struct mime_view *v = view_of(raw, len);
	struct store_message m = { .size = (int64_t)len, .tags = "one,two" };
	struct pat_err err;
	json_t *j, *h;
	char *s;

	strcpy(m.id, "01ARYZ6S41TSV4RRFFQ69G5FAV");
	assert_int_equal(mime_json_message(v, &m, &j, &err), PAT_OK);
	assert_int_equal(mime_json_headers(v, &h, &err), PAT_OK);
	s = dump(j);
	free(s);
	s = dump(h);
	free(s);
	json_decref(j);
	json_decref(h);
	for (int list = 0; list < 2; list++) {
		const struct mime_part *parts = list ? v->attachments : v->inline_parts;
		size_t n = list ? v->n_attachments : v->n_inline;

		for (size_t i = 0; i < n; i++) {
			uint8_t *data;
			size_t data_len;
			char *type;

			if (mime_part_content(raw, len, parts[i].part_id, &data, &data_len, &type, &err) != PAT_OK)
				fail_msg("%s: part %s: %s", name, parts[i].part_id, err.msg);
			assert_int_equal(data_len, parts[i].size);
			assert_string_equal(type, parts[i].content_type);
			mem_free(data);
			mem_free(type);
		}
	}
	{
		int64_t a, in;

		mime_count_parts(raw, len, &a, &in);
		assert_int_equal(a, (int64_t)v->n_attachments);
		assert_int_equal(in, (int64_t)v->n_inline);
	}
	mime_view_free(v);
}

static void every_corpus_message(void **state)
{
	char path[4096];
	struct dirent *e;
	DIR *d;
	int n = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/../shared/corpus/cpython-email", tu_source_dir());
	assert_non_null(d = opendir(path));
	while ((e = readdir(d)) != NULL) {
		size_t len;
		char *raw;

		if (e->d_name[0] == '.')
			continue;
		raw = corpus_file(e->d_name, &len);
		exercise(raw, len, e->d_name);
		/* Cut short anywhere, a message still gives a view. */
		for (size_t cut = 1; cut < len; cut += len / 7 + 1)
			exercise(raw, cut, e->d_name);
		free(raw);
		n++;
	}
	closedir(d);
	assert_true(n >= 31);
}

static void simple_message(void **state)
{
	struct mime_view *v = view_of_file("msg_01.txt");

	(void)state;
	assert_string_equal(v->subject, "This is a test message");
	assert_string_equal(v->from.name, "John X. Doe");
	assert_string_equal(v->from.address, "bbb@ddd.com");
	assert_int_equal(v->to.n, 1);
	assert_string_equal(v->to.list[0].address, "bbb@zzz.org");
	assert_string_equal(v->message_id, "15090.61304.110929.45684@aaa.zzz.org");
	assert_string_equal(v->return_path, "bbb@zzz.org");
	assert_string_equal(v->date, "2001-05-04T14:05:44-04:00");
	assert_string_equal(v->text, "\nHi,\n\nDo you like this message?\n\n-Me\n");
	assert_string_equal(v->html, "");
	assert_false(v->degraded);
	mime_view_free(v);
}

/* msg_07: a base64 GIF attached to a text. */
static void base64_attachment(void **state)
{
	struct mime_view *v = view_of_file("msg_07.txt");
	uint8_t *data;
	size_t len, data_len;
	char *type, *raw = corpus_file("msg_07.txt", &len);
	struct pat_err err;

	(void)state;
	assert_int_equal(v->n_attachments, 1);
	assert_int_equal(v->n_inline, 0);
	assert_string_equal(v->attachments[0].part_id, "2");
	assert_string_equal(v->attachments[0].file_name, "dingusfish.gif");
	assert_string_equal(v->attachments[0].content_type, "image/gif");
	assert_int_equal(v->attachments[0].size, 3512);
	assert_string_equal(v->attachments[0].md5, "5f44b8a5191da9391be2b1c5d6c2c8cd");
	assert_string_equal(v->text, "Hi there,\n\nThis is the dingus fish.\n");
	assert_int_equal(mime_part_content(raw, len, "2", &data, &data_len, &type, &err), PAT_OK);
	assert_int_equal(data_len, 3512);
	assert_memory_equal(data, "GIF87a", 6);
	assert_string_equal(type, "image/gif");
	mem_free(data);
	mem_free(type);
	/* The text part is a part too; a part that is not there is not found. */
	assert_int_equal(mime_part_content(raw, len, "1", &data, &data_len, &type, &err), PAT_OK);
	mem_free(data);
	mem_free(type);
	assert_int_equal(mime_part_content(raw, len, "3", &data, &data_len, &type, &err), PAT_ENOTFOUND);
	assert_int_equal(mime_part_content(raw, len, "0", &data, &data_len, &type, &err), PAT_ENOTFOUND);
	assert_int_equal(mime_part_content(raw, len, "2.1", &data, &data_len, &type, &err), PAT_ENOTFOUND);
	assert_null(data);
	free(raw);
	mime_view_free(v);
}

/* msg_13: multipart/mixed inside multipart/mixed; msg_02: a digest of messages in a mixed. */
static void multipart_nesting(void **state)
{
	struct mime_view *v = view_of_file("msg_13.txt");
	size_t len;
	char *raw = corpus_file("msg_13.txt", &len), *type;
	uint8_t *data;
	size_t data_len;
	struct pat_err err;

	(void)state;
	assert_int_equal(v->n_attachments, 1);
	assert_string_equal(v->attachments[0].part_id, "2.2");
	assert_string_equal(v->attachments[0].file_name, "dingusfish.gif");
	assert_int_equal(v->attachments[0].size, 3512);
	/* The nested multipart is "2.0" in Mailpit's numbering: not a part one can fetch. */
	assert_int_equal(mime_part_content(raw, len, "2.0", &data, &data_len, &type, &err), PAT_ENOTFOUND);
	assert_int_equal(mime_part_content(raw, len, "2", &data, &data_len, &type, &err), PAT_ENOTFOUND);
	assert_int_equal(mime_part_content(raw, len, "2.1", &data, &data_len, &type, &err), PAT_OK);
	assert_string_equal(type, "text/plain");
	mem_free(data);
	mem_free(type);
	free(raw);
	mime_view_free(v);

	v = view_of_file("msg_02.txt");
	assert_string_equal(v->subject, "Ppp digest, Vol 1 #2 - 5 msgs");
	assert_int_equal(v->n_attachments, 5); /* message/rfc822 parts count as attachments */
	assert_string_equal(v->attachments[0].part_id, "3.1");
	assert_string_equal(v->attachments[4].part_id, "3.5");
	assert_string_equal(v->attachments[0].content_type, "message/rfc822");
	assert_string_equal(v->attachments[0].file_name, "message.eml");
	assert_contains(v->text, "Send Ppp mailing list submissions to");
	mime_view_free(v);

	/* msg_16: a delivery report; the returned message is an attachment, the text is the notice. */
	v = view_of_file("msg_16.txt");
	assert_int_equal(v->n_attachments, 1);
	assert_string_equal(v->attachments[0].content_type, "message/rfc822");
	assert_int_equal(v->n_inline, 0);
	mime_view_free(v);
}

/* msg_17: a multipart whose boundary never appears degrades to its raw text. */
static void broken_boundary_degrades(void **state)
{
	struct mime_view *v = view_of_file("msg_17.txt");

	(void)state;
	assert_true(v->degraded);
	assert_string_equal(v->subject, "Here is your dingus fish");
	assert_contains(v->text, "This is the dingus fish.");
	assert_contains(v->text, "[Non-text (image/gif) part of message omitted, filename dingusfish.gif]");
	assert_int_equal(v->n_attachments + v->n_inline, 0);
	mime_view_free(v);
	/* msg_14: "Content-Type: text" with no subtype is still read as text. */
	v = view_of_file("msg_14.txt");
	assert_contains(v->text, "This message has a Content-Type: header with no subtype.");
	mime_view_free(v);
}

static const char handcrafted[] =
	"Return-Path: <bounce@shop.example>\r\n"
	"From: =?utf-8?q?Ren=C3=A9e_Dupont?= <renee@shop.example>\r\n"
	"To: Dana <dana@corp.example>, =?iso-8859-1?q?J=F6rg?= <jorg@corp.example>\r\n"
	"Cc: team: a@corp.example, b@corp.example;\r\n"
	"Reply-To: help@shop.example\r\n"
	"Subject: =?utf-8?b?Vm90cmUgZmFjdHVyZSDigqwgMTIz?=\r\n"
	" =?iso-8859-1?q?_d=E9j=E0_pay=E9e?=\r\n"
	"Message-ID: <abc.123@shop.example>\r\n"
	"Date: Wed, 31 Jan 2024 10:15:00 +0100\r\n"
	"List-Unsubscribe: <mailto:unsub@shop.example>, <https://shop.example/unsub?u=1>\r\n"
	"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	"Received: from a by b; Wed, 31 Jan 2024 10:15:01 +0100\r\n"
	"received: from c by d; Wed, 31 Jan 2024 10:15:02 +0100\r\n"
	"message-id-copy: folded\r\n"
	"\tvalue\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
	"\r\n"
	"--alt\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Votre facture est pr=EAte. Caf=E9 offert.\r\n"
	"--alt\r\n"
	"Content-Type: multipart/related; boundary=\"rel\"\r\n"
	"\r\n"
	"--rel\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"PHA+Vm90cmUgZmFjdHVyZSBlc3QgcHLDqnRlLjwvcD48aW1nIHNyYz0iY2lkOmxvZ29Ac2hvcCI+\r\n"
	"--rel\r\n"
	"Content-Type: image/png\r\n"
	"Content-ID: <logo@shop>\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"iVBORw0KGgo=\r\n"
	"--rel--\r\n"
	"--alt--\r\n"
	"--outer\r\n"
	"Content-Type: application/pdf; name=\"ignored.pdf\"\r\n"
	"Content-Disposition: attachment;\r\n"
	" filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--outer\r\n"
	"Content-Type: image/jpeg\r\n"
	"Content-Disposition: inline; filename=\"photo.jpg\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"/9j/4AAQ\r\n"
	"--outer\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"no name, no id: not listed\r\n"
	"--outer--\r\n";

/* A message of everything the corpus lacks: RFC 2047 words in several charsets, an RFC 2231
 * file name, a Content-ID image in multipart/related inside multipart/alternative inside
 * multipart/mixed, an inline photo, a Latin-1 quoted-printable text. */
static void handcrafted_message(void **state)
{
	struct mime_view *v = view_of(handcrafted, sizeof handcrafted - 1);

	(void)state;
	assert_false(v->degraded);
	assert_string_equal(v->subject, "Votre facture \xe2\x82\xac 123 d\xc3\xa9j\xc3\xa0 pay\xc3\xa9" "e");
	assert_string_equal(v->from.name, "Ren\xc3\xa9" "e Dupont");
	assert_string_equal(v->from.address, "renee@shop.example");
	assert_int_equal(v->to.n, 2);
	assert_string_equal(v->to.list[1].name, "J\xc3\xb6rg");
	assert_int_equal(v->cc.n, 2); /* a group's members */
	assert_string_equal(v->cc.list[1].address, "b@corp.example");
	assert_string_equal(v->reply_to.list[0].address, "help@shop.example");
	assert_string_equal(v->return_path, "bounce@shop.example");
	assert_string_equal(v->message_id, "abc.123@shop.example");
	assert_string_equal(v->date, "2024-01-31T10:15:00+01:00");
	assert_string_equal(v->text, "Votre facture est pr\xc3\xaate. Caf\xc3\xa9 offert.");
	assert_string_equal(v->html, "<p>Votre facture est pr\xc3\xaate.</p><img src=\"cid:logo@shop\">");
	assert_int_equal(v->n_inline, 2);
	/* Breadth-first, as Mailpit lists them: the photo (depth 1) before the logo (depth 3). */
	assert_string_equal(v->inline_parts[0].part_id, "3");
	assert_string_equal(v->inline_parts[0].file_name, "photo.jpg");
	assert_string_equal(v->inline_parts[1].part_id, "1.2.2");
	assert_string_equal(v->inline_parts[1].content_id, "logo@shop");
	assert_string_equal(v->inline_parts[1].file_name, "logo@shop"); /* no name: the Content-ID */
	assert_string_equal(v->inline_parts[1].content_type, "image/png");
	assert_int_equal(v->inline_parts[1].size, 8);
	assert_int_equal(v->n_attachments, 1);
	assert_string_equal(v->attachments[0].part_id, "2");
	assert_string_equal(v->attachments[0].file_name, "r\xc3\xa9sum\xc3\xa9 final.pdf");
	assert_string_equal(v->attachments[0].content_type, "application/pdf");
	assert_int_equal(v->attachments[0].size, 9);
	/* sha1("%PDF-1.4\n") */
	assert_string_equal(v->attachments[0].sha1, "95607b02d48a786cb786897d727114fc79814b1e");
	{
		uint8_t *data;
		size_t len;
		char *type;
		struct pat_err err;

		assert_int_equal(mime_part_content(handcrafted, sizeof handcrafted - 1, "1.2.2", &data, &len, &type, &err), PAT_OK);
		assert_int_equal(len, 8);
		assert_memory_equal(data, "\x89PNG\r\n\x1a\n", 8);
		mem_free(data);
		mem_free(type);
		assert_int_equal(mime_part_content(handcrafted, sizeof handcrafted - 1, "1.2.0", &data, &len, &type, &err), PAT_ENOTFOUND);
		assert_int_equal(mime_part_content(handcrafted, sizeof handcrafted - 1, "1.0", &data, &len, &type, &err), PAT_ENOTFOUND);
	}
	mime_view_free(v);
}

static void message_json(void **state)
{
	struct mime_view *v = view_of(handcrafted, sizeof handcrafted - 1);
	struct store_message m = { .size = 4242, .tags = "invoices, Urgent", .received_at = 1706692500000 };
	struct pat_err err;
	json_t *j, *a;

	(void)state;
	strcpy(m.id, "01HNBXJ0000000000000000000");
	assert_int_equal(mime_json_message(v, &m, &j, &err), PAT_OK);
	assert_string_equal(json_string_value(json_object_get(j, "ID")), "01HNBXJ0000000000000000000");
	assert_string_equal(json_string_value(json_object_get(j, "MessageID")), "abc.123@shop.example");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "From"), "Address")), "renee@shop.example");
	assert_int_equal(json_array_size(json_object_get(j, "To")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "To"), 0), "Name")), "Dana");
	assert_int_equal(json_array_size(json_object_get(j, "Bcc")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "ReturnPath")), "bounce@shop.example");
	assert_string_equal(json_string_value(json_object_get(j, "Date")), "2024-01-31T10:15:00+01:00");
	assert_int_equal(json_integer_value(json_object_get(j, "Size")), 4242);
	a = json_object_get(j, "Tags");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 1)), "Urgent");
	a = json_object_get(j, "ListUnsubscribe");
	assert_int_equal(json_array_size(json_object_get(a, "Links")), 2);
	assert_string_equal(json_string_value(json_object_get(a, "Errors")), "");
	assert_string_equal(json_string_value(json_object_get(a, "HeaderPost")), "List-Unsubscribe=One-Click");
	a = json_object_get(j, "Attachments");
	assert_int_equal(json_array_size(a), 1);
	a = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(a, "PartID")), "2");
	assert_string_equal(json_string_value(json_object_get(a, "ContentID")), "");
	assert_int_equal(json_integer_value(json_object_get(a, "Size")), 9);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "Checksums"), "SHA256")),
			    "e5c62df5dab5c87b6a015ef3d43597074d1eec433b15f51aec63b8582d0e4ab4");
	assert_int_equal(json_array_size(json_object_get(j, "Inline")), 2);
	json_decref(j);
	/* No Date header: the received time. */
	mime_view_free(v);
	{
		static const char nodate[] = "From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n";

		v = view_of(nodate, sizeof nodate - 1);
		assert_int_equal(mime_json_message(v, &m, &j, &err), PAT_OK);
		assert_string_equal(json_string_value(json_object_get(j, "Date")), "2024-01-31T09:15:00.000Z");
		json_decref(j);
		mime_view_free(v);
	}
}

static void summary_json(void **state)
{
	struct store_message m = { .from = "\"Ren\xc3\xa9" "e Dupont\" <renee@shop.example>",
				   .to = "Dana <dana@corp.example>, jorg@corp.example",
				   .reply_to = "not an address at all",
				   .subject = "Bad \xff byte", .message_id = "abc@x", .snippet = "Hello",
				   .tags = "a,b", .read = true, .size = 1234, .attachments = 2, .received_at = 1706692500000 };
	struct pat_err err;
	json_t *j, *a;

	(void)state;
	strcpy(m.id, "01HNBXJ0000000000000000000");
	assert_int_equal(mime_json_summary(&m, &j, &err), PAT_OK);
	assert_string_equal(json_string_value(json_object_get(j, "ID")), "01HNBXJ0000000000000000000");
	assert_true(json_is_true(json_object_get(j, "Read")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "From"), "Name")), "Ren\xc3\xa9" "e Dupont");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "From"), "Address")), "renee@shop.example");
	a = json_object_get(j, "To");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "Address")), "jorg@corp.example");
	assert_int_equal(json_array_size(json_object_get(j, "Cc")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "Subject")), "Bad \xef\xbf\xbd byte");
	assert_string_equal(json_string_value(json_object_get(j, "Created")), "2024-01-31T09:15:00.000Z");
	assert_int_equal(json_integer_value(json_object_get(j, "Attachments")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "Size")), 1234);
	assert_int_equal(json_array_size(json_object_get(j, "Tags")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "Snippet")), "Hello");
	json_decref(j);
	/* Nothing stored at all. */
	memset(&m, 0, sizeof m);
	assert_int_equal(mime_json_summary(&m, &j, &err), PAT_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "From"), "Address")), "");
	assert_int_equal(json_array_size(json_object_get(j, "To")), 0);
	json_decref(j);
}

static void headers_json(void **state)
{
	struct mime_view *v = view_of(handcrafted, sizeof handcrafted - 1);
	struct pat_err err;
	json_t *h, *a;

	(void)state;
	assert_int_equal(mime_json_headers(v, &h, &err), PAT_OK);
	a = json_object_get(h, "Received");
	assert_int_equal(json_array_size(a), 2); /* "received" joins "Received", as in Go */
	assert_string_equal(json_string_value(json_array_get(a, 1)), "from c by d; Wed, 31 Jan 2024 10:15:02 +0100");
	a = json_object_get(h, "Message-Id");
	assert_string_equal(json_string_value(json_array_get(a, 0)), "<abc.123@shop.example>");
	a = json_object_get(h, "Message-Id-Copy");
	assert_string_equal(json_string_value(json_array_get(a, 0)), "folded value");
	/* Raw, not decoded. */
	a = json_object_get(h, "Subject");
	assert_string_equal(json_string_value(json_array_get(a, 0)),
			    "=?utf-8?b?Vm90cmUgZmFjdHVyZSDigqwgMTIz?= =?iso-8859-1?q?_d=E9j=E0_pay=E9e?=");
	json_decref(h);
	/* The view keeps both, in order. */
	assert_string_equal(v->headers[0].name, "Return-Path");
	assert_string_equal(v->headers[5].name, "Subject");
	assert_string_equal(v->headers[5].value, v->subject);
	mime_view_free(v);
}

static void charsets_and_html_only(void **state)
{
	static const char koi8[] = "Subject: t\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n";
	static const char unknown[] = "Subject: t\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\ncaf\xe9\r\n";
	static const char html_only[] =
		"Subject: h\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
		"<html><head><title>T</title><style>p{}</style></head><body><p>Hello&nbsp;&amp; welcome</p>"
		"<p>Line&#32;two &#x263A;</p><script>alert(1)</script></body></html>\r\n";
	struct mime_view *v;

	(void)state;
	v = view_of(koi8, sizeof koi8 - 1);
	assert_string_equal(v->text, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n"); /* Привет */
	mime_view_free(v);
	v = view_of(unknown, sizeof unknown - 1);
	assert_string_equal(v->text, "caf\xc3\xa9\r\n"); /* read as Windows-1252 */
	mime_view_free(v);
	v = view_of(html_only, sizeof html_only - 1);
	assert_contains(v->html, "<p>Hello");
	assert_string_equal(v->text, "Hello & welcome\nLine two \xe2\x98\xba");
	mime_view_free(v);
}

static void junk_never_fails(void **state)
{
	char junk[4096];
	uint32_t x = 12345;
	struct mime_view *v;

	(void)state;
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < sizeof junk; i++) {
			x = x * 1103515245 + 12345;
			junk[i] = (char)(x >> 16);
		}
		if (round % 2)
			memcpy(junk, "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n", 50);
		exercise(junk, sizeof junk, "junk");
		v = view_of(junk, sizeof junk);
		assert_non_null(v->text);
		mime_view_free(v);
	}
	v = view_of("", 0);
	assert_string_equal(v->text, "");
	mime_view_free(v);
	/* Bad base64 and an unknown transfer encoding. */
	{
		static const char bad[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\n"
					  "Content-Disposition: attachment; filename=a.png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
					  "!!!not base64@@@\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-weird\r\n\r\n"
					  "text\r\n--b--\r\n";

		exercise(bad, sizeof bad - 1, "bad");
	}
}

static void part_ids(void **state)
{
	static const char *const good[] = { "0", "1", "2.1", "1.2.3", "10.20.999999" };
	static const char *const bad[] = { "", ".", "1.", ".1", "1..2", "../1", "1/2", "-1", "+1", "01", "1.01", "a",
					   "1 ", " 1", "1234567", "99999999999999999999", "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25.26.27.28.29.30.31.32" };
	uint8_t *data;
	size_t len;
	char *type;
	struct pat_err err;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(mime_part_id_valid(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (mime_part_id_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(mime_part_content(handcrafted, sizeof handcrafted - 1, bad[i], &data, &len, &type, &err), PAT_EINVAL);
		assert_contains(err.msg, "bad part id");
		assert_null(data);
		assert_null(type);
	}
	assert_false(mime_part_id_valid(NULL));
	assert_int_equal(mime_part_content(handcrafted, sizeof handcrafted - 1, "7", &data, &len, &type, &err), PAT_ENOTFOUND);
	/* A message that is not multipart is part 0. */
	{
		static const char pdf[] = "Content-Type: application/pdf; name=x.pdf\r\n\r\n%PDF\r\n";
		struct mime_view *v = view_of(pdf, sizeof pdf - 1);

		assert_int_equal(v->n_attachments, 1);
		assert_string_equal(v->attachments[0].part_id, "0");
		mime_view_free(v);
		assert_int_equal(mime_part_content(pdf, sizeof pdf - 1, "0", &data, &len, &type, &err), PAT_OK);
		assert_string_equal((char *)data, "%PDF\r\n");
		mem_free(data);
		mem_free(type);
	}
}

static void utf8_and_html_helpers(void **state)
{
	char *s;

	(void)state;
	s = mime_utf8_clean("a\xff" "b\0c\xc3\xa9\xed\xa0\x80", 10);
	assert_string_equal(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	mem_free(s);
	s = mime_html_to_text("<div>a</div><div>b <!-- c --> d</div><br>&lt;e&gt; &unknown; &#0;");
	assert_string_equal(s, "a\nb d\n<e> &unknown; \xef\xbf\xbd");
	mem_free(s);
	s = mime_html_to_text("unterminated <b");
	assert_string_equal(s, "unterminated");
	mem_free(s);
}

/* An HTML body with a cid: image, once plainly, once %-escaped and in upper case, and a cid:
 * that names no part. */
static const char related[] =
	"From: a@example.com\r\nTo: b@example.org\r\nSubject: related\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n"
	"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	"<p style=\"color:red\"><img src=\"cid:logo@pat\"><img src='CID:logo%40pat'>"
	"<div style=\"background:url(cid:logo@pat)\"></div><img src=\"cid:nope@pat\"></p>\r\n"
	"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@pat>\r\nContent-Disposition: inline\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\nUGF0\r\n"
	"--rel--\r\n";

/* cid: URLs that name a part become data: URLs of its bytes; the rest stays as it is. */
static void html_with_inline_parts(void **state)
{
	struct mime_view *v = view_of(related, sizeof related - 1);
	struct pat_err err;
	char *html = NULL;

	(void)state;
	assert_int_equal(v->n_inline, 1);
	assert_int_equal(mime_html_inline_parts(related, sizeof related - 1, v, 1024, &html, &err), PAT_OK);
	assert_string_equal(html, "<p style=\"color:red\"><img src=\"data:image/png;base64,UGF0\">"
				  "<img src='data:image/png;base64,UGF0'>"
				  "<div style=\"background:url(data:image/png;base64,UGF0)\"></div>"
				  "<img src=\"cid:nope@pat\"></p>");
	mem_free(html);
	/* A part larger than the limit is left as a cid: URL. */
	assert_int_equal(mime_html_inline_parts(related, sizeof related - 1, v, 2, &html, &err), PAT_OK);
	assert_non_null(strstr(html, "src=\"cid:logo@pat\""));
	assert_null(strstr(html, "data:"));
	mem_free(html);
	for (long n = 0;; n++) {
		int rv;

		mem_fail_after(n, false);
		rv = mime_html_inline_parts(related, sizeof related - 1, v, 1024, &html, &err);
		mem_fail_reset();
		if (rv == PAT_OK) {
			assert_non_null(strstr(html, "base64,UGF0"));
			mem_free(html);
			break;
		}
		assert_int_equal(rv, PAT_ENOMEM);
		assert_null(html);
		assert_true(n < 1000);
	}
	mime_view_free(v);
	/* A message without parts: the body as it is, cid: URLs included. */
	{
		static const char single[] = "Content-Type: text/html\r\n\r\n<img src=\"cid:logo@pat\">\r\n";

		v = view_of(single, sizeof single - 1);
		assert_int_equal(mime_html_inline_parts(single, sizeof single - 1, v, 1024, &html, &err), PAT_OK);
		assert_non_null(strstr(html, "<img src=\"cid:logo@pat\">"));
		assert_string_equal(html, v->html);
		mem_free(html);
		mime_view_free(v);
	}
}

/* Every allocation of a view, its JSON and a part lookup may fail: the answer is PAT_ENOMEM
 * and nothing leaks (LeakSanitizer checks under SANITIZE=1). */
static void allocation_failures(void **state)
{
	struct pat_err err;
	int rv;

	(void)state;
	for (long n = 0;; n++) {
		struct mime_view *v = NULL;

		mem_fail_after(n, false);
		rv = mime_view_parse(handcrafted, sizeof handcrafted - 1, &v, &err);
		mem_fail_reset();
		if (rv == PAT_OK) {
			mime_view_free(v);
			break;
		}
		assert_int_equal(rv, PAT_ENOMEM);
		assert_null(v);
		assert_true(n < 10000);
	}
	for (long n = 0;; n++) {
		uint8_t *data;
		size_t len;
		char *type;

		mem_fail_after(n, false);
		rv = mime_part_content(handcrafted, sizeof handcrafted - 1, "2", &data, &len, &type, &err);
		mem_fail_reset();
		if (rv == PAT_OK) {
			mem_free(data);
			mem_free(type);
			break;
		}
		assert_int_equal(rv, PAT_ENOMEM);
		assert_null(data);
	}
	for (long n = 0; n < 200; n++) {
		char *s;

		mem_fail_after(n, false);
		s = mime_html_to_text("<p>a&amp;b</p><p>c</p>");
		mem_fail_reset();
		if (s != NULL) {
			assert_string_equal(s, "a&b\nc");
			mem_free(s);
			break;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_corpus_message),
		cmocka_unit_test(simple_message),
		cmocka_unit_test(base64_attachment),
		cmocka_unit_test(multipart_nesting),
		cmocka_unit_test(broken_boundary_degrades),
		cmocka_unit_test(handcrafted_message),
		cmocka_unit_test(message_json),
		cmocka_unit_test(summary_json),
		cmocka_unit_test(headers_json),
		cmocka_unit_test(charsets_and_html_only),
		cmocka_unit_test(junk_never_fails),
		cmocka_unit_test(part_ids),
		cmocka_unit_test(utf8_and_html_helpers),
		cmocka_unit_test(html_with_inline_parts),
		cmocka_unit_test(allocation_failures),
	};
	return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
