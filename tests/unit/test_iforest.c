/* Unit tests for ml/iforest and ml/iforest_io: c(n), path lengths, determinism, degenerate
 * inputs, persistence that refuses anything damaged, allocation failures. */
#include "tests/lib/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "ml/iforest.h"
#include "ml/iforest_io.h"

static const struct iforest_params defaults = { IFOREST_DEFAULT_TREES, IFOREST_DEFAULT_SAMPLE, 42 };

/* n rows of 2 columns around (0, 0), plus one far outlier at the end. */
static double *cloud(size_t n, unsigned seed)
{
	double *x = malloc(sizeof *x * 2 * (n + 1));

	for (size_t i = 0; i < n; i++) {
		x[2 * i] = (rand_r(&seed) % 2000) / 1000.0 - 1.0;
		x[2 * i + 1] = (rand_r(&seed) % 2000) / 1000.0 - 1.0;
	}
	x[2 * n] = 8;
	x[2 * n + 1] = -9;
	return x;
}

static void c_of_n(void **state)
{
	(void)state;
	assert_true(iforest_c(0) == 0);
	assert_true(iforest_c(1) == 0);
	assert_true(iforest_c(2) == 1);
	/* 2(ln 255 + gamma) - 2 * 255 / 256 */
	assert_true(fabs(iforest_c(256) - 10.244770920116851) < 1e-9);
	assert_true(fabs(iforest_c(3) - (2 * (log(2) + 0.5772156649015329) - 4.0 / 3)) < 1e-12);
}

static void outlier_scores_highest(void **state)
{
	double *x = cloud(1000, 7), scores[1001];
	struct iforest f;
	struct pat_err err;

	(void)state;
	assert_int_equal(iforest_fit(&f, x, 1001, 2, &defaults, &err), PAT_OK);
	assert_int_equal(f.sample_size, 256);
	assert_int_equal(f.n_trees, 100);
	assert_int_equal(iforest_score_rows(&f, x, 1001, scores, &err), PAT_OK);
	for (size_t i = 0; i < 1000; i++) {
		assert_true(scores[i] > 0 && scores[i] <= 1);
		assert_true(scores[i] < scores[1000]);
	}
	assert_true(scores[1000] > 0.7);
	/* A path in a tree of height limit 8 is at most 8 + c(remaining rows). */
	assert_true(iforest_path_length(&f, x + 2000) < iforest_path_length(&f, x));
	iforest_free(&f);
	free(x);
}

static void same_seed_same_forest(void **state)
{
	double *x = cloud(500, 3);
	struct iforest a, b, c;
	struct pat_err err;
	struct iforest_params other = defaults;

	(void)state;
	other.seed = 43;
	assert_int_equal(iforest_fit(&a, x, 501, 2, &defaults, &err), PAT_OK);
	assert_int_equal(iforest_fit(&b, x, 501, 2, &defaults, &err), PAT_OK);
	assert_int_equal(iforest_fit(&c, x, 501, 2, &other, &err), PAT_OK);
	assert_int_equal(a.n_nodes, b.n_nodes);
	assert_memory_equal(a.nodes, b.nodes, a.n_nodes * sizeof *a.nodes);
	assert_true(a.n_nodes != c.n_nodes || memcmp(a.nodes, c.nodes, a.n_nodes * sizeof *a.nodes) != 0);
	for (size_t i = 0; i < 501; i++)
		assert_true(iforest_score(&a, x + 2 * i) == iforest_score(&b, x + 2 * i));
	iforest_free(&a);
	iforest_free(&b);
	iforest_free(&c);
	free(x);
}

static void hand_built_tree(void **state)
{
	/* Four rows on one column: 0, 1, 2, 100. With psi = 4 and one tree, height limit 2. */
	double x[] = { 0, 1, 2, 100 };
	struct iforest_params p = { 1, 4, 1 };
	struct iforest f;
	struct pat_err err;
	double far = 100, near = 1;

	(void)state;
	assert_int_equal(iforest_fit(&f, x, 4, 1, &p, &err), PAT_OK);
	/* Every leaf is at depth <= 2, and carries depth + c(rows left). */
	for (size_t i = 0; i < f.n_nodes; i++)
		if (f.nodes[i].feature < 0)
			assert_true(f.nodes[i].value >= 1 && f.nodes[i].value <= 2 + iforest_c(3));
	assert_true(iforest_path_length(&f, &far) <= iforest_path_length(&f, &near));
	assert_true(fabs(iforest_score(&f, &far) - exp2(-iforest_path_length(&f, &far) / iforest_c(4))) < 1e-12);
	iforest_free(&f);
}

