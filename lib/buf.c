/* buf: see buf.h. Capacity doubles so that appending n bytes one at a time costs O(n). */
#include "lib/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_free(struct buf *b)
{
	mem_free(b->data);
	buf_init(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	char *data;

	if (n > SIZE_MAX - b->len - 1)
		return PAT_ENOMEM;
	need = b->len + n + 1;
	if (need <= b->cap)
		return PAT_OK;
	cap = b->cap != 0 ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	data = mem_realloc(b->data, cap);
	if (data == NULL)
		return PAT_ENOMEM;
	b->data = data;
	b->cap = cap;
	return PAT_OK;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (buf_reserve(b, n) != PAT_OK)
		return PAT_ENOMEM;
	if (n > 0)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return PAT_OK;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_char(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0)
		return PAT_EINVAL;
	if (buf_reserve(b, (size_t)n) != PAT_OK)
		return PAT_ENOMEM;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return PAT_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rv;
}

int buf_read_stream(struct buf *b, FILE *f)
{
	size_t n;

	do {
		if (buf_reserve(b, 65536) != PAT_OK)
			return PAT_ENOMEM;
		n = fread(b->data + b->len, 1, 65536, f);
		b->len += n;
		b->data[b->len] = '\0';
	} while (n > 0);
	return ferror(f) ? PAT_EIO : PAT_OK;
}

const char *buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

char *buf_detach(struct buf *b)
{
	char *data = b->data;

	if (data == NULL)
		data = mem_strdup("");
	buf_init(b);
	return data;
}
