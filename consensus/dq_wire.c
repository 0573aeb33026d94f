/* dq_wire: see dq_wire.h. Multi-byte values are assembled byte by byte, so decoding works at
 * any alignment and on any host byte order. */
#include "consensus/dq_wire.h"

#include <string.h>

#include "lib/err.h"

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

struct dq_value dq_text(const char *s)
{
	return (struct dq_value){ .type = DQ_TEXT, .bytes = { s, strlen(s) } };
}

/* ---- encoding ---- */

static void put(struct dq_encoder *e, const void *data, size_t n)
{
	if (e->rv == PAT_OK && buf_append(e->b, data, n) != PAT_OK)
		e->rv = PAT_ENOMEM;
}

static void put_zeros(struct dq_encoder *e, size_t n)
{
	static const uint8_t zeros[8];

	while (n > 0) {
		size_t k = n < 8 ? n : 8;

		put(e, zeros, k);
		n -= k;
	}
}

void dq_enc_begin(struct dq_encoder *e, struct buf *b, enum dq_request type, uint8_t revision)
{
	uint8_t header[DQ_HEADER_SIZE] = { 0, 0, 0, 0, (uint8_t)type, revision, 0, 0 };

	e->b = b;
	e->start = b->len;
	e->rv = PAT_OK;
	put(e, header, sizeof header);
}

void dq_enc_u64(struct dq_encoder *e, uint64_t v)
{
	uint8_t le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	put(e, le, 8);
}

static void enc_bytes_padded(struct dq_encoder *e, const void *p, size_t n)
{
	put(e, p, n);
	put_zeros(e, pad8(n) - n);
}

void dq_enc_text(struct dq_encoder *e, const char *s)
{
	size_t n = strlen(s);

	put(e, s, n);
	put_zeros(e, pad8(n + 1) - n); /* the NUL and the padding */
}

void dq_enc_params(struct dq_encoder *e, const struct dq_value *params, unsigned n)
{
	uint8_t types[8 * 33];
	size_t header;

	if (n > DQ_MAX_PARAMS) {
		e->rv = e->rv != PAT_OK ? e->rv : PAT_EINVAL;
		return;
	}
	header = pad8(1 + (size_t)n); /* count byte and one type byte each */
	memset(types, 0, header);
	types[0] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		switch (params[i].type) {
		case DQ_INTEGER: case DQ_FLOAT: case DQ_BLOB: case DQ_NULL: case DQ_BOOLEAN:
			break;
		case DQ_TEXT: case DQ_ISO8601:
			if (memchr(params[i].bytes.ptr, '\0', params[i].bytes.len) != NULL) {
				e->rv = e->rv != PAT_OK ? e->rv : PAT_EINVAL;
				return;
			}
			break;
		default:
			e->rv = e->rv != PAT_OK ? e->rv : PAT_EINVAL;
			return;
		}
		types[1 + i] = (uint8_t)params[i].type;
	}
	put(e, types, header);
	for (unsigned i = 0; i < n; i++) {
		const struct dq_value *v = &params[i];
		uint64_t bits;

		switch (v->type) {
		case DQ_INTEGER: dq_enc_u64(e, (uint64_t)v->integer); break;
		case DQ_BOOLEAN: dq_enc_u64(e, v->integer != 0); break;
		case DQ_FLOAT:
			memcpy(&bits, &v->real, 8);
			dq_enc_u64(e, bits);
			break;
		case DQ_NULL: dq_enc_u64(e, 0); break;
		case DQ_TEXT: case DQ_ISO8601:
			put(e, v->bytes.ptr, v->bytes.len);
			put_zeros(e, pad8(v->bytes.len + 1) - v->bytes.len);
			break;
		case DQ_BLOB:
			dq_enc_u64(e, v->bytes.len);
			enc_bytes_padded(e, v->bytes.ptr, v->bytes.len);
			break;
		}
	}
}

