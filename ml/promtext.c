/* promtext: see promtext.h. A line is: name, optional {label="value",...}, a value, an optional
 * timestamp. Label values are unescaped (\\, \", \n) as they are read. */
#include "ml/promtext.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"

static bool name_char(char c, bool first, bool colons)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':') ||
	       (!first && c >= '0' && c <= '9');
}

/* A name at *p (of the line ending at end), copied; NULL when there is none or on ENOMEM (*oom). */
static char *read_name(const char **p, const char *end, bool colons, bool *oom)
{
	const char *s = *p;

	while (*p < end && name_char(**p, *p == s, colons))
		(*p)++;
	if (*p == s)
		return NULL;
	{
		char *n = mem_strndup(s, (size_t)(*p - s));

		*oom = n == NULL;
		return n;
	}
}

static void skip_blanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

/* "+Inf", "-Inf", "NaN" or a float. */
static bool read_value(const char **p, const char *end, double *v)
{
	char text[64];
	size_t n = 0;
	char *stop;

	while (*p + n < end && (*p)[n] != ' ' && (*p)[n] != '\t')
		n++;
	if (n == 0 || n >= sizeof text)
		return false;
	memcpy(text, *p, n);
	text[n] = '\0';
	*p += n;
	if (strcmp(text, "+Inf") == 0 || strcmp(text, "Inf") == 0) {
		*v = INFINITY;
		return true;
	}
	if (strcmp(text, "-Inf") == 0) {
		*v = -INFINITY;
		return true;
	}
	if (strcmp(text, "NaN") == 0) {
		*v = NAN;
		return true;
	}
	if (strcasecmp(text, "nan") == 0 || strcasecmp(text, "inf") == 0 || strcasecmp(text, "infinity") == 0)
		return false;
	*v = strtod(text, &stop);
	return *stop == '\0';
}

static void sample_free(struct prom_sample *s)
{
	for (size_t i = 0; i < s->n_labels; i++) {
		mem_free(s->labels[i].name);
		mem_free(s->labels[i].value);
	}
	mem_free(s->labels);
	mem_free(s->name);
	memset(s, 0, sizeof *s);
}

