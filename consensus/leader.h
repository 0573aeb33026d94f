/* leader: a connection that follows the cluster's leader.
 *
 * dqlite 1.11 serves reads and writes only on the leader. A dq_leader starts from seed
 * addresses, asks them who leads, connects there and opens the database; when the leader
 * changes or its node is lost it finds the new one. What is safe to retry is retried within
 * retry_ms: connecting, a query, a write that never left (the connection was found closed
 * before sending), a write that the node refused as "not leader" before running it, and a
 * write refused because another writer holds the database ("database is locked"). A write whose outcome is unknown (the connection broke after it was sent, or
 * leadership was lost while committing) is not retried: the caller decides (an SMTP client
 * gets 451 and sends again). */
#ifndef PAT_CONSENSUS_LEADER_H
#define PAT_CONSENSUS_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/dq_client.h"

#define DQ_MAX_SEEDS 32
/* A leader that stops answering (a stopped process, a partition that drops its packets) keeps
 * its connections open, so a request to it would wait for its whole deadline. After a request
 * has waited this long, and every as long again, the other seeds are asked at once whether one
 * of them leads; when one does, the request ends (its outcome unknown) and the connection moves
 * there. An election takes at least 15 x [cluster] network_latency, so a second is early enough
 * for any WAN Pat advises and costs a healthy, merely slow leader a round of questions. */
#define DQ_LEADER_CHECK_MS 1000

struct dq_leader {
	char *seeds[DQ_MAX_SEEDS]; /* addresses to ask, in order */
	size_t n_seeds;
	char *db;                  /* database name to open */
	int timeout_ms;            /* deadline of each request */
	int retry_ms;              /* how long to keep retrying what is safe to retry */
	int check_ms;              /* a request unanswered this long makes the others be asked
				    * whether one of them leads now (0: never; dq_leader_init()
				    * sets DQ_LEADER_CHECK_MS) */
	struct dq_client client;   /* the connection to the leader, when connected */
	uint64_t leader_id;        /* the leader's id, 0 when unknown */
	char leader_address[DQ_ADDRESS_MAX];
	struct pat_err err;        /* what went wrong last */
};

/* A member as the leader and the member itself describe it. */
struct dq_member_info {
	struct dq_member m;      /* id, address, role (from the leader) */
	bool online;             /* the member answered just now */
	uint64_t failure_domain; /* from the member (0 when offline) */
	uint64_t weight;         /* from the member */
};

/* seeds: comma-separated addresses. No connection is made yet. */
int dq_leader_init(struct dq_leader *l, const char *seeds, const char *db, int timeout_ms, int retry_ms);
void dq_leader_close(struct dq_leader *l);

/* Connect to the leader (if not connected) and open the database (when db is not NULL). */
int dq_leader_connect(struct dq_leader *l);

/* The requests below: on failure, l->err says why (also when the cause was the connection). */
int dq_leader_exec_sql(struct dq_leader *l, const char *sql, const struct dq_value *params, unsigned n,
		       struct dq_result *result);
int dq_leader_query_sql(struct dq_leader *l, const char *sql, const struct dq_value *params, unsigned n,
			struct dq_rows *rows);

/* Every member with its role, reachability, failure domain and weight (mem_free the array).
 * Members are probed with probe_ms deadlines. */
int dq_leader_members(struct dq_leader *l, int probe_ms, struct dq_member_info **members, size_t *n);

/* Ask one node whom it knows as leader: PAT_OK with *id 0 when it knows none. */
int dq_ask_leader(const char *address, int timeout_ms, uint64_t *id, char *leader, size_t n, struct pat_err *err);

#endif
