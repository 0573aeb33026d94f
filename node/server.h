/* server: one dqlite node of a Pat cluster: its data directory, identity and lifecycle. */
#ifndef PAT_NODE_SERVER_H
#define PAT_NODE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* dqlite bootstraps a new cluster only from the node whose id is 1. */
#define NODE_BOOTSTRAP_ID 1

struct node_options {
	uint64_t id;                 /* this node's id in the cluster, from 1 */
	const char *address;         /* HOST:PORT to bind and announce */
	const char *data_dir;        /* Raft log, snapshots and Pat's identity file */
	const char *region;          /* failure domain, as a name ("us-east") */
	unsigned network_latency_ms; /* one-way latency Raft timeouts scale with; 0: dqlite's */
	unsigned snapshot_threshold; /* Raft entries between snapshots; 0: dqlite's */
	unsigned snapshot_trailing;  /* Raft entries kept after a snapshot; 0: dqlite's */
	bool joining;                /* the node will be added to an existing cluster */
};

struct dqlite_node;

/* A running node. */
struct node_server {
	struct dqlite_node *dq; /* the dqlite node, NULL when stopped */
	int lock_fd;            /* holds an exclusive lock on the data directory */
	bool fresh;             /* the data directory had never held this node before */
	uint64_t id;            /* copied from the options */
	char *address;          /* as announced */
};

/* [cluster] network_latency (ms) for a cluster whose largest round trip between voters is
 * largest_rtt_us: a quarter of it, rounded up to 5 ms, at least NODE_LATENCY_FLOOR_MS. Raft's
 * election timeout is then 3.75 round trips (drawn in [3.75, 7.5]), heartbeats every 0.375,
 * so ten heartbeats fit in one timeout; a follower that misses them alone cannot unseat a
 * leader the others still hear (libraft refuses votes while it has a leader, and dqlite
 * campaigns with a pre-vote first). docs/OPERATIONS.md explains the trade-off. */
#define NODE_LATENCY_FLOOR_MS 20
unsigned node_suggest_network_latency_ms(int64_t largest_rtt_us);

/* Create the data directory if needed (mode 0700), lock it against a second node, check that
 * it belongs to this node (same id and address as the first start), and start the node. A
 * fresh node 1 that is not joining bootstraps a new cluster; a fresh node with another id
 * waits to be added. Refused: a node 1 that would join (it would bootstrap a second cluster),
 * a fresh node with another id that is not joining (nobody would ever add it). */
int node_server_start(struct node_server *s, const struct node_options *o, struct pat_err *err);

/* Stop the node (in-flight requests finish, connections close) and release the directory.
 * Safe on a node that never started. */
void node_server_stop(struct node_server *s);

/* The failure-domain code dqlite carries for a region name: a stable 64-bit hash (FNV-1a), so
 * every node and client derives the same code from the same name without coordination. */
uint64_t node_region_code(const char *region);

#endif
