/* cluster: see cluster.h. */
#include "tests/lib/cluster.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/testutil.h"

void tc_init(struct tc_cluster *c, int n, const char *const *regions)
{
	size_t off = 0;

	assert_true(n > 0 && n <= TC_MAX_NODES);
	memset(c, 0, sizeof *c);
	c->dir = tu_mkdtemp();
	c->n = n;
	for (int i = 0; i < n; i++) {
		struct tc_node *node = &c->nodes[i];

		node->id = i + 1;
		node->port = tu_free_port();
		snprintf(node->address, sizeof node->address, "127.0.0.1:%d", node->port);
		snprintf(node->region, sizeof node->region, "%s", regions != NULL ? regions[i] : "local");
		if (asprintf(&node->data_dir, "%s/node%d", c->dir, node->id) < 0 ||
		    asprintf(&node->log, "%s/node%d.log", c->dir, node->id) < 0)
			fail_msg("asprintf");
		off += (size_t)snprintf(c->seeds + off, sizeof c->seeds - off, "%s%s", i > 0 ? "," : "", node->address);
	}
}

void tc_start(struct tc_cluster *c, int i, const char *const *extra)
{
	struct tc_node *node = &c->nodes[i];
	char id[64], address[64], data[4200], region[64], join[sizeof c->seeds + 16];
	const char *argv[32] = { tu_pat_bin(), "node", "--log-level", "debug",
				 "--set", id, "--set", address, "--set", data, "--set", region };
	size_t n = 12;

	assert_int_equal(node->pid, 0);
	snprintf(id, sizeof id, "node.id=%d", node->id);
	snprintf(address, sizeof address, "node.address=%s", node->address);
	snprintf(data, sizeof data, "node.data_dir=%s", node->data_dir);
	snprintf(region, sizeof region, "node.region=%s", node->region);
	if (i > 0) {
		/* Every other node is a way in; a joining node tries them in turn. */
		size_t off = (size_t)snprintf(join, sizeof join, "node.join=");

		for (int j = 0; j < c->n; j++)
			if (j != i)
				off += (size_t)snprintf(join + off, sizeof join - off, "%s%s",
							off > 10 ? "," : "", c->nodes[j].address);
		argv[n++] = "--set";
		argv[n++] = join;
	}
	for (size_t k = 0; extra != NULL && extra[k] != NULL && n < 31; k++)
		argv[n++] = extra[k];
	argv[n] = NULL;
	node->pid = tu_spawn(argv, NULL, node->log);
	if (!tu_wait_port(node->port, 20000)) {
		char *log = tc_log(c, i);

		fail_msg("node %d did not open %s; its log:\n%s", node->id, node->address, log);
	}
}

int tc_stop(struct tc_cluster *c, int i, int sig)
{
	struct tc_node *node = &c->nodes[i];
	int status;

	assert_int_not_equal(node->pid, 0);
	status = tu_stop(node->pid, sig);
	node->pid = 0;
	{
		/* A sanitizer report in a node's log is a failure like any other. */
		char *log = tc_log(c, i);

		if (strstr(log, "Sanitizer") != NULL || strstr(log, "runtime error:") != NULL)
			fail_msg("node %d reported a sanitizer error:\n%s", node->id, log);
		free(log);
	}
	return status;
}

void tc_close(struct tc_cluster *c)
{
	for (int i = 0; i < c->n; i++) {
		if (c->nodes[i].pid != 0)
			tc_stop(c, i, SIGKILL);
		free(c->nodes[i].data_dir);
		free(c->nodes[i].log);
	}
	tu_rmtree(c->dir);
	free(c->dir);
	memset(c, 0, sizeof *c);
}

char *tc_log(const struct tc_cluster *c, int i)
{
	char *log = tu_read_file(c->nodes[i].log, NULL);

	return log != NULL ? log : strdup("(no log)");
}
