/* timeutil: clocks and the timestamp formats Pat writes (RFC 3339 in logs, RFC 5322 in mail). */
#ifndef PAT_LIB_TIMEUTIL_H
#define PAT_LIB_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic clock, for deadlines and durations: never jumps with the wall clock. */
int64_t time_mono_ns(void);
int64_t time_mono_ms(void);
/* Wall clock, milliseconds since the Unix epoch, for timestamps people read. */
int64_t time_wall_ms(void);
/* The wall clock ms milliseconds (ns nanoseconds) from now, as pthread_cond_timedwait() takes
 * its deadline. */
struct timespec time_wall_after(int64_t ms);
struct timespec time_wall_after_ns(int64_t ns);
/* Sleep ms milliseconds, all of them (a signal does not cut the sleep short). */
void time_sleep_ms(int64_t ms);

/* Room for the longest string time_format_rfc3339() writes, with its NUL. */
#define TIME_RFC3339_SIZE 32
/* "2026-11-24T02:44:38.123Z" (UTC, milliseconds). Returns the length written. */
size_t time_format_rfc3339(char *out, size_t n, int64_t wall_ms);

#define TIME_RFC5322_SIZE 40
/* "Tue, 24 Nov 2026 02:44:38 +0000" (UTC; English names whatever the locale). */
size_t time_format_rfc5322(char *out, size_t n, int64_t wall_s);

#endif
