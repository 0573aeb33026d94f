/* node_metrics: see node_metrics.h. */
#include "node/node_metrics.h"

#include <pthread.h>

static struct node_metrics metrics;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Transactions hold from one message to [store] batch_max_rows (512 by default). */
static const double rows_buckets[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000 };
/* A commit on a Raft majority: milliseconds on one host, more across regions. */
static const double commit_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
static const char *const role_label[] = { "role", NULL };

static struct metric *one(const struct metric_desc *d)
{
	struct metric_family *f = NULL;
	struct metrics *r = metrics_default();
	struct pat_err err;

	if (r != NULL)
		metrics_register(r, d, &f, &err);
	return metrics_series(f, NULL);
}

static void init(void)
{
	static const char *const roles[] = { "voter", "standby", "spare" };
	struct metric_desc members = { .name = "pat_cluster_members", .type = METRIC_GAUGE, .labels = role_label,
				       .help = "Cluster members by role, as the leader sees them (0 on other nodes)." };
	struct metric_family *f = NULL;
	struct pat_err err;

	metrics.batch_rows = one(&(struct metric_desc){
		.name = "pat_store_batch_rows", .type = METRIC_HISTOGRAM, .buckets = rows_buckets,
		.n_buckets = sizeof rows_buckets / sizeof rows_buckets[0],
		.help = "Messages written per group-commit transaction." });
	metrics.commit_seconds = one(&(struct metric_desc){
		.name = "pat_store_commit_duration_seconds", .type = METRIC_HISTOGRAM, .buckets = commit_buckets,
		.n_buckets = sizeof commit_buckets / sizeof commit_buckets[0],
		.help = "Time to write and commit one group-commit transaction, failed ones included." });
	metrics.commit_failures = one(&(struct metric_desc){
		.name = "pat_store_commit_failures_total", .type = METRIC_COUNTER,
		.help = "Group-commit transactions that failed or whose outcome is unknown (their messages are answered 451)." });
	metrics.queue_bytes = one(&(struct metric_desc){
		.name = "pat_store_queue_bytes", .type = METRIC_GAUGE,
		.help = "Bytes of compressed messages waiting for the group-commit writer." });
	metrics.queue_messages = one(&(struct metric_desc){
		.name = "pat_store_queue_messages", .type = METRIC_GAUGE,
		.help = "Messages waiting for the group-commit writer." });
	metrics.leader = one(&(struct metric_desc){
		.name = "pat_cluster_leader", .type = METRIC_GAUGE,
		.help = "1 while this node is the cluster's leader, else 0." });
	if (metrics_default() != NULL)
		metrics_register(metrics_default(), &members, &f, &err);
	for (int i = 0; i < 3; i++)
		metrics.members[i] = metrics_with(f, roles[i]);
}

const struct node_metrics *node_metrics(void)
{
	pthread_once(&once, init);
	return &metrics;
}

void node_metrics_cluster(bool leads, const unsigned members_by_role[3])
{
	const struct node_metrics *m = node_metrics();

	metric_set(m->leader, leads ? 1 : 0);
	for (int i = 0; i < 3; i++)
		metric_set(m->members[i], leads ? (double)members_by_role[i] : 0);
}
