/* leader: see leader.h. */
#include "consensus/leader.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
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
	l->check_ms = DQ_LEADER_CHECK_MS;
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

/* ---- finding the leader ----
 *
 * Every candidate (the last known leader, then the seeds) is asked at once, each by a thread
 * of its own, and their answers are taken in the order they arrive: asked one after another,
 * candidates in other regions cost two WAN round trips each (connect, then ask), and a paused
 * or unreachable one its whole timeout, so a pass over seven of them took seconds while a new
 * leader was already elected. The probes share one heap block; whoever finishes last (the
 * caller or the slowest probe) frees it, so a caller never waits for a probe it needs no
 * more. */

struct probe_answer {
	int rv;                          /* of connecting and asking */
	uint64_t id;                     /* the leader the candidate knows (0: none) */
	char leader[DQ_ADDRESS_MAX];     /* its address */
	struct pat_err err;
	bool has_client;                 /* the candidate leads: client is connected to it, the */
	struct dq_client client;         /* database open, for the caller to take */
};

struct probes {
	pthread_mutex_t mu;
	pthread_cond_t arrived;
	int refs;                        /* probes still running, plus the caller while it waits */
	size_t n;                        /* candidates */
	size_t n_arrived;
	size_t order[DQ_MAX_SEEDS + 1];  /* indices of the answers, as they arrived */
	int timeout_ms;
	int64_t reask_until;             /* a candidate that knows no leader is asked again until
					  * then (monotonic ms; 0: asked once) */
	char db[64];                     /* the database to open on a leader ("": none) */
	char candidates[DQ_MAX_SEEDS + 1][DQ_ADDRESS_MAX];
	struct probe_answer answers[DQ_MAX_SEEDS + 1];
};

/* How often a probe asks its candidate again while it knows no leader. */
#define PROBE_REASK_MS 20
/* How long a pass of find_once() keeps asking candidates that know no leader. */
#define PASS_REASK_MS 500

struct probe_arg {
	struct probes *p;
	size_t i;
};

static void probes_release(struct probes *p)
{
	bool last;

	pthread_mutex_lock(&p->mu);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->mu);
	if (last) {
		for (size_t i = 0; i < p->n; i++)
			if (p->answers[i].has_client)
				dq_client_close(&p->answers[i].client);
		pthread_cond_destroy(&p->arrived);
		pthread_mutex_destroy(&p->mu);
		mem_free(p);
	}
}

/* A block of probes with no candidates yet, held by the caller (NULL when out of memory). */
static struct probes *probes_new(int timeout_ms)
{
	struct probes *p = mem_calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->arrived, NULL);
	p->refs = 1; /* the caller */
	p->timeout_ms = timeout_ms;
	return p;
}

static void *probe_run(void *data)
{
	struct probe_arg a = *(struct probe_arg *)data;
	struct probe_answer ans = { 0 };
	const char *address = a.p->candidates[a.i];

	mem_free(data);
	/* Connect and ask; a candidate that leads itself is kept connected, its database open, so
	 * that the caller need not connect again (two more round trips across a WAN). */
	ans.rv = dq_client_connect(&ans.client, address, a.p->timeout_ms);
	/* While an election is under way nobody knows a leader; the first to hear from the new
	 * one is a follower near it, so ask again over the same connection (one round trip each)
	 * rather than only on the next pass, which waits for the farthest candidate's answer. */
	while (ans.rv == PAT_OK &&
	       (ans.rv = dq_client_leader(&ans.client, &ans.id, ans.leader, sizeof ans.leader)) == PAT_OK &&
	       ans.id == 0 && time_mono_ms() + PROBE_REASK_MS < a.p->reask_until)
		usleep(PROBE_REASK_MS * 1000);
	if (ans.rv == PAT_OK && ans.id != 0 && strcmp(ans.leader, address) == 0 &&
	    (a.p->db[0] == '\0' || dq_client_open(&ans.client, a.p->db) == PAT_OK))
		ans.has_client = true;
	if (ans.rv != PAT_OK)
		ans.err = ans.client.err;
	if (!ans.has_client)
		dq_client_close(&ans.client);
	pthread_mutex_lock(&a.p->mu);
	a.p->answers[a.i] = ans;
	a.p->order[a.p->n_arrived++] = a.i;
	pthread_cond_signal(&a.p->arrived);
	pthread_mutex_unlock(&a.p->mu);
	probes_release(a.p);
	return NULL;
}

