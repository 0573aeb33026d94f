/* writer: see writer.h. */
#include "node/writer.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "node/node_metrics.h"

static size_t item_bytes(const struct writer_item *it)
{
	return it->m.raw_len;
}

/* Take the next batch off the queue (caller holds mu). */
static struct writer_item *take_batch(struct writer *w, size_t *n)
{
	struct writer_item *first = w->head, *it = first, *last = NULL;
	size_t rows = 0, bytes = 0;

	while (it != NULL && rows < w->o.batch_max_rows &&
	       (rows == 0 || bytes + item_bytes(it) <= w->o.batch_max_bytes)) {
		bytes += item_bytes(it);
		rows++;
		last = it;
		it = it->next;
	}
	if (last == NULL)
		return NULL;
	w->head = last->next;
	if (w->head == NULL)
		w->tail = NULL;
	last->next = NULL;
	w->queued_bytes -= bytes;
	w->queued -= rows;
	metric_add(node_metrics()->queue_bytes, -(double)bytes);
	metric_add(node_metrics()->queue_messages, -(double)rows);
	*n = rows;
	return first;
}

/* dqlite 1.11.1 can get into a state where every write on the leader fails with "disk I/O
 * error" (SQLITE_IOERR_SHORT_READ from its in-memory WAL after a checkpoint emptied it; fixed
 * in dqlite 1.13) until the node restarts. Those batches were answered 451 already; after a
 * few in a row, ask the owner of the node to restart it, then reconnect. */
static void stuck_check(struct writer *w, int rv)
{
	if (rv != PAT_EREMOTE || !dq_client_io_failed(&w->leader.client)) {
		w->io_failures = 0;
		return;
	}
	if (++w->io_failures < WRITER_STUCK_AFTER)
		return;
	log_error("the leader answers every write with a disk I/O error", "batches=%u code=%llu action=%s",
		  w->io_failures, (unsigned long long)w->leader.client.fail_code,
		  w->o.on_stuck != NULL ? "restarting the node"
					 : "the nodes restart themselves (pat node's health write); else restart them one at a time");
	if (w->o.on_stuck != NULL)
		w->o.on_stuck(w->o.stuck_data);
	dq_client_close(&w->leader.client);
	w->io_failures = 0;
}

/* After a commit, leave the database to the other gateways' writers for a while. dqlite 1.11
 * answers "database is locked" at once to a second writer, so whoever asks first after a
 * commit gets the next one: a gateway next to the leader asks again within a millisecond,
 * while one in another region asks a WAN round trip later and, without this pause, almost
 * never gets a turn (measured in tests/faults: a gateway 40 ms from the leader stored 1 message
 * in 13 s while the leader's region stored 2,000; docs/BENCHMARKS.md). Commits that all took
 * WRITER_YIELD_FROM_NS or longer cross a WAN; the pause is as long as the last one (the time
 * the lock was held, give or take), up to WRITER_YIELD_MAX_NS. On a LAN commits take a few
 * milliseconds, and the one in a few hundred that libraft holds up for tens of milliseconds
 * while it moves to its next segment file (io_destroy() of the old file's AIO context on the
 * node's loop) is no reason to pause: it did, before, as long again, about 8% of a one-node
 * burst's time. */
int64_t writer_yield_ns(const int64_t *recent_ns, unsigned n, int64_t newest_ns)
{
	for (unsigned i = 0; i < n; i++)
		if (recent_ns[i] < WRITER_YIELD_FROM_NS)
			return 0;
	return newest_ns < WRITER_YIELD_MAX_NS ? newest_ns : WRITER_YIELD_MAX_NS;
}

static void yield_after(struct writer *w, int64_t commit_ns)
{
	int64_t pause;
	struct timespec ts;
	bool stopping;

	w->recent_ns[w->recent_i] = commit_ns;
	w->recent_i = (w->recent_i + 1) % WRITER_YIELD_WINDOW;
	if (w->recent_n < WRITER_YIELD_WINDOW)
		w->recent_n++;
	if ((pause = writer_yield_ns(w->recent_ns, w->recent_n, commit_ns)) == 0)
		return;
	ts.tv_sec = pause / 1000000000;
	ts.tv_nsec = pause % 1000000000;
	pthread_mutex_lock(&w->mu);
	stopping = w->stopping;
	if (!stopping) {
		w->stats.yields++;
		w->stats.yield_ns += (uint64_t)pause;
	}
	pthread_mutex_unlock(&w->mu);
	if (!stopping)
		nanosleep(&ts, NULL);
}

