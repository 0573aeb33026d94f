/* Integration tests of the isolation forest against the reference datasets (ROC AUC at least
 * scikit-learn's mean - 0.02 on each), and of `pat anomaly score` as a user runs it. */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "ml/dataset.h"
#include "ml/iforest.h"
#include "ml/roc.h"

/* scikit-learn's AUC (mean over 10 seeds), from the datasets' README. */
static const struct {
	const char *file;
	double sklearn;
} reference[] = {
	{ "breastw.csv", 0.987 },
	{ "pima.csv", 0.671 },
	{ "ionosphere.csv", 0.856 },
	{ "service_metrics.csv", 0.981 },
};

static const char *shared_dir(void)
{
	static char dir[4096];
	const char *env = getenv("PAT_SHARED_DIR");

	if (env != NULL && env[0] != '\0')
		return env;
	snprintf(dir, sizeof dir, "%s/../shared", tu_source_dir());
	return dir;
}

static void dataset_path(char *out, size_t n, const char *file)
{
	snprintf(out, n, "%s/anomaly/%s", shared_dir(), file);
}

static void auc_matches_the_reference(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof reference / sizeof reference[0]; k++) {
		char path[4200];
		struct dataset d;
		struct pat_err err;
		double sum = 0, *scores;

		dataset_path(path, sizeof path, reference[k].file);
		if (dataset_load(&d, path, &err) != PAT_OK)
			fail_msg("%s (the reference datasets live in ../shared/anomaly)", err.msg);
		assert_non_null(d.labels);
		scores = malloc(d.n_rows * sizeof *scores);
		for (uint64_t seed = 0; seed < 5; seed++) {
			struct iforest_params p = { IFOREST_DEFAULT_TREES, IFOREST_DEFAULT_SAMPLE, seed };
			struct iforest f;
			double auc;

			assert_int_equal(iforest_fit(&f, d.x, d.n_rows, d.n_cols, &p, &err), PAT_OK);
			assert_int_equal(iforest_score_rows(&f, d.x, d.n_rows, scores, &err), PAT_OK);
			assert_int_equal(roc_auc(scores, d.labels, d.n_rows, &auc, &err), PAT_OK);
			sum += auc;
			iforest_free(&f);
		}
		print_message("%-20s Pat AUC %.4f (5 seeds), scikit-learn %.3f\n", reference[k].file, sum / 5,
			      reference[k].sklearn);
		if (sum / 5 < reference[k].sklearn - 0.02)
			fail_msg("%s: AUC %.4f is below scikit-learn's %.3f - 0.02", reference[k].file, sum / 5,
				 reference[k].sklearn);
		free(scores);
		dataset_free(&d);
	}
}

static void score_prints_one_line_per_row_and_the_auc(void **state)
{
	char path[4200];
	struct tu_proc p;
	const char *argv[] = { tu_pat_bin(), "anomaly", "score", "--seed", "7", path, NULL };
	size_t lines = 0;

	(void)state;
	dataset_path(path, sizeof path, "breastw.csv");
	tu_run(&p, argv, NULL, NULL);
	assert_int_equal(p.status, 0);
	for (const char *c = p.out; *c != '\0'; c++)
		lines += *c == '\n';
	assert_int_equal(lines, 683);
	assert_contains(p.err, "auc=0.98");
	assert_contains(p.err, "rows=683 features=9 trees=100 sample=256 seed=7");
	tu_proc_free(&p);
}

static void bad_files_and_flags(void **state)
{
	char *dir = tu_mkdtemp();
	char *ragged = tu_write_file(dir, "ragged.csv", "a,b\n1,2\n3\n");
	char *text = tu_write_file(dir, "text.csv", "a,b\n1,two\n");
	char *empty = tu_write_file(dir, "empty.csv", "");
	char *nolabel = tu_write_file(dir, "nolabel.csv", "a,b\n1,2\n3,4\n100,100\n");
	struct tu_proc p;
	static const struct {
		const char *file_or_flag, *want;
		int status;
	} cases[] = {
		{ "ragged", ":3: fewer fields; the header has 2", 1 },
		{ "text", ":2: column 2 (b): \"two\" is not a number", 1 },
		{ "empty", ": the file is empty", 1 },
		{ "missing", "cannot read /nonexistent.csv", 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *file = strcmp(cases[i].file_or_flag, "ragged") == 0 ? ragged
				   : strcmp(cases[i].file_or_flag, "text") == 0  ? text
				   : strcmp(cases[i].file_or_flag, "empty") == 0 ? empty
										 : "/nonexistent.csv";
		const char *argv[] = { tu_pat_bin(), "anomaly", "score", file, NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, cases[i].status);
		assert_contains(p.err, cases[i].want);
		assert_string_equal(p.out, "");
		tu_proc_free(&p);
	}
	{
		const char *argv[] = { tu_pat_bin(), "anomaly", "score", nolabel, NULL };

		tu_run(&p, argv, NULL, NULL);
		assert_int_equal(p.status, 0);
		assert_not_contains(p.err, "auc=");
		tu_proc_free(&p);
	}
	{
		const char *bad_trees[] = { tu_pat_bin(), "anomaly", "score", "--trees", "many", nolabel, NULL };
		const char *no_file[] = { tu_pat_bin(), "anomaly", "score", NULL };
		const char *service[] = { tu_pat_bin(), "anomaly", NULL };
		const char *other[] = { tu_pat_bin(), "anomaly", "train", NULL };

		tu_run(&p, bad_trees, NULL, NULL);
		assert_int_equal(p.status, 2);
		assert_contains(p.err, "--trees \"many\": expected a whole number from 1 to 100000");
		tu_proc_free(&p);
		tu_run(&p, no_file, NULL, NULL);
		assert_int_equal(p.status, 2);
		assert_contains(p.err, "missing FILE.csv");
		tu_proc_free(&p);
		tu_run(&p, service, NULL, NULL);
		assert_int_equal(p.status, 2);
		assert_contains(p.err, "missing action: expected watch (the anomaly service) or score FILE.csv");
		tu_proc_free(&p);
		tu_run(&p, other, NULL, NULL);
		assert_int_equal(p.status, 2);
		assert_contains(p.err, "unknown action 'train'");
		tu_proc_free(&p);
	}
	free(ragged);
	free(text);
	free(empty);
	free(nolabel);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(auc_matches_the_reference),
		cmocka_unit_test(score_prints_one_line_per_row_and_the_auc),
		cmocka_unit_test(bad_files_and_flags),
	};
	return cmocka_run_group_tests_name("anomaly", tests, NULL, NULL);
}
