/* Integration tests of the group-commit writer against real `pat node` processes: many
 * producers, batches of many messages, acknowledgements only after commit, failures reported
 * to every message of a batch when the cluster is gone, and backpressure. */
#include "tests/lib/testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/mem.h"
#include "lib/timeutil.h"
#include "node/store.h"
#include "node/writer.h"
#include "tests/lib/cluster.h"

#define PRODUCERS 8
#define PER_PRODUCER 300

static struct tc_cluster cluster;
static uint8_t *packed;
static size_t packed_len;

static atomic_int acked, failed;

static void done(struct writer_item *it, int status)
{
	/* An acknowledgement must mean the row is there: checked after the run. */
	*(int *)it->data = status;
	if (status == PAT_OK)
		atomic_fetch_add(&acked, 1);
	else
		atomic_fetch_add(&failed, 1);
}

static int setup(void **state)
{
	struct dq_leader l;
	struct pat_err err;
	static const char raw[] = "Subject: group commit\r\n\r\nbody\r\n";

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	tc_init(&cluster, 3, NULL);
	for (int i = 0; i < 3; i++)
		tc_start(&cluster, i, NULL);
	if (dq_leader_init(&l, cluster.seeds, "pat", 5000, 20000) != PAT_OK || store_migrate(&l, NULL, &err) != PAT_OK)
		return -1;
	dq_leader_close(&l);
	return store_pack_raw(raw, sizeof raw - 1, &packed, &packed_len, &err) == PAT_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tc_close(&cluster);
	mem_free(packed);
	return 0;
}

struct producer {
	struct writer *w;
	struct writer_item items[PER_PRODUCER];
	int status[PER_PRODUCER];
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	for (int i = 0; i < PER_PRODUCER; i++) {
		struct writer_item *it = &p->items[i];

		memset(it, 0, sizeof *it);
		ulid_new(it->m.id);
		it->m.tenant = "acme";
		it->m.received_at = time_wall_ms();
		it->m.size = 30;
		it->m.raw = packed;
		it->m.raw_len = packed_len;
		it->cb = done;
		it->data = &p->status[i];
		p->status[i] = -1;
		while (writer_submit(p->w, it) == PAT_ELIMIT)
			writer_wait_space(p->w, 1000);
	}
	return NULL;
}

/* How many stored messages the full-text index has not reached yet. */
static int64_t unindexed(struct dq_leader *l)
{
	struct dq_rows rows;
	bool row = false;
	int64_t n;

	assert_int_equal(dq_leader_query_sql(l, "SELECT count(*) FROM messages WHERE seq > (SELECT upto FROM fts_state)",
					     NULL, 0, &rows), PAT_OK);
	assert_int_equal(dq_rows_next(&rows, &row), PAT_OK);
	assert_true(row);
	n = rows.values[0].integer;
	dq_rows_close(&rows);
	return n;
}

