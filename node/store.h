/* store: Pat's typed API over the replicated database: schema migrations, messages per tenant,
 * and the hash-chained audit log. Every call takes a tenant, and no query reads or changes
 * another tenant's rows. Calls go to the leader through a dq_leader. */
#ifndef PAT_NODE_STORE_H
#define PAT_NODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/leader.h"
#include "lib/ulid.h"

/* The schema version this build of Pat writes. */
#define STORE_SCHEMA_VERSION 3

/* Bring the schema up to STORE_SCHEMA_VERSION, one transaction per migration. Safe to run
 * again and from several processes at once: an applied migration is skipped. *version gets
 * the version found afterwards. */
int store_migrate(struct dq_leader *l, int *version, struct pat_err *err);

/* One stored message. Text fields are NUL-terminated; NULL means empty. */
struct store_message {
	char id[ULID_SIZE];      /* time-ordered id */
	const char *tenant;      /* owner */
	int64_t received_at;     /* milliseconds since the epoch */
	const char *helo;        /* what the client said in HELO/EHLO */
	const char *mail_from;   /* envelope sender */
	const char *rcpt_to;     /* envelope recipients, comma-separated */
	const char *from, *to, *cc, *bcc, *reply_to, *subject, *message_id, *date; /* headers */
	int64_t size;            /* bytes of the raw message */
	int64_t attachments;     /* attachment count */
	const char *snippet;     /* the start of the text, for lists */
	const char *tags;        /* comma-separated */
	bool read;               /* seen by a user */
	const char *region;      /* region of the gateway that accepted it */
	const char *gateway;     /* name of that gateway */
	const char *body_text;   /* the text to index for search (not stored elsewhere); NULL: none */
	const uint8_t *raw;      /* the raw message, zstd-compressed (store_pack_raw) */
	size_t raw_len;
};

/* A message read back: the same fields, owning their memory (store_message_free). */
struct store_row {
	struct store_message m;
	char *text[16];          /* owned strings behind m's pointers */
	uint8_t *raw;            /* owned compressed raw */
};
void store_row_free(struct store_row *r);

/* zstd for raw messages. pack: level 3; unpack refuses anything larger than max_size. The
 * result is mem_alloc()ed. */
int store_pack_raw(const void *raw, size_t len, uint8_t **out, size_t *out_len, struct pat_err *err);
int store_unpack_raw(const uint8_t *packed, size_t len, size_t max_size, uint8_t **out, size_t *out_len,
		     struct pat_err *err);

/* Write messages in ONE transaction on one connection: all or none. A message whose id is
 * stored already is skipped, so a batch whose commit outcome was unknown can be sent again
 * without duplicates. */
int store_put_batch(struct dq_leader *l, const struct store_message *m, size_t n, struct pat_err *err);
/* One message by id: PAT_ENOTFOUND when the tenant has none with that id. */
int store_get(struct dq_leader *l, const char *tenant, const char *id, struct store_row *out, struct pat_err *err);
/* The newest messages first, up to limit, older than `before` (an id; NULL: from the newest).
 * rows is allocated (store_rows_free). The last row's id is the cursor of the next page. */
int store_list(struct dq_leader *l, const char *tenant, const char *before, unsigned limit,
	       struct store_row **rows, size_t *n, struct pat_err *err);
void store_rows_free(struct store_row *rows, size_t n);
/* Messages matching an FTS5 query over subject, addresses and body text, newest first. A query
 * FTS5 cannot parse is PAT_EINVAL. (Callers turn user syntax into FTS5, quoting terms.) */
int store_search(struct dq_leader *l, const char *tenant, const char *fts_query, unsigned limit,
		 struct store_row **rows, size_t *n, struct pat_err *err);
int store_count(struct dq_leader *l, const char *tenant, int64_t *total, int64_t *unread, struct pat_err *err);

/* Which messages store_find() takes: all, or those whose sender, recipients or content
 * contains a text (MailHog's search kinds). */
enum store_match {
	STORE_MATCH_ALL,        /* every message */
	STORE_MATCH_FROM,       /* envelope sender or From header */
	STORE_MATCH_TO,         /* envelope recipients or To, Cc, Bcc headers */
	STORE_MATCH_CONTAINING, /* any of: addresses, subject, Message-ID, Date, body text */
};
/* A page of the tenant's messages, newest first: skip `offset` matches, then up to `limit`.
 * needle (for kinds other than ALL) matches as a substring, ignoring ASCII case; '%', '_'
 * and '\' in it are literal. *total gets how many match in all (NULL: not wanted). rows is
 * allocated (store_rows_free). */
int store_find(struct dq_leader *l, const char *tenant, enum store_match kind, const char *needle, unsigned offset,
	       unsigned limit, struct store_row **rows, size_t *n, int64_t *total, struct pat_err *err);
/* The schema version the database has (0 before any migration). */
int store_schema_version(struct dq_leader *l, int *version, struct pat_err *err);
/* PAT_ENOTFOUND when the tenant has no such message. */
int store_delete(struct dq_leader *l, const char *tenant, const char *id, struct pat_err *err);
int store_delete_all(struct dq_leader *l, const char *tenant, int64_t *deleted, struct pat_err *err);

/* The audit log of Pat's own actions (anomaly alerts, scaling hooks): a name no tenant can
 * have (tenant names never start with '_'). */
#define STORE_SYSTEM_TENANT "_pat"

/* Append to the tenant's audit log: each row carries the SHA-256 of the tenant's previous row
 * and of its own content, so removing or changing a row breaks the chain. */
int store_audit_append(struct dq_leader *l, const char *tenant, const char *actor, const char *action,
		       const char *subject, const char *detail, struct pat_err *err);
/* Recompute the tenant's chain. PAT_OK with *bad_seq 0 when intact; otherwise *bad_seq is the
 * first row whose hashes do not match. *rows gets the rows checked. */
int store_audit_verify(struct dq_leader *l, const char *tenant, int64_t *rows, int64_t *bad_seq, struct pat_err *err);

#endif
