/* store: Pat's typed API over the replicated database: schema migrations, messages per tenant,
 * and the hash-chained audit log. Every call takes a tenant, and no query reads or changes
 * another tenant's rows. Calls go to the leader through a dq_leader. */
#ifndef PAT_NODE_STORE_H
#define PAT_NODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/leader.h"
#include "lib/buf.h"
#include "lib/ulid.h"

/* The schema version this build of Pat writes. */
#define STORE_SCHEMA_VERSION 8

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
	int64_t inline_parts;    /* inline part count (images shown in the HTML, say) */
	const char *snippet;     /* the start of the text, for lists */
	const char *tags;        /* comma-separated */
	bool read;               /* seen by a user */
	const char *region;      /* region of the gateway that accepted it */
	const char *gateway;     /* name of that gateway */
	const char *body_text;   /* the text to index for search (not stored elsewhere); NULL: none */
	const uint8_t *body;     /* body_text as store_pack_body() packed it (NULL: kept as text) */
	size_t body_len;
	bool body_packed;        /* the caller ran store_pack_body(); else store_put_batch() does */
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

/* A message's searchable text as it is stored: zstd (store_pack_raw()) when that makes it
 * smaller, else *out is NULL and the text is stored as it is (short texts). */
int store_pack_body(const char *text, uint8_t **out, size_t *out_len, struct pat_err *err);

/* Give every SQLite connection this process opens from now on, dqlite's own among them, the
 * SQL functions Pat's schema uses: pat_text(body), the text of a body column however it is
 * stored. Call before starting a node (node_server_start() does). */
int store_register_sql(struct pat_err *err);

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

/* ---- searching ----
 *
 * A filter is a list of terms that must all hold, each possibly negated. The store turns it
 * into SQL with every value bound as a parameter: no text of a term ever becomes SQL (or FTS5
 * syntax: free text is quoted as FTS5 strings). Mailpit's search syntax is parsed into a filter
 * by gateway/query. */

enum store_term_kind {
	STORE_TERM_TEXT,           /* text: words or a phrase in subject, addresses or body (full-text: whole words; a
	                            * trailing '*' makes the last word a prefix) */
	STORE_TERM_FROM,           /* text: a substring of the From header, any case */
	STORE_TERM_TO,             /* ... of To */
	STORE_TERM_CC,             /* ... of Cc */
	STORE_TERM_BCC,            /* ... of Bcc */
	STORE_TERM_REPLY_TO,       /* ... of Reply-To */
	STORE_TERM_ADDRESSED,      /* ... of any of those five */
	STORE_TERM_SUBJECT,        /* text: words or a phrase of the subject (full-text, as STORE_TERM_TEXT) */
	STORE_TERM_MESSAGE_ID,     /* text: a substring of the Message-ID, any case */
	STORE_TERM_TAG,            /* text: one of the message's tags, whole, any case */
	STORE_TERM_READ,           /* the message was read */
	STORE_TERM_TAGGED,         /* it has a tag */
	STORE_TERM_HAS_ATTACHMENT, /* it has an attachment */
	STORE_TERM_HAS_INLINE,     /* it has an inline part */
	STORE_TERM_LARGER,         /* number: more than that many bytes */
	STORE_TERM_SMALLER,        /* number: fewer than that many bytes */
	STORE_TERM_AFTER,          /* number: received at or after (ms since the epoch) */
	STORE_TERM_BEFORE,         /* number: received before (ms since the epoch) */
	STORE_TERM_ID_BELOW,       /* text: an id older than this one (a cursor for paging) */
};

#define STORE_FILTER_MAX_TERMS 40 /* a term binds at most 5 parameters; dqlite takes 255 */

struct store_term {
	int kind;          /* enum store_term_kind */
	bool negate;       /* the term must not hold */
	const char *text;  /* for the text kinds (non-empty) */
	int64_t number;    /* for sizes and times */
};

struct store_filter {
	const struct store_term *terms; /* all must hold; none: every message */
	size_t n;                       /* at most STORE_FILTER_MAX_TERMS */
};

