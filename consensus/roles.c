/* roles: see roles.h. The plan is computed on a sorted copy of the members, applying each
 * change to the copy as it is decided, so that later rules see the effect of earlier ones. */
#include "consensus/roles.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

struct plan {
	struct roles_member m[ROLES_MAX_MEMBERS]; /* members, sorted by id, roles as planned */
	size_t n;
	uint64_t leader;
	struct roles_change changes[3 * ROLES_MAX_MEMBERS];
	size_t n_changes;
};

static int by_id(const void *a, const void *b)
{
	const struct roles_member *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void change(struct plan *p, size_t i, enum roles_role to)
{
	p->changes[p->n_changes++] = (struct roles_change){ p->m[i].id, p->m[i].role, to };
	p->m[i].role = to;
}

static unsigned count(const struct plan *p, enum roles_role role, bool online_only)
{
	unsigned k = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->m[i].role == role && (!online_only || p->m[i].online))
			k++;
	return k;
}

/* Members of role `role` (online ones, when online_only) in region. */
static unsigned in_region(const struct plan *p, uint64_t region, enum roles_role role, bool online_only)
{
	unsigned k = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->m[i].region == region && p->m[i].role == role && (!online_only || p->m[i].online))
			k++;
	return k;
}

/* Is a better candidate for promotion to `to` than b? */
static bool better_promotion(const struct plan *p, size_t a, size_t b, enum roles_role to)
{
	const struct roles_member *x = &p->m[a], *y = &p->m[b];
	unsigned xv = in_region(p, x->region, ROLES_VOTER, true), yv = in_region(p, y->region, ROLES_VOTER, true);

	if (to == ROLES_STANDBY) {
		/* A region with neither voter nor standby first. */
		unsigned xs = xv + in_region(p, x->region, ROLES_STANDBY, true);
		unsigned ys = yv + in_region(p, y->region, ROLES_STANDBY, true);

		if ((xs == 0) != (ys == 0))
			return xs == 0;
		if (xs != ys)
			return xs < ys;
	} else {
		if ((xv == 0) != (yv == 0))
			return xv == 0;
		if (xv != yv)
			return xv < yv;
		if (x->role != y->role)
			return x->role < y->role; /* a standby is caught up already */
	}
	if (x->weight != y->weight)
		return x->weight < y->weight;
	return x->id < y->id;
}

/* Best online member whose role is in `from` to promote to `to`; -1 if none. */
static long pick_promotion(const struct plan *p, bool from_standby, bool from_spare, enum roles_role to)
{
	long best = -1;

	for (size_t i = 0; i < p->n; i++) {
		const struct roles_member *m = &p->m[i];

		if (!m->online || !((from_standby && m->role == ROLES_STANDBY) || (from_spare && m->role == ROLES_SPARE)))
			continue;
		if (best < 0 || better_promotion(p, i, (size_t)best, to))
			best = (long)i;
	}
	return best;
}

/* Member of `role` to demote first: offline, then the most crowded region, then higher weight,
 * then higher id; never the leader. -1 if none. */
static long pick_demotion(const struct plan *p, enum roles_role role, bool offline_only)
{
	long best = -1;

	for (size_t i = 0; i < p->n; i++) {
		const struct roles_member *m = &p->m[i], *b;
		unsigned mc, bc;

		if (m->role != role || m->id == p->leader || (offline_only && m->online))
			continue;
		if (best < 0) {
			best = (long)i;
			continue;
		}
		b = &p->m[best];
		if (m->online != b->online) {
			if (!m->online)
				best = (long)i;
			continue;
		}
		mc = in_region(p, m->region, role, false);
		bc = in_region(p, b->region, role, false);
		if (mc != bc) {
			if (mc > bc)
				best = (long)i;
			continue;
		}
		if (m->weight != b->weight) {
			if (m->weight > b->weight)
				best = (long)i;
			continue;
		}
		if (m->id > b->id)
			best = (long)i;
	}
	return best;
}

static unsigned online_members(const struct plan *p)
{
	unsigned k = 0;

	for (size_t i = 0; i < p->n; i++)
		k += p->m[i].online;
	return k;
}

