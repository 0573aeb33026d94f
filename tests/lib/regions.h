/* regions: Pat's example three-region deployment (deploy/examples) on one machine, for fault
 * tests. Each region (us-east, eu-west, ap-south) is a network namespace holding two `pat node`
 * and one `pat gateway` at the examples' addresses (10.0.R.11 and .12, gateway .21, R = 1, 2,
 * 3); a fourth namespace, the wan, routes between them, and `pat netsim` in transparent mode
 * (iptables REDIRECT by source and destination subnet) adds each link's one-way latency. A test
 * kills, pauses and restarts processes, cuts a region off (iptables in the wan) and reads the
 * mail back through a gateway's API. Namespaces and interfaces carry the test's pid, so runs
 * in parallel never meet; rg_destroy() kills every process by pid and deletes the namespaces
 * (and with them every address, route and iptables rule). Needs root. */
#ifndef PAT_TESTS_REGIONS_H
#define PAT_TESTS_REGIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RG_REGIONS 3
#define RG_NODES (RG_REGIONS * 2)

/* One process the world started. */
struct rg_proc {
	pid_t pid;    /* 0 when not running */
	bool paused;  /* stopped with SIGSTOP */
	char *log;    /* its stdout and stderr */
};

struct rg_region {
	const char *name;      /* "us-east": the examples' file names */
	int subnet;            /* R in 10.0.R.0/24 */
	char netns[48];        /* "pat<pid>-<name>" */
	char smtp[32];         /* the gateway's SMTP address, "10.0.R.21:1025" */
	struct rg_proc gateway;
	bool cut_off;          /* partitioned from the other regions */
};

struct rg_world {
	char *dir;                        /* scratch: data directories and logs, removed at the end */
	char wan[48];                     /* the wan namespace */
	struct rg_region regions[RG_REGIONS];
	struct rg_proc nodes[RG_NODES];   /* node id i + 1, in region i / 2 (as the examples) */
	char *data[RG_NODES];             /* their data directories (this deployment's) */
	struct rg_proc netsim[2];         /* the links between us-east and eu-west, and to ap-south */
	pid_t loads[RG_REGIONS];          /* clients started by rg_load_start() and not yet reaped */
	int near_ms, far_ms;              /* their one-way latencies */
	char network_latency[16];         /* [cluster] network_latency of every node */
	int deployments;                  /* started so far: each gets fresh data directories */
	bool created;                     /* the namespaces exist */
};

/* [cluster] voters of the examples (deploy/examples). */
#define RG_VOTERS 5

/* Latencies of the simulated WAN, one way: us-east <-> eu-west, and either to ap-south. */
#define RG_NEAR_MS 40
#define RG_FAR_MS 90
/* [cluster] network_latency for that WAN, as `pat cluster rtt` suggests and the examples set:
 * a quarter of the largest round trip (180 ms).
 * $PAT_FAULTS_NETWORK_LATENCY overrides it (to measure another). */
#define RG_NETWORK_LATENCY "45ms"

/* Make the namespaces, links, routes and netsim processes. false, with the reason in why, when
 * this machine cannot (not root, no network namespaces, no iptables): the caller skips. */
bool rg_create(struct rg_world *w, char *why, size_t n);
/* Kill everything (by pid), delete the namespaces and the scratch directory. Safe to call on
 * a world that was never created, and twice. */
void rg_destroy(struct rg_world *w);

/* Start a fresh deployment: the six nodes (node 1 bootstraps, the others join), then the
 * gateways; returns once every member is online, three are voters and every gateway's /readyz
 * answers 200. */
void rg_deploy(struct rg_world *w);
/* Kill the deployment's processes and clients and heal every partition (the namespaces
 * stay). A test's teardown calls it, so that a failed run leaves nothing for the next. */
void rg_undeploy(struct rg_world *w);

/* Index of the node that leads (0 .. RG_NODES-1), as a live region's `pat cluster status` sees
 * it; -1 when there is none. */
int rg_leader(struct rg_world *w);
/* Start node i on its data directory (again after a kill); waits until it listens. */
void rg_node_start(struct rg_world *w, int i);
/* Stop node i with sig (SIGKILL: a crash) and wait for it. */
void rg_node_stop(struct rg_world *w, int i, int sig);
/* SIGSTOP (paused) or SIGCONT node i. */
void rg_node_pause(struct rg_world *w, int i, bool paused);
/* Kill (-9) or start again every process of region r. */
void rg_region_kill(struct rg_world *w, int r);
void rg_region_start(struct rg_world *w, int r);
/* Cut region r off from the others (iptables DROP in the wan), or heal it. */
void rg_cut_off(struct rg_world *w, int r, bool cut);
/* Wait until region r's gateway answers /readyz with 200. */
void rg_gateway_wait_ready(struct rg_world *w, int r, int timeout_ms);

/* Start `pat load --retry ... --acked acked` in region r against its gateway; its pid is
 * also kept in w->loads[r] (whoever reaps it sets that to 0; rg_undeploy() kills it). */
pid_t rg_load_start(struct rg_world *w, int r, long messages, int connections, const char *acked, const char *log);
/* Run argv to completion inside region r (as tu_run). */
struct tu_proc;
void rg_run(struct rg_world *w, int r, struct tu_proc *p, const char *const *argv);

/* What the checker found: every acknowledged message looked up among those stored. */
struct rg_check {
	long acknowledged; /* lines of the --acked files */
	long found;        /* acknowledged and stored under their queue id with their Message-ID */
	long lost;         /* acknowledged and not found */
	long stored;       /* messages the API lists */
	long duplicated;   /* Message-IDs stored more than once */
	char first_lost[256]; /* a few lost queue ids, for the failure message */
};

/* Read every message back through region r's gateway (GET /api/v3/messages, page by page)
 * and compare with the --acked files. */
void rg_check(struct rg_world *w, int r, const char *const *acked_files, size_t n, struct rg_check *c);

#endif
