/* Unit tests for lib/netsim_sched: the delivery times `pat netsim` gives each chunk. */
#include "tests/lib/testutil.h"

#include <math.h>
#include <string.h>

#include "lib/netsim_sched.h"

static void named_profiles(void **state)
{
	const struct netsim_profile *p;

	(void)state;
	p = netsim_profile_find("3g");
	assert_non_null(p);
	assert_string_equal(p->name, "3G");
	assert_int_equal(p->latency_ms, 100);
	assert_int_equal(p->jitter_ms, 50);
	assert_true(fabs(p->loss - 0.01) < 1e-12);
	p = netsim_profile_find("SATELLITE");
	assert_int_equal(p->latency_ms, 600);
	assert_int_equal(p->jitter_ms, 100);
	assert_true(fabs(p->loss - 0.02) < 1e-12);
	p = netsim_profile_find("Congested");
	assert_int_equal(p->latency_ms, 50);
	assert_int_equal(p->jitter_ms, 200);
	assert_true(fabs(p->loss - 0.05) < 1e-12);
	p = netsim_profile_find("lan");
	assert_int_equal(p->latency_ms + p->jitter_ms, 0);
	assert_true(p->loss == 0 && p->bandwidth == 0 && p->reset == 0);
	assert_non_null(netsim_profile_find("custom"));
	assert_null(netsim_profile_find("4G"));
	assert_null(netsim_profile_find(""));
	assert_null(netsim_profile_find(NULL));
}

/* Chunks of a direction leave in the order they came, whatever the jitter and the stalls. */
static void never_reorders(void **state)
{
	struct netsim_dir d;
	int64_t t = 0, prev = -1;

	(void)state;
	netsim_dir_init(&d, netsim_profile_find("Congested"), 7);
	for (int i = 0; i < 100000; i++) {
		int64_t at;

		t += i % 7 == 0 ? 0 : 1000; /* some chunks arrive together */
		at = netsim_dir_schedule(&d, t, 1 + (size_t)(i % 1500));
		assert_true(at >= t);
		assert_true(at >= prev);
		prev = at;
	}
	assert_true(d.stalls > 0);
}

/* Over a long transfer the rate never exceeds the cap by more than one burst. */
static void bandwidth_cap_holds(void **state)
{
	struct netsim_profile p = { .name = "custom", .bandwidth = 1000000, .stall_ms = NETSIM_STALL_MS };
	const double burst = 16384; /* 10 ms of 1 MB/s is less than the minimum */
	struct netsim_dir d;
	size_t total = 0, chunk = 16384;
	int64_t t = 0, first = -1, last = 0;

	(void)state;
	netsim_dir_init(&d, &p, 1);
	/* 20 MB offered much faster than the cap: 16 KiB every millisecond (16 MB/s). */
	for (int i = 0; total < 20 * 1000 * 1000; i++, t += 1000) {
		int64_t at = netsim_dir_schedule(&d, t, chunk);

		if (first < 0)
			first = at;
		/* Everything scheduled up to here fits in the time since the start, plus a burst. */
		total += chunk;
		assert_true((double)total <= burst + (double)p.bandwidth * (double)(at - first) / 1e6 + chunk);
		last = at;
	}
	{
		double rate = (double)(total - chunk) / ((double)(last - first) / 1e6);

		assert_true(rate <= (double)p.bandwidth * 1.001 + burst);
		assert_true(rate >= (double)p.bandwidth * 0.99); /* and it is the cap, not less */
	}
	/* A chunk larger than the burst still goes, borrowing against the bucket. */
	netsim_dir_init(&d, &p, 1);
	assert_int_equal(netsim_dir_schedule(&d, 0, 1000000), 0);
	assert_true(netsim_dir_schedule(&d, 0, 1000) >= 980000);
}

/* Without loss, and with chunks far apart, the added delay is the latency on average and
 * stays within the jitter. */
