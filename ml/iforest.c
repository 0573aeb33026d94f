/* iforest: see iforest.h.
 *
 * Trees are stored flat, one array for the whole forest, and each leaf carries its final
 * contribution (depth + c(size)), so scoring a row is a tight loop of compares per tree with
 * no recursion and no arithmetic beyond one addition per tree. Children are allocated in
 * pairs so a split needs one index. The random generator is xoshiro256** seeded through
 * splitmix64: small, fast and the same everywhere. */
#include "ml/iforest.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "lib/mem.h"

#define EULER_GAMMA 0.5772156649015329

double iforest_c(double n)
{
	if (n <= 1)
		return 0;
	if (n <= 2)
		return 1;
	return 2.0 * (log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n;
}

/* ---- random numbers ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n). */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* Uniform in the open interval (0, 1). */
static double rng_open01(struct rng *r)
{
	return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* ---- fitting ---- */

struct builder {
	const double *rows;
	unsigned n_cols;
	unsigned limit;           /* height limit */
	struct rng rng;
	struct iforest_node *nodes;
	size_t n_nodes, cap;
	unsigned *candidates;     /* scratch: columns that vary at a node */
};

static int reserve(struct builder *b, size_t more)
{
	if (b->n_nodes + more > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct iforest_node *n;

		while (cap < b->n_nodes + more)
			cap *= 2;
		n = mem_realloc(b->nodes, cap * sizeof *n);
		if (n == NULL)
			return PAT_ENOMEM;
		b->nodes = n;
		b->cap = cap;
	}
	return PAT_OK;
}

/* Build the subtree of node `at` over idx[0..n) at depth. */
static int grow(struct builder *b, size_t at, size_t *idx, size_t n, unsigned depth)
{
	unsigned n_candidates = 0, feature;
	double lo = 0, hi = 0, split;
	size_t i, j;
	int rv;

	if (depth >= b->limit || n <= 1)
		goto leaf;
	/* Columns whose values differ among these rows; a constant one cannot split them. */
	for (unsigned c = 0; c < b->n_cols; c++) {
		double first = b->rows[idx[0] * b->n_cols + c];

		for (i = 1; i < n; i++)
			if (b->rows[idx[i] * b->n_cols + c] != first) {
				b->candidates[n_candidates++] = c;
				break;
			}
	}
	if (n_candidates == 0)
		goto leaf;
	feature = b->candidates[rng_below(&b->rng, n_candidates)];
	lo = hi = b->rows[idx[0] * b->n_cols + feature];
	for (i = 1; i < n; i++) {
		double v = b->rows[idx[i] * b->n_cols + feature];

		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	split = lo + rng_open01(&b->rng) * (hi - lo);
	if (!(split > lo && split <= hi))
		split = hi; /* a range so narrow that rounding hit an end: split at the top */
	/* Partition: values below split go left. lo < split <= hi, so both sides get rows. */
	for (i = 0, j = n; i < j;) {
		if (b->rows[idx[i] * b->n_cols + feature] < split) {
			i++;
		} else {
			size_t t = idx[i];

			idx[i] = idx[--j];
			idx[j] = t;
		}
	}
	assert(i > 0 && i < n);
	if ((rv = reserve(b, 2)) != PAT_OK)
		return rv;
	b->nodes[at] = (struct iforest_node){ (int32_t)feature, (uint32_t)b->n_nodes, split };
	b->n_nodes += 2;
	if ((rv = grow(b, b->nodes[at].left, idx, i, depth + 1)) != PAT_OK)
		return rv;
	return grow(b, b->nodes[at].left + 1, idx + i, n - i, depth + 1);
leaf:
	b->nodes[at] = (struct iforest_node){ -1, 0, (double)depth + iforest_c((double)n) };
	return PAT_OK;
}

static int check_finite(const double *rows, size_t n_rows, unsigned n_cols, struct pat_err *err)
{
	for (size_t r = 0; r < n_rows; r++)
		for (unsigned c = 0; c < n_cols; c++)
			if (!isfinite(rows[r * n_cols + c]))
				return err_set(err, PAT_EINVAL, "row %zu, column %u: %s is not a finite number", r + 1,
					       c + 1, isnan(rows[r * n_cols + c]) ? "NaN" : "infinity");
	return PAT_OK;
}

int iforest_fit(struct iforest *f, const double *rows, size_t n_rows, unsigned n_cols,
		const struct iforest_params *params, struct pat_err *err)
{
	struct builder b = { .rows = rows, .n_cols = n_cols };
	size_t *all = NULL, psi;
	int rv;

	memset(f, 0, sizeof *f);
	if (n_rows == 0 || n_cols == 0)
		return err_set(err, PAT_EINVAL, "nothing to fit: %zu rows of %u columns", n_rows, n_cols);
	if (params->n_trees == 0 || params->sample_size < 2)
		return err_set(err, PAT_EINVAL, "need at least 1 tree and a sample size of at least 2");
	if (n_cols > INT32_MAX || n_rows > UINT32_MAX)
		return err_set(err, PAT_EINVAL, "too many rows or columns");
	if ((rv = check_finite(rows, n_rows, n_cols, err)) != PAT_OK)
		return rv;
	psi = params->sample_size < n_rows ? params->sample_size : n_rows;
	b.limit = psi > 1 ? (unsigned)ceil(log2((double)psi)) : 0;
	rng_seed(&b.rng, params->seed);
	all = mem_alloc(n_rows * sizeof *all);
	b.candidates = mem_alloc(n_cols * sizeof *b.candidates);
	f->tree_start = mem_alloc((params->n_trees + 1) * sizeof *f->tree_start);
	if (all == NULL || b.candidates == NULL || f->tree_start == NULL) {
		rv = err_set(err, PAT_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n_rows; i++)
		all[i] = i;
	for (unsigned t = 0; t < params->n_trees; t++) {
		/* A sample without replacement: the first psi places of a partial shuffle. */
		for (size_t i = 0; i < psi; i++) {
			size_t j = i + (size_t)rng_below(&b.rng, n_rows - i), tmp = all[i];

			all[i] = all[j];
			all[j] = tmp;
		}
		if ((rv = reserve(&b, 1)) != PAT_OK) {
			err_set(err, rv, "out of memory");
			goto fail;
		}
		f->tree_start[t] = (uint32_t)b.n_nodes;
		b.n_nodes++;
		/* grow() reorders its slice only: the sample stays the first psi entries. */
		if ((rv = grow(&b, f->tree_start[t], all, psi, 0)) != PAT_OK) {
			err_set(err, rv, "out of memory");
			goto fail;
		}
	}
	f->tree_start[params->n_trees] = (uint32_t)b.n_nodes;
	f->n_cols = n_cols;
	f->sample_size = (unsigned)psi;
	f->n_trees = params->n_trees;
	f->seed = params->seed;
	f->nodes = b.nodes;
	f->n_nodes = b.n_nodes;
	f->c_psi = iforest_c((double)psi);
	mem_free(all);
	mem_free(b.candidates);
	if (iforest_prepare(f) != PAT_OK) {
		iforest_free(f);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	return PAT_OK;
fail:
	mem_free(all);
	mem_free(b.candidates);
	mem_free(b.nodes);
	mem_free(f->tree_start);
	memset(f, 0, sizeof *f);
	return rv;
}

int iforest_prepare(struct iforest *f)
{
	unsigned *depth = mem_calloc(f->n_nodes ? f->n_nodes : 1, sizeof *depth);

	mem_free(f->steps);
	mem_free(f->leaf_value);
	f->steps = mem_alloc((f->n_nodes ? f->n_nodes : 1) * sizeof *f->steps);
	f->leaf_value = mem_calloc(f->n_nodes ? f->n_nodes : 1, sizeof *f->leaf_value);
	if (depth == NULL || f->steps == NULL || f->leaf_value == NULL) {
		mem_free(depth);
		return PAT_ENOMEM;
	}
	f->depth = 0;
	/* Children always come after their parent, so one pass in order finds every depth. */
	for (size_t i = 0; i < f->n_nodes; i++) {
		const struct iforest_node *n = &f->nodes[i];

		if (n->feature < 0) {
			f->steps[i] = (struct iforest_step){ 0, (uint32_t)i - 1, -INFINITY };
			f->leaf_value[i] = n->value;
			f->depth = depth[i] > f->depth ? depth[i] : f->depth;
		} else {
			f->steps[i] = (struct iforest_step){ n->feature, n->left, n->value };
			depth[n->left] = depth[n->left + 1] = depth[i] + 1;
		}
	}
	mem_free(depth);
	return PAT_OK;
}

void iforest_free(struct iforest *f)
{
	mem_free(f->steps);
	mem_free(f->leaf_value);
	mem_free(f->nodes);
	mem_free(f->tree_start);
	memset(f, 0, sizeof *f);
}

/* ---- scoring ---- */

/* Mean path lengths of n rows (n <= BLOCK). Tree by tree, the rows walk side by side: the tree
 * stays in cache, and the walks are independent, so the processor overlaps their loads. */
#define BLOCK 64

static void path_lengths(const struct iforest *f, const double *rows, size_t n, double *out)
{
	const struct iforest_step *steps = f->steps;
	const unsigned cols = f->n_cols;
	uint32_t at[BLOCK];
	double sum[BLOCK] = { 0 };

	for (unsigned t = 0; t < f->n_trees; t++) {
		for (size_t r = 0; r < n; r++)
			at[r] = f->tree_start[t];
		for (unsigned d = 0; d < f->depth; d++)
			for (size_t r = 0; r < n; r++) {
				const struct iforest_step *s = &steps[at[r]];

				at[r] = s->next + (rows[r * cols + (unsigned)s->feature] >= s->split);
			}
		for (size_t r = 0; r < n; r++)
			sum[r] += f->leaf_value[at[r]];
	}
	for (size_t r = 0; r < n; r++)
		out[r] = sum[r] / f->n_trees;
}

double iforest_path_length(const struct iforest *f, const double *row)
{
	double h;

	path_lengths(f, row, 1, &h);
	return h;
}

static double score_of(const struct iforest *f, double h)
{
	/* With psi = 1 every path is 0 and c(psi) = 0: no row is more isolated than another. */
	return f->c_psi <= 0 ? 0.5 : exp2(-h / f->c_psi);
}

double iforest_score(const struct iforest *f, const double *row)
{
	return score_of(f, iforest_path_length(f, row));
}

int iforest_score_rows(const struct iforest *f, const double *rows, size_t n_rows, double *scores,
		       struct pat_err *err)
{
	int rv = check_finite(rows, n_rows, f->n_cols, err);

	if (rv != PAT_OK)
		return rv;
	for (size_t r = 0; r < n_rows; r += BLOCK) {
		size_t n = n_rows - r < BLOCK ? n_rows - r : BLOCK;

		path_lengths(f, rows + r * f->n_cols, n, scores + r);
		for (size_t i = 0; i < n; i++)
			scores[r + i] = score_of(f, scores[r + i]);
	}
	return PAT_OK;
}
