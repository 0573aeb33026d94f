/* ingest: what happens to a message between the end of DATA and the 250: a Received trace
 * header, a summary of its headers (GMime), zstd compression, and the group-commit writer.
 * The SMTP reply waits for the commit. */
#ifndef PAT_GATEWAY_INGEST_H
#define PAT_GATEWAY_INGEST_H

#include "gateway/smtp.h"
#include "gateway/tenants.h"
#include "lib/ulid.h"
#include "node/writer.h"

struct ingest {
	struct writer *writer;  /* where messages go */
	const char *tenant;     /* the listener's tenant */
	const struct tenant_map *domains; /* recipient domains of other tenants, or NULL */
	const char *hostname;   /* for the Received header */
	const char *region;     /* recorded on each message */
	const char *gateway;    /* this gateway's name */
	/* Told of each message once it is committed (on the writer thread; must not block), or
	 * NULL: live events. */
	void (*stored)(void *data, const char *tenant, const char *id);
	void *stored_data;
};

/* Store a message that did not come over SMTP (Mailpit's POST /api/v1/send) the way SMTP's
 * are stored: a Received header (`via`, "HTTP"), the same summary, the group-commit writer;
 * returns once the commit's outcome is known, with the id in id. Blocks: call it from a
 * worker thread, never the loop. The tenant is the caller's; mail_from and rcpt_to make the
 * envelope (rcpt_to comma-separated). PAT_ECLOSED when the writer is stopping, PAT_ELIMIT when
 * its queue stays full, or the commit's error. */
int ingest_submit(struct ingest *in, const char *tenant, const char *peer, const char *mail_from, const char *rcpt_to,
		  const void *data, size_t len, char id[ULID_SIZE], struct pat_err *err);

#define INGEST_TAG_MAX 100 /* bytes of a tag at most */

/* A tag as Mailpit keeps it (out holds at least INGEST_TAG_MAX + 1 bytes): characters other
 * than letters, digits, '-', '_', '.', '@' and spaces become spaces, runs of spaces one,
 * trimmed, cut at INGEST_TAG_MAX bytes. "" when nothing is left. */
void ingest_clean_tag(char *out, const char *in);

/* Messages stored by this process since it started, and their bytes (any thread). */
void ingest_totals(uint64_t *messages, uint64_t *bytes);

/* Initialise GMime (once per process). */
void ingest_global_init(void);

/* The smtp_deliver_fn: data is a struct ingest. */
void ingest_deliver(struct smtp_server *s, struct smtp_delivery *d, void *data);

#endif
