/* err: Pat's error convention.
 *
 * A function that can fail returns an int: 0 (PAT_OK) on success, one of the PAT_E* codes
 * below on failure. When the caller needs to show what went wrong, the function also takes a
 * `struct pat_err *` and writes a human-readable message there with err_set(), which returns
 * the code so that `return err_set(err, PAT_EINVAL, "...")` reads naturally. Callers add
 * context on the way up with err_prefix(). No function outside cli/ calls exit(). */
#ifndef PAT_LIB_ERR_H
#define PAT_LIB_ERR_H

#include <stddef.h>

enum {
	PAT_OK = 0,
	PAT_ENOMEM,     /* an allocation failed */
	PAT_EINVAL,     /* bad input from a user or a peer */
	PAT_EIO,        /* a system call or the filesystem failed */
	PAT_ENOTFOUND,  /* the thing asked for does not exist */
	PAT_ECONFIG,    /* the configuration is invalid */
	PAT_ETIMEDOUT,  /* a deadline passed */
	PAT_EPROTO,     /* a peer broke its protocol */
	PAT_EBUSY,      /* the resource is in use; retry later */
	PAT_ECLOSED,    /* the connection or object is closed */
	PAT_ELIMIT,     /* a configured limit was reached */
	PAT_ENOTLEADER, /* the cluster node asked is not (or no longer) the leader */
	PAT_EREMOTE,    /* a server answered with an error of its own */
	PAT_E__COUNT
};

#define PAT_ERR_MSG_MAX 512

/* The message of the last failure; code mirrors the returned code. */
struct pat_err {
	int code;                  /* PAT_OK or a PAT_E* code */
	char msg[PAT_ERR_MSG_MAX]; /* NUL-terminated, truncated when longer */
};

/* Reset e to "no error". */
void err_clear(struct pat_err *e);

/* Record code and a printf-style message in e (which may be NULL); return code. */
int err_set(struct pat_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like err_set() with ": strerror(errnum)" appended. */
int err_set_errno(struct pat_err *e, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prepend context to e's message ("loading x: <old message>"); return e->code. */
int err_prefix(struct pat_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A short stable name for a code ("ENOMEM", "EINVAL", ...), for logs and JSON. */
const char *err_name(int code);

#endif
