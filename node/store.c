/* store: see store.h.
 *
 * Writes that must go together (a batch of messages, a migration, an audit row and the read of
 * the hash it chains to) run as one transaction on one connection: if the leader changes in
 * the middle, the connection breaks and the transaction with it, rather than the rest of it
 * running on the new leader outside any transaction. A transaction refused because another
 * writer holds the database is run again from the start. */
#include "node/store.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zstd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "node/store_rows.h"

/* ---- schema ---- */

/* The addresses a search matches, from a messages row (new, old or messages). */
#define ADDRESSES(r) \
	r ".mail_from || ' ' || " r ".rcpt_to || ' ' || " r ".from_hdr || ' ' || " r ".to_hdr || ' ' || " r ".cc_hdr || ' ' || " \
	r ".bcc_hdr || ' ' || " r ".reply_to"

static const char *const migrations[] = {
	/* 1: tenants, messages, audit log */
	"CREATE TABLE tenants ("
	" name TEXT PRIMARY KEY,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE messages ("
	" seq INTEGER PRIMARY KEY,"          /* insertion order: the change sequence gateways follow */
	" id TEXT NOT NULL UNIQUE,"
	" tenant TEXT NOT NULL,"
	" received_at INTEGER NOT NULL,"
	" helo TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt_to TEXT NOT NULL,"
	" from_hdr TEXT NOT NULL, to_hdr TEXT NOT NULL, cc_hdr TEXT NOT NULL, bcc_hdr TEXT NOT NULL,"
	" reply_to TEXT NOT NULL, subject TEXT NOT NULL, message_id TEXT NOT NULL, date_hdr TEXT NOT NULL,"
	" size INTEGER NOT NULL, attachments INTEGER NOT NULL, snippet TEXT NOT NULL, tags TEXT NOT NULL,"
	" is_read INTEGER NOT NULL, region TEXT NOT NULL, gateway TEXT NOT NULL,"
	" raw BLOB NOT NULL);"
	"CREATE INDEX messages_by_tenant ON messages (tenant, id);"
	"CREATE TABLE audit_log ("
	" seq INTEGER PRIMARY KEY,"
	" tenant TEXT NOT NULL,"
	" at INTEGER NOT NULL,"
	" actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,"
	" prev_hash BLOB NOT NULL,"
	" hash BLOB NOT NULL);"
	"CREATE INDEX audit_by_tenant ON audit_log (tenant, seq);",
	/* 2: full-text search; rowid = messages.seq. It keeps its own copy of the text: the body
	 * is nowhere else uncompressed, and FTS5 in SQLite 3.40 needs the text to delete a row. */
	"CREATE VIRTUAL TABLE messages_fts USING fts5(subject, addresses, body, tokenize = 'unicode61 remove_diacritics 2');",
	/* 3: messages is rebuilt with one unique index, (tenant, id), instead of a unique id and a
	 * second index on (tenant, id): every batch rewrites one index page fewer. The searchable
	 * text moves into messages (column body), and the index keeps no copy of its own
	 * (contentless, no column sizes). Triggers keep it in step with messages, so that a batch of
	 * messages is stored by ONE statement: one round trip and one Raft entry, and a delete can
	 * never leave an entry behind. */
	"CREATE TABLE messages_v3 ("
	" seq INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL,"
	" tenant TEXT NOT NULL,"
	" received_at INTEGER NOT NULL,"
	" helo TEXT NOT NULL, mail_from TEXT NOT NULL, rcpt_to TEXT NOT NULL,"
	" from_hdr TEXT NOT NULL, to_hdr TEXT NOT NULL, cc_hdr TEXT NOT NULL, bcc_hdr TEXT NOT NULL,"
	" reply_to TEXT NOT NULL, subject TEXT NOT NULL, message_id TEXT NOT NULL, date_hdr TEXT NOT NULL,"
	" size INTEGER NOT NULL, attachments INTEGER NOT NULL, snippet TEXT NOT NULL, tags TEXT NOT NULL,"
	" is_read INTEGER NOT NULL, region TEXT NOT NULL, gateway TEXT NOT NULL,"
	" raw BLOB NOT NULL,"
	" body TEXT NOT NULL DEFAULT '',"
	" UNIQUE (tenant, id));"
	"INSERT INTO messages_v3 SELECT m.*, coalesce(f.body, '') FROM messages m"
	" LEFT JOIN messages_fts f ON f.rowid = m.seq ORDER BY m.seq;"
	"DROP TABLE messages_fts;"
	"DROP TABLE messages;"
	"ALTER TABLE messages_v3 RENAME TO messages;"
	"CREATE VIRTUAL TABLE messages_fts USING fts5(subject, addresses, body, content = '', columnsize = 0,"
	" tokenize = 'unicode61 remove_diacritics 2');"
	"INSERT INTO messages_fts (rowid, subject, addresses, body) SELECT seq, subject, " ADDRESSES("messages") ", body FROM messages;"
	"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
	" INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (new.seq, new.subject, " ADDRESSES("new") ", new.body);"
	" END;"
	"CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
	" INSERT INTO messages_fts (messages_fts, rowid, subject, addresses, body)"
	" VALUES ('delete', old.seq, old.subject, " ADDRESSES("old") ", old.body);"
	" END;"
	"CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, mail_from, rcpt_to, from_hdr, to_hdr, cc_hdr, bcc_hdr,"
	" reply_to, body ON messages BEGIN"
	" INSERT INTO messages_fts (messages_fts, rowid, subject, addresses, body)"
	" VALUES ('delete', old.seq, old.subject, " ADDRESSES("old") ", old.body);"
	" INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (new.seq, new.subject, " ADDRESSES("new") ", new.body);"
	" END;",
	/* 4: inline parts counted apart from attachments (Mailpit's has:inline). */
	"ALTER TABLE messages ADD COLUMN inline_parts INTEGER NOT NULL DEFAULT 0;",
	/* 5: each tenant's message and unread counts, kept by triggers, so that a mailbox's list
	 * page (which shows them) costs the same with a million messages as with ten; and an index
	 * of the tagged messages alone, for the list of tags that page shows too. */
	"CREATE INDEX messages_tagged ON messages (tenant, tags) WHERE tags <> '';"
	"CREATE TABLE message_counts (tenant TEXT PRIMARY KEY, total INTEGER NOT NULL, unread INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO message_counts SELECT tenant, count(*), count(*) - coalesce(sum(is_read <> 0), 0) FROM messages GROUP BY tenant;"
	"CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN"
	" INSERT INTO message_counts (tenant, total, unread) VALUES (new.tenant, 1, new.is_read = 0)"
	" ON CONFLICT (tenant) DO UPDATE SET total = total + 1, unread = unread + (new.is_read = 0);"
	" END;"
	"CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN"
	" UPDATE message_counts SET total = total - 1, unread = unread - (old.is_read = 0) WHERE tenant = old.tenant;"
	" END;"
	"CREATE TRIGGER messages_count_read AFTER UPDATE OF is_read ON messages WHEN (old.is_read = 0) <> (new.is_read = 0) BEGIN"
	" UPDATE message_counts SET unread = unread + (new.is_read = 0) - (old.is_read = 0) WHERE tenant = new.tenant;"
	" END;",
	/* 6: searches at scale. Words are matched whole but stemmed (Porter's English stemmer
	 * before unicode61: "teapot" finds "teapots", "order" finds "ordered"), so that free text
	 * needs no prefix queries, which cost FTS5 a merge of every word a prefix begins. The
	 * index is rebuilt from the text messages keeps; the triggers of migration 3 name the table,
	 * not its tokenizer, and go on as they are. And what a search counts, by seq, in an index
	 * small enough to stay in memory: a search with words finds its seqs in the full-text
	 * index and counts them (and the unread among them) for the tenant from here instead of
	 * from the rows (measured with 1,000,000 messages and 34,000 hits: 67 ms from the rows,
	 * 22 ms from this index). */
	"DROP TABLE messages_fts;"
	"CREATE VIRTUAL TABLE messages_fts USING fts5(subject, addresses, body, content = '', columnsize = 0,"
	" tokenize = 'porter unicode61 remove_diacritics 2');"
	"INSERT INTO messages_fts (rowid, subject, addresses, body) SELECT seq, subject, " ADDRESSES("messages") ", body FROM messages;"
	"CREATE INDEX messages_flags ON messages (seq, tenant, is_read);",
	/* 7: the full-text index follows the writes in batches instead of inside them. Indexing
	 * each batch of new messages as it committed wrote a new FTS5 segment per transaction: a
	 * batch of 8 messages of 1 KiB changed 23 pages instead of 11, each of them a page of the
	 * Raft log. Now fts_state.upto is the newest seq indexed; a new message above it is
	 * indexed later, many at a time, by raising upto (store_index()), and the triggers touch
	 * the index only for the rows at or below it: one that lands there (a seq freed by a
	 * deletion and given again) is indexed at once, and one above it was never indexed, so
	 * that deleting or changing it needs nothing from the index. Every search first raises
	 * upto to the newest message (index_caught_up()), so that it finds every message
	 * acknowledged before it. */
	"CREATE TABLE fts_state (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL);"
	"INSERT INTO fts_state (id, upto) SELECT 1, coalesce(max(seq), 0) FROM messages;"
	"DROP TRIGGER messages_fts_insert;"
	"DROP TRIGGER messages_fts_delete;"
	"DROP TRIGGER messages_fts_update;"
	"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.seq <= (SELECT upto FROM fts_state) BEGIN"
	" INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (new.seq, new.subject, " ADDRESSES("new") ", new.body);"
	" END;"
	"CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.seq <= (SELECT upto FROM fts_state) BEGIN"
	" INSERT INTO messages_fts (messages_fts, rowid, subject, addresses, body)"
	" VALUES ('delete', old.seq, old.subject, " ADDRESSES("old") ", old.body);"
	" END;"
	"CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, mail_from, rcpt_to, from_hdr, to_hdr, cc_hdr, bcc_hdr,"
	" reply_to, body ON messages WHEN old.seq <= (SELECT upto FROM fts_state) BEGIN"
	" INSERT INTO messages_fts (messages_fts, rowid, subject, addresses, body)"
	" VALUES ('delete', old.seq, old.subject, " ADDRESSES("old") ", old.body);"
	" INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (new.seq, new.subject, " ADDRESSES("new") ", new.body);"
	" END;"
	"CREATE TRIGGER fts_state_advance AFTER UPDATE OF upto ON fts_state WHEN new.upto > old.upto BEGIN"
	" INSERT INTO messages_fts (rowid, subject, addresses, body) SELECT seq, subject, " ADDRESSES("messages") ", body"
	" FROM messages WHERE seq > old.upto AND seq <= new.upto ORDER BY seq;"
	" END;",
	/* 8: the searchable text is stored zstd-compressed. Next to the compressed raw message it
	 * was the one uncompressed copy of the mail's words, most of a row's bytes: every page of
	 * it is a frame of the WAL, a page of the Raft log on each node and a page of each node's
	 * in-memory database. body is now a zstd frame (a BLOB) or, for a short text and the rows
	 * stored before, the TEXT itself; pat_text(body) gives the text either way (SQL function
	 * of every Pat process that runs a node, store_register_sql()). The index gets its words
	 * through it, and deleting an indexed row gives it the same words back. */
	"DROP TRIGGER messages_fts_insert;"
	"DROP TRIGGER messages_fts_delete;"
	"DROP TRIGGER messages_fts_update;"
	"DROP TRIGGER fts_state_advance;"
	"CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.seq <= (SELECT upto FROM fts_state) BEGIN"
	" INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (new.seq, new.subject, " ADDRESSES("new") ", pat_text(new.body));"
	" END;"
	"CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.seq <= (SELECT upto FROM fts_state) BEGIN"
	" INSERT INTO messages_fts (messages_fts, rowid, subject, addresses, body)"
	" VALUES ('delete', old.seq, old.subject, " ADDRESSES("old") ", pat_text(old.body));"
	" END;"
	"CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, mail_from, rcpt_to, from_hdr, to_hdr, cc_hdr, bcc_hdr,"
	" reply_to, body ON messages WHEN old.seq <= (SELECT upto FROM fts_state) BEGIN"
	" INSERT INTO messages_fts (messages_fts, rowid, subject, addresses, body)"
	" VALUES ('delete', old.seq, old.subject, " ADDRESSES("old") ", pat_text(old.body));"
	" INSERT INTO messages_fts (rowid, subject, addresses, body) VALUES (new.seq, new.subject, " ADDRESSES("new") ", pat_text(new.body));"
	" END;"
	"CREATE TRIGGER fts_state_advance AFTER UPDATE OF upto ON fts_state WHEN new.upto > old.upto BEGIN"
	" INSERT INTO messages_fts (rowid, subject, addresses, body) SELECT seq, subject, " ADDRESSES("messages") ", pat_text(body)"
	" FROM messages WHERE seq > old.upto AND seq <= new.upto ORDER BY seq;"
	" END;",
};

