/* leader: see leader.h. */
#include "consensus/leader.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/addr.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"

static int add_seed(const struct addr_hostport *a, void *data)
{
	struct dq_leader *l = data;
	char text[ADDR_HOST_MAX + 16];

	if (l->n_seeds >= DQ_MAX_SEEDS)
		return PAT_ELIMIT;
	if (a->ipv6)
		snprintf(text, sizeof text, "[%s]:%u", a->host, a->port);
	else
		snprintf(text, sizeof text, "%s:%u", a->host, a->port);
	l->seeds[l->n_seeds] = mem_strdup(text);
	if (l->seeds[l->n_seeds] == NULL)
		return PAT_ENOMEM;
	l->n_seeds++;
	return PAT_OK;
}

int dq_leader_init(struct dq_leader *l, const char *seeds, const char *db, int timeout_ms, int retry_ms)
{
	const char *why = "";
	int rv;

	memset(l, 0, sizeof *l);
	l->client.fd = -1;
	l->timeout_ms = timeout_ms;
	l->retry_ms = retry_ms;
	if (db != NULL && (l->db = mem_strdup(db)) == NULL)
		return err_set(&l->err, PAT_ENOMEM, "out of memory");
	rv = addr_parse_list(seeds, false, add_seed, l, &why);
	if (rv == PAT_ELIMIT)
		return err_set(&l->err, rv, "more than %d seed addresses", DQ_MAX_SEEDS);
	if (rv != PAT_OK)
		return err_set(&l->err, rv, "bad seed addresses \"%s\": %s", seeds, why);
	return PAT_OK;
}

void dq_leader_close(struct dq_leader *l)
{
	dq_client_close(&l->client);
	for (size_t i = 0; i < l->n_seeds; i++)
		mem_free(l->seeds[i]);
	mem_free(l->db);
	l->n_seeds = 0;
	l->db = NULL;
}

int dq_ask_leader(const char *address, int timeout_ms, uint64_t *id, char *leader, size_t n, struct pat_err *err)
{
	struct dq_client c;
	int rv = dq_client_connect(&c, address, timeout_ms);

	if (rv == PAT_OK)
		rv = dq_client_leader(&c, id, leader, n);
	if (rv != PAT_OK && err != NULL)
		*err = c.err;
	dq_client_close(&c);
	return rv;
}

/* One pass over the last known leader and the seeds. */
static int find_once(struct dq_leader *l)
{
	char candidates[DQ_MAX_SEEDS + 1][DQ_ADDRESS_MAX];
	size_t n = 0;
	int rv = PAT_ECLOSED;

	if (l->leader_address[0] != '\0')
		str_copy(candidates[n++], l->leader_address, DQ_ADDRESS_MAX);
	for (size_t i = 0; i < l->n_seeds; i++)
		str_copy(candidates[n++], l->seeds[i], DQ_ADDRESS_MAX);
	err_set(&l->err, PAT_ECLOSED, "no cluster node answered (tried %zu)", n);
	for (size_t i = 0; i < n; i++) {
		char address[DQ_ADDRESS_MAX];
		uint64_t id = 0, self_id = 0;

		rv = dq_client_connect(&l->client, candidates[i], l->timeout_ms);
		if (rv == PAT_OK)
			rv = dq_client_leader(&l->client, &id, address, sizeof address);
		if (rv != PAT_OK) {
			l->err = l->client.err;
			dq_client_close(&l->client);
			continue;
		}
		if (id == 0) {
			err_set(&l->err, PAT_ENOTLEADER, "%s knows no leader (an election may be under way)", candidates[i]);
			dq_client_close(&l->client);
			continue;
		}
		if (strcmp(address, candidates[i]) != 0) {
			/* Follow the pointer, then make sure the leader agrees it leads. */
			dq_client_close(&l->client);
			rv = dq_client_connect(&l->client, address, l->timeout_ms);
			if (rv == PAT_OK)
				rv = dq_client_leader(&l->client, &self_id, address, sizeof address);
			if (rv != PAT_OK || self_id != id) {
				if (rv == PAT_OK)
					err_set(&l->err, PAT_ENOTLEADER, "%s no longer leads", address);
				else
					l->err = l->client.err;
				dq_client_close(&l->client);
				continue;
			}
		}
		if (l->db != NULL && (rv = dq_client_open(&l->client, l->db)) != PAT_OK) {
			l->err = l->client.err;
			dq_client_close(&l->client);
			continue;
		}
		l->leader_id = id;
		str_copy(l->leader_address, address, sizeof l->leader_address);
		err_clear(&l->err);
		return PAT_OK;
	}
	return l->err.code != PAT_OK ? l->err.code : rv;
}

