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
/* Walk the lines of a text file's contents: copy the next line that is neither blank nor a
 * '#' comment, trimmed, into buf and count lines in *lineno. Returns 1 for a line, 0 at the
 * end, -1 when the line is longer than buf can hold (*lineno names it). Start with *off = 0. */
int str_next_line(const char *text, size_t len, size_t *off, char *buf, size_t n, size_t *lineno);
/* A newly allocated printf-formatted string (mem_free it); NULL on ENOMEM. */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