/* ---- transactions ---- */

typedef int (*tx_body)(struct dq_client *c, void *data, struct pat_err *err);

/* Run body in a transaction on the leader, again when it is safe to. With `single`, body is
 * one statement that commits by itself (no BEGIN and COMMIT: one round trip, one Raft entry).
 * With `idempotent`, running body twice leaves what running it once leaves (a batch of new
 * messages: `ON CONFLICT DO NOTHING` on their ids), so a commit whose outcome is unknown (the
 * leader died or went silent with it in flight, leadership was lost while committing) is sent
 * again to whichever node leads now, within the same deadline, instead of being reported. */
static int run_in(struct dq_leader *l, tx_body body, void *data, bool single, bool idempotent, struct pat_err *err)
{
	int64_t deadline = time_mono_ms() + l->retry_ms;
	int wait = 5, rv;

	for (;;) {
		struct dq_client *c = &l->client;
		bool committing = false;

		if ((rv = dq_leader_connect(l)) != PAT_OK)
			return err_set(err, rv, "%s", l->err.msg);
		rv = single ? PAT_OK : dq_client_exec_sql(c, "BEGIN", NULL, 0, NULL);
		if (rv == PAT_OK && single) {
			/* Refused with "not leader" before it ran, or busy: nothing happened. Anything
			 * else may have committed. */
			rv = body(c, data, err);
			if (rv == PAT_OK)
				return PAT_OK;
			committing = !(rv == PAT_EBUSY || (rv == PAT_ENOTLEADER && c->fail_code == DQ_CODE_NOT_LEADER));
		} else if (rv == PAT_OK) {
			rv = body(c, data, err);
			if (rv == PAT_OK) {
				committing = true;
				rv = dq_client_exec_sql(c, "COMMIT", NULL, 0, NULL);
				if (rv == PAT_OK)
					return PAT_OK;
			}
		}
		if (err->code != rv || err->msg[0] == '\0')
			err_set(err, rv, "%s", c->err.msg);
		if (!single && dq_client_connected(c)) {
			uint64_t code = c->fail_code;

			dq_client_exec_sql(c, "ROLLBACK", NULL, 0, NULL);
			c->fail_code = code; /* callers look at the failure's code, not the rollback's */
		}
		bool lost = !dq_client_connected(c);

		if (rv == PAT_ENOTLEADER || lost)
			dq_client_close(c);
		/* Another writer held the database, or the leader refused before running anything, or
		 * the connection was lost inside a transaction before its COMMIT was sent (dqlite drops
		 * the open transaction of a connection that closes, and a dead leader's never reached
		 * Raft): nothing of this transaction happened, so run it again. */
		if ((rv == PAT_EBUSY || (rv == PAT_ENOTLEADER && c->fail_code == DQ_CODE_NOT_LEADER && !committing) ||
		     (!single && !committing && lost)) &&
		    time_mono_ms() + wait < deadline) {
			usleep((useconds_t)wait * 1000);
			wait = wait < 100 ? wait * 2 : 100;
			err_clear(err);
			continue;
		}
		if (committing && rv != PAT_EBUSY && rv != PAT_EREMOTE) {
			if (idempotent && time_mono_ms() < deadline) {
				log_info("commit outcome unknown; sending it again", "leader=%s error=%s",
					 c->address, c->err.msg);
				dq_client_close(c);
				err_clear(err);
				continue;
			}
			err_prefix(err, "the commit's outcome is unknown (sending the same batch again is safe)");
		}
		return rv;
	}
}

static int run_tx(struct dq_leader *l, tx_body body, void *data, struct pat_err *err)
{
	return run_in(l, body, data, false, false, err);
}

/* Read one integer from a query; *found false when there is no row. */
static int query_int(struct dq_client *c, const char *sql, const struct dq_value *p, unsigned n, int64_t *v,
		     bool *found)
{
	struct dq_rows rows;
	bool row = false;
	int rv = dq_client_query_sql(c, sql, p, n, &rows);

	*found = false;
	if (rv != PAT_OK)
		return rv;
	rv = dq_rows_next(&rows, &row);
	if (rv == PAT_OK && row && rows.values[0].type == DQ_INTEGER) {
		*v = rows.values[0].integer;
		*found = true;
	}
	dq_rows_close(&rows);
	return rv;
}

struct migrate_step {
	int version;   /* the migration to apply */
	bool applied;  /* it ran (false: it was there already) */
};

static int migrate_one(struct dq_client *c, void *data, struct pat_err *err)
{
	struct migrate_step *s = data;
	struct dq_value p[2] = { dq_int(s->version), dq_int(time_wall_ms()) };
	int64_t v = 0;
	bool found;
	int rv;

	(void)err;
	rv = dq_client_exec_sql(c, "CREATE TABLE IF NOT EXISTS pat_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
				NULL, 0, NULL);
	if (rv == PAT_OK)
		rv = query_int(c, "SELECT count(*) FROM pat_schema WHERE version = ?", p, 1, &v, &found);
	if (rv != PAT_OK || v > 0)
		return rv;
	rv = dq_client_exec_sql(c, migrations[s->version - 1], NULL, 0, NULL);
	if (rv == PAT_OK)
		rv = dq_client_exec_sql(c, "INSERT INTO pat_schema (version, applied_at) VALUES (?, ?)", p, 2, NULL);
	s->applied = rv == PAT_OK;
	return rv;
}

int store_migrate(struct dq_leader *l, int *version, struct pat_err *err)
{
	err_clear(err);
	for (int v = 1; v <= STORE_SCHEMA_VERSION; v++) {
		struct migrate_step s = { v, false };
		int rv = run_tx(l, migrate_one, &s, err);

		if (rv != PAT_OK)
			return err_prefix(err, "schema migration %d", v);
	}
	if (version != NULL)
		*version = STORE_SCHEMA_VERSION;
	return PAT_OK;
}

/* ---- raw messages ---- */

/* One zstd context per thread, kept for the thread's life: ZSTD_compress() and
 * ZSTD_decompress() make and free one per call, and making one costs more than compressing a
 * small message (measured: 18 us against 1 us for 1 KiB at level 3). */
enum { CTX_COMPRESS, CTX_DECOMPRESS };

static void *new_cctx(void)
{
	return ZSTD_createCCtx();
}

static void *new_dctx(void)
{
	return ZSTD_createDCtx();
}

static void free_cctx(void *c)
{
	ZSTD_freeCCtx(c);
}

static void free_dctx(void *d)
{
	ZSTD_freeDCtx(d);
}

static const struct {
	void *(*make)(void);
	void (*free)(void *);
} zstd_ctx_kinds[] = { [CTX_COMPRESS] = { new_cctx, free_cctx }, [CTX_DECOMPRESS] = { new_dctx, free_dctx } };
static pthread_key_t zstd_keys[2];
static pthread_once_t zstd_keys_once = PTHREAD_ONCE_INIT;
static bool zstd_keys_ok;

static void make_zstd_keys(void)
{
	for (int k = 0; k < 2; k++)
		if (pthread_key_create(&zstd_keys[k], zstd_ctx_kinds[k].free) != 0) {
			while (k-- > 0)
				pthread_key_delete(zstd_keys[k]);
			return;
		}
	zstd_keys_ok = true;
}

/* This thread's context of that kind, or NULL (the caller then makes do without). */
static void *thread_ctx(int kind)
{
	void *c;

	pthread_once(&zstd_keys_once, make_zstd_keys);
	if (!zstd_keys_ok)
		return NULL;
	if ((c = pthread_getspecific(zstd_keys[kind])) == NULL && (c = zstd_ctx_kinds[kind].make()) != NULL &&
	    pthread_setspecific(zstd_keys[kind], c) != 0) {
		zstd_ctx_kinds[kind].free(c);
		c = NULL;
	}
	return c;
}

