/* buf: a growable byte buffer, always NUL-terminated, for building messages and text. */
#ifndef PAT_LIB_BUF_H
#define PAT_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct buf {
	char *data; /* the bytes, followed by a NUL that is not counted in len; NULL when empty */
	size_t len; /* bytes in use */
	size_t cap; /* bytes allocated (0 when data is NULL) */
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
/* Release the memory and reset to empty. */
void buf_free(struct buf *b);
/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);
/* Make room for n more bytes (plus the NUL). PAT_ENOMEM when that fails; b is unchanged. */
int buf_reserve(struct buf *b, size_t n);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append everything f has left to read. PAT_EIO on a read error, PAT_ENOMEM when memory runs
 * out (b then holds what fitted: callers must not use it as the whole). */
int buf_read_stream(struct buf *b, FILE *f);
/* The contents as a C string: "" when nothing was written. */
const char *buf_str(const struct buf *b);
/* Hand the memory to the caller (free with mem_free) and reset b; never NULL unless ENOMEM. */
char *buf_detach(struct buf *b);

#endif
