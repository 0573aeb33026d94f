/* node_metrics: the Prometheus metrics of the store's group-commit writer and of the cluster as
 * a node sees it, in the process registry (lib/metrics). docs/OPERATIONS.md lists them. */
#ifndef PAT_NODE_NODE_METRICS_H
#define PAT_NODE_NODE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/metrics.h"

struct node_metrics {
	struct metric *batch_rows;      /* pat_store_batch_rows: messages per transaction */
	struct metric *commit_seconds;  /* pat_store_commit_duration_seconds */
	struct metric *commit_failures; /* pat_store_commit_failures_total: transactions not committed */
	struct metric *queue_bytes;     /* pat_store_queue_bytes: raw bytes waiting for the writer */
	struct metric *queue_messages;  /* pat_store_queue_messages: messages waiting for the writer */
	struct metric *leader;          /* pat_cluster_leader: 1 while this node leads */
	struct metric *members[3];      /* pat_cluster_members{role}, by enum dq_role (voter, standby, spare) */
};

/* The metrics, registered on first use (any thread). Never NULL; a field is NULL when memory
 * ran out at registration, which the metric_* functions accept. */
const struct node_metrics *node_metrics(void);

/* What the roles check learnt: whether this node leads and, when it does, how many members
 * hold each role (by enum dq_role; NULL when it does not lead). A node that does not lead
 * reports 0 members, so that a sum over the cluster's nodes counts each member once. */
void node_metrics_cluster(bool leads, const unsigned members_by_role[3]);

#endif
