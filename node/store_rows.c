/* store_rows: see store_rows.h. */
#include "node/store_rows.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/le.h"

#define HEADER 8 /* u32 columns, u32 rows */

int store_rows_begin(struct buf *out, struct pat_err *err)
{
	uint8_t h[HEADER];

	buf_reset(out);
	le_put32(h, STORE_ROWS_COLUMNS);
	le_put32(h + 4, 0);
	return buf_append(out, h, sizeof h) == PAT_OK ? PAT_OK : err_set(err, PAT_ENOMEM, "out of memory");
}

size_t store_rows_count(const struct buf *out)
{
	return out->len >= HEADER ? le_get32((const uint8_t *)out->data + 4) : 0;
}

int store_rows_add(struct buf *out, const struct dq_value *row, struct pat_err *err)
{
	size_t start = out->len;
	int rv = PAT_OK;

	if (out->len < HEADER)
		return err_set(err, PAT_EINVAL, "the batch was not begun");
	for (int c = 0; c < STORE_ROWS_COLUMNS && rv == PAT_OK; c++) {
		const struct dq_value *v = &row[c];
		uint8_t head[9];
		size_t n_head = 1;
		bool bytes = false;

		switch (v->type) {
		case DQ_NULL:
			head[0] = STORE_ROWS_NULL;
			break;
		case DQ_INTEGER:
		case DQ_BOOLEAN:
			head[0] = STORE_ROWS_INT;
			le_put64(head + 1, (uint64_t)v->integer);
			n_head = 9;
			break;
		case DQ_TEXT:
		case DQ_BLOB:
			if (v->bytes.len >= UINT32_MAX) {
				rv = err_set(err, PAT_EINVAL, "column %d: a value of 4 GiB or more", c + 1);
				continue;
			}
			head[0] = v->type == DQ_TEXT ? STORE_ROWS_TEXT : STORE_ROWS_BLOB;
			le_put32(head + 1, (uint32_t)v->bytes.len);
			n_head = 5;
			bytes = v->bytes.len > 0;
			break;
		default:
			rv = err_set(err, PAT_EINVAL, "column %d: a batch carries no value of type %d", c + 1, v->type);
			continue;
		}
		if (buf_append(out, head, n_head) != PAT_OK || (bytes && buf_append(out, v->bytes.ptr, v->bytes.len) != PAT_OK))
			rv = err_set(err, PAT_ENOMEM, "out of memory");
	}
	if (rv != PAT_OK) {
		/* Nothing of a refused row stays. */
		out->len = start;
		out->data[start] = '\0';
		return rv;
	}
	le_put32((uint8_t *)out->data + 4, le_get32((uint8_t *)out->data + 4) + 1);
	return PAT_OK;
}

/* ---- the pat_batch table ---- */

#define COL_BATCH STORE_ROWS_COLUMNS /* the hidden column: the batch, pat_batch(?)'s argument */

struct value {
	int type;          /* STORE_ROWS_* */
	int64_t integer;
	const uint8_t *ptr;
	uint32_t len;
};

struct cursor {
	sqlite3_vtab_cursor base;
	uint8_t *batch;    /* a copy of the argument (sqlite3_free) */
	size_t len, pos;   /* its bytes, where the next row starts */
	uint32_t rows, row;/* rows in it, the current one (rows: at the end) */
	struct value v[STORE_ROWS_COLUMNS]; /* the current row */
};

/* Read the value at b[*pos] (len bytes in all) into v; false when it runs past the end or has
 * no known type. */
static bool read_value(const uint8_t *b, size_t len, size_t *pos, struct value *v)
{
	size_t p = *pos;

	if (p >= len)
		return false;
	v->type = b[p++];
	switch (v->type) {
	case STORE_ROWS_NULL:
		break;
	case STORE_ROWS_INT:
		if (len - p < 8)
			return false;
		v->integer = (int64_t)le_get64(b + p);
		p += 8;
		break;
	case STORE_ROWS_TEXT:
	case STORE_ROWS_BLOB:
		if (len - p < 4)
			return false;
		v->len = le_get32(b + p);
		p += 4;
		if (len - p < v->len)
			return false;
		v->ptr = b + p;
		p += v->len;
		break;
	default:
		return false;
	}
	*pos = p;
	return true;
}

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **msg)
{
	sqlite3_vtab *t;
	int rc;

	(void)aux;
	(void)argc;
	(void)argv;
	(void)msg;
	rc = sqlite3_declare_vtab(db, "CREATE TABLE x(" STORE_ROWS_COLUMN_NAMES ", batch HIDDEN)");
	if (rc != SQLITE_OK)
		return rc;
	if ((t = sqlite3_malloc(sizeof *t)) == NULL)
		return SQLITE_NOMEM;
	memset(t, 0, sizeof *t);
	sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
	*out = t;
	return SQLITE_OK;
}

static int vt_disconnect(sqlite3_vtab *t)
{
	sqlite3_free(t);
	return SQLITE_OK;
}

/* Plan 1 takes the batch from an `=` on the hidden column (pat_batch(?)); plan 0, without one,
 * is refused when run. */
