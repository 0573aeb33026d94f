/* str: the small string helpers Pat's modules share (ASCII-only case rules, as mail protocols use). */
#ifndef PAT_LIB_STR_H
#define PAT_LIB_STR_H

#include <stdbool.h>
#include <stddef.h>

/* Copy src into dst of size n, always NUL-terminating; true when it fitted without truncation. */
bool str_copy(char *dst, const char *src, size_t n);
/* Trim ASCII whitespace at both ends, in place; returns s. */
char *str_trim(char *s);
/* Lower-case ASCII letters in place; returns s. */
char *str_lower(char *s);
/* ASCII case-insensitive equality and prefix test. */
bool str_eq_nocase(const char *a, const char *b);
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_prefix_nocase(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/* A newly allocated printf-formatted string (mem_free it); NULL on ENOMEM. */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