int store_pack_raw(const void *raw, size_t len, uint8_t **out, size_t *out_len, struct pat_err *err)
{
	size_t cap = ZSTD_compressBound(len), n;
	ZSTD_CCtx *c = thread_ctx(CTX_COMPRESS);

	*out = mem_alloc(cap);
	if (*out == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	n = c != NULL ? ZSTD_compressCCtx(c, *out, cap, raw, len, 3) : ZSTD_compress(*out, cap, raw, len, 3);
	if (ZSTD_isError(n)) {
		mem_free(*out);
		*out = NULL;
		return err_set(err, PAT_EIO, "compression failed: %s", ZSTD_getErrorName(n));
	}
	*out_len = n;
	return PAT_OK;
}

int store_unpack_raw(const uint8_t *packed, size_t len, size_t max_size, uint8_t **out, size_t *out_len,
		     struct pat_err *err)
{
	unsigned long long size = ZSTD_getFrameContentSize(packed, len);
	ZSTD_DCtx *d = thread_ctx(CTX_DECOMPRESS);
	size_t n;

	*out = NULL;
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN)
		return err_set(err, PAT_EINVAL, "the stored message is damaged (not a zstd frame)");
	if (size > max_size)
		return err_set(err, PAT_ELIMIT, "the stored message would be %llu bytes; at most %zu allowed", size, max_size);
	*out = mem_alloc(size ? size : 1);
	if (*out == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	n = d != NULL ? ZSTD_decompressDCtx(d, *out, size, packed, len) : ZSTD_decompress(*out, size, packed, len);
	if (ZSTD_isError(n) || n != size) {
		mem_free(*out);
		*out = NULL;
		return err_set(err, PAT_EINVAL, "the stored message is damaged: %s",
			       ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
	}
	*out_len = n;
	return PAT_OK;
}

/* Bodies shorter than this are stored as text: a zstd frame of a few words is no smaller. */
#define BODY_PACK_FROM 128
/* pat_text() refuses to inflate a body beyond this (a damaged frame's claim). */
#define BODY_TEXT_MAX ((unsigned long long)1 << 30)

int store_pack_body(const char *text, uint8_t **out, size_t *out_len, struct pat_err *err)
{
	size_t len = text != NULL ? strlen(text) : 0;
	int rv;

	*out = NULL;
	*out_len = 0;
	if (len < BODY_PACK_FROM)
		return PAT_OK;
	if ((rv = store_pack_raw(text, len, out, out_len, err)) != PAT_OK)
		return rv;
	if (*out_len >= len) {
		mem_free(*out);
		*out = NULL;
		*out_len = 0;
	}
	return PAT_OK;
}

/* pat_text(body): a TEXT as it is, a zstd frame inflated to its text, NULL as NULL. A BLOB
 * that is no zstd frame is given back as its bytes. */
static void sql_pat_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const void *blob;
	unsigned long long size;
	int len;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	blob = sqlite3_value_blob(argv[0]);
	len = sqlite3_value_bytes(argv[0]);
	size = blob != NULL ? ZSTD_getFrameContentSize(blob, (size_t)len) : ZSTD_CONTENTSIZE_ERROR;
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
		sqlite3_result_text(ctx, blob != NULL ? blob : "", len, SQLITE_TRANSIENT);
	} else if (size > BODY_TEXT_MAX) {
		sqlite3_result_error(ctx, "pat_text: the stored text claims to be larger than 1 GiB", -1);
	} else {
		ZSTD_DCtx *d = thread_ctx(CTX_DECOMPRESS);
		char *out = sqlite3_malloc64(size + 1);
		size_t n;

		if (out == NULL) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		n = d != NULL ? ZSTD_decompressDCtx(d, out, size, blob, (size_t)len)
			      : ZSTD_decompress(out, size, blob, (size_t)len);
		if (ZSTD_isError(n) || n != size) {
			sqlite3_free(out);
			sqlite3_result_error(ctx, "pat_text: the stored text is damaged", -1);
			return;
		}
		sqlite3_result_text64(ctx, out, n, sqlite3_free, SQLITE_UTF8);
	}
}

static int sql_init(sqlite3 *db, char **msg, const sqlite3_api_routines *api)
{
	int rc;

	(void)msg;
	(void)api;
	rc = sqlite3_create_function_v2(db, "pat_text", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
					sql_pat_text, NULL, NULL, NULL);
	return rc == SQLITE_OK ? store_rows_register(db) : rc;
}

int store_register_sql(struct pat_err *err)
{
	int rc = sqlite3_auto_extension((void (*)(void))sql_init);

	return rc == SQLITE_OK ? PAT_OK
			       : err_set(err, PAT_EIO, "cannot give SQLite Pat's SQL functions: %s", sqlite3_errstr(rc));
}

/* ---- messages ---- */

/* A text column's value: NULL is stored as "". */
#define OR_EMPTY(text) ((text) != NULL ? (text) : "")

static struct dq_value text_or_empty(const char *s)
{
	return dq_text(OR_EMPTY(s));
}

/* A batch goes as one statement (store_rows.h) while it is at most this large; a larger one
 * as several, in one transaction. */
#define BATCH_STATEMENT_BYTES (8u << 20)

/* The statement that stores a batch: a message whose id is stored already is left alone (a
 * batch sent again after an unknown outcome), and the search index follows through the
 * triggers of messages. */
static const char insert_batch[] = "INSERT INTO messages (" STORE_ROWS_COLUMN_NAMES ")"
				   " SELECT * FROM pat_batch(?) WHERE true ON CONFLICT (tenant, id) DO NOTHING";

struct batch {
	struct buf *parts;  /* the batch as pat_batch values, one per statement */
	size_t n_parts;
};

/* Message m's row, its body column being body (its packed text, or the text as it is). */
static void message_row(const struct store_message *m, struct dq_value body, struct dq_value row[STORE_ROWS_COLUMNS])
{
	struct dq_value r[STORE_ROWS_COLUMNS] = {
		dq_text(m->id), dq_text(m->tenant), dq_int(m->received_at), text_or_empty(m->helo),
		text_or_empty(m->mail_from), text_or_empty(m->rcpt_to), text_or_empty(m->from),
		text_or_empty(m->to), text_or_empty(m->cc), text_or_empty(m->bcc), text_or_empty(m->reply_to),
		text_or_empty(m->subject), text_or_empty(m->message_id), text_or_empty(m->date),
		dq_int(m->size), dq_int(m->attachments), text_or_empty(m->snippet), text_or_empty(m->tags),
		dq_int(m->read), text_or_empty(m->region), text_or_empty(m->gateway), dq_blob(m->raw, m->raw_len),
		body, dq_int(m->inline_parts),
	};

	memcpy(row, r, sizeof r);
}

static int put_batch(struct dq_client *c, void *data, struct pat_err *err)
{
	const struct batch *b = data;
	int rv = PAT_OK;

	(void)err; /* run_in() takes the failure from the client */
	for (size_t i = 0; i < b->n_parts && rv == PAT_OK; i++) {
		struct dq_value p = dq_blob(b->parts[i].data, b->parts[i].len);

		rv = dq_client_exec_cached(c, insert_batch, &p, 1, NULL);
	}
	return rv;
}

static void free_parts(struct batch *b)
{
	for (size_t i = 0; i < b->n_parts; i++)
		buf_free(&b->parts[i]);
	mem_free(b->parts);
}

/* Encode the batch (b->parts), packing the bodies the caller did not (store_pack_body()). */
static int encode_batch(struct batch *b, const struct store_message *m, size_t n, struct pat_err *err)
{
	struct dq_value row[STORE_ROWS_COLUMNS];
	struct buf *part = NULL;
	int rv = PAT_OK;

	if ((b->parts = mem_calloc(n, sizeof *b->parts)) == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rv == PAT_OK; i++) {
		uint8_t *packed = NULL;
		size_t packed_len = 0;
		struct dq_value body = text_or_empty(m[i].body_text);

		if (m[i].body != NULL)
			body = dq_blob(m[i].body, m[i].body_len);
		else if (!m[i].body_packed &&
			 (rv = store_pack_body(m[i].body_text, &packed, &packed_len, err)) != PAT_OK)
			break;
		if (packed != NULL)
			body = dq_blob(packed, packed_len);
		if (part == NULL || (store_rows_count(part) > 0 && part->len >= BATCH_STATEMENT_BYTES)) {
			part = &b->parts[b->n_parts++];
			rv = store_rows_begin(part, err);
		}
		message_row(&m[i], body, row);
		if (rv == PAT_OK)
			rv = store_rows_add(part, row, err);
		mem_free(packed);
	}
	return rv;
}

int store_put_batch(struct dq_leader *l, const struct store_message *m, size_t n, struct pat_err *err)
{
	struct batch b = { NULL, 0 };
	int rv;

	err_clear(err);
	for (size_t i = 0; i < n; i++)
		if (m[i].tenant == NULL || m[i].tenant[0] == '\0' || !ulid_valid(m[i].id) || m[i].raw == NULL)
			return err_set(err, PAT_EINVAL, "message %zu of the batch has no tenant, a bad id or no raw data", i + 1);
	if (n == 0)
		return PAT_OK;
	/* Encoded once, before the first try: run_in() may run the body again. A batch that fits
	 * one statement needs no BEGIN and COMMIT. */
	if ((rv = encode_batch(&b, m, n, err)) == PAT_OK)
		rv = run_in(l, put_batch, &b, b.n_parts == 1, true, err);
	free_parts(&b);
	return rv;
}

/* The columns of a store_row, each name after prefix p (a table alias and a dot, or ""). */
#define COLUMNS_OF(p)                                                                                              \
	p "id, " p "tenant, " p "received_at, " p "helo, " p "mail_from, " p "rcpt_to, " p "from_hdr, " p "to_hdr, " p \
	"cc_hdr, " p "bcc_hdr, " p "reply_to, " p "subject, " p "message_id, " p "date_hdr, " p "size, " p          \
	"attachments, " p "snippet, " p "tags, " p "is_read, " p "region, " p "gateway, " p "raw, " p "inline_parts"
#define COLUMNS COLUMNS_OF("")

void store_row_free(struct store_row *r)
{
	for (int i = 0; i < 16; i++)
		mem_free(r->text[i]);
	mem_free(r->raw);
	memset(r, 0, sizeof *r);
}

void store_rows_free(struct store_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_row_free(&rows[i]);
	mem_free(rows);
}

