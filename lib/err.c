/* err: see err.h. Messages are formatted into a fixed buffer so that reporting an error never
 * allocates (and so never fails while reporting ENOMEM). */
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[PAT_E__COUNT] = {
	[PAT_OK] = "OK",
	[PAT_ENOMEM] = "ENOMEM",
	[PAT_EINVAL] = "EINVAL",
	[PAT_EIO] = "EIO",
	[PAT_ENOTFOUND] = "ENOTFOUND",
	[PAT_ECONFIG] = "ECONFIG",
	[PAT_ETIMEDOUT] = "ETIMEDOUT",
	[PAT_EPROTO] = "EPROTO",
	[PAT_EBUSY] = "EBUSY",
	[PAT_ECLOSED] = "ECLOSED",
	[PAT_ELIMIT] = "ELIMIT",
	[PAT_ENOTLEADER] = "ENOTLEADER",
	[PAT_EREMOTE] = "EREMOTE",
};

void err_clear(struct pat_err *e)
{
	if (e == NULL)
		return;
	e->code = PAT_OK;
	e->msg[0] = '\0';
}

static void set_v(struct pat_err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int err_set(struct pat_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	set_v(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_set_errno(struct pat_err *e, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	set_v(e, code, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
	return code;
}

int err_prefix(struct pat_err *e, const char *fmt, ...)
{
	char old[PAT_ERR_MSG_MAX];
	va_list ap;
	size_t n;

	if (e == NULL)
		return PAT_OK;
	memcpy(old, e->msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (old[0] != '\0' && n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - n, ": %s", old);
	return e->code;
}

const char *err_name(int code)
{
	if (code < 0 || code >= PAT_E__COUNT)
		return "EUNKNOWN";
	return names[code];
}
