/* units: see units.h. Parsers are strict on purpose: a typo in a limit ("25 MX", "30") must be
 * an error that names the value, not a silent zero. */
#include "lib/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/str.h"

int units_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || !(*s == '-' || *s == '+' || (*s >= '0' && *s <= '9')))
		return PAT_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || end == s || ((*s == '-' || *s == '+') && end == s + 1))
		return PAT_EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return PAT_ELIMIT;
	*out = v;
	return PAT_OK;
}

int units_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (str_eq_nocase(s, yes[i])) {
			*out = true;
			return PAT_OK;
		}
		if (str_eq_nocase(s, no[i])) {
			*out = false;
			return PAT_OK;
		}
	}
	return PAT_EINVAL;
}

/* Read "123" or "1.25" at *p; advance *p. False when no digit is there. */
static bool read_number(const char **p, double *out)
{
	const char *s = *p;
	double v = 0, scale = 1;
	bool digits = false;

	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		digits = true;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			scale /= 10;
			v += (*s++ - '0') * scale;
			digits = true;
		}
	}
	if (!digits)
		return false;
	*p = s;
	*out = v;
	return true;
}

int units_parse_duration(const char *s, int64_t *out_ms)
{
	static const struct {
		const char *name;
		double ms;
	} units[] = { { "ms", 1 }, { "s", 1e3 }, { "m", 60e3 }, { "h", 3600e3 }, { "d", 86400e3 } };
	const char *p = s;
	double total = 0;

	if (s == NULL || *s == '\0')
		return PAT_EINVAL;
	if (strcmp(s, "0") == 0) {
		*out_ms = 0;
		return PAT_OK;
	}
	while (*p != '\0') {
		size_t best = 0, best_len = 0;
		double v;

		if (!read_number(&p, &v))
			return PAT_EINVAL;
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
			size_t len = strlen(units[i].name);

			/* "ms" must win over "m" when both match. */
			if (strncmp(p, units[i].name, len) == 0 && len > best_len) {
				best = i;
				best_len = len;
			}
		}
		if (best_len == 0)
			return PAT_EINVAL;
		p += best_len;
		total += v * units[best].ms;
		if (total > 9.2e18)
			return PAT_ELIMIT;
	}
	*out_ms = (int64_t)llround(total);
	return PAT_OK;
}

int units_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *name;
		int shift;
	} units[] = {
		{ "", 0 }, { "b", 0 }, { "k", 10 }, { "kb", 10 }, { "kib", 10 }, { "m", 20 },
		{ "mb", 20 }, { "mib", 20 }, { "g", 30 }, { "gb", 30 }, { "gib", 30 }, { "t", 40 },
		{ "tb", 40 }, { "tib", 40 },
	};
	const char *p = s;
	double v;

	if (s == NULL || !read_number(&p, &v))
		return PAT_EINVAL;
	if (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (str_eq_nocase(p, units[i].name)) {
			double bytes = ldexp(v, units[i].shift);

			if (bytes >= 1.8e19)
				return PAT_ELIMIT;
			if (units[i].shift == 0 && v != floor(v))
				return PAT_EINVAL; /* "1.5" bytes */
			*out = (uint64_t)llround(bytes);
			return PAT_OK;
		}
	}
	return PAT_EINVAL;
}

size_t units_format_size(char *out, size_t n, uint64_t bytes)
{
	static const char *const names[] = { "TiB", "GiB", "MiB", "KiB" };
	static const int shifts[] = { 40, 30, 20, 10 };
	int len = -1;

	for (size_t i = 0; i < 4 && len < 0; i++) {
		uint64_t unit = (uint64_t)1 << shifts[i];

		if (bytes != 0 && bytes % unit == 0)
			len = snprintf(out, n, "%llu%s", (unsigned long long)(bytes / unit), names[i]);
	}
	if (len < 0)
		len = snprintf(out, n, "%llu", (unsigned long long)bytes);
	return len < 0 ? 0 : (size_t)len;
}

size_t units_format_duration(char *out, size_t n, int64_t ms)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
	size_t len = 0;

	if (n > 0)
		out[0] = '\0';
	if (ms == 0)
		return (size_t)snprintf(out, n, "0s");
	for (size_t i = 0; i < sizeof units / sizeof units[0] && ms > 0; i++) {
		int64_t q = ms / units[i].ms;
		int w;

		if (q == 0)
			continue;
		ms -= q * units[i].ms;
		w = snprintf(out + len, len < n ? n - len : 0, "%lld%s", (long long)q, units[i].name);
		if (w > 0)
			len += (size_t)w;
	}
	return len;
}
