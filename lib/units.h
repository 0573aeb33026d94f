/* units: parsing and printing the numbers people write in configuration and queries: integers,
 * booleans, durations ("1h30m", "250ms") and sizes ("25MB", "512KiB"). */
#ifndef PAT_LIB_UNITS_H
#define PAT_LIB_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each parser returns PAT_OK, PAT_EINVAL when the text is not of the expected form, or
 * PAT_ELIMIT when it is but the value does not fit (overflow or outside [min, max]). */

/* A decimal integer with optional sign; no spaces, no trailing garbage. */
int units_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* true/false, yes/no, on/off, 1/0 (any case). */
int units_parse_bool(const char *s, bool *out);

/* A sequence of number+unit pairs, units d, h, m, s, ms, each number possibly with a fraction:
 * "90s", "1h30m", "1.5s", "250ms". A bare "0" means zero; any other bare number is refused,
 * since "30" could mean seconds or milliseconds. Result in milliseconds. */
int units_parse_duration(const char *s, int64_t *out_ms);

/* A number, possibly with a fraction, then an optional unit: B, K/KB/KiB, M/MB/MiB, G/GB/GiB,
 * T/TB/TiB (any case, optional space before the unit). Every multiple is binary (1 KB = 1024
 * bytes), as mail servers count. Result in bytes. */
int units_parse_size(const char *s, uint64_t *out);

/* "25MiB" when exact in a unit, else the plain byte count. Returns the length written. */
size_t units_format_size(char *out, size_t n, uint64_t bytes);
/* "1h30m", "250ms", "0s": the largest exact units. Returns the length written. */
size_t units_format_duration(char *out, size_t n, int64_t ms);

#endif
