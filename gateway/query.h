/* query: Mailpit's search syntax parsed into a store filter (node/store.h), for
 * GET/DELETE /api/v1/search and PUT /api/v1/messages {Search}.
 *
 * The syntax, as Mailpit reads it: terms separated by spaces, all of which must hold; double
 * quotes group words into one term ("exact phrase", subject:"two words") and are dropped; a
 * term that starts with - or ! outside quotes is negated. Operators, in any case:
 *
 *   from: to: cc: bcc: reply-to:    a substring of that address header
 *   addressed:                      a substring of any of the five
 *   subject:                        words of the subject, as free text
 *   message-id:                     a substring of the Message-ID
 *   tag:                            a tag, whole
 *   is:read is:unread is:tagged has:attachment(s) has:inline(s)
 *   larger:SIZE smaller:SIZE        2M, 1.5MB, 500K, 1024 (binary multiples)
 *   after:DATE before:DATE          2024-01-31, 2024/01/31, "2024-01-31 15:04[:05]",
 *                                   2024-01-31T15:04:05[Z|+01:00], "31 Jan 2024",
 *                                   "Jan 31, 2024", a Unix time in seconds (10 digits) or
 *                                   milliseconds (13); in the tz given (default UTC) unless
 *                                   the date carries its own offset
 *
 * Anything else, an unknown "x:" prefix included, is free text (Mailpit does the same):
 * words found in the subject, addresses or body, whole but stemmed ("teapot" finds "teapots"),
 * and a prefix when it ends in '*' ("invo*" finds "invoice"). An operator with nothing
 * after it ("to:") is ignored, as in Mailpit. Unlike Mailpit, which ignores a date it cannot
 * read and searches for a size it cannot read as text, a bad date or size is an error naming
 * the term, as is an unterminated quote. */
#ifndef PAT_GATEWAY_QUERY_H
#define PAT_GATEWAY_QUERY_H

#include "lib/err.h"
#include "node/store.h"

struct query {
	struct store_filter filter;                       /* what the store takes */
	struct store_term terms[STORE_FILTER_MAX_TERMS];  /* filter.terms points here */
	char *text;                                       /* the terms' texts (owned) */
};

/* Parse search (NULL or blank: every message) with dates read in the IANA time zone tz (NULL
 * or "": UTC). PAT_EINVAL with a message naming the bad term; PAT_ENOMEM. q needs query_free()
 * only after PAT_OK. */
int query_parse(const char *search, const char *tz, struct query *q, struct pat_err *err);
void query_free(struct query *q);

#endif
