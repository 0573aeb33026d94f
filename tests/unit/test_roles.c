/* Unit tests for consensus/roles: tables of members x regions x online states, and properties
 * (determinism, order independence, idempotence, convergence) over random clusters; and the
 * Raft timing `pat cluster rtt` suggests for such clusters. */
#include "tests/lib/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/roles.h"
#include "lib/err.h"
#include "node/server.h"

enum { US = 1, EU = 2, AP = 3 };
#define V ROLES_VOTER
#define S ROLES_STANDBY
#define X ROLES_SPARE
#define M(id, role, region, online) { id, role, region, 0, online }

struct expect {
	uint64_t id;
	enum roles_role to;
};

static size_t plan(const struct roles_member *m, size_t n, uint64_t leader, unsigned voters, unsigned standbys,
		   struct roles_change *out)
{
	struct roles_policy p = { voters, standbys };
	size_t k = 99;

	assert_int_equal(roles_plan(m, n, leader, &p, out, 3 * ROLES_MAX_MEMBERS, &k), PAT_OK);
	return k;
}

static void check(const struct roles_member *m, size_t n, uint64_t leader, unsigned voters, unsigned standbys,
		  const struct expect *want, size_t n_want)
{
	struct roles_change c[3 * ROLES_MAX_MEMBERS];
	size_t k = plan(m, n, leader, voters, standbys, c);

	if (k != n_want) {
		for (size_t i = 0; i < k; i++)
			print_error("change %zu: %llu %d -> %d\n", i, (unsigned long long)c[i].id, c[i].from, c[i].to);
		assert_int_equal(k, n_want);
	}
	for (size_t i = 0; i < k; i++) {
		if (c[i].id != want[i].id || c[i].to != want[i].to)
			fail_msg("change %zu: got %llu -> %d, want %llu -> %d", i, (unsigned long long)c[i].id, c[i].to,
				 (unsigned long long)want[i].id, want[i].to);
		for (size_t j = 0; j < n; j++)
			if (m[j].id == c[i].id && i == 0)
				assert_int_equal(c[i].from, m[j].role);
	}
}

#define CHECK(m, leader, voters, standbys, ...)                                                   \
	do {                                                                                     \
		const struct expect want_[] = { __VA_ARGS__ };                                     \
		check(m, sizeof m / sizeof m[0], leader, voters, standbys, want_,                 \
		      sizeof want_ / sizeof want_[0] - 1);                                        \
	} while (0)
#define END { 0, 0 }

static void single_node_has_nothing_to_do(void **state)
{
	struct roles_member m[] = { M(1, V, US, true) };

	(void)state;
	CHECK(m, 1, 3, 3, END);
}

static void joiners_become_voters(void **state)
{
	struct roles_member m[] = { M(1, V, US, true), M(2, X, US, true), M(3, X, US, true) };

	(void)state;
	CHECK(m, 1, 3, 3, { 2, V }, { 3, V }, END);
}

static void voters_spread_over_regions(void **state)
{
	/* Six nodes, two per region, all spares but the leader: one voter per region. */
	struct roles_member m[] = { M(1, V, US, true), M(2, X, US, true), M(3, X, EU, true),
				    M(4, X, EU, true), M(5, X, AP, true), M(6, X, AP, true) };

	(void)state;
	CHECK(m, 1, 3, 3, { 3, V }, { 5, V }, { 2, S }, { 4, S }, { 6, S }, END);
}

static void five_voters_leave_the_far_region_one(void **state)
{
	/* The examples' layout (deploy/examples): five voters over three regions of two nodes
	 * each: one per region first, then the lowest ids, so ap-south (ids 5, 6) keeps one voter
	 * and one standby. */
	struct roles_member m[] = { M(1, V, US, true), M(2, X, US, true), M(3, X, EU, true),
				    M(4, X, EU, true), M(5, X, AP, true), M(6, X, AP, true) };

	(void)state;
	CHECK(m, 1, 5, 1, { 3, V }, { 5, V }, { 2, V }, { 4, V }, { 6, S }, END);
}

/* `pat cluster rtt`'s suggestion for [cluster] network_latency: a quarter of the largest round
 * trip, rounded up to 5 ms, never below the floor. */
static void network_latency_from_round_trip(void **state)
{
	(void)state;
	assert_int_equal(node_suggest_network_latency_ms(180000), 45); /* the examples' WAN */
	assert_int_equal(node_suggest_network_latency_ms(181530), 50);
	assert_int_equal(node_suggest_network_latency_ms(400000), 100);
	assert_int_equal(node_suggest_network_latency_ms(80000), NODE_LATENCY_FLOOR_MS);
	assert_int_equal(node_suggest_network_latency_ms(120), NODE_LATENCY_FLOOR_MS); /* loopback */
	assert_int_equal(node_suggest_network_latency_ms(0), NODE_LATENCY_FLOOR_MS);
}

