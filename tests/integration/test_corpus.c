/* Corpus round trip: every message of ../shared/corpus, sent to `pat serve` by two real
 * clients (Python's smtplib and swaks), is stored byte for byte apart from the trace header
 * Pat adds in front, and its stored summary (subject, From, To, Cc, Message-ID, attachment
 * count) matches what Python's email package reads from the same file. */
#include "tests/lib/testutil.h"
#include "tests/lib/serve.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/leader.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "node/store.h"

static struct buf problems = BUF_INIT; /* every mismatch, reported together */
static struct ts_serve serve;

static int setup(void **state)
{
	(void)state;
	ts_serve_init(&serve, false);
	ts_serve_start(&serve, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ts_serve_close(&serve);
	return 0;
}

/* Where Pat's reading of a broken message deliberately differs from Python's, with the value
 * Pat must show and why. Anything not listed must match. */
static const struct {
	const char *file;
	long long attachments;
	const char *why;
} differs[] = {
	{ "msg_15.txt", 1,
	  "its multipart/alternative reuses the boundary of the multipart/mixed around it: Python's parser"
	  " ends the outer part at the inner one's first boundary and never reaches the image/gif marked"
	  " Content-Disposition: attachment; GMime reads the structure a reader sees, with the attachment" },
};

static long long expected_attachments(const char *file, long long python)
{
	for (size_t i = 0; i < sizeof differs / sizeof differs[0]; i++)
		if (strcmp(differs[i].file, file) == 0)
			return differs[i].attachments;
	return python;
}

/* Whitespace runs as one space, trimmed: header folding is not content. */
static void squeeze(const char *in, char *out, size_t n)
{
	size_t k = 0;
	bool space = false;

	for (; *in != '\0' && k + 2 < n; in++) {
		if (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n') {
			space = k > 0;
			continue;
		}
		if (space)
			out[k++] = ' ';
		space = false;
		out[k++] = *in;
	}
	out[k] = '\0';
}

static void check_addresses(const char *file, const char *client, const char *header, json_t *want, const char *got)
{
	size_t i;
	json_t *a;

	if (json_array_size(want) == 0 && got != NULL && got[0] != '\0')
		buf_printf(&problems, "%s via %s: %s is \"%s\" in Pat, empty for Python\n", file, client, header, got);
	json_array_foreach(want, i, a) {
		if (got == NULL || strcasestr(got, json_string_value(a)) == NULL)
			buf_printf(&problems, "%s via %s: %s lacks %s (Pat has \"%s\")\n", file, client, header,
				   json_string_value(a), got ? got : "");
	}
}

static void corpus_round_trips_with_real_clients(void **state)
{
	char corpus[4096], script[4096], port[16];
	const char *argv[] = { "/usr/bin/python3", script, "127.0.0.1", port, corpus, NULL };
	struct tu_proc p;
	struct dq_leader l;
	int deliveries = 0;
	char *line, *save = NULL;

	(void)state;
	snprintf(corpus, sizeof corpus, "%s/../shared/corpus/cpython-email", tu_source_dir());
	snprintf(script, sizeof script, "%s/tests/integration/corpus_send.py", tu_source_dir());
	snprintf(port, sizeof port, "%d", serve.smtp_port);
	tu_run(&p, argv, NULL, NULL);
	if (p.status != 0)
		fail_msg("corpus_send.py failed (%d): %s", p.status, p.err);
	assert_int_equal(dq_leader_init(&l, serve.node_address, "pat", 5000, 10000), PAT_OK);
	for (line = strtok_r(p.out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = json_loads(line, 0, NULL), *sum;
		const char *file, *client, *id;
		char path[4400], a[2048], b[2048];
		struct store_row row;
		struct pat_err err;
		struct buf want = BUF_INIT;
		uint8_t *raw;
		size_t len, rlen, from;
		char *text;

		assert_non_null(j);
		file = json_string_value(json_object_get(j, "file"));
		client = json_string_value(json_object_get(j, "client"));
		id = json_string_value(json_object_get(j, "id"));
		sum = json_object_get(j, "summary");
		if (store_get(&l, "default", id, &row, &err) != PAT_OK)
			fail_msg("%s via %s: %s not stored: %s", file, client, id, err.msg);
		/* Byte for byte: what a client sends is the file with CRLF line ends, ending in one. */
		snprintf(path, sizeof path, "%s/%s", corpus, file);
		text = tu_read_file(path, &len);
		/* swaks leaves out an mbox "From " separator line at the top: it is not part of the
		 * message, and swaks does not send it. */
		from = 0;
		if (strcmp(client, "swaks") == 0 && strncmp(text, "From ", 5) == 0 && strchr(text, '\n') != NULL)
			from = (size_t)(strchr(text, '\n') - text) + 1;
		for (size_t i = from; i < len; i++) {
			if (text[i] == '\n' && (i == from || text[i - 1] != '\r'))
				buf_append_char(&want, '\r');
			buf_append_char(&want, text[i]);
		}
		if (len > 0 && text[len - 1] != '\n')
			buf_append_str(&want, "\r\n");
		/* swaks always ends the data with a CRLF of its own before the final dot: one more
		 * (empty) line, which is part of what it sent. */
		if (strcmp(client, "swaks") == 0)
			buf_append_str(&want, "\r\n");
		assert_int_equal(store_unpack_raw(row.m.raw, row.m.raw_len, 1 << 24, &raw, &rlen, &err), PAT_OK);
		if (strncmp((char *)raw, "Received: ", 10) != 0 || rlen <= want.len ||
		    memcmp(raw + rlen - want.len, want.data, want.len) != 0)
			fail_msg("%s via %s was not stored byte for byte", file, client);
		/* Pat's summary against Python's. */
		squeeze(json_string_value(json_object_get(sum, "subject")), a, sizeof a);
		squeeze(row.m.subject ? row.m.subject : "", b, sizeof b);
		if (strcmp(a, b) != 0)
			buf_printf(&problems, "%s via %s: subject \"%s\" in Pat, \"%s\" for Python\n", file, client, b, a);
		check_addresses(file, client, "From", json_object_get(sum, "from"), row.m.from);
		check_addresses(file, client, "To", json_object_get(sum, "to"), row.m.to);
		check_addresses(file, client, "Cc", json_object_get(sum, "cc"), row.m.cc);
		if (strcmp(json_string_value(json_object_get(sum, "message_id")), row.m.message_id ? row.m.message_id : "") != 0)
			buf_printf(&problems, "%s via %s: Message-ID \"%s\" in Pat, \"%s\" for Python\n", file, client,
				 row.m.message_id ? row.m.message_id : "", json_string_value(json_object_get(sum, "message_id")));
		if (row.m.attachments != expected_attachments(file, json_integer_value(json_object_get(sum, "attachments"))))
			buf_printf(&problems, "%s via %s: %lld attachments in Pat, %lld for Python\n", file, client,
				   (long long)row.m.attachments, (long long)json_integer_value(json_object_get(sum, "attachments")));
		mem_free(raw);
		store_row_free(&row);
		buf_free(&want);
		free(text);
		json_decref(j);
		deliveries++;
	}
	dq_leader_close(&l);
	tu_proc_free(&p);
	print_message("%d deliveries checked\n", deliveries);
	if (problems.len > 0)
		fail_msg("Pat's summary differs from Python's email package:\n%s", buf_str(&problems));
	assert_true(deliveries >= 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus_round_trips_with_real_clients),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
