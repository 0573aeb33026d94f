/* server: see server.h.
 *
 * The identity file (pat-node.info) records the id and address a data directory was first
 * started with. dqlite itself would start a directory under another id and corrupt the
 * cluster's view of its members; refusing at start is the cheap way to make that mistake
 * impossible. The lock (flock on pat-node.lock) keeps two processes off one directory. */
#include "node/server.h"
#include "node/store.h"

#include <dqlite.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#define INFO_FILE "pat-node.info"
#define LOCK_FILE "pat-node.lock"

/* How long a connection to another node may take to open. */
#define PEER_CONNECT_MS 5000

/* One socket to ai, connected within PEER_CONNECT_MS; -1 on failure. */
static int connect_one(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0, one = 1;
	socklen_t elen = sizeof err;

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		struct pollfd p = { fd, POLLOUT, 0 };

		if (errno != EINPROGRESS || poll(&p, 1, PEER_CONNECT_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
			close(fd);
			return -1;
		}
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* dqlite's connections to the other nodes (Raft's messages: entries to the followers, their
 * answers, votes), opened here rather than by dqlite 1.11's own function, which leaves Nagle's
 * algorithm on: a message that ends in a short segment then waits, whenever the segment
 * before it is not acknowledged yet, for the peer's delayed ACK, up to 40 ms. Measured with a
 * 3-node cluster and one SMTP connection sending 20 KiB messages: every sixth message or so
 * took 40 ms more, 53 messages/s in all; with TCP_NODELAY: see docs/BENCHMARKS.md. Runs on
 * one of libuv's threads, so it may block (up to PEER_CONNECT_MS, where dqlite's own waits as
 * long as the kernel retries). */
static int connect_peer(void *arg, const char *address, int *fd)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
	struct addr_hostport hp;
	char port[8];

	(void)arg;
	*fd = -1;
	if (addr_parse(address, false, &hp, NULL) != PAT_OK)
		return DQLITE_ERROR;
	snprintf(port, sizeof port, "%u", hp.port);
	if (getaddrinfo(hp.host, port, &hints, &res) != 0)
		return DQLITE_ERROR;
	for (const struct addrinfo *ai = res; ai != NULL && *fd < 0; ai = ai->ai_next)
		*fd = connect_one(ai);
	freeaddrinfo(res);
	return *fd >= 0 ? 0 : DQLITE_ERROR;
}

uint64_t node_region_code(const char *region)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)region; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int mkdir_p(const char *path, struct pat_err *err)
{
	char *copy = mem_strdup(path);
	int rv = PAT_OK;

	if (copy == NULL)
		return err_set(err, PAT_ENOMEM, "out of memory");
	for (char *p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
			rv = err_set_errno(err, PAT_EIO, errno, "cannot create %s", copy);
			goto out;
		}
		*p = '/';
	}
	if (mkdir(copy, 0700) != 0 && errno != EEXIST)
		rv = err_set_errno(err, PAT_EIO, errno, "cannot create %s", copy);
out:
	mem_free(copy);
	return rv;
}

/* Read the identity file: PAT_OK with *found false when there is none. */
static int read_identity(const char *dir, uint64_t *id, char *address, size_t n, bool *found,
			 struct pat_err *err)
{
	char path[4096], line[512];
	unsigned long long v;
	FILE *f;

	*found = false;
	snprintf(path, sizeof path, "%s/%s", dir, INFO_FILE);
	f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return PAT_OK;
		return err_set_errno(err, PAT_EIO, errno, "cannot read %s", path);
	}
	address[0] = '\0';
	*id = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		str_trim(line);
		if (sscanf(line, "id=%llu", &v) == 1)
			*id = v;
		else if (str_has_prefix(line, "address="))
			str_copy(address, line + 8, n);
	}
	fclose(f);
	if (*id == 0 || address[0] == '\0')
		return err_set(err, PAT_EINVAL, "%s is damaged: expected id= and address= lines", path);
	*found = true;
	return PAT_OK;
}

static int write_identity(const char *dir, uint64_t id, const char *address, struct pat_err *err)
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, INFO_FILE);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return err_set_errno(err, PAT_EIO, errno, "cannot write %s", tmp);
	fprintf(f, "# written by pat node on its first start; do not edit\nid=%llu\naddress=%s\n",
		(unsigned long long)id, address);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		int e = errno;

		fclose(f);
		return err_set_errno(err, PAT_EIO, e, "cannot write %s", tmp);
	}
	fclose(f);
	if (rename(tmp, path) != 0)
		return err_set_errno(err, PAT_EIO, errno, "cannot rename %s", tmp);
	return PAT_OK;
}

static int lock_dir(struct node_server *s, const char *dir, struct pat_err *err)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return err_set_errno(err, PAT_EIO, errno, "cannot open %s", path);
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;

		close(s->lock_fd);
		s->lock_fd = -1;
		if (e == EWOULDBLOCK)
			return err_set(err, PAT_EBUSY, "data directory %s is in use by another pat node", dir);
		return err_set_errno(err, PAT_EIO, e, "cannot lock %s", path);
	}
	return PAT_OK;
}

/* Free what a node holds (a dqlite node that never started is destroyed here) and unlock. */
static void release(struct node_server *s)
{
	if (s->dq != NULL)
		dqlite_node_destroy((dqlite_node *)s->dq);
	s->dq = NULL;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	mem_free(s->address);
	s->address = NULL;
}

