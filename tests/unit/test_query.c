/* Unit tests for gateway/query (Mailpit's search syntax) and the SQL the store makes of a
 * filter (store_where_build): every operator, quoting, negation, case, bad input. */
#include "tests/lib/testutil.h"

#include <string.h>

#include "gateway/query.h"
#include "lib/err.h"
#include "lib/mem.h"

static void parse_ok(const char *search, struct query *q)
{
	struct pat_err err;

	if (query_parse(search, NULL, q, &err) != PAT_OK)
		fail_msg("\"%s\": %s", search != NULL ? search : "(null)", err.msg);
}

static void expect_term(const struct query *q, size_t i, int kind, bool negate, const char *text)
{
	assert_true(i < q->filter.n);
	assert_int_equal(q->filter.terms[i].kind, kind);
	assert_int_equal(q->filter.terms[i].negate, negate);
	if (text != NULL)
		assert_string_equal(q->filter.terms[i].text, text);
}

static void words_and_phrases(void **state)
{
	struct query q;

	(void)state;
	parse_ok("  invoice   paid ", &q);
	assert_int_equal(q.filter.n, 2);
	expect_term(&q, 0, STORE_TERM_TEXT, false, "invoice");
	expect_term(&q, 1, STORE_TERM_TEXT, false, "paid");
	query_free(&q);
	parse_ok("\"exact phrase here\" -\"not this\" !that", &q);
	assert_int_equal(q.filter.n, 3);
	expect_term(&q, 0, STORE_TERM_TEXT, false, "exact phrase here");
	expect_term(&q, 1, STORE_TERM_TEXT, true, "not this");
	expect_term(&q, 2, STORE_TERM_TEXT, true, "that");
	query_free(&q);
	/* A lone - or ! is text (Mailpit's rule: negation needs more after it); text without a
	 * word is skipped; an empty search matches everything. */
	parse_ok("- ! \"\" ,,, ;", &q);
	assert_int_equal(q.filter.n, 0);
	query_free(&q);
	parse_ok(NULL, &q);
	assert_int_equal(q.filter.n, 0);
	query_free(&q);
	/* An unknown prefix is text, whole, as in Mailpit. */
	parse_ok("x:y foo:bar", &q);
	assert_int_equal(q.filter.n, 2);
	expect_term(&q, 0, STORE_TERM_TEXT, false, "x:y");
	expect_term(&q, 1, STORE_TERM_TEXT, false, "foo:bar");
	query_free(&q);
}

static void address_operators(void **state)
{
	static const struct {
		const char *search;
		int kind;
		const char *text;
	} cases[] = {
		{ "from:alice@example.com", STORE_TERM_FROM, "alice@example.com" },
		{ "FROM:<Alice@Example.com>", STORE_TERM_FROM, "Alice@Example.com" },
		{ "to:bob", STORE_TERM_TO, "bob" },
		{ "cc:carol", STORE_TERM_CC, "carol" },
		{ "bcc:dave", STORE_TERM_BCC, "dave" },
		{ "reply-to:help@x", STORE_TERM_REPLY_TO, "help@x" },
		{ "Addressed:team", STORE_TERM_ADDRESSED, "team" },
		{ "subject:\"Your invoice, sir\"", STORE_TERM_SUBJECT, "Your invoice, sir" },
		{ "message-id:<abc@x>", STORE_TERM_MESSAGE_ID, "abc@x" },
		{ "tag:Urgent", STORE_TERM_TAG, "Urgent" },
		{ "to:\"Dana Scully\"", STORE_TERM_TO, "Dana Scully" },
	};
	struct query q;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		parse_ok(cases[i].search, &q);
		assert_int_equal(q.filter.n, 1);
		expect_term(&q, 0, cases[i].kind, false, cases[i].text);
		query_free(&q);
	}
	parse_ok("-from:spam !to:bob to: from:", &q); /* an operator with nothing after it is ignored */
	assert_int_equal(q.filter.n, 2);
	expect_term(&q, 0, STORE_TERM_FROM, true, "spam");
	expect_term(&q, 1, STORE_TERM_TO, true, "bob");
	query_free(&q);
}

static void flags(void **state)
{
	struct query q;

	(void)state;
	parse_ok("is:read IS:UNREAD -is:unread is:tagged has:attachment has:Attachments has:inline !has:inlines", &q);
	assert_int_equal(q.filter.n, 8);
	expect_term(&q, 0, STORE_TERM_READ, false, NULL);
	expect_term(&q, 1, STORE_TERM_READ, true, NULL);
	expect_term(&q, 2, STORE_TERM_READ, false, NULL);
	expect_term(&q, 3, STORE_TERM_TAGGED, false, NULL);
	expect_term(&q, 4, STORE_TERM_HAS_ATTACHMENT, false, NULL);
	expect_term(&q, 5, STORE_TERM_HAS_ATTACHMENT, false, NULL);
	expect_term(&q, 6, STORE_TERM_HAS_INLINE, false, NULL);
	expect_term(&q, 7, STORE_TERM_HAS_INLINE, true, NULL);
	query_free(&q);
	/* Unknown flags are text. */
	parse_ok("is:starred", &q);
	expect_term(&q, 0, STORE_TERM_TEXT, false, "is:starred");
	query_free(&q);
}

