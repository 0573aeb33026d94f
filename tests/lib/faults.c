/* faults: see faults.h. */
#include "tests/lib/faults.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/timeutil.h"
#include "tests/lib/testutil.h"

/* How long every client may take in all, faults included. */
#define LOAD_TIMEOUT_MS (15 * 60 * 1000)

/* The leader's index, waiting for one to exist (after an earlier fault it may take a while). */
static int leader(struct rg_world *w)
{
	for (int tries = 0; tries < 240; tries++) {
		int i = rg_leader(w);

		if (i >= 0)
			return i;
		time_sleep_ms(250);
	}
	fail_msg("the cluster has no leader");
	return -1;
}

static void kill_leader(struct rg_world *w, int64_t *struck_ms)
{
	int i = leader(w);

	rg_node_stop(w, i, SIGKILL);
	*struck_ms = time_wall_ms();
	time_sleep_ms(5000);
	rg_node_start(w, i);
}

static void kill_region(struct rg_world *w, int64_t *struck_ms)
{
	int r = leader(w) / 2;

	rg_region_kill(w, r);
	*struck_ms = time_wall_ms();
	time_sleep_ms(8000);
	rg_region_start(w, r);
}

static void partition(struct rg_world *w, int64_t *struck_ms)
{
	int r = leader(w) / 2;

	rg_cut_off(w, r, true);
	*struck_ms = time_wall_ms();
	time_sleep_ms(10000);
	rg_cut_off(w, r, false);
}

static void pause_leader(struct rg_world *w, int64_t *struck_ms)
{
	int i = leader(w);

	rg_node_pause(w, i, true);
	*struck_ms = time_wall_ms();
	time_sleep_ms(8000);
	rg_node_pause(w, i, false);
}

static void restart_nodes(struct rg_world *w, int64_t *struck_ms)
{
	/* Every node in turn, cleanly (SIGTERM) or not (SIGKILL) by turns, the leader included. */
	for (int i = 0; i < RG_NODES; i++) {
		rg_node_stop(w, i, i % 2 == 0 ? SIGTERM : SIGKILL);
		time_sleep_ms(1000);
		rg_node_start(w, i);
		time_sleep_ms(2000);
	}
	*struck_ms = 0;
}

const struct fx_nemesis fx_nemeses[] = {
	{ "kill-leader", "kill -9 the leader; start it again 5 s later", kill_leader },
	{ "kill-region", "kill -9 the leader's whole region (2 nodes and its gateway); start it again 8 s later",
	  kill_region },
	{ "partition", "cut the leader's region off from the others (iptables in the wan) for 10 s", partition },
	{ "pause-leader", "SIGSTOP the leader for 8 s, then SIGCONT", pause_leader },
	{ "restart-nodes", "restart every node in turn (SIGTERM and SIGKILL by turns), the leader included",
	  restart_nodes },
	{ NULL, NULL, NULL },
};

