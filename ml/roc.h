/* roc: the area under the ROC curve of scores against 0/1 labels (higher score = more likely 1). */
#ifndef PAT_ML_ROC_H
#define PAT_ML_ROC_H

#include <stddef.h>

#include "lib/err.h"

/* The probability that a random positive scores above a random negative, ties counting half
 * (the Mann-Whitney U statistic over average ranks). PAT_EINVAL when all labels are alike. */
int roc_auc(const double *scores, const int *labels, size_t n, double *auc, struct pat_err *err);

#endif
