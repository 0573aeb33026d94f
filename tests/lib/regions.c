/* regions: see regions.h.
 *
 * The test process moves its own (single) thread into a namespace with setns() to start a
 * process there (the child inherits it), to connect to an address there, or to read a
 * gateway's API with libcurl, and back again at once: rg_enter()/rg_leave() bracket each such
 * step, so a failing assertion never leaves it elsewhere for long (rg_destroy() goes back
 * first). */
#include "tests/lib/regions.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/timeutil.h"
#include "tests/lib/testutil.h"

static const char *const region_names[RG_REGIONS] = { "us-east", "eu-west", "ap-south" };
static int self_ns = -1; /* the test's own network namespace */

static void enter(const char *netns)
{
	char path[128];
	int fd;

	if (self_ns < 0 && (self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		fail_msg("open /proc/self/ns/net: %s", strerror(errno));
	snprintf(path, sizeof path, "/run/netns/%s", netns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	if (setns(fd, CLONE_NEWNET) != 0)
		fail_msg("setns %s: %s", netns, strerror(errno));
	close(fd);
}

static void leave(void)
{
	if (self_ns >= 0 && setns(self_ns, CLONE_NEWNET) != 0)
		fail_msg("setns back: %s", strerror(errno));
}

/* Run a shell script (in the test's own namespace); its status, output in *out when asked. */
static int sh(const char *script, char **out)
{
	const char *argv[] = { "sh", "-c", script, NULL };
	struct tu_proc p;
	int status;

	tu_run(&p, argv, NULL, NULL);
	status = p.status;
	if (out != NULL && asprintf(out, "%s%s", p.out, p.err) < 0)
		fail_msg("asprintf");
	tu_proc_free(&p);
	return status;
}

static void sh_must(const char *script)
{
	char *out;

	if (sh(script, &out) != 0)
		fail_msg("failed: %s\n%s", script, out);
	free(out);
}

static char *node_name(int i)
{
	char *name;

	if (asprintf(&name, "%s-%d", region_names[i / 2], i % 2 + 1) < 0)
		fail_msg("asprintf");
	return name;
}

/* A process's log, for failure messages; checked for sanitizer reports when it stops. */
static void proc_check_log(const struct rg_proc *p, const char *what)
{
	char *log = tu_read_file(p->log, NULL);

	if (log != NULL && (strstr(log, "Sanitizer") != NULL || strstr(log, "runtime error:") != NULL))
		fail_msg("%s reported a sanitizer error:\n%s", what, log);
	free(log);
}

static void proc_stop(struct rg_proc *p, int sig, const char *what)
{
	if (p->pid == 0)
		return;
	if (p->paused)
		kill(p->pid, SIGCONT);
	tu_stop(p->pid, sig);
	p->pid = 0;
	p->paused = false;
	proc_check_log(p, what);
}

static pid_t spawn_in(const char *netns, const char *const *argv, const char *log)
{
	pid_t pid;

	enter(netns);
	pid = tu_spawn(argv, NULL, log);
	leave();
	return pid;
}

static bool tcp_open_in(const char *netns, const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd;
	bool ok;

	inet_pton(AF_INET, host, &a.sin_addr);
	enter(netns);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	leave();
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void run_quietly(const char *cmd)
{
	int status = system(cmd);

	(void)status; /* a namespace already gone is fine */
}

/* The world being run, for the last resort below. */
static struct rg_world *live;

/* At exit, whatever happened (a failure in a group setup, where cmocka runs no teardown): kill
 * what is still running, by pid, and delete the namespaces. Nothing here may fail a test. */
static void last_resort(void)
{
	char cmd[160];

	if (live == NULL || !live->created)
		return;
	for (int i = 0; i < RG_NODES; i++)
		if (live->nodes[i].pid != 0)
			kill(live->nodes[i].pid, SIGKILL);
	for (int r = 0; r < RG_REGIONS; r++) {
		if (live->regions[r].gateway.pid != 0)
			kill(live->regions[r].gateway.pid, SIGKILL);
		if (live->loads[r] != 0)
			kill(live->loads[r], SIGKILL);
		snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", live->regions[r].netns);
		run_quietly(cmd);
	}
	for (int k = 0; k < 2; k++)
		if (live->netsim[k].pid != 0)
			kill(live->netsim[k].pid, SIGKILL);
	snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", live->wan);
	run_quietly(cmd);
}

bool rg_create(struct rg_world *w, char *why, size_t n)
{
	static bool registered;

	char script[8192];
	size_t off = 0;
	char *out = NULL;
	int pid = (int)getpid();

	memset(w, 0, sizeof *w);
	if (geteuid() != 0) {
		snprintf(why, n, "needs root: network namespaces, veth links and iptables (run as root, e.g. sudo make test-faults)");
		return false;
	}
	if (access("/usr/sbin/ip", X_OK) != 0 || access("/usr/sbin/iptables", X_OK) != 0) {
		snprintf(why, n, "needs ip (iproute2) and iptables: deploy/install-deps.sh installs them");
		return false;
	}
	w->dir = tu_mkdtemp();
	chmod(w->dir, 0755);
	w->near_ms = RG_NEAR_MS;
	w->far_ms = RG_FAR_MS;
	snprintf(w->network_latency, sizeof w->network_latency, "%s",
		 getenv("PAT_FAULTS_NETWORK_LATENCY") != NULL ? getenv("PAT_FAULTS_NETWORK_LATENCY") : RG_NETWORK_LATENCY);
	snprintf(w->wan, sizeof w->wan, "pat%d-wan", pid);
	for (int r = 0; r < RG_REGIONS; r++) {
		struct rg_region *g = &w->regions[r];

		g->name = region_names[r];
		g->subnet = r + 1;
		snprintf(g->netns, sizeof g->netns, "pat%d-%s", pid, g->name);
		snprintf(g->smtp, sizeof g->smtp, "10.0.%d.21:1025", g->subnet);
		if (asprintf(&g->gateway.log, "%s/gateway-%s.log", w->dir, g->name) < 0)
			fail_msg("asprintf");
	}
	for (int i = 0; i < RG_NODES; i++) {
		char *name = node_name(i);

		if (asprintf(&w->nodes[i].log, "%s/node-%s.log", w->dir, name) < 0)
			fail_msg("asprintf");
		free(name);
	}
	for (int k = 0; k < 2; k++)
		if (asprintf(&w->netsim[k].log, "%s/netsim-%s.log", w->dir, k == 0 ? "near" : "far") < 0)
			fail_msg("asprintf");

	/* The wan forwards between the regions' subnets; each region has one veth link to it,
	 * made inside the namespaces (so no interface ever exists in the host's namespace). */
	off += (size_t)snprintf(script + off, sizeof script - off,
				"set -e\nip netns add %s\nip -n %s link set lo up\n"
				"ip netns exec %s sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'\n",
				w->wan, w->wan, w->wan);
	for (int r = 0; r < RG_REGIONS; r++) {
		const struct rg_region *g = &w->regions[r];
		int s = g->subnet;

		off += (size_t)snprintf(script + off, sizeof script - off,
					"ip netns add %s\nip -n %s link set lo up\n"
					"ip -n %s link add w%d-%d type veth peer name r%d-%d netns %s\n"
					"ip -n %s addr add 10.0.%d.1/24 dev w%d-%d\nip -n %s link set w%d-%d up\n"
					"for a in 11 12 21; do ip -n %s addr add 10.0.%d.$a/24 dev r%d-%d; done\n"
					"ip -n %s link set r%d-%d up\nip -n %s route add default via 10.0.%d.1\n",
					g->netns, g->netns, w->wan, pid, s, pid, s, g->netns, w->wan, s, pid, s, w->wan,
					pid, s, g->netns, s, pid, s, g->netns, pid, s, g->netns, s);
	}
	/* Every TCP connection between two regions is redirected to the netsim of its link. */
	for (int a = 0; a < RG_REGIONS; a++)
		for (int b = 0; b < RG_REGIONS; b++)
			if (a != b)
				off += (size_t)snprintf(script + off, sizeof script - off,
							"ip netns exec %s iptables -t nat -A PREROUTING -p tcp -s 10.0.%d.0/24 "
							"-d 10.0.%d.0/24 -j REDIRECT --to-ports %d\n",
							w->wan, a + 1, b + 1, a == 2 || b == 2 ? 7002 : 7001);
	if (sh(script, &out) != 0) {
		snprintf(why, n, "cannot make the network namespaces: %.400s", out);
		free(out);
		w->created = true;
		rg_destroy(w);
		return false;
	}
	free(out);
	w->created = true;
	live = w;
	if (!registered)
		registered = atexit(last_resort) == 0;
	for (int k = 0; k < 2; k++) {
		char listen[32], latency[64];
		const char *argv[] = { tu_pat_bin(), "netsim", "--listen", listen, "--transparent", "--profile", "custom",
				       "--set", latency, NULL };

		snprintf(listen, sizeof listen, "0.0.0.0:%d", 7001 + k);
		snprintf(latency, sizeof latency, "netsim.latency=%dms", k == 0 ? w->near_ms : w->far_ms);
		w->netsim[k].pid = spawn_in(w->wan, argv, w->netsim[k].log);
		for (int64_t end = time_mono_ms() + 20000; !tcp_open_in(w->wan, "127.0.0.1", 7001 + k);) {
			if (time_mono_ms() > end) {
				char *log = tu_read_file(w->netsim[k].log, NULL);

				fail_msg("pat netsim did not listen in %s:\n%s", w->wan, log ? log : "");
			}
			time_sleep_ms(20);
		}
	}
	return true;
}

void rg_destroy(struct rg_world *w)
{
	char script[1024];
	size_t off = 0;

	leave();
	rg_undeploy(w);
	for (int k = 0; k < 2; k++) {
		proc_stop(&w->netsim[k], SIGKILL, "pat netsim");
		free(w->netsim[k].log);
	}
	if (w->created) {
		off += (size_t)snprintf(script + off, sizeof script - off, "ip netns del %s 2>/dev/null\n", w->wan);
		for (int r = 0; r < RG_REGIONS; r++)
			off += (size_t)snprintf(script + off, sizeof script - off, "ip netns del %s 2>/dev/null\n",
						w->regions[r].netns);
		snprintf(script + off, sizeof script - off, "true\n");
		sh(script, NULL);
	}
	if (live == w)
		live = NULL;
	for (int r = 0; r < RG_REGIONS; r++)
		free(w->regions[r].gateway.log);
	for (int i = 0; i < RG_NODES; i++) {
		free(w->nodes[i].log);
		free(w->data[i]);
	}
	if (w->dir != NULL && getenv("PAT_FAULTS_KEEP") != NULL)
		printf("faults: logs and acknowledged ids kept in %s (PAT_FAULTS_KEEP)\n", w->dir);
	else if (w->dir != NULL)
		tu_rmtree(w->dir);
	free(w->dir);
	memset(w, 0, sizeof *w);
}

static struct rg_region *region_of_node(struct rg_world *w, int i)
{
	return &w->regions[i / 2];
}

void rg_node_start(struct rg_world *w, int i)
{
	char *name = node_name(i), config[4200], data[4300], latency[64], address[32];
	const char *argv[] = { tu_pat_bin(), "node", "--config", config, "--set", data, "--set", latency, NULL };
	struct rg_region *g = region_of_node(w, i);

	assert_int_equal(w->nodes[i].pid, 0);
	snprintf(config, sizeof config, "%s/deploy/examples/node-%s.conf", tu_source_dir(), name);
	snprintf(data, sizeof data, "node.data_dir=%s", w->data[i]);
	snprintf(latency, sizeof latency, "cluster.network_latency=%s", w->network_latency);
	snprintf(address, sizeof address, "10.0.%d.%d", g->subnet, 11 + i % 2);
	w->nodes[i].pid = spawn_in(g->netns, argv, w->nodes[i].log);
	for (int64_t end = time_mono_ms() + 30000; !tcp_open_in(g->netns, address, 9001);) {
		if (time_mono_ms() > end || tu_wait_exit(w->nodes[i].pid, 0) >= 0) {
			char *log = tu_read_file(w->nodes[i].log, NULL);

			fail_msg("node %s did not listen on %s:9001; its log:\n%s", name, address, log ? log : "");
		}
		time_sleep_ms(20);
	}
	free(name);
}

void rg_node_stop(struct rg_world *w, int i, int sig)
{
	char what[64], *name = node_name(i);

	snprintf(what, sizeof what, "node %s", name);
	free(name);
	proc_stop(&w->nodes[i], sig, what);
}

void rg_node_pause(struct rg_world *w, int i, bool paused)
{
	assert_int_not_equal(w->nodes[i].pid, 0);
	assert_int_equal(kill(w->nodes[i].pid, paused ? SIGSTOP : SIGCONT), 0);
	w->nodes[i].paused = paused;
}

static size_t curl_sink(char *data, size_t size, size_t n, void *arg)
{
	struct { char *data; size_t len; } *b = arg;
	char *more = realloc(b->data, b->len + size * n + 1);

	if (more == NULL)
		return 0;
	memcpy(more + b->len, data, size * n);
	b->len += size * n;
	more[b->len] = '\0';
	b->data = more;
	return size * n;
}

/* GET url from inside netns: the status (0 when it could not be reached) and the body. */
static long http_get(const char *netns, const char *url, char **body)
{
	struct { char *data; size_t len; } b = { NULL, 0 };
	CURL *c = curl_easy_init();
	long status = 0;

	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	enter(netns);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	leave();
	curl_easy_cleanup(c);
	if (body != NULL)
		*body = b.data != NULL ? b.data : strdup("");
	else
		free(b.data);
	return status;
}

void rg_gateway_wait_ready(struct rg_world *w, int r, int timeout_ms)
{
	struct rg_region *g = &w->regions[r];
	char url[64];

	snprintf(url, sizeof url, "http://10.0.%d.21:8025/readyz", g->subnet);
	for (int64_t end = time_mono_ms() + timeout_ms; http_get(g->netns, url, NULL) != 200;) {
		if (time_mono_ms() > end || tu_wait_exit(g->gateway.pid, 0) >= 0) {
			char *log = tu_read_file(g->gateway.log, NULL);

			fail_msg("gateway %s is not ready; its log:\n%s", g->name, log ? log : "");
		}
		time_sleep_ms(100);
	}
}

static void gateway_start(struct rg_world *w, int r)
{
	struct rg_region *g = &w->regions[r];
	char config[4200];
	const char *argv[] = { tu_pat_bin(), "gateway", "--config", config,
			       /* No TLS in the test: the examples' certificates are not installed here. */
			       "--set", "smtp.tls_cert_file=", "--set", "smtp.tls_key_file=",
			       "--set", "http.tls_cert_file=", "--set", "http.tls_key_file=", NULL };

	assert_int_equal(g->gateway.pid, 0);
	snprintf(config, sizeof config, "%s/deploy/examples/gateway-%s.conf", tu_source_dir(), g->name);
	g->gateway.pid = spawn_in(g->netns, argv, g->gateway.log);
	rg_gateway_wait_ready(w, r, 60000);
}

void rg_run(struct rg_world *w, int r, struct tu_proc *p, const char *const *argv)
{
	enter(w->regions[r].netns);
	tu_run(p, argv, NULL, NULL);
	leave();
}

/* `pat cluster status --json` from a region that can reach the cluster: the document, or NULL. */
static json_t *cluster_status(struct rg_world *w)
{
	static const char seeds[] = "10.0.1.11:9001,10.0.1.12:9001,10.0.2.11:9001,10.0.2.12:9001,"
				    "10.0.3.11:9001,10.0.3.12:9001";
	const char *argv[] = { tu_pat_bin(), "cluster", "status", "--json", "--cluster", seeds, NULL };

	for (int r = 0; r < RG_REGIONS; r++) {
		struct tu_proc p;
		json_t *doc = NULL;
		bool alive = false;

		for (int i = 2 * r; i < 2 * r + 2; i++)
			alive = alive || (w->nodes[i].pid != 0 && !w->nodes[i].paused);
		if (w->regions[r].cut_off || !alive)
			continue;
		rg_run(w, r, &p, argv);
		if (p.status == 0)
			doc = json_loads(p.out, 0, NULL);
		tu_proc_free(&p);
		if (doc != NULL)
			return doc;
	}
	return NULL;
}

int rg_leader(struct rg_world *w)
{
	json_t *doc = cluster_status(w);
	json_int_t id = doc != NULL ? json_integer_value(json_object_get(json_object_get(doc, "leader"), "id")) : 0;

	json_decref(doc);
	return id >= 1 && id <= RG_NODES ? (int)id - 1 : -1;
}

/* Every node a member and online, the examples' five voters and a leader. */
static bool cluster_settled(struct rg_world *w)
{
	json_t *doc = cluster_status(w), *m;
	size_t k;
	int online = 0, voters = 0;
	bool led;

	if (doc == NULL)
		return false;
	led = json_integer_value(json_object_get(json_object_get(doc, "leader"), "id")) > 0;
	json_array_foreach(json_object_get(doc, "members"), k, m) {
		online += json_is_true(json_object_get(m, "online"));
		voters += strcmp(json_string_value(json_object_get(m, "role")) ?: "", "voter") == 0;
	}
	json_decref(doc);
	return led && online == RG_NODES && voters == RG_VOTERS;
}

void rg_deploy(struct rg_world *w)
{
	char run[4200];

	w->deployments++;
	snprintf(run, sizeof run, "%s/run%d", w->dir, w->deployments);
	mkdir(run, 0755);
	for (int i = 0; i < RG_NODES; i++) {
		char *name = node_name(i);

		free(w->data[i]);
		if (asprintf(&w->data[i], "%s/%s", run, name) < 0)
			fail_msg("asprintf");
		free(name);
		rg_node_start(w, i);
	}
	for (int64_t end = time_mono_ms() + 120000; !cluster_settled(w);) {
		if (time_mono_ms() > end) {
			char *log = tu_read_file(w->nodes[0].log, NULL);

			fail_msg("the cluster did not settle (6 online members, %d voters) in 120 s; node 1's log:\n%s", RG_VOTERS,
				 log ? log : "");
		}
		time_sleep_ms(250);
	}
	for (int r = 0; r < RG_REGIONS; r++)
		gateway_start(w, r);
}

void rg_undeploy(struct rg_world *w)
{
	for (int r = 0; r < RG_REGIONS; r++) {
		if (w->loads[r] != 0)
			tu_stop(w->loads[r], SIGKILL);
		w->loads[r] = 0;
		proc_stop(&w->regions[r].gateway, SIGKILL, "a gateway");
		if (w->regions[r].cut_off)
			rg_cut_off(w, r, false);
	}
	for (int i = 0; i < RG_NODES; i++)
		if (w->nodes[i].pid != 0)
			rg_node_stop(w, i, SIGKILL);
}

void rg_region_kill(struct rg_world *w, int r)
{
	proc_stop(&w->regions[r].gateway, SIGKILL, "a gateway");
	for (int i = 2 * r; i < 2 * r + 2; i++)
		rg_node_stop(w, i, SIGKILL);
}

void rg_region_start(struct rg_world *w, int r)
{
	for (int i = 2 * r; i < 2 * r + 2; i++)
		rg_node_start(w, i);
	gateway_start(w, r);
}

void rg_cut_off(struct rg_world *w, int r, bool cut)
{
	char script[1024];
	const char *op = cut ? "-I" : "-D";
	int s = w->regions[r].subnet;

	/* INPUT and OUTPUT: the netsim processes carry the cross-region connections; FORWARD:
	 * anything routed past them. */
	snprintf(script, sizeof script,
		 "set -e\nip netns exec %s sh -c 'iptables %s INPUT -s 10.0.%d.0/24 -j DROP && "
		 "iptables %s OUTPUT -d 10.0.%d.0/24 -j DROP && iptables %s FORWARD -s 10.0.%d.0/24 -j DROP && "
		 "iptables %s FORWARD -d 10.0.%d.0/24 -j DROP'\n",
		 w->wan, op, s, op, s, op, s, op, s);
	sh_must(script);
	w->regions[r].cut_off = cut;
}

pid_t rg_load_start(struct rg_world *w, int r, long messages, int connections, const char *acked, const char *log)
{
	char n_messages[32], n_connections[32];
	const char *argv[] = { tu_pat_bin(), "load", "--smtp", w->regions[r].smtp, "--messages", n_messages,
			       "--connections", n_connections, "--retry", "180s", "--acked", acked, "--json", NULL };

	snprintf(n_messages, sizeof n_messages, "%ld", messages);
	snprintf(n_connections, sizeof n_connections, "%d", connections);
	assert_int_equal(w->loads[r], 0);
	return w->loads[r] = spawn_in(w->regions[r].netns, argv, log);
}

/* One message: an id and a Message-ID. */
struct entry {
	char id[32];
	char msgid[96];
};

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->id, ((const struct entry *)b)->id);
}

static int by_msgid(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->msgid, ((const struct entry *)b)->msgid);
}

static void entries_add(struct entry **e, size_t *n, size_t *cap, const char *id, const char *msgid)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		*e = realloc(*e, *cap * sizeof **e);
		assert_non_null(*e);
	}
	snprintf((*e)[*n].id, sizeof (*e)[*n].id, "%s", id);
	snprintf((*e)[*n].msgid, sizeof (*e)[*n].msgid, "%s", msgid);
	(*n)++;
}

