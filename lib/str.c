/* str: see str.h. Case handling is ASCII on purpose: SMTP verbs, header names and config keys
 * are ASCII, and locale-dependent tolower() would make their comparison depend on LANG. */
#include "lib/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/mem.h"

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool str_copy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	if (n == 0)
		return len == 0;
	if (len >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = '\0';
		return false;
	}
	memcpy(dst, src, len + 1);
	return true;
}

char *str_trim(char *s)
{
	size_t start = 0, end = strlen(s);

	while (start < end && is_space(s[start]))
		start++;
	while (end > start && is_space(s[end - 1]))
		end--;
	memmove(s, s + start, end - start);
	s[end - start] = '\0';
	return s;
}

char *str_lower(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		*p = lower(*p);
	return s;
}

bool str_eq_nocase(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == *b;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_prefix_nocase(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++)
		if (*s == '\0' || lower(*s) != lower(*prefix))
			return false;
	return true;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

int str_next_line(const char *text, size_t len, size_t *off, char *buf, size_t n, size_t *lineno)
{
	while (*off < len) {
		const char *nl = memchr(text + *off, '\n', len - *off);
		size_t k = nl ? (size_t)(nl - text - *off) : len - *off;

		(*lineno)++;
		if (k >= n)
			return -1;
		memcpy(buf, text + *off, k);
		buf[k] = '\0';
		*off += k + 1;
		str_trim(buf);
		if (buf[0] != '\0' && buf[0] != '#')
			return 1;
	}
	return 0;
}

char *str_printf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rv != PAT_OK) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}