int node_server_start(struct node_server *s, const struct node_options *o, struct pat_err *err)
{
	char stored_address[256];
	uint64_t stored_id;
	bool found;
	int rv;

	memset(s, 0, sizeof *s);
	s->lock_fd = -1;
	s->id = o->id;
	if ((rv = mkdir_p(o->data_dir, err)) != PAT_OK)
		return rv;
	if ((rv = lock_dir(s, o->data_dir, err)) != PAT_OK)
		return rv;
	if ((rv = read_identity(o->data_dir, &stored_id, stored_address, sizeof stored_address, &found, err)) != PAT_OK)
		goto fail;
	if (found && stored_id != o->id) {
		rv = err_set(err, PAT_EINVAL, "data directory %s belongs to node %llu, not node %llu",
			     o->data_dir, (unsigned long long)stored_id, (unsigned long long)o->id);
		goto fail;
	}
	if (found && strcmp(stored_address, o->address) != 0) {
		rv = err_set(err, PAT_EINVAL,
			     "node %llu was started with address %s; it cannot change to %s (remove the node from the cluster and add it again under the new address)",
			     (unsigned long long)o->id, stored_address, o->address);
		goto fail;
	}
	s->fresh = !found;
	if (s->fresh && o->id == NODE_BOOTSTRAP_ID && o->joining) {
		rv = err_set(err, PAT_EINVAL,
			     "node 1 bootstraps a new cluster; a node that joins an existing one needs another id");
		goto fail;
	}
	if (s->fresh && o->id != NODE_BOOTSTRAP_ID && !o->joining) {
		rv = err_set(err, PAT_EINVAL,
			     "node %llu has no cluster to join: set [node] join to the addresses of existing members (only node 1 bootstraps a new cluster)",
			     (unsigned long long)o->id);
		goto fail;
	}
	s->address = mem_strdup(o->address);
	if (s->address == NULL) {
		rv = err_set(err, PAT_ENOMEM, "out of memory");
		goto fail;
	}
	/* The schema's SQL functions, before dqlite opens a connection (node/store.c). */
	if ((rv = store_register_sql(err)) != PAT_OK)
		goto fail;
	rv = dqlite_node_create(o->id, o->address, o->data_dir, (dqlite_node **)&s->dq);
	if (rv != 0) {
		rv = err_set(err, PAT_EIO, "cannot create the dqlite node: %s",
			     s->dq != NULL ? dqlite_node_errmsg((dqlite_node *)s->dq) : "out of memory");
		goto fail;
	}
	if (dqlite_node_set_bind_address((dqlite_node *)s->dq, o->address) != 0 ||
	    dqlite_node_set_connect_func((dqlite_node *)s->dq, connect_peer, NULL) != 0 ||
	    dqlite_node_set_failure_domain((dqlite_node *)s->dq, node_region_code(o->region)) != 0 ||
	    (o->network_latency_ms > 0 &&
	     dqlite_node_set_network_latency_ms((dqlite_node *)s->dq, o->network_latency_ms) != 0) ||
	    (o->snapshot_threshold > 0 && o->snapshot_trailing > 0 &&
	     dqlite_node_set_snapshot_params((dqlite_node *)s->dq, o->snapshot_threshold, o->snapshot_trailing) != 0)) {
		rv = err_set(err, PAT_EINVAL, "cannot configure the dqlite node at %s: %s", o->address,
			     dqlite_node_errmsg((dqlite_node *)s->dq));
		goto fail;
	}
	if (dqlite_node_start((dqlite_node *)s->dq) != 0) {
		rv = err_set(err, PAT_EIO, "cannot start the dqlite node at %s: %s", o->address,
			     dqlite_node_errmsg((dqlite_node *)s->dq));
		goto fail;
	}
	if (s->fresh && (rv = write_identity(o->data_dir, o->id, o->address, err)) != PAT_OK) {
		dqlite_node_stop((dqlite_node *)s->dq);
		goto fail;
	}
	log_info("node started", "id=%llu address=%s data_dir=%s region=%s fresh=%s",
		 (unsigned long long)o->id, o->address, o->data_dir, o->region, s->fresh ? "true" : "false");
	return PAT_OK;
fail:
	release(s);
	return rv;
}

void node_server_stop(struct node_server *s)
{
	if (s->dq != NULL) {
		if (dqlite_node_stop((dqlite_node *)s->dq) != 0)
			log_error("node stop failed", "id=%llu error=%s", (unsigned long long)s->id,
				  dqlite_node_errmsg((dqlite_node *)s->dq));
		dqlite_node_destroy((dqlite_node *)s->dq);
		log_info("node stopped", "id=%llu", (unsigned long long)s->id);
		s->dq = NULL;
	}
	release(s);
}

unsigned node_suggest_network_latency_ms(int64_t largest_rtt_us)
{
	int64_t ms = (largest_rtt_us + 3999) / 4000; /* a quarter, in ms, rounded up */

	ms = (ms + 4) / 5 * 5;
	if (ms < NODE_LATENCY_FLOOR_MS)
		ms = NODE_LATENCY_FLOOR_MS;
	return ms > 3600 * 1000 ? 3600 * 1000 : (unsigned)ms;
}