const struct fx_nemesis *fx_nemesis_find(const char *name)
{
	for (const struct fx_nemesis *n = fx_nemeses; n->name != NULL; n++)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static long count_lines(const char *path)
{
	size_t len = 0;
	char *text = tu_read_file(path, &len);
	long n = 0;

	for (size_t i = 0; text != NULL && i < len; i++)
		n += text[i] == '\n';
	free(text);
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Latency per region, the run's span and the failover time, from the --acked lines. */
static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* When writes resumed: the end of the longest silence between two acknowledgements (of any
 * region) that ends after the fault and starts at most RESUME_START_MS after it. Replies to
 * commits made before the fault still arrive for a moment after it, so the silence starts a
 * little later; a later silence (under full load acknowledgements come in groups of a batch,
 * which can be far apart late in a run) is not the failover's. */
#define RESUME_START_MS 2000
static double resumed_after(int64_t *accepted, size_t n, int64_t struck_ms)
{
	int64_t longest = -1, end = 0;

	qsort(accepted, n, sizeof *accepted, cmp_int64);
	for (size_t i = 1; i < n; i++)
		if (accepted[i] > struck_ms && accepted[i - 1] <= struck_ms + RESUME_START_MS &&
		    accepted[i] - accepted[i - 1] > longest) {
			longest = accepted[i] - accepted[i - 1];
			end = accepted[i];
		}
	return longest >= 0 ? (double)(end - struck_ms) / 1000.0 : -1;
}

static void measure(const char *const *acked, struct fx_result *res)
{
	int64_t first_sent = INT64_MAX, last_accepted = 0, first_after = INT64_MAX, *all = NULL;
	size_t n_all = 0, cap_all = 0;

	for (int r = 0; r < RG_REGIONS; r++) {
		char *text = tu_read_file(acked[r], NULL), *line, *save = NULL;
		double *lat = NULL;
		size_t n = 0, cap = 0;

		for (line = text ? strtok_r(text, "\n", &save) : NULL; line != NULL; line = strtok_r(NULL, "\n", &save)) {
			long long sent, accepted;

			if (sscanf(line, "%*s %*s %lld %lld", &sent, &accepted) != 2)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 4096;
				lat = realloc(lat, cap * sizeof *lat);
				assert_non_null(lat);
			}
			lat[n++] = (double)(accepted - sent);
			if (n_all == cap_all) {
				cap_all = cap_all ? cap_all * 2 : 4096;
				all = realloc(all, cap_all * sizeof *all);
				assert_non_null(all);
			}
			all[n_all++] = accepted;
			first_sent = sent < first_sent ? sent : first_sent;
			last_accepted = accepted > last_accepted ? accepted : last_accepted;
			if (res->struck_ms > 0 && sent > res->struck_ms && accepted < first_after)
				first_after = accepted;
		}
		qsort(lat, n, sizeof *lat, cmp_double);
		res->p50_ms[r] = n ? lat[(n - 1) / 2] : 0;
		res->p99_ms[r] = n ? lat[(size_t)((double)(n - 1) * 0.99)] : 0;
		free(lat);
		free(text);
	}
	res->seconds = last_accepted > first_sent ? (double)(last_accepted - first_sent) / 1000.0 : 0;
	res->rate = res->seconds > 0 ? (double)res->check.acknowledged / res->seconds : 0;
	res->first_sent_after_s = first_after != INT64_MAX ? (double)(first_after - res->struck_ms) / 1000.0 : -1;
	res->resumed_s = res->struck_ms > 0 ? resumed_after(all, n_all, res->struck_ms) : -1;
	free(all);
}

void fx_run(struct rg_world *w, const struct fx_nemesis *n, long messages, int connections, struct fx_result *res)
{
	char *acked[RG_REGIONS], *logs[RG_REGIONS];
	pid_t pids[RG_REGIONS];
	int64_t deadline;

	memset(res, 0, sizeof *res);
	res->nemesis = n != NULL ? n->name : "none";
	res->messages = messages * RG_REGIONS;
	{
		int64_t t0 = time_wall_ms();

		rg_deploy(w);
		printf("faults: %s: deployed in %.1f s\n", res->nemesis, (double)(time_wall_ms() - t0) / 1000.0);
	}
	for (int r = 0; r < RG_REGIONS; r++) {
		if (asprintf(&acked[r], "%s/run%d-acked-%s", w->dir, w->deployments, w->regions[r].name) < 0 ||
		    asprintf(&logs[r], "%s/run%d-load-%s.log", w->dir, w->deployments, w->regions[r].name) < 0)
			fail_msg("asprintf");
		pids[r] = rg_load_start(w, r, messages, connections, acked[r], logs[r]);
	}
	if (n != NULL) {
		/* Strike once a quarter of the messages were acknowledged. */
		for (;;) {
			long done = 0;
			bool running = false;

			for (int r = 0; r < RG_REGIONS; r++) {
				done += count_lines(acked[r]);
				running = running || kill(pids[r], 0) == 0;
			}
			if (done >= res->messages / 4 || !running)
				break;
			time_sleep_ms(100);
		}
		n->act(w, &res->struck_ms);
	}
	deadline = time_wall_ms() + LOAD_TIMEOUT_MS;
	for (int r = 0; r < RG_REGIONS; r++) {
		int64_t left = deadline - time_wall_ms();

		res->load_status[r] = tu_wait_exit(pids[r], left > 0 ? (int)left : 0);
		if (res->load_status[r] < 0)
			fail_msg("the clients ran for more than %d minutes", LOAD_TIMEOUT_MS / 60000);
		w->loads[r] = 0;
		{
			char *log = tu_read_file(logs[r], NULL);

			if (log != NULL && (strstr(log, "Sanitizer") != NULL || strstr(log, "runtime error:") != NULL))
				fail_msg("the client in %s reported a sanitizer error:\n%s", w->regions[r].name, log);
			if (res->load_status[r] != 0)
				print_message("client in %s exited with status %d:\n%s\n", w->regions[r].name,
					      res->load_status[r], log ? log : "");
			free(log);
		}
	}
	rg_gateway_wait_ready(w, 0, 60000);
	rg_check(w, 0, (const char *const *)acked, RG_REGIONS, &res->check);
	measure((const char *const *)acked, res);
	rg_undeploy(w);
	for (int r = 0; r < RG_REGIONS; r++) {
		free(acked[r]);
		free(logs[r]);
	}
}

void fx_print(const struct fx_result *res)
{
	printf("faults: %s: acknowledged %ld of %ld, found %ld, lost %ld, duplicated %ld (stored %ld)\n", res->nemesis,
	       res->check.acknowledged, res->messages, res->check.found, res->check.lost, res->check.duplicated,
	       res->check.stored);
	if (res->check.lost > 0)
		printf("faults: %s: lost (first few): %s\n", res->nemesis, res->check.first_lost);
	printf("faults: %s: %.1f s, %.0f messages/s; accept latency p50/p99 ms: us-east %.0f/%.0f, eu-west %.0f/%.0f,"
	       " ap-south %.0f/%.0f",
	       res->nemesis, res->seconds, res->rate, res->p50_ms[0], res->p99_ms[0], res->p50_ms[1], res->p99_ms[1],
	       res->p50_ms[2], res->p99_ms[2]);
	if (res->struck_ms > 0 && res->resumed_s >= 0)
		printf("; writes resumed %.2f s after the fault", res->resumed_s);
	if (res->struck_ms > 0 && res->first_sent_after_s >= 0)
		printf(" (a message sent after it: %.2f s)", res->first_sent_after_s);
	printf("\n");
	fflush(stdout);
}
