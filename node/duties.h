/* duties: what a running `pat node` does besides serving: join the cluster when it is new,
 * register its region and weight, and, while it leads, keep the members' roles right. */
#ifndef PAT_NODE_DUTIES_H
#define PAT_NODE_DUTIES_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/leader.h"

/* The database Pat keeps everything in. */
#define NODE_DB "pat"

struct node_duty_options {
	uint64_t id;          /* this node */
	const char *address;  /* its address */
	const char *region;   /* its region name */
	uint64_t weight;      /* its weight */
	const char *join;     /* members to join through (NULL: bootstrapped, or no join needed) */
	unsigned voters;      /* roles policy */
	unsigned standbys;
	int roles_interval_ms; /* how often the leader checks roles */
};

struct node_duties {
	uint64_t id;
	char *address;
	char *region;
	uint64_t weight;
	unsigned voters, standbys;
	int roles_interval_ms;
	bool joined;             /* a member of the cluster */
	bool registered;         /* weight set and region recorded */
	int64_t next_attempt_ms; /* when to try joining or registering again */
	int backoff_ms;
	int64_t next_roles_ms;   /* when the leader checks roles next */
	struct dq_leader leader; /* this node first, then the join addresses */
	bool stuck;              /* leading, and its writes fail with a disk I/O error: restart it */
};

/* fresh: the node's data directory is new (it must join unless it bootstrapped). */
int node_duties_init(struct node_duties *d, const struct node_duty_options *o, bool fresh, struct pat_err *err);
/* Do what is due now; called about once a second. Failures are logged and retried later.
 * While it leads, the node also writes its pat_members row every roles interval: when that
 * write fails with a disk I/O error (dqlite 1.11.1 can keep a node in that state until it
 * restarts, see docs/ARCHITECTURE.md), d->stuck is set and the caller restarts the node. */
void node_duties_run(struct node_duties *d);
void node_duties_close(struct node_duties *d);

/* Keep roles right once: if `leader` leads, plan and apply role changes. The number of
 * changes applied, or a negative PAT_E* code. */
int node_roles_adjust(struct dq_leader *leader, uint64_t self_id, unsigned voters, unsigned standbys);

#endif
