/* timeutil: see timeutil.h. Day and month names are spelled out here rather than taken from
 * strftime(), whose %a and %b follow LC_TIME: mail headers must be English. */
#include "lib/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t time_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t time_mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t time_wall_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}

struct timespec time_wall_after_ns(int64_t ns)
{
	int64_t at = clock_ns(CLOCK_REALTIME) + ns;

	return (struct timespec){ (time_t)(at / 1000000000), (long)(at % 1000000000) };
}

struct timespec time_wall_after(int64_t ms)
{
	return time_wall_after_ns(ms * 1000000);
}

void time_sleep_ms(int64_t ms)
{
	struct timespec t = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

static void utc(int64_t secs, struct tm *tm)
{
	time_t t = (time_t)secs;

	gmtime_r(&t, tm);
}

size_t time_format_rfc3339(char *out, size_t n, int64_t wall_ms)
{
	int64_t secs = wall_ms >= 0 ? wall_ms / 1000 : (wall_ms - 999) / 1000;
	int ms = (int)(wall_ms - secs * 1000);
	struct tm tm;
	int len;

	utc(secs, &tm);
	len = snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	return len < 0 ? 0 : (size_t)len;
}

size_t time_format_rfc5322(char *out, size_t n, int64_t wall_s)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int len;

	utc(wall_s, &tm);
	len = snprintf(out, n, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		       months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return len < 0 ? 0 : (size_t)len;
}