/* Copy the current result row into r. */
static int take_row(const struct dq_value *v, struct store_row *r)
{
	/* Result columns holding text, and where each goes. */
	static const int text_cols[16] = { 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 19, 20 };
	const char **fields[16];
	struct store_message *m = &r->m;

	memset(r, 0, sizeof *r);
	fields[0] = &m->tenant, fields[1] = &m->helo, fields[2] = &m->mail_from, fields[3] = &m->rcpt_to;
	fields[4] = &m->from, fields[5] = &m->to, fields[6] = &m->cc, fields[7] = &m->bcc, fields[8] = &m->reply_to;
	fields[9] = &m->subject, fields[10] = &m->message_id, fields[11] = &m->date, fields[12] = &m->snippet;
	fields[13] = &m->tags, fields[14] = &m->region, fields[15] = &m->gateway;
	if (v[0].type != DQ_TEXT || v[21].type != DQ_BLOB)
		return PAT_EPROTO;
	str_copy(m->id, v[0].bytes.ptr, sizeof m->id);
	for (int i = 0; i < 16; i++) {
		const struct dq_value *t = &v[text_cols[i]];

		if (t->type != DQ_TEXT)
			return PAT_EPROTO;
		if ((r->text[i] = mem_strndup(t->bytes.ptr, t->bytes.len)) == NULL)
			return PAT_ENOMEM;
		*fields[i] = r->text[i];
	}
	m->received_at = v[2].integer;
	m->size = v[14].integer;
	m->attachments = v[15].integer;
	m->read = v[18].integer != 0;
	m->inline_parts = v[22].integer;
	r->raw = mem_alloc(v[21].bytes.len ? v[21].bytes.len : 1);
	if (r->raw == NULL)
		return PAT_ENOMEM;
	memcpy(r->raw, v[21].bytes.ptr, v[21].bytes.len);
	m->raw = r->raw;
	m->raw_len = v[21].bytes.len;
	return PAT_OK;
}

int store_get(struct dq_leader *l, const char *tenant, const char *id, struct store_row *out, struct pat_err *err)
{
	struct dq_value p[2] = { dq_text(tenant), dq_text(id) };
	struct dq_rows rows;
	bool row = false;
	int rv;

	memset(out, 0, sizeof *out);
	err_clear(err);
	rv = dq_leader_query_sql(l, "SELECT " COLUMNS " FROM messages WHERE tenant = ? AND id = ?", p, 2, &rows);
	if (rv != PAT_OK)
		return err_set(err, rv, "%s", l->err.msg);
	rv = dq_rows_next(&rows, &row);
	if (rv == PAT_OK && !row)
		rv = err_set(err, PAT_ENOTFOUND, "no message %s", id);
	else if (rv == PAT_OK && (rv = take_row(rows.values, out)) != PAT_OK) {
		store_row_free(out);
		err_set(err, rv, "a message row could not be read");
	} else if (rv != PAT_OK)
		err_set(err, rv, "%s", l->client.err.msg);
	dq_rows_close(&rows);
	return rv;
}