static void degenerate_inputs(void **state)
{
	double constant[200], one_row[3] = { 1, 2, 3 }, mixed[200];
	struct iforest f;
	struct pat_err err;

	(void)state;
	for (int i = 0; i < 200; i++) {
		constant[i] = 5;
		mixed[i] = i % 2 ? 7 : (double)i; /* column 2 constant, column 1 varies */
	}
	for (int i = 0; i < 100; i++)
		mixed[2 * i + 1] = 7;
	/* All columns constant: every row alike, nothing to isolate. */
	assert_int_equal(iforest_fit(&f, constant, 100, 2, &defaults, &err), PAT_OK);
	assert_true(iforest_score(&f, constant) == iforest_score(&f, constant + 2));
	iforest_free(&f);
	/* A constant column is never split on. */
	assert_int_equal(iforest_fit(&f, mixed, 100, 2, &defaults, &err), PAT_OK);
	for (size_t i = 0; i < f.n_nodes; i++)
		assert_true(f.nodes[i].feature != 1);
	iforest_free(&f);
	/* One row. */
	assert_int_equal(iforest_fit(&f, one_row, 1, 3, &defaults, &err), PAT_OK);
	assert_int_equal(f.sample_size, 1);
	assert_true(iforest_score(&f, one_row) == 0.5);
	iforest_free(&f);
}

static void bad_inputs_are_named(void **state)
{
	double x[6] = { 1, 2, 3, NAN, 5, 6 }, y[4] = { 1, 2, INFINITY, 4 }, s[3];
	struct iforest_params zero = { 0, 256, 1 }, tiny = { 10, 1, 1 };
	struct iforest f;
	struct pat_err err;

	(void)state;
	assert_int_equal(iforest_fit(&f, x, 3, 2, &defaults, &err), PAT_EINVAL);
	assert_string_equal(err.msg, "row 2, column 2: NaN is not a finite number");
	assert_int_equal(iforest_fit(&f, y, 2, 2, &defaults, &err), PAT_EINVAL);
	assert_string_equal(err.msg, "row 2, column 1: infinity is not a finite number");
	assert_int_equal(iforest_fit(&f, x, 0, 2, &defaults, &err), PAT_EINVAL);
	assert_contains(err.msg, "nothing to fit");
	assert_int_equal(iforest_fit(&f, x, 3, 0, &defaults, &err), PAT_EINVAL);
	assert_int_equal(iforest_fit(&f, x, 3, 2, &zero, &err), PAT_EINVAL);
	assert_int_equal(iforest_fit(&f, x, 3, 2, &tiny, &err), PAT_EINVAL);
	assert_int_equal(iforest_fit(&f, y, 1, 2, &defaults, &err), PAT_OK);
	assert_int_equal(iforest_score_rows(&f, x, 3, s, &err), PAT_EINVAL);
	assert_contains(err.msg, "row 2, column 2: NaN");
	iforest_free(&f);
}

static void save_load_round_trip(void **state)
{
	double *x = cloud(300, 11);
	struct iforest f, g;
	struct pat_err err;
	uint8_t *data;
	size_t len;

	(void)state;
	assert_int_equal(iforest_fit(&f, x, 301, 2, &defaults, &err), PAT_OK);
	assert_int_equal(iforest_save(&f, &data, &len, &err), PAT_OK);
	assert_int_equal(iforest_load(&g, data, len, &err), PAT_OK);
	assert_int_equal(g.n_trees, 100);
	assert_int_equal(g.sample_size, 256);
	assert_int_equal(g.seed, 42);
	for (size_t i = 0; i < 301; i++)
		assert_true(iforest_score(&f, x + 2 * i) == iforest_score(&g, x + 2 * i));
	iforest_free(&g);
	/* Every truncation is refused. */
	for (size_t n = 0; n < len; n += (n < 200 ? 1 : 97)) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, data, n);
		assert_int_equal(iforest_load(&g, copy, n, &err), PAT_EINVAL);
		free(copy);
	}
	/* Byte flips: refused, or a forest that still scores every row without trouble. */
	{
		unsigned seed = 5;

		for (int round = 0; round < 2000; round++) {
			uint8_t *copy = malloc(len);
			size_t at = (size_t)rand_r(&seed) % len;

			memcpy(copy, data, len);
			copy[at] ^= (uint8_t)(1 + rand_r(&seed) % 255);
			if (iforest_load(&g, copy, len, &err) == PAT_OK) {
				for (size_t i = 0; i < 301; i += 50) {
					double s = iforest_score(&g, x + 2 * i);

					assert_true(s >= 0 && s <= 1);
				}
				iforest_free(&g);
			}
			free(copy);
		}
	}
	mem_free(data);
	iforest_free(&f);
	free(x);
}