void rg_check(struct rg_world *w, int r, const char *const *acked_files, size_t n, struct rg_check *c)
{
	struct rg_region *g = &w->regions[r];
	struct entry *stored = NULL, *acked = NULL;
	size_t n_stored = 0, cap_stored = 0, n_acked = 0, cap_acked = 0, off = 0;
	char before[32] = "";

	memset(c, 0, sizeof *c);
	for (;;) {
		char url[160], *body;
		json_t *doc, *list, *m, *next;
		size_t k;
		long status;

		snprintf(url, sizeof url, "http://10.0.%d.21:8025/api/v3/messages?limit=1000%s%s", g->subnet,
			 before[0] ? "&before=" : "", before);
		status = http_get(g->netns, url, &body);
		if (status != 200)
			fail_msg("GET %s answered %ld: %s", url, status, body);
		doc = json_loads(body, 0, NULL);
		if (doc == NULL)
			fail_msg("GET %s: not JSON: %.200s", url, body);
		free(body);
		list = json_object_get(doc, "messages");
		json_array_foreach(list, k, m)
			entries_add(&stored, &n_stored, &cap_stored, json_string_value(json_object_get(m, "ID")) ?: "",
				    json_string_value(json_object_get(m, "MessageID")) ?: "");
		next = json_object_get(doc, "next");
		if (!json_is_string(next)) {
			json_decref(doc);
			break;
		}
		snprintf(before, sizeof before, "%s", json_string_value(next));
		json_decref(doc);
	}
	for (size_t f = 0; f < n; f++) {
		char *text = tu_read_file(acked_files[f], NULL), *line, *save = NULL;

		if (text == NULL)
			continue;
		for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
			char id[32], msgid[96];

			if (sscanf(line, "%31s %95s", id, msgid) == 2)
				entries_add(&acked, &n_acked, &cap_acked, id, msgid);
		}
		free(text);
	}
	c->stored = (long)n_stored;
	c->acknowledged = (long)n_acked;
	qsort(stored, n_stored, sizeof *stored, by_id);
	for (size_t i = 0; i < n_acked; i++) {
		const struct entry *s = n_stored ? bsearch(&acked[i], stored, n_stored, sizeof *stored, by_id) : NULL;

		if (s != NULL && strcmp(s->msgid, acked[i].msgid) == 0) {
			c->found++;
			continue;
		}
		c->lost++;
		if (off + 40 < sizeof c->first_lost)
			off += (size_t)snprintf(c->first_lost + off, sizeof c->first_lost - off, "%s%s", off ? " " : "",
						acked[i].id);
	}
	qsort(stored, n_stored, sizeof *stored, by_msgid);
	for (size_t i = 1; i < n_stored; i++)
		if (strcmp(stored[i].msgid, stored[i - 1].msgid) == 0 &&
		    (i == 1 || strcmp(stored[i - 1].msgid, stored[i - 2].msgid) != 0))
			c->duplicated++;
	free(stored);
	free(acked);
}