static int vt_best_index(sqlite3_vtab *t, sqlite3_index_info *info)
{
	(void)t;
	info->idxNum = 0;
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];

		if (c->iColumn != COL_BATCH || c->op != SQLITE_INDEX_CONSTRAINT_EQ)
			continue;
		if (!c->usable)
			return SQLITE_CONSTRAINT;
		info->aConstraintUsage[i].argvIndex = 1;
		info->aConstraintUsage[i].omit = 1;
		info->idxNum = 1;
		break;
	}
	info->estimatedCost = info->idxNum == 1 ? 1.0 : 1e12;
	info->estimatedRows = 16;
	return SQLITE_OK;
}

static int vt_open(sqlite3_vtab *t, sqlite3_vtab_cursor **out)
{
	struct cursor *c = sqlite3_malloc(sizeof *c);

	(void)t;
	if (c == NULL)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof *c);
	*out = &c->base;
	return SQLITE_OK;
}

static int vt_close(sqlite3_vtab_cursor *base)
{
	struct cursor *c = (struct cursor *)base;

	sqlite3_free(c->batch);
	sqlite3_free(c);
	return SQLITE_OK;
}

static int refuse(struct cursor *c, const char *why)
{
	sqlite3_free(c->base.pVtab->zErrMsg);
	c->base.pVtab->zErrMsg = sqlite3_mprintf("pat_batch: %s", why);
	c->rows = c->row = 0;
	return SQLITE_ERROR;
}

/* Read row c->row at c->pos into c->v (the batch was checked whole by vt_filter()). */
static void load_row(struct cursor *c)
{
	for (int i = 0; i < STORE_ROWS_COLUMNS; i++)
		read_value(c->batch, c->len, &c->pos, &c->v[i]);
}

static int vt_filter(sqlite3_vtab_cursor *base, int plan, const char *idx, int argc, sqlite3_value **argv)
{
	struct cursor *c = (struct cursor *)base;
	struct value v;
	size_t pos;
	const void *blob;

	(void)idx;
	sqlite3_free(c->batch);
	c->batch = NULL;
	c->len = c->pos = 0;
	c->rows = c->row = 0;
	if (plan != 1 || argc < 1)
		return refuse(c, "a batch is needed: SELECT * FROM pat_batch(?)");
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return SQLITE_OK; /* no rows */
	if (sqlite3_value_type(argv[0]) != SQLITE_BLOB)
		return refuse(c, "the batch must be a BLOB");
	blob = sqlite3_value_blob(argv[0]);
	c->len = (size_t)sqlite3_value_bytes(argv[0]);
	if (c->len < HEADER)
		return refuse(c, "the batch is shorter than its header");
	if ((c->batch = sqlite3_malloc64(c->len)) == NULL)
		return SQLITE_NOMEM;
	memcpy(c->batch, blob, c->len);
	if (le_get32(c->batch) != STORE_ROWS_COLUMNS)
		return refuse(c, "the batch's rows are not of the 24 columns of messages");
	/* Every value checked before the first row is given: a damaged batch stores nothing. */
	uint32_t rows = le_get32(c->batch + 4);

	pos = HEADER;
	for (uint64_t i = 0; i < (uint64_t)rows * STORE_ROWS_COLUMNS; i++)
		if (!read_value(c->batch, c->len, &pos, &v))
			return refuse(c, "the batch is damaged: a value runs past its end or has no known type");
	if (pos != c->len)
		return refuse(c, "the batch is damaged: bytes after its last row");
	c->rows = rows;
	c->pos = HEADER;
	if (c->rows > 0)
		load_row(c);
	return SQLITE_OK;
}

static int vt_next(sqlite3_vtab_cursor *base)
{
	struct cursor *c = (struct cursor *)base;

	if (++c->row < c->rows)
		load_row(c);
	return SQLITE_OK;
}

static int vt_eof(sqlite3_vtab_cursor *base)
{
	const struct cursor *c = (const struct cursor *)base;

	return c->row >= c->rows;
}

static int vt_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col)
{
	const struct cursor *c = (const struct cursor *)base;
	const struct value *v;

	if (col < 0 || col >= STORE_ROWS_COLUMNS)
		return SQLITE_OK; /* the hidden batch column reads as NULL */
	v = &c->v[col];
	switch (v->type) {
	case STORE_ROWS_INT:
		sqlite3_result_int64(ctx, v->integer);
		break;
	case STORE_ROWS_TEXT:
		sqlite3_result_text64(ctx, (const char *)v->ptr, v->len, SQLITE_TRANSIENT, SQLITE_UTF8);
		break;
	case STORE_ROWS_BLOB:
		sqlite3_result_blob64(ctx, v->ptr, v->len, SQLITE_TRANSIENT);
		break;
	default:
		break; /* NULL */
	}
	return SQLITE_OK;
}

static int vt_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid)
{
	*rowid = ((const struct cursor *)base)->row;
	return SQLITE_OK;
}

static const sqlite3_module module = {
	.iVersion = 0,
	.xCreate = NULL, /* eponymous only: there is no CREATE VIRTUAL TABLE ... USING pat_batch */
	.xConnect = vt_connect,
	.xBestIndex = vt_best_index,
	.xDisconnect = vt_disconnect,
	.xDestroy = vt_disconnect,
	.xOpen = vt_open,
	.xClose = vt_close,
	.xFilter = vt_filter,
	.xNext = vt_next,
	.xEof = vt_eof,
	.xColumn = vt_column,
	.xRowid = vt_rowid,
};

int store_rows_register(sqlite3 *db)
{
	return sqlite3_create_module(db, "pat_batch", &module, NULL);
}
