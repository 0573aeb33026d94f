/* query: see query.h. The tokenizer follows Mailpit's (quotes toggle, spaces split, quotes
 * dropped); the operators are a table. Dates go through GLib's time zones. */
#include "gateway/query.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "lib/units.h"

enum arg { ARG_NONE, ARG_TEXT, ARG_RAW_TEXT, ARG_SIZE, ARG_DATE };

/* One operator: a prefix (ARG_NONE: the whole term) and what follows it. */
static const struct op {
	const char *prefix;
	int kind;     /* enum store_term_kind */
	enum arg arg;
	bool invert;  /* is:unread is "not is:read" */
} ops[] = {
	{ "from:", STORE_TERM_FROM, ARG_TEXT, false },
	{ "to:", STORE_TERM_TO, ARG_TEXT, false },
	{ "cc:", STORE_TERM_CC, ARG_TEXT, false },
	{ "bcc:", STORE_TERM_BCC, ARG_TEXT, false },
	{ "reply-to:", STORE_TERM_REPLY_TO, ARG_TEXT, false },
	{ "addressed:", STORE_TERM_ADDRESSED, ARG_TEXT, false },
	{ "subject:", STORE_TERM_SUBJECT, ARG_RAW_TEXT, false },
	{ "message-id:", STORE_TERM_MESSAGE_ID, ARG_TEXT, false },
	{ "tag:", STORE_TERM_TAG, ARG_TEXT, false },
	{ "is:read", STORE_TERM_READ, ARG_NONE, false },
	{ "is:unread", STORE_TERM_READ, ARG_NONE, true },
	{ "is:tagged", STORE_TERM_TAGGED, ARG_NONE, false },
	{ "has:attachment", STORE_TERM_HAS_ATTACHMENT, ARG_NONE, false },
	{ "has:attachments", STORE_TERM_HAS_ATTACHMENT, ARG_NONE, false },
	{ "has:inline", STORE_TERM_HAS_INLINE, ARG_NONE, false },
	{ "has:inlines", STORE_TERM_HAS_INLINE, ARG_NONE, false },
	{ "larger:", STORE_TERM_LARGER, ARG_SIZE, false },
	{ "smaller:", STORE_TERM_SMALLER, ARG_SIZE, false },
	{ "after:", STORE_TERM_AFTER, ARG_DATE, false },
	{ "before:", STORE_TERM_BEFORE, ARG_DATE, false },
};

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Mailpit's cleaning of an address or id: <>",;() become spaces, blanks collapse, ends
 * trimmed. In place. */
static void clean(char *s)
{
	size_t n = 0;
	bool space = false;

	for (char *p = s; *p != '\0'; p++) {
		if (blank(*p) || strchr("<>\",;()", *p) != NULL) {
			space = n > 0;
			continue;
		}
		if (space)
			s[n++] = ' ';
		space = false;
		s[n++] = *p;
	}
	s[n] = '\0';
}

/* Does free text hold anything the full-text index would see (a letter, a digit, anything
 * beyond ASCII)? */
static bool has_word(const char *s)
{
	for (; *s != '\0'; s++)
		if (g_ascii_isalnum(*s) || (unsigned char)*s >= 0x80)
			return true;
	return false;
}

static int month_of(const char *name)
{
	static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
					      "jul", "aug", "sep", "oct", "nov", "dec" };

	if (strlen(name) < 3)
		return 0;
	for (int i = 0; i < 12; i++)
		if (g_ascii_strncasecmp(name, months[i], 3) == 0)
			return i + 1;
	return 0;
}

/* A time zone offset at s ("Z", "+01:00", "-0530"): seconds in *off, characters in *used. */
static bool parse_offset(const char *s, int *off, int *used)
{
	int h, m, n = 0;

	if (*s == 'Z' || *s == 'z') {
		*off = 0, *used = 1;
		return true;
	}
	if ((*s == '+' || *s == '-') && (sscanf(s + 1, "%2d:%2d%n", &h, &m, &n) == 2 || sscanf(s + 1, "%2d%2d%n", &h, &m, &n) == 2) &&
	    h <= 14 && m < 60) {
		*off = (*s == '-' ? -1 : 1) * (h * 3600 + m * 60);
		*used = n + 1;
		return true;
	}
	return false;
}

