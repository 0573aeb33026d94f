/* bench_iforest: Pat's isolation forest beside scikit-learn's, on the reference datasets, in
 * the same run: ROC AUC (mean over seeds 0..9), fit time of 100 trees x 256 (median of 20) and
 * scoring rows/s on one core. scikit-learn runs through tests/bench/sklearn_iforest.py with
 * Debian's python3 (the one python3-sklearn installs into). */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/timeutil.h"
#include "ml/dataset.h"
#include "ml/iforest.h"
#include "ml/roc.h"

static const char *const files[] = { "breastw.csv", "pima.csv", "ionosphere.csv", "service_metrics.csv" };

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	char shared[4096], cmd[8192], line[512];
	const char *env = getenv("PAT_SHARED_DIR");
	FILE *peer;
	size_t off;

	snprintf(shared, sizeof shared, "%s", env ? env : "../shared");
	off = (size_t)snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/bench/sklearn_iforest.py", tu_source_dir());
	for (size_t i = 0; i < 4; i++)
		off += (size_t)snprintf(cmd + off, sizeof cmd - off, " %s/anomaly/%s", shared, files[i]);
	peer = popen(cmd, "r");
	if (peer == NULL) {
		fprintf(stderr, "bench_iforest: cannot run %s\n", cmd);
		return 1;
	}
	printf("Isolation forest: Pat beside scikit-learn (IsolationForest, n_jobs=1), 100 trees x 256\n\n");
	printf("%-20s %8s %8s %9s %9s %8s %12s %12s %7s\n", "dataset", "Pat AUC", "skl AUC", "Pat fit", "skl fit",
	       "fit x", "Pat rows/s", "skl rows/s", "rate x");
	for (size_t k = 0; k < 4; k++) {
		char path[4200], name[64];
		struct dataset d;
		struct pat_err err;
		double auc = 0, fits[20], *scores, skl_auc, skl_fit, skl_rate, rate;
		long rows = 0;
		int64_t t0;

		snprintf(path, sizeof path, "%s/anomaly/%s", shared, files[k]);
		if (dataset_load(&d, path, &err) != PAT_OK) {
			fprintf(stderr, "bench_iforest: %s\n", err.msg);
			return 1;
		}
		scores = malloc(d.n_rows * sizeof *scores);
		for (uint64_t seed = 0; seed < 10; seed++) {
			struct iforest_params p = { 100, 256, seed };
			struct iforest f;
			double a;

			iforest_fit(&f, d.x, d.n_rows, d.n_cols, &p, &err);
			iforest_score_rows(&f, d.x, d.n_rows, scores, &err);
			roc_auc(scores, d.labels, d.n_rows, &a, &err);
			auc += a / 10;
			iforest_free(&f);
		}
		for (int i = 0; i < 20; i++) {
			struct iforest_params p = { 100, 256, (uint64_t)i };
			struct iforest f;

			t0 = time_mono_ns();
			iforest_fit(&f, d.x, d.n_rows, d.n_cols, &p, &err);
			fits[i] = (time_mono_ns() - t0) / 1e6;
			iforest_free(&f);
		}
		qsort(fits, 20, sizeof fits[0], cmp);
		{
			struct iforest_params p = { 100, 256, 0 };
			struct iforest f;

			iforest_fit(&f, d.x, d.n_rows, d.n_cols, &p, &err);
			t0 = time_mono_ns();
			while (time_mono_ns() - t0 < 1000000000LL) {
				iforest_score_rows(&f, d.x, d.n_rows, scores, &err);
				rows += (long)d.n_rows;
			}
			rate = rows / ((time_mono_ns() - t0) / 1e9);
			iforest_free(&f);
		}
		if (fgets(line, sizeof line, peer) == NULL ||
		    sscanf(line, "%63s %lf %lf %lf", name, &skl_auc, &skl_fit, &skl_rate) != 4) {
			fprintf(stderr, "bench_iforest: scikit-learn gave no figures (is python3-sklearn installed?)\n");
			return 1;
		}
		printf("%-20s %8.4f %8.4f %7.2fms %7.2fms %8.1f %12.0f %12.0f %7.1f\n", files[k], auc, skl_auc, fits[10],
		       skl_fit, skl_fit / fits[10], rate, skl_rate, rate / skl_rate);
		fflush(stdout);
		free(scores);
		dataset_free(&d);
	}
	pclose(peer);
	return 0;
}
