/* duties: see duties.h.
 *
 * Joining is ADD (as a spare) then ASSIGN to the role the cluster lacks, voter first; if the
 * node dies between the two, the leader's roles check promotes it later. Everything here is
 * idempotent, so a duty that fails is simply tried again on a later tick. */
#include "node/duties.h"

#include <stdio.h>
#include <string.h>

#include "consensus/roles.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/timeutil.h"
#include "node/node_metrics.h"
#include "node/server.h"

#define REQUEST_MS 5000
#define ASSIGN_MS 30000 /* promotion waits for the new member to catch up */

static const char members_schema[] =
	"CREATE TABLE IF NOT EXISTS pat_members ("
	" id INTEGER PRIMARY KEY,"
	" address TEXT NOT NULL,"
	" region TEXT NOT NULL,"
	" weight INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL)";

int node_duties_init(struct node_duties *d, const struct node_duty_options *o, bool fresh, struct pat_err *err)
{
	char *seeds;
	int rv;

	memset(d, 0, sizeof *d);
	d->leader.client.fd = -1;
	d->id = o->id;
	d->weight = o->weight;
	d->voters = o->voters;
	d->standbys = o->standbys;
	d->roles_interval_ms = o->roles_interval_ms > 0 ? o->roles_interval_ms : 5000;
	d->backoff_ms = 250;
	d->address = mem_strdup(o->address);
	d->region = mem_strdup(o->region);
	seeds = o->join != NULL ? str_printf("%s,%s", o->address, o->join) : mem_strdup(o->address);
	if (d->address == NULL || d->region == NULL || seeds == NULL) {
		mem_free(seeds);
		return err_set(err, PAT_ENOMEM, "out of memory");
	}
	/* Short retries: the caller's loop is the real retry, and it must stay responsive. */
	rv = dq_leader_init(&d->leader, seeds, NODE_DB, REQUEST_MS, 1000);
	mem_free(seeds);
	if (rv != PAT_OK) {
		*err = d->leader.err;
		return rv;
	}
	/* A node that is not new, or that bootstrapped the cluster, is a member already. */
	d->joined = !fresh || o->join == NULL;
	return PAT_OK;
}

void node_duties_close(struct node_duties *d)
{
	dq_leader_close(&d->leader);
	mem_free(d->address);
	mem_free(d->region);
	d->address = d->region = NULL;
}

static void later(struct node_duties *d)
{
	d->next_attempt_ms = time_mono_ms() + d->backoff_ms;
	d->backoff_ms = d->backoff_ms < 4000 ? d->backoff_ms * 2 : 5000;
}

static int join(struct node_duties *d)
{
	struct dq_member *members = NULL;
	size_t n = 0;
	unsigned voters = 0, standbys = 0;
	enum dq_role role = DQ_SPARE;
	bool present = false;
	int rv;

	if ((rv = dq_leader_connect(&d->leader)) != PAT_OK)
		return rv;
	if ((rv = dq_client_cluster(&d->leader.client, &members, &n)) != PAT_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		voters += members[i].role == DQ_VOTER;
		standbys += members[i].role == DQ_STANDBY;
		if (members[i].id == d->id) {
			present = true;
			role = members[i].role;
			if (strcmp(members[i].address, d->address) != 0) {
				log_error("cannot join: the id is taken", "id=%llu address=%s member_address=%s",
					  (unsigned long long)d->id, d->address, members[i].address);
				mem_free(members);
				return PAT_EINVAL;
			}
		}
	}
	mem_free(members);
	/* A previous attempt may have been added without hearing the answer. */
	if (!present && (rv = dq_client_add(&d->leader.client, d->id, d->address)) != PAT_OK)
		goto fail;
	log_info("joined the cluster", "id=%llu address=%s leader=%s", (unsigned long long)d->id, d->address,
		 d->leader.leader_address);
	d->joined = true;
	if (role == DQ_SPARE && (voters < d->voters || standbys < d->standbys)) {
		enum dq_role want = voters < d->voters ? DQ_VOTER : DQ_STANDBY;

		d->leader.client.timeout_ms = ASSIGN_MS;
		rv = dq_client_assign(&d->leader.client, d->id, want);
		d->leader.client.timeout_ms = REQUEST_MS;
		if (rv != PAT_OK) {
			/* The roles check on the leader will get there; keep going. */
			log_warn("role assignment failed", "id=%llu role=%s error=%s", (unsigned long long)d->id,
				 dq_role_name(want), d->leader.client.err.msg);
			dq_client_close(&d->leader.client);
		} else {
			log_info("role assigned", "id=%llu role=%s", (unsigned long long)d->id, dq_role_name(want));
		}
	}
	return PAT_OK;
fail:
	d->leader.err = d->leader.client.err;
	dq_client_close(&d->leader.client);
	return rv;
}

