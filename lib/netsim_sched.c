/* netsim_sched: see netsim_sched.h. */
#include "lib/netsim_sched.h"

#include "lib/str.h"

const struct netsim_profile netsim_profiles[] = {
	{ .name = "LAN", .latency_ms = 0, .jitter_ms = 0, .loss = 0, .stall_ms = NETSIM_STALL_MS },
	{ .name = "3G", .latency_ms = 100, .jitter_ms = 50, .loss = 0.01, .stall_ms = NETSIM_STALL_MS },
	{ .name = "Satellite", .latency_ms = 600, .jitter_ms = 100, .loss = 0.02, .stall_ms = NETSIM_STALL_MS },
	{ .name = "Congested", .latency_ms = 50, .jitter_ms = 200, .loss = 0.05, .stall_ms = NETSIM_STALL_MS },
	{ .name = "custom", .latency_ms = 0, .jitter_ms = 0, .loss = 0, .stall_ms = NETSIM_STALL_MS },
	{ .name = NULL },
};

const struct netsim_profile *netsim_profile_find(const char *name)
{
	for (const struct netsim_profile *p = netsim_profiles; name != NULL && p->name != NULL; p++)
		if (str_eq_nocase(p->name, name))
			return p;
	return NULL;
}

void netsim_rng_seed(struct netsim_rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t netsim_rng_next(struct netsim_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double netsim_rng_unit(struct netsim_rng *r)
{
	return (double)(netsim_rng_next(r) >> 11) * 0x1.0p-53;
}

void netsim_dir_init(struct netsim_dir *d, const struct netsim_profile *p, uint64_t seed)
{
	*d = (struct netsim_dir){ .profile = p };
	netsim_rng_seed(&d->rng, seed);
}

static double burst(const struct netsim_profile *p)
{
	double b = (double)p->bandwidth * NETSIM_BURST_MS / 1000.0;

	return b < NETSIM_BURST_MIN ? NETSIM_BURST_MIN : b;
}

/* When the bucket lets `bytes` through, for a chunk that arrived at t. */
static int64_t shape(struct netsim_dir *d, int64_t t, size_t bytes)
{
	const struct netsim_profile *p = d->profile;
	double rate = (double)p->bandwidth / 1e6; /* bytes per microsecond */
	double full = burst(p);
	int64_t depart;

	if (p->bandwidth == 0 || bytes == 0)
		return t;
	if (!d->started) {
		d->tokens = full;
		d->bucket_us = t;
	}
	if (t > d->bucket_us) {
		d->tokens += (double)(t - d->bucket_us) * rate;
		if (d->tokens > full)
			d->tokens = full;
		d->bucket_us = t;
	}
	/* A chunk larger than the burst waits for a full bucket, then borrows the rest. */
	{
		double need = (double)bytes < full ? (double)bytes : full;

		depart = d->bucket_us;
		if (d->tokens < need) {
			double wait = (need - d->tokens) / rate;

			depart += (int64_t)(wait + 0.999999);
			d->tokens = need;
			d->bucket_us = depart;
		}
	}
	d->tokens -= (double)bytes;
	return depart;
}

int64_t netsim_dir_schedule(struct netsim_dir *d, int64_t arrival_us, size_t bytes)
{
	const struct netsim_profile *p = d->profile;
	int64_t t = shape(d, arrival_us, bytes);
	int64_t delay = (int64_t)p->latency_ms * 1000;

	if (p->jitter_ms > 0) {
		double u = netsim_rng_unit(&d->rng) * 2.0 - 1.0;

		delay += (int64_t)(u * (double)p->jitter_ms * 1000.0);
		if (delay < 0)
			delay = 0;
	}
	if (p->loss > 0 && bytes > 0 && netsim_rng_unit(&d->rng) < p->loss) {
		delay += ((int64_t)p->stall_ms + p->latency_ms) * 1000;
		d->stalls++;
	}
	t += delay;
	if (d->started && t < d->last_delivery_us)
		t = d->last_delivery_us;
	d->last_delivery_us = t;
	d->started = true;
	return t;
}

bool netsim_reset_draw(const struct netsim_profile *p, struct netsim_rng *r, uint32_t within_ms, uint32_t *after_ms)
{
	if (p->reset <= 0 || netsim_rng_unit(r) >= p->reset)
		return false;
	*after_ms = within_ms > 0 ? (uint32_t)(netsim_rng_unit(r) * within_ms) : 0;
	return true;
}
