/* cmd_anomaly: `pat anomaly score FILE.csv`: fit an isolation forest on a file's feature
 * columns and print one score per row, in row order (higher = more anomalous). When the file
 * has a `label` column it is left out of fitting and the ROC AUC goes to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/units.h"
#include "ml/dataset.h"
#include "ml/iforest.h"
#include "ml/roc.h"

/* Indexes in anomaly_options (commands.c). */
#define OPT_TREES 0
#define OPT_SAMPLE 1
#define OPT_SEED 2

static int number(const char *flag, const char *text, int64_t min, int64_t max, int64_t *out)
{
	if (units_parse_int(text, min, max, out) == PAT_OK)
		return PAT_OK;
	fprintf(stderr, "pat anomaly: %s \"%s\": expected a whole number from %lld to %lld\n", flag, text,
		(long long)min, (long long)max);
	return PAT_EINVAL;
}

int cli_cmd_anomaly(struct cli_args *args)
{
	struct iforest_params p = { IFOREST_DEFAULT_TREES, IFOREST_DEFAULT_SAMPLE, 42 };
	const char *action = args->n_positional > 0 ? args->positional[0] : NULL;
	struct dataset d;
	struct iforest f;
	struct pat_err err;
	double *scores = NULL;
	int64_t v;
	int rv = CLI_EXIT_FAILURE;

	if (action == NULL) {
		fprintf(stderr, "pat anomaly: the anomaly service is not available in this build of Pat yet; "
				"'pat anomaly score FILE.csv' scores a file (see 'pat anomaly --help')\n");
		return CLI_EXIT_USAGE;
	}
	if (strcmp(action, "score") != 0) {
		fprintf(stderr, "pat anomaly: unknown action '%s': expected score (see 'pat anomaly --help')\n", action);
		return CLI_EXIT_USAGE;
	}
	if (args->n_positional != 2) {
		fprintf(stderr, "pat anomaly score: %s (see 'pat anomaly --help')\n",
			args->n_positional < 2 ? "missing FILE.csv" : "expected one file");
		return CLI_EXIT_USAGE;
	}
	if (args->values[OPT_TREES] != NULL) {
		if (number("--trees", args->values[OPT_TREES], 1, 100000, &v) != PAT_OK)
			return CLI_EXIT_USAGE;
		p.n_trees = (unsigned)v;
	}
	if (args->values[OPT_SAMPLE] != NULL) {
		if (number("--sample", args->values[OPT_SAMPLE], 2, 10000000, &v) != PAT_OK)
			return CLI_EXIT_USAGE;
		p.sample_size = (unsigned)v;
	}
	if (args->values[OPT_SEED] != NULL) {
		if (number("--seed", args->values[OPT_SEED], 0, INT64_MAX, &v) != PAT_OK)
			return CLI_EXIT_USAGE;
		p.seed = (uint64_t)v;
	}
	if (dataset_load(&d, args->positional[1], &err) != PAT_OK) {
		fprintf(stderr, "pat anomaly score: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	if (iforest_fit(&f, d.x, d.n_rows, d.n_cols, &p, &err) != PAT_OK) {
		fprintf(stderr, "pat anomaly score: %s: %s\n", args->positional[1], err.msg);
		goto out;
	}
	scores = mem_alloc(d.n_rows * sizeof *scores);
	if (scores == NULL || iforest_score_rows(&f, d.x, d.n_rows, scores, &err) != PAT_OK) {
		fprintf(stderr, "pat anomaly score: %s\n", scores == NULL ? "out of memory" : err.msg);
		goto out_forest;
	}
	for (size_t i = 0; i < d.n_rows; i++)
		printf("%.6f\n", scores[i]);
	if (d.labels != NULL) {
		double auc;

		if (roc_auc(scores, d.labels, d.n_rows, &auc, &err) == PAT_OK)
			fprintf(stderr, "auc=%.4f rows=%zu features=%u trees=%u sample=%u seed=%llu\n", auc, d.n_rows, d.n_cols,
				p.n_trees, f.sample_size, (unsigned long long)p.seed);
		else
			fprintf(stderr, "pat anomaly score: no AUC: %s\n", err.msg);
	}
	rv = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
out_forest:
	iforest_free(&f);
out:
	mem_free(scores);
	dataset_free(&d);
	return rv;
}