/* A date or date-time as milliseconds since the epoch; false when it is not one. */
static bool parse_date(const char *s, GTimeZone *tz, int64_t *ms)
{
	int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0, frac_ms = 0;
	char month[16], sep;
	const char *rest;
	GTimeZone *own_tz = NULL;
	GDateTime *dt;
	bool ok = true;

	if (strspn(s, "0123456789") == strlen(s) && (strlen(s) == 10 || strlen(s) == 13)) {
		*ms = g_ascii_strtoll(s, NULL, 10) * (strlen(s) == 10 ? 1000 : 1);
		return true;
	}
	if (sscanf(s, "%4d%c%2d%c%2d%n", &y, &sep, &mo, &month[0], &d, &n) == 5 && (sep == '-' || sep == '/') && month[0] == sep &&
	    n == 10) {
		/* 2024-01-31 or 2024/01/31 */
	} else if (n = 0, sscanf(s, "%2d %15[A-Za-z] %4d%n", &d, month, &y, &n) == 3 && (mo = month_of(month)) > 0) {
		/* 31 Jan 2024 */
	} else if (n = 0, sscanf(s, "%15[A-Za-z] %2d, %4d%n", month, &d, &y, &n) == 3 && (mo = month_of(month)) > 0) {
		/* Jan 31, 2024 */
	} else if (n = 0, sscanf(s, "%15[A-Za-z] %2d %4d%n", month, &d, &y, &n) == 3 && (mo = month_of(month)) > 0) {
		/* Jan 31 2024 */
	} else {
		return false;
	}
	rest = s + n;
	if (*rest == 'T' || *rest == 't' || *rest == ' ') {
		int k = 0;

		if (sscanf(rest + 1, "%2d:%2d%n", &h, &mi, &k) != 2 || k != 5)
			return false;
		rest += 1 + k;
		if (*rest == ':') {
			if (sscanf(rest + 1, "%2d%n", &sec, &k) != 1 || k != 2)
				return false;
			rest += 1 + k;
			if (*rest == '.') {
				int digits = 0;

				for (rest++; g_ascii_isdigit(*rest); rest++, digits++)
					if (digits < 3)
						frac_ms = frac_ms * 10 + (*rest - '0');
				for (; digits < 3 && digits > 0; digits++)
					frac_ms *= 10;
			}
		}
		if (*rest != '\0') {
			int off, used;

			if (*rest == ' ')
				rest++;
			if (!parse_offset(rest, &off, &used) || rest[used] != '\0')
				return false;
			own_tz = g_time_zone_new_offset(off);
			rest += used;
		}
	}
	if (*rest != '\0' || y < 1970 || y > 9999 || h > 23 || mi > 59 || sec > 59) {
		ok = false;
	} else {
		dt = g_date_time_new(own_tz != NULL ? own_tz : tz, y, mo, d, h, mi, sec);
		if (dt == NULL || g_date_time_get_day_of_month(dt) != d) {
			ok = false;
		} else {
			*ms = g_date_time_to_unix(dt) * 1000 + frac_ms;
		}
		if (dt != NULL)
			g_date_time_unref(dt);
	}
	if (own_tz != NULL)
		g_time_zone_unref(own_tz);
	return ok;
}

void query_free(struct query *q)
{
	mem_free(q->text);
	q->text = NULL;
	q->filter.n = 0;
}

