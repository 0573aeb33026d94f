/* log: see log.h.
 *
 * The fields format is walked here rather than handed to vsnprintf whole, because quoting must
 * apply to each value after it is formatted: "peer=%s" with a peer of `x" level=error` has to
 * come out as peer="x\" level=error", not as a forged level field. Each conversion is formatted
 * on its own with snprintf, taking its argument from the va_list by type. */
#include "lib/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/str.h"
#include "lib/timeutil.h"

static atomic_int current_level = LOG_LEVEL_INFO;
static atomic_int out_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_set_level(enum log_level level)
{
	atomic_store(&current_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&current_level);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&current_level, memory_order_relaxed);
}

void log_set_fd(int fd)
{
	atomic_store(&out_fd, fd);
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (str_eq_nocase(name, level_names[i])) {
			*out = (enum log_level)i;
			return PAT_OK;
		}
	}
	if (str_eq_nocase(name, "warning")) {
		*out = LOG_LEVEL_WARN;
		return PAT_OK;
	}
	return PAT_EINVAL;
}

const char *log_level_name(enum log_level level)
{
	return (int)level >= 0 && (int)level < 4 ? level_names[level] : "unknown";
}

/* A line under construction; writes past the end are dropped and remembered. */
struct line {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool truncated;
};

static void put(struct line *l, const char *s, size_t n)
{
	/* Keep room for the " truncated=true\n" suffix. */
	const size_t limit = sizeof l->buf - 20;

	if (l->len + n > limit) {
		n = l->len < limit ? limit - l->len : 0;
		l->truncated = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static bool needs_quotes(const char *v, size_t n)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

static void put_value(struct line *l, const char *v, size_t n)
{
	if (!needs_quotes(v, n)) {
		put(l, v, n);
		return;
	}
	put(l, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		char esc[8];

		switch (c) {
		case '"': put(l, "\\\"", 2); break;
		case '\\': put(l, "\\\\", 2); break;
		case '\n': put(l, "\\n", 2); break;
		case '\r': put(l, "\\r", 2); break;
		case '\t': put(l, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				snprintf(esc, sizeof esc, "\\u%04x", c);
				put(l, esc, 6);
			} else {
				put(l, (const char *)&c, 1);
			}
		}
	}
	put(l, "\"", 1);
}

/* Format one conversion starting at *fmt (just past the '%') into out; advance *fmt. */
static void format_one(const char **fmt, va_list *ap, struct line *value)
{
	char spec[32] = "%", out[512];
	size_t sl = 1;
	const char *p = *fmt;
	int star[2], nstar = 0, n = 0;
	enum { L_NONE, L_HH, L_H, L_L, L_LL, L_Z, L_J, L_T, L_LD } len = L_NONE;

	while (strchr("-+ #0", *p) != NULL && *p != '\0' && sl < 8)
		spec[sl++] = *p++;
	for (int part = 0; part < 2; part++) {
		if (part == 1) {
			if (*p != '.')
				break;
			spec[sl++] = *p++;
		}
		if (*p == '*') {
			star[nstar++] = va_arg(*ap, int);
			spec[sl++] = *p++;
		} else {
			while (*p >= '0' && *p <= '9' && sl < 24)
				spec[sl++] = *p++;
		}
	}
	if (p[0] == 'h' && p[1] == 'h') len = L_HH, p += 2;
	else if (p[0] == 'l' && p[1] == 'l') len = L_LL, p += 2;
	else if (*p == 'h') len = L_H, p++;
	else if (*p == 'l') len = L_L, p++;
	else if (*p == 'z') len = L_Z, p++;
	else if (*p == 'j') len = L_J, p++;
	else if (*p == 't') len = L_T, p++;
	else if (*p == 'L') len = L_LD, p++;
	static const char *const len_text[] = { "", "hh", "h", "l", "ll", "z", "j", "t", "L" };
	memcpy(spec + sl, len_text[len], strlen(len_text[len]));
	sl += strlen(len_text[len]);
	spec[sl++] = *p;
	spec[sl] = '\0';

#define EMIT(arg)                                                                    \
	do {                                                                         \
		if (nstar == 2) n = snprintf(out, sizeof out, spec, star[0], star[1], arg); \
		else if (nstar == 1) n = snprintf(out, sizeof out, spec, star[0], arg); \
		else n = snprintf(out, sizeof out, spec, arg);                       \
	} while (0)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	switch (*p) {
	case 'd': case 'i':
		switch (len) {
		case L_L: EMIT(va_arg(*ap, long)); break;
		case L_LL: EMIT(va_arg(*ap, long long)); break;
		case L_Z: EMIT(va_arg(*ap, ptrdiff_t)); break;
		case L_J: EMIT(va_arg(*ap, intmax_t)); break;
		case L_T: EMIT(va_arg(*ap, ptrdiff_t)); break;
		default: EMIT(va_arg(*ap, int)); break;
		}
		break;
	case 'u': case 'x': case 'X': case 'o':
		switch (len) {
		case L_L: EMIT(va_arg(*ap, unsigned long)); break;
		case L_LL: EMIT(va_arg(*ap, unsigned long long)); break;
		case L_Z: EMIT(va_arg(*ap, size_t)); break;
		case L_J: EMIT(va_arg(*ap, uintmax_t)); break;
		case L_T: EMIT(va_arg(*ap, size_t)); break;
		default: EMIT(va_arg(*ap, unsigned)); break;
		}
		break;
	case 'c': EMIT(va_arg(*ap, int)); break;
	case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
		if (len == L_LD)
			EMIT(va_arg(*ap, long double));
		else
			EMIT(va_arg(*ap, double));
		break;
	case 'p': EMIT(va_arg(*ap, void *)); break;
	case 's': {
		const char *s = va_arg(*ap, const char *);

		if (s == NULL)
			s = "(null)";
		if (nstar == 0 && strcmp(spec, "%s") == 0) {
			/* The common case, and the one that may be long: no copy into out. */
			put(value, s, strlen(s));
			*fmt = p + 1;
			return;
		}
		EMIT(s);
		break;
	}
	case '%': n = snprintf(out, sizeof out, "%%"); break;
	default: n = snprintf(out, sizeof out, "%%%c", *p != '\0' ? *p : '?'); break;
	}
#pragma GCC diagnostic pop
#undef EMIT
	if (n > 0)
		put(value, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1);
	*fmt = *p != '\0' ? p + 1 : p;
}

void log_write(enum log_level level, const char *msg, const char *fields, ...)
{
	struct line l = { .len = 0 };
	char ts[TIME_RFC3339_SIZE];
	const char *f = fields;
	va_list ap;
	ssize_t w;
	size_t off = 0;

	if (!log_enabled(level))
		return;
	put(&l, "ts=", 3);
	put(&l, ts, time_format_rfc3339(ts, sizeof ts, time_wall_ms()));
	put(&l, " level=", 7);
	put(&l, log_level_name(level), strlen(log_level_name(level)));
	put(&l, " msg=", 5);
	put_value(&l, msg, strlen(msg));

	va_start(ap, fields);
	while (*f != '\0') {
		struct line v = { .len = 0 };
		const char *eq;

		while (*f == ' ')
			f++;
		if (*f == '\0')
			break;
		/* The key: literal text up to '='. */
		eq = f;
		while (*eq != '\0' && *eq != '=' && *eq != ' ')
			eq++;
		put(&l, " ", 1);
		put(&l, f, (size_t)(eq - f));
		if (*eq != '=') {
			put(&l, "=true", 5); /* a bare key is a flag */
			f = eq;
			continue;
		}
		put(&l, "=", 1);
		f = eq + 1;
		/* The value: literal text and conversions up to the next space. */
		while (*f != '\0' && *f != ' ') {
			if (*f == '%') {
				f++;
				format_one(&f, &ap, &v);
			} else {
				put(&v, f, 1);
				f++;
			}
		}
		put_value(&l, v.buf, v.len);
	}
	va_end(ap);
	if (l.truncated)
		memcpy(l.buf + l.len, " truncated=true", 15), l.len += 15;
	l.buf[l.len++] = '\n';
	while (off < l.len) {
		w = write(atomic_load(&out_fd), l.buf + off, l.len - off);
		if (w <= 0)
			break; /* nowhere left to report a failure to log */
		off += (size_t)w;
	}
}
