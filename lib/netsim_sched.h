/* netsim_sched: when each chunk of a simulated network link is delivered.
 *
 * The arithmetic of `pat netsim`, kept apart from sockets so that it can be tested exactly:
 * given the time a chunk of bytes arrives at one end of a direction of a connection and its
 * size, say when it leaves the other end. A direction applies, in order:
 *
 *   1. bandwidth: a token bucket of `bandwidth` bytes per second with a burst of
 *      NETSIM_BURST_MS worth of bytes (at least NETSIM_BURST_MIN); a chunk waits until the
 *      bucket holds enough for it, and may drive it negative when it is larger than the burst;
 *   2. latency and jitter: + latency + a uniform sample in [-jitter, +jitter], the sum clamped
 *      at 0;
 *   3. loss, as TCP sees it: with probability `loss` the chunk is held an extra stall_ms +
 *      latency, as a retransmission would be;
 *   4. order: never before the previous chunk of the same direction (TCP delivers in order).
 *
 * Randomness comes from a seeded generator per direction, so a run is reproducible. Times are
 * microseconds on any monotonic clock. */
#ifndef PAT_LIB_NETSIM_SCHED_H
#define PAT_LIB_NETSIM_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETSIM_BURST_MS 10     /* token bucket depth, in milliseconds of bandwidth */
#define NETSIM_BURST_MIN 16384 /* ... and at least this many bytes */
#define NETSIM_STALL_MS 200    /* a lost chunk's extra hold (plus the latency) by default */

/* The conditions of a simulated link, the same in both directions. */
struct netsim_profile {
	const char *name;    /* "3G", "Satellite", ... or "custom" */
	uint32_t latency_ms; /* one-way delay added to every chunk */
	uint32_t jitter_ms;  /* a uniform sample in [-jitter, +jitter] added to the latency */
	double loss;         /* probability that a chunk stalls as if lost (0 to 1) */
	uint64_t bandwidth;  /* bytes per second per direction; 0: unlimited */
	double reset;        /* probability that a connection is reset (0 to 1) */
	uint32_t stall_ms;   /* a lost chunk is held this + latency_ms more */
};

/* The named profiles (a NULL name ends the table). */
extern const struct netsim_profile netsim_profiles[];
/* The profile of a name (any case), or NULL. */
const struct netsim_profile *netsim_profile_find(const char *name);

/* A small seeded generator (splitmix64). */
struct netsim_rng {
	uint64_t state;
};
void netsim_rng_seed(struct netsim_rng *r, uint64_t seed);
uint64_t netsim_rng_next(struct netsim_rng *r);
/* Uniform in [0, 1). */
double netsim_rng_unit(struct netsim_rng *r);

/* One direction of one connection. */
struct netsim_dir {
	const struct netsim_profile *profile;
	struct netsim_rng rng;
	int64_t last_delivery_us; /* delivery time of the previous chunk */
	double tokens;            /* bytes the bucket holds at bucket_us (may be negative) */
	int64_t bucket_us;        /* when tokens was computed */
	bool started;             /* a chunk was scheduled already */
	uint64_t stalls;          /* chunks held as lost */
};

void netsim_dir_init(struct netsim_dir *d, const struct netsim_profile *p, uint64_t seed);

/* The delivery time of a chunk of `bytes` (0: a close, which takes the latency but no
 * bandwidth) that arrived at arrival_us. Calls must come in arrival order. */
int64_t netsim_dir_schedule(struct netsim_dir *d, int64_t arrival_us, size_t bytes);

/* Whether a new connection is to be reset, and after how long (uniform in [0, within_ms)). */
bool netsim_reset_draw(const struct netsim_profile *p, struct netsim_rng *r, uint32_t within_ms, uint32_t *after_ms);

#endif
