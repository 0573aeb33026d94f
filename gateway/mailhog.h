/* mailhog: stored messages in the shape MailHog's API gives them (MailHog-data's Message), so
 * that MailHog's clients read Pat's mail unchanged.
 *
 * The raw message is split as MailHog splits it, so that clients see the same values: headers
 * and body at the first blank line, folded header lines joined without their line break, a
 * multipart body cut at its boundary into top-level parts (parts without headers, such as the
 * preamble, left out), and a nested multipart part carrying its own MIME. Bodies are not
 * decoded (clients decode them). */
#ifndef PAT_GATEWAY_MAILHOG_H
#define PAT_GATEWAY_MAILHOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "node/store.h"

/* The message as MailHog's Message: {ID, From, To, Content, Created, MIME, Raw}. raw is the
 * decompressed raw message. NULL on ENOMEM. */
json_t *mailhog_message(const struct store_message *m, const char *raw, size_t len);

/* A MIME part for download. */
struct mailhog_part {
	char *content_type; /* the part's Content-Type, or NULL when it has none (mem_free) */
	uint8_t *data;      /* the body, base64-decoded when the part says it is base64 (mem_free) */
	size_t len;
};

/* Part n (0 = the first) of the message's top-level MIME parts, as MailHog numbers them:
 * PAT_ENOTFOUND when the message is not multipart or has fewer parts. */
int mailhog_part(const char *raw, size_t len, unsigned n, struct mailhog_part *out, struct pat_err *err);
void mailhog_part_free(struct mailhog_part *p);

#endif