static void offline_voter_is_replaced_from_another_region(void **state)
{
	struct roles_member m[] = { M(1, V, US, true), M(2, S, US, true), M(3, V, EU, false),
				    M(4, S, EU, true), M(5, V, AP, true), M(6, S, AP, true) };

	(void)state;
	/* EU's standby takes the place of EU's offline voter, then the offline voter steps down. */
	CHECK(m, 1, 3, 3, { 4, V }, { 3, X }, END);
}

static void prefers_a_region_without_voters(void **state)
{
	struct roles_member m[] = { M(1, V, US, true), M(2, S, US, true), M(3, V, EU, false),
				    M(5, V, US, true), M(6, S, AP, true) };

	(void)state;
	CHECK(m, 1, 3, 3, { 6, V }, { 3, X }, END);
}

static void offline_voter_stays_without_replacement(void **state)
{
	struct roles_member m[] = { M(1, V, US, true), M(2, V, EU, false), M(3, V, AP, true) };

	(void)state;
	CHECK(m, 1, 3, 3, END);
}

static void whole_region_offline(void **state)
{
	struct roles_member m[] = { M(1, V, US, true), M(2, S, US, true), M(3, V, EU, false),
				    M(4, S, EU, false), M(5, V, AP, true), M(6, S, AP, true) };

	(void)state;
	/* No EU member answers: the best remaining candidate (AP and US have one voter each; the
	 * lower id wins) votes and EU's voter steps down; EU's standby keeps its role while fewer
	 * than the wanted standbys are online, ready for when it comes back. */
	CHECK(m, 1, 3, 3, { 2, V }, { 3, X }, END);
}

static void surplus_voters_step_down_never_the_leader(void **state)
{
	struct roles_member m[] = { M(1, V, US, true), M(2, V, US, true), M(3, V, EU, true),
				    M(4, V, US, true), M(5, V, AP, true) };

	(void)state;
	/* Five voters, three wanted: US holds three; its highest ids go first, to standby. */
	CHECK(m, 1, 3, 3, { 4, S }, { 2, S }, END);
	/* Even when the leader has the highest id. */
	CHECK(m, 4, 3, 3, { 2, S }, { 1, S }, END);
}

static void crowded_region_swaps_one_voter(void **state)
{
	struct roles_member m[] = { M(1, V, US, true), M(2, V, US, true), M(3, V, EU, true), M(4, S, AP, true) };

	(void)state;
	CHECK(m, 1, 3, 3, { 4, V }, { 2, S }, END);
}

static void weight_and_id_break_ties(void **state)
{
	struct roles_member m[] = { { 1, V, US, 0, true }, { 2, X, EU, 5, true }, { 3, X, EU, 1, true },
				    { 4, X, AP, 1, true }, { 5, X, AP, 1, true } };

	(void)state;
	CHECK(m, 1, 3, 0, { 3, V }, { 4, V }, END);
}

static void standbys_are_kept(void **state)
{
	struct roles_member m[] = { M(1, V, US, true), M(2, V, EU, true), M(3, V, AP, true), M(4, S, US, false),
				    M(5, X, EU, true), M(6, X, AP, true), M(7, S, US, true) };

	(void)state;
	/* Two standbys wanted: one online already; promote a spare, then retire the offline one. */
	CHECK(m, 1, 3, 2, { 5, S }, { 4, X }, END);
	/* Surplus standbys go back to spare. */
	CHECK(m, 1, 3, 0, { 4, X }, { 7, X }, END);
}

static void bad_input(void **state)
{
	struct roles_member dup[] = { M(1, V, US, true), M(1, X, US, true) };
	struct roles_member ok[] = { M(1, V, US, true), M(2, X, US, true), M(3, X, US, true) };
	struct roles_member follower_leader[] = { M(1, S, US, true) };
	struct roles_member many[ROLES_MAX_MEMBERS + 1];
	struct roles_policy p = { 3, 3 }, zero = { 0, 0 };
	struct roles_change c[2];
	size_t k;

	(void)state;
	assert_int_equal(roles_plan(dup, 2, 1, &p, c, 2, &k), PAT_EINVAL);
	assert_int_equal(roles_plan(ok, 3, 9, &p, c, 2, &k), PAT_EINVAL);
	assert_int_equal(roles_plan(ok, 3, 1, &zero, c, 2, &k), PAT_EINVAL);
	assert_int_equal(roles_plan(follower_leader, 1, 1, &p, c, 2, &k), PAT_EINVAL);
	assert_int_equal(roles_plan(ok, 3, 1, &p, c, 1, &k), PAT_ELIMIT);
	assert_int_equal(k, 2);
	for (size_t i = 0; i <= ROLES_MAX_MEMBERS; i++)
		many[i] = (struct roles_member)M(i + 1, X, US, true);
	many[0].role = V;
	assert_int_equal(roles_plan(many, ROLES_MAX_MEMBERS + 1, 1, &p, c, 2, &k), PAT_ELIMIT);
}