static int query_rows(struct dq_leader *l, const char *sql, const struct dq_value *p, unsigned n_params,
		      unsigned limit, struct store_row **out, size_t *n_out, struct pat_err *err)
{
	struct store_row *list;
	struct dq_rows rows;
	size_t n = 0;
	int rv;

	*out = NULL;
	*n_out = 0;
	err_clear(err);
	if (limit == 0)
		return PAT_OK;
	list = mem_calloc(limit, sizeof *list);
	if (list == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	rv = dq_leader_query_sql(l, sql, p, n_params, &rows);
	if (rv != PAT_OK) {
		mem_free(list);
		return err_set(err, rv, "%s", l->err.msg);
	}
	for (;;) {
		bool row;

		rv = dq_rows_next(&rows, &row);
		if (rv != PAT_OK || !row || n == limit)
			break;
		if ((rv = take_row(rows.values, &list[n])) != PAT_OK) {
			store_row_free(&list[n]);
			break;
		}
		n++;
	}
	dq_rows_close(&rows);
	if (rv != PAT_OK) {
		store_rows_free(list, n);
		return err_set(err, rv, "listing messages failed: %s", l->client.err.msg);
	}
	*out = list;
	*n_out = n;
	return PAT_OK;
}

/* Read one integer through the leader; l->err says why on failure. */
static int leader_query_int(struct dq_leader *l, const char *sql, const struct dq_value *p, unsigned n, int64_t *v,
			    bool *found)
{
	struct dq_rows rows;
	bool row = false;
	int rv = dq_leader_query_sql(l, sql, p, n, &rows);

	*found = false;
	if (rv != PAT_OK)
		return rv;
	rv = dq_rows_next(&rows, &row);
	if (rv == PAT_OK && row && rows.values[0].type == DQ_INTEGER) {
		*v = rows.values[0].integer;
		*found = true;
	}
	dq_rows_close(&rows);
	if (rv != PAT_OK)
		err_set(&l->err, rv, "%s", l->client.err.msg);
	return rv;
}

/* ---- the full-text index (migration 7) ---- */

/* Raise fts_state.upto by up to ?1 seqs, not past the newest message: the fts_state_advance
 * trigger indexes the messages passed over. Nothing happens when the index is caught up. */
#define INDEX_ADVANCE                                                                                      \
	"UPDATE fts_state SET upto = min(upto + ?, (SELECT coalesce(max(seq), 0) FROM messages))" \
	" WHERE upto < (SELECT coalesce(max(seq), 0) FROM messages)"
/* As many as there can be. */
#define INDEX_ALL ((int64_t)1 << 40)

struct index_step {
	int64_t max_seqs;
	uint64_t indexed; /* rows of fts_state changed: 1 when the index moved */
};

static int index_advance(struct dq_client *c, void *data, struct pat_err *err)
{
	struct index_step *s = data;
	struct dq_value p = dq_int(s->max_seqs);
	struct dq_result r = { 0 };
	int rv;

	(void)err;
	rv = dq_client_exec_sql(c, INDEX_ADVANCE, &p, 1, &r);
	s->indexed = rv == PAT_OK ? r.rows_affected : 0;
	return rv;
}

int store_index(struct dq_leader *l, int64_t max_seqs, bool *moved, struct pat_err *err)
{
	struct index_step s = { max_seqs > 0 ? max_seqs : INDEX_ALL, 0 };
	int rv;

	err_clear(err);
	if (moved != NULL)
		*moved = false;
	/* One statement: it commits by itself, and running it twice only indexes further. */
	rv = run_in(l, index_advance, &s, true, true, err);
	if (rv == PAT_OK && moved != NULL)
		*moved = s.indexed > 0;
	return rv;
}

/* Before a search: every message stored so far in the index. A read tells whether anything is
 * missing (the writers index behind themselves, so usually nothing is); if so, one write. */
static int index_caught_up(struct dq_leader *l, struct pat_err *err)
{
	int64_t behind = 0;
	bool found = false;
	int rv = leader_query_int(l, "SELECT (SELECT coalesce(max(seq), 0) FROM messages) > upto FROM fts_state", NULL,
				  0, &behind, &found);

	if (rv != PAT_OK)
		return err_set(err, rv, "%s", l->err.msg);
	if (!found || behind == 0)
		return PAT_OK;
	return store_index(l, INDEX_ALL, NULL, err);
}

/* The same inside a transaction that searches (a deletion or a marking by filter). */
static int index_caught_up_tx(struct dq_client *c)
{
	struct index_step s = { INDEX_ALL, 0 };

	return index_advance(c, &s, NULL);
}

int store_list(struct dq_leader *l, const char *tenant, const char *before, unsigned limit,
	       struct store_row **out, size_t *n_out, struct pat_err *err)
{
	/* "~" sorts after every ULID character: no cursor means from the newest. */
	struct dq_value p[3] = { dq_text(tenant), dq_text(before != NULL ? before : "~"), dq_int(limit) };

	return query_rows(l, "SELECT " COLUMNS " FROM messages WHERE tenant = ? AND id < ? ORDER BY id DESC LIMIT ?", p, 3,
			  limit, out, n_out, err);
}

int store_search(struct dq_leader *l, const char *tenant, const char *fts_query, unsigned limit,
		 struct store_row **out, size_t *n_out, struct pat_err *err)
{
	struct dq_value p[3] = { dq_text(tenant), dq_text(fts_query), dq_int(limit) };
	int rv = index_caught_up(l, err);

	if (rv != PAT_OK)
		return rv;
	rv = query_rows(l,
			    "SELECT " COLUMNS " FROM messages WHERE tenant = ? AND seq IN"
			    " (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?) ORDER BY id DESC LIMIT ?",
			    p, 3, limit, out, n_out, err);

	if (rv == PAT_EREMOTE)
		return err_set(err, PAT_EINVAL, "cannot search for %s: %s", fts_query, l->client.err.msg);
	return rv;
}

int store_count(struct dq_leader *l, const char *tenant, int64_t *total, int64_t *unread, struct pat_err *err)
{
	struct dq_value p = dq_text(tenant);
	struct dq_rows rows;
	bool row = false;
	int rv;

	err_clear(err);
	*total = *unread = 0;
	rv = dq_leader_query_sql(l, "SELECT total, unread FROM message_counts WHERE tenant = ?", &p, 1, &rows);
	if (rv != PAT_OK)
		return err_set(err, rv, "%s", l->err.msg);
	rv = dq_rows_next(&rows, &row);
	if (rv == PAT_OK && row) {
		*total = rows.values[0].integer;
		*unread = rows.values[1].integer;
	}
	dq_rows_close(&rows);
	return rv == PAT_OK ? PAT_OK : err_set(err, rv, "%s", l->client.err.msg);
}

/* The WHERE clause of each store_match kind: ?1 is the tenant, ?2 the LIKE pattern. */
static const char *const match_where[] = {
	[STORE_MATCH_ALL] = "tenant = ?1",
	[STORE_MATCH_FROM] = "tenant = ?1 AND (mail_from LIKE ?2 ESCAPE '\\' OR from_hdr LIKE ?2 ESCAPE '\\')",
	[STORE_MATCH_TO] = "tenant = ?1 AND (rcpt_to LIKE ?2 ESCAPE '\\' OR to_hdr LIKE ?2 ESCAPE '\\'"
			   " OR cc_hdr LIKE ?2 ESCAPE '\\' OR bcc_hdr LIKE ?2 ESCAPE '\\')",
	[STORE_MATCH_CONTAINING] =
		"tenant = ?1 AND (mail_from LIKE ?2 ESCAPE '\\' OR rcpt_to LIKE ?2 ESCAPE '\\' OR from_hdr LIKE ?2 ESCAPE '\\'"
		" OR to_hdr LIKE ?2 ESCAPE '\\' OR cc_hdr LIKE ?2 ESCAPE '\\' OR bcc_hdr LIKE ?2 ESCAPE '\\'"
		" OR reply_to LIKE ?2 ESCAPE '\\' OR subject LIKE ?2 ESCAPE '\\' OR message_id LIKE ?2 ESCAPE '\\'"
		" OR date_hdr LIKE ?2 ESCAPE '\\' OR pat_text(body) LIKE ?2 ESCAPE '\\')",
};

/* "%needle%" with LIKE's wildcards and the escape character escaped (mem_free it). */
static char *like_pattern(const char *needle)
{
	size_t n = strlen(needle);
	char *out = mem_alloc(2 * n + 3), *o = out;

	if (out == NULL)
		return NULL;
	*o++ = '%';
	for (const char *p = needle; *p != '\0'; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			*o++ = '\\';
		*o++ = *p;
	}
	*o++ = '%';
	*o = '\0';
	return out;
}

int store_find(struct dq_leader *l, const char *tenant, enum store_match kind, const char *needle, unsigned offset,
	       unsigned limit, struct store_row **out, size_t *n_out, int64_t *total, struct pat_err *err)
{
	bool all = kind == STORE_MATCH_ALL;
	unsigned n_match = all ? 1 : 2;
	char sql[1536], *pattern = NULL;
	struct dq_value p[4];
	int rv;

	*out = NULL;
	*n_out = 0;
	err_clear(err);
	if ((unsigned)kind > STORE_MATCH_CONTAINING)
		return err_set(err, PAT_EINVAL, "unknown kind of match %d", (int)kind);
	if (!all && (pattern = like_pattern(needle != NULL ? needle : "")) == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	p[0] = dq_text(tenant);
	p[1] = dq_text(pattern != NULL ? pattern : "");
	if (total != NULL) {
		bool found = false;

		snprintf(sql, sizeof sql, "SELECT count(*) FROM messages WHERE %s", match_where[kind]);
		*total = 0;
		if ((rv = leader_query_int(l, sql, p, n_match, total, &found)) != PAT_OK) {
			mem_free(pattern);
			return err_set(err, rv, "counting messages failed: %s", l->err.msg);
		}
	}
	snprintf(sql, sizeof sql, "SELECT " COLUMNS " FROM messages WHERE %s ORDER BY id DESC LIMIT ?%u OFFSET ?%u",
		 match_where[kind], n_match + 1, n_match + 2);
	p[n_match] = dq_int(limit);
	p[n_match + 1] = dq_int(offset);
	rv = query_rows(l, sql, p, n_match + 2, limit, out, n_out, err);
	mem_free(pattern);
	return rv;
}

int store_schema_version(struct dq_leader *l, int *version, struct pat_err *err)
{
	int64_t v = 0;
	bool found = false;
	int rv;

	err_clear(err);
	*version = 0;
	rv = leader_query_int(l, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pat_schema'", NULL, 0,
			      &v, &found);
	if (rv == PAT_OK && v > 0)
		rv = leader_query_int(l, "SELECT coalesce(max(version), 0) FROM pat_schema", NULL, 0, &v, &found);
	if (rv != PAT_OK)
		return err_set(err, rv, "reading the schema version failed: %s", l->err.msg);
	*version = (int)v;
	return PAT_OK;
}

struct deletion {
	const char *tenant;
	const char *id;   /* NULL: every message of the tenant */
	int64_t deleted;
};

static int delete_rows(struct dq_client *c, void *data, struct pat_err *err)
{
	struct deletion *d = data;
	struct dq_value p[2] = { dq_text(d->tenant), dq_text(d->id != NULL ? d->id : "") };
	unsigned n = d->id != NULL ? 2 : 1;
	struct dq_result r;
	int rv;

	(void)err;
	/* The messages_fts_delete trigger takes the rows out of the search index. */
	rv = dq_client_exec_sql(c, d->id != NULL ? "DELETE FROM messages WHERE tenant = ? AND id = ?"
						 : "DELETE FROM messages WHERE tenant = ?",
				p, n, &r);
	if (rv == PAT_OK)
		d->deleted = (int64_t)r.rows_affected;
	return rv;
}

int store_delete(struct dq_leader *l, const char *tenant, const char *id, struct pat_err *err)
{
	struct deletion d = { tenant, id, 0 };
	int rv;

	err_clear(err);
	if ((rv = run_tx(l, delete_rows, &d, err)) != PAT_OK)
		return rv;
	return d.deleted == 0 ? err_set(err, PAT_ENOTFOUND, "no message %s", id) : PAT_OK;
}

int store_delete_all(struct dq_leader *l, const char *tenant, int64_t *deleted, struct pat_err *err)
{
	struct deletion d = { tenant, NULL, 0 };
	int rv;

	err_clear(err);
	if ((rv = run_tx(l, delete_rows, &d, err)) != PAT_OK)
		return rv;
	if (deleted != NULL)
		*deleted = d.deleted;
	return PAT_OK;
}

/* ---- searching ---- */

/* The condition of each kind; "?" stands for the term's value (text or number). The full-text
 * kinds (fts) are answered by the FTS5 index instead: fts_column names the index column they
 * are limited to ("" for all). */
static const struct {
	const char *sql;
	unsigned n_params;  /* how many "?" */
	bool text;          /* takes the text (else the number, or nothing when n_params is 0) */
	bool fts;
	const char *fts_column;
} term_sql[] = {
	[STORE_TERM_TEXT] = { NULL, 1, true, true, "" },
	[STORE_TERM_FROM] = { "instr(lower(from_hdr), lower(?)) > 0", 1, true, false, NULL },
	[STORE_TERM_TO] = { "instr(lower(to_hdr), lower(?)) > 0", 1, true, false, NULL },
	[STORE_TERM_CC] = { "instr(lower(cc_hdr), lower(?)) > 0", 1, true, false, NULL },
	[STORE_TERM_BCC] = { "instr(lower(bcc_hdr), lower(?)) > 0", 1, true, false, NULL },
	[STORE_TERM_REPLY_TO] = { "instr(lower(reply_to), lower(?)) > 0", 1, true, false, NULL },
	[STORE_TERM_ADDRESSED] = { "(instr(lower(from_hdr), lower(?)) > 0 OR instr(lower(to_hdr), lower(?)) > 0"
				   " OR instr(lower(cc_hdr), lower(?)) > 0 OR instr(lower(bcc_hdr), lower(?)) > 0"
				   " OR instr(lower(reply_to), lower(?)) > 0)", 5, true, false, NULL },
	[STORE_TERM_SUBJECT] = { NULL, 1, true, true, "subject" },
	[STORE_TERM_MESSAGE_ID] = { "instr(lower(message_id), lower(?)) > 0", 1, true, false, NULL },
	[STORE_TERM_TAG] = { "instr(',' || lower(tags) || ',', ',' || lower(?) || ',') > 0", 1, true, false, NULL },
	[STORE_TERM_READ] = { "is_read <> 0", 0, false, false, NULL },
	[STORE_TERM_TAGGED] = { "tags <> ''", 0, false, false, NULL },
	[STORE_TERM_HAS_ATTACHMENT] = { "attachments > 0", 0, false, false, NULL },
	[STORE_TERM_HAS_INLINE] = { "inline_parts > 0", 0, false, false, NULL },
	[STORE_TERM_LARGER] = { "size > ?", 1, false, false, NULL },
	[STORE_TERM_SMALLER] = { "size < ?", 1, false, false, NULL },
	[STORE_TERM_AFTER] = { "received_at >= ?", 1, false, false, NULL },
	[STORE_TERM_BEFORE] = { "received_at < ?", 1, false, false, NULL },
	[STORE_TERM_ID_BELOW] = { "id < ?", 1, true, false, NULL },
};

#define FTS_HITS "seq IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"

/* A full-text term as FTS5 syntax, appended to b: one string (quotes doubled), so that FTS5
 * reads it as a phrase of its words whatever it holds, limited to column (may be ""). Words
 * match whole; text ending in '*' makes its last word a prefix ("invo*" finds "invoice").
 * Whole (stemmed, migration 6) words are the default because a prefix costs FTS5 a merge of
 * every word it begins (measured with 1,000,000 messages: 5 ms for "invoice AND order", 27 ms
 * as prefixes). */
static int fts_phrase(struct buf *b, const char *column, const char *text)
{
	size_t n = strlen(text);
	bool prefix = false;
	int rv = PAT_OK;

	while (n > 0 && text[n - 1] == '*') {
		n--;
		prefix = true;
	}
	if (column[0] != '\0')
		rv |= buf_printf(b, "%s : ", column);
	rv |= buf_append_char(b, '"');
	for (size_t i = 0; i < n; i++)
		rv |= text[i] == '"' ? buf_append_str(b, "\"\"") : buf_append_char(b, text[i]);
	rv |= buf_append_str(b, prefix && n > 0 ? "\" *" : "\"");
	return rv == PAT_OK ? PAT_OK : PAT_ENOMEM;
}

void store_where_free(struct store_where *w)
{
	buf_free(&w->sql);
	buf_free(&w->rest);
	for (unsigned i = 0; i < w->n_owned; i++)
		mem_free(w->owned[i]);
	w->n_owned = 0;
	w->n_params = 0;
	w->fts = NULL;
	w->full_text = false;
}

/* Keep b's text as one of w's FTS5 queries; NULL on ENOMEM. */
static const char *own_query(struct store_where *w, struct buf *b)
{
	char *q = buf_detach(b);

	if (q != NULL)
		w->owned[w->n_owned++] = q;
	return q;
}

int store_where_build(const struct store_filter *f, struct store_where *w, struct pat_err *err)
{
	size_t n = f != NULL ? f->n : 0, n_rest = 0;
	struct buf fts = BUF_INIT;
	bool positive = false;
	int ok = PAT_OK; /* PAT_ENOMEM once an append failed */

	buf_init(&w->sql);
	buf_init(&w->rest);
	w->n_params = 0;
	w->n_owned = 0;
	w->fts = NULL;
	w->full_text = false;
	if (n > STORE_FILTER_MAX_TERMS)
		return err_set(err, PAT_EINVAL, "too many search terms: %zu (at most %d)", n, STORE_FILTER_MAX_TERMS);
	for (size_t i = 0; i < n; i++) {
		const struct store_term *t = &f->terms[i];

		if (t->kind < 0 || (size_t)t->kind >= sizeof term_sql / sizeof term_sql[0])
			return err_set(err, PAT_EINVAL, "unknown search term kind %d", t->kind);
		if (term_sql[t->kind].text && (t->text == NULL || t->text[0] == '\0'))
			return err_set(err, PAT_EINVAL, "search term %zu has no text", i + 1);
		positive |= term_sql[t->kind].fts && !t->negate;
		w->full_text |= term_sql[t->kind].fts;
	}
	/* The full-text query: the terms that must hold ANDed, then each negated one taken away. */
	for (int pass = 0; positive && pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			const struct store_term *t = &f->terms[i];

			if (!term_sql[t->kind].fts || t->negate != (pass == 1))
				continue;
			/* "(a) AND (b) NOT (c) NOT (d)": FTS5's NOT binds before its AND, so that this is a
			 * and b, without c and d, however it groups. */
			if (fts.len > 0)
				ok |= buf_append_str(&fts, pass == 0 ? " AND " : " NOT ");
			ok |= buf_append_char(&fts, '(');
			ok |= fts_phrase(&fts, term_sql[t->kind].fts_column, t->text);
			ok |= buf_append_char(&fts, ')');
		}
	if (positive) {
		if (ok != PAT_OK || (w->fts = own_query(w, &fts)) == NULL)
			goto nomem;
		w->params[w->n_params++] = dq_text(w->fts);
	}
	/* The other terms (and a negated full-text term when none must hold). */
	for (size_t i = 0; i < n; i++) {
		const struct store_term *t = &f->terms[i];
		const char *value = t->text;

		if (term_sql[t->kind].fts && positive)
			continue;
		if (term_sql[t->kind].fts && (fts_phrase(&fts, term_sql[t->kind].fts_column, t->text) != PAT_OK ||
					      (value = own_query(w, &fts)) == NULL))
			goto nomem;
		ok |= buf_printf(&w->rest, "%s%s(%s)", n_rest++ ? " AND " : "", t->negate ? "NOT " : "",
			   term_sql[t->kind].fts ? FTS_HITS : term_sql[t->kind].sql);
		for (unsigned k = 0; k < term_sql[t->kind].n_params; k++)
			w->params[w->n_params++] = term_sql[t->kind].text ? dq_text(value) : dq_int(t->number);
	}
	if (n_rest == 0)
		ok |= buf_append_str(&w->rest, "1");
	if (ok == PAT_OK && positive)
		ok |= buf_printf(&w->sql, "(" FTS_HITS ") AND (%s)", w->rest.data);
	else if (ok == PAT_OK)
		ok |= buf_append_str(&w->sql, w->rest.data);
	if (ok != PAT_OK)
		goto nomem;
	return PAT_OK;
nomem:
	buf_free(&fts);
	store_where_free(w);
	return err_set(err, PAT_ENOMEM, "out of memory");
}

/* tenant, then the filter's parameters, then `extra` more. */
static int where_params(const char *tenant, const struct store_where *w, const struct dq_value *extra, unsigned n_extra,
			struct dq_value *p, unsigned *n)
{
	if (1 + w->n_params + n_extra > DQ_MAX_PARAMS)
		return PAT_EINVAL;
	p[0] = dq_text(tenant);
	memcpy(p + 1, w->params, w->n_params * sizeof *p);
	if (n_extra > 0)
		memcpy(p + 1 + w->n_params, extra, n_extra * sizeof *p);
	*n = 1 + w->n_params + n_extra;
	return PAT_OK;
}

/* A failed query: FTS5 refusing its query is the user's input, the rest is the store's. */
static int search_failed(struct dq_leader *l, int rv, struct pat_err *err)
{
	if (rv == PAT_EREMOTE)
		return err_set(err, PAT_EINVAL, "cannot search: %s", l->client.err.msg);
	return rv;
}

/* The counts of a search: *total and, when unread is not NULL, *unread. */
static int count_matching(struct dq_leader *l, const char *sql, const struct dq_value *p, unsigned np, int64_t *total,
			  int64_t *unread, struct pat_err *err)
{
	struct dq_rows res;
	bool row = false;
	int rv;

	if ((rv = dq_leader_query_sql(l, sql, p, np, &res)) != PAT_OK)
		return search_failed(l, err_set(err, rv, "%s", l->err.msg), err);
	rv = dq_rows_next(&res, &row);
	if (rv == PAT_OK && row) {
		*total = res.values[0].integer;
		if (unread != NULL)
			*unread = res.values[1].integer;
	}
	dq_rows_close(&res);
	return rv != PAT_OK ? err_set(err, rv, "%s", l->client.err.msg) : PAT_OK;
}

/* A search with words is driven from the full-text index: its hits (seqs, newest first) are
 * joined to the tenant's rows, so that a page reads only the rows it shows, however many hit,
 * and the count reads the small messages_flags index when the words are the whole filter
 * (measured with 1,000,000 messages and 34,000 hits: 22 ms, against 370 ms for a subquery per
 * word, sorted by id). Such a search lists in commit order (seq), which is the order of the
 * ids but for messages committed in the same moment by different gateways. */
#define FTS_JOIN " FROM messages_fts f CROSS JOIN messages m%s WHERE f.messages_fts MATCH ? AND m.seq = f.rowid AND m.tenant = ? AND %s"

int store_find_matching(struct dq_leader *l, const char *tenant, const struct store_filter *f, unsigned start,
			unsigned limit, struct store_row **rows, size_t *n, int64_t *total, int64_t *unread,
			struct pat_err *err)
{
	struct store_where w;
	struct dq_value p[DQ_MAX_PARAMS], extra[2] = { dq_int(limit), dq_int(start) };
	struct buf sql = BUF_INIT;
	unsigned np = 0;
	int rv;

	*rows = NULL;
	*n = 0;
	*total = 0;
	if (unread != NULL)
		*unread = 0;
	err_clear(err);
	if ((rv = store_where_build(f, &w, err)) != PAT_OK)
		return rv;
	if (where_params(tenant, &w, extra, 2, p, &np) != PAT_OK) {
		rv = err_set(err, PAT_EINVAL, "too many search terms");
		goto out;
	}
	if (w.full_text && (rv = index_caught_up(l, err)) != PAT_OK)
		goto out;
	if (w.fts != NULL) {
		/* fts, tenant, the rest's parameters, limit, offset. */
		bool flags_only = strcmp(w.rest.data, "1") == 0;

		p[0] = dq_text(w.fts);
		p[1] = dq_text(tenant);
		buf_printf(&sql, "SELECT count(*), count(*) - coalesce(sum(m.is_read <> 0), 0)" FTS_JOIN,
			   flags_only ? " INDEXED BY messages_flags" : "", w.rest.data);
		if (sql.data == NULL) {
			rv = err_set(err, PAT_ENOMEM, "out of memory");
			goto out;
		}
		if ((rv = count_matching(l, sql.data, p, np - 2, total, unread, err)) != PAT_OK)
			goto out;
		buf_reset(&sql);
		buf_printf(&sql, "SELECT " COLUMNS_OF("m.") FTS_JOIN " ORDER BY f.rowid DESC LIMIT ? OFFSET ?", "",
			   w.rest.data);
	} else {
		if (f == NULL || f->n == 0)
			/* Everything: the counts the triggers keep (migration 5), not a scan. */
			buf_printf(&sql, "SELECT coalesce(sum(total), 0), coalesce(sum(unread), 0) FROM message_counts WHERE tenant = ? AND %s",
				   w.sql.data);
		else /* unread or not, the same walk of the tenant's rows */
			buf_printf(&sql, "SELECT count(*), count(*) - coalesce(sum(is_read <> 0), 0) FROM messages WHERE tenant = ? AND %s",
				   w.sql.data);
		if (sql.data == NULL) {
			rv = err_set(err, PAT_ENOMEM, "out of memory");
			goto out;
		}
		if ((rv = count_matching(l, sql.data, p, np - 2, total, unread, err)) != PAT_OK)
			goto out;
		buf_reset(&sql);
		buf_printf(&sql, "SELECT " COLUMNS " FROM messages WHERE tenant = ? AND %s ORDER BY id DESC LIMIT ? OFFSET ?",
			   w.sql.data);
	}
	if (sql.data == NULL) {
		rv = err_set(err, PAT_ENOMEM, "out of memory");
		goto out;
	}
	if (*total > (int64_t)start)
		rv = search_failed(l, query_rows(l, sql.data, p, np, limit, rows, n, err), err);
out:
	buf_free(&sql);
	store_where_free(&w);
	return rv;
}

#define IDS_PER_STATEMENT 200

struct matching {
	const char *tenant;
	const struct store_where *w;   /* the condition (deletion, marking) */
	const char *const *ids;        /* or these ids (marking) */
	size_t n_ids;
	bool read;                     /* marking: the new state */
	int64_t count;                 /* rows changed */
};

/* "(?, ?, ...)" of n marks. */
static void marks(struct buf *sql, size_t n)
{
	buf_append_char(sql, '(');
	for (size_t i = 0; i < n; i++)
		buf_append_str(sql, i ? ", ?" : "?");
	buf_append_char(sql, ')');
}

/* Run `head (?, ?, ...) tail` over ids, IDS_PER_STATEMENT at a time, with lead's values before
 * the ids and trail's (may be NULL) after them; *count adds up the rows changed. */
static int exec_per_ids(struct dq_client *c, const char *head, const char *tail, const struct dq_value *lead,
			unsigned n_lead, const struct dq_value *trail, const char *const *ids, size_t n_ids, int64_t *count,
			struct pat_err *err)
{
	struct dq_value p[DQ_MAX_PARAMS];
	struct buf sql = BUF_INIT;
	int rv = PAT_OK;

	memcpy(p, lead, n_lead * sizeof *p);
	for (size_t off = 0; off < n_ids && rv == PAT_OK; off += IDS_PER_STATEMENT) {
		size_t k = n_ids - off < IDS_PER_STATEMENT ? n_ids - off : IDS_PER_STATEMENT;
		unsigned n = n_lead + (unsigned)k;
		struct dq_result r;

		for (size_t i = 0; i < k; i++)
			p[n_lead + i] = dq_text(ids[off + i] != NULL ? ids[off + i] : "");
		if (trail != NULL)
			p[n++] = *trail;
		buf_reset(&sql);
		buf_append_str(&sql, head);
		marks(&sql, k);
		buf_append_str(&sql, tail);
		if (sql.data == NULL) {
			rv = err_set(err, PAT_ENOMEM, "out of memory");
			break;
		}
		if ((rv = dq_client_exec_sql(c, sql.data, p, n, &r)) == PAT_OK)
			*count += (int64_t)r.rows_affected;
	}
	buf_free(&sql);
	return rv;
}

/* The seqs of the matching messages are read first and the rows then deleted by seq (their
 * index entries go with them, by trigger): a full-text condition is never evaluated against an
 * index that the same statement is changing. */
static int delete_matching_tx(struct dq_client *c, void *data, struct pat_err *err)
{
	struct matching *m = data;
	struct dq_value p[DQ_MAX_PARAMS];
	struct buf sql = BUF_INIT;
	int64_t *seqs = NULL;
	size_t n = 0, cap = 0;
	struct dq_rows rows;
	unsigned np = 0;
	bool row;
	int rv;

	m->count = 0;
	if (m->w->full_text && (rv = index_caught_up_tx(c)) != PAT_OK)
		return rv;
	where_params(m->tenant, m->w, NULL, 0, p, &np);
	buf_printf(&sql, "SELECT seq FROM messages WHERE tenant = ? AND %s", m->w->sql.data);
	if (sql.data == NULL) {
		buf_free(&sql);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	if ((rv = dq_client_query_sql(c, sql.data, p, np, &rows)) != PAT_OK)
		goto out;
	while ((rv = dq_rows_next(&rows, &row)) == PAT_OK && row) {
		if (n == cap) {
			int64_t *grown = mem_realloc(seqs, (cap = cap ? 2 * cap : 64) * sizeof *seqs);

			if (grown == NULL) {
				rv = err_set(err, PAT_ENOMEM, "out of memory");
				break;
			}
			seqs = grown;
		}
		seqs[n++] = rows.values[0].integer;
	}
	dq_rows_close(&rows);
	for (size_t off = 0; off < n && rv == PAT_OK; off += IDS_PER_STATEMENT) {
		size_t k = n - off < IDS_PER_STATEMENT ? n - off : IDS_PER_STATEMENT;
		struct dq_result r;

		p[0] = dq_text(m->tenant);
		for (size_t i = 0; i < k; i++)
			p[1 + i] = dq_int(seqs[off + i]);
		buf_reset(&sql);
		buf_append_str(&sql, "DELETE FROM messages WHERE tenant = ? AND seq IN ");
		marks(&sql, k);
		if (sql.data == NULL || (rv = dq_client_exec_sql(c, sql.data, p, (unsigned)k + 1, &r)) != PAT_OK)
			break;
		m->count += (int64_t)r.rows_affected;
	}
	if (rv == PAT_OK && sql.data == NULL)
		rv = err_set(err, PAT_ENOMEM, "out of memory");
out:
	mem_free(seqs);
	buf_free(&sql);
	return rv;
}

int store_delete_matching(struct dq_leader *l, const char *tenant, const struct store_filter *f, int64_t *deleted,
			  struct pat_err *err)
{
	struct store_where w;
	struct matching m = { tenant, &w, NULL, 0, false, 0 };
	int rv;

	err_clear(err);
	if (deleted != NULL)
		*deleted = 0;
	if ((rv = store_where_build(f, &w, err)) != PAT_OK)
		return rv;
	rv = run_tx(l, delete_matching_tx, &m, err);
	store_where_free(&w);
	if (rv == PAT_EREMOTE && strstr(err->msg, "fts5") != NULL)
		rv = err_set(err, PAT_EINVAL, "cannot search: %s", l->client.err.msg);
	if (rv == PAT_OK && deleted != NULL)
		*deleted = m.count;
	return rv;
}

static int set_read_tx(struct dq_client *c, void *data, struct pat_err *err)
{
	struct matching *m = data;
	struct dq_value p[DQ_MAX_PARAMS];
	struct buf sql = BUF_INIT;
	struct dq_result r;
	unsigned np = 0;
	int rv = PAT_OK;

	m->count = 0;
	p[0] = dq_int(m->read);
	p[1] = dq_text(m->tenant);
	if (m->ids == NULL) {
		struct dq_value extra[1] = { dq_int(m->read) };

		if (m->w->full_text && (rv = index_caught_up_tx(c)) != PAT_OK)
			return rv;

		where_params(m->tenant, m->w, extra, 1, p + 1, &np);
		p[0] = dq_int(m->read);
		buf_printf(&sql, "UPDATE messages SET is_read = ? WHERE tenant = ? AND %s AND is_read <> ?", m->w->sql.data);
		if (sql.data == NULL)
			rv = err_set(err, PAT_ENOMEM, "out of memory");
		else if ((rv = dq_client_exec_sql(c, sql.data, p, np + 1, &r)) == PAT_OK)
			m->count = (int64_t)r.rows_affected;
		buf_free(&sql);
		return rv;
	}
	return exec_per_ids(c, "UPDATE messages SET is_read = ? WHERE tenant = ? AND id IN ", " AND is_read <> ?", p, 2,
			    &p[0], m->ids, m->n_ids, &m->count, err);
}

int store_set_read(struct dq_leader *l, const char *tenant, bool read, const char *const *ids, size_t n_ids,
		   const struct store_filter *f, int64_t *changed, struct pat_err *err)
{
	struct store_where w;
	struct matching m = { tenant, &w, ids, n_ids, read, 0 };
	int rv;

	err_clear(err);
	if (changed != NULL)
		*changed = 0;
	if (ids != NULL && n_ids == 0)
		return PAT_OK;
	if ((rv = store_where_build(ids != NULL ? NULL : f, &w, err)) != PAT_OK)
		return rv;
	rv = run_tx(l, set_read_tx, &m, err);
	store_where_free(&w);
	if (rv == PAT_EREMOTE && strstr(err->msg, "fts5") != NULL)
		rv = err_set(err, PAT_EINVAL, "cannot search: %s", l->client.err.msg);
	if (rv == PAT_OK && changed != NULL)
		*changed = m.count;
	return rv;
}

static int delete_ids_tx(struct dq_client *c, void *data, struct pat_err *err)
{
	struct matching *m = data;
	struct dq_value tenant = dq_text(m->tenant);

	m->count = 0;
	return exec_per_ids(c, "DELETE FROM messages WHERE tenant = ? AND id IN ", "", &tenant, 1, NULL, m->ids, m->n_ids,
			    &m->count, err);
}

int store_delete_ids(struct dq_leader *l, const char *tenant, const char *const *ids, size_t n_ids, int64_t *deleted,
		     struct pat_err *err)
{
	struct matching m = { tenant, NULL, ids, n_ids, false, 0 };
	int rv;

	err_clear(err);
	if (deleted != NULL)
		*deleted = 0;
	if (n_ids == 0)
		return PAT_OK;
	rv = run_tx(l, delete_ids_tx, &m, err);
	if (rv == PAT_OK && deleted != NULL)
		*deleted = m.count;
	return rv;
}

int store_stored_bytes(struct dq_leader *l, const char *tenant, int64_t *bytes, struct pat_err *err)
{
	struct dq_value p = dq_text(tenant);
	struct dq_rows rows;
	bool row = false;
	int rv;

	err_clear(err);
	*bytes = 0;
	rv = dq_leader_query_sql(l, "SELECT coalesce(sum(length(raw) + length(body) + length(snippet) + 256), 0) "
				    "FROM messages WHERE tenant = ?", &p, 1, &rows);
	if (rv != PAT_OK)
		return err_set(err, rv, "%s", l->err.msg);
	rv = dq_rows_next(&rows, &row);
	if (rv == PAT_OK && row)
		*bytes = rows.values[0].integer;
	dq_rows_close(&rows);
	return rv == PAT_OK ? PAT_OK : err_set(err, rv, "%s", l->client.err.msg);
}

/* ---- tags ---- */

void store_tags_free(char **tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mem_free(tags[i]);
	mem_free(tags);
}

/* A tags column's tags, trimmed, into *list (appended, each once in any case). */
static int tags_split(const char *column, char ***list, size_t *n)
{
	const char *p = column;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		char *t = mem_strndup(p, len);
		bool seen = false;

		if (t == NULL)
			return PAT_ENOMEM;
		str_trim(t);
		for (size_t i = 0; i < *n && !seen; i++)
			seen = str_eq_nocase((*list)[i], t);
		if (t[0] == '\0' || seen) {
			mem_free(t);
		} else {
			char **grown = mem_realloc(*list, (*n + 1) * sizeof *grown);

			if (grown == NULL) {
				mem_free(t);
				return PAT_ENOMEM;
			}
			*list = grown;
			grown[(*n)++] = t;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return PAT_OK;
}

static int tag_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

int store_tags_list(struct dq_leader *l, const char *tenant, char ***tags, size_t *n_out, struct pat_err *err)
{
	struct dq_value p = dq_text(tenant);
	struct dq_rows rows;
	char **list = NULL;
	size_t n = 0;
	bool row;
	int rv;

	*tags = NULL;
	*n_out = 0;
	err_clear(err);
	rv = dq_leader_query_sql(l, "SELECT DISTINCT tags FROM messages WHERE tenant = ? AND tags <> ''", &p, 1, &rows);
	if (rv != PAT_OK)
		return err_set(err, rv, "%s", l->err.msg);
	while ((rv = dq_rows_next(&rows, &row)) == PAT_OK && row)
		if (rows.values[0].type == DQ_TEXT && (rv = tags_split(rows.values[0].bytes.ptr, &list, &n)) != PAT_OK)
			break;
	dq_rows_close(&rows);
	if (rv != PAT_OK) {
		store_tags_free(list, n);
		return err_set(err, rv, rv == PAT_ENOMEM ? "out of memory" : "%s", l->client.err.msg);
	}
	if (n > 1)
		qsort(list, n, sizeof *list, tag_cmp);
	*tags = list;
	*n_out = n;
	return PAT_OK;
}

/* tags joined as the column holds them; PAT_EINVAL for an empty tag or one with a comma. */
static int tags_join(const char *const *tags, size_t n, struct buf *out, struct pat_err *err)
{
	char **list = NULL;
	size_t k = 0;
	int rv = PAT_OK;

	for (size_t i = 0; i < n && rv == PAT_OK; i++) {
		if (tags[i] == NULL || strchr(tags[i], ',') != NULL)
			rv = err_set(err, PAT_EINVAL, "a tag may not hold a comma: \"%s\"", tags[i] != NULL ? tags[i] : "");
		else if ((rv = tags_split(tags[i], &list, &k)) != PAT_OK)
			rv = err_set(err, rv, "out of memory");
	}
	for (size_t i = 0; i < k && rv == PAT_OK; i++)
		buf_printf(out, "%s%s", i ? "," : "", list[i]);
	store_tags_free(list, k);
	if (rv == PAT_OK && k > 0 && out->data == NULL)
		rv = err_set(err, PAT_ENOMEM, "out of memory");
	return rv;
}

struct tagging {
	const char *tenant;
	const char *const *ids;
	size_t n_ids;
	const char *value;          /* the new column (set) */
	const char *from, *to;      /* rename */
	int64_t count;
};

static int tags_set_tx(struct dq_client *c, void *data, struct pat_err *err)
{
	struct tagging *t = data;
	struct dq_value lead[2] = { dq_text(t->value), dq_text(t->tenant) };

	t->count = 0;
	return exec_per_ids(c, "UPDATE messages SET tags = ? WHERE tenant = ? AND id IN ", "", lead, 2, NULL, t->ids,
			    t->n_ids, &t->count, err);
}

int store_tags_set(struct dq_leader *l, const char *tenant, const char *const *ids, size_t n_ids,
		   const char *const *tags, size_t n_tags, int64_t *changed, struct pat_err *err)
{
	struct buf value = BUF_INIT;
	struct tagging t = { tenant, ids, n_ids, NULL, NULL, NULL, 0 };
	int rv;

	err_clear(err);
	if (changed != NULL)
		*changed = 0;
	if ((rv = tags_join(tags, n_tags, &value, err)) != PAT_OK) {
		buf_free(&value);
		return rv;
	}
	t.value = buf_str(&value);
	rv = n_ids > 0 ? run_tx(l, tags_set_tx, &t, err) : PAT_OK;
	buf_free(&value);
	if (rv == PAT_OK && changed != NULL)
		*changed = t.count;
	return rv;
}

/* Every message carrying `from` gets its column rewritten with `to` in its place. */
static int tag_rename_tx(struct dq_client *c, void *data, struct pat_err *err)
{
	struct tagging *t = data;
	struct dq_value p[3] = { dq_text(t->tenant), dq_text(t->from) };
	struct dq_rows rows;
	char **ids = NULL, **values = NULL;
	size_t n = 0;
	bool row;
	int rv;

	t->count = 0;
	rv = dq_client_query_sql(c, "SELECT id, tags FROM messages WHERE tenant = ? AND "
				    "instr(',' || lower(tags) || ',', ',' || lower(?) || ',') > 0", p, 2, &rows);
	if (rv != PAT_OK)
		return rv;
	while ((rv = dq_rows_next(&rows, &row)) == PAT_OK && row) {
		char **list = NULL, **gi, **gv;
		size_t k = 0;
		struct buf b = BUF_INIT;

		if (rows.values[0].type != DQ_TEXT || rows.values[1].type != DQ_TEXT)
			continue;
		if ((rv = tags_split(rows.values[1].bytes.ptr, &list, &k)) == PAT_OK) {
			bool renamed = false;

			for (size_t i = 0; i < k; i++) {
				const char *name = list[i];

				if (str_eq_nocase(name, t->from)) {
					if (t->to == NULL || renamed)
						continue;
					name = t->to;
					renamed = true;
				}
				buf_printf(&b, "%s%s", b.len ? "," : "", name);
			}
		}
		store_tags_free(list, k);
		gi = mem_realloc(ids, (n + 1) * sizeof *ids);
		ids = gi != NULL ? gi : ids;
		gv = mem_realloc(values, (n + 1) * sizeof *values);
		values = gv != NULL ? gv : values;
		if (rv == PAT_OK && gi != NULL && gv != NULL) {
			ids[n] = mem_strdup(rows.values[0].bytes.ptr);
			values[n] = buf_detach(&b);
			n++;
			if (ids[n - 1] == NULL || values[n - 1] == NULL)
				rv = PAT_ENOMEM;
		} else if (rv == PAT_OK) {
			rv = PAT_ENOMEM;
		}
		buf_free(&b);
		if (rv != PAT_OK)
			break;
	}
	dq_rows_close(&rows);
	if (rv == PAT_ENOMEM)
		err_set(err, rv, "out of memory");
	/* A rename onto a tag the message has already: the duplicate goes (tags_split dedups). */
	for (size_t i = 0; i < n && rv == PAT_OK; i++) {
		char **list = NULL;
		size_t k = 0;
		struct buf b = BUF_INIT;

		if ((rv = tags_split(values[i], &list, &k)) == PAT_OK) {
			for (size_t j = 0; j < k; j++)
				buf_printf(&b, "%s%s", j ? "," : "", list[j]);
			p[0] = dq_text(buf_str(&b));
			p[1] = dq_text(t->tenant);
			p[2] = dq_text(ids[i]);
			if (k > 0 && b.data == NULL)
				rv = PAT_ENOMEM;
			else
				rv = dq_client_exec_sql(c, "UPDATE messages SET tags = ? WHERE tenant = ? AND id = ?", p, 3, NULL);
		}
		store_tags_free(list, k);
		buf_free(&b);
		if (rv == PAT_ENOMEM)
			err_set(err, rv, "out of memory");
		t->count++;
	}
	for (size_t i = 0; i < n; i++) {
		mem_free(ids[i]);
		mem_free(values[i]);
	}
	mem_free(ids);
	mem_free(values);
	return rv;
}

int store_tag_rename(struct dq_leader *l, const char *tenant, const char *from, const char *to, int64_t *changed,
		     struct pat_err *err)
{
	struct tagging t = { tenant, NULL, 0, NULL, from, to, 0 };
	int rv;

	err_clear(err);
	if (changed != NULL)
		*changed = 0;
	if (from == NULL || from[0] == '\0' || strchr(from, ',') != NULL)
		return err_set(err, PAT_EINVAL, "bad tag \"%s\"", from != NULL ? from : "");
	if (to != NULL && (to[0] == '\0' || strchr(to, ',') != NULL))
		return err_set(err, PAT_EINVAL, "a tag may not be empty or hold a comma: \"%s\"", to);
	rv = run_tx(l, tag_rename_tx, &t, err);
	if (rv == PAT_OK && changed != NULL)
		*changed = t.count;
	return rv;
}

/* ---- audit log ---- */

#define HASH_LEN 32

struct audit_row {
	const char *tenant, *actor, *action, *subject, *detail;
	int64_t at;
	uint8_t prev[HASH_LEN];
	uint8_t hash[HASH_LEN];
};

/* SHA-256 over the previous hash and every field, each field length-prefixed so that no two
 * different rows can encode alike. */
static int audit_hash(struct audit_row *a)
{
	const char *fields[] = { a->tenant, a->actor, a->action, a->subject, a->detail };
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned len = 0;
	uint8_t word[8];
	int ok;

	if (ctx == NULL)
		return PAT_ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, a->prev, HASH_LEN);
	for (int i = 0; i < 8; i++)
		word[i] = (uint8_t)((uint64_t)a->at >> (8 * i));
	ok = ok && EVP_DigestUpdate(ctx, word, 8);
	for (int f = 0; f < 5 && ok; f++) {
		uint64_t n = strlen(fields[f]);

		for (int i = 0; i < 8; i++)
			word[i] = (uint8_t)(n >> (8 * i));
		ok = EVP_DigestUpdate(ctx, word, 8) && EVP_DigestUpdate(ctx, fields[f], n);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, a->hash, &len) && len == HASH_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? PAT_OK : PAT_EIO;
}

static int audit_append_tx(struct dq_client *c, void *data, struct pat_err *err)
{
	struct audit_row *a = data;
	struct dq_value p = dq_text(a->tenant);
	struct dq_rows rows;
	bool row = false;
	int rv;

	memset(a->prev, 0, HASH_LEN);
	rv = dq_client_query_sql(c, "SELECT hash FROM audit_log WHERE tenant = ? ORDER BY seq DESC LIMIT 1", &p, 1, &rows);
	if (rv != PAT_OK)
		return rv;
	rv = dq_rows_next(&rows, &row);
	if (rv == PAT_OK && row) {
		if (rows.values[0].type != DQ_BLOB || rows.values[0].bytes.len != HASH_LEN)
			rv = err_set(err, PAT_EINVAL, "the audit log's last row has no valid hash");
		else
			memcpy(a->prev, rows.values[0].bytes.ptr, HASH_LEN);
	}
	dq_rows_close(&rows);
	if (rv != PAT_OK)
		return rv;
	if ((rv = audit_hash(a)) != PAT_OK)
		return err_set(err, rv, "cannot hash the audit row");
	{
		struct dq_value v[8] = { dq_text(a->tenant), dq_int(a->at), dq_text(a->actor), dq_text(a->action),
					 dq_text(a->subject), dq_text(a->detail), dq_blob(a->prev, HASH_LEN),
					 dq_blob(a->hash, HASH_LEN) };

		return dq_client_exec_sql(c, "INSERT INTO audit_log (tenant, at, actor, action, subject, detail, prev_hash, hash)"
					     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", v, 8, NULL);
	}
}

int store_audit_append(struct dq_leader *l, const char *tenant, const char *actor, const char *action,
		       const char *subject, const char *detail, struct pat_err *err)
{
	struct audit_row a = { tenant, actor, action, subject ? subject : "", detail ? detail : "", time_wall_ms(), { 0 }, { 0 } };

	err_clear(err);
	return run_tx(l, audit_append_tx, &a, err);
}

int store_audit_verify(struct dq_leader *l, const char *tenant, int64_t *n_rows, int64_t *bad_seq, struct pat_err *err)
{
	struct dq_value p = dq_text(tenant);
	uint8_t expected_prev[HASH_LEN] = { 0 };
	struct dq_rows rows;
	int rv;

	*n_rows = 0;
	*bad_seq = 0;
	err_clear(err);
	rv = dq_leader_query_sql(l, "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log"
				    " WHERE tenant = ? ORDER BY seq", &p, 1, &rows);
	if (rv != PAT_OK)
		return err_set(err, rv, "%s", l->err.msg);
	for (;;) {
		const struct dq_value *v;
		struct audit_row a;
		bool row;

		if ((rv = dq_rows_next(&rows, &row)) != PAT_OK || !row)
			break;
		v = rows.values;
		(*n_rows)++;
		if (*bad_seq != 0)
			continue;
		if (v[6].type != DQ_BLOB || v[7].type != DQ_BLOB || v[6].bytes.len != HASH_LEN || v[7].bytes.len != HASH_LEN ||
		    v[2].type != DQ_TEXT || v[3].type != DQ_TEXT || v[4].type != DQ_TEXT || v[5].type != DQ_TEXT) {
			*bad_seq = v[0].integer;
			continue;
		}
		a = (struct audit_row){ tenant, v[2].bytes.ptr, v[3].bytes.ptr, v[4].bytes.ptr, v[5].bytes.ptr, v[1].integer,
					{ 0 }, { 0 } };
		memcpy(a.prev, v[6].bytes.ptr, HASH_LEN);
		if (memcmp(a.prev, expected_prev, HASH_LEN) != 0 || audit_hash(&a) != PAT_OK ||
		    memcmp(a.hash, v[7].bytes.ptr, HASH_LEN) != 0) {
			*bad_seq = v[0].integer;
			continue;
		}
		memcpy(expected_prev, a.hash, HASH_LEN);
	}
	dq_rows_close(&rows);
	return rv == PAT_OK ? PAT_OK : err_set(err, rv, "%s", l->client.err.msg);
}