int dq_enc_end(struct dq_encoder *e)
{
	size_t body;
	uint64_t words;
	uint8_t *h;

	if (e->rv != PAT_OK)
		return e->rv;
	body = e->b->len - e->start - DQ_HEADER_SIZE;
	put_zeros(e, pad8(body) - body);
	if (e->rv != PAT_OK)
		return e->rv;
	words = pad8(body) / 8;
	if (words > UINT32_MAX)
		return e->rv = PAT_EINVAL;
	h = (uint8_t *)e->b->data + e->start;
	for (int i = 0; i < 4; i++)
		h[i] = (uint8_t)(words >> (8 * i));
	return PAT_OK;
}

/* ---- decoding ---- */

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void dq_dec_header(const uint8_t header[DQ_HEADER_SIZE], uint64_t *body_size, uint8_t *type)
{
	uint32_t words = (uint32_t)header[0] | (uint32_t)header[1] << 8 | (uint32_t)header[2] << 16 |
			 (uint32_t)header[3] << 24;

	*body_size = (uint64_t)words * 8;
	*type = header[4];
}

int dq_peek_u64(const struct dq_cursor *c, uint64_t *v)
{
	if (c->left < 8)
		return PAT_EPROTO;
	*v = le64(c->p);
	return PAT_OK;
}

int dq_dec_u64(struct dq_cursor *c, uint64_t *v)
{
	if (dq_peek_u64(c, v) != PAT_OK)
		return PAT_EPROTO;
	c->p += 8;
	c->left -= 8;
	return PAT_OK;
}

int dq_dec_u32(struct dq_cursor *c, uint32_t *v)
{
	if (c->left < 4)
		return PAT_EPROTO;
	*v = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[3] << 24;
	c->p += 4;
	c->left -= 4;
	return PAT_OK;
}

int dq_dec_text(struct dq_cursor *c, const char **s, size_t *len)
{
	const uint8_t *nul = memchr(c->p, '\0', c->left);
	size_t n;

	if (nul == NULL)
		return PAT_EPROTO;
	n = (size_t)(nul - c->p);
	if (pad8(n + 1) > c->left)
		return PAT_EPROTO;
	*s = (const char *)c->p;
	if (len != NULL)
		*len = n;
	c->p += pad8(n + 1);
	c->left -= pad8(n + 1);
	return PAT_OK;
}

int dq_dec_row(struct dq_cursor *c, unsigned n, struct dq_value *values)
{
	size_t header = pad8(((size_t)n + 1) / 2);
	const uint8_t *types = c->p;

	if (n == 0 || header > c->left)
		return PAT_EPROTO;
	c->p += header;
	c->left -= header;
	for (unsigned i = 0; i < n; i++) {
		struct dq_value *v = &values[i];
		uint64_t u;

		v->type = (i % 2 == 0) ? (types[i / 2] & 0x0f) : (types[i / 2] >> 4);
		switch (v->type) {
		case DQ_INTEGER: case DQ_UNIXTIME: case DQ_BOOLEAN:
			if (dq_dec_u64(c, &u) != PAT_OK)
				return PAT_EPROTO;
			v->integer = (int64_t)u;
			break;
		case DQ_FLOAT:
			if (dq_dec_u64(c, &u) != PAT_OK)
				return PAT_EPROTO;
			memcpy(&v->real, &u, 8);
			break;
		case DQ_NULL:
			if (dq_dec_u64(c, &u) != PAT_OK)
				return PAT_EPROTO;
			break;
		case DQ_TEXT: case DQ_ISO8601:
			if (dq_dec_text(c, &v->bytes.ptr, &v->bytes.len) != PAT_OK)
				return PAT_EPROTO;
			break;
		case DQ_BLOB:
			if (dq_dec_u64(c, &u) != PAT_OK || u > c->left || pad8((size_t)u) > c->left)
				return PAT_EPROTO;
			v->bytes.ptr = (const char *)c->p;
			v->bytes.len = (size_t)u;
			c->p += pad8((size_t)u);
			c->left -= pad8((size_t)u);
			break;
		default:
			return PAT_EPROTO;
		}
	}
	/* Unused slots of the header are zero: anything else is not a row. */
	for (unsigned i = n; i < header * 2; i++)
		if (((i % 2 == 0) ? (types[i / 2] & 0x0f) : (types[i / 2] >> 4)) != 0)
			return PAT_EPROTO;
	return PAT_OK;
}
