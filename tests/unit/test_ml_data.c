/* Unit tests for ml/dataset (CSV with a label column) and ml/roc (AUC with ties). */
#include "tests/lib/testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/err.h"
#include "ml/dataset.h"
#include "ml/roc.h"

static int read_text(struct dataset *d, const char *text, struct pat_err *err)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rv = dataset_read(d, f, "t.csv", err);

	fclose(f);
	return rv;
}

static void reads_features_and_labels(void **state)
{
	struct dataset d;
	struct pat_err err;

	(void)state;
	assert_int_equal(read_text(&d, "rate,label,p99\r\n1.5,0,10\r\n\r\n-2e3,1,20", &err), PAT_OK);
	assert_int_equal(d.n_rows, 2);
	assert_int_equal(d.n_cols, 2);
	assert_string_equal(d.names[0], "rate");
	assert_string_equal(d.names[1], "p99");
	assert_true(d.x[0] == 1.5 && d.x[1] == 10 && d.x[2] == -2000 && d.x[3] == 20);
	assert_int_equal(d.labels[0], 0);
	assert_int_equal(d.labels[1], 1);
	dataset_free(&d);
	assert_int_equal(read_text(&d, "a,b\n1,2\n", &err), PAT_OK);
	assert_null(d.labels);
	dataset_free(&d);
	/* Quoted names and values, as R and spreadsheets write them. */
	assert_int_equal(read_text(&d, "\"Cl.thickness\",\"say \"\"hi\"\"\",\"label\"\n\"5\",1,\"1\"\n", &err), PAT_OK);
	assert_string_equal(d.names[0], "Cl.thickness");
	assert_string_equal(d.names[1], "say \"hi\"");
	assert_int_equal(d.n_cols, 2);
	assert_true(d.x[0] == 5);
	assert_int_equal(d.labels[0], 1);
	dataset_free(&d);
}

static void errors_name_the_line(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "t.csv: the file is empty" },
		{ "\n\n", "t.csv: the file is empty" },
		{ "a,b\n", "t.csv: a header but no rows" },
		{ "a,b\n1,2\n3\n", "t.csv:3: fewer fields; the header has 2" },
		{ "a,b\n1,2,3\n", "t.csv:2: more fields; the header has 2" },
		{ "a,b\n1,x\n", "t.csv:2: column 2 (b): \"x\" is not a number" },
		{ "a,b\n1,nan\n", "t.csv:2: column 2 (b): \"nan\" is not a number" },
		{ "a,b\n1,\n", "t.csv:2: column 2 (b): \"\" is not a number" },
		{ "a,label\n1,2\n", "t.csv:2: label \"2\" must be 0 or 1" },
		{ "a,a\n1,2\n", "t.csv:1: column \"a\" appears twice" },
		{ "a,,b\n1,2,3\n", "t.csv:1: column 2 has no name" },
		{ "label\n1\n", "t.csv:1: no feature columns" },
	};
	struct dataset d;
	struct pat_err err;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(read_text(&d, cases[i].text, &err), PAT_EINVAL);
		assert_contains(err.msg, cases[i].want);
		assert_null(d.x);
	}
	assert_int_equal(dataset_load(&d, "/nonexistent.csv", &err), PAT_EIO);
	assert_contains(err.msg, "cannot read /nonexistent.csv");
}

static void auc(void **state)
{
	double perfect[] = { 0.1, 0.2, 0.8, 0.9 }, inverted[] = { 0.9, 0.8, 0.2, 0.1 }, ties[] = { 0.5, 0.5, 0.5, 0.5 };
	double mixed[] = { 0.1, 0.4, 0.35, 0.8 };
	int labels[] = { 0, 0, 1, 1 }, mixed_labels[] = { 0, 0, 1, 1 }, same[] = { 1, 1, 1, 1 };
	double a;
	struct pat_err err;

	(void)state;
	assert_int_equal(roc_auc(perfect, labels, 4, &a, &err), PAT_OK);
	assert_true(a == 1.0);
	assert_int_equal(roc_auc(inverted, labels, 4, &a, &err), PAT_OK);
	assert_true(a == 0.0);
	assert_int_equal(roc_auc(ties, labels, 4, &a, &err), PAT_OK);
	assert_true(a == 0.5);
	/* scikit-learn's classic example: 0.75 */
	assert_int_equal(roc_auc(mixed, mixed_labels, 4, &a, &err), PAT_OK);
	assert_true(fabs(a - 0.75) < 1e-12);
	assert_int_equal(roc_auc(perfect, same, 4, &a, &err), PAT_EINVAL);
	assert_contains(err.msg, "needs both labels");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_features_and_labels),
		cmocka_unit_test(errors_name_the_line),
		cmocka_unit_test(auc),
	};
	return cmocka_run_group_tests_name("ml data", tests, NULL, NULL);
}