static void other_formats_are_refused(void **state)
{
	/* {"format": 2} and a bare integer. */
	static const uint8_t v2[] = { 0x81, 0xa6, 'f', 'o', 'r', 'm', 'a', 't', 0x02 };
	static const uint8_t number[] = { 0x05 };
	struct iforest g;
	struct pat_err err;

	(void)state;
	assert_int_equal(iforest_load(&g, v2, sizeof v2, &err), PAT_EINVAL);
	assert_string_equal(err.msg, "model format 2 is not supported (this Pat reads format 1)");
	assert_int_equal(iforest_load(&g, number, sizeof number, &err), PAT_EINVAL);
	assert_contains(err.msg, "not a msgpack map");
}

static void files(void **state)
{
	char *dir = tu_mkdtemp(), path[4200];
	double *x = cloud(100, 1);
	struct iforest f, g;
	struct pat_err err;

	(void)state;
	snprintf(path, sizeof path, "%s/model.msgpack", dir);
	assert_int_equal(iforest_fit(&f, x, 101, 2, &defaults, &err), PAT_OK);
	assert_int_equal(iforest_save_file(&f, path, &err), PAT_OK);
	assert_int_equal(iforest_load_file(&g, path, &err), PAT_OK);
	assert_true(iforest_score(&f, x) == iforest_score(&g, x));
	iforest_free(&g);
	assert_int_equal(iforest_load_file(&g, "/nonexistent/model", &err), PAT_EIO);
	assert_contains(err.msg, "cannot read /nonexistent/model");
	iforest_free(&f);
	tu_rmtree(dir);
	free(dir);
	free(x);
}

static void allocation_failures(void **state)
{
	double *x = cloud(300, 2);
	bool fitted = false, loaded = false;
	struct iforest f;
	struct pat_err err;
	uint8_t *data;
	size_t len;

	(void)state;
	for (long n = 0; !fitted && n < 100; n++) {
		int rv;

		mem_fail_after(n, true);
		rv = iforest_fit(&f, x, 301, 2, &defaults, &err);
		mem_fail_reset();
		assert_true(rv == PAT_OK || rv == PAT_ENOMEM);
		fitted = rv == PAT_OK;
	}
	assert_true(fitted);
	assert_int_equal(iforest_save(&f, &data, &len, &err), PAT_OK);
	for (long n = 0; !loaded && n < 20; n++) {
		struct iforest g;
		int rv;

		mem_fail_after(n, true);
		rv = iforest_load(&g, data, len, &err);
		mem_fail_reset();
		assert_true(rv == PAT_OK || rv == PAT_ENOMEM);
		loaded = rv == PAT_OK;
		if (loaded)
			iforest_free(&g);
	}
	assert_true(loaded);
	mem_free(data);
	iforest_free(&f);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(c_of_n),
		cmocka_unit_test(outlier_scores_highest),
		cmocka_unit_test(same_seed_same_forest),
		cmocka_unit_test(hand_built_tree),
		cmocka_unit_test(degenerate_inputs),
		cmocka_unit_test(bad_inputs_are_named),
		cmocka_unit_test(save_load_round_trip),
		cmocka_unit_test(other_formats_are_refused),
		cmocka_unit_test(files),
		cmocka_unit_test(allocation_failures),
	};
	return cmocka_run_group_tests_name("iforest", tests, NULL, NULL);
}