static int register_self(struct node_duties *d)
{
	struct dq_client self;
	struct dq_value params[5];
	int rv;

	/* The weight is the node's own setting, not replicated: tell the node itself. */
	rv = dq_client_connect(&self, d->address, REQUEST_MS);
	if (rv == PAT_OK)
		rv = dq_client_weight(&self, d->weight);
	if (rv != PAT_OK) {
		d->leader.err = self.err;
		dq_client_close(&self);
		return rv;
	}
	dq_client_close(&self);
	if ((rv = dq_leader_exec_sql(&d->leader, members_schema, NULL, 0, NULL)) != PAT_OK)
		return rv;
	params[0] = dq_int((int64_t)d->id);
	params[1] = dq_text(d->address);
	params[2] = dq_text(d->region);
	params[3] = dq_int((int64_t)d->weight);
	params[4] = dq_int(time_wall_ms() / 1000);
	rv = dq_leader_exec_sql(&d->leader,
				"INSERT INTO pat_members (id, address, region, weight, updated_at) VALUES (?, ?, ?, ?, ?) "
				"ON CONFLICT (id) DO UPDATE SET address = excluded.address, region = excluded.region, "
				"weight = excluded.weight, updated_at = excluded.updated_at",
				params, 5, NULL);
	if (rv == PAT_OK)
		log_info("node registered", "id=%llu region=%s weight=%llu", (unsigned long long)d->id, d->region,
			 (unsigned long long)d->weight);
	return rv;
}

int node_roles_adjust(struct dq_leader *leader, uint64_t self_id, unsigned voters, unsigned standbys)
{
	struct roles_member members[ROLES_MAX_MEMBERS];
	struct roles_change changes[3 * ROLES_MAX_MEMBERS];
	struct roles_policy policy = { voters, standbys };
	struct dq_member_info *info = NULL;
	size_t n = 0, n_changes = 0;
	int rv, applied = 0;

	uint64_t leader_id = 0;
	char address[DQ_ADDRESS_MAX];
	struct pat_err err;

	/* Ask this node itself: a connection kept from before may point at a former leader. */
	if (leader->n_seeds == 0 ||
	    dq_ask_leader(leader->seeds[0], leader->timeout_ms, &leader_id, address, sizeof address, &err) != PAT_OK)
		return -PAT_ECLOSED;
	if (leader_id != self_id) {
		node_metrics_cluster(false, NULL);
		return 0; /* only the leader decides */
	}
	if (leader->leader_id != self_id)
		dq_client_close(&leader->client);
	if ((rv = dq_leader_connect(leader)) != PAT_OK)
		return -rv;
	if (leader->leader_id != self_id)
		return 0;
	if ((rv = dq_leader_members(leader, 1000, &info, &n)) != PAT_OK)
		return -rv;
	if (n > ROLES_MAX_MEMBERS) {
		mem_free(info);
		return -PAT_ELIMIT;
	}
	{
		unsigned by_role[3] = { 0, 0, 0 };

		for (size_t i = 0; i < n; i++) {
			members[i] = (struct roles_member){ info[i].m.id, (enum roles_role)info[i].m.role,
							    info[i].failure_domain, info[i].weight, info[i].online };
			by_role[info[i].m.role <= DQ_SPARE ? info[i].m.role : DQ_SPARE]++;
		}
		node_metrics_cluster(true, by_role);
	}
	mem_free(info);
	rv = roles_plan(members, n, self_id, &policy, changes, sizeof changes / sizeof changes[0], &n_changes);
	if (rv != PAT_OK)
		return -rv;
	for (size_t i = 0; i < n_changes; i++) {
		leader->client.timeout_ms = ASSIGN_MS;
		rv = dq_client_assign(&leader->client, changes[i].id, (enum dq_role)changes[i].to);
		leader->client.timeout_ms = leader->timeout_ms;
		if (rv != PAT_OK) {
			log_warn("role change failed", "id=%llu from=%s to=%s error=%s", (unsigned long long)changes[i].id,
				 dq_role_name((enum dq_role)changes[i].from), dq_role_name((enum dq_role)changes[i].to),
				 leader->client.err.msg);
			dq_client_close(&leader->client);
			return -rv;
		}
		log_info("role changed", "id=%llu from=%s to=%s", (unsigned long long)changes[i].id,
			 dq_role_name((enum dq_role)changes[i].from), dq_role_name((enum dq_role)changes[i].to));
		applied++;
	}
	return applied;
}

/* The leader's own write, which finds a node whose writes all fail with a disk I/O error. */
static void health_write(struct node_duties *d)
{
	struct dq_value p[2] = { dq_int(time_wall_ms() / 1000), dq_int((int64_t)d->id) };
	int rv = dq_leader_exec_sql(&d->leader, "UPDATE pat_members SET updated_at = ? WHERE id = ?", p, 2, NULL);

	if (rv == PAT_EREMOTE && dq_client_io_failed(&d->leader.client) &&
	    d->leader.leader_id == d->id) {
		log_error("this node leads and its writes fail with a disk I/O error; restarting it", "id=%llu code=%llu",
			  (unsigned long long)d->id, (unsigned long long)d->leader.client.fail_code);
		d->stuck = true;
	}
}

void node_duties_run(struct node_duties *d)
{
	int64_t now = time_mono_ms();
	int rv;

	if ((!d->joined || !d->registered) && now >= d->next_attempt_ms) {
		rv = d->joined ? PAT_OK : join(d);
		if (rv == PAT_OK && d->joined)
			rv = register_self(d);
		if (rv == PAT_OK) {
			d->registered = true;
			d->backoff_ms = 250;
		} else {
			log_warn(d->joined ? "registration failed; retrying" : "joining failed; retrying",
				 "id=%llu error=%s", (unsigned long long)d->id, d->leader.err.msg);
			later(d);
		}
	}
	if (d->joined && now >= d->next_roles_ms) {
		d->next_roles_ms = now + d->roles_interval_ms;
		rv = node_roles_adjust(&d->leader, d->id, d->voters, d->standbys);
		if (rv < 0)
			log_debug("roles check failed", "error=%s", d->leader.err.msg);
		if (d->registered && d->leader.leader_id == d->id)
			health_write(d);
	}
}
