/* ulid: see ulid.h. Within one millisecond the random part of the previous id is incremented
 * rather than drawn again, which keeps ids made by this process strictly increasing. */
#include "lib/ulid.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "lib/timeutil.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static uint8_t last_random[10];

void ulid_make(char out[ULID_SIZE], uint64_t ms, const uint8_t random[10])
{
	uint8_t b[16];

	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	memcpy(b + 6, random, 10);
	/* 128 bits as 26 five-bit digits, the first holding the top 3 bits. */
	for (int i = 0; i < ULID_LEN; i++) {
		int bit = i == 0 ? 0 : 3 + (i - 1) * 5, width = i == 0 ? 3 : 5;
		unsigned v = 0;

		for (int k = 0; k < width; k++, bit++)
			v = (v << 1) | ((b[bit / 8] >> (7 - bit % 8)) & 1);
		out[i] = alphabet[v];
	}
	out[ULID_LEN] = '\0';
}

void ulid_new(char out[ULID_SIZE])
{
	uint64_t ms = (uint64_t)time_wall_ms();
	uint8_t r[10];

	pthread_mutex_lock(&lock);
	if (ms <= last_ms) {
		/* Same millisecond (or a clock step back): the next id after the last one. */
		ms = last_ms;
		for (int i = 9; i >= 0 && ++last_random[i] == 0; i--)
			;
		memcpy(r, last_random, 10);
	} else {
		if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
			/* No entropy source: the time alone still orders ids; mix in the clock. */
			uint64_t x = (uint64_t)time_mono_ns();

			for (int i = 0; i < 10; i++)
				r[i] = (uint8_t)(x >> (8 * (i % 8)));
		}
		r[0] &= 0x7f; /* room to increment within the millisecond */
		last_ms = ms;
		memcpy(last_random, r, 10);
	}
	pthread_mutex_unlock(&lock);
	ulid_make(out, ms, r);
}

bool ulid_valid(const char *s)
{
	if (strlen(s) != ULID_LEN || s[0] > '7')
		return false;
	for (int i = 0; i < ULID_LEN; i++)
		if (strchr(alphabet, s[i]) == NULL || s[i] == '\0')
			return false;
	return true;
}

uint64_t ulid_time(const char *s)
{
	uint64_t v = 0;

	/* The first 10 digits hold 50 bits: the 48 of the time, after 2 leading zero bits. */
	for (int i = 0; i < 10; i++)
		v = (v << 5) | (uint64_t)(strchr(alphabet, s[i]) - alphabet);
	return v;
}
