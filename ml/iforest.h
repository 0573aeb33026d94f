/* iforest: an isolation forest (Liu, Ting & Zhou, ICDM 2008): anomaly scores for rows of
 * numbers. Pure computation: no I/O (see iforest_io.h for persistence).
 *
 * Each tree isolates a random subsample of psi rows by splitting on a random attribute at a
 * random value between its minimum and maximum, down to a height limit of ceil(log2 psi). An
 * anomaly is isolated in few splits; a row's score is s = 2^(-E(h(x)) / c(psi)), where h(x) is
 * the path length in one tree (plus c(size) for a leaf holding several rows) and c(n) the mean
 * path length of an unsuccessful search in a binary search tree of n keys. Scores lie in
 * (0, 1]; higher is more anomalous. The same seed gives the same forest on every machine. */
#ifndef PAT_ML_IFOREST_H
#define PAT_ML_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct iforest_params {
	unsigned n_trees;     /* trees in the forest (default 100) */
	unsigned sample_size; /* psi, rows per tree (default 256; at most the rows given) */
	uint64_t seed;        /* random seed */
};

#define IFOREST_DEFAULT_TREES 100
#define IFOREST_DEFAULT_SAMPLE 256

/* One node. Children are allocated in pairs: the right child of a split is left + 1. */
struct iforest_node {
	int32_t feature; /* column split on, or -1 for a leaf */
	uint32_t left;   /* index of the left child (splits) */
	double value;    /* split value (splits); depth + c(size) (leaves) */
};

/* The same node as the scorer walks it: a leaf loops to itself (split -inf, next = itself - 1),
 * so that every row takes the same number of steps and the walk needs no branch. */
struct iforest_step {
	int32_t feature; /* column compared (0 at a leaf) */
	uint32_t next;   /* child = next + (x[feature] >= split) */
	double split;
};

struct iforest {
	unsigned n_cols;             /* columns of the rows it was fitted on */
	unsigned sample_size;        /* psi actually used */
	unsigned n_trees;
	uint64_t seed;
	uint32_t *tree_start;        /* index of each tree's root in nodes; n_trees + 1 entries */
	struct iforest_node *nodes;  /* every tree's nodes */
	size_t n_nodes;
	double c_psi;                /* c(sample_size), the score's normaliser */
	struct iforest_step *steps;  /* nodes as the scorer walks them */
	double *leaf_value;          /* depth + c(size) for leaves, by node */
	unsigned depth;              /* deepest leaf: the steps every walk takes */
};

/* Derive the scoring tables from nodes (fit and load do it). */
int iforest_prepare(struct iforest *f);

/* c(n): average path length of an unsuccessful BST search among n keys (c(0) = c(1) = 0). */
double iforest_c(double n);

/* Fit on n_rows x n_cols doubles (row-major). PAT_EINVAL for no rows, no columns, a NaN or an
 * infinity (the message names the row and column, counting from 1), or bad parameters. */
int iforest_fit(struct iforest *f, const double *rows, size_t n_rows, unsigned n_cols,
		const struct iforest_params *params, struct pat_err *err);
void iforest_free(struct iforest *f);

/* Mean path length E(h(x)) of one row over the trees. */
double iforest_path_length(const struct iforest *f, const double *row);
/* Score one row. */
double iforest_score(const struct iforest *f, const double *row);
/* Score n rows into scores. PAT_EINVAL (naming the row and column) for NaN or infinity. */
int iforest_score_rows(const struct iforest *f, const double *rows, size_t n_rows, double *scores,
		       struct pat_err *err);

#endif