static bool retryable_connect(int rv)
{
	return rv == PAT_ECLOSED || rv == PAT_ETIMEDOUT || rv == PAT_ENOTLEADER || rv == PAT_EPROTO || rv == PAT_EBUSY;
}

int dq_leader_connect(struct dq_leader *l)
{
	int64_t deadline = time_mono_ms() + l->retry_ms;
	int backoff = 50;
	int rv;

	if (dq_client_connected(&l->client))
		return PAT_OK;
	for (;;) {
		rv = find_once(l);
		if (rv == PAT_OK || !retryable_connect(rv) || time_mono_ms() + backoff > deadline)
			return rv;
		usleep((useconds_t)backoff * 1000);
		backoff = backoff < 800 ? backoff * 2 : 1000;
	}
}

/* The request failed on the leader: forget the connection if the leader has moved. */
static void after_failure(struct dq_leader *l)
{
	l->err = l->client.err;
	if (l->err.code == PAT_ENOTLEADER || !dq_client_connected(&l->client)) {
		dq_client_close(&l->client);
		l->leader_address[0] = '\0';
		l->leader_id = 0;
	}
}

int dq_leader_exec_sql(struct dq_leader *l, const char *sql, const struct dq_value *params, unsigned n,
		       struct dq_result *result)
{
	int64_t deadline = time_mono_ms() + l->retry_ms;
	int busy_wait = 5, rv;

	for (;;) {
		if ((rv = dq_leader_connect(l)) != PAT_OK)
			return rv;
		rv = dq_client_exec_sql(&l->client, sql, params, n, result);
		if (rv == PAT_OK)
			return PAT_OK;
		if (rv == PAT_EBUSY && time_mono_ms() + busy_wait < deadline) {
			/* "database is locked": another writer holds the database and this statement did
			 * not run. Wait for the other transaction, then try again. */
			usleep((useconds_t)busy_wait * 1000);
			busy_wait = busy_wait < 100 ? busy_wait * 2 : 100;
			continue;
		}
		after_failure(l);
		/* Safe to repeat: a request that never left, or one refused before it ran. */
		if (!(!l->client.sent || (rv == PAT_ENOTLEADER && l->client.fail_code == DQ_CODE_NOT_LEADER)) ||
		    time_mono_ms() > deadline)
			return rv;
	}
}

int dq_leader_query_sql(struct dq_leader *l, const char *sql, const struct dq_value *params, unsigned n,
			struct dq_rows *rows)
{
	int64_t deadline = time_mono_ms() + l->retry_ms;
	int rv;

	for (;;) {
		if ((rv = dq_leader_connect(l)) != PAT_OK)
			return rv;
		rv = dq_client_query_sql(&l->client, sql, params, n, rows);
		if (rv == PAT_OK)
			return PAT_OK;
		dq_rows_close(rows);
		after_failure(l);
		/* A read changes nothing: any failure of the leader or the network may be retried. */
		if (!(rv == PAT_ENOTLEADER || rv == PAT_ECLOSED || rv == PAT_ETIMEDOUT) || time_mono_ms() > deadline)
			return rv;
	}
}

int dq_leader_members(struct dq_leader *l, int probe_ms, struct dq_member_info **out, size_t *n_out)
{
	struct dq_member *members = NULL;
	struct dq_member_info *info;
	size_t n = 0;
	int rv;

	*out = NULL;
	*n_out = 0;
	if ((rv = dq_leader_connect(l)) != PAT_OK)
		return rv;
	if ((rv = dq_client_cluster(&l->client, &members, &n)) != PAT_OK) {
		after_failure(l);
		return rv;
	}
	info = mem_calloc(n, sizeof *info);
	if (info == NULL) {
		mem_free(members);
		return err_set(&l->err, PAT_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct dq_client c;

		info[i].m = members[i];
		if (dq_client_connect(&c, members[i].address, probe_ms) == PAT_OK &&
		    dq_client_describe(&c, &info[i].failure_domain, &info[i].weight) == PAT_OK)
			info[i].online = true;
		dq_client_close(&c);
	}
	mem_free(members);
	*out = info;
	*n_out = n;
	return PAT_OK;
}
