/* bench_ingest: SMTP ingest of Pat beside its peers, all measured in the same run on this
 * machine: postfix's smtp-sink (accepts and discards: the ceiling any SMTP server can reach
 * here), maildev (npm; keeps mail in memory and on disk, no replication), `pat serve` (one
 * node: every 250 after a commit) and a 3-node cluster behind `pat gateway` (every 250 after
 * a commit on a majority).
 *
 * For 1 KiB and 20 KiB messages over 1 and 16 connections it reports:
 *   - messages/s as postfix's smtp-source (-d: persistent connections) sends them, and the
 *     ratio to smtp-sink's rate in the same case;
 *   - the accept latency (final dot of DATA -> 250), p50 and p99, as `pat load` measures it;
 * and then the resident memory of each server after 100,000 messages of 1 KiB.
 *
 * Run with `make bench` (which installs postfix and npm first). The peers come from
 * tests/bench/peers (package-lock.json, installed with npm ci into the build directory). */
#include "tests/lib/testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/timeutil.h"
#include "tests/lib/cluster.h"

#define SMTP_SOURCE "/usr/sbin/smtp-source"
#define SMTP_SINK "/usr/sbin/smtp-sink"
#define RSS_MESSAGES 100000

enum { SINK, MAILDEV, PAT_SERVE, PAT_CLUSTER, N_TARGETS };
static const char *const target_names[N_TARGETS] = { "smtp-sink", "maildev", "pat serve", "pat 3 nodes" };

struct target {
	pid_t pid;            /* the SMTP server's process */
	int port;
	struct tc_cluster cluster; /* PAT_CLUSTER only */
	bool started;
};

static char *scratch, *peers;

static void die(const char *what)
{
	fprintf(stderr, "bench_ingest: %s\n", what);
	exit(1);
}

/* maildev from the lockfile, installed once into the build directory. */
static void install_peers(void)
{
	char cmd[8192];

	if (asprintf(&peers, "%s/bench-peers", getenv("PAT_BUILD_DIR") ? getenv("PAT_BUILD_DIR") : "build") < 0)
		die("out of memory");
	snprintf(cmd, sizeof cmd,
		 "mkdir -p '%s' && cp '%s/tests/bench/peers/package.json' '%s/tests/bench/peers/package-lock.json' '%s'/ &&"
		 " cd '%s' && { [ -x node_modules/.bin/maildev ] && cmp -s package-lock.json node_modules/.package-lock.stamp ||"
		 " { npm ci --no-audit --no-fund --loglevel=error >/dev/null && cp package-lock.json node_modules/.package-lock.stamp; }; }",
		 peers, tu_source_dir(), tu_source_dir(), peers, peers);
	if (system(cmd) != 0)
		die("cannot install the peers with npm ci (tests/bench/peers)");
}

static void start(int which, struct target *t)
{
	char port[16], log[4200], data[4200], node[64];

	memset(t, 0, sizeof *t);
	t->port = tu_free_port();
	snprintf(port, sizeof port, "%d", t->port);
	snprintf(log, sizeof log, "%s/%d.log", scratch, which);
	switch (which) {
	case SINK: {
		char listen[32];
		const char *argv[] = { SMTP_SINK, "-u", "nobody", listen, "1000", NULL };

		snprintf(listen, sizeof listen, "127.0.0.1:%d", t->port);
		t->pid = tu_spawn(argv, NULL, log);
		break;
	}
	case MAILDEV: {
		char bin[4200], web[16];
		const char *argv[] = { bin, "--smtp", port, "--web", web, "--ip", "127.0.0.1", "--silent", NULL };

		snprintf(bin, sizeof bin, "%s/node_modules/.bin/maildev", peers);
		snprintf(web, sizeof web, "%d", tu_free_port());
		t->pid = tu_spawn(argv, NULL, log);
		break;
	}
	case PAT_SERVE: {
		char listen[32], http[64];
		const char *argv[] = { tu_pat_bin(), "serve", "--data", data, "--smtp", listen, "--set", node,
				       "--set", http, "--log-level", "warn", NULL };

		snprintf(listen, sizeof listen, "127.0.0.1:%d", t->port);
		snprintf(data, sizeof data, "%s/serve-data-%d", scratch, t->port);
		snprintf(node, sizeof node, "node.address=127.0.0.1:%d", tu_free_port());
		snprintf(http, sizeof http, "http.listen=127.0.0.1:%d", tu_free_port());
		t->pid = tu_spawn(argv, NULL, log);
		break;
	}
	case PAT_CLUSTER: {
		char listen[32], http[64];
		const char *argv[] = { tu_pat_bin(), "gateway", "--cluster", NULL, "--smtp", listen, "--set", http,
				       "--log-level", "warn", NULL };

		tc_init(&t->cluster, 3, NULL);
		for (int i = 0; i < 3; i++)
			tc_start(&t->cluster, i, NULL);
		argv[3] = t->cluster.seeds;
		snprintf(listen, sizeof listen, "127.0.0.1:%d", t->port);
		snprintf(http, sizeof http, "http.listen=127.0.0.1:%d", tu_free_port());
		t->pid = tu_spawn(argv, NULL, log);
		break;
	}
	}
	if (!tu_wait_port(t->port, 60000))
		die("a server did not start listening");
	t->started = true;
}

static void stop(int which, struct target *t)
{
	if (!t->started)
		return;
	tu_stop(t->pid, which == SINK || which == MAILDEV ? SIGKILL : SIGTERM);
	if (which == PAT_CLUSTER)
		tc_close(&t->cluster);
	t->started = false;
}

