/* dq_client: a blocking client for one dqlite node, speaking the wire protocol over TCP or a
 * unix socket.
 *
 * Pat's writer and reader threads each own one client; the event loop never calls it. Every
 * request has a deadline (timeout_ms). A request that fails on the network, times out or
 * receives a malformed response closes the connection (PAT_ECLOSED from then on), so that a
 * late answer can never be taken for the answer to the next request. A failure answered by
 * dqlite keeps the connection; its code and message are in fail_code and err. */
#ifndef PAT_CONSENSUS_DQ_CLIENT_H
#define PAT_CONSENSUS_DQ_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/dq_wire.h"
#include "lib/buf.h"
#include "lib/err.h"

#define DQ_MAX_BODY (1ULL << 30) /* a response larger than 1 GiB is refused as hostile */
#define DQ_ADDRESS_MAX 256
#define DQ_STMT_CACHE 16 /* statements dq_client_exec_cached() keeps prepared per connection */

/* dqlite's codes for "not the leader" (SQLITE_IOERR_NOT_LEADER, _LEADERSHIP_LOST). */
#define DQ_CODE_NOT_LEADER 10250
#define DQ_CODE_LEADERSHIP_LOST 10506

enum dq_role { DQ_VOTER = 0, DQ_STANDBY = 1, DQ_SPARE = 2 };

struct dq_client {
	int fd;                      /* -1 when closed */
	int timeout_ms;              /* deadline of each request */
	char address[DQ_ADDRESS_MAX];/* the node connected to */
	bool db_open;                /* OPEN succeeded (one database per connection) */
	uint32_t db_id;              /* its id */
	bool in_query;               /* a result set is being read */
	bool sent;                   /* the last request left (in part or whole): its outcome may be unknown */
	uint32_t *stmts;             /* ids of the statements prepared and not finalized */
	size_t n_stmts, cap_stmts;
	uint64_t generation;         /* counts connections: a cached statement belongs to one */
	struct {
		char *sql;           /* mem_strdup'd text, NULL when the slot is free */
		uint32_t id;
		uint64_t generation; /* the connection it was prepared on */
	} cache[DQ_STMT_CACHE];      /* dq_client_exec_cached()'s statements */
	uint64_t fail_code;          /* dqlite's code of the last FAILURE, or 0 */
	/* While a request has waited check_ms for its answer, and every check_ms after, check
	 * (when set) is asked whether waiting on is worth it; false ends the request with
	 * PAT_ECLOSED, its outcome unknown, as if the node had closed the connection. dq_leader
	 * uses it to leave a leader that went silent (stopped, cut off) once another node leads,
	 * instead of waiting out the whole deadline. Cleared by dq_client_connect(). */
	int check_ms;
	bool (*check)(void *data);
	void *check_data;
	int64_t check_at;            /* when the next check is due (monotonic ms), 0: none */
	struct buf out;              /* the request being sent */
	struct buf in;               /* the last response body */
	uint8_t in_type;             /* its type */
	struct pat_err err;          /* what went wrong last */
};

/* Result of a write. */
struct dq_result {
	uint64_t last_insert_id;
	uint64_t rows_affected;
};

/* A result set being read, one message ("part") at a time. */
struct dq_rows {
	struct dq_client *c;   /* the connection it is read from */
	unsigned n_columns;    /* columns of each row */
	char **columns;        /* their names */
	struct dq_value *values; /* the current row: valid until the next dq_rows_next() */
	struct dq_cursor cur;  /* position in the current part */
	bool done;             /* every part has been read */
};

/* A member of the cluster. */
struct dq_member {
	uint64_t id;
	char address[DQ_ADDRESS_MAX];
	enum dq_role role;
};

/* A file of a DUMP. */
struct dq_file {
	char *name;    /* "pat", "pat-wal" */
	uint8_t *data; /* mem_free() it */
	size_t len;
};

/* Connect to address ("HOST:PORT", "/path" or "@abstract") within timeout_ms and send the
 * protocol handshake. On failure c is closed and c->err says why. */