static void many_producers_share_batches(void **state)
{
	struct writer_options o = { cluster.seeds, 256, 16 << 20, 64 << 20, 5000, 20000, NULL, NULL };
	static struct producer producers[PRODUCERS];
	pthread_t threads[PRODUCERS];
	struct writer w;
	struct writer_stats s;
	struct pat_err err;
	struct dq_leader l;
	int64_t total, unread;

	(void)state;
	atomic_store(&acked, 0);
	atomic_store(&failed, 0);
	assert_int_equal(writer_start(&w, &o, &err), PAT_OK);
	for (int i = 0; i < PRODUCERS; i++) {
		producers[i].w = &w;
		pthread_create(&threads[i], NULL, produce, &producers[i]);
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(threads[i], NULL);
	writer_stop(&w); /* writes what is queued first */
	s = writer_get_stats(&w);
	assert_int_equal(atomic_load(&acked), PRODUCERS * PER_PRODUCER);
	assert_int_equal(atomic_load(&failed), 0);
	for (int i = 0; i < PRODUCERS; i++)
		for (int j = 0; j < PER_PRODUCER; j++)
			assert_int_equal(producers[i].status[j], PAT_OK);
	assert_int_equal(s.rows, PRODUCERS * PER_PRODUCER);
	/* Grouped: far fewer transactions than messages. */
	assert_true(s.batches < s.rows);
	assert_true(s.largest > 1);
	print_message("%llu messages in %llu transactions (largest %llu)\n", (unsigned long long)s.rows,
		      (unsigned long long)s.batches, (unsigned long long)s.largest);
	/* Every acknowledged message is stored. */
	assert_int_equal(dq_leader_init(&l, cluster.seeds, "pat", 5000, 20000), PAT_OK);
	assert_int_equal(store_count(&l, "acme", &total, &unread, &err), PAT_OK);
	assert_int_equal(total, PRODUCERS * PER_PRODUCER);
	/* Indexed behind the batches, WRITER_INDEX_EVERY messages or so at a time: at most the
	 * last of those rounds (and the batch that crossed it) is left for the next search. */
	assert_true(s.index_runs >= 1);
	assert_true(unindexed(&l) < (int64_t)(WRITER_INDEX_EVERY + o.batch_max_rows));
	dq_leader_close(&l);
}

static void fill(struct writer_item *it, int *status)
{
	memset(it, 0, sizeof *it);
	ulid_new(it->m.id);
	it->m.tenant = "acme";
	it->m.raw = packed;
	it->m.raw_len = packed_len;
	it->cb = done;
	it->data = status;
	*status = -1;
}

/* Wait up to seconds for the writer to report *status. */
static bool reported(const int *status, int seconds)
{
	for (int i = 0; i < seconds * 100; i++) {
		if (atomic_load((atomic_int *)status) != -1)
			return true;
		usleep(10000);
	}
	return false;
}

/* Queue n messages at once, then wait for each to be acknowledged. */
static void store_all(struct writer *w, struct writer_item *items, int *status, int n)
{
	for (int i = 0; i < n; i++) {
		fill(&items[i], &status[i]);
		assert_int_equal(writer_submit(w, &items[i]), PAT_OK);
	}
	for (int i = 0; i < n; i++) {
		assert_true(reported(&status[i], 60));
		assert_int_equal(status[i], PAT_OK);
	}
}

/* An idle writer indexes what it stored: searches then find the index caught up. */
static void idle_writer_indexes_what_it_stored(void **state)
{
	struct writer_options o = { cluster.seeds, 64, 1 << 20, 8 << 20, 5000, 20000, NULL, NULL };
	struct writer w;
	struct writer_item items[3];
	int status[3];
	struct pat_err err;
	struct dq_leader l;
	int64_t left = -1;

	(void)state;
	assert_int_equal(writer_start(&w, &o, &err), PAT_OK);
	store_all(&w, items, status, 3);
	assert_int_equal(dq_leader_init(&l, cluster.seeds, "pat", 5000, 20000), PAT_OK);
	for (int t = 0; t < 600 && (left = unindexed(&l)) != 0; t++)
		usleep(100000);
	dq_leader_close(&l);
	writer_stop(&w);
	assert_int_equal(left, 0);
	assert_true(writer_get_stats(&w).index_runs >= 1);
}

/* Gathering (writer.h) waits for the messages a commit released to come back, but only so
 * long: when their senders have gone, a lone message after them is still committed and
 * acknowledged, and so is one after that. */
static void gathering_never_holds_a_message_back(void **state)
{
	struct writer_options o = { cluster.seeds, 64, 1 << 20, 8 << 20, 5000, 20000, NULL, NULL };
	struct writer w;
	struct writer_item items[12];
	int status[12];
	struct writer_stats s;
	struct pat_err err;

	(void)state;
	assert_int_equal(writer_start(&w, &o, &err), PAT_OK);
	store_all(&w, items, status, 10);
	/* Their senders are gone: the next message alone is not held until they come back. */
	for (int i = 10; i < 12; i++)
		store_all(&w, &items[i], &status[i], 1);
	writer_stop(&w);
	s = writer_get_stats(&w);
	assert_int_equal(s.rows, 12);
	print_message("gathered %llu, missed %llu\n", (unsigned long long)s.gathered, (unsigned long long)s.gather_missed);
}

/* The pause for writers further from the leader (writer.h) follows commits that keep
 * crossing a WAN, not one that the leader's disk held up among fast ones. */
static void only_commits_that_keep_crossing_a_wan_make_a_pause(void **state)
{
	const int64_t ms = 1000000;
	int64_t lan_then_slow[4] = { 1 * ms, 2 * ms, 1 * ms, 35 * ms };
	int64_t wan[4] = { 41 * ms, 45 * ms, 40 * ms, 43 * ms };
	int64_t wan_and_a_fast_one[4] = { 41 * ms, 19 * ms, 40 * ms, 43 * ms };
	int64_t very_slow[4] = { 400 * ms, 300 * ms, 500 * ms, 600 * ms };
	int64_t first[1] = { 42 * ms };

	(void)state;
	assert_int_equal(writer_yield_ns(lan_then_slow, 4, 35 * ms), 0);
	assert_int_equal(writer_yield_ns(wan, 4, 43 * ms), 43 * ms);
	assert_int_equal(writer_yield_ns(wan_and_a_fast_one, 4, 43 * ms), 0);
	assert_int_equal(writer_yield_ns(very_slow, 4, 600 * ms), WRITER_YIELD_MAX_NS);
	assert_int_equal(writer_yield_ns(first, 1, 42 * ms), 42 * ms);
}

/* Wait until every node of the cluster is a voter (roles are assigned after the nodes join). */
static void wait_all_voters(void)
{
	for (int t = 0; t < 600; t++) {
		struct dq_leader l;
		struct dq_member_info *m = NULL;
		size_t n = 0, voters = 0;

		if (dq_leader_init(&l, cluster.seeds, NULL, 2000, 2000) == PAT_OK && dq_leader_members(&l, 1000, &m, &n) == PAT_OK)
			for (size_t i = 0; i < n; i++)
				voters += m[i].m.role == DQ_VOTER;
		mem_free(m);
		dq_leader_close(&l);
		if (voters == (size_t)cluster.n)
			return;
		usleep(100000);
	}
	fail_msg("the cluster's %d nodes did not all become voters in 60 s", cluster.n);
}

/* A leader that stops answering without closing its connections (SIGSTOP: a frozen machine;
 * a partition that drops packets looks the same) does not hold the writer until its request's
 * deadline: once another node leads, the batch in flight goes there and is acknowledged,
 * while the old leader is still stopped. The deadline here is two minutes; without the check
 * the message would be reported failed after it. */
static void stopped_leader_is_left_for_the_new_one(void **state)
{
	struct writer_options o = { cluster.seeds, 64, 1 << 20, 8 << 20, 120000, 120000, NULL, NULL };
	struct writer w;
	struct writer_item first, second;
	int first_status, second_status, stopped = -1;
	char leader[DQ_ADDRESS_MAX];
	uint64_t leader_id = 0;
	struct pat_err err;
	struct dq_leader l;
	struct store_row row;

	(void)state;
	wait_all_voters(); /* else the two left may not be a majority */
	assert_int_equal(writer_start(&w, &o, &err), PAT_OK);
	store_all(&w, &first, &first_status, 1);
	/* The writer is connected to the leader now: stop it. */
	assert_int_equal(dq_ask_leader(cluster.nodes[0].address, 5000, &leader_id, leader, sizeof leader, NULL), PAT_OK);
	for (int i = 0; i < cluster.n; i++)
		if (strcmp(cluster.nodes[i].address, leader) == 0)
			stopped = i;
	assert_true(stopped >= 0);
	assert_int_equal(kill(cluster.nodes[stopped].pid, SIGSTOP), 0);
	fill(&second, &second_status);
	assert_int_equal(writer_submit(&w, &second), PAT_OK);
	if (!reported(&second_status, 90)) {
		kill(cluster.nodes[stopped].pid, SIGCONT);
		writer_stop(&w);
		fail_msg("a batch sent to the stopped leader was not reported in 90 s");
	}
	assert_int_equal(second_status, PAT_OK);
	/* Acknowledged while the old leader is still stopped, so stored by the others. */
	assert_int_equal(dq_leader_init(&l, cluster.seeds, "pat", 5000, 20000), PAT_OK);
	assert_int_equal(store_get(&l, "acme", second.m.id, &row, &err), PAT_OK);
	store_row_free(&row);
	dq_leader_close(&l);
	assert_int_equal(kill(cluster.nodes[stopped].pid, SIGCONT), 0);
	writer_stop(&w);
}

/* With the cluster gone, nothing is acknowledged: every message hears of the failure. And
 * while the writer is stuck on a batch, a full queue refuses more until there is room. */
static void no_cluster_no_acknowledgement(void **state)
{
	struct writer_options o = { cluster.seeds, 64, 1 << 20, 0, 1000, 1500, NULL, NULL };
	struct writer w;
	struct pat_err err;
	struct writer_item items[3];
	int status[3];
	bool taken = false;

	(void)state;
	o.queue_max_bytes = packed_len; /* room for one message */
	atomic_store(&acked, 0);
	atomic_store(&failed, 0);
	for (int i = 0; i < 3; i++)
		tc_stop(&cluster, i, SIGKILL);
	assert_int_equal(writer_start(&w, &o, &err), PAT_OK);
	for (int i = 0; i < 3; i++)
		fill(&items[i], &status[i]);
	assert_int_equal(writer_submit(&w, &items[0]), PAT_OK);
	/* Wait until the writer has taken it (it then spends 1.5 s failing to reach anyone). */
	for (int i = 0; i < 500 && !taken; i++) {
		pthread_mutex_lock(&w.mu);
		taken = w.queued_bytes == 0;
		pthread_mutex_unlock(&w.mu);
		if (!taken)
			usleep(1000);
	}
	assert_true(taken);
	assert_int_equal(writer_submit(&w, &items[1]), PAT_OK);
	assert_int_equal(writer_submit(&w, &items[2]), PAT_ELIMIT);
	assert_true(writer_wait_space(&w, 10000));
	assert_int_equal(writer_submit(&w, &items[2]), PAT_OK);
	writer_stop(&w);
	assert_int_equal(atomic_load(&acked), 0);
	assert_int_equal(atomic_load(&failed), 3);
	for (int i = 0; i < 3; i++)
		assert_true(status[i] != PAT_OK && status[i] != -1);
	assert_int_equal(writer_submit(&w, &items[0]), PAT_ECLOSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_producers_share_batches),
		cmocka_unit_test(idle_writer_indexes_what_it_stored),
		cmocka_unit_test(gathering_never_holds_a_message_back),
		cmocka_unit_test(only_commits_that_keep_crossing_a_wan_make_a_pause),
		cmocka_unit_test(stopped_leader_is_left_for_the_new_one),
		cmocka_unit_test(no_cluster_no_acknowledgement),
	};
	return cmocka_run_group_tests_name("group-commit writer", tests, setup, teardown);
}
