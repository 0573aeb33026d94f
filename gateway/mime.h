/* mime: a read-only view of one stored message, built with GMime from its raw bytes, in the
 * shape Mailpit's API shows it: decoded headers, the text and HTML bodies in UTF-8, and the
 * attachments and inline parts numbered with Mailpit's part ids; plus the JSON of
 * `GET /api/v1/message/{id}` and `/headers`.
 *
 * Part ids follow Mailpit (which takes them from enmime): the children of the top-level
 * multipart are "1", "2", ...; the children of a nested multipart "1" are "1.1", "1.2", ...
 * (the nested multipart itself becomes "1.0" and is never a part one can fetch); a message
 * that is not multipart is part "0". A message/rfc822 part is one part: its own parts have no
 * ids.
 *
 * Broken MIME never fails: a message GMime cannot read at all, or a multipart whose boundary
 * never appears, becomes a view whose Text is the raw text (invalid UTF-8 replaced with
 * U+FFFD). Every string in a view is valid UTF-8 without NUL bytes. */
#ifndef PAT_GATEWAY_MIME_H
#define PAT_GATEWAY_MIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "node/store.h"

#define MIME_PART_ID_MAX 64 /* the longest part id accepted, with its NUL */
#define MIME_CID_MAX 1000   /* the longest Content-ID a cid: URL is resolved for, with its NUL */

/* One address of an address header. */
struct mime_address {
	char *name;    /* display name, decoded; "" when none */
	char *address; /* addr-spec; "" when none */
};

struct mime_addresses {
	struct mime_address *list;
	size_t n;
};

/* One header line as it appears in the message. */
struct mime_header {
	char *name;    /* as written ("Subject", "X-Mailer") */
	char *raw;     /* the value unfolded (line breaks removed) and trimmed, not decoded */
	char *value;   /* the value with RFC 2047 encoded-words decoded to UTF-8 */
};

/* An attachment or inline part. */
struct mime_part {
	char part_id[MIME_PART_ID_MAX]; /* "2", "1.2" */
	char *file_name;     /* RFC 2231/2047 decoded; the Content-ID when there is no name */
	char *content_type;  /* "image/png": media type only, lower case */
	char *content_id;    /* without the angle brackets; "" when none */
	uint64_t size;       /* bytes after transfer decoding */
	char md5[33], sha1[41], sha256[65]; /* hex checksums of those bytes */
};

struct mime_view {
	struct mime_header *headers;  /* every top-level header, in order */
	size_t n_headers;
	char *subject;                /* decoded; "" when none */
	char *message_id;             /* without angle brackets */
	char *return_path;            /* Return-Path without brackets, else From's address */
	char *date;                   /* the Date header as RFC 3339 ("2001-04-20T19:35:02-04:00"); "" when absent or unreadable */
	struct mime_address from;     /* the first From address ({header, ""} when unparsable) */
	struct mime_addresses to, cc, bcc, reply_to;
	char *list_unsubscribe;       /* List-Unsubscribe, decoded; "" when none */
	char *list_unsubscribe_post;  /* List-Unsubscribe-Post; "" when none */
	char *text;                   /* the first text/plain body (else the HTML as text), UTF-8 */
	char *html;                   /* the first text/html body, UTF-8; "" when none */
	struct mime_part *inline_parts; /* inline images and other parts shown in the body */
	size_t n_inline;
	struct mime_part *attachments;
	size_t n_attachments;
	uint64_t size;                /* bytes of the raw message */
	bool degraded;                /* the MIME structure was unreadable: text is the raw text */
};

/* Initialise GMime once per process, from any thread (the functions below that parse call it). */
void mime_global_init(void);

/* Build the view of raw (len bytes). PAT_ENOMEM is the only failure: broken MIME degrades. */
int mime_view_parse(const void *raw, size_t len, struct mime_view **out, struct pat_err *err);
void mime_view_free(struct mime_view *v);

/* Is part_id of the form Mailpit's part ids take: dot-separated decimal numbers without
 * leading zeros ("0", "1", "2.1.3"), at most MIME_PART_ID_MAX - 1 characters, each number
 * below 1,000,000? */
bool mime_part_id_valid(const char *part_id);

/* The decoded bytes of one part of raw and its media type ("image/png"), both mem_alloc()ed
 * (*data is NUL-terminated, not counted in *len). PAT_EINVAL for a malformed part id,
 * PAT_ENOTFOUND when the message has no such part (a multipart's own ".0" id included),
 * PAT_ENOMEM. */
int mime_part_content(const void *raw, size_t len, const char *part_id, uint8_t **data, size_t *data_len,
		      char **content_type, struct pat_err *err);

/* The view's HTML body with every cid: URL (RFC 2392) that names one of its parts (inline or
 * attached, by Content-ID) replaced by a data: URL of the part's bytes, so that the body shows
 * its own images with nothing fetched from elsewhere. Parts larger than max_part, and cid: URLs
 * that name no part, are left as they are. raw (len bytes) is the message v was parsed from.
 * *out is mem_alloc()ed. PAT_ENOMEM only. */
int mime_html_inline_parts(const void *raw, size_t len, const struct mime_view *v, size_t max_part, char **out,
			   struct pat_err *err);

/* Count what the store's summary columns need: attachments and inline parts as the view lists
 * them. Broken MIME counts zero. The second form takes a message GMime parsed already. */
void mime_count_parts(const void *raw, size_t len, int64_t *attachments, int64_t *inline_parts);
struct _GMimeMessage;
void mime_count_message(struct _GMimeMessage *msg, int64_t *attachments, int64_t *inline_parts);

/* Mailpit's message JSON (GET /api/v1/message/{id}): ID, Tags and Size come from the stored
 * row, Date from the message or, without one, the row's received time. *out is a new
 * reference. PAT_ENOMEM only. */
int mime_json_message(const struct mime_view *v, const struct store_message *m, json_t **out, struct pat_err *err);

/* Mailpit's message summary JSON, an item of the list and search answers (ID, MessageID, Read,
 * From, To, Cc, Bcc, ReplyTo, Subject, Created, Username, Tags, Size, Attachments: a count,
 * Snippet), from the stored row alone: its address columns are parsed back into
 * {Name, Address} lists. */
int mime_json_summary(const struct store_message *m, json_t **out, struct pat_err *err);

/* Mailpit's headers JSON (GET /api/v1/message/{id}/headers): {"Name": ["raw value", ...]},
 * names in canonical form ("Message-Id", "X-Mailer") as Go's net/mail gives them, values
 * unfolded and undecoded, in message order. */
int mime_json_headers(const struct mime_view *v, json_t **out, struct pat_err *err);

/* A text with invalid UTF-8 sequences and NUL bytes replaced by U+FFFD (mem_alloc()ed; NULL
 * on ENOMEM). */
char *mime_utf8_clean(const char *s, size_t len);

/* The text of an HTML body: tags dropped (script and style with their content), block ends as
 * line breaks, entities decoded, runs of blanks collapsed (mem_alloc()ed; NULL on ENOMEM). */
char *mime_html_to_text(const char *html);

#endif
