/* log: structured logging, one logfmt line per event on stderr:
 *
 *     ts=2026-11-24T02:44:38.123Z level=info msg="config loaded" file=/etc/pat/pat.conf keys=12
 *
 * A call names the event and then its fields as a printf-style format of space-separated
 * key=value pairs: log_info("config loaded", "file=%s keys=%d", path, n). Each value is quoted
 * and escaped as logfmt requires after formatting, so a value with spaces, quotes or newlines
 * can never break the line or forge another field. Safe from any thread: a line is built on
 * the stack and written with one write(2). */
#ifndef PAT_LIB_LOG_H
#define PAT_LIB_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
};

/* Lines longer than this are cut and end with an ellipsis field (truncated=true). */
#define LOG_LINE_MAX 4096

/* Events below the level are dropped (default: info). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);
/* Where lines go (default: 2, stderr). */
void log_set_fd(int fd);

/* "debug", "info", "warn" (or "warning"), "error", any case: PAT_OK or PAT_EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Write one event. fields is a format of "key=value" pairs separated by single spaces; "" for
 * none. Supported conversions: d i u x X o c s p f e g (with h hh l ll z j t L), %%, flags,
 * width and precision including '*'. */
void log_write(enum log_level level, const char *msg, const char *fields, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...)                                          \
	do {                                                         \
		if (log_enabled(LOG_LEVEL_DEBUG))                    \
			log_write(LOG_LEVEL_DEBUG, msg, __VA_ARGS__); \
	} while (0)
#define log_info(msg, ...) log_write(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_write(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write(LOG_LEVEL_ERROR, msg, __VA_ARGS__)

#endif
