/* roc: see roc.h. */
#include "ml/roc.h"

#include <stdlib.h>

#include "lib/mem.h"

struct ranked {
	double score;
	int label;
};

static int by_score(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	return x->score < y->score ? -1 : x->score > y->score;
}

int roc_auc(const double *scores, const int *labels, size_t n, double *auc, struct pat_err *err)
{
	struct ranked *r;
	double positives = 0, rank_sum = 0;
	size_t i = 0;

	for (size_t k = 0; k < n; k++)
		positives += labels[k] != 0;
	if (positives == 0 || positives == (double)n)
		return err_set(err, PAT_EINVAL, "the AUC needs both labels; all %zu rows are %d", n, n ? labels[0] != 0 : 0);
	r = mem_alloc(n * sizeof *r);
	if (r == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	for (size_t k = 0; k < n; k++)
		r[k] = (struct ranked){ scores[k], labels[k] != 0 };
	qsort(r, n, sizeof *r, by_score);
	while (i < n) {
		size_t j = i;
		double rank;

		while (j + 1 < n && r[j + 1].score == r[i].score)
			j++;
		rank = (double)(i + j + 2) / 2.0; /* ranks from 1; ties share their average */
		for (size_t k = i; k <= j; k++)
			if (r[k].label)
				rank_sum += rank;
		i = j + 1;
	}
	mem_free(r);
	*auc = (rank_sum - positives * (positives + 1) / 2.0) / (positives * ((double)n - positives));
	return PAT_OK;
}