/* Put the messages this writer stored into the full-text index, many per transaction (store.c,
 * migration 7). A failure is only logged: the next search indexes what is left itself. */
static void index_behind(struct writer *w)
{
	struct pat_err err;
	int64_t t0 = time_mono_ns();
	int rv = store_index(&w->leader, WRITER_INDEX_MAX, NULL, &err);

	if (rv != PAT_OK) {
		log_warn("full-text indexing put off to the next search or batch", "messages=%zu error=%s", w->unindexed,
			 err.msg);
	} else {
		pthread_mutex_lock(&w->mu);
		w->stats.index_runs++;
		w->stats.index_ns += (uint64_t)(time_mono_ns() - t0);
		pthread_mutex_unlock(&w->mu);
	}
	w->unindexed = 0;
	w->unindexed_bytes = 0;
}

/* Before the next commit, wait (up to half the last commit's time) for the messages the last
 * one released to be queued again (writer.h). Called with mu held and the queue not empty. */
static void gather(struct writer *w)
{
	int64_t wait = w->last_commit_ns / 2 < WRITER_GATHER_MAX_NS ? w->last_commit_ns / 2 : WRITER_GATHER_MAX_NS;
	size_t expect = w->expect < w->o.batch_max_rows ? w->expect : w->o.batch_max_rows;
	size_t released = w->released, waiting = w->expect - released; /* queued when they were released */
	struct timespec until;

	w->released = 0;
	if (w->gather_off > 0) {
		w->gather_off--;
		return;
	}
	if (w->queued >= expect || released == 0 || wait < WRITER_GATHER_MIN_NS)
		return;
	until = time_wall_after_ns(wait);
	while (w->queued < expect && !w->stopping)
		if (pthread_cond_timedwait(&w->work, &w->mu, &until) == ETIMEDOUT)
			break;
	/* The queue only grows between a commit and the next batch: queued >= waiting. */
	if (w->queued >= expect || 4 * (w->queued - waiting) >= 3 * released) {
		w->stats.gathered++;
		w->gather_backoff = WRITER_GATHER_BACKOFF;
	} else {
		w->stats.gather_missed++;
		w->gather_off = w->gather_backoff;
		if (w->gather_backoff < WRITER_GATHER_BACKOFF_MAX)
			w->gather_backoff *= 2;
	}
}

static void *run(void *arg)
{
	struct writer *w = arg;
	struct store_message *batch = mem_calloc(w->o.batch_max_rows, sizeof *batch);

	for (;;) {
		struct writer_item *items, *it;
		struct pat_err err;
		size_t n = 0, i = 0;
		int64_t commit_ns = 0;
		bool idle = false;
		int rv;

		pthread_mutex_lock(&w->mu);
		while (w->head == NULL && !w->stopping && !idle) {
			if (w->unindexed == 0) {
				pthread_cond_wait(&w->work, &w->mu);
			} else {
				struct timespec until = time_wall_after(WRITER_INDEX_IDLE_MS);

				idle = pthread_cond_timedwait(&w->work, &w->mu, &until) == ETIMEDOUT && w->head == NULL;
			}
		}
		if (idle && !w->stopping) {
			pthread_mutex_unlock(&w->mu);
			index_behind(w);
			continue;
		}
		if (w->head != NULL)
			gather(w);
		items = take_batch(w, &n);
		pthread_cond_broadcast(&w->space);
		pthread_mutex_unlock(&w->mu);
		if (items == NULL)
			break; /* stopping, and nothing is left */
		if (batch == NULL) {
			rv = err_set(&err, PAT_ENOMEM, "out of memory");
		} else {
			for (it = items; it != NULL; it = it->next)
				batch[i++] = it->m;
			int64_t t0 = time_mono_ns();

			rv = store_put_batch(&w->leader, batch, n, &err);
			commit_ns = time_mono_ns() - t0;
		}
		metric_observe(node_metrics()->batch_rows, (double)n);
		metric_observe(node_metrics()->commit_seconds, (double)commit_ns / 1e9);
		if (rv != PAT_OK) {
			metric_inc(node_metrics()->commit_failures);
			log_warn("batch not committed", "messages=%zu error=%s", n, err.msg);
		}
		pthread_mutex_lock(&w->mu);
		w->released = n;
		w->expect = w->queued + n;
		w->last_commit_ns = commit_ns;
		if (rv == PAT_OK) {
			w->stats.batches++;
			w->stats.rows += n;
			w->stats.largest = n > w->stats.largest ? n : w->stats.largest;
			w->stats.commit_ns += (uint64_t)commit_ns;
		} else {
			w->stats.failed += n;
		}
		pthread_mutex_unlock(&w->mu);
		/* Only now, after the commit, does anyone hear about it. */
		for (it = items; it != NULL;) {
			struct writer_item *next = it->next;

			it->cb(it, rv);
			it = next;
		}
		stuck_check(w, rv);
		if (rv == PAT_OK) {
			w->unindexed += n;
			for (i = 0; i < n; i++)
				w->unindexed_bytes += (size_t)batch[i].size;
			if (w->unindexed >= WRITER_INDEX_EVERY || w->unindexed_bytes >= WRITER_INDEX_BYTES)
				index_behind(w);
			yield_after(w, commit_ns);
		}
	}
	mem_free(batch);
	return NULL;
}