/* The term text at *pos (quotes dropped) into out; *raw_len gets the span it took. */
static int next_token(const char *s, size_t *pos, char *out, size_t *raw_start, size_t *raw_len, bool *negate)
{
	size_t i = *pos, n = 0;
	bool quoted = false;

	while (blank(s[i]))
		i++;
	*raw_start = i;
	*negate = false;
	if (s[i] == '\0')
		return 0;
	if ((s[i] == '-' || s[i] == '!') && s[i + 1] != '\0' && !blank(s[i + 1])) {
		*negate = true;
		i++;
	}
	for (; s[i] != '\0' && (quoted || !blank(s[i])); i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	*raw_len = i - *raw_start;
	*pos = i;
	return quoted ? -1 : 1;
}

int query_parse(const char *search, const char *tz, struct query *q, struct pat_err *err)
{
	GTimeZone *zone;
	char *out;
	size_t pos = 0, len = search != NULL ? strlen(search) : 0;
	int rv = PAT_OK;

	memset(q, 0, sizeof *q);
	q->filter.terms = q->terms;
	if (search == NULL)
		search = "";
	if (tz != NULL && tz[0] != '\0') {
		if ((zone = g_time_zone_new_identifier(tz)) == NULL)
			return err_set(err, PAT_EINVAL, "unknown time zone \"%.64s\": expected a name like Europe/Paris", tz);
	} else {
		zone = g_time_zone_new_utc();
	}
	/* Each term's text is at most its raw length, plus a NUL. */
	if ((q->text = mem_alloc(2 * len + 2)) == NULL) {
		g_time_zone_unref(zone);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	out = q->text;
	for (;;) {
		size_t raw_start, raw_len;
		bool negate;
		int got = next_token(search, &pos, out, &raw_start, &raw_len, &negate);
		const struct op *op = NULL;
		struct store_term *t;
		char *value;

		if (got == 0)
			break;
		if (got < 0) {
			rv = err_set(err, PAT_EINVAL, "unterminated quote in \"%.*s\"", (int)(raw_len < 80 ? raw_len : 80),
				     search + raw_start);
			break;
		}
		if (out[0] == '\0')
			continue;
		for (size_t i = 0; i < sizeof ops / sizeof ops[0] && op == NULL; i++) {
			if (ops[i].arg == ARG_NONE ? g_ascii_strcasecmp(out, ops[i].prefix) == 0
						   : g_ascii_strncasecmp(out, ops[i].prefix, strlen(ops[i].prefix)) == 0)
				op = &ops[i];
		}
		value = op != NULL && op->arg != ARG_NONE ? out + strlen(op->prefix) : out;
		if (op == NULL || op->arg == ARG_TEXT)
			clean(value);
		else if (op->arg != ARG_NONE)
			str_trim(value);
		/* Nothing to look for: "to:" alone, or text with no word in it. */
		if ((op != NULL && op->arg != ARG_NONE && value[0] == '\0') || (op == NULL && !has_word(value)))
			continue;
		if (q->filter.n == STORE_FILTER_MAX_TERMS) {
			rv = err_set(err, PAT_EINVAL, "too many search terms: at most %d", STORE_FILTER_MAX_TERMS);
			break;
		}
		t = &q->terms[q->filter.n];
		*t = (struct store_term){ op != NULL ? op->kind : STORE_TERM_TEXT, negate != (op != NULL && op->invert), NULL, 0 };
		if (op == NULL || op->arg == ARG_TEXT || op->arg == ARG_RAW_TEXT) {
			t->text = value;
		} else if (op->arg == ARG_SIZE) {
			uint64_t bytes;

			if (units_parse_size(value, &bytes) != PAT_OK || bytes > INT64_MAX) {
				rv = err_set(err, PAT_EINVAL,
					     "bad size in \"%.*s\": expected a number and an optional unit (K, KB, M, MB, G, GB), like 2M or 1.5MB",
					     (int)(raw_len < 80 ? raw_len : 80), search + raw_start);
				break;
			}
			t->number = (int64_t)bytes;
		} else if (op->arg == ARG_DATE) {
			if (!parse_date(value, zone, &t->number)) {
				rv = err_set(err, PAT_EINVAL,
					     "bad date in \"%.*s\": expected a date like 2024-01-31, \"2024-01-31 15:04\" or 2024-01-31T15:04:05Z",
					     (int)(raw_len < 80 ? raw_len : 80), search + raw_start);
				break;
			}
		}
		q->filter.n++;
		out = value + strlen(value) + 1;
	}
	g_time_zone_unref(zone);
	if (rv != PAT_OK)
		query_free(q);
	return rv;
}