static void sizes(void **state)
{
	struct query q;

	(void)state;
	parse_ok("larger:2M smaller:1.5MB larger:500k smaller:1024 larger:\"3 KB\" -larger:1G", &q);
	assert_int_equal(q.filter.n, 6);
	expect_term(&q, 0, STORE_TERM_LARGER, false, NULL);
	assert_int_equal(q.filter.terms[0].number, 2 * 1024 * 1024);
	assert_int_equal(q.filter.terms[1].number, 1536 * 1024);
	assert_int_equal(q.filter.terms[2].number, 500 * 1024);
	assert_int_equal(q.filter.terms[3].number, 1024);
	assert_int_equal(q.filter.terms[4].number, 3 * 1024);
	expect_term(&q, 5, STORE_TERM_LARGER, true, NULL);
	assert_int_equal(q.filter.terms[5].number, 1024 * 1024 * 1024);
	query_free(&q);
}

static void dates(void **state)
{
	static const struct {
		const char *search, *tz;
		int64_t ms;
	} cases[] = {
		{ "after:2024-01-31", NULL, 1706659200000 },
		{ "AFTER:2024/01/31", "", 1706659200000 },
		{ "before:\"2024-01-31 10:30\"", NULL, 1706697000000 },
		{ "before:2024-01-31T10:30:15z", NULL, 1706697015000 },
		{ "before:2024-01-31T10:30:15.250+01:00", NULL, 1706693415250 },
		{ "after:2024-01-31", "Europe/Paris", 1706655600000 },
		{ "after:2024-07-01", "America/New_York", 1719806400000 },
		{ "after:\"31 Jan 2024\"", NULL, 1706659200000 },
		{ "after:\"Jan 31, 2024\"", NULL, 1706659200000 },
		{ "after:\"january 31 2024\"", NULL, 1706659200000 },
		{ "after:1706659200", NULL, 1706659200000 },
		{ "after:1706659200123", NULL, 1706659200123 },
	};
	struct query q;
	struct pat_err err;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (query_parse(cases[i].search, cases[i].tz, &q, &err) != PAT_OK)
			fail_msg("%s: %s", cases[i].search, err.msg);
		assert_int_equal(q.filter.n, 1);
		if (q.filter.terms[0].number != cases[i].ms)
			fail_msg("%s: %lld, expected %lld", cases[i].search, (long long)q.filter.terms[0].number,
				 (long long)cases[i].ms);
		query_free(&q);
	}
	parse_ok("-before:2024-01-31", &q);
	expect_term(&q, 0, STORE_TERM_BEFORE, true, NULL);
	query_free(&q);
}

static void bad_input(void **state)
{
	static const struct {
		const char *search, *tz, *message;
	} cases[] = {
		{ "subject:\"unclosed phrase", NULL, "unterminated quote in \"subject:\"unclosed phrase\"" },
		{ "ok \"", NULL, "unterminated quote in \"\"\"" },
		{ "larger:2X", NULL, "bad size in \"larger:2X\"" },
		{ "smaller:-5", NULL, "bad size in \"smaller:-5\"" },
		{ "larger:lots", NULL, "bad size in \"larger:lots\"" },
		{ "larger:99999999999999999999", NULL, "bad size in \"larger:99999999999999999999\"" },
		{ "after:2024-13-01", NULL, "bad date in \"after:2024-13-01\"" },
		{ "after:2024-02-30", NULL, "bad date in \"after:2024-02-30\"" },
		{ "before:yesterday", NULL, "bad date in \"before:yesterday\"" },
		{ "before:\"2024-01-31 25:00\"", NULL, "bad date in \"before:\"2024-01-31 25:00\"\"" },
		{ "-before:2024-01-31T10:00+99:00", NULL, "bad date in \"-before:2024-01-31T10:00+99:00\"" },
		{ "before:2024-01-31junk", NULL, "bad date in \"before:2024-01-31junk\"" },
		{ "after:2024-01-31", "Mars/Olympus_Mons", "unknown time zone \"Mars/Olympus_Mons\"" },
	};
	struct query q;
	struct pat_err err;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (query_parse(cases[i].search, cases[i].tz, &q, &err) != PAT_EINVAL)
			fail_msg("\"%s\" accepted", cases[i].search);
		assert_contains(err.msg, cases[i].message);
		assert_null(q.text);
	}
	{
		char many[400] = "";

		for (int i = 0; i <= STORE_FILTER_MAX_TERMS; i++)
			strcat(many, "w ");
		assert_int_equal(query_parse(many, NULL, &q, &err), PAT_EINVAL);
		assert_contains(err.msg, "too many search terms");
	}
}