static void plan_voters(struct plan *p, const struct roles_policy *policy)
{
	unsigned online = online_members(p);
	unsigned target = policy->voters < online ? policy->voters : online;
	long i;

	/* Rule 2. */
	while (count(p, ROLES_VOTER, true) < target && (i = pick_promotion(p, true, true, ROLES_VOTER)) >= 0)
		change(p, (size_t)i, ROLES_VOTER);
	/* Rule 3. */
	while (count(p, ROLES_VOTER, true) >= policy->voters && (i = pick_demotion(p, ROLES_VOTER, true)) >= 0)
		change(p, (size_t)i, ROLES_SPARE);
	/* Rule 4. */
	while (count(p, ROLES_VOTER, false) > policy->voters && (i = pick_demotion(p, ROLES_VOTER, false)) >= 0)
		change(p, (size_t)i, count(p, ROLES_STANDBY, true) < policy->standbys ? ROLES_STANDBY : ROLES_SPARE);
	/* Rule 5. */
	if (count(p, ROLES_VOTER, false) == policy->voters && count(p, ROLES_VOTER, true) == policy->voters) {
		long cand = pick_promotion(p, true, true, ROLES_VOTER);

		if (cand >= 0 && in_region(p, p->m[cand].region, ROLES_VOTER, true) == 0) {
			long out = -1;

			for (size_t k = 0; k < p->n; k++) {
				const struct roles_member *m = &p->m[k];

				if (m->role != ROLES_VOTER || m->id == p->leader || in_region(p, m->region, ROLES_VOTER, false) < 2)
					continue;
				if (out < 0 || in_region(p, m->region, ROLES_VOTER, false) > in_region(p, p->m[out].region, ROLES_VOTER, false) ||
				    (in_region(p, m->region, ROLES_VOTER, false) == in_region(p, p->m[out].region, ROLES_VOTER, false) &&
				     (m->weight > p->m[out].weight || (m->weight == p->m[out].weight && m->id > p->m[out].id))))
					out = (long)k;
			}
			if (out >= 0) {
				change(p, (size_t)cand, ROLES_VOTER);
				change(p, (size_t)out, ROLES_STANDBY);
			}
		}
	}
}

static void plan_standbys(struct plan *p, const struct roles_policy *policy)
{
	unsigned online_nonvoters = 0;
	unsigned target;
	long i;

	for (size_t k = 0; k < p->n; k++)
		online_nonvoters += p->m[k].online && p->m[k].role != ROLES_VOTER;
	target = policy->standbys < online_nonvoters ? policy->standbys : online_nonvoters;
	while (count(p, ROLES_STANDBY, true) < target && (i = pick_promotion(p, false, true, ROLES_STANDBY)) >= 0)
		change(p, (size_t)i, ROLES_STANDBY);
	while (count(p, ROLES_STANDBY, true) >= policy->standbys && (i = pick_demotion(p, ROLES_STANDBY, true)) >= 0)
		change(p, (size_t)i, ROLES_SPARE);
	while (count(p, ROLES_STANDBY, false) > policy->standbys && (i = pick_demotion(p, ROLES_STANDBY, false)) >= 0)
		change(p, (size_t)i, ROLES_SPARE);
}

int roles_plan(const struct roles_member *members, size_t n, uint64_t leader_id,
	       const struct roles_policy *policy, struct roles_change *out, size_t cap, size_t *n_out)
{
	struct plan *p;
	bool leader_found = false;
	int rv = PAT_OK;

	*n_out = 0;
	if (policy->voters == 0)
		return PAT_EINVAL;
	if (n > ROLES_MAX_MEMBERS)
		return PAT_ELIMIT;
	p = mem_calloc(1, sizeof *p);
	if (p == NULL)
		return PAT_ENOMEM;
	memcpy(p->m, members, n * sizeof *members);
	p->n = n;
	p->leader = leader_id;
	qsort(p->m, n, sizeof p->m[0], by_id);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && p->m[i].id == p->m[i - 1].id)
			rv = PAT_EINVAL;
		if (p->m[i].id == leader_id) {
			leader_found = true;
			/* The leader answers for itself. */
			p->m[i].online = true;
			if (p->m[i].role != ROLES_VOTER)
				rv = PAT_EINVAL; /* only a voter can lead */
		}
	}
	if (rv == PAT_OK && !leader_found)
		rv = PAT_EINVAL;
	if (rv == PAT_OK) {
		plan_voters(p, policy);
		plan_standbys(p, policy);
		*n_out = p->n_changes;
		if (p->n_changes > cap)
			rv = PAT_ELIMIT;
		else
			memcpy(out, p->changes, p->n_changes * sizeof *out);
	}
	mem_free(p);
	return rv;
}
