/* writer: the group-commit writer. One thread, one connection to the leader: it takes every
 * message queued (up to a row and a byte cap), writes them in ONE transaction, and only then
 * reports each message's outcome. dqlite refuses a second concurrent writer and commits one
 * row at a time slowly across nodes, so one writer with batches is the design.
 *
 * A message is acknowledged (status PAT_OK) only after its batch committed on a majority; a
 * failed or uncertain commit reports the error to every message of the batch (SMTP answers
 * 451 and the client sends again; a resend cannot duplicate, see store_put_batch). */
#ifndef PAT_NODE_WRITER_H
#define PAT_NODE_WRITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/store.h"

struct writer_item;
typedef void (*writer_cb)(struct writer_item *item, int status);

/* A message waiting to be written; the submitter owns it and the memory m points to until cb. */
struct writer_item {
	struct store_message m;   /* what to store */
	writer_cb cb;             /* called once, from the writer thread, with the outcome */
	void *data;               /* for the submitter */
	struct writer_item *next; /* queue link (the writer's) */
};

struct writer_options {
	const char *seeds;        /* cluster addresses */
	size_t batch_max_rows;    /* messages per transaction at most */
	size_t batch_max_bytes;   /* raw bytes per transaction at most (a larger message goes alone) */
	size_t queue_max_bytes;   /* raw bytes queued before submit refuses (backpressure) */
	int timeout_ms;           /* per request */
	int retry_ms;             /* how long a batch may keep retrying */
	/* Called from the writer thread when STUCK_AFTER batches in a row failed with a disk I/O
	 * error from the leader, which dqlite 1.11.1 can keep answering until its node restarts;
	 * NULL: only logged. The writer reconnects after it returns. */
	void (*on_stuck)(void *data);
	void *stuck_data;
};

#define WRITER_STUCK_AFTER 3
/* When its last WRITER_YIELD_WINDOW commits (or as many as it made) all took at least
 * WRITER_YIELD_FROM_NS, the writer pauses as long as its last commit (at most
 * WRITER_YIELD_MAX_NS) before the next, so that writers further from the leader get turns
 * (writer.c, writer_yield_ns()). One slow commit among fast ones (libraft opening its next
 * segment file, a snapshot) crossed no WAN and makes no pause. */
#define WRITER_YIELD_FROM_NS (20 * 1000000LL)
#define WRITER_YIELD_MAX_NS (250 * 1000000LL)
#define WRITER_YIELD_WINDOW 4

/* The writer indexes the messages it stored for full-text search behind its batches: once
 * WRITER_INDEX_EVERY messages or WRITER_INDEX_BYTES are stored, and when its queue has been
 * empty for WRITER_INDEX_IDLE_MS, up to WRITER_INDEX_MAX per transaction (a search indexes
 * whatever is left first). Larger rounds cost less per message (FTS5 writes one segment per
 * transaction, and merges fewer, larger ones) and hold the database longer. pat load, 16
 * connections, rounds of 512 / 2048 / 4096 messages: 1 KiB 3,583 / 3,946 / 3,783 msg/s (time
 * indexing 984 / 610 / 629 ms of 30,000 messages; p99 40 / 47 / 60 ms); 20 KiB 1,316 / 1,648 /
 * 2,041 msg/s (6.5 / 4.4 / 3.5 s of 15,000; p99 284 / 71 / 39 ms). Earlier, rounds of 1 MiB
 * (about 51 messages of 20 KiB) gave 692 msg/s and of 256 KiB 414. */
#define WRITER_INDEX_EVERY 2048
#define WRITER_INDEX_BYTES (32 << 20)
#define WRITER_INDEX_IDLE_MS 20
#define WRITER_INDEX_MAX (2 * WRITER_INDEX_EVERY)

/* Gathering (writer.c, gather()): after a commit, the writer waits for the messages it has
 * just released to come back (their clients send the next ones) before the next commit, up to
 * half the last commit's time (at most WRITER_GATHER_MAX_NS), so that the clients commit in
 * one group rather than in two that alternate. Worth it where a commit costs the same for 8
 * messages as for 16 (a Raft round trip to another node); a wait that ends without three
 * quarters of them back turns gathering off for WRITER_GATHER_BACKOFF commits, twice as many
 * after each such wait in a row (up to WRITER_GATHER_BACKOFF_MAX), where the clients take
 * longer to come back than it would be worth waiting. */
#define WRITER_GATHER_MAX_NS (10 * 1000000LL)
#define WRITER_GATHER_MIN_NS (100 * 1000LL)
#define WRITER_GATHER_BACKOFF 4
#define WRITER_GATHER_BACKOFF_MAX 256

struct writer_stats {
	uint64_t batches;  /* transactions committed */
	uint64_t rows;     /* messages acknowledged */
	uint64_t failed;   /* messages reported failed */
	uint64_t largest;  /* most messages in one batch */
	uint64_t commit_ns; /* time spent in committed transactions */
	uint64_t index_runs; /* full-text index transactions (store_index()) */
	uint64_t index_ns;   /* time spent in them */
	uint64_t gathered;   /* waits that got three quarters of the released messages back */
	uint64_t gather_missed; /* waits that did not */
	uint64_t yields;     /* pauses made for writers further from the leader */
	uint64_t yield_ns;   /* and their time */
};

struct writer {
	struct writer_options o;
	struct dq_leader leader;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work;      /* something was queued, or stopping */
	pthread_cond_t space;     /* the queue shrank */
	struct writer_item *head, *tail;
	size_t queued_bytes;
	size_t queued;            /* messages in the queue */
	size_t expect;            /* what the queue should hold once the last released are back */
	size_t released;          /* messages the last commit answered */
	int64_t last_commit_ns;
	unsigned gather_off;      /* commits left before gathering is tried again */
	unsigned gather_backoff;  /* how many the next miss turns it off for */
	bool stopping;
	bool started;
	struct writer_stats stats;
	unsigned io_failures;     /* batches in a row refused with a disk I/O error */
	size_t unindexed;         /* messages stored since the last store_index() (the thread's own) */
	size_t unindexed_bytes;   /* and their size */
	int64_t recent_ns[WRITER_YIELD_WINDOW]; /* the last commits' times, newest at recent_i - 1 */
	unsigned recent_n, recent_i;
};

int writer_start(struct writer *w, const struct writer_options *o, struct pat_err *err);
/* Queue a message. PAT_ELIMIT when the queue holds queue_max_bytes already: stop reading
 * from clients and call writer_wait_space(). PAT_ECLOSED after writer_stop(). */
int writer_submit(struct writer *w, struct writer_item *item);
/* Block until the queue has room (or up to timeout_ms); true when it has. */
bool writer_wait_space(struct writer *w, int timeout_ms);
/* Write what is queued, then stop the thread. */
void writer_stop(struct writer *w);
struct writer_stats writer_get_stats(struct writer *w);
/* How long to pause after a commit, given the times of the last n commits (the newest
 * included, n >= 1): 0 unless every one took WRITER_YIELD_FROM_NS or longer; then the newest's
 * time, at most WRITER_YIELD_MAX_NS. */
int64_t writer_yield_ns(const int64_t *recent_ns, unsigned n, int64_t newest_ns);

#endif
