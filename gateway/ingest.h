/* ingest: what happens to a message between the end of DATA and the 250: a Received trace
 * header, a summary of its headers (GMime), zstd compression, and the group-commit writer.
 * The SMTP reply waits for the commit. */
#ifndef PAT_GATEWAY_INGEST_H
#define PAT_GATEWAY_INGEST_H

#include "gateway/smtp.h"
#include "gateway/tenants.h"
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

/* Initialise GMime (once per process). */
void ingest_global_init(void);

/* The smtp_deliver_fn: data is a struct ingest. */
void ingest_deliver(struct smtp_server *s, struct smtp_delivery *d, void *data);

#endif
