/* dq_wire: encoding requests and decoding responses of dqlite's wire protocol (version 1).
 *
 * A message is an 8-byte header (uint32 body length in 8-byte words, uint8 type, uint8
 * revision, uint16 unused) and a body padded to 8 bytes. Integers are little-endian; text is
 * NUL-terminated and padded to 8 bytes; a blob is a uint64 length and its bytes, padded. Values
 * travel in tuples: parameters with an 8-bit count and 8-bit type slots, rows with 4-bit type
 * slots, each header padded to 8 bytes. Decoding never reads past the bytes it is given: a
 * short, malformed or hostile body is PAT_EPROTO. */
#ifndef PAT_CONSENSUS_DQ_WIRE_H
#define PAT_CONSENSUS_DQ_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define DQ_PROTOCOL_VERSION 1
#define DQ_HEADER_SIZE 8
#define DQ_MAX_PARAMS 255                      /* the count is one byte */
#define DQ_ROWS_PART 0xeeeeeeeeeeeeeeeeULL     /* more rows follow in another message */
#define DQ_ROWS_DONE 0xffffffffffffffffULL     /* the result set is complete */

enum dq_request {
	DQ_REQ_LEADER = 0,
	DQ_REQ_CLIENT = 1,
	DQ_REQ_OPEN = 3,
	DQ_REQ_PREPARE = 4,
	DQ_REQ_EXEC = 5,
	DQ_REQ_QUERY = 6,
	DQ_REQ_FINALIZE = 7,
	DQ_REQ_EXEC_SQL = 8,
	DQ_REQ_QUERY_SQL = 9,
	DQ_REQ_INTERRUPT = 10,
	DQ_REQ_ADD = 12,
	DQ_REQ_ASSIGN = 13,
	DQ_REQ_REMOVE = 14,
	DQ_REQ_DUMP = 15,
	DQ_REQ_CLUSTER = 16,
	DQ_REQ_TRANSFER = 17,
	DQ_REQ_DESCRIBE = 18,
	DQ_REQ_WEIGHT = 19,
};

enum dq_response {
	DQ_RESP_FAILURE = 0,
	DQ_RESP_SERVER = 1,
	DQ_RESP_WELCOME = 2,
	DQ_RESP_SERVERS = 3,
	DQ_RESP_DB = 4,
	DQ_RESP_STMT = 5,
	DQ_RESP_RESULT = 6,
	DQ_RESP_ROWS = 7,
	DQ_RESP_EMPTY = 8,
	DQ_RESP_FILES = 9,
	DQ_RESP_METADATA = 10,
};

/* Value types (SQLite's, plus dqlite's for declared DATETIME and BOOLEAN columns). */
enum dq_type {
	DQ_INTEGER = 1,
	DQ_FLOAT = 2,
	DQ_TEXT = 3,
	DQ_BLOB = 4,
	DQ_NULL = 5,
	DQ_UNIXTIME = 9,  /* an integer in a DATETIME/DATE/TIMESTAMP column: seconds */
	DQ_ISO8601 = 10,  /* text in such a column */
	DQ_BOOLEAN = 11,  /* a BOOLEAN column */
};

/* One database value. Text and blobs point into a message buffer or the caller's memory. */
struct dq_value {
	int type; /* enum dq_type */
	union {
		int64_t integer; /* DQ_INTEGER, DQ_UNIXTIME, DQ_BOOLEAN */
		double real;     /* DQ_FLOAT */
		struct {
			const char *ptr; /* DQ_TEXT, DQ_ISO8601 (NUL-terminated), DQ_BLOB */
			size_t len;      /* bytes, without the NUL */
		} bytes;
	};
};

static inline struct dq_value dq_int(int64_t v) { return (struct dq_value){ .type = DQ_INTEGER, .integer = v }; }
static inline struct dq_value dq_float(double v) { return (struct dq_value){ .type = DQ_FLOAT, .real = v }; }
static inline struct dq_value dq_null(void) { return (struct dq_value){ .type = DQ_NULL }; }
struct dq_value dq_text(const char *s);
static inline struct dq_value dq_blob(const void *p, size_t n)
{
	return (struct dq_value){ .type = DQ_BLOB, .bytes = { (const char *)p, n } };
}

/* ---- encoding ---- */

/* A request being written into a buffer. Errors stick: check once, in dq_enc_end(). */
struct dq_encoder {
	struct buf *b;    /* the message */
	size_t start;     /* offset of its header */
	int rv;           /* first error, or PAT_OK */
};

void dq_enc_begin(struct dq_encoder *e, struct buf *b, enum dq_request type, uint8_t revision);
void dq_enc_u64(struct dq_encoder *e, uint64_t v);
void dq_enc_text(struct dq_encoder *e, const char *s);
/* A parameter tuple. PAT_EINVAL for more than DQ_MAX_PARAMS values, an unknown type, or text
 * with a NUL byte inside (dqlite binds text up to its first NUL). */
void dq_enc_params(struct dq_encoder *e, const struct dq_value *params, unsigned n);
/* Fill in the header's length; PAT_OK, PAT_ENOMEM or PAT_EINVAL. */
int dq_enc_end(struct dq_encoder *e);

/* ---- decoding ---- */

/* Reading position in a response body. */
struct dq_cursor {
	const uint8_t *p; /* next byte */
	size_t left;      /* bytes left */
};

/* Parse a message header: body size in bytes and type. */
void dq_dec_header(const uint8_t header[DQ_HEADER_SIZE], uint64_t *body_size, uint8_t *type);
int dq_dec_u64(struct dq_cursor *c, uint64_t *v);
int dq_dec_u32(struct dq_cursor *c, uint32_t *v);
int dq_dec_text(struct dq_cursor *c, const char **s, size_t *len);
/* A row of n values with 4-bit type slots. */
int dq_dec_row(struct dq_cursor *c, unsigned n, struct dq_value *values);
/* The next 8 bytes, without consuming them. */
int dq_peek_u64(const struct dq_cursor *c, uint64_t *v);

#endif
