/* ulid: time-ordered unique ids (ULID: 48-bit milliseconds, 80 random bits, Crockford base32).
 * Ids made by one process sort in the order they were made, even within a millisecond. */
#ifndef PAT_LIB_ULID_H
#define PAT_LIB_ULID_H

#include <stdbool.h>
#include <stdint.h>

#define ULID_LEN 26
#define ULID_SIZE (ULID_LEN + 1)

/* A new id for the time now (thread-safe). */
void ulid_new(char out[ULID_SIZE]);
/* The id for a given time and 80 random bits (10 bytes), for tests and imports. */
void ulid_make(char out[ULID_SIZE], uint64_t ms, const uint8_t random[10]);
/* Is s a well-formed ULID (26 Crockford base32 characters, first at most '7')? */
bool ulid_valid(const char *s);
/* The milliseconds encoded in a valid id. */
uint64_t ulid_time(const char *s);

#endif
