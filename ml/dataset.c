/* dataset: see dataset.h. Fields are split on commas; quoting is not needed for numbers and is
 * refused like any other non-number, with the line and column named. */
#include "ml/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"

void dataset_free(struct dataset *d)
{
	for (unsigned i = 0; d->names != NULL && i < d->n_cols; i++)
		mem_free(d->names[i]);
	mem_free(d->names);
	mem_free(d->x);
	mem_free(d->labels);
	memset(d, 0, sizeof *d);
}

/* Split line in place at commas into fields (at most max); returns the count, or max + 1 when
 * there are more. */
static size_t split(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		char *comma = strchr(p, ',');

		if (n == max)
			return max + 1;
		fields[n++] = p;
		if (comma == NULL)
			return n;
		*comma = '\0';
		p = comma + 1;
	}
}

/* Trim a field and remove the double quotes around it, as spreadsheets and R write them
 * ("a ""b""" becomes a "b"). Quoted fields may not contain commas. */
static char *unquote(char *field)
{
	size_t n;
	char *r, *w;

	str_trim(field);
	n = strlen(field);
	if (n < 2 || field[0] != '"' || field[n - 1] != '"')
		return field;
	field[n - 1] = '\0';
	for (r = field + 1, w = field; *r != '\0'; r++) {
		if (r[0] == '"' && r[1] == '"')
			r++;
		*w++ = *r;
	}
	*w = '\0';
	return field;
}

int dataset_read(struct dataset *d, FILE *in, const char *name, struct pat_err *err)
{
	char *line = NULL, **fields = NULL;
	size_t cap = 0, lineno = 0, n_fields = 0, rows_cap = 0;
	int label_col = -1, rv = PAT_OK;
	ssize_t len;

	memset(d, 0, sizeof *d);
	/* The header. */
	while ((len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		str_trim(line);
		if (line[0] != '\0')
			break;
	}
	if (len < 0) {
		rv = err_set(err, PAT_EINVAL, "%s: the file is empty; expected a header row of column names", name);
		goto out;
	}
	n_fields = 1;
	for (char *p = line; *p != '\0'; p++)
		n_fields += *p == ',';
	fields = mem_calloc(n_fields + 1, sizeof *fields);
	d->names = mem_calloc(n_fields, sizeof *d->names);
	if (fields == NULL || d->names == NULL) {
		rv = err_set(err, PAT_ENOMEM, "out of memory");
		goto out;
	}
	split(line, fields, n_fields);
	for (size_t i = 0; i < n_fields; i++) {
		char *field = unquote(fields[i]);

		if (field[0] == '\0') {
			rv = err_set(err, PAT_EINVAL, "%s:%zu: column %zu has no name", name, lineno, i + 1);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(fields[j], field) == 0) {
				rv = err_set(err, PAT_EINVAL, "%s:%zu: column \"%s\" appears twice", name, lineno, field);
				goto out;
			}
		if (strcmp(field, "label") == 0) {
			label_col = (int)i;
			continue;
		}
		if ((d->names[d->n_cols++] = mem_strdup(field)) == NULL) {
			rv = err_set(err, PAT_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (d->n_cols == 0) {
		rv = err_set(err, PAT_EINVAL, "%s:%zu: no feature columns (only a label)", name, lineno);
		goto out;
	}
	/* The rows. */
	while ((len = getline(&line, &cap, in)) >= 0) {
		size_t got;
		unsigned col = 0;

		lineno++;
		str_trim(line);
		if (line[0] == '\0')
			continue;
		got = split(line, fields, n_fields);
		if (got != n_fields) {
			rv = err_set(err, PAT_EINVAL, "%s:%zu: %s fields; the header has %zu", name, lineno,
				     got > n_fields ? "more" : "fewer", n_fields);
			goto out;
		}
		if (d->n_rows == rows_cap) {
			size_t ncap = rows_cap ? rows_cap * 2 : 1024;
			double *x = mem_realloc(d->x, ncap * d->n_cols * sizeof *x);
			int *labels;

			if (x == NULL) {
				rv = err_set(err, PAT_ENOMEM, "out of memory");
				goto out;
			}
			d->x = x;
			if (label_col >= 0) {
				labels = mem_realloc(d->labels, ncap * sizeof *labels);
				if (labels == NULL) {
					rv = err_set(err, PAT_ENOMEM, "out of memory");
					goto out;
				}
				d->labels = labels;
			}
			rows_cap = ncap;
		}
		for (size_t i = 0; i < n_fields; i++) {
			char *field = unquote(fields[i]), *end;
			double v;

			errno = 0;
			v = strtod(field, &end);
			if (field[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v)) {
				rv = err_set(err, PAT_EINVAL, "%s:%zu: column %zu (%s): \"%s\" is not a number", name, lineno,
					     i + 1, (int)i == label_col ? "label" : d->names[col], field);
				goto out;
			}
			if ((int)i == label_col) {
				if (v != 0 && v != 1) {
					rv = err_set(err, PAT_EINVAL, "%s:%zu: label \"%s\" must be 0 or 1", name, lineno, field);
					goto out;
				}
				d->labels[d->n_rows] = (int)v;
			} else {
				d->x[d->n_rows * d->n_cols + col++] = v;
			}
		}
		d->n_rows++;
	}
	if (d->n_rows == 0)
		rv = err_set(err, PAT_EINVAL, "%s: a header but no rows", name);
out:
	free(line);
	mem_free(fields);
	if (rv != PAT_OK)
		dataset_free(d);
	return rv;
}

int dataset_load(struct dataset *d, const char *path, struct pat_err *err)
{
	FILE *f = fopen(path, "r");
	int rv;

	if (f == NULL) {
		memset(d, 0, sizeof *d);
		return err_set_errno(err, PAT_EIO, errno, "cannot read %s", path);
	}
	rv = dataset_read(d, f, path, err);
	fclose(f);
	return rv;
}