static void latency_on_average(void **state)
{
	struct netsim_profile p = { .name = "custom", .latency_ms = 100, .jitter_ms = 50, .stall_ms = NETSIM_STALL_MS };
	struct netsim_dir d;
	double sum = 0;
	int64_t lo = INT64_MAX, hi = 0;
	const int n = 20000;

	(void)state;
	netsim_dir_init(&d, &p, 42);
	for (int i = 0; i < n; i++) {
		int64_t t = (int64_t)i * 1000000;
		int64_t delay = netsim_dir_schedule(&d, t, 512) - t;

		sum += (double)delay;
		lo = delay < lo ? delay : lo;
		hi = delay > hi ? delay : hi;
	}
	assert_true(fabs(sum / n - 100000.0) < 1500.0);
	assert_true(lo >= 50000 && lo < 52000);
	assert_true(hi <= 150000 && hi > 148000);
}

/* Congested's 50 ms ± 200 ms would go negative: it is clamped at 0, never earlier than the
 * chunk arrived. */
static void jitter_clamped_at_zero(void **state)
{
	struct netsim_profile p = *netsim_profile_find("Congested");
	struct netsim_dir d;
	int zeros = 0;

	(void)state;
	p.loss = 0;
	netsim_dir_init(&d, &p, 3);
	for (int i = 0; i < 10000; i++) {
		int64_t t = (int64_t)i * 1000000;
		int64_t delay = netsim_dir_schedule(&d, t, 100) - t;

		assert_true(delay >= 0);
		assert_true(delay <= 250000);
		zeros += delay == 0;
	}
	/* P(50 + U(-200, 200) < 0) = 150/400. */
	assert_true(zeros > 3300 && zeros < 4200);
}

static void loss_stalls_chunks(void **state)
{
	struct netsim_profile p = { .name = "custom", .latency_ms = 10, .loss = 0.05, .stall_ms = 200 };
	struct netsim_dir d;
	int stalled = 0;

	(void)state;
	netsim_dir_init(&d, &p, 11);
	for (int i = 0; i < 20000; i++) {
		int64_t t = (int64_t)i * 1000000;
		int64_t delay = netsim_dir_schedule(&d, t, 100) - t;

		assert_true(delay == 10000 || delay == 220000);
		stalled += delay == 220000;
	}
	assert_int_equal((int)d.stalls, stalled);
	assert_true(stalled > 850 && stalled < 1150);
	/* A close is never lost. */
	for (int i = 0; i < 1000; i++) {
		int64_t t = (int64_t)(20000 + i) * 1000000;

		assert_int_equal(netsim_dir_schedule(&d, t, 0) - t, 10000);
	}
}

static void deterministic_with_a_seed(void **state)
{
	const struct netsim_profile *p = netsim_profile_find("Satellite");
	struct netsim_dir a, b, c;
	bool differs = false;

	(void)state;
	netsim_dir_init(&a, p, 1234);
	netsim_dir_init(&b, p, 1234);
	netsim_dir_init(&c, p, 1235);
	for (int i = 0; i < 5000; i++) {
		int64_t t = (int64_t)i * 3000;
		int64_t x = netsim_dir_schedule(&a, t, 1000), y = netsim_dir_schedule(&b, t, 1000);

		assert_true(x == y);
		differs |= netsim_dir_schedule(&c, t, 1000) != x;
	}
	assert_true(differs);
}

static void resets_per_connection(void **state)
{
	struct netsim_profile p = { .name = "custom", .reset = 0.1 };
	struct netsim_rng r;
	uint32_t after;
	int resets = 0;

	(void)state;
	netsim_rng_seed(&r, 5);
	for (int i = 0; i < 10000; i++) {
		if (netsim_reset_draw(&p, &r, 5000, &after)) {
			resets++;
			assert_true(after < 5000);
		}
	}
	assert_true(resets > 850 && resets < 1150);
	assert_false(netsim_reset_draw(netsim_profile_find("3G"), &r, 5000, &after));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(named_profiles),
		cmocka_unit_test(never_reorders),
		cmocka_unit_test(bandwidth_cap_holds),
		cmocka_unit_test(latency_on_average),
		cmocka_unit_test(jitter_clamped_at_zero),
		cmocka_unit_test(loss_stalls_chunks),
		cmocka_unit_test(deterministic_with_a_seed),
		cmocka_unit_test(resets_per_connection),
	};
	return cmocka_run_group_tests_name("netsim_sched", tests, NULL, NULL);
}