static void allocation_failure(void **state)
{
	struct query q;
	struct pat_err err;

	(void)state;
	mem_fail_after(0, false);
	assert_int_equal(query_parse("a b c", NULL, &q, &err), PAT_ENOMEM);
	mem_fail_reset();
}

/* The SQL of a filter holds placeholders, never the user's text; free text is quoted for FTS5. */
static void where_sql(void **state)
{
	static const char search[] = "it's \"a \"\"b\" from:x'); DROP TABLE messages;-- -subject:s% tag:t"
				     " addressed:a is:read -has:inline larger:1K before:2024-01-31";
	struct query q;
	struct store_where w;
	struct pat_err err;

	(void)state;
	parse_ok(search, &q);
	assert_int_equal(store_where_build(&q.filter, &w, &err), PAT_OK);
	assert_not_contains(w.sql.data, "DROP");
	assert_not_contains(w.sql.data, "it's");
	assert_not_contains(w.sql.data, "%");
	assert_contains(w.sql.data, "messages_fts MATCH ?");
	assert_not_contains(w.sql.data, "subject"); /* subject: is a column of the full-text query */
	assert_contains(w.sql.data, "NOT (inline_parts > 0)");
	/* Every full-text term is in ONE FTS5 query, the first parameter, and the rest follows. */
	assert_string_equal(w.fts, "(\"it's\") AND (\"a b\") AND (\"DROP\") AND (\"TABLE\") AND (\"messages --\")"
				   " NOT (subject : \"s%\")");
	assert_ptr_equal(w.params[0].bytes.ptr, w.fts);
	assert_string_equal(w.rest.data, "(instr(lower(from_hdr), lower(?)) > 0) AND (instr(',' || lower(tags) || ',', ',' || lower(?) || ',') > 0)"
					 " AND ((instr(lower(from_hdr), lower(?)) > 0 OR instr(lower(to_hdr), lower(?)) > 0 OR instr(lower(cc_hdr), lower(?)) > 0"
					 " OR instr(lower(bcc_hdr), lower(?)) > 0 OR instr(lower(reply_to), lower(?)) > 0)) AND (is_read <> 0)"
					 " AND NOT (inline_parts > 0) AND (size > ?) AND (received_at < ?)");
	/* the FTS5 query | from | tag | addressed (5) | larger | before */
	assert_int_equal(w.n_params, 1 + 1 + 1 + 5 + 1 + 1);
	assert_string_equal(w.params[1].bytes.ptr, "x'");
	assert_int_equal(w.params[w.n_params - 1].integer, 1706659200000);
	assert_int_equal(w.params[w.n_params - 2].integer, 1024);
	store_where_free(&w);
	query_free(&q);
	/* A double quote inside a term reaches FTS5 doubled; a trailing '*' makes a prefix. */
	{
		struct store_term t[] = { { STORE_TERM_TEXT, false, "say \"hi\"", 0 }, { STORE_TERM_SUBJECT, false, "invo*", 0 },
					  { STORE_TERM_TEXT, false, "*", 0 } };
		struct store_filter f = { t, 3 };

		assert_int_equal(store_where_build(&f, &w, &err), PAT_OK);
		assert_string_equal(w.params[0].bytes.ptr, "(\"say \"\"hi\"\"\") AND (subject : \"invo\" *) AND (\"\")");
		assert_string_equal(w.rest.data, "1");
		store_where_free(&w);
	}
	/* Full-text terms that are all negated: each its own condition, no FTS5 query to drive. */
	{
		struct store_term t[] = { { STORE_TERM_TEXT, true, "spam", 0 }, { STORE_TERM_SUBJECT, true, "ad", 0 } };
		struct store_filter f = { t, 2 };

		assert_int_equal(store_where_build(&f, &w, &err), PAT_OK);
		assert_null(w.fts);
		assert_string_equal(w.sql.data, "NOT (seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)) AND"
						" NOT (seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?))");
		assert_int_equal(w.n_params, 2);
		assert_string_equal(w.params[0].bytes.ptr, "\"spam\"");
		assert_string_equal(w.params[1].bytes.ptr, "subject : \"ad\"");
		store_where_free(&w);
	}
	/* No filter: everything. */
	assert_int_equal(store_where_build(NULL, &w, &err), PAT_OK);
	assert_string_equal(w.sql.data, "1");
	assert_int_equal(w.n_params, 0);
	store_where_free(&w);
	{
		struct store_term t = { STORE_TERM_FROM, false, "", 0 };
		struct store_filter f = { &t, 1 };

		assert_int_equal(store_where_build(&f, &w, &err), PAT_EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(words_and_phrases),
		cmocka_unit_test(address_operators),
		cmocka_unit_test(flags),
		cmocka_unit_test(sizes),
		cmocka_unit_test(dates),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(allocation_failure),
		cmocka_unit_test(where_sql),
	};
	return cmocka_run_group_tests_name("query", tests, NULL, NULL);
}