/* A filter as an SQL condition over the messages table, for the store's own statements and for
 * tests: sql holds "?" placeholders only, params their values.
 *
 * The full-text terms that must hold (free text, subject:) become ONE FTS5 query, the
 * negated ones joined to it with NOT: FTS5 intersects its own lists far faster than SQL can
 * intersect one subquery per word. When there is such a query, sql starts with its condition
 * and its one parameter (params[0] is fts), and rest is the condition of the other terms, with
 * the parameters after it: a search can then be driven from the index. */
struct store_where {
	struct buf sql;                          /* "1" when the filter is empty */
	struct dq_value params[5 * STORE_FILTER_MAX_TERMS];
	unsigned n_params;
	char *owned[STORE_FILTER_MAX_TERMS + 1]; /* FTS5 queries the params point into */
	unsigned n_owned;
	const char *fts;                         /* the FTS5 query of the terms that must hold, or NULL */
	bool full_text;                          /* some term searches the full-text index */
	struct buf rest;                         /* with fts: the other terms' condition ("1": none) */
};
int store_where_build(const struct store_filter *f, struct store_where *w, struct pat_err *err);
void store_where_free(struct store_where *w);

/* Index the messages not in the full-text index yet, up to max_seqs of them (0: all), oldest
 * first, in one transaction; *moved (may be NULL) tells whether there were any. The writers
 * call it behind their batches (writer.c) and every search first indexes what is left, so
 * that a search finds every message stored before it (migration 7 in store.c). */
int store_index(struct dq_leader *l, int64_t max_seqs, bool *moved, struct pat_err *err);

/* One page of the tenant's messages matching f (NULL: all), newest first: `start` skipped,
 * then up to `limit` rows (store_rows_free). *total gets how many match in all and *unread
 * (may be NULL) how many of those are unread. */
int store_find_matching(struct dq_leader *l, const char *tenant, const struct store_filter *f, unsigned start,
			unsigned limit, struct store_row **rows, size_t *n, int64_t *total, int64_t *unread,
			struct pat_err *err);
/* Delete every message of the tenant matching f (NULL: all), in one transaction. */
int store_delete_matching(struct dq_leader *l, const char *tenant, const struct store_filter *f, int64_t *deleted,
			  struct pat_err *err);
/* Mark messages read or unread: those of ids when ids is not NULL (unknown ids are skipped),
 * else those matching f (NULL: all). *changed (may be NULL) gets how many changed state. */
int store_set_read(struct dq_leader *l, const char *tenant, bool read, const char *const *ids, size_t n_ids,
		   const struct store_filter *f, int64_t *changed, struct pat_err *err);

/* Delete the messages of ids (unknown ids are skipped) in one transaction; *deleted (may be
 * NULL) gets how many went. */
int store_delete_ids(struct dq_leader *l, const char *tenant, const char *const *ids, size_t n_ids, int64_t *deleted,
		     struct pat_err *err);
/* Bytes the tenant's messages take in the database (their compressed raw messages and
 * summary columns, roughly). */
int store_stored_bytes(struct dq_leader *l, const char *tenant, int64_t *bytes, struct pat_err *err);

/* ---- tags ----
 *
 * A message's tags are one text column, comma-separated, each tag trimmed; tags compare in
 * any case (as Mailpit's do). */

/* Every tag the tenant uses, sorted, each once (store_tags_free). */
int store_tags_list(struct dq_leader *l, const char *tenant, char ***tags, size_t *n, struct pat_err *err);
void store_tags_free(char **tags, size_t n);
/* Replace the tags of the messages of ids with tags (n_tags 0: remove them). A tag may not be
 * empty or hold a comma (PAT_EINVAL). *changed (may be NULL) gets the messages updated. */
int store_tags_set(struct dq_leader *l, const char *tenant, const char *const *ids, size_t n_ids,
		   const char *const *tags, size_t n_tags, int64_t *changed, struct pat_err *err);
/* Rename a tag on every message of the tenant (to NULL: remove it). */
int store_tag_rename(struct dq_leader *l, const char *tenant, const char *from, const char *to, int64_t *changed,
		     struct pat_err *err);

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
