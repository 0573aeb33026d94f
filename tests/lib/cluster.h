/* cluster: a Pat cluster for integration tests: `pat node` processes on loopback, each with
 * its own data directory, port and region, that a test starts, kills and restarts. */
#ifndef PAT_TESTS_CLUSTER_H
#define PAT_TESTS_CLUSTER_H

#include <stdbool.h>
#include <sys/types.h>

#define TC_MAX_NODES 9

struct tc_node {
	int id;             /* node id (1 bootstraps) */
	int port;           /* 127.0.0.1:port */
	char address[32];   /* "127.0.0.1:port" */
	char region[32];    /* region name */
	char *data_dir;     /* under the cluster's directory */
	char *log;          /* the node's stdout and stderr */
	pid_t pid;          /* 0 when not running */
};

struct tc_cluster {
	char *dir;                     /* scratch directory of the whole cluster */
	int n;                         /* nodes */
	struct tc_node nodes[TC_MAX_NODES];
	char seeds[TC_MAX_NODES * 24]; /* "addr,addr,..." of every node */
};

/* Prepare n nodes (not started); regions[i] (may be NULL: all "local"). */
void tc_init(struct tc_cluster *c, int n, const char *const *regions);
/* Start node i (0-based) with `pat node`; node 0 bootstraps, the others join through node 0
 * and every node started before them. extra: NULL or more "--set k=v" style arguments.
 * Waits until its port accepts connections. */
void tc_start(struct tc_cluster *c, int i, const char *const *extra);
/* Stop node i with sig (SIGTERM: clean; SIGKILL: crash) and return its exit status. */
int tc_stop(struct tc_cluster *c, int i, int sig);
/* Stop everything (SIGKILL) and remove the directory. */
void tc_close(struct tc_cluster *c);
/* The node's log, for failure messages (caller frees). */
char *tc_log(const struct tc_cluster *c, int i);

#endif
