/* dataset: numeric CSV files for the anomaly detector: a header row, numbers below it, and an
 * optional `label` column (1 = anomaly, 0 = normal) kept apart from the features. */
#ifndef PAT_ML_DATASET_H
#define PAT_ML_DATASET_H

#include <stddef.h>
#include <stdio.h>

#include "lib/err.h"

struct dataset {
	size_t n_rows;
	unsigned n_cols;    /* feature columns */
	char **names;       /* their names */
	double *x;          /* n_rows x n_cols, row-major */
	int *labels;        /* n_rows labels, or NULL when there is no label column */
};

/* Read a CSV stream (`name` is used in messages). Errors name the line (and column): an empty
 * file, a header only, a row with too few or too many fields, a field that is not a number,
 * a label other than 0 or 1, a duplicate column name. CRLF line ends and a missing final
 * newline are fine; blank lines are skipped; fields may be wrapped in double quotes (but may not
 * then contain commas). */
int dataset_read(struct dataset *d, FILE *in, const char *name, struct pat_err *err);
int dataset_load(struct dataset *d, const char *path, struct pat_err *err);
void dataset_free(struct dataset *d);

#endif