/* Resident memory in KiB of pid and, for a cluster, of its nodes too. */
static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static long target_rss(int which, struct target *t)
{
	long kib = rss_kib(t->pid);

	if (which == PAT_CLUSTER)
		for (int i = 0; i < t->cluster.n; i++)
			kib += rss_kib(t->cluster.nodes[i].pid);
	return kib;
}

/* smtp-source: messages/s (0 when it failed). */
static double run_smtp_source(int port, int conns, int messages, int size)
{
	char cmd[512];
	int64_t t0;
	int rc;

	snprintf(cmd, sizeof cmd, "%s -d -s %d -m %d -l %d -f bench@pat.test -t inbox@pat.test 127.0.0.1:%d >%s/smtp-source.out 2>&1",
		 SMTP_SOURCE, conns, messages, size, port, scratch);
	t0 = time_mono_ns();
	rc = system(cmd);
	if (rc != 0) {
		char tail[600];

		snprintf(tail, sizeof tail, "tail -3 %s/smtp-source.out >&2", scratch);
		fprintf(stderr, "bench_ingest: smtp-source failed (%d connections, %d bytes):\n", conns, size);
		if (system(tail) != 0)
			fprintf(stderr, "(no output)\n");
		return 0;
	}
	return messages / ((double)(time_mono_ns() - t0) / 1e9);
}

struct load_result {
	double rate, p50, p99;
	long accepted;
};

/* pat load --json against port. */
static bool run_pat_load(int port, int conns, int messages, int size, struct load_result *r)
{
	char cmd[1200], out[2048];
	size_t n;
	json_t *j;
	FILE *p;

	snprintf(cmd, sizeof cmd, "'%s' load --smtp 127.0.0.1:%d --connections %d --messages %d --size %d --json 2>>%s/pat-load.err",
		 tu_pat_bin(), port, conns, messages, size, scratch);
	if ((p = popen(cmd, "r")) == NULL)
		return false;
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	if ((j = json_loads(out, 0, NULL)) == NULL)
		return false;
	r->rate = json_real_value(json_object_get(j, "messages_per_second"));
	r->p50 = json_real_value(json_object_get(j, "latency_p50_ms"));
	r->p99 = json_real_value(json_object_get(j, "latency_p99_ms"));
	r->accepted = (long)json_integer_value(json_object_get(j, "accepted"));
	json_decref(j);
	return r->accepted == messages;
}

int main(void)
{
	static const int sizes[] = { 1024, 20 * 1024 };
	static const int conns[] = { 1, 16 };
	double rates[N_TARGETS][2][2];
	struct load_result lat[N_TARGETS][2][2];
	long rss[N_TARGETS];
	struct target t;

	signal(SIGPIPE, SIG_IGN);
	if (access(SMTP_SOURCE, X_OK) != 0 || access(SMTP_SINK, X_OK) != 0)
		die("postfix's smtp-source and smtp-sink are missing (deploy/install-deps.sh --with bench)");
	scratch = tu_mkdtemp();
	install_peers();
	memset(rates, 0, sizeof rates);
	memset(lat, 0, sizeof lat);
	for (int w = 0; w < N_TARGETS; w++) {
		start(w, &t);
		for (int s = 0; s < 2; s++)
			for (int c = 0; c < 2; c++) {
				int n = conns[c] == 1 ? 1000 : 5000;

				rates[w][s][c] = run_smtp_source(t.port, conns[c], n, sizes[s]);
				if (!run_pat_load(t.port, conns[c], conns[c] == 1 ? 500 : 3000, sizes[s], &lat[w][s][c]))
					fprintf(stderr, "bench_ingest: %s refused messages of pat load (%d KiB, %d connections)\n",
						target_names[w], sizes[s] / 1024, conns[c]);
			}
		stop(w, &t);
	}
	printf("SMTP ingest, postfix smtp-source -d for messages/s, pat load for accept latency (end of DATA -> 250)\n");
	printf("%-12s %6s %5s %12s %9s %10s %10s\n", "server", "size", "conns", "messages/s", "vs sink", "p50 ms", "p99 ms");
	for (int w = 0; w < N_TARGETS; w++)
		for (int s = 0; s < 2; s++)
			for (int c = 0; c < 2; c++)
				printf("%-12s %4dKiB %5d %12.0f %8.2fx %10.2f %10.2f\n", target_names[w], sizes[s] / 1024, conns[c],
				       rates[w][s][c], rates[SINK][s][c] > 0 ? rates[w][s][c] / rates[SINK][s][c] : 0.0,
				       lat[w][s][c].p50, lat[w][s][c].p99);
	printf("\nresident memory after %d messages of 1 KiB (pat load, 16 connections)\n", RSS_MESSAGES);
	for (int w = 0; w < N_TARGETS; w++) {
		struct load_result r;
		bool ok;

		start(w, &t);
		ok = run_pat_load(t.port, 16, RSS_MESSAGES, 1024, &r);
		rss[w] = target_rss(w, &t);
		stop(w, &t);
		printf("%-12s %8.1f MiB%s  (%.0f messages/s)\n", target_names[w], rss[w] / 1024.0,
		       w == PAT_CLUSTER ? " (3 nodes + gateway)" : "", ok ? r.rate : 0.0);
	}
	printf("\npat serve vs maildev at 1 KiB, 16 connections: %.2fx the messages/s\n",
	       rates[MAILDEV][0][1] > 0 ? rates[PAT_SERVE][0][1] / rates[MAILDEV][0][1] : 0.0);
	tu_rmtree(scratch);
	free(scratch);
	free(peers);
	return 0;
}