/* Ask p's candidates at once: the threads that could be started (0 when none could). */
static size_t probes_start(struct probes *p)
{
	size_t started = 0;
	pthread_attr_t attr;

	if (pthread_attr_init(&attr) != 0)
		return 0;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (size_t i = 0; i < p->n; i++) {
		struct probe_arg *a = mem_alloc(sizeof *a);
		pthread_t t;

		if (a == NULL)
			break;
		*a = (struct probe_arg){ p, i };
		pthread_mutex_lock(&p->mu);
		p->refs++;
		pthread_mutex_unlock(&p->mu);
		if (pthread_create(&t, &attr, probe_run, a) != 0) {
			mem_free(a);
			pthread_mutex_lock(&p->mu);
			p->refs--;
			pthread_mutex_unlock(&p->mu);
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	return started;
}

/* Does a node other than l's leader lead now? Every seed is asked at once (the one l is
 * connected to answers nothing while it is silent), and answers are awaited up to wait_ms:
 * true as soon as a node says it leads itself and is not l->leader_id. Answers that do not come
 * in time are left to their threads. */
static bool another_leads(struct dq_leader *l, int wait_ms)
{
	struct probes *p = probes_new(2 * wait_ms); /* a probe of an unreachable node ends soon after */
	struct timespec until;
	size_t taken = 0, started;
	bool found = false;

	if (p == NULL)
		return false;
	for (size_t i = 0; i < l->n_seeds; i++)
		if (strcmp(l->seeds[i], l->leader_address) != 0)
			str_copy(p->candidates[p->n++], l->seeds[i], DQ_ADDRESS_MAX);
	started = probes_start(p);
	until = time_wall_after(wait_ms);
	pthread_mutex_lock(&p->mu);
	while (!found && taken < started) {
		if (p->n_arrived == taken) {
			if (pthread_cond_timedwait(&p->arrived, &p->mu, &until) != 0)
				break;
			continue;
		}
		const struct probe_answer *a = &p->answers[p->order[taken++]];

		found = a->has_client && a->id != l->leader_id;
	}
	pthread_mutex_unlock(&p->mu);
	probes_release(p);
	return found;
}

static bool worth_waiting(void *data)
{
	struct dq_leader *l = data;
	bool moved = another_leads(l, l->check_ms);

	if (moved)
		log_warn("the leader stopped answering and another node leads now", "leader=%s waited_ms=%d",
			 l->leader_address, l->check_ms);
	return !moved;
}

/* l->client is connected to the leader: watch its requests (DQ_LEADER_CHECK_MS). */
static void watch(struct dq_leader *l)
{
	if (l->check_ms <= 0 || l->n_seeds < 2)
		return;
	l->client.check_ms = l->check_ms;
	l->client.check = worth_waiting;
	l->client.check_data = l;
}

/* Connect l->client to address, make sure it leads as leader id, and open the database. */
static int connect_leader(struct dq_leader *l, const char *address, uint64_t id)
{
	char self[DQ_ADDRESS_MAX];
	uint64_t self_id = 0;
	int rv = dq_client_connect(&l->client, address, l->timeout_ms);

	if (rv == PAT_OK)
		rv = dq_client_leader(&l->client, &self_id, self, sizeof self);
	if (rv == PAT_OK && self_id != id)
		rv = err_set(&l->client.err, PAT_ENOTLEADER, "%s no longer leads", address);
	if (rv == PAT_OK && l->db != NULL)
		rv = dq_client_open(&l->client, l->db);
	if (rv != PAT_OK) {
		l->err = l->client.err;
		dq_client_close(&l->client);
		return rv;
	}
	l->leader_id = id;
	str_copy(l->leader_address, address, sizeof l->leader_address);
	err_clear(&l->err);
	watch(l);
	return PAT_OK;
}

/* One pass over the last known leader and the seeds, asked at once. */
static int find_once(struct dq_leader *l)
{
	struct probes *p = probes_new(l->timeout_ms);
	size_t taken = 0, started;
	int rv = PAT_ECLOSED;

	if (p == NULL)
		return err_set(&l->err, PAT_ENOMEM, "out of memory");
	p->reask_until = time_mono_ms() + PASS_REASK_MS;
	if (l->db != NULL && !str_copy(p->db, l->db, sizeof p->db))
		p->db[0] = '\0'; /* too long to carry: connect_leader() opens it */
	if (l->leader_address[0] != '\0')
		str_copy(p->candidates[p->n++], l->leader_address, DQ_ADDRESS_MAX);
	for (size_t i = 0; i < l->n_seeds; i++)
		if (l->leader_address[0] == '\0' || strcmp(l->seeds[i], l->leader_address) != 0)
			str_copy(p->candidates[p->n++], l->seeds[i], DQ_ADDRESS_MAX);
	err_set(&l->err, PAT_ECLOSED, "no cluster node answered (tried %zu)", p->n);
	started = probes_start(p);
	while (taken < started) {
		struct probe_answer a;
		size_t i;

		pthread_mutex_lock(&p->mu);
		while (p->n_arrived == taken)
			pthread_cond_wait(&p->arrived, &p->mu);
		i = p->order[taken++];
		a = p->answers[i];
		if (a.has_client && (l->db == NULL || p->db[0] != '\0')) {
			/* A leader, connected, its database open: take the connection. */
			l->client = a.client;
			p->answers[i].has_client = false;
			pthread_mutex_unlock(&p->mu);
			l->leader_id = a.id;
			str_copy(l->leader_address, a.leader, sizeof l->leader_address);
			err_clear(&l->err);
			watch(l);
			rv = PAT_OK;
			break;
		}
		pthread_mutex_unlock(&p->mu);
		if (a.rv != PAT_OK) {
			l->err = a.err;
			rv = a.rv;
			continue;
		}
		if (a.id == 0) {
			rv = err_set(&l->err, PAT_ENOTLEADER, "%s knows no leader (an election may be under way)",
				     p->candidates[i]);
			continue;
		}
		/* The leader as this candidate knows it, if it agrees it leads. */
		if ((rv = connect_leader(l, a.leader, a.id)) == PAT_OK)
			break;
	}
	if (started == 0 && p->n > 0)
		rv = err_set(&l->err, PAT_ENOMEM, "cannot start threads to ask the cluster who leads");
	probes_release(p);
	return rv == PAT_OK ? PAT_OK : (l->err.code != PAT_OK ? l->err.code : rv);
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
		/* Short waits: an election ends within 15x [cluster] network_latency, and a pass asks
		 * every candidate at once. */
		usleep((useconds_t)backoff * 1000);
		backoff = backoff < 100 ? backoff * 2 : 100;
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
	int busy_wait = 5, rv;

	for (;;) {
		if ((rv = dq_leader_connect(l)) != PAT_OK)
			return rv;
		rv = dq_client_query_sql(&l->client, sql, params, n, rows);
		if (rv == PAT_OK)
			return PAT_OK;
		dq_rows_close(rows);
		if (rv == PAT_EBUSY && l->client.fail_code != 0 && time_mono_ms() + busy_wait < deadline) {
			/* The node refused it for now (locked, or a schema change under way). */
			usleep((useconds_t)busy_wait * 1000);
			busy_wait = busy_wait < 100 ? busy_wait * 2 : 100;
			continue;
		}
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