/* One sample line [p, end) into out. */
static int parse_line(const char *p, const char *end, size_t lineno, struct prom_sample *out, struct pat_err *err)
{
	bool oom = false;
	size_t cap = 0;

	memset(out, 0, sizeof *out);
	if ((out->name = read_name(&p, end, true, &oom)) == NULL)
		return oom ? err_set(err, PAT_ENOMEM, "out of memory")
			   : err_set(err, PAT_EINVAL, "line %zu: expected a metric name", lineno);
	if (p < end && *p == '{') {
		p++;
		for (;;) {
			struct prom_label l = { NULL, NULL };
			char *v;
			size_t n = 0;

			skip_blanks(&p, end);
			if (p < end && *p == '}') {
				p++;
				break;
			}
			if ((l.name = read_name(&p, end, false, &oom)) == NULL)
				return oom ? err_set(err, PAT_ENOMEM, "out of memory")
					   : err_set(err, PAT_EINVAL, "line %zu: expected a label name", lineno);
			skip_blanks(&p, end);
			if (p + 1 >= end || p[0] != '=' || p[1] != '"') {
				int rv = err_set(err, PAT_EINVAL, "line %zu: expected =\" after label %s", lineno, l.name);

				mem_free(l.name);
				return rv;
			}
			p += 2;
			if ((v = mem_alloc((size_t)(end - p) + 1)) == NULL) {
				mem_free(l.name);
				return err_set(err, PAT_ENOMEM, "out of memory");
			}
			while (p < end && *p != '"') {
				if (*p == '\\') {
					if (p + 1 >= end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n')) {
						mem_free(l.name);
						mem_free(v);
						return err_set(err, PAT_EINVAL, "line %zu: bad escape in a label value "
								"(expected \\\\, \\\" or \\n)", lineno);
					}
					v[n++] = p[1] == 'n' ? '\n' : p[1];
					p += 2;
				} else {
					v[n++] = *p++;
				}
			}
			if (p >= end) {
				mem_free(l.name);
				mem_free(v);
				return err_set(err, PAT_EINVAL, "line %zu: unterminated label value", lineno);
			}
			p++;
			v[n] = '\0';
			l.value = v;
			if (out->n_labels == cap) {
				size_t ncap = cap ? cap * 2 : 4;
				struct prom_label *nl = mem_realloc(out->labels, ncap * sizeof *nl);

				if (nl == NULL) {
					mem_free(l.name);
					mem_free(l.value);
					return err_set(err, PAT_ENOMEM, "out of memory");
				}
				out->labels = nl;
				cap = ncap;
			}
			out->labels[out->n_labels++] = l;
			skip_blanks(&p, end);
			if (p < end && *p == ',') {
				p++;
				continue;
			}
			if (p < end && *p == '}') {
				p++;
				break;
			}
			return err_set(err, PAT_EINVAL, "line %zu: expected , or } after a label", lineno);
		}
	}
	if (p >= end || (*p != ' ' && *p != '\t'))
		return err_set(err, PAT_EINVAL, "line %zu: expected a space and a value after %s", lineno, out->name);
	skip_blanks(&p, end);
	if (!read_value(&p, end, &out->value))
		return err_set(err, PAT_EINVAL, "line %zu: the value of %s is not a number", lineno, out->name);
	skip_blanks(&p, end);
	out->timestamp_ms = 0;
	if (p < end) { /* a timestamp: an integer of milliseconds */
		bool negative = *p == '-';

		if (*p == '-' || *p == '+')
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return err_set(err, PAT_EINVAL, "line %zu: unexpected text after the value", lineno);
		while (p < end && *p >= '0' && *p <= '9') {
			if (out->timestamp_ms > (LLONG_MAX - 9) / 10)
				return err_set(err, PAT_EINVAL, "line %zu: the timestamp is too large", lineno);
			out->timestamp_ms = out->timestamp_ms * 10 + (*p++ - '0');
		}
		if (negative)
			out->timestamp_ms = -out->timestamp_ms;
		skip_blanks(&p, end);
		if (p < end)
			return err_set(err, PAT_EINVAL, "line %zu: unexpected text after the timestamp", lineno);
	}
	return PAT_OK;
}

int promtext_parse(struct prom_scrape *s, const char *text, size_t len, struct pat_err *err)
{
	const char *p = text, *end = text + len;
	size_t lineno = 0, cap = 0;
	int rv = PAT_OK;

	memset(s, 0, sizeof *s);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *line_end = nl != NULL ? nl : end;
		struct prom_sample sample;

		lineno++;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		skip_blanks(&p, line_end);
		if (p < line_end && *p != '#') {
			if (memchr(p, '\0', (size_t)(line_end - p)) != NULL) {
				rv = err_set(err, PAT_EINVAL, "line %zu: NUL byte", lineno);
				break;
			}
			if ((rv = parse_line(p, line_end, lineno, &sample, err)) != PAT_OK) {
				sample_free(&sample);
				break;
			}
			if (s->n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct prom_sample *ns = mem_realloc(s->samples, ncap * sizeof *ns);

				if (ns == NULL) {
					sample_free(&sample);
					rv = err_set(err, PAT_ENOMEM, "out of memory");
					break;
				}
				s->samples = ns;
				cap = ncap;
			}
			s->samples[s->n++] = sample;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	if (rv != PAT_OK)
		promtext_free(s);
	return rv;
}

void promtext_free(struct prom_scrape *s)
{
	for (size_t i = 0; i < s->n; i++)
		sample_free(&s->samples[i]);
	mem_free(s->samples);
	s->samples = NULL;
	s->n = 0;
}

const char *prom_label(const struct prom_sample *s, const char *name)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

double promtext_sum(const struct prom_scrape *s, const char *name, int *found)
{
	double sum = 0;
	int n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->samples[i].name, name) == 0) {
			sum += s->samples[i].value;
			n++;
		}
	if (found != NULL)
		*found = n > 0;
	return sum;
}