int dq_client_connect(struct dq_client *c, const char *address, int timeout_ms);
void dq_client_close(struct dq_client *c);
bool dq_client_connected(const struct dq_client *c);

/* LEADER: the leader this node knows of (id 0 and "" when it knows none). */
int dq_client_leader(struct dq_client *c, uint64_t *id, char *address, size_t n);
/* CLIENT: register; returns dqlite's heartbeat timeout (ms). */
int dq_client_hello(struct dq_client *c, uint64_t client_id, uint64_t *heartbeat_ms);
/* OPEN a database by name (one per connection). */
int dq_client_open(struct dq_client *c, const char *name);

/* Prepared statements. The client refuses (PAT_EINVAL, nothing sent) a statement id that is
 * not prepared on this connection: dqlite 1.11.1 crashes when it is sent one that was
 * finalized after others. */
int dq_client_prepare(struct dq_client *c, const char *sql, uint32_t *stmt_id, uint64_t *n_params);
int dq_client_exec(struct dq_client *c, uint32_t stmt_id, const struct dq_value *params, unsigned n,
		   struct dq_result *result);
int dq_client_query(struct dq_client *c, uint32_t stmt_id, const struct dq_value *params, unsigned n,
		    struct dq_rows *rows);
int dq_client_finalize(struct dq_client *c, uint32_t stmt_id);
/* EXEC_SQL: one or more statements; params bind to the first. */
int dq_client_exec_sql(struct dq_client *c, const char *sql, const struct dq_value *params, unsigned n,
		       struct dq_result *result);
int dq_client_query_sql(struct dq_client *c, const char *sql, const struct dq_value *params, unsigned n,
			struct dq_rows *rows);
/* Like dq_client_exec_sql() for ONE statement, which stays prepared on this connection: the
 * leader parses it (and compiles its triggers) once, not on every call. The least recently
 * prepared of DQ_STMT_CACHE statements is finalized to make room. */
/* The last failure was one of SQLite's "disk I/O error" codes (SQLITE_IOERR and its extended
 * codes other than dqlite's leadership ones, which map to PAT_ENOTLEADER) or "database disk
 * image is malformed" (SQLITE_CORRUPT): the faults of dqlite 1.11.1's in-memory WAL that a
 * node restart cures. */
bool dq_client_io_failed(const struct dq_client *c);
int dq_client_exec_cached(struct dq_client *c, const char *sql, const struct dq_value *params, unsigned n,
			  struct dq_result *result);
/* (After a query fails, rows holds nothing; dq_rows_close() on it is harmless.) */
/* INTERRUPT the result set being read (dq_rows_close() does it when rows remain). */
int dq_client_interrupt(struct dq_client *c);

/* The next row: *has_row false when the set is complete. */
int dq_rows_next(struct dq_rows *r, bool *has_row);
/* Release the rows; interrupts the query when rows remain, so the connection stays usable. */
void dq_rows_close(struct dq_rows *r);

/* Membership, on the leader. */
int dq_client_add(struct dq_client *c, uint64_t id, const char *address);
int dq_client_assign(struct dq_client *c, uint64_t id, enum dq_role role);
int dq_client_remove(struct dq_client *c, uint64_t id);
int dq_client_transfer(struct dq_client *c, uint64_t id);
/* CLUSTER (format 1, with roles): members allocated (mem_free). */
int dq_client_cluster(struct dq_client *c, struct dq_member **members, size_t *n);
/* DESCRIBE this node: its failure domain and weight. */
int dq_client_describe(struct dq_client *c, uint64_t *failure_domain, uint64_t *weight);
int dq_client_weight(struct dq_client *c, uint64_t weight);
/* DUMP a database: its file and its WAL (dq_files_free). */
int dq_client_dump(struct dq_client *c, const char *name, struct dq_file files[2]);
void dq_files_free(struct dq_file files[2]);

const char *dq_role_name(enum dq_role role);

#endif