/* Apply a plan to members in place. */
static void apply(struct roles_member *m, size_t n, const struct roles_change *c, size_t k)
{
	for (size_t i = 0; i < k; i++)
		for (size_t j = 0; j < n; j++)
			if (m[j].id == c[i].id) {
				assert_int_equal(m[j].role, c[i].from);
				m[j].role = c[i].to;
			}
}

static unsigned count_online(const struct roles_member *m, size_t n, enum roles_role role)
{
	unsigned k = 0;

	for (size_t i = 0; i < n; i++)
		k += m[i].role == role && m[i].online;
	return k;
}

static void random_clusters_converge(void **state)
{
	unsigned seed = 2026;

	(void)state;
	for (int round = 0; round < 500; round++) {
		struct roles_member m[12], shuffled[12];
		struct roles_change c[3 * ROLES_MAX_MEMBERS], c2[3 * ROLES_MAX_MEMBERS];
		size_t n = 1 + (size_t)(rand_r(&seed) % 12), k, k2;
		unsigned regions = 1 + (unsigned)(rand_r(&seed) % 4), voters = 1 + (unsigned)(rand_r(&seed) % 5);
		unsigned standbys = (unsigned)(rand_r(&seed) % 4), online = 0, rounds = 0, regions_online = 0;
		bool region_seen[5] = { false };
		uint64_t leader;

		for (size_t i = 0; i < n; i++)
			m[i] = (struct roles_member){ 10 + i * 7 % 13 + i * 13, (enum roles_role)(rand_r(&seed) % 3),
						      1 + (unsigned)(rand_r(&seed) % regions), (uint64_t)(rand_r(&seed) % 3),
						      rand_r(&seed) % 4 != 0 };
		m[0].role = V;
		m[0].online = true;
		leader = m[0].id;
		for (size_t i = 0; i < n; i++)
			if (m[i].online) {
				online++;
				if (!region_seen[m[i].region])
					regions_online++;
				region_seen[m[i].region] = true;
			}
		/* Order independence: a reversed copy plans the same changes. */
		for (size_t i = 0; i < n; i++)
			shuffled[i] = m[n - 1 - i];
		k = plan(m, n, leader, voters, standbys, c);
		k2 = plan(shuffled, n, leader, voters, standbys, c2);
		assert_int_equal(k, k2);
		assert_memory_equal(c, c2, k * sizeof c[0]);
		/* Convergence, never losing an online voter on the way. */
		while (k > 0) {
			unsigned before = count_online(m, n, V);

			apply(m, n, c, k);
			assert_true(count_online(m, n, V) >= before || count_online(m, n, V) >= voters);
			assert_true(++rounds < 20);
			k = plan(m, n, leader, voters, standbys, c);
		}
		{
			unsigned want = voters < online ? voters : online, spread = 0;
			bool voter_region[5] = { false };

			assert_int_equal(count_online(m, n, V), want);
			for (size_t i = 0; i < n; i++) {
				if (m[i].id == leader)
					assert_int_equal(m[i].role, V);
				if (m[i].role == V && m[i].online && !voter_region[m[i].region]) {
					voter_region[m[i].region] = true;
					spread++;
				}
			}
			assert_true(spread >= (want < regions_online ? want : regions_online));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(single_node_has_nothing_to_do),
		cmocka_unit_test(joiners_become_voters),
		cmocka_unit_test(voters_spread_over_regions),
		cmocka_unit_test(five_voters_leave_the_far_region_one),
		cmocka_unit_test(network_latency_from_round_trip),
		cmocka_unit_test(offline_voter_is_replaced_from_another_region),
		cmocka_unit_test(prefers_a_region_without_voters),
		cmocka_unit_test(offline_voter_stays_without_replacement),
		cmocka_unit_test(whole_region_offline),
		cmocka_unit_test(surplus_voters_step_down_never_the_leader),
		cmocka_unit_test(crowded_region_swaps_one_voter),
		cmocka_unit_test(weight_and_id_break_ties),
		cmocka_unit_test(standbys_are_kept),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(random_clusters_converge),
	};
	return cmocka_run_group_tests_name("roles", tests, NULL, NULL);
}
