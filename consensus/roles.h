/* roles: which cluster members should vote, stand by or stay spare, spread over regions.
 *
 * The leader keeps `voters` voting members and `standbys` standbys (members that replicate
 * but do not vote, ready to be promoted). roles_plan() is a pure function from the members
 * (with their region, weight and whether the leader reached them just now) to an ordered list
 * of role changes; the caller applies them in order, so promotions come before the demotions
 * they make safe. The rules, in the order they are applied:
 *
 *  1. The leader is never demoted. Duplicate ids, a leader missing from the list, or a target
 *     of zero voters are PAT_EINVAL.
 *  2. Fewer online voters than min(voters, online members): promote online standbys, then
 *     online spares, preferring a region with no online voter, then the region with the fewest,
 *     then the lower weight, then the lower id.
 *  3. An offline voter is demoted to spare once the online voters reach the target without it,
 *     so a voter that merely restarts is not churned while there is no replacement.
 *  4. More voters than the target: demote the surplus (never the leader), from the region with
 *     the most voters, higher weight and higher id first, to standby while standbys are short,
 *     else to spare.
 *  5. Spread: when every voter is online and the count is right but a region holds two or more
 *     voters while an online member of a region with none could vote, swap one pair (promote,
 *     then demote to standby). One swap per plan, so the cluster moves one step at a time.
 *  6. Standbys likewise: promote online spares (a region without voter or standby first, then
 *     weight, then id) up to min(standbys, online non-voters); demote offline standbys once
 *     the target is met without them; demote any surplus.
 *
 * Same input, in any order, gives the same plan; applying a plan and planning again gives
 * nothing more, except the one-swap-at-a-time spreading of rule 5, which converges. */
#ifndef PAT_CONSENSUS_ROLES_H
#define PAT_CONSENSUS_ROLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROLES_MAX_MEMBERS 64

enum roles_role { ROLES_VOTER = 0, ROLES_STANDBY = 1, ROLES_SPARE = 2 };

struct roles_member {
	uint64_t id;          /* dqlite node id */
	enum roles_role role; /* current role */
	uint64_t region;      /* failure-domain code of its region */
	uint64_t weight;      /* lower is preferred for promotion */
	bool online;          /* the leader reached it just now */
};

struct roles_policy {
	unsigned voters;   /* voting members wanted (at least 1) */
	unsigned standbys; /* standbys wanted */
};

struct roles_change {
	uint64_t id;          /* the member */
	enum roles_role from; /* its role before */
	enum roles_role to;   /* its role after */
};

/* Plan the changes. PAT_ELIMIT when out holds fewer than needed (*n_out says how many), or
 * when there are more than ROLES_MAX_MEMBERS members. */
int roles_plan(const struct roles_member *members, size_t n, uint64_t leader_id,
	       const struct roles_policy *policy, struct roles_change *out, size_t cap, size_t *n_out);

#endif