int writer_start(struct writer *w, const struct writer_options *o, struct pat_err *err)
{
	int rv;

	memset(w, 0, sizeof *w);
	w->o = *o;
	w->gather_backoff = WRITER_GATHER_BACKOFF;
	if (w->o.batch_max_rows == 0 || w->o.batch_max_bytes == 0 || w->o.queue_max_bytes == 0)
		return err_set(err, PAT_EINVAL, "batch and queue caps must be above zero");
	if ((rv = dq_leader_init(&w->leader, o->seeds, "pat", o->timeout_ms, o->retry_ms)) != PAT_OK) {
		*err = w->leader.err;
		dq_leader_close(&w->leader);
		return rv;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->space, NULL);
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		dq_leader_close(&w->leader);
		return err_set(err, PAT_EIO, "cannot start the writer thread");
	}
	w->started = true;
	return PAT_OK;
}

int writer_submit(struct writer *w, struct writer_item *it)
{
	int rv = PAT_OK;

	it->next = NULL;
	pthread_mutex_lock(&w->mu);
	if (w->stopping)
		rv = PAT_ECLOSED;
	else if (w->queued_bytes > 0 && w->queued_bytes + item_bytes(it) > w->o.queue_max_bytes)
		rv = PAT_ELIMIT;
	if (rv == PAT_OK) {
		if (w->tail != NULL)
			w->tail->next = it;
		else
			w->head = it;
		w->tail = it;
		w->queued_bytes += item_bytes(it);
		w->queued++;
		metric_add(node_metrics()->queue_bytes, (double)item_bytes(it));
		metric_add(node_metrics()->queue_messages, 1);
		pthread_cond_signal(&w->work);
	}
	pthread_mutex_unlock(&w->mu);
	return rv;
}

bool writer_wait_space(struct writer *w, int timeout_ms)
{
	struct timespec until = time_wall_after(timeout_ms);
	bool room;

	pthread_mutex_lock(&w->mu);
	while (w->queued_bytes >= w->o.queue_max_bytes && !w->stopping)
		if (pthread_cond_timedwait(&w->space, &w->mu, &until) == ETIMEDOUT)
			break;
	room = w->queued_bytes < w->o.queue_max_bytes && !w->stopping;
	pthread_mutex_unlock(&w->mu);
	return room;
}

void writer_stop(struct writer *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->work);
	pthread_cond_broadcast(&w->space);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	dq_leader_close(&w->leader);
	log_info("writer stopped",
		 "batches=%llu messages=%llu failed=%llu largest_batch=%llu mean_batch=%.1f mean_commit_ms=%.3f index_runs=%llu"
		 " index_ms=%.1f gathered=%llu gather_missed=%llu yields=%llu yield_ms=%.1f",
		 (unsigned long long)w->stats.batches, (unsigned long long)w->stats.rows,
		 (unsigned long long)w->stats.failed, (unsigned long long)w->stats.largest,
		 w->stats.batches ? (double)w->stats.rows / (double)w->stats.batches : 0.0,
		 w->stats.batches ? (double)w->stats.commit_ns / (double)w->stats.batches / 1e6 : 0.0,
		 (unsigned long long)w->stats.index_runs, (double)w->stats.index_ns / 1e6,
		 (unsigned long long)w->stats.gathered, (unsigned long long)w->stats.gather_missed,
		 (unsigned long long)w->stats.yields, (double)w->stats.yield_ns / 1e6);
	/* The lock stays usable: a late writer_submit() gets PAT_ECLOSED, not undefined behaviour. */
	w->started = false;
}

struct writer_stats writer_get_stats(struct writer *w)
{
	struct writer_stats s;

	pthread_mutex_lock(&w->mu);
	s = w->stats;
	pthread_mutex_unlock(&w->mu);
	return s;
}
