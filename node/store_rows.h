/* store_rows: a batch of messages as one value, and the SQL table that reads it back.
 *
 * The group-commit writer sends a whole batch as a single parameter of a single statement,
 *
 *   INSERT INTO messages (...) SELECT * FROM pat_batch(?) WHERE true ON CONFLICT ... DO NOTHING
 *
 * one round trip and one Raft entry whatever the batch's size, prepared once per connection.
 * pat_batch is a table-valued function (an eponymous virtual table) that every Pat process
 * running a node gives SQLite (store_register_sql()); the leader runs the statement, and the
 * followers apply its pages, so only the leader's build matters. The batch is Pat's own
 * binary layout, read without parsing text: a header of two little-endian u32, the columns
 * per row (STORE_ROWS_COLUMNS) and the rows; then each value as one type byte and its
 * payload: STORE_ROWS_NULL nothing, STORE_ROWS_INT 8 bytes (i64, little-endian),
 * STORE_ROWS_TEXT and STORE_ROWS_BLOB a u32 length and the bytes. A batch that is anything
 * else is refused whole, with the reason, before any row is read. */
#ifndef PAT_NODE_STORE_ROWS_H
#define PAT_NODE_STORE_ROWS_H

#include <sqlite3.h>
#include <stddef.h>

#include "consensus/dq_wire.h"
#include "lib/buf.h"
#include "lib/err.h"

/* The columns of messages a batch carries, in this order (pat_batch's columns). */
#define STORE_ROWS_COLUMN_NAMES                                                                            \
	"id, tenant, received_at, helo, mail_from, rcpt_to, from_hdr, to_hdr, cc_hdr, bcc_hdr, reply_to,"    \
	" subject, message_id, date_hdr, size, attachments, snippet, tags, is_read, region, gateway, raw," \
	" body, inline_parts"
#define STORE_ROWS_COLUMNS 24

enum { STORE_ROWS_NULL = 0, STORE_ROWS_INT = 1, STORE_ROWS_TEXT = 2, STORE_ROWS_BLOB = 3 };

/* Start a batch of STORE_ROWS_COLUMNS columns in out (reset first). */
int store_rows_begin(struct buf *out, struct pat_err *err);
/* Append one row of STORE_ROWS_COLUMNS values (NULL, INTEGER, TEXT or BLOB; PAT_EINVAL for
 * another type or a value of 4 GiB or more; PAT_ENOMEM). */
int store_rows_add(struct buf *out, const struct dq_value *row, struct pat_err *err);
/* Rows in a batch begun with store_rows_begin(). */
size_t store_rows_count(const struct buf *out);

/* Give connection db the pat_batch table (an SQLite result code). */
int store_rows_register(sqlite3 *db);

#endif
